"""Disclosure control of per-group estimates (report.notebook), on fake fits: every
function that publishes a per-group table, at, below and above ``min_cases``."""

from __future__ import annotations

import pytest

import returnmodels as rm
from fakes import fake_fit
from returnmodels.disclosure import DisclosureError, DisclosureRules, is_controlled
from returnmodels.report import notebook

#: Two groups below 10 that together reach 10 (so the pool needs no further group),
#: one at the threshold, one above, two large ones.
SIZES = {"AAA": 4, "BBB": 6, "CCC": 10, "DDD": 11, "NGA": 500, "SYR": 400}
BELOW, AT, ABOVE = {"AAA", "BBB"}, "CCC", "DDD"


@pytest.fixture(scope="module")
def fit():
    return fake_fit(SIZES)


def test_withheld_are_the_groups_below_the_threshold(fit):
    assert set(notebook.withheld_groups(fit)) == BELOW


def test_a_lone_small_group_takes_the_next_smallest_with_it():
    """9 cases alone would be recoverable from a total: the group of 10 joins the pool."""
    fit = fake_fit({"AAA": 9, "CCC": 10, "DDD": 11, "NGA": 500})
    assert set(notebook.withheld_groups(fit)) == {"AAA", "CCC"}


@pytest.mark.parametrize(
    ("min_cases", "withheld"),
    [
        (5, {"AAA", "BBB"}),  # AAA (4) alone is too few to pool: BBB (6) joins it
        (11, {"AAA", "BBB", "CCC"}),
        (12, {"AAA", "BBB", "CCC", "DDD"}),
    ],
)
def test_the_threshold_is_a_rule_not_a_constant(fit, min_cases, withheld):
    rules = DisclosureRules(min_cases=min_cases, rounding_base=1)
    assert set(notebook.withheld_groups(fit, rules)) == withheld


def test_group_effects_publish_groups_at_and_above_only(fit):
    effects = notebook.controlled_group_effects(fit)
    shown = set(effects["nationality"])
    assert shown == set(SIZES) - BELOW and AT in shown and ABOVE in shown
    assert is_controlled(effects)
    assert (effects["n"] % 5 == 0).all()  # counts rounded to base 5
    small = effects.set_index("nationality").loc[AT]
    assert small["n_successes"] != small["n_successes"]  # 3 of 10: suppressed (NaN)
    large = effects.set_index("nationality").loc["NGA"]
    assert large["n_successes"] == 150 and large["raw_share"] == pytest.approx(0.3)


def test_summary_drops_the_withheld_groups_rows(fit):
    table = notebook.controlled_summary(rm.parameter_summary(fit), fit)
    labels = set(table.index)
    assert {f"nationality_effect[{g}]" for g in BELOW}.isdisjoint(labels)
    assert {f"nationality_effect[{g}]" for g in (AT, ABOVE)} <= labels
    assert {"Intercept", "n_procedures", "nationality_sigma"} <= labels
    assert is_controlled(table)


def test_ppc_by_group_withholds_below_and_suppresses_small_shares(fit):
    ppc = notebook.controlled_ppc(fit, "nationality")
    assert set(ppc["nationality"]) == set(SIZES) - BELOW
    rows = ppc.set_index("nationality")
    assert rows.loc[AT, "observed_share"] != rows.loc[AT, "observed_share"]  # NaN
    assert rows.loc["NGA", "observed_share"] == pytest.approx(0.3)
    assert rows.loc[AT, "inside"] != rows.loc[AT, "inside"]  # not judged on a hidden share


@pytest.mark.parametrize(("a", "b", "refused"), [("AAA", "NGA", True), (AT, "NGA", False)])
def test_contrast_is_refused_for_a_withheld_group(fit, a, b, refused):
    if refused:
        with pytest.raises(DisclosureError, match="AAA"):
            notebook.controlled_contrast(fit, a, b)
    else:
        assert is_controlled(notebook.controlled_contrast(fit, a, b))


def test_margins_are_population_level_and_marked(fit):
    table = notebook.controlled_margins(rm.margins(fit, {"n_procedures": [1, 3]}))
    assert is_controlled(table) and list(table["value"].astype(int)) == [1, 3]
    assert (table["hdi_lower"] <= table["mean"]).all() and (
        table["mean"] <= table["hdi_upper"]
    ).all()

"""Disclosure control of per-group estimates (report.notebook), on fake fits: every
function that publishes a per-group table, at, below and above ``min_cases``."""

from __future__ import annotations

import numpy as np
import pytest

import returnmodels as rm
from fakes import fake_fit
from returnmodels.disclosure import DisclosureError, DisclosureRules, is_controlled
from returnmodels.report import notebook

#: Cases per nationality; 30% of each are assisted returns (``fakes.fake_cases``):
#: AAA (4: 1 assisted) and BBB (6: 2) are below 10 cases, CCC (30 cases, 9 assisted) is
#: below 10 *with the outcome*, DDD (33 cases, 10 assisted) is at the threshold and
#: EEE (34, 10) above it; two large ones.
SIZES = {"AAA": 4, "BBB": 6, "CCC": 30, "DDD": 33, "EEE": 34, "NGA": 500, "SYR": 400}
BELOW, AT, ABOVE = {"AAA", "BBB", "CCC"}, "DDD", "EEE"


@pytest.fixture(scope="module")
def fit():
    return fake_fit(SIZES)


def test_withheld_are_the_groups_below_the_threshold_in_cases_or_in_outcomes(fit):
    assert set(notebook.withheld_groups(fit)) == BELOW


def test_a_lone_small_group_takes_the_next_smallest_with_it():
    """9 cases alone would be recoverable from a total: the next smallest joins the pool."""
    fit = fake_fit({"AAA": 9, "CCC": 40, "DDD": 50, "NGA": 500})
    assert set(notebook.withheld_groups(fit)) == {"AAA", "CCC"}


@pytest.mark.parametrize(
    ("min_cases", "withheld"),
    [
        (5, {"AAA", "BBB"}),  # 1 and 2 assisted returns: below 5 with the outcome
        (11, {"AAA", "BBB", "CCC", "DDD", "EEE"}),  # DDD and EEE: 10 assisted < 11
        (9, {"AAA", "BBB"}),  # CCC's 9 assisted returns are enough at 9
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
    at = effects.set_index("nationality").loc[AT]
    assert at["n_successes"] == 10 and at["raw_share"] == pytest.approx(10 / 35)
    large = effects.set_index("nationality").loc["NGA"]
    assert large["n_successes"] == 150 and large["raw_share"] == pytest.approx(0.3)


def test_summary_drops_the_withheld_groups_rows(fit):
    table = notebook.controlled_summary(rm.parameter_summary(fit), fit)
    labels = set(table.index)
    assert {f"nationality_effect[{g}]" for g in BELOW}.isdisjoint(labels)
    assert {f"nationality_effect[{g}]" for g in (AT, ABOVE)} <= labels
    assert {"Intercept", "n_procedures", "nationality_sigma"} <= labels
    assert is_controlled(table)


def test_ppc_by_group_withholds_below_and_rounds_consistently(fit):
    ppc = notebook.controlled_ppc(fit, "nationality")
    assert set(ppc["nationality"]) == set(SIZES) - BELOW
    rows = ppc.set_index("nationality")
    assert rows.loc["NGA", "observed_share"] == pytest.approx(0.3)
    assert rows.loc[AT, "observed_share"] == pytest.approx(10 / 35)  # rounded counts
    for column in ("mean", "hdi_lower", "hdi_upper"):  # shares of rounded counts only
        counts = rows[column] * rows["n"]
        np.testing.assert_allclose(counts / 5, np.round(counts / 5), atol=1e-9)


@pytest.mark.parametrize(("a", "b", "refused"), [("AAA", "NGA", True), (AT, "NGA", False)])
def test_contrast_is_refused_for_a_withheld_group(fit, a, b, refused):
    if refused:
        with pytest.raises(DisclosureError, match="AAA"):
            notebook.controlled_contrast(fit, a, b)
    else:
        assert is_controlled(notebook.controlled_contrast(fit, a, b))


def test_a_small_level_is_refused_as_an_absent_one_is(fit):
    """The refusal must not tell a small level (CCC) from one not in the data (ZZZ)."""
    messages = []
    for level in ("CCC", "ZZZ"):
        with pytest.raises(DisclosureError) as refused:
            notebook.controlled_contrast(fit, level, "NGA")
        messages.append(str(refused.value).replace(level, "<level>"))
    assert messages[0] == messages[1]


def test_margins_are_population_level_and_marked(fit):
    table = notebook.controlled_margins(rm.margins(fit, {"n_procedures": [1, 3]}), fit)
    assert is_controlled(table) and list(table["value"].astype(int)) == [1, 3]
    assert (table["hdi_lower"] <= table["mean"]).all() and (
        table["mean"] <= table["hdi_upper"]
    ).all()


def test_a_notebook_goes_on_without_a_contrast_it_may_not_publish(fit, capsys):
    assert notebook.publishable_contrast(fit, "CCC", "NGA") is None
    assert "not published" in capsys.readouterr().out
    assert is_controlled(notebook.publishable_contrast(fit, AT, "NGA"))

"""Margins on a grid and by a variable, comparisons, and their plot, on a fake formula fit
with an interaction (``y ~ x * coop + (1 | g)``), checked against the linear predictor
written out by hand from the draws."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest
import xarray as xr
from scipy.special import expit

import returnmodels as rm
from fakes import fake_fit, fake_formula_fit, fake_formula_rows
from returnmodels.engine.design import build_formula_design
from returnmodels.errors import ConfigError
from returnmodels.summaries._draws import interval
from returnmodels.summaries.formula import default_values
from returnmodels.summaries.margins import margin_draws
from returnmodels.summaries.margins_grid import natural_values

matplotlib.use("Agg")

FORMULA = "y ~ x * coop + (1 | g)"


@pytest.fixture(scope="module")
def fake():
    """A fake fit of FORMULA: 2 chains x 50 draws of known values; coop's model order is
    low, high (the reference first), the reverse of the alphabet's."""
    rng = np.random.default_rng(11)
    rows = fake_formula_rows(rng, 600)
    design = build_formula_design(rows, FORMULA, reference={"coop": "low"})
    draws = (2, 50)
    posterior = xr.Dataset(
        {
            "Intercept": (("chain", "draw"), rng.normal(-1.0, 0.1, draws)),
            "x": (("chain", "draw"), rng.normal(-0.5, 0.05, draws)),
            "coop": (("chain", "draw", "coop_level"), rng.normal(0.7, 0.1, (*draws, 1))),
            "x:coop": (("chain", "draw", "x:coop_level"), rng.normal(0.4, 0.1, (*draws, 1))),
            "g_sigma": (("chain", "draw"), rng.gamma(5, 0.1, draws)),
            "g_effect": (("chain", "draw", "g"), rng.normal(0, 0.4, (*draws, 8))),
        },
        coords={
            "coop_level": ["high"],
            "x:coop_level": ["high"],
            "g": list(design.blocks[0].levels),
        },
    )
    tree = fake_formula_fit(design, FORMULA, posterior)
    tree.attrs["returnmodels_verdict"] = json.dumps({"passed": True})
    return tree, design, posterior


def _by_hand(design, posterior, x=None, coop=None) -> np.ndarray:
    """Per draw: expit of the linear predictor, every cell set to ``x``/``coop``,
    averaged with the cells' case weights."""
    cells = design.cells
    xs = cells["x"].to_numpy(float) if x is None else np.full(len(cells), float(x))
    high = (cells["coop"].to_numpy() if coop is None else np.full(len(cells), coop)) == "high"
    centred = xs - design.centres["x"]
    stacked = posterior.stack(sample=("chain", "draw"))
    b0 = stacked["Intercept"].values[:, None]
    b1 = stacked["x"].values[:, None]
    bc = stacked["coop"].values[0][:, None]
    bxc = stacked["x:coop"].values[0][:, None]
    effects = stacked["g_effect"].transpose("sample", "g")
    u = effects.sel(g=xr.DataArray(cells["g"].to_numpy(), dims="cell")).values
    eta = b0 + b1 * centred + bc * high + bxc * centred * high + u
    return expit(eta) @ (design.trials / design.trials.sum())


def test_grid_cells_are_the_counterfactual_average_of_every_combination(fake):
    tree, design, posterior = fake
    table = rm.margins(tree, {"x": [1, 4], "coop": ["high", "low"]}, grid=True)
    assert list(table.columns) == ["x", "coop", "mean", "hdi_lower", "hdi_upper"]
    assert len(table) == 4
    for row in table.itertuples():
        expected = interval(_by_hand(design, posterior, x=row.x, coop=row.coop))
        assert row.mean == pytest.approx(expected["mean"], abs=1e-9)
        assert row.hdi_lower == pytest.approx(expected["hdi_lower"], abs=1e-9)
        assert row.hdi_upper == pytest.approx(expected["hdi_upper"], abs=1e-9)
    # the interaction: x's effect differs by coop on the probability scale
    low = table[table.coop == "low"]["mean"].to_numpy()
    high = table[table.coop == "high"]["mean"].to_numpy()
    assert abs((low[1] - low[0]) - (high[1] - high[0])) > 0.05


def test_grid_of_named_variables_takes_the_others_in_their_model_order(fake):
    tree, design, posterior = fake
    table = rm.margins(tree, {"x": [2]}, grid=["x", "coop"])
    assert list(table["coop"]) == ["low", "high"]  # the model's order, not the alphabet's
    expected = _by_hand(design, posterior, x=2, coop="high").mean()
    assert table["mean"].iloc[1] == pytest.approx(expected, abs=1e-9)


def test_by_rows_equal_margins_with_the_by_variable_fixed(fake):
    tree, design, posterior = fake
    table = rm.margins(tree, {"x": [1, 2, 4]}, by="coop")
    assert list(table.columns) == ["predictor", "value", "coop", "mean", "hdi_lower", "hdi_upper"]
    assert list(table["coop"]) == ["low", "high"] * 3
    assert list(table["value"]) == ["1", "1", "2", "2", "4", "4"]
    grid = rm.margins(tree, {"x": [1, 2, 4], "coop": ["low", "high"]}, grid=True)
    assert np.allclose(table["mean"], grid["mean"], atol=1e-12, rtol=0)
    for row in table.itertuples():
        expected = _by_hand(design, posterior, x=int(row.value), coop=row.coop).mean()
        assert row.mean == pytest.approx(expected, abs=1e-9)


def test_todays_calls_keep_todays_columns(fake):
    tree, design, posterior = fake
    table = rm.margins(tree, {"x": [1, 4]})
    assert list(table.columns) == ["predictor", "value", "mean", "hdi_lower", "hdi_upper"]
    assert table["mean"].iloc[1] == pytest.approx(_by_hand(design, posterior, x=4).mean())


def test_comparisons_are_drawwise_differences_and_ratios_of_two_margins(fake):
    tree, design, posterior = fake
    table = rm.comparisons(tree, "x", [1, 4], by="coop")
    assert list(table.columns) == [
        "variable", "value", "baseline", "coop", "measure",
        "mean", "hdi_lower", "hdi_upper", "p_positive",
    ]  # fmt: skip
    assert list(table["coop"]) == ["low", "low", "high", "high"]
    for coop in ("low", "high"):
        a = _by_hand(design, posterior, x=1, coop=coop)
        b = _by_hand(design, posterior, x=4, coop=coop)
        rows = table[table.coop == coop].set_index("measure")
        for measure, draws, above in (("difference", b - a, 0.0), ("ratio", b / a, 1.0)):
            expected = interval(draws)
            assert rows.loc[measure, "mean"] == pytest.approx(expected["mean"], abs=1e-9)
            assert rows.loc[measure, "hdi_lower"] == pytest.approx(expected["hdi_lower"], abs=1e-9)
            assert rows.loc[measure, "p_positive"] == np.mean(draws > above)
    # a positive interaction: x lowers uptake at low cooperation more than at high
    difference = table[table.measure == "difference"].set_index("coop")["mean"]
    assert difference["low"] < difference["high"]


def test_comparisons_of_a_categorical_default_to_each_level_against_its_reference(fake):
    tree, design, posterior = fake
    table = rm.comparisons(tree, "coop")
    assert set(zip(table["value"], table["baseline"], strict=True)) == {("high", "low")}
    low = _by_hand(design, posterior, coop="low")
    expected = (_by_hand(design, posterior, coop="high") - low).mean()
    difference = table.set_index("measure").loc["difference", "mean"]
    assert difference == pytest.approx(expected, abs=1e-9)


def test_grid_and_comparison_mistakes_are_named(fake):
    tree, _, _ = fake
    with pytest.raises(ConfigError, match="both a margin variable and by="):
        rm.margins(tree, {"x": [1], "coop": ["low"]}, by="coop")
    with pytest.raises(ConfigError, match="no margins of 'g'"):
        rm.margins(tree, {"x": [1]}, by="g")
    with pytest.raises(ConfigError, match="'coop': level"):
        rm.margins(tree, {"coop": ["medium"]}, grid=True)
    with pytest.raises(ConfigError, match="need two values or more"):
        rm.comparisons(tree, "x", [2])


def test_registered_fits_compare_and_plot_as_before():
    result = fake_fit({"AAA": 40, "BBB": 60})
    table = rm.comparisons(result, "n_procedures", [1, 3])
    draws = (
        margin_draws(result, "n_procedures", 3)[:, 0]
        - margin_draws(result, "n_procedures", 1)[:, 0]
    )
    difference = table.set_index("measure").loc["difference"]
    assert difference["mean"] == pytest.approx(draws.mean(), abs=1e-12)
    with pytest.raises(ConfigError, match=r"no margins of 'cooperation'.*\['n_procedures'\]"):
        rm.margins(result, {"n_procedures": [1]}, by="cooperation")
    # the report's call, a (controlled) table and its predictor, draws as before
    margins = rm.margins(result, {"n_procedures": [1, 3]})
    ax = rm.plot_margins(result, margins, "n_procedures")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "3"]
    assert np.allclose(ax.get_lines()[0].get_ydata(), margins["mean"])
    matplotlib.pyplot.close("all")


def test_natural_values_put_case_file_categories_in_the_schema_order(fake):
    _, design, _ = fake
    assert natural_values(design, "coop") == ["low", "high"]  # the model's order
    rows = fake_formula_rows(np.random.default_rng(1), 400).rename(columns={"coop": "cooperation"})
    rows.loc[rows.index[:40], "cooperation"] = "medium"
    coded = build_formula_design(rows, "y ~ x + cooperation + (1 | g)")
    assert coded.orders["cooperation"][0] != "low"  # the most common level first
    assert natural_values(coded, "cooperation") == ["low", "medium", "high"]


def test_default_margins_list_case_file_categories_in_the_schema_order():
    """The values a margins table takes by default (what a fit folder's margins.csv and
    the report's margins show): a case-file category in the schema's order whatever its
    reference, another categorical one in the model's order."""
    rows = fake_formula_rows(np.random.default_rng(1), 400).rename(columns={"coop": "cooperation"})
    rows.loc[rows.index[:40], "cooperation"] = "medium"
    coded = build_formula_design(
        rows, "y ~ x + cooperation + (1 | g)", reference={"cooperation": "medium"}
    )
    assert coded.orders["cooperation"][0] == "medium"
    assert default_values(coded)["cooperation"] == ["low", "medium", "high"]
    other = build_formula_design(fake_formula_rows(np.random.default_rng(2), 400), FORMULA,
                                 reference={"coop": "low"})  # fmt: skip
    assert default_values(other)["coop"] == ["low", "high"]  # not a case-file column


def test_plot_margins_draws_a_line_per_by_level_in_model_order(fake):
    tree, _, _ = fake
    ax = rm.plot_margins(tree, {"x": [1, 2, 3, 4]}, by="coop")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["low", "high"]
    table = rm.margins(tree, {"x": [1, 2, 3, 4]}, by="coop")
    for line, coop in zip(lines, ["low", "high"], strict=True):
        assert np.allclose(line.get_ydata(), table[table.coop == coop]["mean"])
        assert list(line.get_xdata()) == [1, 2, 3, 4]
    assert len(ax.collections) == 2  # an HDI band per line
    assert ax.yaxis.get_major_formatter()(0.25, 0) == "25%"
    single = rm.plot_margins(tree, {"x": [1, 4]})
    assert [t.get_text() for t in single.get_xticklabels()] == ["1", "4"]
    matplotlib.pyplot.close("all")


@pytest.mark.sampling
def test_competing_outcomes_by_cooperation_sum_to_one_and_compare_per_outcome():
    """A tiny fit of the competing-outcomes family: each by-cell's six shares sum to one,
    in cooperation's schema order, and each outcome's difference is that of its margins."""
    cases = rm.simulate_cases(n_cases=3000, random_seed=7).cases
    fit = rm.fit(
        cases,
        "outcome ~ n_procedures + cooperation + (1 | nationality)",
        draws=100,
        tune=100,
        chains=2,
        random_seed=3,
    )
    table = rm.margins(fit, {"n_procedures": [1, 6]}, by="cooperation")
    assert list(dict.fromkeys(table["cooperation"])) == ["low", "medium", "high"]
    sums = table.groupby(["value", "cooperation"])["mean"].sum()
    assert np.allclose(sums, 1.0, atol=1e-9)
    compared = rm.comparisons(fit, "n_procedures", [1, 6], by="cooperation")
    difference = compared[compared.measure == "difference"]
    assert np.allclose(difference.groupby("cooperation")["mean"].sum(), 0.0, atol=1e-9)
    means = table.set_index(["outcome", "value", "cooperation"])["mean"]
    for row in difference.itertuples():
        expected = (
            means[(row.outcome, "6", row.cooperation)] - means[(row.outcome, "1", row.cooperation)]
        )
        assert row.mean == pytest.approx(expected, abs=1e-9)


def test_group_effects_of_a_formula_fit_are_each_levels_own_cells(fake):
    """rm.group_effects on a formula fit (a KeyError before): per level, its cases, raw
    share, the model's share of its own cells (by hand) and its effect's draws."""
    tree, design, posterior = fake
    table = rm.group_effects(tree).set_index("g")
    cells = design.cells
    stacked = posterior.stack(sample=("chain", "draw"))
    high = cells["coop"].to_numpy() == "high"
    centred = cells["x"].to_numpy(float) - design.centres["x"]
    effects = stacked["g_effect"].transpose("sample", "g")
    u = effects.sel(g=xr.DataArray(cells["g"].to_numpy(), dims="cell")).values
    eta = (
        stacked["Intercept"].values[:, None]
        + stacked["x"].values[:, None] * centred
        + stacked["coop"].values[0][:, None] * high
        + stacked["x:coop"].values[0][:, None] * centred * high
        + u
    )
    for level in design.blocks[0].levels:
        mask = (cells["g"] == level).to_numpy()
        weights = design.trials[mask] / design.trials[mask].sum()
        share = expit(eta[:, mask]) @ weights
        row = table.loc[level]
        assert row["n"] == design.trials[mask].sum()
        assert row["raw_share"] == pytest.approx(design.successes[mask].sum() / row["n"])
        assert row["share_mean"] == pytest.approx(share.mean(), rel=1e-9)
        assert row["effect_mean"] == pytest.approx(effects.sel(g=level).values.mean())
    with pytest.raises(ConfigError, match="unknown group 'h'"):
        rm.group_effects(tree, group="h")

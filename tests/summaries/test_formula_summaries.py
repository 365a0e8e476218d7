"""Summaries of formula fits: margins, contrasts, new levels and PPC, checked against the
linear predictor computed by hand on a fake posterior, and against the registered
template of the same model on a real fit."""

from __future__ import annotations

from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.special import expit

import returnmodels.summaries as summaries
from fakes import fake_formula_fit, fake_formula_rows
from returnmodels.engine.design import build_formula_design
from returnmodels.errors import ConfigError
from returnmodels.inference.fit import fit
from returnmodels.models import column_spec

FORMULA = "y ~ x + coop + (1 | g)"
BUNDLED = Path(__file__).resolve().parents[2] / "data" / "cases.parquet"


@pytest.fixture(scope="module")
def fake():
    """A fake fit of FORMULA: 2 chains x 50 draws of known values."""
    rng = np.random.default_rng(4)
    rows = fake_formula_rows(rng, 500)
    design = build_formula_design(rows, FORMULA, reference={"coop": "low"})
    draws = (2, 50)
    posterior = xr.Dataset(
        {
            "Intercept": (("chain", "draw"), rng.normal(-1.0, 0.1, draws)),
            "x": (("chain", "draw"), rng.normal(-0.5, 0.05, draws)),
            "coop": (("chain", "draw", "coop_level"), rng.normal(0.7, 0.1, (*draws, 1))),
            "g_sigma": (("chain", "draw"), rng.gamma(5, 0.1, draws)),
            "g_effect": (("chain", "draw", "g"), rng.normal(0, 0.4, (*draws, 8))),
        },
        coords={"coop_level": ["high"], "g": list(design.blocks[0].levels)},
    )
    tree = fake_formula_fit(design, FORMULA, posterior)
    return tree, design, posterior


def _by_hand(design, posterior, x=None, level=None, effect_zero=False, coop=None):
    """Case-weighted mean of the predicted share per draw, the model written out."""
    cells = design.cells.copy()
    xs = cells["x"].to_numpy(float) if x is None else np.full(len(cells), float(x))
    coops = cells["coop"].to_numpy() if coop is None else np.full(len(cells), coop)
    groups = cells["g"].to_numpy() if level is None else np.full(len(cells), level)
    stacked = posterior.stack(sample=("chain", "draw"))
    b0 = stacked["Intercept"].values[:, None]
    b1 = stacked["x"].values[:, None]
    bc = stacked["coop"].values[0][:, None]
    effects = stacked["g_effect"].transpose("sample", "g")
    u = 0 if effect_zero else effects.sel(g=xr.DataArray(groups, dims="cell")).values
    eta = b0 + b1 * (xs - design.centres["x"]) + bc * (coops == "high") + u
    return expit(eta) @ (design.trials / design.trials.sum())


def test_margins_are_the_counterfactual_average(fake):
    tree, design, posterior = fake
    table = summaries.margins(tree, {"x": [1, 4], "coop": ["low", "high"]})
    for x in (1, 4):
        row = table[(table.predictor == "x") & (table.value == str(x))].iloc[0]
        assert row["mean"] == pytest.approx(_by_hand(design, posterior, x=x).mean())
    high = table[(table.predictor == "coop") & (table.value == "high")].iloc[0]
    assert high["mean"] == pytest.approx(_by_hand(design, posterior, coop="high").mean())
    default = summaries.margins(tree)
    assert set(default.predictor) == {"x", "coop"}  # not the grouping factor
    with pytest.raises(ConfigError, match="no margins of 'g'"):
        summaries.margins(tree, {"g": ["g1"]})


def test_contrast_moves_every_cell_with_its_group_level_predictors(fake):
    tree, design, posterior = fake
    table = summaries.contrast(tree, "g1", "g6")  # g1 is low cooperation, g6 high
    share = table[table.measure == "share_difference"].iloc[0]
    expected = _by_hand(design, posterior, level="g1", coop="low") - _by_hand(
        design, posterior, level="g6", coop="high"
    )
    assert share["mean"] == pytest.approx(expected.mean())
    with pytest.raises(ConfigError, match="has no level 'zz'"):
        summaries.contrast(tree, "g1", "zz")


def test_new_group_population_and_sample(fake):
    tree, design, posterior = fake
    with pytest.raises(ConfigError, match=r"group-level predictor\(s\) \['coop'\]"):
        summaries.predict_new_group(tree, new_groups="population")
    with pytest.raises(ConfigError, match="new_groups must be"):
        summaries.predict_new_group(tree, {"coop": "high"}, new_groups="mean")
    population = summaries.predict_new_group(tree, {"coop": "high"}, new_groups="population")
    expected = _by_hand(design, posterior, coop="high", effect_zero=True)
    assert population["mean"].iloc[0] == pytest.approx(expected.mean())
    sample = summaries.predict_new_group(tree, {"coop": "high"}, new_groups="sample", random_seed=1)
    width = lambda t: float(t["hdi_upper"].iloc[0] - t["hdi_lower"].iloc[0])  # noqa: E731
    assert width(sample) > 2 * width(population)  # a new level's effect widens it


def test_ppc_by_factor_and_variable(fake):
    tree, design, _ = fake
    by_group = summaries.ppc_shares(tree)
    assert list(by_group["g"]) == list(design.blocks[0].levels)
    assert by_group["n"].sum() == design.trials.sum()
    observed = design.cells.assign(s=design.successes, n=design.trials).groupby("g")
    assert np.allclose(by_group["observed_share"], (observed["s"].sum() / observed["n"].sum()))
    by_coop = summaries.ppc_shares(tree, "coop")
    assert set(by_coop["coop"]) == {"low", "high"}


@pytest.mark.slow
def test_formula_margins_agree_with_the_registered_template():
    """The same model as a formula and as group_predictors: margins agree (the engines,
    the parameterisations and the two summary paths are independent)."""
    values = {"n_procedures": [1, 3, 6], "cooperation": ["low", "medium", "high"]}
    formula = fit(BUNDLED, formula="assisted ~ n_procedures + cooperation + (1 | nationality)")
    spec = column_spec(predictors=["n_procedures"], group_predictors=["cooperation"])
    template = fit(BUNDLED, "group_predictors", columns=spec)
    a = summaries.margins(formula, values).set_index(["predictor", "value"])
    b = summaries.margins(template, values).set_index(["predictor", "value"])
    sd = (b["hdi_upper"] - b["hdi_lower"]) / (2 * 1.88)  # a 94% interval is about +-1.88 sd
    assert ((a["mean"] - b["mean"]).abs() < 0.5 * sd).all(), pd.concat([a, b], axis=1)


def _fake_posterior(design, rng, draws=(2, 40)) -> xr.Dataset:
    """Made-up draws for every parameter of ``design`` that the summaries read: each
    common term (a dim of its levels when it has several) and each block column's effects."""
    variables, coords = {}, {}
    for term in design.common:
        if term.levels is None:
            variables[term.name] = (("chain", "draw"), rng.normal(0, 0.3, draws))
        else:
            shape = (*draws, len(term.levels))
            variables[term.name] = (("chain", "draw", term.dim), rng.normal(0, 0.3, shape))
            coords[term.dim] = list(term.levels)
    for block in design.blocks:
        for r in range(block.width):
            shape = (*draws, len(block.levels))
            variables[f"{block.column_name(r)}_effect"] = (
                ("chain", "draw", block.factor),
                rng.normal(0, 0.4, shape),
            )
        coords[block.factor] = list(block.levels)
    return xr.Dataset(variables, coords=coords)


def _margins_value_by_value(design, posterior, predictor, value):
    """The per-draw margin as it was computed before it was vectorised: every cell set
    to ``value`` (no rows merged), encoded on its own, eta written out with einsum."""
    frame = design.cells.copy()
    frame[predictor] = value
    X, encoded = design.encode(frame)
    stacked = posterior.stack(sample=("chain", "draw"))
    n = stacked.sizes["sample"]
    beta = np.concatenate(
        [stacked[t.name].transpose("sample", ...).values.reshape(n, -1) for t in design.common],
        axis=1,
    )
    eta = beta @ X.T
    for block, (index, values) in zip(design.blocks, encoded, strict=True):
        effects = np.stack(
            [
                stacked[f"{block.column_name(r)}_effect"].transpose("sample", ...).values
                for r in range(block.width)
            ],
            axis=-1,
        )
        eta += np.einsum("sjm,jm->sj", effects[:, index, :], values)
    return expit(eta) @ (design.trials / design.trials.sum())


def test_vectorised_margins_give_the_value_by_value_numbers():
    """Margins of every value of a variable at once, over cells merged where setting it
    makes them alike, are the numbers of the value-by-value average over every cell: an
    interaction, crossed groups and a varying slope (a block column that is not all ones).
    The fast path computes eta and its inverse logit in single precision: a share may
    move by float32 rounding (1e-7 at these log-odds), never by more than 1e-6."""
    rng = np.random.default_rng(11)
    rows = fake_formula_rows(rng, 600)
    rows["h"] = [f"h{i}" for i in rng.integers(0, 3, len(rows))]
    formula = "y ~ x * coop + (1 + x | g) + (1 | h)"
    design = build_formula_design(rows, formula, reference={"coop": "low"})
    posterior = _fake_posterior(design, rng)
    tree = fake_formula_fit(design, formula, posterior)
    values = {"x": [1, 2, 3, 4, 2.5], "coop": ["low", "high"]}
    table = summaries.margins(tree, values)
    assert list(zip(table.predictor, table.value, strict=True)) == [
        (p, str(v)) for p, vs in values.items() for v in vs
    ]
    for predictor, levels in values.items():
        for value in levels:
            draws = _margins_value_by_value(design, posterior, predictor, value)
            row = table[(table.predictor == predictor) & (table.value == str(value))].iloc[0]
            lower, upper = az.hdi(draws, prob=0.94)
            np.testing.assert_allclose(
                [row["mean"], row["hdi_lower"], row["hdi_upper"]],
                [draws.mean(), lower, upper],
                rtol=0,
                atol=1e-6,
            )

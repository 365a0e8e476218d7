"""K-fold by nationality and exact LOO refits (returnmodels.inference.kfold), and the
comparison of any fits of the same cells (compare_models): the folds, the held-out
estimator against a brute-force computation, the refits, the refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.stats import binom, norm

import returnmodels as rm
from returnmodels.errors import ConfigError
from returnmodels.inference.kfold import HeldOutPrediction, group_folds, heldout_elpd, kfold, reloo
from returnmodels.inference.loo import pointwise_loo
from returnmodels.report.model_figures import off_scale
from returnmodels.report.notebook import case_columns

INTERACTION = "assisted ~ n_procedures * cooperation + (1 | nationality)"
TINY = {"draws": 100, "tune": 100, "chains": 2, "random_seed": 3, "progressbar": False}


# -- folds ------------------------------------------------------------------------------


def _sized_cases(sizes: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame({"nationality": [g for g, n in sizes.items() for _ in range(n)]})


def test_folds_partition_the_nationalities_and_balance_their_cases():
    rng = np.random.default_rng(0)
    sizes = {f"N{i:02d}": int(n) for i, n in enumerate(rng.integers(5, 400, 37))}
    cases = _sized_cases(sizes)
    folds = group_folds(cases, 5, random_seed=1)
    assert sorted(folds.index) == sorted(sizes)  # every level, once
    assert set(folds) == set(range(5))
    load = cases["nationality"].map(folds).value_counts()
    assert load.max() - load.min() <= max(sizes.values())
    assert load.max() - load.min() < 0.1 * len(cases)  # balanced by cases, not by levels
    assert group_folds(cases, 5, random_seed=1).equals(folds)  # seeded


def test_folds_refuse_more_folds_than_levels_and_a_missing_column():
    cases = _sized_cases({"A": 3, "B": 4, "C": 5})
    with pytest.raises(ConfigError, match=r"k must be a whole number from 2 to .* \(3\), got 4"):
        group_folds(cases, 4)
    with pytest.raises(ConfigError, match="no column 'region'"):
        group_folds(cases, 2, group="region")


# -- the held-out estimator -------------------------------------------------------------


def _log_binomial(y, n, eta):
    return binom.logpmf(y, n, 1.0 / (1.0 + np.exp(-eta)))


def test_without_new_levels_the_estimate_is_the_log_mean_of_each_unit_joint_likelihood():
    rng = np.random.default_rng(2)
    S, C = 7, 5
    eta = rng.normal(-0.5, 0.4, (S, C))
    y, n = np.array([1, 0, 3, 2, 5]), np.array([4, 2, 6, 9, 7])
    units = np.array(["a", "a", "b", "b", "b"])
    known = np.zeros(C, bool)
    block = (np.ones((S, 1, 1)) * 0.7, np.ones((C, 1)), units, known)
    elpd, _ = heldout_elpd(
        HeldOutPrediction(eta, [block]), y, n, units, group_draws=50, rng=np.random.default_rng(0)
    )
    for unit in ("a", "b"):
        rows = units == unit
        joint = _log_binomial(y[rows], n[rows], eta[:, rows]).sum(axis=1)  # (S,)
        assert elpd[unit] == pytest.approx(np.log(np.mean(np.exp(joint))), rel=1e-10)


def test_a_new_level_is_integrated_once_for_all_its_cells():
    """One held-out nationality with three cells, its effect u ~ N(0, sigma_s): the
    estimate agrees with the integral over u done by quadrature, which is not the sum of
    the cells' separate integrals (the cells share one effect)."""
    sigma = np.array([0.6, 1.1])
    eta = np.array([[-1.0, -0.2, 0.4], [-0.8, 0.0, 0.3]])
    y, n = np.array([9, 14, 18]), np.array([20, 25, 24])  # all above their eta: u > 0
    units = np.array(["x", "x", "x"])
    L = sigma[:, None, None]
    block = (L, np.ones((3, 1)), units, np.ones(3, bool))
    elpd, ess = heldout_elpd(
        HeldOutPrediction(eta, [block]), y, n, units, group_draws=40_000,
        rng=np.random.default_rng(5),
    )  # fmt: skip
    u = np.linspace(-8, 8, 8001)
    joint, separate = [], []
    for s in range(2):
        cells = _log_binomial(y[:, None], n[:, None], eta[s][:, None] + u[None, :])
        weight = norm.pdf(u, 0.0, sigma[s])
        joint.append(np.trapezoid(np.exp(cells.sum(axis=0)) * weight, u))
        separate.append(np.prod([np.trapezoid(np.exp(c) * weight, u) for c in cells]))
    assert elpd["x"] == pytest.approx(np.log(np.mean(joint)), abs=0.02)
    assert abs(np.log(np.mean(joint)) - np.log(np.mean(separate))) > 0.5
    assert 100 < ess["x"] < 80_000


# -- refusals without sampling ----------------------------------------------------------


def test_the_competing_outcomes_family_is_refused():
    tree = xr.DataTree()
    tree.attrs["returnmodels_config"] = json.dumps({"model": "competing_outcomes"})
    tree.attrs["returnmodels_design"] = json.dumps({"family": "competing_outcomes"})
    with pytest.raises(ConfigError, match="binary models; the competing-outcomes family"):
        kfold(tree, pd.DataFrame(), 3)


def test_a_model_far_behind_is_drawn_off_scale():
    table = pd.DataFrame(
        {"elpd_diff": [0.0, -4.0, -9.0, -1377.0], "dse": [0.0, 2.0, 3.5, 52.0]},
        index=["group_predictors", "varying_slopes", "varying_intercepts", "pooled"],
    )
    assert off_scale(table) == ["pooled"]
    assert off_scale(table.drop(index="pooled")) == []


# -- on tiny fits -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_fits(small_cases):
    return {
        "group_predictors": rm.fit(
            small_cases, "group_predictors", columns=case_columns(["n_procedures"]), **TINY
        ),
        "interaction": rm.fit(small_cases, INTERACTION, **TINY),
    }


def _by_values(result):
    constant = result["constant_data"].to_dataset()
    keys = [constant[c].values for c in ("nationality", "n_procedures")]
    return [f"{a}|{b}" for a, b in zip(*keys, strict=True)]


@pytest.mark.sampling
def test_a_formula_fit_and_a_preset_fit_of_the_same_cells_compare_cell_by_cell(tiny_fits):
    table = rm.compare_models(tiny_fits)
    assert (table["left_out"] == "one cell of cases with the same predictors").all()
    loos = {name: pointwise_loo(r) for name, r in tiny_fits.items()}
    matched = {
        name: pd.Series(loo.elpd_i.values, index=_by_values(tiny_fits[name]))
        for name, loo in loos.items()
    }
    diff = matched["interaction"] - matched["group_predictors"].reindex(
        matched["interaction"].index
    )
    worse = table.index[1]
    assert table.loc[worse, "dse"] == pytest.approx(np.sqrt(len(diff) * np.var(diff)), rel=1e-6)


@pytest.mark.sampling
def test_fits_of_different_cells_are_refused_saying_so(small_cases, tiny_fits):
    by_year = rm.fit(small_cases, "assisted ~ n_procedures + (1 | closing_year)", **TINY)
    with pytest.raises(ConfigError, match="fits differ in their cells .* by \\['closing_year'"):
        rm.compare_models({"gp": tiny_fits["group_predictors"], "year": by_year})


@pytest.mark.sampling
def test_reloo_refits_exactly_the_flagged_cells(small_cases, tiny_fits):
    result = tiny_fits["interaction"]
    loo = pointwise_loo(result)
    k = np.asarray(loo.pareto_k)
    threshold = float(np.sort(k)[-3])  # the two largest k are above it
    flagged = sorted(int(c) for c in np.flatnonzero(k > threshold))
    assert len(flagged) == 2
    exact = reloo(result, small_cases, threshold=threshold, max_refits=2, draws=100, tune=100)
    assert exact.elpd_i.attrs["refit_cells"] == flagged
    others = np.setdiff1d(np.arange(k.size), flagged)
    np.testing.assert_array_equal(exact.elpd_i.values[others], loo.elpd_i.values[others])
    assert not np.isclose(exact.elpd_i.values[flagged], loo.elpd_i.values[flagged]).any()
    assert (exact.pareto_k.values[flagged] == 0).all()
    assert exact.elpd == pytest.approx(float(exact.elpd_i.sum()))
    table = rm.compare_models(tiny_fits, loo={"interaction": exact})
    assert table.loc["interaction", "n_refit"] == 2
    assert "interaction: 2 of" in table.attrs["note"] and "refit exactly" in table.attrs["note"]


@pytest.mark.sampling
def test_reloo_refuses_above_its_cap_and_other_data(small_cases, tiny_fits):
    result = tiny_fits["interaction"]
    with pytest.raises(
        ConfigError, match=r"[\d,]+ cells have Pareto k > 0.0, more than max_refits"
    ):
        reloo(result, small_cases, threshold=0.0, max_refits=20)
    other = rm.simulate_cases(n_cases=3000, random_seed=8).cases
    with pytest.raises(ConfigError, match="not the data of this fit"):
        reloo(result, other, threshold=float(np.max(pointwise_loo(result).pareto_k)) - 1e-9)


@pytest.mark.sampling
def test_kfold_leaves_out_whole_nationalities_and_compares(small_cases, tiny_fits):
    results = {
        name: kfold(fit, small_cases, 3, group_draws=20, draws=100, tune=100)
        for name, fit in tiny_fits.items()
    }
    nationalities = sorted(small_cases["nationality"].astype(str).unique())
    for result in results.values():
        assert list(result.elpd_i["nationality"].values) == nationalities
        assert result.elpd == pytest.approx(float(result.elpd_i.sum()))
        assert np.isfinite(result.elpd_i).all() and (result.elpd_i < 0).all()
        assert result.left_out.startswith("whole levels of nationality (all their cases): 3 folds")
    table = rm.compare_models(kfold=results)
    assert set(table.index) == set(tiny_fits)
    assert table["left_out"].str.startswith("whole levels of nationality").all()
    other = kfold(tiny_fits["interaction"], small_cases, 4, group_draws=5, draws=50, tune=50)
    with pytest.raises(ConfigError, match="differ in their folds"):
        rm.compare_models(kfold={"a": results["group_predictors"], "b": other})

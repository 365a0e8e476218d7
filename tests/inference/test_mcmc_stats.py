"""The diagnostics of every parameter at once are ArviZ's numbers (az.summary's
diagnostics, az.rhat, az.ess), on awkward draws as on a fit."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from returnmodels.inference.mcmc_stats import DIAGNOSTIC_COLUMNS, diagnostics_table, stats_table
from returnmodels.summaries import parameter_summary


def _posterior(chains: int, draws: int, seed: int = 0) -> xr.Dataset:
    """Draws with autocorrelation, ties, a constant element, labelled dims."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(chains, draws, 3))
    ar = np.empty_like(noise)
    ar[:, 0] = noise[:, 0]
    for t in range(1, draws):  # strongly autocorrelated: Geyer's truncation far out
        ar[:, t] = 0.9 * ar[:, t - 1] + noise[:, t]
    ar[1:, :, 2] += 3.0  # chains that disagree: R-hat well above 1
    tied = np.round(rng.normal(size=(chains, draws)), 1)  # many ties among the ranks
    corr = np.stack([np.ones((chains, draws)), rng.uniform(size=(chains, draws))], axis=-1)
    return xr.Dataset(
        {
            "beta": (("chain", "draw", "term"), ar),
            "tied": (("chain", "draw"), tied),
            "corr": (("chain", "draw", "entry"), corr),  # a constant diagonal
        },
        coords={"term": ["a", "b", "c"], "entry": ["diag", "off"]},
    )


def _arviz(posterior: xr.Dataset) -> pd.DataFrame:
    tree = xr.DataTree.from_dict({"posterior": posterior})
    return pd.DataFrame(az.summary(tree, kind="diagnostics", round_to="none"))


@pytest.mark.parametrize(("chains", "draws"), [(4, 1000), (2, 101), (3, 7), (1, 200)])
def test_every_diagnostic_is_arviz_s_number(chains, draws):
    posterior = _posterior(chains, draws)
    mine = diagnostics_table(posterior)
    theirs = _arviz(posterior)
    assert list(mine.index) == list(theirs.index)
    assert list(mine["variable"]) == ["beta"] * 3 + ["tied"] + ["corr"] * 2
    for column in DIAGNOSTIC_COLUMNS:
        np.testing.assert_allclose(
            mine[column].to_numpy(float),
            theirs[column].to_numpy(float),
            rtol=1e-10,
            equal_nan=True,
            err_msg=column,
        )
    if chains == 1:
        assert mine["r_hat"].isna().all()  # R-hat compares chains
    if chains == 4:
        assert mine.loc["beta[c]", "r_hat"] > 1.1 > mine.loc["beta[a]", "r_hat"]  # caught


@pytest.mark.parametrize(("chains", "draws", "prob"), [(4, 1000, 0.94), (1, 37, 0.5), (2, 6, 0.89)])
def test_every_statistic_is_arviz_s_number(chains, draws, prob):
    """Mean, SD and HDI, with ArviZ's labels and column names, on the awkward draws
    and on a two-dimensional variable stored with its dims out of the usual order (its
    rows: ``matrix[a, x]``, ``matrix[a, y]``, ``matrix[b, x]``, ...)."""
    posterior = _posterior(chains, draws)
    rng = np.random.default_rng(3)
    matrix = rng.gamma(2.0, size=(2, chains, draws, 3))  # skewed: the HDI is not the ETI
    posterior["matrix"] = (("row", "chain", "draw", "column"), matrix)
    posterior = posterior.assign_coords(row=["a", "b"], column=["x", "y", "z"])
    tree = xr.DataTree.from_dict({"posterior": posterior})
    theirs = pd.DataFrame(
        az.summary(tree, kind="stats", ci_kind="hdi", ci_prob=prob, round_to="none")
    )
    mine = stats_table(posterior, prob)
    assert list(mine.columns) == list(theirs.columns)
    assert list(mine.index) == list(theirs.index)
    np.testing.assert_allclose(
        mine.to_numpy(float), theirs.to_numpy(float), rtol=1e-12, equal_nan=True
    )


def test_a_parameter_with_nan_gets_nan_and_leaves_the_others_alone():
    posterior = _posterior(4, 300)
    posterior["beta"][0, 5, 1] = np.nan
    mine, theirs = diagnostics_table(posterior), _arviz(posterior)
    assert mine.loc["beta[b]", list(DIAGNOSTIC_COLUMNS)].isna().all()
    np.testing.assert_allclose(
        mine.loc["beta[a]", "ess_bulk"], theirs.loc["beta[a]", "ess_bulk"], rtol=1e-10
    )


@pytest.mark.sampling
def test_the_summary_of_a_fit_is_arviz_s_summary(smoke_fits):
    fit = smoke_fits("varying_slopes")
    mine = parameter_summary(fit).drop(columns="convergence")
    theirs = pd.DataFrame(az.summary(fit, ci_kind="hdi", ci_prob=0.94, round_to="none"))
    assert list(mine.columns) == list(theirs.columns)
    assert list(mine.index) == list(theirs.index)
    np.testing.assert_allclose(
        mine.to_numpy(float), theirs.to_numpy(float), rtol=1e-9, equal_nan=True
    )


def test_draws_diagnosed_before_are_not_computed_again(monkeypatch):
    """The gate diagnoses every parameter after sampling; the summary written right
    after reuses what it found, by the draws' content: a parameter whose draws changed
    is computed anew, alone."""
    from returnmodels.inference import mcmc_stats

    posterior = _posterior(4, 200, seed=7)
    first = diagnostics_table(posterior)
    seen = []
    compute = mcmc_stats._diagnostics
    monkeypatch.setattr(
        mcmc_stats,
        "_diagnostics",
        lambda draws, prob: seen.append(len(draws)) or compute(draws, prob),
    )
    pd.testing.assert_frame_equal(diagnostics_table(posterior), first)
    assert seen == []
    changed = posterior.copy(deep=True)
    changed["beta"][2, 10, 0] += 1.0
    table = diagnostics_table(changed)
    assert seen == [1]  # beta[a] only
    pd.testing.assert_frame_equal(table, _arviz(changed).assign(variable=first["variable"]))

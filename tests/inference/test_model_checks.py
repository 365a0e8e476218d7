"""Simulation-based calibration and prior predictive checks (inference.model_checks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import returnmodels as rm
from returnmodels.errors import ConfigError
from returnmodels.inference import model_checks


def test_rank_statistic_counts_draws_below_the_truth():
    assert model_checks.rank_statistic(np.array([0.1, 0.5, 0.9, 1.3]), 0.7) == 2
    assert model_checks.rank_statistic(np.array([0.1, 0.5]), -1.0) == 0
    assert model_checks.rank_statistic(np.array([0.1, 0.5]), 9.0) == 2


def test_sbc_ranks_of_an_exact_posterior_are_uniform():
    """Normal mean with known variance: the posterior is exact, so SBC must pass."""
    rng = np.random.default_rng(3)
    n_draws, ranks = 99, []
    for _ in range(400):
        mu = rng.normal(0, 1)  # prior N(0, 1)
        y = rng.normal(mu, 1, size=5)  # likelihood N(mu, 1)
        precision = 1 + len(y)
        draws = rng.normal(y.sum() / precision, precision**-0.5, size=n_draws)
        ranks.append(model_checks.rank_statistic(draws, mu))
    test = model_checks.uniformity_test(np.array(ranks), n_draws)
    assert test["chi2_p"] > 0.01 and test["ks_p"] > 0.01, test


def test_sbc_detects_an_overconfident_posterior():
    """The same problem with a posterior that is far too narrow: ranks pile at the ends."""
    rng = np.random.default_rng(4)
    ranks = []
    for _ in range(200):
        mu = rng.normal(0, 1)
        y = rng.normal(mu, 1, size=5)
        draws = rng.normal(y.mean(), 0.05, size=99)
        ranks.append(model_checks.rank_statistic(draws, mu))
    test = model_checks.uniformity_test(np.array(ranks), 99)
    assert test["chi2_p"] < 1e-6 and test["ks_p"] < 1e-6, test


def test_uniformity_test_rejects_clearly_non_uniform_ranks():
    ranks = np.r_[np.zeros(30), np.full(10, 50)]
    test = model_checks.uniformity_test(ranks, 99)
    assert test["chi2_p"] < 1e-3 and test["ks_p"] < 1e-3
    assert test["bins"] == 8


def test_sbc_result_tests_every_parameter():
    ranks = pd.DataFrame({"a": np.arange(40) % 100, "b": np.zeros(40, dtype=int)})
    tests = model_checks.SBCResult(ranks, 99).tests()
    assert list(tests.index) == ["a", "b"]
    assert tests.loc["b", "chi2_p"] < 1e-3


@pytest.mark.sampling
@pytest.mark.parametrize(
    "model, formula",
    [("pooled", None), ("group_predictors", None),
     (None, "assisted ~ n_procedures * cooperation + (1 | nationality) + (1 | closing_year)")],
)  # fmt: skip
def test_prior_predictive_shares_are_shares(small_cases, model, formula):
    shares = model_checks.prior_predictive_shares(
        small_cases, model or "group_predictors", formula=formula, draws=31, random_seed=1
    )
    assert len(shares) == 31 and shares.between(0, 1).all()
    assert shares.std() > 0.05  # the prior spreads the share
    summary = model_checks.prior_share_summary(shares)
    assert set(summary["statistic"]) >= {"quantile_0.50", "fraction_below_0.01"}


def test_observed_share_is_controlled(small_cases):
    share = model_checks.observed_share(small_cases)
    assert 0.02 < share < 0.3
    n_assisted = int((small_cases["outcome"] == "assisted_return").sum())
    rounded = 5 * np.floor(np.array([n_assisted, len(small_cases)]) / 5 + 0.5)
    assert share == pytest.approx(rounded[0] / rounded[1])  # a ratio of rounded counts


@pytest.mark.sampling
def test_run_sbc_small_on_the_engine(small_cases):
    result = model_checks.run_sbc(
        small_cases, formula="assisted ~ n_procedures + (1 | nationality)",
        n_replications=3, draws=60, tune=60, n_rank_draws=19, random_seed=2,
    )  # fmt: skip
    assert list(result.ranks.columns) == ["Intercept", "n_procedures", "nationality_sigma"]
    assert result.ranks.shape == (3, 3)
    assert result.ranks.to_numpy().min() >= 0 and result.ranks.to_numpy().max() <= 19
    assert len(result.divergences) == 3


def test_run_sbc_refuses_unknown_parameters_and_too_many_rank_draws(small_cases):
    formula = "assisted ~ n_procedures + (1 | nationality)"
    with pytest.raises(ConfigError, match="n_rank_draws"):
        model_checks.run_sbc(small_cases, formula=formula, draws=10, chains=2, n_rank_draws=20)
    with pytest.raises(ConfigError, match=r"unknown SBC parameter.*'gender'"):
        model_checks.run_sbc(
            small_cases, formula=formula, n_replications=1, draws=20, tune=20,
            n_rank_draws=9, parameters=["gender"],
        )  # fmt: skip


#: Priors of moderate width for SBC: wide priors simulate all-0 or all-1 cells, which
#: calibrate as well but sample slowly.
SBC_PRIORS = {
    "intercept": {"dist": "Normal", "mu": -1.5, "sigma": 1.0},
    "coefficients": {"dist": "Normal", "mu": 0.0, "sigma": 0.5},
    "sigma": {"dist": "HalfNormal", "sigma": 0.7},
}


@pytest.fixture(scope="module")
def sbc_cases():
    return rm.simulate_cases(n_cases=2000, random_seed=2).cases


@pytest.mark.slow
@pytest.mark.parametrize(
    "formula, replications, extra_priors",
    [
        ("assisted ~ n_procedures + cooperation + (1 | nationality)", 60, {}),
        ("assisted ~ n_procedures + (1 | nationality) + (1 | closing_year)", 50, {}),
        (
            "assisted ~ n_procedures + (1 + n_procedures | nationality)",
            30,
            {"nationality_n_procedures_sigma": {"dist": "HalfNormal", "sigma": 0.2}},
        ),
    ],
    ids=["study", "crossed", "correlated-slope"],
)
def test_sbc_of_the_engine_is_uniform(sbc_cases, formula, replications, extra_priors):
    """The engine that fits every model (density, hand-written gradient, Cholesky
    layout, centring) against truths drawn in NumPy from the priors: the ranks of every
    coefficient, SD and correlation are uniform."""
    result = model_checks.run_sbc(
        sbc_cases, formula=formula, priors=SBC_PRIORS | extra_priors, n_replications=replications,
        draws=200, tune=200, n_rank_draws=39, random_seed=11,
    )  # fmt: skip
    tests = result.tests()
    assert (tests["chi2_p"] > 1e-3).all() and (tests["ks_p"] > 1e-3).all(), tests
    assert np.median(result.divergences) == 0  # most replications sample cleanly


@pytest.mark.slow
def test_sbc_detects_truths_from_another_prior(sbc_cases, monkeypatch):
    """Truths whose group effects are twice what their SD says (as an engine that
    scaled its effects wrongly would fit): the SD's ranks pile up at the top and the
    uniformity test says so (the check has power)."""
    draw = model_checks.draw_prior

    def wider(design, n, rng):
        truth = draw(design, n, rng)
        return truth.assign(nationality_effect=truth["nationality_effect"] * 2)

    monkeypatch.setattr(model_checks, "draw_prior", wider)
    result = model_checks.run_sbc(
        sbc_cases, formula="assisted ~ n_procedures + (1 | nationality)", priors=SBC_PRIORS,
        n_replications=30, draws=200, tune=200, n_rank_draws=39, random_seed=5,
    )  # fmt: skip
    assert result.tests().loc["nationality_sigma", "ks_p"] < 1e-3


def test_long_ranks_hold_every_rank_once():
    ranks = pd.DataFrame({"n_procedures": [3, 9], "Intercept": [0, 99]}).rename_axis("replication")
    long = model_checks.SBCResult(ranks, 99).long_ranks()
    assert list(long.columns) == ["replication", "parameter", "rank"]
    rows = zip(long["parameter"], long["replication"], long["rank"], strict=True)
    assert sorted(rows) == [
        ("Intercept", 0, 0), ("Intercept", 1, 99), ("n_procedures", 0, 3), ("n_procedures", 1, 9),
    ]  # fmt: skip

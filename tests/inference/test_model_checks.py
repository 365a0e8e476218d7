"""Simulation-based calibration and prior predictive checks (inference.model_checks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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


def test_prior_predictive_shares_are_shares(small_cases):
    shares = model_checks.prior_predictive_shares(small_cases, "pooled", draws=30, random_seed=1)
    assert len(shares) == 30 and shares.between(0, 1).all()
    summary = model_checks.prior_share_summary(shares)
    assert set(summary["statistic"]) >= {"quantile_0.50", "fraction_below_0.01"}


def test_observed_share_is_controlled(small_cases):
    share = model_checks.observed_share(small_cases)
    assert 0.02 < share < 0.3
    n_assisted = int((small_cases["outcome"] == "assisted_return").sum())
    rounded = 5 * np.floor(np.array([n_assisted, len(small_cases)]) / 5 + 0.5)
    assert share == pytest.approx(rounded[0] / rounded[1])  # a ratio of rounded counts


@pytest.mark.sampling
def test_run_sbc_small():
    result = model_checks.run_sbc(3, draws=60, tune=60, n_rank_draws=19, random_seed=2)
    assert result.ranks.shape == (3, 3)
    assert result.ranks.to_numpy().min() >= 0 and result.ranks.to_numpy().max() <= 19
    assert len(result.divergences) == 3

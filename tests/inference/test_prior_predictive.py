"""The prior predictive check on the engine (likelihood weight 0) and the NumPy prior draws
that simulation-based calibration starts from (inference.prior_predictive)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import returnmodels as rm
from returnmodels.engine.callbacks import log_density
from returnmodels.engine.inputs import engine_inputs
from returnmodels.errors import ConfigError
from returnmodels.inference.fit import engine_design
from returnmodels.inference.prior_predictive import (
    draw_prior,
    lkj_cholesky,
    prior_predictive,
)

FORMULA = "assisted ~ n_procedures + gender + (1 + n_procedures | nationality) + (1 | closing_year)"
PRIORS = {
    "intercept": {"dist": "Normal", "mu": -1.0, "sigma": 1.0},
    "n_procedures": {"dist": "StudentT", "nu": 3.0, "mu": 0.0, "sigma": 0.5},
    "nationality_sigma": {"dist": "Exponential", "lam": 2.0},
    "nationality_n_procedures_sigma": {"dist": "HalfStudentT", "nu": 3.0, "sigma": 0.5},
    "closing_year_sigma": {"dist": "HalfNormal", "sigma": 0.8},
    "nationality_corr": {"dist": "LKJ", "eta": 2.0},
}

#: The priors above as scipy distributions (the correlation of an LKJ(2) pair: 2 Beta(2, 2) - 1).
EXPECTED = {
    "Intercept": stats.norm(-1.0, 1.0),
    "n_procedures": stats.t(3.0, 0.0, 0.5),
    "gender[female]": stats.norm(0.0, 2.5),
    "nationality_sigma": stats.expon(scale=0.5),
    "closing_year_sigma": stats.halfnorm(scale=0.8),
    "nationality_corr": stats.beta(2.0, 2.0, loc=-1.0, scale=2.0),
}


class _HalfT:
    """|T| of a Student-t (scipy has no half Student-t)."""

    def __init__(self, nu, scale):
        self.t = stats.t(nu, 0.0, scale)

    def cdf(self, x):
        return 2.0 * self.t.cdf(x) - 1.0

    def ppf(self, q):
        return self.t.ppf((q + 1.0) / 2.0)


EXPECTED["nationality_n_procedures_sigma"] = _HalfT(3.0, 0.5)


@pytest.fixture(scope="module")
def cases():
    return rm.simulate_cases(n_cases=1500, random_seed=3).cases


@pytest.fixture(scope="module")
def design(cases):
    return engine_design(cases, formula=FORMULA, priors=PRIORS)[0]


def _values(draws, name):
    if "[" in name:
        variable, label = name[:-1].split("[")
        var = draws[variable]
        return var.sel({var.dims[-1]: label}).to_numpy().ravel()
    return draws[name].to_numpy().ravel()


def test_numpy_prior_draws_follow_the_stated_priors(design):
    draws = draw_prior(design, 4000, np.random.default_rng(1))
    for name, expected in EXPECTED.items():
        test = stats.kstest(_values(draws, name), expected.cdf)
        assert test.pvalue > 1e-3, (name, test)
    ratio = draws["closing_year_effect"] / draws["closing_year_sigma"]
    assert stats.kstest(ratio.to_numpy().ravel(), "norm").pvalue > 1e-3


def test_lkj_draws_have_the_lkj_marginal_in_three_dimensions():
    """The marginal correlation of LKJ(eta) in m dimensions: 2 Beta(b, b) - 1 with
    b = eta - 1 + m / 2, for every pair (the vine's order must not show)."""
    L = lkj_cholesky(3, 1.5, np.random.default_rng(2), 6000)
    omega = L @ np.swapaxes(L, 1, 2)
    assert np.allclose(np.diagonal(omega, axis1=1, axis2=2), 1.0)
    marginal = stats.beta(2.0, 2.0, loc=-1, scale=2)  # 1.5 - 1 + 3/2 = 2
    for r, c in [(1, 0), (2, 0), (2, 1)]:
        assert stats.kstest(omega[:, r, c], marginal.cdf).pvalue > 1e-3, (r, c)


@pytest.mark.slow
def test_the_engine_with_likelihood_weight_zero_samples_the_prior(cases):
    """The engine's prior draws (NUTS on the weight-0 density, all levels non-centred)
    against the priors' own quantiles: the share of draws below each prior quantile is
    that quantile (a wrong Jacobian of the SDs or of the Cholesky factor moves these)."""
    tree = prior_predictive(cases, formula=FORMULA, priors=PRIORS, draws=1500, tune=500, chains=2)
    draws = tree["prior"].to_dataset()
    for name, expected in EXPECTED.items():
        values = _values(draws, name)
        for q in (0.1, 0.5, 0.9):
            share = float(np.mean(values < expected.ppf(q)))
            assert abs(share - q) < 0.06, (name, q, share)
    assert int(tree["sample_stats_prior"]["diverging"].sum()) <= 15


@pytest.mark.sampling
def test_prior_predictive_replicates_both_stages_of_the_competing_family(small_cases):
    tree = prior_predictive(small_cases, "competing_outcomes", draws=20, tune=50, chains=1)
    replicated = tree["prior_predictive"]
    trials = tree["constant_data"]["trials"].to_numpy()
    total = replicated["assisted"] + replicated["competing"].sum("competing_outcome")
    assert (total.to_numpy() == trials).all()  # every case ends in one outcome
    assert {"competing_Intercept", "Intercept"} <= set(tree["prior"].data_vars)
    assert replicated["competing"].to_numpy().std() > 0


def test_likelihood_weight_is_zero_or_one_and_zero_leaves_the_prior(design):
    theta = np.random.default_rng(0).normal(size=_dimension(design))
    with pytest.raises(ConfigError, match="likelihood_weight must be 0 or 1"):
        log_density(design, theta, likelihood_weight=0.5)
    empty = design.__class__(
        **{**design.__dict__, "successes": 0 * design.successes, "trials": 0 * design.trials}
    )
    assert log_density(design, theta, 0)[0] == pytest.approx(log_density(empty, theta, 0)[0])
    assert log_density(design, theta, 0)[0] != pytest.approx(log_density(design, theta, 1)[0])


def _dimension(design) -> int:
    return engine_inputs(design)[1].n_dim


def test_prior_predictive_refuses_bad_sizes(small_cases):
    with pytest.raises(ConfigError, match="draws must be a whole number"):
        prior_predictive(small_cases, formula="assisted ~ n_procedures", draws=0)

"""``fit(..., sampler="pymc"|"numpyro")`` samples the PyMC model of the term table
(:mod:`returnmodels.models.pymc_model`): the engine's names and dims, the sampler
recorded, and (``slow``) the engine's posterior, within Monte Carlo error."""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import pytest

import returnmodels as rm
from returnmodels.inference.fit import fit


@pytest.fixture(scope="module")
def cases():
    return rm.simulate_cases(n_cases=3000, random_seed=2).cases


STUDY = "assisted ~ n_procedures + cooperation + (1 | nationality)"


def _signature(result) -> dict:
    posterior = result["posterior"]
    return {
        name: (posterior[name].dims, {d: list(posterior[d].values) for d in posterior[name].dims})
        for name in posterior.data_vars
    }


@pytest.mark.sampling
@pytest.mark.parametrize(
    ("formula", "sampler"),
    [(STUDY, "pymc"), (STUDY, "numpyro"), ("outcome ~ n_procedures + (1 | nationality)", "pymc")],
)
def test_pymc_and_numpyro_fit_the_engines_variables(cases, formula, sampler):
    small = {"draws": 30, "tune": 30, "chains": 1, "random_seed": 5, "progressbar": False}
    engine = fit(cases, formula=formula, **small)
    other = fit(cases, formula=formula, sampler=sampler, **small)

    def without_sample_dims(signature):
        return {
            name: (dims[2:], {d: v for d, v in coords.items() if d not in ("chain", "draw")})
            for name, (dims, coords) in signature.items()
        }

    assert without_sample_dims(_signature(other)) == without_sample_dims(_signature(engine))
    used = json.loads(other.attrs["returnmodels_sampler"])
    assert used["sampler"] == sampler and "engine" not in used
    assert any("PyMC model of the term table" in str(v) for v in used.values())
    assert json.loads(engine.attrs["returnmodels_sampler"])["sampler"] == "nutpie"
    # the rest of a fit reads it as an engine fit: log-likelihood, log prior, a summary
    assert set(other["log_likelihood"].data_vars) == set(engine["log_likelihood"].data_vars)
    assert set(other["log_prior"].data_vars) == set(engine["log_prior"].data_vars)
    assert "Group SDs" in str(rm.summary(other))


@pytest.mark.sampling
def test_a_preset_on_pymc_has_the_engines_names(cases):
    """A preset on PyMC's sampler keeps the engine's names: the effects, not the
    non-centred offsets PyMC samples."""
    small = {"draws": 30, "tune": 30, "chains": 1, "random_seed": 5, "progressbar": False}
    engine = fit(cases, "group_predictors", **small)
    other = fit(cases, "group_predictors", sampler="pymc", **small)
    assert set(other["posterior"].data_vars) == set(engine["posterior"].data_vars)
    assert "nationality_effect" in other["posterior"]
    assert not [n for n in other["posterior"].data_vars if n.endswith(("_offset", "_intercept"))]
    assert json.loads(other.attrs["returnmodels_sampler"])["sampler"] == "pymc"


@pytest.mark.slow
@pytest.mark.parametrize(
    "formula",
    [
        STUDY,
        "assisted ~ n_procedures + (1 | nationality) + (1 | closing_year)",  # crossed
        "assisted ~ n_procedures + cooperation + (1 + n_procedures | nationality)",  # a slope
    ],
)
def test_the_engine_and_pymc_give_one_posterior(cases, formula):
    """Means and SDs of every parameter but the effects, the engine's against the PyMC
    model's under PyMC's NUTS, within 4 Monte Carlo SEs of their difference."""
    # target_accept 0.95: at 0.8 the crossed model gave the engine 5 divergences (its
    # centred years) and the PyMC model 1 (non-centred), seeds 3 and 4
    settings = {
        "draws": 1000, "tune": 700, "chains": 2, "target_accept": 0.95, "progressbar": False
    }  # fmt: skip
    engine = fit(cases, formula=formula, random_seed=3, **settings)
    pymc = fit(cases, formula=formula, sampler="pymc", random_seed=4, **settings)
    for result in (engine, pymc):
        # converged enough to compare by Monte Carlo errors (2 chains: R-hat is noisy;
        # the MCSEs, which the ESS sets, carry the comparison)
        verdict = json.loads(result.attrs["returnmodels_verdict"])
        assert verdict["r_hat_max"] <= 1.02 and verdict["divergences"] == 0, verdict
    first, second = engine["posterior"].to_dataset(), pymc["posterior"].to_dataset()
    names = [n for n in first.data_vars if not n.endswith("_effect")]
    assert set(first.data_vars) == set(second.data_vars)
    for name in names:
        a, b = first[[name]], second[[name]]
        for method, statistic in (("mean", np.mean), ("sd", np.std)):
            se = np.hypot(
                az.mcse(a, method=method)[name].values, az.mcse(b, method=method)[name].values
            ).ravel()
            gap = (
                statistic(a[name].values, axis=(0, 1)) - statistic(b[name].values, axis=(0, 1))
            ).ravel()
            assert np.all(np.abs(gap) <= 4 * se + 1e-3), (name, method, gap, se)

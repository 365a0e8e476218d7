"""The registered models are fitted on the formula engine and are still their PyMC models.

``fit(data, name)`` samples the precompiled engine (nothing compiled for a new model) and
returns the registered names, dims and derived variables
(:mod:`returnmodels.inference.presets`). Checked here: the priors reach the engine as
registered (a Cauchy as the engine's Student-t with one degree of freedom); a prior the
engine lacks is refused, naming it, whatever the sampler; and the posterior of the engine
agrees with the registered PyMC model's, sampled side by side, within Monte Carlo error.
"""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import nutpie
import pytest

from returnmodels.errors import ConfigError
from returnmodels.inference.compiled import compile_for_nutpie
from returnmodels.inference.fit import build_model, engine_design, fit
from returnmodels.inference.formula_fit import engine_inputs
from returnmodels.models import linear
from returnmodels.models.design import CASE_FILE_SPEC, build_design
from returnmodels.models.presets import preset_design
from returnmodels.models.priors import merge_priors
from returnmodels.models.registry import get_model


def test_registered_priors_reach_the_engine(small_cases):
    entry = get_model("varying_slopes")
    priors = merge_priors(
        entry.default_priors,
        {
            "group_sigma": {"sigma": 0.3},
            "slope_lkj": {"eta": 4.0},
            "group_coefficients": {"dist": "StudentT", "nu": 3.0, "mu": 0.0, "sigma": 1.0},
        },
    )
    design = build_design(small_cases, CASE_FILE_SPEC)
    engine = preset_design(design, "varying_slopes", priors)
    arrays, layout = engine_inputs(engine)
    labels = engine.column_labels()
    # coefficients: case-level terms N(0, 2.5), cooperation Student-t(3, 0, 1)
    assert arrays["coef_prior"][labels.index("n_procedures")].tolist() == [np.inf, 0.0, 2.5]
    assert arrays["coef_prior"][labels.index("cooperation[high]")].tolist() == [3.0, 0.0, 1.0]
    # SDs (HalfNormal 0.3 and 0.5) and the LKJ's eta in the Cholesky weights
    assert arrays["sd_prior"].tolist() == [[0.0, 0.3, 1.0], [0.0, 0.5, 1.0]]
    # the one w of a 2 x 2 factor: log(1 - w^2) weighs 1 (tanh) + 1/2 (m - r - 1 + 2 (eta
    # - 1)) for L_11 = sqrt(1 - w^2) in the LKJ density and the Cholesky Jacobian
    assert arrays["w_weight"].tolist() == [pytest.approx(1 + 0.5 * (2 - 1 - 1 + 2 * (4.0 - 1)))]
    assert "nationality_corr" in layout.names


def test_cauchy_priors_are_the_engines_student_t(small_cases):
    entry = get_model("group_predictors")
    priors = merge_priors(
        entry.default_priors,
        {
            "group_sigma": {"dist": "HalfCauchy", "beta": 0.7},
            "coefficients": {"dist": "Cauchy", "alpha": 0.2, "beta": 1.5},
        },
    )
    engine = preset_design(build_design(small_cases, CASE_FILE_SPEC), "group_predictors", priors)
    arrays, _ = engine_inputs(engine)
    # a half-Cauchy is the half Student-t with nu = 1 (kind 2), a Cauchy the Student-t
    assert arrays["sd_prior"].tolist() == [[2.0, 0.7, 1.0]]
    n_procedures = engine.column_labels().index("n_procedures")
    assert arrays["coef_prior"][n_procedures].tolist() == [1.0, 0.2, 1.5]
    assert engine.priors["nationality_sigma"] == {"dist": "HalfStudentT", "nu": 1.0, "sigma": 0.7}


@pytest.mark.parametrize("sampler", ["nutpie", "pymc", "numpyro"])
def test_a_prior_the_engine_lacks_is_refused_whatever_the_sampler(small_cases, sampler):
    gamma = {"group_sigma": {"dist": "Gamma", "alpha": 2.0, "beta": 1.0}}
    with pytest.raises(ConfigError) as refused:
        fit(small_cases, "varying_intercepts", priors=gamma, sampler=sampler, draws=10, tune=10)
    message = str(refused.value)
    for part in ("varying_intercepts", "group_sigma", "Gamma", "nationality_sigma"):
        assert part in message, message
    assert "['HalfNormal', 'Exponential', 'HalfStudentT']" in message
    # the prior predictive check and SBC read the same refusal
    with pytest.raises(ConfigError, match="'group_sigma' is a Gamma"):
        engine_design(small_cases, "varying_intercepts", priors=gamma)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["group_predictors", "varying_slopes"])
def test_the_engine_and_the_pymc_model_give_one_posterior(small_cases, name, monkeypatch):
    # the slope model's SDs mix slowly on 3,000 cases: at 1,000 draws its min bulk ESS
    # ranged 381-707 over seeds 3-5 and R-hat reached 1.011 (the log density the same to
    # 1e-12 before and after the engine's lean graph; the chains differ by rounding)
    draws = 2000 if name == "varying_slopes" else 1000
    engine = fit(small_cases, name, draws=draws, tune=1000, chains=4, random_seed=3)
    # converged enough to compare means by their Monte Carlo errors (which the ESS sets)
    verdict = json.loads(engine.attrs["returnmodels_verdict"])
    assert verdict["r_hat_max"] <= 1.01 and verdict["divergences"] == 0, verdict
    assert verdict["ess_bulk_min"] >= 400 and verdict["ess_tail_min"] >= 300, verdict
    # the reference: the PyMC model written out, non-centred throughout as brms writes it.
    # Its own centring rule (centred wherever a nationality's data give an SD <= 0.5)
    # centres levels here whose SD is above the nationality SD (about 0.31): a funnel
    # with divergences (56 at target_accept 0.95) and an SD biased upwards by 3-4 MC SEs
    monkeypatch.setattr(linear, "CENTRING_INFORMATION", np.inf)
    model, _, _ = build_model(small_cases, name)
    assert "nationality_intercept" not in model.named_vars
    compiled = compile_for_nutpie(model)
    pymc = nutpie.sample(
        compiled, draws=1000, tune=1000, chains=4, seed=4, target_accept=0.9,
        progress_bar=False,
    )  # fmt: skip
    assert int(pymc["sample_stats"]["diverging"].sum()) == 0
    names = ["Intercept", "n_procedures", "cooperation", "nationality_sigma", "family"]
    if name == "varying_slopes":
        names += ["nationality_n_procedures_sigma", "nationality_corr"]
    for var in names:
        a = engine["posterior"][var]
        b = pymc["posterior"][var]
        # the difference of two independent estimates, within 4 of its Monte Carlo SEs
        se = np.sqrt(az.mcse(a) ** 2 + az.mcse(b) ** 2).values.ravel()
        diff = (a.mean(("chain", "draw")) - b.mean(("chain", "draw"))).values.ravel()
        assert np.all(np.abs(diff) <= 4 * se + 1e-3), (var, diff, se)

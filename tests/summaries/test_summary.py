"""``rm.summary``: one fit at a glance, formula or registered model, read from the draws
and the result's attributes alone; the verdict's one-line print; odds ratios of formula
fits; a formula given in the model's place."""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import pytest
import xarray as xr

import returnmodels as rm
from fakes import PASSED, fake_fit, fake_formula_rows
from returnmodels.data.vocabulary import NONREFERENCE_OUTCOMES
from returnmodels.engine.design import build_formula_design
from returnmodels.errors import ConfigError
from returnmodels.inference.diagnostics import Verdict
from returnmodels.models.presets import PRESETS

FORMULA = "y ~ x * coop + I(x >= 3) + (1 + x | g)"
FAILED = PASSED | {
    "passed": False,
    "r_hat_max": 1.137,
    "ess_bulk_min": 12.4,
    "failures": ["R-hat 1.137 > 1.01 (g_sigma)", "bulk ESS 12 < 400 (g_sigma)"],
    "advice": ["R-hat/ESS (g_sigma): run longer (draws and tune 2000)"],
}


def _draws(rng, mean, sd, *shape):
    return rng.normal(mean, sd, (2, 50, *shape))


@pytest.fixture(scope="module")
def formula_fit():
    """A fake fit of FORMULA (a correlated block, an interaction, a transform): 2 chains
    x 50 draws of known values, with the attributes a formula fit carries."""
    rng = np.random.default_rng(4)
    rows = fake_formula_rows(rng, 600)
    design = build_formula_design(rows, FORMULA, reference={"coop": "low"})
    sample = ("chain", "draw")
    levels = list(design.blocks[0].levels)
    posterior = xr.Dataset(
        {
            "Intercept": (sample, _draws(rng, -1.0, 0.1)),
            "x": (sample, _draws(rng, -0.5, 0.05)),
            "coop": ((*sample, "coop_level"), _draws(rng, 0.7, 0.1, 1)),
            "x:coop": ((*sample, "x:coop_level"), _draws(rng, 0.2, 0.1, 1)),
            "I(x >= 3)": (sample, _draws(rng, 0.1, 0.1)),
            "g_sigma": (sample, np.abs(_draws(rng, 0.5, 0.05))),
            "g_x_sigma": (sample, np.abs(_draws(rng, 0.2, 0.05))),
            "g_corr": (sample, np.tanh(_draws(rng, 0.3, 0.1))),
            "g_effect": ((*sample, "g"), _draws(rng, 0, 0.4, 8)),
            "g_x_effect": ((*sample, "g"), _draws(rng, 0, 0.2, 8)),
        },
        coords={"coop_level": ["high"], "x:coop_level": ["high"], "g": levels},
    )
    config = {
        "model": "formula",
        "formula": FORMULA,
        "reference": design.references,
        "priors": design.priors | {"g_sigma": {"dist": "HalfNormal", "sigma": 0.5}},
        "sampling": {"draws": 50, "tune": 50, "chains": 2, "random_seed": 3,
                     "target_accept": 0.9, "adaptation": "auto", "sampler": "nutpie"},
    }  # fmt: skip
    tree = xr.DataTree.from_dict({"posterior": posterior})
    tree.attrs |= {
        "returnmodels_model": "formula",
        "returnmodels_config": json.dumps(config),
        "returnmodels_design": json.dumps(design.describe()),
        "returnmodels_sampler": json.dumps({"sampler": "nutpie", "adaptation": "low_rank"}),
        "returnmodels_verdict": json.dumps(PASSED),
    }
    return tree


def _flat(tree, name, k=0):
    values = tree["posterior"][name].values
    return values.reshape(2, 50, -1)[:, :, k].ravel()


def test_coefficients_are_the_draws_summarised_with_odds_ratios(formula_fit):
    table = rm.summary(formula_fit).coefficients
    assert list(table.term) == ["Intercept", "x", "coop[high]", "x:coop[high]", "I(x >= 3)"]
    for term, name in [("x", "x"), ("coop[high]", "coop"), ("x:coop[high]", "x:coop")]:
        row = table.set_index("term").loc[term]
        draws = _flat(formula_fit, name)
        lower, upper = az.hdi(draws, prob=0.94)
        assert row["mean"] == pytest.approx(draws.mean())
        assert row["sd"] == pytest.approx(draws.std(ddof=1))
        assert (row["hdi_lower"], row["hdi_upper"]) == pytest.approx((lower, upper))
        assert row["odds_ratio"] == pytest.approx(np.exp(draws.mean()))
        assert row["or_hdi_lower"] == pytest.approx(np.exp(lower))
        assert row["or_hdi_upper"] == pytest.approx(np.exp(upper))
        assert 0.9 < row["r_hat"] < 1.1 and row["ess_bulk"] > 20
    intercept = table.set_index("term").loc["Intercept"]
    assert np.isnan(intercept["odds_ratio"])  # a baseline, not a ratio
    assert intercept["mean"] == pytest.approx(_flat(formula_fit, "Intercept").mean())


def test_group_sds_and_correlations_are_their_own_tables(formula_fit):
    result = rm.summary(formula_fit)
    sds = result.sds
    assert list(zip(sds.group, sds.term, sds.levels, strict=True)) == [
        ("g", "Intercept", 8),
        ("g", "x", 8),
    ]
    assert sds["mean"].tolist() == pytest.approx(
        [_flat(formula_fit, "g_sigma").mean(), _flat(formula_fit, "g_x_sigma").mean()]
    )
    (corr,) = result.correlations.itertuples()
    assert (corr.group, corr.terms) == ("g", "Intercept, x")
    assert corr.mean == pytest.approx(_flat(formula_fit, "g_corr").mean())
    assert "outcome" not in result.coefficients  # a binary family: no outcome column


def test_text_shows_model_priors_sampler_verdict_and_rounded_tables(formula_fit):
    text = str(rm.summary(formula_fit, digits=3))
    assert text == repr(rm.summary(formula_fit, digits=3))
    assert f"formula           {FORMULA}" in text
    assert "reference levels  coop = low" in text
    assert "g_sigma ~ HalfNormal(sigma=0.5)" in text  # the merged, recorded priors
    assert "corr ~ LKJ(eta=2)" in text
    assert "nutpie: 2 chains x 50 draws after 50 tuning steps" in text
    assert "adaptation low_rank" in text  # what auto chose, from returnmodels_sampler
    assert "target_accept 0.9" in text and "seed 3" in text
    assert "convergence       PASS: max R-hat 1.000, min bulk ESS 1000" in text
    mean = _flat(formula_fit, "x").mean()
    assert f"{mean:.3f}" in text and f"{mean:.6f}" not in text
    assert "Group SDs" in text and "Correlations" in text


def test_html_escapes_the_formula_and_holds_every_table(formula_fit):
    page = rm.summary(formula_fit)._repr_html_()
    assert "I(x &gt;= 3)" in page and "x >= 3" not in page
    assert page.count("<table") == 4  # the header, coefficients, SDs, correlations


def test_a_failing_verdict_shows_its_figures_what_failed_and_what_to_try(formula_fit):
    failing = formula_fit.copy()
    failing.attrs = dict(formula_fit.attrs) | {"returnmodels_verdict": json.dumps(FAILED)}
    text = str(rm.summary(failing))
    assert "FAIL: max R-hat 1.137, min bulk ESS 12" in text
    assert "failed: R-hat 1.137 > 1.01 (g_sigma); bulk ESS 12 < 400 (g_sigma)" in text
    assert "what to try       R-hat/ESS (g_sigma): run longer" in text


def test_a_registered_fit_shows_its_name_formula_and_references():
    tree = fake_fit({"AAA": 40, "BBB": 60, "CCC": 80})
    result = rm.summary(tree)
    assert result.model == "varying_intercepts"
    assert result.formula == "assisted ~ n_procedures + (1 | nationality)"
    assert result.coefficients.term.tolist() == ["Intercept", "n_procedures"]
    slope = result.coefficients.set_index("term").loc["n_procedures"]
    draws = tree["posterior"]["n_procedures"].values.ravel()
    assert slope["odds_ratio"] == pytest.approx(np.exp(draws.mean()))
    assert result.sds[["group", "levels", "term"]].values.tolist() == [
        ["nationality", 3, "Intercept"]
    ]
    assert result.correlations.empty
    text = str(result)
    assert text.startswith("returnmodels fit of registered model varying_intercepts")
    assert "Correlations" not in text  # an empty table is left out


def test_competing_outcomes_summarise_each_outcome_against_the_reference(formula_fit):
    """A competing-outcomes formula fit: stage 1 and each non-reference outcome's
    ``competing_`` coefficients, picked by outcome."""
    rng = np.random.default_rng(9)
    sample, lead = ("chain", "draw"), "nonreference_outcome"
    k = len(NONREFERENCE_OUTCOMES)
    stage2 = np.arange(k) + rng.normal(0, 0.01, (2, 50, k))
    posterior = xr.Dataset(
        {
            "Intercept": (sample, _draws(rng, -1, 0.1)),
            "x": (sample, _draws(rng, -0.5, 0.1)),
            "g_sigma": (sample, np.abs(_draws(rng, 0.5, 0.1))),
            "competing_Intercept": ((*sample, lead), _draws(rng, 0, 0.1, k)),
            "competing_x": ((*sample, lead), stage2),
            "competing_g_sigma": ((*sample, lead), np.abs(_draws(rng, 0.3, 0.05, k))),
        },
        coords={lead: list(NONREFERENCE_OUTCOMES)},
    )
    described = {
        "formula": "outcome ~ x + (1 | g)",
        "family": "competing_outcomes",
        "common": [
            {"name": "Intercept", "labels": ["Intercept"], "group_level_of": None},
            {"name": "x", "labels": ["x"], "group_level_of": None},
        ],
        "groups": [{"factor": "g", "columns": ["Intercept"], "n_levels": 5}],
        "references": {},
    }
    tree = xr.DataTree.from_dict({"posterior": posterior})
    tree.attrs = dict(formula_fit.attrs) | {
        "returnmodels_design": json.dumps(described),
        "returnmodels_config": json.dumps({"formula": described["formula"], "priors": {}}),
    }
    result = rm.summary(tree)
    slopes = result.coefficients[result.coefficients.term == "x"]
    assert slopes.outcome.tolist() == ["assisted_return", *NONREFERENCE_OUTCOMES]
    assert slopes["mean"].iloc[1:].to_numpy() == pytest.approx(np.arange(k), abs=0.01)
    assert result.sds.outcome.tolist() == ["assisted_return", *NONREFERENCE_OUTCOMES]
    assert "multinomial logit" in result.family
    ratios = rm.odds_ratios(tree)
    assert ratios.outcome.tolist() == ["assisted", *NONREFERENCE_OUTCOMES]
    assert ratios.vs_outcome.iloc[1:].eq("unsupervised_departure").all()


def test_odds_ratios_of_a_formula_fit(formula_fit):
    table = rm.odds_ratios(formula_fit).set_index("term")
    assert list(table.index) == ["x", "coop[high]", "x:coop[high]", "I(x >= 3)"]
    ratio = np.exp(_flat(formula_fit, "coop"))
    assert table.loc["coop[high]", "odds_ratio"] == pytest.approx(ratio.mean())
    assert table.loc["coop[high]", "p_above_1"] == pytest.approx(np.mean(ratio > 1))
    assert table.loc["coop[high]", "compared_with"] == "vs low"
    assert table.loc["x", "compared_with"] == "per unit"


def test_a_result_without_attributes_is_refused():
    with pytest.raises(ConfigError, match="not a returnmodels result"):
        rm.summary(xr.DataTree.from_dict({"posterior": xr.Dataset()}))


# -- the verdict prints as one line ------------------------------------------------------


def test_verdict_prints_one_line_with_its_figures_and_keeps_its_label():
    passing = Verdict.from_dict(PASSED | {"r_hat_max": 1.004, "ess_bulk_min": 812.3})
    assert passing.label == "PASS"
    assert str(passing) == repr(passing) == f"convergence {passing.line}"
    assert passing.line == (
        "PASS: max R-hat 1.004, min bulk ESS 812, min tail ESS 1000, 0 divergences, min E-BFMI 1.00"
    )
    failing = Verdict.from_dict(FAILED | {"unknown_key": 1})  # newer keys are ignored
    assert failing.label == "FAIL" and "\n" not in str(failing)
    assert failing.line.startswith("FAIL: max R-hat 1.137, min bulk ESS 12")
    assert failing.line.endswith(
        "failed: R-hat 1.137 > 1.01 (g_sigma); bulk ESS 12 < 400 (g_sigma)"
    )
    old = {k: v for k, v in PASSED.items() if k not in ("thresholds", "advice")}
    assert Verdict.from_dict(old).advice == []  # an older result's verdict


# -- a formula in the model's place ----------------------------------------------------


def test_a_positional_formula_is_fitted_as_a_formula():
    """It reaches the formula's checks (unknown column), not the model registry."""
    cases = rm.simulate_cases(n_cases=500, random_seed=1).cases
    with pytest.raises(ConfigError, match="unknown column 'n_procedure'"):
        rm.fit(cases, "assisted ~ n_procedure + (1 | nationality)")
    with pytest.raises(ConfigError, match="two formulas given"):
        rm.fit(cases, "assisted ~ n_procedures", formula="assisted ~ gender")
    with pytest.raises(ConfigError, match="unknown model 'pooledd'"):
        rm.fit(cases, "pooledd")


# -- a real fit, formula and registered --------------------------------------------------


@pytest.mark.sampling
def test_summary_of_tiny_fits_formula_and_preset():
    cases = rm.simulate_cases(n_cases=3000, random_seed=7).cases
    tiny = {"draws": 100, "tune": 100, "chains": 2, "progressbar": False}
    formula = "assisted ~ n_procedures * cooperation + (1 | nationality) + (1 | closing_year)"
    fitted = rm.fit(cases, formula, reference={"cooperation": "low"}, **tiny)
    result = rm.summary(fitted)
    assert result.formula == formula and result.references == {"cooperation": "low"}
    assert result.coefficients.term.tolist() == [
        "Intercept",
        "n_procedures",
        "cooperation[medium]",  # levels in their natural order, the reference left out
        "cooperation[high]",
        "n_procedures:cooperation[medium]",
        "n_procedures:cooperation[high]",
    ]
    assert result.sds.group.tolist() == ["nationality", "closing_year"]
    assert result.verdict.line == rm.check_convergence(fitted).line
    estimates = ["mean", "sd", "hdi_lower", "hdi_upper", "r_hat", "ess_bulk", "ess_tail"]
    assert result.coefficients[estimates].notna().all(axis=None)
    ratios = rm.odds_ratios(fitted)  # formula fits too
    assert set(ratios.term) == set(result.coefficients.term) - {"Intercept"}
    preset = rm.summary(rm.fit(cases, "group_predictors", **tiny))
    assert preset.model == "group_predictors"
    assert preset.formula == PRESETS["group_predictors"].formula
    assert "cooperation[high]" in set(preset.coefficients.term)
    assert preset.sds.group.tolist() == ["nationality"]

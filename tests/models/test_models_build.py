"""Builders, registry, priors and designs: no sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import CBPP
from returnmodels.errors import ConfigError
from returnmodels.inference.fit import build_model
from returnmodels.models import CASE_FILE_SPEC, build_design, column_spec
from returnmodels.models.priors import merge_priors
from returnmodels.models.registry import MODELS, list_models

PUBLIC_NAMES = [
    "pooled",
    "varying_intercepts",
    "group_predictors",
    "varying_slopes",
    "competing_outcomes",
]


def test_registry_lists_the_public_names_with_one_line_each():
    assert [name for name, _ in list_models()] == PUBLIC_NAMES
    assert all(summary and "\n" not in summary for _, summary in list_models())
    for entry in MODELS.values():
        assert "Priors" in entry.doc and "math" in entry.doc


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_every_model_builds_with_named_dims(small_cases, name):
    model, design, priors = build_model(small_cases, name)
    assert model.coords["nationality"] == tuple(design.groups)
    assert "Intercept_centred" in model.named_vars and "Intercept" in model.named_vars
    assert model.named_vars_to_dims["gender"] == ("gender_level",)
    assert "n_procedures" in model.named_vars
    assert set(model.coords["gender_level"]) == {"female", "unknown"}  # male is the reference
    assert model.named_vars_to_dims["assisted"] == ("cell",)
    if name != "pooled":
        assert model.named_vars_to_dims["nationality_effect"] == ("nationality",)
        assert "nationality_sigma" in model.named_vars
    if name in ("group_predictors", "varying_slopes", "competing_outcomes"):
        assert model.named_vars_to_dims["cooperation"] == ("cooperation_level",)
        assert tuple(model.coords["cooperation_level"]) == ("medium", "high")
    if name == "varying_slopes":
        assert {"nationality_corr", "nationality_n_procedures_sigma"} <= set(model.named_vars)
    if name == "competing_outcomes":
        assert model.named_vars_to_dims["competing"] == ("cell", "competing_outcome")
        assert model.named_vars_to_dims["competing_nationality_effect"] == (
            "nationality",
            "nonreference_outcome",
        )
    if name in ("varying_intercepts", "group_predictors", "varying_slopes", "competing_outcomes"):
        # every group sampled once, centred or not (tests/models/test_parameterisation.py)
        for p in ("", "competing_") if name == "competing_outcomes" else ("",):
            split = [model.coords.get(f"{p}nationality_{k}", ()) for k in ("centred", "noncentred")]
            assert sorted(split[0] + split[1]) == sorted(design.groups)
            assert split[0] and split[1]


def test_priors_merge_user_over_defaults_and_refuse_unknown_names():
    defaults = MODELS["group_predictors"].default_priors
    merged = merge_priors(defaults, {"group_sigma": {"sigma": 0.5}})
    assert merged["group_sigma"] == {"dist": "HalfNormal", "sigma": 0.5}
    assert merged["intercept"] == defaults["intercept"]
    with pytest.raises(ConfigError, match="group_predictors|this model's priors are"):
        merge_priors(defaults, {"nationality_sd": {"sigma": 1}})
    with pytest.raises(ConfigError, match="positive"):
        merge_priors(defaults, {"group_sigma": {"dist": "Normal", "mu": 0, "sigma": 1}})
    with pytest.raises(ConfigError, match="takes parameters"):
        merge_priors(defaults, {"intercept": {"scale": 1}})


def test_column_spec_defaults_and_generic_rules():
    assert column_spec() == CASE_FILE_SPEC
    spec = column_spec(successes="incidence", trials="size", group="herd")
    assert spec.predictors == () and spec.group_predictors == ()
    with pytest.raises(ConfigError, match="group"):
        column_spec(outcome="y")
    with pytest.raises(ConfigError, match="both successes and trials"):
        column_spec(successes="s", group="g")


def test_cbpp_design_names_levels_after_the_columns(cbpp_spec):
    design = build_design(pd.read_csv(CBPP), cbpp_spec)
    assert design.groups == tuple(str(i) for i in range(1, 16))
    assert design.term("period").reference == "1"
    assert design.coords()["period_level"] == ["2", "3", "4"]
    assert len(design.cells) == 56 and design.trials.sum() == 842


def test_group_predictor_must_be_constant_within_group(cbpp_spec):
    from dataclasses import replace

    data = pd.read_csv(CBPP)
    with pytest.raises(ConfigError, match="not constant within 'herd'"):
        build_design(data, replace(cbpp_spec, predictors=(), group_predictors=("period",)))
    data["region"] = np.where(data["herd"] <= 7, "north", "south")
    design = build_design(data, replace(cbpp_spec, group_predictors=("region",)))
    assert list(design.group_table["region"][:2]) == ["north", "north"]


def test_cells_and_rows_have_the_same_likelihood(small_cases):
    """Binomial cells vs one Bernoulli row per case: the log-likelihoods differ by a
    constant (the binomial coefficients) at every parameter value."""
    rows = small_cases.assign(
        y=(small_cases["outcome"] == "assisted_return"), row=np.arange(len(small_cases))
    )
    spec = column_spec(
        outcome="y",
        group="nationality",
        predictors=["n_procedures", "gender", "row"],
        numeric=["n_procedures", "row"],
    )
    cells_spec = column_spec(
        outcome="y",
        group="nationality",
        predictors=["n_procedures", "gender"],
        numeric=["n_procedures"],
    )
    row_model, row_design, _ = build_model(
        rows, "varying_intercepts", columns=spec, priors={"coefficients": {"sigma": 2.5}}
    )
    cell_model, cell_design, _ = build_model(rows, "varying_intercepts", columns=cells_spec)
    assert len(row_design.cells) == len(rows) > len(cell_design.cells)
    row_logp = row_model.compile_logp(vars=[row_model["y"]])
    cell_logp = cell_model.compile_logp(vars=[cell_model["y"]])
    rng = np.random.default_rng(0)
    differences = []
    for _ in range(3):
        point = cell_model.initial_point()
        point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in point.items()}
        row_point = row_model.initial_point() | point | {"row": np.zeros(())}
        differences.append(row_logp(row_point) - cell_logp(point))
    assert np.ptp(differences) < 1e-6


def test_unknown_model_is_refused_with_the_list(small_cases):
    with pytest.raises(ConfigError, match="choose one of"):
        build_model(small_cases, "random_forest")


def test_likelihoods_are_the_exact_log_pmfs(small_cases):
    """The binomial and multinomial likelihoods, with their coefficients precomputed as
    data, are scipy's log pmf at the observed counts (normalising constants included)."""
    import pymc as pm
    import pytensor.tensor as pt
    from scipy import stats

    from returnmodels.models._common import binomial_likelihood, multinomial_likelihood

    design = build_design(small_cases, CASE_FILE_SPEC)
    rng = np.random.default_rng(3)
    eta = rng.normal(-1.0, 1.0, len(design.cells))
    counts = rng.multinomial(12, [0.5, 0.3, 0.2], size=len(design.cells))
    logits = rng.normal(0.0, 1.0, counts.shape)
    with pm.Model(coords=design.coords() | {"k": ["a", "b", "c"]}) as model:
        binomial_likelihood(design, pt.as_tensor(eta))
        multinomial_likelihood("counts", counts, pt.as_tensor(logits), dims=("cell", "k"))
    binomial, multinomial = model.compile_logp(vars=model.observed_RVs, sum=False)({})
    n, k = design.trials, design.successes
    np.testing.assert_allclose(binomial, stats.binom.logpmf(k, n, 1 / (1 + np.exp(-eta))))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(multinomial, stats.multinomial.logpmf(counts, 12, p))

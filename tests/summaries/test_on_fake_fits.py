"""Summaries on fake fits (no sampler): each number recomputed by hand from the draws."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

import returnmodels as rm
from fakes import fake_fit
from returnmodels.engine.design import FormulaDesign

SIZES = {"AAA": 40, "IRQ": 300, "NGA": 500}


@pytest.fixture(scope="module")
def fit():
    return fake_fit(SIZES, random_seed=3)


def _draws(fit, name):
    return fit["posterior"][name].stack(sample=("chain", "draw")).transpose("sample", ...).values


def test_a_margin_is_the_case_weighted_mean_of_predicted_probabilities(fit):
    design = FormulaDesign.from_result(fit)
    b0, b = _draws(fit, "Intercept"), _draws(fit, "n_procedures")
    u = _draws(fit, "nationality_effect")
    centre = design.centres["n_procedures"]
    index, trials = design.blocks[0].index, design.trials
    eta = b0[:, None] + b[:, None] * (3 - centre) + u[:, index]
    expected = (expit(eta) * trials).sum(axis=1) / trials.sum()
    table = rm.margins(fit, {"n_procedures": [3]})
    # computed in single precision: within 1e-6 of a share, never more
    assert table["mean"].iloc[0] == pytest.approx(expected.mean(), abs=1e-6)


def test_group_effects_report_each_groups_own_draws(fit):
    effects = rm.group_effects(fit).set_index("nationality")
    u = _draws(fit, "nationality_effect")
    for j, group in enumerate(sorted(SIZES)):
        assert effects.loc[group, "effect_mean"] == pytest.approx(u[:, j].mean())
        assert effects.loc[group, "n"] == SIZES[group]
        assert effects.loc[group, "raw_share"] == pytest.approx(0.3)


def test_contrast_of_two_groups_is_the_difference_of_their_shares(fit):
    table = rm.contrast(fit, "NGA", "IRQ")
    assert table.shape[0] >= 1
    assert np.isfinite(table.select_dtypes("number").to_numpy()).all()


def test_prediction_for_a_new_group_is_explicit(fit):
    population = rm.predict_new_group(fit, new_groups="population")
    sampled = rm.predict_new_group(fit, new_groups="sample")
    assert population.shape == sampled.shape
    with pytest.raises(rm.ConfigError, match="new_groups"):
        rm.predict_new_group(fit, new_groups="guess")

"""CALIBRATION.md, checked by fitting: the cooperation model on the bundled data."""

from __future__ import annotations

import pytest

from returnmodels.inference.diagnostics import verdict_of
from returnmodels.summaries import group_effects, margins

pytestmark = pytest.mark.slow

TARGETS = {
    ("n_procedures", "1"): 0.19,
    ("n_procedures", "3"): 0.09,
    ("n_procedures", "6"): 0.02,
    ("cooperation", "high"): 0.11,
    ("cooperation", "low"): 0.05,
}
TOLERANCE = 0.015


def test_bundled_fit_passes_the_gate(bundled_fit):
    verdict = verdict_of(bundled_fit)
    assert verdict["passed"], verdict["failures"]


@pytest.fixture(scope="module")
def calibration_margins(bundled_fit):
    return margins(bundled_fit, {"n_procedures": [1, 3, 6], "cooperation": ["low", "high"]})


@pytest.mark.parametrize(("predictor", "value"), list(TARGETS))
def test_margin_within_tolerance(calibration_margins, predictor, value):
    row = calibration_margins.set_index(["predictor", "value"]).loc[(predictor, value)]
    target = TARGETS[(predictor, value)]
    assert abs(row["mean"] - target) <= TOLERANCE, (
        f"margin {predictor}={value}: posterior mean {row['mean']:.4f} "
        f"(94% HDI {row['hdi_lower']:.4f}-{row['hdi_upper']:.4f}), target {target} +/- {TOLERANCE}"
    )


def test_nigeria_below_iraq(bundled_fit):
    effects = group_effects(bundled_fit).set_index("nationality")
    assert effects.loc["NGA", "raw_share"] < effects.loc["IRQ", "raw_share"]
    assert effects.loc["NGA", "share_hdi_upper"] < effects.loc["IRQ", "share_hdi_lower"]


STUDY_WITH_PERSONS = "assisted ~ n_procedures + cooperation + (1 | nationality) + (1 | person_id)"


@pytest.fixture(scope="module")
def person_fit():
    """The study model with the person effect integrated out, on the bundled data,
    at the defaults (4 x 1000 + 1000)."""
    from conftest import BUNDLED, SEED
    from returnmodels.inference.fit import fit

    return fit(BUNDLED, formula=STUDY_WITH_PERSONS, random_seed=SEED)


def test_the_study_model_with_persons_passes_the_gate_and_finds_the_persons(person_fit):
    """The bundled persons differ (truth: person SD 1.0): the fit converges, and its
    person SD is near the truth (a little above it: the predictors the study model
    leaves out, year, gender, age and family, differ between persons too)."""
    verdict = verdict_of(person_fit)
    assert verdict["passed"], verdict["failures"]
    sd = person_fit["posterior"]["person_id_sigma"].values.ravel()
    assert 0.85 < sd.mean() < 1.3, sd.mean()
    assert "person_id_effect" not in person_fit["posterior"]


@pytest.mark.parametrize(("predictor", "value"), list(TARGETS))
def test_person_model_margins_averaged_over_persons_meet_the_targets(person_fit, predictor, value):
    """Averaged over the fitted distribution of persons, the person model's margins are
    the published shares of cases; for a typical person (effect 0) they are not the
    same numbers (lower where the share is under one half)."""
    settings = {"n_procedures": [1, 3, 6], "cooperation": ["low", "high"]}
    averaged = margins(person_fit, settings).set_index(["predictor", "value"])
    typical = margins(person_fit, settings, persons="typical").set_index(["predictor", "value"])
    row = averaged.loc[(predictor, value)]
    target = TARGETS[(predictor, value)]
    assert abs(row["mean"] - target) <= TOLERANCE, (predictor, value, row["mean"], target)
    assert typical.loc[(predictor, value), "mean"] < row["mean"]

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

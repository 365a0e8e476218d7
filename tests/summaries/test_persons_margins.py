"""Margins of a fit with the person effect integrated out say what they average over:
population-averaged shares by default (each case's probability averaged over the
fitted persons), a typical person's on request."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit

import returnmodels as rm
from returnmodels.simulate.truth import logistic_normal_mean


@pytest.fixture(scope="module")
def person_fit():
    cases = rm.simulate_cases(n_cases=3000, random_seed=4, person_sigma=1.2).cases
    return rm.fit(
        cases,
        formula="assisted ~ n_procedures + (1 | person_id)",
        draws=100,
        tune=150,
        chains=2,
        random_seed=2,
        progressbar=False,
    )


@pytest.mark.sampling
def test_margins_average_over_persons_unless_asked_for_a_typical_one(person_fit):
    """One term beside the person: every case set to n_procedures = v has the same
    linear predictor a + b (v - centre), so the margin per draw is the logistic-normal
    mean of it at that draw's person SD (averaged), or its inverse logit (typical)."""
    design = json.loads(person_fit.attrs["returnmodels_design"])
    assert design["integrated"]["factor"] == "person_id"
    posterior = person_fit["posterior"].to_dataset().stack(sample=("chain", "draw"))
    a, b = posterior["Intercept"].values, posterior["n_procedures"].values
    tau = posterior["person_id_sigma"].values
    centre = design["centres"]["n_procedures"]
    averaged = rm.margins(person_fit, {"n_procedures": [1, 3, 6]}).set_index("value")
    typical = rm.margins(person_fit, {"n_procedures": [1, 3, 6]}, persons="typical")
    typical = typical.set_index("value")
    for v in (1, 3, 6):
        eta = a + b * (v - centre)
        pairs = zip(eta, tau, strict=True)
        by_hand = np.mean([logistic_normal_mean(np.array([e]), t)[0] for e, t in pairs])
        assert averaged.loc[str(v), "mean"] == pytest.approx(by_hand, abs=1e-5)
        assert typical.loc[str(v), "mean"] == pytest.approx(expit(eta).mean(), abs=1e-6)
        # below one half, averaging over persons pulls a share towards one half
        assert typical.loc[str(v), "mean"] < averaged.loc[str(v), "mean"] < 0.5
    with pytest.raises(rm.ConfigError, match="persons must be one of"):
        rm.margins(person_fit, {"n_procedures": [1]}, persons="median")


@pytest.mark.sampling
def test_grids_and_comparisons_average_over_persons_too(person_fit):
    flat = rm.margins(person_fit, {"n_procedures": [1, 3]}).set_index("value")["mean"]
    grid = rm.margins(person_fit, {"n_procedures": [1, 3]}, grid=True)
    assert grid["mean"].to_numpy() == pytest.approx(flat.to_numpy(), abs=1e-5)
    difference = rm.comparisons(person_fit, "n_procedures", [1, 3]).set_index("measure")
    assert difference.loc["difference", "mean"] == pytest.approx(flat["3"] - flat["1"], abs=1e-5)

"""What the binary builders share: default priors, the model shell and the likelihood."""

from __future__ import annotations

import pymc as pm

from returnmodels.models.data import CELL_DIM, Design

__all__ = ["BINARY_PRIORS", "binomial_likelihood", "new_model"]

#: Defaults of every binary model (weakly informative on the logit scale).
BINARY_PRIORS: dict[str, dict] = {
    "intercept": {"dist": "Normal", "mu": 0.0, "sigma": 2.5},
    "coefficients": {"dist": "Normal", "mu": 0.0, "sigma": 2.5},
    "group_sigma": {"dist": "HalfNormal", "sigma": 1.0},
    "group_coefficients": {"dist": "Normal", "mu": 0.0, "sigma": 2.5},
}


def new_model(design: Design, extra_coords: dict | None = None) -> pm.Model:
    """An empty model with the design's coords (and ``extra_coords``)."""
    return pm.Model(coords=design.coords() | (extra_coords or {}))


def binomial_likelihood(design: Design, eta) -> None:
    """successes_c ~ Binomial(trials_c, logit^-1(eta_c)), named after the response."""
    pm.Binomial(
        design.spec.response,
        n=design.trials,
        logit_p=eta,
        observed=design.successes,
        dims=CELL_DIM,
    )

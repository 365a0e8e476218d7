"""The known generative model behind the synthetic case files.

Two stages, so that every model family has an exact truth to recover:

1. **Uptake** (the binary models' form). For case :math:`i` of nationality :math:`j`

   .. math::

       \\Pr(\\text{assisted}_i) = \\operatorname{logit}^{-1}\\big(
           \\alpha + \\beta_{\\text{proc}} (\\text{n\\_procedures}_i - 1)
           + \\beta_{\\text{year}[i]} + \\beta_{\\text{gender}[i]}
           + \\beta_{\\text{age}[i]} + \\beta_{\\text{family}}\\,\\text{family}_i
           + \\gamma_{\\text{coop}[j]} + \\sigma z_j\\big),
       \\qquad z_j \\sim \\mathcal N(0, 1).

   Cooperation enters at the nationality level (constant within a nationality), so
   :math:`\\gamma_{\\text{coop}[j]} + \\sigma z_j` is nationality :math:`j`'s intercept.

   Optionally a **person frailty** :math:`\\tau v_p`, :math:`v_p \\sim \\mathcal N(0, 1)`, is
   added for every case of person :math:`p` (``person_sigma`` :math:`= \\tau`, 0 by
   default): the cases of one person then share their propensity. The coefficients
   above are conditional on the person; the *population-averaged* probability of a case,
   what a share of cases estimates and what the calibration matches to the published
   figures, is the logistic-normal mean
   :math:`\\int \\operatorname{logit}^{-1}(\\eta + \\tau v)\\,\\phi(v)\\,dv`
   (:func:`logistic_normal_mean`).

2. **Competing outcomes** of the cases that did not take assisted return: a
   multinomial logit over the five other outcomes with ``unsupervised_departure`` as
   reference (all its effects zero); each other outcome :math:`k` has a linear
   predictor of the same form with its own coefficients and nationality effects
   :math:`\\sigma_k z_{jk}`.

Effects of categorical predictors are stored for every level, with zero at the
reference level (``closing_year`` 2017, ``gender`` male, ``age_group`` 18-29,
``cooperation`` low), so any other coding can be derived by differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit, softmax

from returnmodels.data.vocabulary import COMPETING_OUTCOMES, REFERENCE_OUTCOME

__all__ = [
    "COMPETING_OUTCOMES",
    "REFERENCE_OUTCOME",
    "LogitEffects",
    "SimulatedCases",
    "TrueParameters",
    "logistic_normal_mean",
]


_CATEGORICAL = ("closing_year", "gender", "age_group", "cooperation")
#: Gauss-Hermite nodes of the logistic-normal mean: error below 1e-5 for a person SD
#: up to 2 (against adaptive quadrature; far smaller at the SDs of persons, about 1).
_HERMITE_NODES = 20


def logistic_normal_mean(eta: np.ndarray, sigma: float) -> np.ndarray:
    """:math:`E[\\operatorname{logit}^{-1}(\\eta + \\sigma v)]`, :math:`v \\sim N(0, 1)`, by
    Gauss-Hermite quadrature (:math:`\\sum_k w_k \\operatorname{logit}^{-1}(\\eta +
    \\sqrt{2}\\sigma x_k)/\\sqrt{\\pi}`); the inverse logit itself when ``sigma`` is 0."""
    eta = np.asarray(eta, dtype=float)
    if sigma == 0:
        return expit(eta)
    nodes, weights = np.polynomial.hermite.hermgauss(_HERMITE_NODES)
    out = np.zeros_like(eta)
    for node, weight in zip(nodes, weights, strict=True):
        out += weight * expit(eta + np.sqrt(2.0) * sigma * node)
    return out / np.sqrt(np.pi)


@dataclass
class LogitEffects:
    """Coefficients of one logit linear predictor (see the module docstring)."""

    intercept: float
    n_procedures: float
    family: float
    closing_year: dict[int, float]
    gender: dict[str, float]
    age_group: dict[str, float]
    cooperation: dict[str, float]
    nationality_sigma: float
    nationality_offset: dict[str, float] = field(default_factory=dict)
    #: SD of the person frailty on the logit scale (uptake only; 0: none).
    person_sigma: float = 0.0

    def nationality_effect(self) -> dict[str, float]:
        """``sigma * z_j``: nationality j's deviation from its cooperation level."""
        return {code: self.nationality_sigma * z for code, z in self.nationality_offset.items()}

    def linear_predictor(self, cases: pd.DataFrame) -> np.ndarray:
        """The logit of each case, from the case columns of the contract."""
        eta = (
            self.intercept
            + self.n_procedures * (cases["n_procedures"].to_numpy(float) - 1.0)
            + self.family * cases["family"].to_numpy(float)
        )
        for column in _CATEGORICAL:
            eta = eta + _lookup(cases[column], getattr(self, column), column)
        return eta + _lookup(cases["nationality"], self.nationality_effect(), "nationality")

    def to_dict(self) -> dict:
        return {
            "intercept": self.intercept,
            "n_procedures": self.n_procedures,
            "family": self.family,
            "closing_year": {str(k): v for k, v in self.closing_year.items()},
            "gender": dict(self.gender),
            "age_group": dict(self.age_group),
            "cooperation": dict(self.cooperation),
            "nationality_sigma": self.nationality_sigma,
            "nationality_offset": dict(self.nationality_offset),
            "nationality_effect": self.nationality_effect(),
        } | ({"person_sigma": self.person_sigma} if self.person_sigma else {})

    @classmethod
    def from_dict(cls, data: dict) -> LogitEffects:
        fields = {k: v for k, v in data.items() if k != "nationality_effect"}
        fields["closing_year"] = {int(k): v for k, v in data["closing_year"].items()}
        return cls(**fields)


@dataclass
class TrueParameters:
    """Both stages of the generative model."""

    uptake: LogitEffects
    competing: dict[str, LogitEffects]

    def uptake_probability(
        self, cases: pd.DataFrame, frailty: np.ndarray | None = None
    ) -> np.ndarray:
        """True Pr(assisted_return) of each case: population-averaged over the person
        frailty (:func:`logistic_normal_mean`), or for persons of standard-normal
        ``frailty`` (one value per case, the person's :math:`v_p`) conditional on it."""
        eta = self.uptake.linear_predictor(cases)
        if frailty is None:
            return logistic_normal_mean(eta, self.uptake.person_sigma)
        return expit(eta + self.uptake.person_sigma * np.asarray(frailty, dtype=float))

    def competing_probabilities(self, cases: pd.DataFrame) -> np.ndarray:
        """True Pr(outcome | not assisted), shape (cases, 5), columns COMPETING_OUTCOMES."""
        eta = np.column_stack(
            [
                np.zeros(len(cases))
                if outcome == REFERENCE_OUTCOME
                else self.competing[outcome].linear_predictor(cases)
                for outcome in COMPETING_OUTCOMES
            ]
        )
        return softmax(eta, axis=1)

    def outcome_probabilities(self, cases: pd.DataFrame) -> np.ndarray:
        """True probability of each of the six outcomes, shape (cases, 6), schema order."""
        assisted = self.uptake_probability(cases)
        others = self.competing_probabilities(cases) * (1.0 - assisted)[:, None]
        return np.column_stack([assisted, others])

    def to_dict(self) -> dict:
        return {
            "uptake": self.uptake.to_dict(),
            "competing": {
                "reference": REFERENCE_OUTCOME,
                "outcomes": {k: v.to_dict() for k, v in self.competing.items()},
            },
        }

    @classmethod
    def from_dict(cls, data: dict) -> TrueParameters:
        return cls(
            uptake=LogitEffects.from_dict(data["uptake"]),
            competing={
                k: LogitEffects.from_dict(v) for k, v in data["competing"]["outcomes"].items()
            },
        )


def _lookup(values: pd.Series, effects: dict, column: str) -> np.ndarray:
    mapped = pd.Series(values.to_numpy(object)).map(effects)
    if mapped.isna().any():
        missing = sorted(set(values[mapped.isna().to_numpy()].astype(str)))[:5]
        raise KeyError(f"no true effect for {column} = {missing}")
    return mapped.to_numpy(float)


@dataclass
class SimulatedCases:
    """Synthetic case files and the parameters that generated them
    (:func:`returnmodels.simulate.simulate_cases`)."""

    cases: pd.DataFrame
    truth: TrueParameters
    seed: int

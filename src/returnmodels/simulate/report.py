"""The truth file that travels with synthetic data: parameters, targets, realised figures."""

from __future__ import annotations

import numpy as np

from returnmodels.data.case_summary import assisted as assisted_of
from returnmodels.data.vocabulary import OUTCOMES
from returnmodels.simulate import targets
from returnmodels.simulate.calibrate import uptake_figures
from returnmodels.simulate.truth import SimulatedCases

__all__ = ["truth_document", "MODEL_DESCRIPTION"]

MODEL_DESCRIPTION = (
    "Two stages. Stage 1 (uptake): assisted_return ~ Bernoulli(inv_logit(intercept "
    "+ n_procedures * (n_procedures - 1) + family * family + closing_year[year] "
    "+ gender[g] + age_group[a] + cooperation[coop_j] + nationality_sigma * "
    "nationality_offset[j])). Stage 2 (competing), for cases not ending in assisted "
    "return: outcome ~ Categorical(softmax(eta)) over the other five outcomes, with "
    "eta = 0 for the reference unsupervised_departure and, for every other outcome, a "
    "linear predictor of the same form with its own coefficients. Categorical effects "
    "are listed for every level, zero at the reference level."
)


def truth_document(simulation: SimulatedCases) -> dict:
    """A JSON-ready record of how ``simulation`` was generated and what it looks like."""
    cases = simulation.cases
    assisted = assisted_of(cases)
    by_nationality = assisted.groupby(cases["nationality"]).mean()
    shares = cases["outcome"].value_counts(normalize=True)
    document = {
        "generator": "returnmodels.simulate.simulate_cases",
        "seed": simulation.seed,
        "n_cases": len(cases),
        "model": MODEL_DESCRIPTION,
        "parameters": simulation.truth.to_dict(),
        "targets": {
            "procedure_margins": {str(k): v for k, v in targets.PROCEDURE_MARGINS.items()},
            "cooperation_margins": dict(targets.COOPERATION_MARGINS),
            "outcome_shares_by_year": {
                str(y): s for y, s in targets.outcome_shares_by_year().items()
            },
        },
        "expected_on_these_cases": uptake_figures(simulation.truth.uptake, cases),
        "observed": {
            "outcome_shares": {o: shares.get(o, 0.0) for o in OUTCOMES},
            "assisted_share_NGA": by_nationality.get("NGA", np.nan),
            "assisted_share_IRQ": by_nationality.get("IRQ", np.nan),
        },
    }
    return _rounded(document)


def _rounded(value, digits: int = 6):
    """Plain Python numbers rounded to ``digits`` (stable, diff-friendly JSON)."""
    if isinstance(value, dict):
        return {str(k): _rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v, digits) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else round(float(value), digits)
    return value

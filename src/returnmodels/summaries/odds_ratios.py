"""Odds-ratio table: every coefficient on the natural (odds-ratio) scale, with a 94% HDI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.data.vocabulary import NONREFERENCE_OUTCOMES as NONREFERENCE
from returnmodels.data.vocabulary import REFERENCE_OUTCOME as REFERENCE
from returnmodels.models.design import Design
from returnmodels.models.prediction import stacked
from returnmodels.summaries._draws import HDI_PROB, interval, posterior_of

__all__ = ["odds_ratios"]


def odds_ratios(result: xr.DataTree, *, prob: float = HDI_PROB) -> pd.DataFrame:
    """One row per coefficient: ``term`` (``gender[female]``; for ``competing_outcomes``
    also ``outcome``), what it compares, the odds ratio's posterior mean and HDI, and the
    posterior probability that it exceeds 1. Numeric predictors are per unit."""
    design = Design.from_result(result)
    posterior = posterior_of(result)
    blocks = [("", None, None)]
    if design.outcomes:
        blocks += [("competing_", k, REFERENCE) for k in NONREFERENCE]
    rows = []
    for prefix, outcome, reference in blocks:
        lead = "nonreference_outcome" if outcome else None
        for term in design.terms + design.group_terms:
            if prefix + term.name not in posterior:  # not in this model (varying_intercepts)
                continue
            draws = stacked(posterior, prefix + term.name, lead, outcome).reshape(-1, term.width)
            for k, label in enumerate(term.labels()):
                ratio = np.exp(draws[:, k])
                compared = "per unit" if term.kind == "numeric" else f"vs {term.reference}"
                row = {"outcome": outcome or "assisted", "vs_outcome": reference, "term": label}
                row |= {"compared_with": compared, **interval(ratio, prob)}
                rows.append(row | {"p_above_1": float(np.mean(ratio > 1))})
    table = pd.DataFrame(rows).rename(
        columns={"mean": "odds_ratio", "hdi_lower": "hdi_lower", "hdi_upper": "hdi_upper"}
    )
    return table if design.outcomes else table.drop(columns=["outcome", "vs_outcome"])

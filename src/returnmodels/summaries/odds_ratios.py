"""Odds-ratio table: every coefficient on the natural (odds-ratio) scale, with a 94% HDI."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.data.vocabulary import REFERENCE_OUTCOME as REFERENCE
from returnmodels.summaries._draws import HDI_PROB, interval
from returnmodels.summaries.fit_summary import coefficient_draws

__all__ = ["odds_ratios"]


def odds_ratios(result: xr.DataTree, *, prob: float = HDI_PROB) -> pd.DataFrame:
    """One row per coefficient: ``term`` (``gender[female]``; for ``competing_outcomes``
    also ``outcome``), what it compares, the odds ratio's posterior mean and HDI, and the
    posterior probability that it exceeds 1. Numeric predictors are per unit. The fit's
    terms are read from its design description (``returnmodels_design``)."""
    return _formula_odds_ratios(result, prob)


def _formula_odds_ratios(result: xr.DataTree, prob: float) -> pd.DataFrame:
    """:func:`odds_ratios`: every common term but the Intercept."""
    described = json.loads(result.attrs["returnmodels_design"])
    references = described.get("references") or {}
    rows = []
    for outcome, name, label, draws in coefficient_draws(result):
        if name == "Intercept":
            continue
        ratio = np.exp(draws.ravel())
        row = {"outcome": outcome or "assisted", "vs_outcome": outcome and REFERENCE}
        row |= {"term": label, "compared_with": _compared_with(name, label, references)}
        row |= interval(ratio, prob)
        rows.append(row | {"p_above_1": float(np.mean(ratio > 1))})
    columns = ["outcome", "vs_outcome", "term", "compared_with", "mean", "hdi_lower", "hdi_upper"]
    table = pd.DataFrame(rows, columns=[*columns, "p_above_1"]).rename(
        columns={"mean": "odds_ratio"}
    )
    competing = described.get("family") == "competing_outcomes"
    return table if competing else table.drop(columns=["outcome", "vs_outcome"])


def _compared_with(name: str, label: str, references: dict[str, str]) -> str:
    """``per unit`` for a one-column term, else the reference level(s) of the
    categorical variables it is made of (``vs low``)."""
    if "[" not in label:
        return "per unit"
    used = [k for k in references if re.search(rf"(?<![\w.]){re.escape(k)}(?![\w.])", name)]
    if len(used) == 1:
        return f"vs {references[used[0]]}"
    if used:
        return "vs " + ", ".join(f"{k} {references[k]}" for k in used)
    return "vs the reference level"

"""Descriptive tables of the case data, as the exploration notebook shows them."""

from __future__ import annotations

import pandas as pd

from returnmodels.schema import OUTCOMES

__all__ = ["outcome_mix_by_year"]


def outcome_mix_by_year(cases: pd.DataFrame) -> pd.DataFrame:
    """Cases per closing year and the share of each outcome among them (4 decimals).

    One row per ``closing_year``, one column per outcome in contract order, and
    ``n_cases``; outcomes absent in a year have share 0.
    """
    counts = pd.crosstab(cases["closing_year"], cases["outcome"]).reindex(
        columns=list(OUTCOMES), fill_value=0
    )
    shares = counts.div(counts.sum(axis=1), axis=0).round(4)
    return shares.assign(n_cases=counts.sum(axis=1)).reset_index()

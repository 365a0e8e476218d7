"""Counts of a validated case frame, and the derived binary outcome ``assisted``."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from returnmodels.data.vocabulary import (
    ASSISTED,
    OUTCOMES,
)

__all__ = ["assisted", "format_summary", "summarise_cases"]


def assisted(frame: pd.DataFrame) -> pd.Series:
    """The binary outcome of the uptake models: ``outcome == 'assisted_return'`` (bool)."""
    flags = frame["outcome"].astype(object).eq(ASSISTED).to_numpy(dtype=bool)
    return pd.Series(flags, index=frame.index, name="assisted")


def summarise_cases(cases: pd.DataFrame) -> dict[str, object]:
    """Counts of a (validated) case frame, as plain Python numbers.

    Keys: ``n_cases``, ``n_persons``, ``n_nationalities``, ``year_min``, ``year_max``,
    ``cases_per_year`` ({year: count}, by year), ``outcome_shares`` ({outcome: fraction},
    all six outcomes in schema order).
    """
    n_cases = len(cases)
    per_year = cases["closing_year"].value_counts().sort_index()
    outcomes = cases["outcome"].astype(object).value_counts()
    return {
        "n_cases": n_cases,
        "n_persons": int(cases["person_id"].nunique()),
        "n_nationalities": int(cases["nationality"].nunique()),
        "year_min": int(per_year.index.min()) if n_cases else None,
        "year_max": int(per_year.index.max()) if n_cases else None,
        "cases_per_year": {int(year): int(count) for year, count in per_year.items()},
        "outcome_shares": {
            o: int(outcomes.get(o, 0)) / n_cases if n_cases else 0.0 for o in OUTCOMES
        },
    }


def format_summary(summary: Mapping[str, object]) -> str:
    """A few lines of text for :func:`summarise_cases`' result."""
    years = f"{summary['year_min']}-{summary['year_max']}"
    per_year = ", ".join(f"{y}: {n:,}" for y, n in summary["cases_per_year"].items())
    shares = ", ".join(f"{o} {s:.1%}" for o, s in summary["outcome_shares"].items())
    return "\n".join(
        [
            f"{summary['n_cases']:,} cases of {summary['n_persons']:,} persons, "
            f"{summary['n_nationalities']:,} nationalities, closed {years}",
            f"cases per year: {per_year}",
            f"outcomes: {shares}",
        ]
    )

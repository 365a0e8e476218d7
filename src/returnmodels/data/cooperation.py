"""Cooperation with forced return: constant within a nationality, and in agreement with
the nationality table where one is given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from returnmodels.data.problems import MAX_VALUES_SPLIT, CheckedColumn, Finding, offending
from returnmodels.data.reading import (
    MAX_VALUES_SHOWN,
    Problem,
    format_rows,
)

__all__ = ["cooperation_checks", "table_levels"]


def table_levels(table: pd.DataFrame) -> dict[str, str]:
    return dict(
        zip(
            table["nationality"].astype(object),
            table["cooperation"].astype(object),
            strict=True,
        )
    )


def cooperation_checks(
    checked: dict[str, CheckedColumn], levels: dict[str, str] | None
) -> tuple[list[Finding], list[Problem]]:
    """Cooperation constant within a nationality, and in agreement with the table."""
    if "nationality" not in checked or ("cooperation" not in checked and levels is None):
        return [], []
    nationality = checked["nationality"]
    if "cooperation" not in checked:  # the table is the only source
        unknown = nationality.valid & ~nationality.text.isin(list(levels)).to_numpy(dtype=bool)
        expected = "a nationality listed in the nationality table, which supplies cooperation"
        return offending("nationality", nationality.text, unknown, expected), []
    cooperation = checked["cooperation"]
    both = nationality.valid & cooperation.valid
    rows = pd.DataFrame(
        {
            "nationality": nationality.text.to_numpy(dtype=object)[both],
            "level": cooperation.text.to_numpy(dtype=object)[both],
            "row": np.flatnonzero(both) + 1,
        }
    )
    problems = _inconsistent_levels(rows)
    if levels is not None:
        problems += _table_disagreements(rows, levels)
    return [], problems


def _inconsistent_levels(rows: pd.DataFrame) -> list[Problem]:
    counts = rows.groupby("nationality", sort=False)["level"].nunique()
    bad = list(counts.index[counts > 1])
    expected = "one cooperation level per nationality"
    problems = []
    for nationality in bad[:MAX_VALUES_SPLIT]:
        these = rows[rows["nationality"] == nationality]
        usual = these.groupby("level", sort=False).size().idxmax()  # ties: the first seen
        odd = these[these["level"] != usual]
        values = tuple(pd.unique(odd["level"]))
        value = values[0] if len(values) == 1 else values
        usual_rows = format_rows(these.loc[these["level"] == usual, "row"].to_numpy())
        note = f"nationality {nationality!r} has {usual!r} in {usual_rows}"
        problems.append(Problem("cooperation", tuple(odd["row"].tolist()), value, expected, note))
    if len(bad) > MAX_VALUES_SPLIT:
        problems.append(_grouped_by_nationality(rows, bad[MAX_VALUES_SPLIT:], expected))
    return problems


def _table_disagreements(rows: pd.DataFrame, levels: dict[str, str]) -> list[Problem]:
    table_level = rows["nationality"].map(levels)
    differ = rows[table_level.notna() & (rows["level"] != table_level)]
    bad = list(pd.unique(differ["nationality"]))
    problems = []
    for nationality in bad[:MAX_VALUES_SPLIT]:
        these = differ[differ["nationality"] == nationality]
        values = tuple(pd.unique(these["level"]))
        value = values[0] if len(values) == 1 else values
        expected = f"{levels[nationality]!r} for nationality {nationality!r}, as in the table"
        problems.append(Problem("cooperation", tuple(these["row"].tolist()), value, expected))
    if len(bad) > MAX_VALUES_SPLIT:
        expected = "the level the nationality table gives"
        problems.append(_grouped_by_nationality(differ, bad[MAX_VALUES_SPLIT:], expected))
    return problems


def _grouped_by_nationality(rows: pd.DataFrame, nationalities: list, expected: str) -> Problem:
    these = rows[rows["nationality"].isin(nationalities)]
    shown = ", ".join(map(repr, nationalities[:MAX_VALUES_SHOWN]))
    more = len(nationalities) - MAX_VALUES_SHOWN
    note = f"also nationalities {shown}" + (f" and {more} more" if more > 0 else "")
    value = tuple(pd.unique(these["level"]))
    return Problem("cooperation", tuple(these["row"].tolist()), value, expected, note)

"""Findings of the per-column checks, turned into the problems a :class:`ContractError`
lists: grouped by rule, split by value when there are few, with near-match suggestions.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from returnmodels.data.contract import EXPECTED, FALSE_TEXT, TRUE_TEXT
from returnmodels.data.reading import (
    MAX_VALUES_SHOWN,
    Problem,
    format_rows,
    show_value,
)
from returnmodels.data.vocabulary import (
    NATIONALITY_PATTERN,
)

__all__ = [
    "CheckedColumn",
    "Finding",
    "MAX_VALUES_SPLIT",
    "duplicate_findings",
    "expand",
    "missing_findings",
    "near_match",
    "normalised",
    "offending",
    "suggest_boolean",
    "suggest_nationality",
    "wrong_type",
]

#: A rule broken by up to this many distinct values gives one problem per value.
MAX_VALUES_SPLIT = 3


@dataclass(frozen=True)
class Finding:
    """One rule broken in one column: the offending positions and values (None = missing)."""

    column: str
    positions: np.ndarray
    values: np.ndarray | None
    expected: str
    note: str = ""
    suggest: Callable[[object], str | None] | None = None
    split: bool = True  # one problem per distinct value, when there are few
    rows_per_value: bool = False  # when grouped, say which rows hold which value


@dataclass
class CheckedColumn:
    """One column checked: its findings, the rows that passed, the typed values if clean."""

    findings: list[Finding]
    valid: np.ndarray
    typed: object = None
    text: pd.Series | None = field(default=None, repr=False)


def missing_findings(name: str, missing: np.ndarray) -> list[Finding]:
    if not missing.any():
        return []
    return [Finding(name, np.flatnonzero(missing), None, EXPECTED[name])]


def offending(
    name: str,
    series: pd.Series,
    mask: np.ndarray,
    expected: str | None = None,
    **options: object,
) -> list[Finding]:
    if not mask.any():
        return []
    positions = np.flatnonzero(mask)
    values = series.iloc[positions].to_numpy(dtype=object)
    return [Finding(name, positions, values, expected or EXPECTED[name], **options)]


def wrong_type(
    name: str, series: pd.Series, mask: np.ndarray, kind: str, wanted: str
) -> list[Finding]:
    note = f"the column holds {kind} values ({series.dtype}); store it with {wanted}"
    return offending(name, series, mask, note=note, split=False)


def duplicate_findings(name: str, checked: CheckedColumn) -> list[Finding]:
    text = checked.text
    duplicated = checked.valid & text.duplicated(keep=False).to_numpy(dtype=bool)
    expected = f"each {name} once"
    return offending(name, text, duplicated, expected, rows_per_value=True)


def expand(findings: list[Finding], budget: int) -> list[Problem]:
    """Findings as problems: one per distinct value where few, unless that is too many."""
    split = [_problems(f, split=True) for f in findings]
    if sum(map(len, split)) <= budget:
        return [problem for problems in split for problem in problems]
    return [problem for f in findings for problem in _problems(f, split=False)]


def _problems(finding: Finding, split: bool) -> list[Problem]:
    rows = finding.positions + 1
    column, expected, note = finding.column, finding.expected, finding.note
    if finding.values is None:
        return [Problem(column, tuple(rows.tolist()), None, expected, note)]
    codes, uniques = pd.factorize(pd.Series(finding.values, dtype=object), use_na_sentinel=False)
    uniques = list(uniques)
    if split and finding.split and len(uniques) <= MAX_VALUES_SPLIT:
        problems = []
        for k, value in enumerate(uniques):
            these = tuple(rows[codes == k].tolist())
            hint = _join(note, _suggestion(finding.suggest, [value]))
            problems.append(Problem(column, these, value, expected, hint))
        return problems
    shown = uniques[:MAX_VALUES_SHOWN]
    extra = [_suggestion(finding.suggest, shown)]
    if finding.rows_per_value:
        extra += [
            f"{show_value(v)} in {format_rows(rows[codes == k])}" for k, v in enumerate(shown)
        ]
    value = uniques[0] if len(uniques) == 1 else tuple(uniques)
    return [Problem(column, tuple(rows.tolist()), value, expected, _join(note, *extra))]


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def _suggestion(suggest: Callable[[object], str | None] | None, values: list[object]) -> str:
    if suggest is None:
        return ""
    pairs = [(value, near) for value in values if (near := suggest(value)) is not None]
    if not pairs:
        return ""
    if len(values) == 1:
        return f"did you mean {pairs[0][1]!r}? (values must match exactly)"
    return "did you mean " + ", ".join(f"{n!r} for {show_value(v)}" for v, n in pairs) + "?"


def normalised(text: str) -> str:
    return re.sub(r"[\s_\-]+", "_", text.strip().lower())


def near_match(value: object, allowed: tuple[str, ...]) -> str | None:
    if not isinstance(value, str):
        return None
    same = [option for option in allowed if normalised(option) == normalised(value)]
    close = same or difflib.get_close_matches(value.strip().lower(), allowed, n=1, cutoff=0.6)
    return close[0] if close else None


def suggest_nationality(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    fixed = value.strip().upper()
    return fixed if re.fullmatch(NATIONALITY_PATTERN, fixed) else None


def suggest_boolean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    fixed = value.strip().lower()
    return fixed if fixed in TRUE_TEXT + FALSE_TEXT else None

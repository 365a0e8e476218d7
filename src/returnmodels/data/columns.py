"""Per-column checks of the contract: identifiers, integers, booleans and categories,
each from text (CSV, frames) or from typed values (Parquet), without coercion.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa

from returnmodels.data.contract import (
    BOUNDS,
    CASE_DTYPES,
    FALSE_TEXT,
    IDENTIFIER_COLUMNS,
    INTEGER_TEXT,
    STRING,
    TRUE_TEXT,
)
from returnmodels.data.problems import (
    CheckedColumn,
    missing_findings,
    near_match,
    offending,
    suggest_boolean,
    suggest_nationality,
    wrong_type,
)
from returnmodels.data.reading import (
    Problem,
)
from returnmodels.data.stored_types import stored_type_problems
from returnmodels.data.vocabulary import (
    BOOLEAN_COLUMNS,
    CATEGORY_VALUES,
    INTEGER_COLUMNS,
    NATIONALITY_PATTERN,
)

__all__ = ["check_columns"]


def check_columns(
    frame: pd.DataFrame, present: list[str], stored: pa.Schema | None
) -> tuple[list[Problem], dict[str, CheckedColumn]]:
    """Each present column checked, except one stored with the wrong type: a problem instead."""
    mistyped = stored_type_problems(stored, present)
    skip = {problem.column for problem in mistyped}
    checked = {name: _check_column(name, frame[name]) for name in present if name not in skip}
    return mistyped, checked


def _check_column(name: str, series: pd.Series) -> CheckedColumn:
    if name in CATEGORY_VALUES:
        return _check_category(name, series, CATEGORY_VALUES[name])
    if name in INTEGER_COLUMNS:
        return _check_integer(name, series)
    if name in BOOLEAN_COLUMNS:
        return _check_boolean(name, series)
    return _check_text(name, series)


def _prepare(series: pd.Series) -> tuple[str, pd.Series, np.ndarray]:
    """The kind of the column's values, the series (categoricals as objects), missing rows."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    kind = _kind(series)
    missing = series.isna().to_numpy(dtype=bool, copy=True)
    if kind in ("string", "mixed"):
        missing |= (series == "").to_numpy(dtype=bool, na_value=False)
    return kind, series, missing


def _kind(series: pd.Series) -> str:
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        kinds = {"string": "string", "empty": "string", "integer": "integer"}
        return kinds.get(inferred, {"boolean": "bool", "floating": "float"}.get(inferred, "mixed"))
    return "mixed"


def _check_text(name: str, series: pd.Series) -> CheckedColumn:
    kind, series, missing = _prepare(series)
    present = ~missing
    if kind == "mixed":
        is_text = present & series.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    else:  # integer identifiers are accepted and written as decimal text
        is_text = present if kind in ("string", "integer") else np.zeros_like(present)
    findings = missing_findings(name, missing)
    findings += offending(
        name, series, present & ~is_text, note="not text: identifiers are strings"
    )
    text = series.astype(STRING)
    valid = is_text
    if name in IDENTIFIER_COLUMNS:
        blank = is_text & text.str.strip().eq("").to_numpy(dtype=bool, na_value=False)
        findings += offending(name, series, blank, note="only white space: the identifier is blank")
        valid = is_text & ~blank
    if name == "nationality":
        matches = text.str.fullmatch(NATIONALITY_PATTERN).to_numpy(dtype=bool, na_value=False)
        findings += offending(name, series, is_text & ~matches, suggest=suggest_nationality)
        valid = is_text & matches
    return CheckedColumn(findings, valid, None if findings else text.array, text)


def _check_integer(name: str, series: pd.Series) -> CheckedColumn:
    kind, series, missing = _prepare(series)
    present = ~missing
    ints = np.zeros(len(series), dtype=np.int64)
    findings = missing_findings(name, missing)
    if kind in ("string", "integer"):
        ok = present.copy()
        if kind == "string":
            ok &= series.str.fullmatch(INTEGER_TEXT).to_numpy(dtype=bool, na_value=False)
        ints[ok] = series[ok].astype(np.int64).to_numpy()
        findings += offending(name, series, present & ~ok)
    elif kind == "mixed":
        parsed = [_parse_integer(v) for v in series.to_numpy(dtype=object)]
        ok = present & np.array([p is not None for p in parsed], dtype=bool)
        ints[ok] = [p for p, good in zip(parsed, ok, strict=True) if good]
        findings += offending(name, series, present & ~ok)
    else:
        ok = np.zeros_like(present)
        findings += wrong_type(name, series, present, kind, "an integer type")
    low, high = BOUNDS[name]
    outside = ok & ((ints < low) | (ints > high))
    findings += offending(name, series, outside)
    return CheckedColumn(findings, ok & ~outside, None if findings else ints)


def _check_boolean(name: str, series: pd.Series) -> CheckedColumn:
    kind, series, missing = _prepare(series)
    present = ~missing
    flags = np.zeros(len(series), dtype=bool)
    findings = missing_findings(name, missing)
    if kind == "string":
        lower = series.str.lower()
        ok = present & lower.isin(TRUE_TEXT + FALSE_TEXT).to_numpy(dtype=bool)
        flags = lower.isin(TRUE_TEXT).to_numpy(dtype=bool)
    elif kind in ("bool", "integer"):
        ok = present & series.isin([0, 1]).to_numpy(dtype=bool)  # True == 1, False == 0
        flags[ok] = series[ok].astype(np.int64).to_numpy() == 1
    elif kind == "mixed":
        parsed = [_parse_boolean(v) for v in series.to_numpy(dtype=object)]
        ok = present & np.array([p is not None for p in parsed], dtype=bool)
        flags = np.array([bool(p) for p in parsed], dtype=bool)
    else:
        findings += wrong_type(name, series, present, kind, "a boolean type or integers 0/1")
        return CheckedColumn(findings, np.zeros_like(present))
    findings += offending(name, series, present & ~ok, suggest=suggest_boolean)
    return CheckedColumn(findings, ok, None if findings else flags)


def _check_category(name: str, series: pd.Series, allowed: tuple[str, ...]) -> CheckedColumn:
    kind, series, missing = _prepare(series)
    present = ~missing
    ok = present & series.isin(allowed).to_numpy(dtype=bool)
    findings = missing_findings(name, missing)
    findings += offending(name, series, present & ~ok, suggest=lambda v: near_match(v, allowed))
    typed = None if findings else series.astype(CASE_DTYPES[name]).array
    return CheckedColumn(findings, ok, typed, series)


def _parse_integer(value: object) -> int | None:
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, str) and re.fullmatch(INTEGER_TEXT, value):
        return int(value)
    return None


def _parse_boolean(value: object) -> bool | None:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in TRUE_TEXT + FALSE_TEXT:
        return value.lower() in TRUE_TEXT
    return None

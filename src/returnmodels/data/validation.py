"""Check case files against the data contract; load, type and summarise them.

:func:`validate_cases` checks every rule of the contract (``DATA_SCHEMA.md``; the vocabulary
is :mod:`returnmodels.data.vocabulary`) and either returns a new, typed frame or raises one
:class:`~returnmodels.data.reading.ContractError` that lists every problem: the column, the rows
as a user counts them (data row 1 = the first row after the header; :func:`load_cases` adds
the CSV file line), the offending value and what was expected. Nothing is dropped, coerced
or invented: ``'2.0'`` is not an integer, ``' true'`` is not a boolean and ``'Male'`` is not
``'male'`` (the message suggests the near match instead).

The row-level checks are plain vectorised pandas/numpy; the typed result is then checked
against the declarative pandera schema :data:`returnmodels.data.contract.CASE_SCHEMA`. pandera
alone reports failure cases by index and check name, and coerces dtypes; turning those into
our messages (user row numbers, CSV lines, grouping many rows under one rule, near-match
suggestions) without coercion took more code than the checks themselves. Per-element
Python runs only on object columns of mixed types and on the offending values when
reporting.

Returned dtypes (:data:`CASE_DTYPES`): ``case_id``, ``person_id``, ``nationality`` as
``pd.StringDtype()`` (``"string"``, missing = ``pd.NA``); ``closing_year``,
``n_procedures``, ``case_days`` as ``int64``; ``family``, ``detention`` as ``bool``;
``outcome``, ``gender``, ``age_group``, ``cooperation`` as ordered ``pd.CategoricalDtype``
with the categories in schema order. Extra columns are kept unchanged; so is the index.

Typed input (Parquet, frames) follows the same rules on its values: integer columns must
have an integer type (a float column is refused even when its values are whole), booleans
may be bool or integers 0/1, and an integer-typed identifier column is accepted and written
as decimal text. An identifier made only of white space is refused like an empty one.

A Parquet file has stored types, so its text is not parsed: :func:`load_cases` refuses a
contract column whose stored (Arrow) type is not the contract's, naming both, before
looking at its values: integer columns need an integer type; booleans a boolean type (or
integers 0/1); the other columns a string type (``string``, ``large_string``, or a
dictionary of strings, as pandas writes categoricals; identifiers may be integers). A frame
passed to :func:`validate_cases` has no stored types: text cells are read as CSV cells are.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors
import pyarrow as pa

from returnmodels.data.contract import CASE_SCHEMA
from returnmodels.data.reading import (
    MAX_PROBLEMS_SHOWN,
    MAX_VALUES_SHOWN,
    ContractError,
    DataFileError,
    Problem,
    format_rows,
    read_file,
    read_table,
    show_value,
)
from returnmodels.data.vocabulary import (
    ASSISTED,
    BOOLEAN_COLUMNS,
    CATEGORY_VALUES,
    INTEGER_COLUMNS,
    NATIONALITY_PATTERN,
    OPTIONAL_COLUMNS,
    OUTCOMES,
    REQUIRED_COLUMNS,
)

__all__ = [
    "CASE_DTYPES",
    "ContractError",
    "DataFileError",
    "Problem",
    "YEAR_RANGE",
    "assisted",
    "format_summary",
    "load_cases",
    "load_nationality_table",
    "read_table",
    "summarise_cases",
    "validate_cases",
    "validate_nationality_table",
]

#: A plausible ``closing_year``, inclusive at both ends.
YEAR_RANGE: tuple[int, int] = (1900, 2100)
#: A rule broken by up to this many distinct values gives one problem per value.
MAX_VALUES_SPLIT = 3

_STRING = pd.StringDtype()
_BOUNDS = {
    "closing_year": YEAR_RANGE,
    "n_procedures": (1, np.iinfo(np.int64).max),
    "case_days": (0, np.iinfo(np.int64).max),
}
_INTEGER_TEXT = r"-?[0-9]{1,18}"
_TRUE, _FALSE = ("true", "1"), ("false", "0")
_TABLE_COLUMNS = ("nationality", "cooperation")
_IDENTIFIERS = ("case_id", "person_id")
#: What a Parquet column of each contract type must be stored as.
_STORED_EXPECTED = {
    "integer": "type integer (a Parquet integer type, e.g. int64)",
    "boolean": "type boolean (a Parquet boolean, or integers 0/1)",
    "identifier": "type string (a Parquet string, or an integer type)",
    "string": "type string (a Parquet string, or a dictionary of strings)",
    "category": "type category (a Parquet string, or a dictionary of strings)",
}


def _dtype(column: str) -> object:
    if column in CATEGORY_VALUES:
        return pd.CategoricalDtype(list(CATEGORY_VALUES[column]), ordered=True)
    if column in INTEGER_COLUMNS:
        return np.dtype(np.int64)
    return np.dtype(bool) if column in BOOLEAN_COLUMNS else _STRING


#: The dtype of each contract column in the frame :func:`validate_cases` returns.
CASE_DTYPES: dict[str, object] = {c: _dtype(c) for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}

_EXPECTED: dict[str, str] = {
    "case_id": "a non-empty identifier, unique in the file",
    "person_id": "a non-empty identifier",
    "nationality": "three upper-case letters (ISO 3166-1 alpha-3, e.g. 'IRQ'; 'XXX' unknown)",
    "closing_year": f"an integer year from {YEAR_RANGE[0]} to {YEAR_RANGE[1]}",
    "n_procedures": "an integer >= 1",
    "case_days": "an integer >= 0",
    **dict.fromkeys(BOOLEAN_COLUMNS, "a boolean: true or false (any case), or 1 or 0"),
    **{c: "one of " + ", ".join(map(repr, v)) for c, v in CATEGORY_VALUES.items()},
}


@dataclass(frozen=True)
class _Finding:
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
class _Checked:
    """One column checked: its findings, the rows that passed, the typed values if clean."""

    findings: list[_Finding]
    valid: np.ndarray
    typed: object = None
    text: pd.Series | None = field(default=None, repr=False)


# -- public API ------------------------------------------------------------------------


def validate_cases(
    frame: pd.DataFrame,
    source: str = "<frame>",
    nationality_table: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Check ``frame`` against the contract; return a new typed frame or raise.

    ``nationality_table`` (``nationality``, ``cooperation``, optional ``region``) supplies
    ``cooperation`` when the frame lacks it; where both exist they must agree. ``source``
    names the data in the message. The input is never modified.

    Raises :class:`ContractError` listing every problem found.
    """
    return _validate_cases(frame, source, nationality_table, stored=None)


def _validate_cases(
    frame: pd.DataFrame,
    source: str,
    nationality_table: pd.DataFrame | None,
    stored: pa.Schema | None,
) -> pd.DataFrame:
    """:func:`validate_cases`, with the stored types of a Parquet file (``None``: no types)."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"validate_cases expects a pandas DataFrame, got {type(frame).__name__}")
    levels = None
    if nationality_table is not None:
        levels = _table_levels(validate_nationality_table(nationality_table))
    supplied = ("cooperation",) if levels is not None else None
    problems, present = _structure_problems(frame, REQUIRED_COLUMNS, OPTIONAL_COLUMNS, supplied)
    mistyped, checked = _check_columns(frame, present, stored)
    problems += mistyped
    if "case_id" in checked:
        checked["case_id"].findings.extend(_duplicate_findings("case_id", checked["case_id"]))
    findings = [finding for c in checked.values() for finding in c.findings]
    unknown, cross = _cooperation_checks(checked, levels)
    findings += unknown
    problems += _expand(findings, MAX_PROBLEMS_SHOWN - len(problems) - len(cross)) + cross
    if problems:
        raise ContractError(problems, source)
    return _checked_against_contract(_typed_frame(frame, checked, levels))


def _checked_against_contract(typed: pd.DataFrame) -> pd.DataFrame:
    """The typed frame, checked once more against the declarative pandera contract.

    Every rule was already checked above with row-level messages; a failure here means
    the two statements of the contract disagree, which is a bug in returnmodels.
    """
    try:
        return CASE_SCHEMA.validate(typed, lazy=True)
    except pandera.errors.SchemaErrors as error:
        raise AssertionError(f"validated cases break CASE_SCHEMA: {error}") from error


def validate_nationality_table(
    table: pd.DataFrame, source: str = "<nationality table>"
) -> pd.DataFrame:
    """Check a nationality table (``nationality``, ``cooperation``, optional ``region``).

    Each nationality appears once, as three upper-case letters, with a cooperation level.
    Returns a typed copy; raises :class:`ContractError` listing every problem.
    """
    return _validate_nationality_table(table, source, stored=None)


def _validate_nationality_table(
    table: pd.DataFrame, source: str, stored: pa.Schema | None
) -> pd.DataFrame:
    """:func:`validate_nationality_table`, with the stored types of a Parquet file."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"a nationality table must be a DataFrame, got {type(table).__name__}")
    problems, present = _structure_problems(table, _TABLE_COLUMNS, (), ())
    mistyped, checked = _check_columns(table, present, stored)
    problems += mistyped
    if "nationality" in checked:
        duplicates = _duplicate_findings("nationality", checked["nationality"])
        checked["nationality"].findings.extend(duplicates)
    findings = [finding for c in checked.values() for finding in c.findings]
    problems += _expand(findings, MAX_PROBLEMS_SHOWN - len(problems))
    if problems:
        raise ContractError(problems, source)
    return _typed_frame(table, checked, None)


def load_cases(
    path: str | Path, nationality_table: str | Path | pd.DataFrame | None = None
) -> pd.DataFrame:
    """Read a case file (.csv, .csv.gz, .parquet, .pq) and validate it (:func:`validate_cases`).

    ``nationality_table`` may be a path or a DataFrame. Problems in a CSV file give the file
    line of each row as well as the row. A Parquet column stored with another type than the
    contract's is refused (its text is not parsed).
    """
    table = nationality_table
    if table is not None and not isinstance(table, pd.DataFrame):
        table = load_nationality_table(table)
    elif table is not None:
        table = validate_nationality_table(table)
    file = read_file(path)
    try:
        return _validate_cases(file.frame, str(path), table, file.stored)
    except ContractError as error:
        raise error.with_lines(file.lines) from None


def load_nationality_table(path: str | Path) -> pd.DataFrame:
    """Read and validate a nationality table file (:func:`validate_nationality_table`)."""
    file = read_file(path)
    try:
        return _validate_nationality_table(file.frame, str(path), file.stored)
    except ContractError as error:
        raise error.with_lines(file.lines) from None


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


# -- structure -------------------------------------------------------------------------


def _structure_problems(
    frame: pd.DataFrame,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    supplied: tuple[str, ...] | None = None,
) -> tuple[list[Problem], list[str]]:
    """Duplicate or missing columns and an empty frame; and the contract columns to check.

    ``supplied``: columns a nationality table supplies, so they may be absent; ``None``
    where a table could supply them but none was given (the message says so).
    """
    columns = pd.Index(frame.columns)
    problems = [
        Problem(None, (), None, "distinct column names", f"{name!r} appears {count} times")
        for name, count in columns.value_counts(sort=False).items()
        if count > 1
    ]
    for name in required:
        if name in columns or name in (supplied or ()):
            continue
        expected = "a required column"
        if name == "cooperation" and supplied is None:
            expected += ", or a nationality table that supplies it"
        problems.append(Problem(name, (), None, expected, _column_hint(name, columns)))
    if len(frame) == 0:
        problems.append(Problem(None, (), None, "at least one row", "the table has no rows"))
    unique = set(columns[~columns.duplicated(keep=False)])
    return problems, [name for name in required + optional if name in unique]


def _column_hint(name: str, columns: pd.Index) -> str:
    others = [str(c) for c in columns]
    near = [c for c in others if _normal(c) == _normal(name)]
    near = near or difflib.get_close_matches(name, others, n=1, cutoff=0.8)
    return f"found {near[0]!r}: column names must match exactly" if near else ""


# -- stored types (Parquet) ------------------------------------------------------------


def _check_columns(
    frame: pd.DataFrame, present: list[str], stored: pa.Schema | None
) -> tuple[list[Problem], dict[str, _Checked]]:
    """Each present column checked, except one stored with the wrong type: a problem instead."""
    mistyped = _stored_type_problems(stored, present)
    skip = {problem.column for problem in mistyped}
    checked = {name: _check_column(name, frame[name]) for name in present if name not in skip}
    return mistyped, checked


def _stored_type_problems(stored: pa.Schema | None, present: list[str]) -> list[Problem]:
    """One problem per contract column whose stored Arrow type is not the contract's."""
    if stored is None:
        return []
    problems = []
    for name in present:
        if stored.names.count(name) != 1:  # repeated names are a structure problem
            continue
        arrow = stored.field(name).type
        if not _stored_type_ok(name, arrow):
            problems.append(_stored_type_problem(name, arrow))
    return problems


def _contract_type(name: str) -> str:
    """The contract's type of a column, with identifiers apart (they may be integers)."""
    if name in INTEGER_COLUMNS:
        return "integer"
    if name in BOOLEAN_COLUMNS:
        return "boolean"
    if name in CATEGORY_VALUES:
        return "category"
    return "identifier" if name in _IDENTIFIERS else "string"


def _stored_type_ok(name: str, arrow: pa.DataType) -> bool:
    """Whether a column stored as ``arrow`` is read as it is (an all-null column always is)."""
    kind = _contract_type(name)
    if pa.types.is_null(arrow):  # every value missing: the value checks say so
        return True
    if pa.types.is_dictionary(arrow) and kind in ("identifier", "string", "category"):
        arrow = arrow.value_type
    if kind == "integer":
        return pa.types.is_integer(arrow)
    if kind == "boolean":
        return pa.types.is_boolean(arrow) or pa.types.is_integer(arrow)
    return _is_arrow_text(arrow) or (kind == "identifier" and pa.types.is_integer(arrow))


def _is_arrow_text(arrow: pa.DataType) -> bool:
    """``string``, ``large_string`` or ``string_view``."""
    types = pa.types
    return types.is_string(arrow) or types.is_large_string(arrow) or types.is_string_view(arrow)


def _stored_type_problem(name: str, arrow: pa.DataType) -> Problem:
    """The column, the type expected and the type found (floats: even when whole)."""
    kind = _contract_type(name)
    note = f"found type {_arrow_name(arrow)}"
    if kind == "integer" and pa.types.is_floating(arrow):
        note += ", refused even where the values are whole"
    return Problem(
        name, (), None, _STORED_EXPECTED[kind], f"{note}; Parquet types are not converted"
    )


def _arrow_name(arrow: pa.DataType) -> str:
    """``string``, ``string (large_string)``, ``float (double)``, or Arrow's own name."""
    if pa.types.is_string(arrow):
        return "string"
    if _is_arrow_text(arrow):
        return f"string ({arrow})"
    return f"float ({arrow})" if pa.types.is_floating(arrow) else str(arrow)


# -- one column ------------------------------------------------------------------------


def _check_column(name: str, series: pd.Series) -> _Checked:
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


def _check_text(name: str, series: pd.Series) -> _Checked:
    kind, series, missing = _prepare(series)
    present = ~missing
    if kind == "mixed":
        is_text = present & series.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    else:  # integer identifiers are accepted and written as decimal text
        is_text = present if kind in ("string", "integer") else np.zeros_like(present)
    findings = _missing(name, missing)
    findings += _offending(
        name, series, present & ~is_text, note="not text: identifiers are strings"
    )
    text = series.astype(_STRING)
    valid = is_text
    if name in _IDENTIFIERS:
        blank = is_text & text.str.strip().eq("").to_numpy(dtype=bool, na_value=False)
        findings += _offending(
            name, series, blank, note="only white space: the identifier is blank"
        )
        valid = is_text & ~blank
    if name == "nationality":
        matches = text.str.fullmatch(NATIONALITY_PATTERN).to_numpy(dtype=bool, na_value=False)
        findings += _offending(name, series, is_text & ~matches, suggest=_suggest_nationality)
        valid = is_text & matches
    return _Checked(findings, valid, None if findings else text.array, text)


def _check_integer(name: str, series: pd.Series) -> _Checked:
    kind, series, missing = _prepare(series)
    present = ~missing
    ints = np.zeros(len(series), dtype=np.int64)
    findings = _missing(name, missing)
    if kind in ("string", "integer"):
        ok = present.copy()
        if kind == "string":
            ok &= series.str.fullmatch(_INTEGER_TEXT).to_numpy(dtype=bool, na_value=False)
        ints[ok] = series[ok].astype(np.int64).to_numpy()
        findings += _offending(name, series, present & ~ok)
    elif kind == "mixed":
        parsed = [_parse_integer(v) for v in series.to_numpy(dtype=object)]
        ok = present & np.array([p is not None for p in parsed], dtype=bool)
        ints[ok] = [p for p, good in zip(parsed, ok, strict=True) if good]
        findings += _offending(name, series, present & ~ok)
    else:
        ok = np.zeros_like(present)
        findings += _wrong_type(name, series, present, kind, "an integer type")
    low, high = _BOUNDS[name]
    outside = ok & ((ints < low) | (ints > high))
    findings += _offending(name, series, outside)
    return _Checked(findings, ok & ~outside, None if findings else ints)


def _check_boolean(name: str, series: pd.Series) -> _Checked:
    kind, series, missing = _prepare(series)
    present = ~missing
    flags = np.zeros(len(series), dtype=bool)
    findings = _missing(name, missing)
    if kind == "string":
        lower = series.str.lower()
        ok = present & lower.isin(_TRUE + _FALSE).to_numpy(dtype=bool)
        flags = lower.isin(_TRUE).to_numpy(dtype=bool)
    elif kind in ("bool", "integer"):
        ok = present & series.isin([0, 1]).to_numpy(dtype=bool)  # True == 1, False == 0
        flags[ok] = series[ok].astype(np.int64).to_numpy() == 1
    elif kind == "mixed":
        parsed = [_parse_boolean(v) for v in series.to_numpy(dtype=object)]
        ok = present & np.array([p is not None for p in parsed], dtype=bool)
        flags = np.array([bool(p) for p in parsed], dtype=bool)
    else:
        findings += _wrong_type(name, series, present, kind, "a boolean type or integers 0/1")
        return _Checked(findings, np.zeros_like(present))
    findings += _offending(name, series, present & ~ok, suggest=_suggest_boolean)
    return _Checked(findings, ok, None if findings else flags)


def _check_category(name: str, series: pd.Series, allowed: tuple[str, ...]) -> _Checked:
    kind, series, missing = _prepare(series)
    present = ~missing
    ok = present & series.isin(allowed).to_numpy(dtype=bool)
    findings = _missing(name, missing)
    findings += _offending(name, series, present & ~ok, suggest=lambda v: _near(v, allowed))
    typed = None if findings else series.astype(CASE_DTYPES[name]).array
    return _Checked(findings, ok, typed, series)


def _parse_integer(value: object) -> int | None:
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, str) and re.fullmatch(_INTEGER_TEXT, value):
        return int(value)
    return None


def _parse_boolean(value: object) -> bool | None:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
        return value.lower() in _TRUE
    return None


# -- findings --------------------------------------------------------------------------


def _missing(name: str, missing: np.ndarray) -> list[_Finding]:
    if not missing.any():
        return []
    return [_Finding(name, np.flatnonzero(missing), None, _EXPECTED[name])]


def _offending(
    name: str,
    series: pd.Series,
    mask: np.ndarray,
    expected: str | None = None,
    **options: object,
) -> list[_Finding]:
    if not mask.any():
        return []
    positions = np.flatnonzero(mask)
    values = series.iloc[positions].to_numpy(dtype=object)
    return [_Finding(name, positions, values, expected or _EXPECTED[name], **options)]


def _wrong_type(
    name: str, series: pd.Series, mask: np.ndarray, kind: str, wanted: str
) -> list[_Finding]:
    note = f"the column holds {kind} values ({series.dtype}); store it with {wanted}"
    return _offending(name, series, mask, note=note, split=False)


def _duplicate_findings(name: str, checked: _Checked) -> list[_Finding]:
    text = checked.text
    duplicated = checked.valid & text.duplicated(keep=False).to_numpy(dtype=bool)
    expected = f"each {name} once"
    return _offending(name, text, duplicated, expected, rows_per_value=True)


def _expand(findings: list[_Finding], budget: int) -> list[Problem]:
    """Findings as problems: one per distinct value where few, unless that is too many."""
    split = [_problems(f, split=True) for f in findings]
    if sum(map(len, split)) <= budget:
        return [problem for problems in split for problem in problems]
    return [problem for f in findings for problem in _problems(f, split=False)]


def _problems(finding: _Finding, split: bool) -> list[Problem]:
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


def _normal(text: str) -> str:
    return re.sub(r"[\s_\-]+", "_", text.strip().lower())


def _near(value: object, allowed: tuple[str, ...]) -> str | None:
    if not isinstance(value, str):
        return None
    same = [option for option in allowed if _normal(option) == _normal(value)]
    close = same or difflib.get_close_matches(value.strip().lower(), allowed, n=1, cutoff=0.6)
    return close[0] if close else None


def _suggest_nationality(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    fixed = value.strip().upper()
    return fixed if re.fullmatch(NATIONALITY_PATTERN, fixed) else None


def _suggest_boolean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    fixed = value.strip().lower()
    return fixed if fixed in _TRUE + _FALSE else None


# -- cooperation across rows, and the nationality table --------------------------------


def _table_levels(table: pd.DataFrame) -> dict[str, str]:
    return dict(
        zip(
            table["nationality"].astype(object),
            table["cooperation"].astype(object),
            strict=True,
        )
    )


def _cooperation_checks(
    checked: dict[str, _Checked], levels: dict[str, str] | None
) -> tuple[list[_Finding], list[Problem]]:
    """Cooperation constant within a nationality, and in agreement with the table."""
    if "nationality" not in checked or ("cooperation" not in checked and levels is None):
        return [], []
    nationality = checked["nationality"]
    if "cooperation" not in checked:  # the table is the only source
        unknown = nationality.valid & ~nationality.text.isin(list(levels)).to_numpy(dtype=bool)
        expected = "a nationality listed in the nationality table, which supplies cooperation"
        return _offending("nationality", nationality.text, unknown, expected), []
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


def _typed_frame(
    frame: pd.DataFrame, checked: dict[str, _Checked], levels: dict[str, str] | None
) -> pd.DataFrame:
    typed = frame.copy()
    for name, column in checked.items():
        typed[name] = column.typed
    if "cooperation" not in checked and levels is not None and "nationality" in checked:
        supplied = checked["nationality"].text.astype(object).map(levels)
        typed["cooperation"] = supplied.astype(CASE_DTYPES["cooperation"]).array
    return typed

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

A frame this module returns carries its fingerprint in ``attrs`` (:data:`VALIDATED_ATTR`:
a SHA-256 of its column names, dtypes and values). :func:`validate_cases` given a frame
whose fingerprint still matches its contents (the typed frame of an earlier validation,
unchanged) returns it as it is, having checked nothing else: its values and dtypes are
those of a frame that passed, so every check would pass again and give the same typed
frame. ``fit(cases, ...)`` after ``cases = load_cases(...)`` then spends 0.05 s on the
bundled 118,000 cases (the fingerprint) instead of 0.4-0.5 s (the checks). A frame
changed in any value or dtype since, or derived from it (``attrs`` travel with pandas
operations), no longer matches and is checked in full.
"""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path

import pandas as pd
import pandera.errors
import pyarrow as pa

from returnmodels.data.case_summary import assisted, format_summary, summarise_cases
from returnmodels.data.columns import check_columns
from returnmodels.data.contract import CASE_DTYPES, CASE_SCHEMA, YEAR_RANGE
from returnmodels.data.cooperation import cooperation_checks, table_levels
from returnmodels.data.problems import CheckedColumn, duplicate_findings, expand, normalised
from returnmodels.data.reading import (
    MAX_PROBLEMS_SHOWN,
    ContractError,
    DataFileError,
    Problem,
    read_file,
    read_table,
)
from returnmodels.data.vocabulary import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
)
from returnmodels.paths import bundled_cases

__all__ = [
    "CASE_DTYPES",
    "VALIDATED_ATTR",
    "ContractError",
    "DataFileError",
    "Problem",
    "YEAR_RANGE",
    "assisted",
    "fingerprint",
    "format_summary",
    "is_validated",
    "load_cases",
    "load_nationality_table",
    "read_table",
    "summarise_cases",
    "validate_cases",
    "validate_nationality_table",
]


_TABLE_COLUMNS = ("nationality", "cooperation")

#: The ``attrs`` key of a validated case frame's fingerprint (:func:`fingerprint`).
VALIDATED_ATTR = "returnmodels_validated"


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

    A frame returned by this module before and unchanged since (its fingerprint in
    ``attrs``, :data:`VALIDATED_ATTR`, matches its contents) is returned as a shallow
    copy without checking it again (see the module), unless a ``nationality_table`` is
    given, which the frame must then be checked against.

    Raises :class:`ContractError` listing every problem found.
    """
    if nationality_table is None and is_validated(frame):
        return frame.copy(deep=False)
    return _validate_cases(frame, source, nationality_table, stored=None)


def fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's column names, dtypes and values (not its index, as the
    checks ignore it): equal for frames the checks cannot tell apart."""
    header = [(str(name), str(dtype)) for name, dtype in frame.dtypes.items()]
    values = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(repr(header).encode() + values.tobytes()).hexdigest()


def is_validated(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` is a typed frame this module returned, unchanged since: its
    fingerprint in ``attrs`` matches its contents."""
    if not isinstance(frame, pd.DataFrame):
        return False
    stamped = frame.attrs.get(VALIDATED_ATTR)
    return isinstance(stamped, str) and stamped == fingerprint(frame)


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
        levels = table_levels(validate_nationality_table(nationality_table))
    supplied = ("cooperation",) if levels is not None else None
    problems, present = _structure_problems(frame, REQUIRED_COLUMNS, OPTIONAL_COLUMNS, supplied)
    mistyped, checked = check_columns(frame, present, stored)
    problems += mistyped
    if "case_id" in checked:
        checked["case_id"].findings.extend(duplicate_findings("case_id", checked["case_id"]))
    findings = [finding for c in checked.values() for finding in c.findings]
    unknown, cross = cooperation_checks(checked, levels)
    findings += unknown
    problems += expand(findings, MAX_PROBLEMS_SHOWN - len(problems) - len(cross)) + cross
    if problems:
        raise ContractError(problems, source)
    typed = _checked_against_contract(_typed_frame(frame, checked, levels))
    typed.attrs[VALIDATED_ATTR] = fingerprint(typed)
    return typed


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
    mistyped, checked = check_columns(table, present, stored)
    problems += mistyped
    if "nationality" in checked:
        duplicates = duplicate_findings("nationality", checked["nationality"])
        checked["nationality"].findings.extend(duplicates)
    findings = [finding for c in checked.values() for finding in c.findings]
    problems += expand(findings, MAX_PROBLEMS_SHOWN - len(problems))
    if problems:
        raise ContractError(problems, source)
    return _typed_frame(table, checked, None)


def load_cases(
    path: str | Path | None = None, nationality_table: str | Path | pd.DataFrame | None = None
) -> pd.DataFrame:
    """Read a case file (.csv, .csv.gz, .parquet, .pq) and validate it (:func:`validate_cases`).

    ``path`` ``None`` (no argument) reads the bundled synthetic case file, found through
    the package (:func:`returnmodels.paths.bundled_cases`) whatever the working directory;
    a relative path is read from the working directory (``notebooks/`` in JupyterLab),
    and a missing file is refused naming that folder and the fix.
    ``nationality_table`` may be a path or a DataFrame. Problems in a CSV file give the file
    line of each row as well as the row. A Parquet column stored with another type than the
    contract's is refused (its text is not parsed).
    """
    path = bundled_cases() if path is None else path
    table = nationality_table
    if table is not None and not isinstance(table, pd.DataFrame):
        table = load_nationality_table(table)
    elif table is not None:
        table = validate_nationality_table(table)
    file = _read_case_file(path)
    try:
        return _validate_cases(file.frame, str(path), table, file.stored)
    except ContractError as error:
        raise error.with_lines(file.lines) from None


def _read_case_file(path: str | Path):
    """:func:`read_file`; a missing file's message adds the bundled file's way in."""
    try:
        return read_file(path)
    except DataFileError as error:
        if Path(path).exists():  # a folder or unreadable: nothing to add
            raise
        raise DataFileError(
            f"{error}; rm.load_cases() with no argument reads the bundled synthetic case file"
        ) from None


def load_nationality_table(path: str | Path) -> pd.DataFrame:
    """Read and validate a nationality table file (:func:`validate_nationality_table`)."""
    file = read_file(path)
    try:
        return _validate_nationality_table(file.frame, str(path), file.stored)
    except ContractError as error:
        raise error.with_lines(file.lines) from None


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
    near = [c for c in others if normalised(c) == normalised(name)]
    near = near or difflib.get_close_matches(name, others, n=1, cutoff=0.8)
    return f"found {near[0]!r}: column names must match exactly" if near else ""


# -- stored types (Parquet) ------------------------------------------------------------


# -- one column ------------------------------------------------------------------------


# -- findings --------------------------------------------------------------------------


# -- cooperation across rows, and the nationality table --------------------------------


def _typed_frame(
    frame: pd.DataFrame, checked: dict[str, CheckedColumn], levels: dict[str, str] | None
) -> pd.DataFrame:
    typed = frame.copy()
    for name, column in checked.items():
        typed[name] = column.typed
    if "cooperation" not in checked and levels is not None and "nationality" in checked:
        supplied = checked["nationality"].text.astype(object).map(levels)
        typed["cooperation"] = supplied.astype(CASE_DTYPES["cooperation"]).array
    return typed

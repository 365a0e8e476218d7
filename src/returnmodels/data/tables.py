"""Tables that are not case files: read by the same strict reader, numbers converted
explicitly.

A model fitted to other data (a formula whose response is not ``assisted`` or
``outcome``, or the ``--outcome``/``--successes``/``--trials``/``--group`` options) reads
its file with :func:`returnmodels.data.reading.read_file`: strict UTF-8 (a byte-order mark
dropped), comma-separated, every CSV cell kept as text; an empty file, a header without
rows, a file that is not UTF-8 or that looks semicolon-separated is refused there, naming
the file. Then each CSV column is typed by its own values (:func:`type_csv_columns`),
never by a guess that could silently change a fit:

* every non-blank value a number (``12``, ``-0.5``, ``1e-3``; spaces around it allowed):
  numbers, whole (``int64``) when every value is written as a whole number, else
  ``float64``; a column with a value written with a leading zero (``007``) is a code and
  stays text;
* every non-blank value ``true`` or ``false`` (any case): booleans;
* any other column: text, as it is.

Blank cells are missing values, never a number or a level ``""``. A column that holds
numbers in most rows and something else in the others (``1,5``, ``n/a``, ``12 kg``) is
refused, with the column, each offending data row and file line, and the value: it is
meant to be numbers, and reading it as text would make every number a category.

Parquet files and data frames keep their types; their text columns get the same check
(:func:`check_table`), so a frame and the file it came from are refused alike.
"""

from __future__ import annotations

import re
from numbers import Real
from pathlib import Path

import numpy as np
import pandas as pd

from returnmodels.data.problems import Finding, expand
from returnmodels.data.reading import (
    MAX_PROBLEMS_SHOWN,
    ContractError,
    Problem,
    TableError,
    read_file,
)

__all__ = ["check_table", "read_other_table", "type_csv_columns"]

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WHOLE = re.compile(r"[+-]?\d+")
_CODE = re.compile(r"[+-]?0\d+")  # written with a leading zero: an identifier
_BOOLEANS = ("true", "false")
_INT64_MIN, _INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
_EXPECTED_NUMBERS = "a number in every row, as in the column's other rows"
_MISSING_HINT = "leave a cell empty for a missing value; write decimals with a point"


def read_other_table(path: str | Path) -> pd.DataFrame:
    """Read a table that is not a case file (.csv, .csv.gz, .parquet, .pq) and type it.

    CSV columns are typed by :func:`type_csv_columns`; Parquet columns keep their stored
    types and are checked by :func:`check_table`. Raises
    :class:`~returnmodels.data.reading.TableError` naming the file and every problem (with
    the data row and file line of each offending value) and
    :class:`~returnmodels.data.reading.DataFileError` when the file cannot be opened.
    """
    try:
        file = read_file(path)
    except TableError:
        raise
    except ContractError as error:  # the file itself: same problems, not the case contract
        raise TableError(error.problems, error.source) from None
    try:
        if file.stored is None:
            return type_csv_columns(file.frame, str(path))
        return check_table(file.frame, str(path))
    except TableError as error:
        raise error.with_lines(None if file.lines is None else file.lines.tolist()) from None


def type_csv_columns(frame: pd.DataFrame, source: str = "<frame>") -> pd.DataFrame:
    """Each column of text cells as numbers, booleans or text, by the rules above.

    ``frame`` holds CSV cells as text (:func:`returnmodels.data.reading.read_file`). Returns
    a new frame; raises :class:`~returnmodels.data.reading.TableError` listing every column
    that holds numbers in most rows and something else in the others.
    """
    typed, findings = {}, []
    for position, name in enumerate(frame.columns):
        typed[name], finding = _typed_column(str(name), frame.iloc[:, position])
        findings += finding
    if findings:
        raise TableError(expand(findings, MAX_PROBLEMS_SHOWN), source)
    return pd.DataFrame(typed, index=frame.index)


def check_table(frame: pd.DataFrame, source: str = "<frame>") -> pd.DataFrame:
    """Check a table that is not a case file and keeps its types (a frame, Parquet).

    Refused, naming each problem: a table with no rows, a column name used twice, and a
    text column that holds numbers in most rows and something else in the others.
    Returns ``frame`` unchanged.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame or a file path, got {type(frame)}")
    problems = [
        Problem(None, (), None, "distinct column names", f"{name!r} appears {count} times")
        for name, count in pd.Index(frame.columns).value_counts(sort=False).items()
        if count > 1
    ]
    if len(frame) == 0:
        problems.append(Problem(None, (), None, "at least one row", "the table has no rows"))
    findings = []
    for position, name in enumerate(frame.columns):
        column = frame.iloc[:, position]
        if _is_text(column):
            findings += _mixed(str(name), column, _as_text(column))
    problems += expand(findings, MAX_PROBLEMS_SHOWN - len(problems))
    if problems:
        raise TableError(problems, source)
    return frame


def _typed_column(name: str, cells: pd.Series) -> tuple[pd.Series, list[Finding]]:
    """One CSV column typed: numbers, booleans or text (blank cells missing); or the
    finding that it mixes numbers with other values."""
    stripped = cells.astype(str).str.strip()
    present = (stripped != "").to_numpy(dtype=bool)
    number = stripped.str.fullmatch(_NUMBER).to_numpy(dtype=bool) & present
    if present.any() and (number == present).all():
        numbers = (
            None if stripped[number].str.fullmatch(_CODE).any() else _numbers(stripped, present)
        )
        return (_text(cells, present) if numbers is None else numbers), []
    lowered = stripped.str.lower()
    if present.any() and (lowered.isin(_BOOLEANS).to_numpy(dtype=bool) == present).all():
        flags = pd.Series((lowered == "true").to_numpy(dtype=bool), index=cells.index)
        return (flags if present.all() else flags.astype("boolean").where(present)), []
    return _text(cells, present), _mixed(name, cells, stripped)


def _mixed(name: str, cells: pd.Series, stripped: pd.Series) -> list[Finding]:
    """The values of a column that are not numbers, where most of its values are."""
    present = (stripped != "").to_numpy(dtype=bool) & cells.notna().to_numpy(dtype=bool)
    number = stripped.str.fullmatch(_NUMBER).to_numpy(dtype=bool) & present
    others = present & ~number
    if not others.any() or number.sum() <= others.sum():
        return []
    note = f"{int(number.sum())} of its {int(present.sum())} values are numbers; {_MISSING_HINT}"
    positions = np.flatnonzero(others)
    values = cells.iloc[positions].to_numpy(dtype=object)
    return [Finding(name, positions, values, _EXPECTED_NUMBERS, note, _decimal_point)]


def _numbers(stripped: pd.Series, present: np.ndarray) -> pd.Series | None:
    """Numbers from their text (each already matched as one): ``int64`` when every value
    is whole (``Int64`` with missing values), else ``float64`` (NaN for a missing value);
    ``None`` when a whole number does not fit 64 bits (an identifier, kept as text)."""
    written = stripped[present].astype(object)
    if not written.str.fullmatch(_WHOLE).all():
        return pd.to_numeric(stripped.where(present).astype(object)).astype("float64")
    whole = pd.to_numeric(written)
    if whole.dtype != np.int64:  # beyond int64: pandas gives uint64 or floats
        return None
    if present.all():
        return whole
    numbers = pd.Series(pd.NA, index=stripped.index, dtype="Int64")
    numbers[present] = whole.to_numpy()
    return numbers


def _text(cells: pd.Series, present: np.ndarray) -> pd.Series:
    """Text as it is; blank cells missing."""
    return cells.where(present)


def _is_text(column: pd.Series) -> bool:
    return isinstance(column.dtype, pd.StringDtype) or pd.api.types.is_object_dtype(column)


def _as_text(column: pd.Series) -> pd.Series:
    """Each value of a frame's column as the number test sees it: a number (not a
    boolean) as ``0``, a missing value as blank, anything else as its stripped text."""
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind in ("string", "empty"):  # text, perhaps missing: the common case, at speed
        return column.astype(object).fillna("").astype(str).str.strip()
    return pd.Series([_cell_text(v) for v in column], index=column.index, dtype=str)


def _cell_text(value: object) -> str:
    if value is None or (np.ndim(value) == 0 and bool(pd.isna(value))):
        return ""
    if isinstance(value, Real) and not isinstance(value, bool | np.bool_):
        return "0"
    return str(value).strip()


def _decimal_point(value: object) -> str | None:
    """``'1.5'`` for ``'1,5'``: the same number with a decimal point."""
    if not isinstance(value, str):
        return None
    fixed = value.strip().replace(",", ".")
    return fixed if fixed != value.strip() and _NUMBER.fullmatch(fixed) else None

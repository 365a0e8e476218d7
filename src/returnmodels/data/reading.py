"""Reading case files without coercion, and the error that reports every problem at once.

A CSV file is decoded as strict UTF-8 (a leading byte-order mark is dropped) and parsed with
every cell kept as text (``dtype=str``, no NA parsing), so nothing is converted before
:func:`returnmodels.data.validation.validate_cases` has seen it. A Parquet file keeps its stored
types, and :func:`read_file` returns them (the Arrow schema) so that validation can refuse
a column stored with the wrong type; an integer column with missing values is read as a
nullable integer column, not as floats. Problems with the file itself (empty, not UTF-8,
compressed or an archive under a ``.csv`` name, not a table, ragged rows, header without
rows) are raised here as :class:`ContractError`; a file that cannot be opened at all raises
:class:`DataFileError`.

Rows are counted as a user counts them: data row 1 is the first row after the header. For
CSV the file line of each row is reported too (``row 3 (line 4)``), computed from the parsed
records, so quoted fields that span lines and blank lines do not shift it.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from returnmodels.errors import ReturnModelsError

__all__ = [
    "ContractError",
    "DataFileError",
    "MAX_PROBLEMS_SHOWN",
    "Problem",
    "TableError",
    "TableFile",
    "format_rows",
    "offending_rows",
    "read_file",
    "read_table",
    "read_with_lines",
    "show_value",
]

#: How many problems ``str(ContractError)`` lists before "... and N more problems".
MAX_PROBLEMS_SHOWN = 50
#: How many row numbers, and how many distinct values, one problem line shows.
MAX_ROWS_SHOWN = 5
MAX_VALUES_SHOWN = 3
#: Longest ``repr`` of an offending value before it is cut with "...".
MAX_VALUE_CHARS = 40

_CSV_SUFFIXES = (".csv", ".csv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_NEEDS_ROWS = "a header row and at least one data row"
_GZIP_MAGIC = b"\x1f\x8b"
#: What a file named .csv holds when it starts with these bytes, and what to do about it.
_NOT_CSV_MAGIC = (
    (_GZIP_MAGIC, "looks gzip-compressed", "name it '.csv.gz', which is accepted"),
    (b"PK\x03\x04", "looks like a zip archive, e.g. an .xlsx workbook", "export it as CSV"),
    (b"PAR1", "looks like a Parquet file", "name it '.parquet', which is accepted"),
)
#: Arrow integer types read as pandas nullable integers when the column has missing values.
_NULLABLE_INTEGERS = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
}


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (column, rows), what was found (value), what was expected.

    ``rows`` are data rows as a user counts them (1 = the first row after the header) and
    ``lines`` the matching file lines for CSV input (``None`` for Parquet and frames).
    ``value`` is the offending value; a tuple of the distinct offending values when one
    problem groups several; ``None`` for a missing value (with a column and rows) or when
    there is no single value (a missing column, a ragged row, a whole-file problem).
    ``note`` says what was found or suggests a near match (``did you mean 'assisted_return'?``).
    """

    column: str | None
    rows: tuple[int, ...]
    value: object
    expected: str
    note: str = ""
    lines: tuple[int, ...] | None = None

    def __str__(self) -> str:
        cells = bool(self.rows) and self.column is not None
        found = _describe_value(self.value, missing=cells)
        parts = [part for part in (found, f"expected {self.expected}", self.note) if part]
        return f"{self._where()}: {'; '.join(parts)}"

    def _where(self) -> str:
        where = [f"column {self.column!r}"] if self.column is not None else []
        if self.rows:
            where.append(format_rows(self.rows, self.lines))
        return ", ".join(where) or "file"


class ContractError(ReturnModelsError, ValueError):
    """A table breaks the case-file contract; ``str(error)`` lists every problem found.

    ``problems`` holds every :class:`Problem`; ``source`` names the file (or ``<frame>``).
    The message shows the first :data:`MAX_PROBLEMS_SHOWN`, one per line.
    """

    #: What the first line of the message says of ``source``.
    headline = "breaks the data contract"

    def __init__(self, problems: Sequence[Problem], source: str = "<frame>") -> None:
        super().__init__(list(problems), str(source))
        self.problems: list[Problem] = list(problems)
        self.source: str = str(source)

    def __str__(self) -> str:
        count = len(self.problems)
        plural = "" if count == 1 else "s"
        lines = [f"{self.source} {self.headline} ({count} problem{plural}):"]
        lines += [f"  - {problem}" for problem in self.problems[:MAX_PROBLEMS_SHOWN]]
        if count > MAX_PROBLEMS_SHOWN:
            lines.append(f"  ... and {count - MAX_PROBLEMS_SHOWN} more problems")
        return "\n".join(lines)

    def with_lines(self, record_lines: Sequence[int] | None) -> ContractError:
        """The same error with each row's file line added (``record_lines[row - 1]``)."""
        if record_lines is None:
            return self
        lookup = np.asarray(record_lines)
        located = [
            replace(p, lines=tuple(lookup[np.asarray(p.rows) - 1].tolist())) if p.rows else p
            for p in self.problems
        ]
        return type(self)(located, self.source)


class TableError(ContractError):
    """A table that is not a case file (any other data a model is fitted to) cannot be
    read or used: the file itself, or a column whose values cannot be converted."""

    headline = "cannot be used as a table"


class DataFileError(ReturnModelsError, OSError):
    """A data file cannot be opened or read at all (missing, a folder, no permission)."""


@dataclass(frozen=True)
class TableFile:
    """A file as read: the frame, each data row's file line (CSV), the stored types (Parquet).

    ``lines`` is ``None`` for Parquet (and for CSV the standard parser could not follow);
    ``stored`` is the Parquet file's Arrow schema, ``None`` for CSV, which has no types.
    """

    frame: pd.DataFrame
    lines: np.ndarray | None = None
    stored: pa.Schema | None = None


def format_rows(rows: Sequence[int], lines: Sequence[int] | None = None) -> str:
    """``row 3 (line 4)`` or ``rows 3, 9, 12 and 40 more``: the first few rows, then a count."""
    shown = [
        str(row) if lines is None else f"{row} (line {line})"
        for row, line in zip(rows[:MAX_ROWS_SHOWN], (lines or rows)[:MAX_ROWS_SHOWN], strict=True)
    ]
    text = ", ".join(shown)
    if len(rows) > MAX_ROWS_SHOWN:
        text += f" and {len(rows) - MAX_ROWS_SHOWN} more"
    return f"{'row' if len(rows) == 1 else 'rows'} {text}"


def offending_rows(
    values: pd.Series | np.ndarray | Mapping[str, pd.Series | np.ndarray],
    mask: np.ndarray | pd.Series,
) -> str:
    """``data row 4 (value 2), data row 9 (missing) and 3 more``: where ``mask`` holds,
    counted as a user counts rows (1 = the first row after the header), with the value;
    given several named columns, each (``data row 6 (k 5, n 4)``).

    For messages about values found after reading (a model's response, its counts), where
    only the position in the table is known.
    """
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    named = values if isinstance(values, Mapping) else None
    columns = {k: np.asarray(v, dtype=object) for k, v in (named or {"": values}).items()}
    shown = []
    for at in positions[:MAX_ROWS_SHOWN]:
        cells = ", ".join(_cell(v[at], name) for name, v in columns.items())
        shown.append(f"data row {at + 1} ({cells})")
    more = len(positions) - MAX_ROWS_SHOWN
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _cell(value: object, name: str = "") -> str:
    """``value 2``, ``missing``; with a column name ``k 5``, ``k missing``."""
    if value is None or (np.ndim(value) == 0 and bool(pd.isna(value))):
        return f"{name} missing".strip()
    return f"{name or 'value'} {show_value(value)}"


def show_value(value: object) -> str:
    """``repr`` of one value, as a Python scalar, cut to :data:`MAX_VALUE_CHARS`."""
    if isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def _describe_value(value: object, *, missing: bool) -> str:
    if isinstance(value, tuple):
        shown = ", ".join(show_value(v) for v in value[:MAX_VALUES_SHOWN])
        more = len(value) - MAX_VALUES_SHOWN
        return f"values {shown}" + (f" and {more} more" if more > 0 else "")
    if value is None:
        return "missing value" if missing else ""
    return f"value {show_value(value)}"


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a case file (.csv, .csv.gz, .parquet, .pq) as it is: CSV cells stay text.

    Raises :class:`DataFileError` when the file cannot be read and :class:`ContractError`
    when it is empty, has a header but no rows, is not UTF-8, or is not a table.
    """
    return read_with_lines(path)[0]


def read_with_lines(path: str | Path) -> tuple[pd.DataFrame, np.ndarray | None]:
    """:func:`read_table`, plus the file line of each data row for CSV (None for Parquet)."""
    table = read_file(path)
    return table.frame, table.lines


def read_file(path: str | Path) -> TableFile:
    """:func:`read_table`, with the file lines (CSV) and the stored types (Parquet)."""
    path = Path(path)
    data = _read_bytes(path)
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        table = _parse_parquet(path, data)
    elif name.endswith(_CSV_SUFFIXES):
        if name.endswith(".gz"):
            data = _gunzip(path, data)
        else:
            _refuse_binary(path, data)
        table = TableFile(*_parse_csv(path, _decode(path, data)))
    else:
        suffixes = ", ".join(_CSV_SUFFIXES + _PARQUET_SUFFIXES)
        raise _file_error(path, f"a file ending in {suffixes}", f"found {path.name!r}")
    if len(table.frame) == 0:
        if name.endswith(_PARQUET_SUFFIXES):
            raise _file_error(path, "at least one row", "the table has no rows")
        raise _file_error(path, _NEEDS_ROWS, "the file has a header but no rows")
    return table


def _file_error(path: Path, expected: str, note: str) -> ContractError:
    return ContractError([Problem(None, (), None, expected, note)], str(path))


def missing_file(path: Path) -> str:
    """``<path>: no such file``; for a relative path also the working directory it was
    looked for in (in JupyterLab that is ``notebooks/``, not the project) and the fix."""
    if path.is_absolute():
        return f"{path}: no such file"
    return (
        f"{path}: no such file in {Path.cwd()} (the working directory); give an "
        "absolute path or one relative to that folder"
    )


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataFileError(missing_file(path)) from None
    except IsADirectoryError:
        raise DataFileError(f"{path}: is a folder, not a file") from None
    except OSError as error:
        raise DataFileError(f"{path}: cannot read the file ({error.strerror or error})") from None
    if not data:
        raise _file_error(path, "a table with at least one row", "the file is empty (0 bytes)")
    return data


def _refuse_binary(path: Path, data: bytes) -> None:
    """Refuse a ``.csv`` file that starts like a gzip, zip or Parquet file, saying which."""
    for magic, looks, advice in _NOT_CSV_MAGIC:
        if data.startswith(magic):
            note = f"the file {looks} (it starts with bytes {magic.hex(' ')}): {advice}"
            raise _file_error(path, "UTF-8 CSV text", note)


def _gunzip(path: Path, data: bytes) -> bytes:
    if not data.startswith(_GZIP_MAGIC):
        note = "the file is not gzip-compressed (it does not start with bytes 1f 8b)"
        raise _file_error(
            path, "a gzip-compressed CSV file", f"{note}; name it '.csv' if it is CSV"
        )
    try:
        data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise _file_error(
            path, "a gzip-compressed CSV file", f"cannot decompress: {error}"
        ) from None
    if not data:
        raise _file_error(path, _NEEDS_ROWS, "the file is empty once decompressed")
    return data


def _decode(path: Path, data: bytes) -> str:
    try:
        text = data.decode("utf-8")  # strict
    except UnicodeDecodeError as error:
        raise _file_error(path, "UTF-8 text", _not_utf8(data, error.start)) from None
    return text.removeprefix("\ufeff")


def _not_utf8(data: bytes, start: int) -> str:
    """Where the first byte that is not UTF-8 is, what it would be in Windows-1252 (the
    usual other encoding of a spreadsheet export), and how to fix the file."""
    byte = data[start]
    line = data[:start].count(b"\n") + 1
    legacy = bytes([byte]).decode("cp1252", errors="replace")
    guess = f" (in Windows-1252/Latin-1 it is {legacy!r})" if legacy.isprintable() else ""
    return (
        f"byte 0x{byte:02x} at offset {start} (line {line}) is not valid UTF-8{guess}; "
        "re-save the file as UTF-8 (in Excel: 'CSV UTF-8')"
    )


def _parse_csv(path: Path, text: str) -> tuple[pd.DataFrame, np.ndarray | None]:
    if "\x00" in text:
        raise _file_error(path, "a CSV table (text)", "the file holds NUL bytes: is it binary?")
    if not text.strip():
        raise _file_error(path, _NEEDS_ROWS, "the file holds only blank lines")
    header, widths, lines = _scan_records(text)
    separator = _separator_problems(header)
    if separator:  # its rows would only repeat it, one "ragged" row per decimal comma
        raise ContractError(separator, str(path))
    problems = _header_problems(header) + _ragged_problems(header, widths, lines)
    if problems:
        raise ContractError(problems, str(path))
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            index_col=False,
        )
    except (pd.errors.ParserError, csv.Error, ValueError) as error:
        raise _file_error(path, "a comma-separated table", str(error).strip()) from None
    if lines is not None and len(lines) != len(frame):  # parsers disagree: rows only
        lines = None
    return frame, lines


def _scan_records(text: str) -> tuple[list[str], np.ndarray | None, np.ndarray | None]:
    """Header, and the field count and first file line of every non-blank data record.

    Blank records are skipped as pandas skips them. Counts and lines are None when the
    standard ``csv`` module cannot parse the text (pandas then has the last word).
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    widths: list[int] = []
    lines: list[int] = []
    start = 1
    try:
        for record in reader:
            if record and (len(record) > 1 or record[0].strip()):
                if header is None:
                    header = record
                else:
                    widths.append(len(record))
                    lines.append(start)
            start = reader.line_num + 1
    except csv.Error:
        return header or [], None, None
    return header or [], np.asarray(widths, dtype=np.int64), np.asarray(lines, dtype=np.int64)


def _header_problems(header: list[str]) -> list[Problem]:
    problems = []
    blank = [str(i + 1) for i, name in enumerate(header) if not name.strip()]
    if blank:
        note = f"header field{'s' if len(blank) > 1 else ''} {', '.join(blank)} blank"
        problems.append(Problem(None, (), None, "a name for every column", note))
    names = pd.Series(header, dtype=object)
    for name, count in names[names.duplicated()].value_counts(sort=False).items():
        note = f"{name!r} appears {count + 1} times in the header"
        problems.append(Problem(None, (), None, "distinct column names", note))
    return problems


#: Separators a one-column header may hold instead of commas, and their names.
_OTHER_SEPARATORS = ((";", "semicolon-separated", "';'"), ("\t", "tab-separated", "tabs"))


def _separator_problems(header: list[str]) -> list[Problem]:
    """A header of one column that holds ``;`` or a tab: the file uses another separator."""
    if len(header) != 1:
        return []
    for mark, looks, name in _OTHER_SEPARATORS:
        if mark in header[0]:
            note = (
                f"the header is one column holding {name}: the file looks {looks} "
                f"(separated by {name}), and returnmodels reads comma-separated CSV; "
                "save it again with ',' as the separator"
            )
            return [Problem(None, (), None, "comma-separated columns", note)]
    return []


def _ragged_problems(
    header: list[str], widths: np.ndarray | None, lines: np.ndarray | None
) -> list[Problem]:
    if widths is None or lines is None:
        return []
    problems = []
    expected = f"{len(header)} fields per row, as in the header"
    for width in pd.unique(widths[widths != len(header)]):
        at = np.flatnonzero(widths == width)
        rows = tuple((at + 1).tolist())
        problems.append(
            Problem(None, rows, None, expected, f"found {width} fields", tuple(lines[at].tolist()))
        )
    return problems


def _parse_parquet(path: Path, data: bytes) -> TableFile:
    try:
        frame = pd.read_parquet(io.BytesIO(data))
        schema = pq.read_schema(io.BytesIO(data))
        frame = _nullable_integers(frame, schema, data)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise _file_error(path, "a Parquet table", f"cannot read it: {error}") from None
    return TableFile(frame, None, schema)


def _nullable_integers(frame: pd.DataFrame, schema: pa.Schema, data: bytes) -> pd.DataFrame:
    """Stored integer columns that pandas turned into floats (missing values) as integers.

    pandas reads an Arrow integer column with nulls as ``float64`` unless the file was
    written by pandas from a nullable dtype; the stored integers are read again as the
    matching nullable integer dtype, so nothing is converted to float.
    """
    unique = frame.columns[~frame.columns.duplicated(keep=False)]
    names = [
        field.name
        for field in schema
        if field.type in _NULLABLE_INTEGERS
        and field.name in unique
        and pd.api.types.is_float_dtype(frame[field.name])
    ]
    if not names:
        return frame
    stored = pq.read_table(io.BytesIO(data), columns=names)
    frame = frame.copy()
    for name in names:
        frame[name] = stored.column(name).to_pandas(types_mapper=_NULLABLE_INTEGERS.get).array
    return frame

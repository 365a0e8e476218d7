"""The mark of a controlled output, on a frame and on a CSV file.

In memory, a controlled frame carries ``frame.attrs["disclosure_controlled"]`` (the
rules, :meth:`DisclosureRules.to_dict`) and ``frame.attrs["disclosure_count_columns"]``.
On disk, :func:`write_controlled_csv` writes the CSV and then a companion
``<name>.csv.disclosure.json`` holding the rules, the count columns and the CSV's SHA-256.
The CSV itself stays a plain CSV (no comment lines, no extra columns); ``returnmodels
audit`` treats a CSV without a companion, or whose checksum no longer matches, as
uncontrolled. Suppressed values are empty cells in the CSV (NaN in frames).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from returnmodels.disclosure.checks import (
    CASE_ID_PATTERN,
    DisclosureError,
    check_table,
    findings_listing,
)
from returnmodels.disclosure.rules import DisclosureRules
from returnmodels.errors import ConfigError
from returnmodels.files import sha256_file, write_json, write_table

__all__ = [
    "COUNT_COLUMNS_KEY",
    "MARKER_KEY",
    "MARKER_SUFFIX",
    "controlled_rules",
    "is_controlled",
    "mark_controlled",
    "marker_path",
    "read_marker",
    "write_controlled_csv",
]

MARKER_KEY = "disclosure_controlled"
COUNT_COLUMNS_KEY = "disclosure_count_columns"
#: The companion of ``x.csv`` is ``x.csv.disclosure.json``.
MARKER_SUFFIX = ".disclosure.json"


def mark_controlled(
    frame: pd.DataFrame, rules: DisclosureRules, count_columns: Sequence[object] = ()
) -> pd.DataFrame:
    """A shallow copy of ``frame`` marked as controlled under ``rules``.

    The ``control_*`` functions call this; call it yourself only for outputs with no
    counts of their own that you vouch for, e.g. a posterior summary of population-level
    parameters. ``count_columns`` are re-checked whenever the frame is written.
    """
    missing = [c for c in count_columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"count columns {missing} are not columns of the frame")
    marked = frame.copy(deep=False)
    marked.attrs = {MARKER_KEY: rules.to_dict(), COUNT_COLUMNS_KEY: list(count_columns)}
    return marked


def is_controlled(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` carries a valid disclosure mark."""
    return controlled_rules(frame) is not None


def controlled_rules(frame: pd.DataFrame) -> DisclosureRules | None:
    """The rules ``frame`` was controlled with, or ``None`` if it is not marked."""
    settings = getattr(frame, "attrs", {}).get(MARKER_KEY)
    if not isinstance(settings, dict):
        return None
    try:
        return DisclosureRules.from_dict(settings)
    except (ConfigError, TypeError):
        return None


def marker_path(path: str | os.PathLike) -> Path:
    """The companion marker file of the CSV ``path``."""
    path = Path(path)
    return path.with_name(path.name + MARKER_SUFFIX)


def write_controlled_csv(
    frame: pd.DataFrame, path: str | os.PathLike, *, id_pattern: str = CASE_ID_PATTERN
) -> Path:
    """Write a controlled frame as CSV, atomically, with its companion marker.

    Refuses (:class:`DisclosureError`) a frame that is not marked, or that, marked or not,
    still holds identifiers, case rows, or small or unrounded counts in its count columns
    (a marked frame edited afterwards keeps its mark; the checks catch the edit). An
    index of labels is written as the first column; an unnamed index of row numbers is
    not. Counts are written as whole numbers and suppressed values as empty cells.
    """
    path = Path(path)
    if path.suffix != ".csv":
        raise ConfigError(f"cannot write {str(path)!r}: a controlled output is a .csv file")
    rules = controlled_rules(frame)
    if rules is None:
        raise DisclosureError(
            f"refusing to write {str(path)!r}: the frame is not disclosure-controlled "
            "(pass it through control_counts, control_shares or control_groups first)"
        )
    counts = [str(c) for c in frame.attrs.get(COUNT_COLUMNS_KEY, [])]
    table = _flat(frame)
    findings = check_table(
        table, rules, source=str(path), count_columns=counts, id_pattern=id_pattern
    )
    if findings:
        raise DisclosureError(findings_listing(f"refusing to write {str(path)!r}", findings))
    write_table(_whole_counts(table, counts), path)
    marker = {
        "rules": rules.to_dict(),
        "count_columns": counts,
        "sha256": sha256_file(path),
        "rows": len(table),
        "suppressed_cells": int(table[counts].isna().to_numpy().sum()) if counts else 0,
    }
    write_json(marker, marker_path(path))
    return path


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as written: an index of labels (named, or not numbers) becomes the first
    column(s); an unnamed index of row numbers is dropped."""
    index = frame.index
    labels = any(name is not None for name in index.names) or not (
        pd.api.types.is_integer_dtype(index) and index.nlevels == 1
    )
    flat = (frame.reset_index() if labels else frame.reset_index(drop=True)).copy()
    flat.columns = [str(c) for c in flat.columns]
    return flat


def _whole_counts(table: pd.DataFrame, counts: list) -> pd.DataFrame:
    names = {str(c) for c in counts}
    return table.assign(**{c: table[c].astype("Int64") for c in table.columns if c in names})


def read_marker(path: str | os.PathLike) -> dict:
    """The companion marker of the CSV ``path``: its rules, count columns and checksum.

    Raises :class:`ConfigError` when it is missing or malformed.
    """
    companion = marker_path(path)
    if not companion.is_file():
        raise ConfigError(f"{str(path)!r} has no disclosure marker {companion.name!r}")
    try:
        marker = json.loads(companion.read_text(encoding="utf-8"))
        rules = DisclosureRules.from_dict(marker["rules"])
        counts = [str(c) for c in marker["count_columns"]]
        checksum = str(marker["sha256"])
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"disclosure marker {str(companion)!r} is malformed: {error}") from error
    return {"rules": rules, "count_columns": counts, "sha256": checksum}

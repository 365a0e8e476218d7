"""Checks of a published table against the rules: the same checks guard
:func:`~returnmodels.disclosure.write_controlled_csv` and ``returnmodels audit``.

What counts as a count (a table carries no types once printed or written):

- a column listed as a count column in the output's marker;
- a column whose name looks like a count (:data:`COUNT_NAME_PATTERN`: ``n``, ``n_*``,
  ``*_n``, ``count``, ``*_count``, ``cases``, ``frequency``, ``total``, ...) and that is not
  a case attribute of the data contract (``n_procedures``, ``closing_year``, ...);
- in an unmarked table (``detect_crosstab``): every column after the first, when all of
  them hold non-negative whole numbers only (a crosstab of counts, label column first).

Within a count column only whole numbers are read as counts (a column ``n`` holding 12.5
is a mean, not a count), except in declared count columns, where anything that is not a
rounded whole number is a finding. Posterior summaries (means, HDI bounds) are not counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnmodels.data.vocabulary import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from returnmodels.disclosure.rules import DisclosureRules, smallest_published
from returnmodels.errors import ReturnModelsError

__all__ = [
    "CASE_ATTRIBUTE_MIN",
    "CASE_ID_PATTERN",
    "COUNT_NAME_PATTERN",
    "DisclosureError",
    "Finding",
    "IDENTIFIER_NAME_PATTERN",
    "NOT_COUNT_NAME_PATTERN",
    "RULES",
    "assert_not_case_level",
    "case_level_findings",
    "check_table",
    "count_findings",
    "findings_listing",
    "looks_like_count",
]

#: Values that look like the identifiers of a case or a person (the synthetic data's
#: ``C000001`` / ``P072621``); pass another pattern for the real extract's identifiers.
CASE_ID_PATTERN = r"[CP]\d{5,}"
#: Column names of identifiers: case_id, person_id, dossier_nr, v_nummer, ...
IDENTIFIER_NAME_PATTERN = re.compile(
    r"^((case|person|dossier|client|zaak)[ _-]?(id|nr|no|number|nummer)s?"
    r"|v[ _-]?(nummer|number|nr))$",
    re.IGNORECASE,
)
COUNT_NAME_PATTERN = re.compile(
    r"^(n|count|counts|cases|frequency|freq|total|aantal|number|"
    r"n[ _].+|.+[ _]n|count[ _].+|.+[ _]counts?|number[ _]of[ _].+|cases[ _].+)$",
    re.IGNORECASE,
)
#: Count-like names that count no cases: sampler settings and diagnostics.
NOT_COUNT_NAME_PATTERN = re.compile(
    r"^n[ _](chains?|draws?|tune|tuning|samples?|divergen\w*|iterations?|param\w*|eff)$",
    re.IGNORECASE,
)
#: A table with at least this many of the contract's case attributes, and no count, is
#: read as case rows (one row per case, identifiers removed).
CASE_ATTRIBUTE_MIN = 4
_ATTRIBUTES = frozenset(REQUIRED_COLUMNS + OPTIONAL_COLUMNS) - {"case_id", "person_id"}

#: Every rule a finding can name, with what it means.
RULES: dict[str, str] = {
    "small-count": "a published count is below the minimum number of cases",
    "unrounded-count": "a published count is not rounded to the rounding base",
    "identifier-column": "a column of case or person identifiers",
    "identifier-value": "values that look like case or person identifiers",
    "case-level-rows": "rows that look like case records (case attributes, no counts)",
    "uncontrolled-output": "a CSV without a disclosure marker, outside the exempt folders",
    "marker-invalid": "the disclosure marker cannot be read",
    "marker-mismatch": "the CSV changed after it was controlled (checksum differs)",
    "weaker-rules": "the output was controlled with weaker rules than the audit's",
    "unreadable": "the file cannot be read, so it cannot be shown to be safe",
    "figure-unmarked": "a figure without a mark of what it was drawn from",
    "figure-source": "a figure's source table is missing, unmarked or changed since",
    "internal-file": "an internal file of the analysis folder: not for release as it is",
    "unchecked-file-type": "a kind of file the audit cannot read, so cannot show to be safe",
    "release-manifest": "the folder and its release manifest disagree",
    "small-support": "an estimate resting on fewer than the minimum number of cases, or "
    "of cases with or without an outcome (a parameter, level or value the fit may not publish)",
    "exact-statistics": "exact statistics of the data (means of predictors, numbers or "
    "labels of levels) that allow differencing between releases",
    "error-message": "an error message or traceback, which may quote the data",
}


class DisclosureError(ReturnModelsError):
    """An output would break the disclosure rules; the message lists every finding."""


@dataclass(frozen=True)
class Finding:
    """One breach: where (file, location), what (value) and which rule."""

    source: str
    location: str
    value: str
    rule: str

    def __str__(self) -> str:
        return f"{self.source}: {self.location}: {self.value!s}: {self.rule} ({RULES[self.rule]})"


def check_table(
    table: pd.DataFrame,
    rules: DisclosureRules,
    *,
    source: str = "table",
    where: str = "",
    count_columns: Sequence[object] = (),
    detect_crosstab: bool = False,
    id_pattern: str = CASE_ID_PATTERN,
) -> list[Finding]:
    """Every finding in ``table``: case-level content, then small or unrounded counts."""
    findings = case_level_findings(table, source=source, where=where, id_pattern=id_pattern)
    return findings + count_findings(
        table,
        rules,
        source=source,
        where=where,
        count_columns=count_columns,
        detect_crosstab=detect_crosstab,
    )


def count_findings(
    table: pd.DataFrame,
    rules: DisclosureRules,
    *,
    source: str = "table",
    where: str = "",
    count_columns: Sequence[object] = (),
    detect_crosstab: bool = False,
) -> list[Finding]:
    """Small or unrounded counts, cell by cell (rows numbered from 1)."""
    declared = [c for c in table.columns if c in set(count_columns)]
    columns = _count_columns(table, declared, detect_crosstab)
    findings = []
    for position, column in enumerate(table.columns):
        if column in columns:
            values = _numbers(table.iloc[:, position])
            findings += _column_count_findings(
                values, column, rules, column in declared, source, where
            )
    return findings


def _column_count_findings(values, column, rules, declared, source, where) -> list[Finding]:
    whole = np.isfinite(values) & (values == np.round(values)) & (values >= 0)
    floor = smallest_published(rules)
    findings = []
    for row in np.flatnonzero(np.isfinite(values)):
        value = values[row]
        if not whole[row]:
            if declared:
                findings.append(_finding(source, where, row, column, value, "unrounded-count"))
            continue
        if (0 < value < floor) or (value == 0 and rules.suppress_zeros):
            findings.append(_finding(source, where, row, column, value, "small-count"))
        elif value % rules.rounding_base:
            findings.append(_finding(source, where, row, column, value, "unrounded-count"))
    return findings


def _finding(source, where, row, column, value, rule) -> Finding:
    shown = int(value) if float(value).is_integer() else value
    return Finding(source, f"{where}row {row + 1}, column {str(column)!r}", str(shown), rule)


def _count_columns(table: pd.DataFrame, declared: list, detect_crosstab: bool) -> set:
    named = {c for c in table.columns if looks_like_count(c)}
    crosstab = set(_crosstab_columns(table)) if detect_crosstab else set()
    return set(declared) | named | crosstab


def looks_like_count(column: object) -> bool:
    name = str(column).strip()
    if name in _ATTRIBUTES or NOT_COUNT_NAME_PATTERN.match(name):
        return False
    return bool(COUNT_NAME_PATTERN.match(name))


def _crosstab_columns(table: pd.DataFrame) -> list:
    """Columns after the first, if every one of them holds only whole numbers >= 0."""
    columns = list(table.columns[1:])
    if not columns or len(table) == 0:
        return []
    for position in range(1, table.shape[1]):
        name = str(table.columns[position]).strip()
        values = _numbers(table.iloc[:, position])
        present = ~_blank(table.iloc[:, position])
        whole = np.isfinite(values) & (values == np.round(values)) & (values >= 0)
        if name in _ATTRIBUTES or not present.any() or not whole[present].all():
            return []
    return columns


def case_level_findings(
    table: pd.DataFrame,
    *,
    source: str = "table",
    where: str = "",
    id_pattern: str = CASE_ID_PATTERN,
) -> list[Finding]:
    """Identifier columns, identifier-like values, and tables that look like case rows."""
    findings = [
        Finding(source, f"{where}column {str(c)!r}", str(c), "identifier-column")
        for c in table.columns
        if IDENTIFIER_NAME_PATTERN.match(str(c).strip())
    ]
    findings += _identifier_values(table, source, where, re.compile(rf"^\s*(?:{id_pattern})\s*$"))
    attributes = sorted({str(c).strip() for c in table.columns} & _ATTRIBUTES)
    counts = [c for c in table.columns if looks_like_count(c)]
    if len(attributes) >= CASE_ATTRIBUTE_MIN and not counts and len(table) > 0:
        findings.append(Finding(source, f"{where}table", ", ".join(attributes), "case-level-rows"))
    return findings


def _identifier_values(table, source, where, pattern) -> list[Finding]:
    findings = []
    for position, column in enumerate(table.columns):
        text = table.iloc[:, position].astype("string").fillna("")
        rows = np.flatnonzero(text.str.match(pattern).to_numpy(dtype=bool))
        if rows.size:
            shown = ", ".join(str(r + 1) for r in rows[:5]) + (" ..." if rows.size > 5 else "")
            location = f"{where}column {str(column)!r}, rows {shown} ({rows.size} rows)"
            findings.append(Finding(source, location, str(text.iloc[rows[0]]), "identifier-value"))
    return findings


def assert_not_case_level(frame: pd.DataFrame, *, id_pattern: str = CASE_ID_PATTERN) -> None:
    """Raise :class:`DisclosureError` if ``frame`` holds case rows or identifiers."""
    findings = case_level_findings(frame, source="frame", id_pattern=id_pattern)
    if findings:
        raise DisclosureError(findings_listing("frame looks like case-level data", findings))


def findings_listing(headline: str, findings: Iterable[Finding]) -> str:
    """``headline:`` and one indented line per finding: the text of a refusal."""
    return headline + ":\n" + "\n".join(f"  {f}" for f in findings)


#: How printed and written tables show a missing or suppressed value.
_MISSING_TEXT = frozenset({"", "nan", "<na>", "none", "-", "[c]", "x"})


def _blank(series: pd.Series) -> np.ndarray:
    text = series.astype("string").str.strip().str.lower()
    return (series.isna() | text.isna() | text.isin(_MISSING_TEXT)).to_numpy(dtype=bool)


def _numbers(series: pd.Series) -> np.ndarray:
    """Numbers of a column read from text or numbers; anything else is NaN."""
    if pd.api.types.is_bool_dtype(series):
        return np.full(len(series), np.nan)
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float).to_numpy()
    text = series.astype("string").str.strip()
    text = text.where(
        ~text.str.fullmatch(r"\d{1,3}(,\d{3})+").fillna(False), text.str.replace(",", "")
    )
    # whole numbers with Dutch thousands points (1.235): only where every value of the
    # column is a whole number written so, so that decimals (0.125) keep their meaning
    present = text.dropna()
    dutch = present.str.fullmatch(r"[1-9]\d{0,2}(\.\d{3})+")
    if len(present) and dutch.any() and (dutch | present.str.fullmatch(r"\d+")).all():
        text = text.str.replace(".", "", regex=False)
    return pd.to_numeric(text, errors="coerce").astype(float).to_numpy()

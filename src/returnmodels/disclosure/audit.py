"""``returnmodels audit``: scan a results folder for outputs that break the disclosure rules.

What is read, and what each kind of file is checked for:

- ``*.csv``: must have a companion marker ``<name>.csv.disclosure.json`` (written by
  :func:`~returnmodels.disclosure.write_controlled_csv`) whose checksum matches and whose
  rules are at least as strict as the audit's, unless it lies under an exempt folder;
  its content is checked in every case: identifier columns and values, case rows, and
  counts that are small or unrounded. The marker names the count columns; in an unmarked
  CSV counts are recognised by name, or as a crosstab (label column, then whole numbers).
- ``*.ipynb`` (executed notebooks): every output; HTML tables (how notebooks show
  frames), plain-text tables (``print(frame)``), and identifier-like values in any text,
  tracebacks included.
- ``*.html`` / ``*.htm``: every table, and identifier-like values in the text.

Other files are listed as not checked (figures, JSON, NetCDF): the audit cannot vouch
for them. See :mod:`returnmodels.disclosure.checks` for how counts are told from other
numbers.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from returnmodels.disclosure import (
    CASE_ID_PATTERN,
    DEFAULT_RULES,
    MARKER_SUFFIX,
    DisclosureRules,
    Finding,
    check_table,
    marker_path,
    read_marker,
)
from returnmodels.disclosure.extract import html_tables, text_tables
from returnmodels.errors import ConfigError
from returnmodels.files import sha256_file

__all__ = ["AuditReport", "audit_csv", "audit_html", "audit_notebook", "audit_results"]

_KINDS = {".csv": "CSV", ".ipynb": "notebook", ".html": "HTML", ".htm": "HTML"}


@dataclass(frozen=True)
class AuditReport:
    """The findings of one audit, and what was and was not read."""

    root: Path
    rules: DisclosureRules
    findings: tuple[Finding, ...]
    checked: dict[str, int] = field(default_factory=dict)
    not_checked: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.findings

    def format(self) -> str:
        """Every finding, one a line, then a one-line verdict and what was read."""
        settings = ", ".join(f"{k}={v}" for k, v in self.rules.to_dict().items())
        kinds = [kind for kind in dict.fromkeys(_KINDS.values()) if kind in self.checked]
        read = ", ".join(f"{self.checked[kind]} {kind}" for kind in kinds) or "no files"
        skipped = ", ".join(f"{suffix}: {n}" for suffix, n in self.not_checked.items())
        lines = [str(finding) for finding in self.findings]
        if self.clean:
            lines.append(f"returnmodels audit: {self.root} is clean under {settings}")
        else:
            files = len({finding.source for finding in self.findings})
            lines.append(
                f"returnmodels audit: {len(self.findings)} findings in {files} files "
                f"of {self.root}, under {settings}"
            )
        lines.append(f"checked: {read}" + (f"; not checked: {skipped}" if skipped else ""))
        return "\n".join(lines)


def audit_results(
    root: str | os.PathLike,
    rules: DisclosureRules = DEFAULT_RULES,
    *,
    exempt: Sequence[str] = (),
    id_pattern: str = CASE_ID_PATTERN,
) -> AuditReport:
    """Audit every file under ``root``; ``exempt`` folders (relative to ``root``) need no
    markers on their CSVs, but their content is still checked."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"results folder {str(root)!r} does not exist or is not a folder")
    _check_pattern(id_pattern)
    exempt_parts = [Path(folder).parts for folder in exempt]
    findings: list[Finding] = []
    checked: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        if path.name.endswith(".csv" + MARKER_SUFFIX):
            continue
        kind = _KINDS.get(path.suffix.lower())
        if kind is None:
            skipped[path.suffix.lower() or "(no suffix)"] += 1
            continue
        checked[kind] += 1
        source = str(relative)
        if kind == "CSV":
            free = any(relative.parts[: len(p)] == p for p in exempt_parts)
            findings += audit_csv(
                path, rules, require_marker=not free, id_pattern=id_pattern, source=source
            )
        elif kind == "notebook":
            findings += audit_notebook(path, rules, id_pattern=id_pattern, source=source)
        else:
            findings += audit_html(path, rules, id_pattern=id_pattern, source=source)
    return AuditReport(root, rules, tuple(findings), dict(checked), dict(sorted(skipped.items())))


def _check_pattern(id_pattern: str) -> None:
    try:
        re.compile(id_pattern)
    except re.error as error:
        raise ConfigError(
            f"id pattern {id_pattern!r} is not a regular expression: {error}"
        ) from error


def audit_csv(
    path: Path,
    rules: DisclosureRules,
    *,
    require_marker: bool = True,
    id_pattern: str = CASE_ID_PATTERN,
    source: str | None = None,
) -> list[Finding]:
    """Marker and content findings of one CSV."""
    source = source or str(path)
    try:
        table = pd.read_csv(path, dtype="string", keep_default_na=False)
    except pd.errors.EmptyDataError:
        table = pd.DataFrame()
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        return [Finding(source, "file", type(error).__name__, "unreadable")]
    if not marker_path(path).exists():
        findings = (
            []
            if not require_marker
            else [Finding(source, "file", "no marker", "uncontrolled-output")]
        )
        return findings + check_table(
            table, rules, source=source, detect_crosstab=True, id_pattern=id_pattern
        )
    findings, counts = _marker_findings(path, rules, source)
    return findings + check_table(
        table, rules, source=source, count_columns=counts, id_pattern=id_pattern
    )


def _marker_findings(
    path: Path, rules: DisclosureRules, source: str
) -> tuple[list[Finding], list[str]]:
    try:
        marker = read_marker(path)
    except ConfigError as error:
        return [Finding(source, marker_path(path).name, str(error), "marker-invalid")], []
    findings = []
    if marker["sha256"] != sha256_file(path):
        findings.append(
            Finding(source, "file", "sha256 " + marker["sha256"][:12], "marker-mismatch")
        )
    if not marker["rules"].at_least_as_strict_as(rules):
        shown = ", ".join(f"{k}={v}" for k, v in marker["rules"].to_dict().items())
        findings.append(Finding(source, marker_path(path).name, shown, "weaker-rules"))
    return findings, marker["count_columns"]


def audit_notebook(
    path: Path,
    rules: DisclosureRules,
    *,
    id_pattern: str = CASE_ID_PATTERN,
    source: str | None = None,
) -> list[Finding]:
    """Findings in the outputs of an executed notebook (cells and outputs numbered from 1)."""
    source = source or str(path)
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cells = notebook["cells"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        return [Finding(source, "file", type(error).__name__, "unreadable")]
    findings = []
    for number, cell in enumerate(cells, start=1):
        for index, output in enumerate(cell.get("outputs", []) or [], start=1):
            where = f"cell {number}, output {index}, "
            findings += _output_findings(output, rules, source, where, id_pattern)
    return findings


def _output_findings(
    output: dict, rules, source: str, where: str, id_pattern: str
) -> list[Finding]:
    data = output.get("data", {}) or {}
    html = _text(data.get("text/html", ""))
    plain = _text(data.get("text/plain", "")) + _text(output.get("text", ""))
    plain += "\n".join(output.get("traceback", []) or [])
    tables = html_tables(html) if html else text_tables(plain)
    findings = _tables_findings(tables, rules, source, where, id_pattern)
    return findings + _text_id_findings(html + "\n" + plain, findings, source, where, id_pattern)


def audit_html(
    path: Path,
    rules: DisclosureRules,
    *,
    id_pattern: str = CASE_ID_PATTERN,
    source: str | None = None,
) -> list[Finding]:
    """Findings in the tables and text of an HTML file."""
    source = source or str(path)
    try:
        html = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return [Finding(source, "file", type(error).__name__, "unreadable")]
    findings = _tables_findings(html_tables(html), rules, source, "", id_pattern)
    return findings + _text_id_findings(html, findings, source, "", id_pattern)


def _tables_findings(tables, rules, source: str, where: str, id_pattern: str) -> list[Finding]:
    findings = []
    for number, table in enumerate(tables, start=1):
        findings += check_table(
            table,
            rules,
            source=source,
            where=f"{where}table {number}, ",
            detect_crosstab=True,
            id_pattern=id_pattern,
        )
    return findings


def _text_id_findings(text: str, found: list[Finding], source, where, id_pattern) -> list[Finding]:
    """Identifier-like values anywhere in the text, unless a table finding named them."""
    if any(finding.rule == "identifier-value" for finding in found):
        return []
    matches = re.findall(rf"(?<![\w])(?:{id_pattern})(?![\w])", text)
    if not matches:
        return []
    return [
        Finding(
            source, f"{where}text", f"{matches[0]} ({len(matches)} matches)", "identifier-value"
        )
    ]


def _text(value: object) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")

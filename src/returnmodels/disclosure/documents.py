"""Checks of the outputs that are not tables: JSON documents and text (logs).

* JSON (manifests, verdicts, configurations): every string is searched for identifiers
  and, when it spans several lines (an error message, a traceback), for printed tables;
  a number under a key that names a count (``n_cases``, ``total``, ...; see
  :mod:`returnmodels.disclosure.checks`) is checked as a count; a list of objects is
  checked as a table (case rows, counts).
* Text (``*.log``, ``*.txt``, ``*.md``): printed tables and identifiers, as in a
  notebook's text output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from returnmodels.disclosure.checks import (
    CASE_ID_PATTERN,
    Finding,
    check_table,
    looks_like_count,
)
from returnmodels.disclosure.extract import text_tables
from returnmodels.disclosure.rules import DisclosureRules

__all__ = [
    "content_findings",
    "document_findings",
    "json_findings",
    "tables_findings",
    "text_findings",
    "text_id_findings",
]


def json_findings(
    path: Path, rules: DisclosureRules, *, source: str, id_pattern: str = CASE_ID_PATTERN
) -> list[Finding]:
    """Findings in a JSON file (module docstring)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        return [Finding(source, "file", type(error).__name__, "unreadable")]
    return document_findings(document, rules, source=source, id_pattern=id_pattern)


def document_findings(
    document: object, rules: DisclosureRules, *, source: str, id_pattern: str = CASE_ID_PATTERN
) -> list[Finding]:
    """Findings in a parsed JSON document (module docstring)."""
    findings: list[Finding] = []
    texts: list[str] = []
    _walk(document, "$", rules, source, findings, texts)
    for text in (t for t in texts if "\n" in t):
        findings += tables_findings(text_tables(text), rules, source, "text ", id_pattern)
    return findings + text_id_findings("\n".join(texts), findings, source, "", id_pattern)


def _walk(value, where: str, rules, source: str, findings: list, texts: list) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if looks_like_count(key) and _is_whole(item):
                findings += check_table(
                    pd.DataFrame({str(key): [item]}), rules, source=source, where=f"{where}: "
                )
            _walk(item, f"{where}.{key}", rules, source, findings, texts)
    elif isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            findings += check_table(pd.DataFrame(value), rules, source=source, where=f"{where}: ")
        for index, item in enumerate(value):
            _walk(item, f"{where}[{index}]", rules, source, findings, texts)
    elif isinstance(value, str):
        texts.append(value)


def _is_whole(value: object) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
    )


def text_findings(
    path: Path, rules: DisclosureRules, *, source: str, id_pattern: str = CASE_ID_PATTERN
) -> list[Finding]:
    """Findings in a text file: printed tables and identifier-like values."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        return [Finding(source, "file", type(error).__name__, "unreadable")]
    return content_findings(text, rules, source=source, id_pattern=id_pattern)


def content_findings(
    text: str, rules: DisclosureRules, *, source: str, id_pattern: str = CASE_ID_PATTERN
) -> list[Finding]:
    """Findings in text: printed tables and identifier-like values."""
    findings = tables_findings(text_tables(text), rules, source, "", id_pattern)
    return findings + text_id_findings(text, findings, source, "", id_pattern)


def tables_findings(tables, rules, source: str, where: str, id_pattern: str) -> list[Finding]:
    """Findings of each table found in an output (numbered from 1)."""
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


def text_id_findings(text: str, found: list[Finding], source, where, id_pattern) -> list[Finding]:
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

"""``returnmodels audit``: every file of a folder checked; anything unchecked or internal refused.

What is read, and what each kind of file is checked for (see ``docs/disclosure.md``):

- ``*.csv``: a companion marker ``<name>.csv.disclosure.json`` (written by
  :func:`~returnmodels.disclosure.write_controlled_csv`) whose checksum matches and whose
  rules are at least as strict as the audit's, unless it lies under an exempt folder;
  content in every case: identifier columns and values, case rows, small or unrounded
  counts. The marker names the count columns; in an unmarked CSV counts are recognised
  by name, or as a crosstab (label column, then whole numbers).
- ``*.ipynb`` (executed notebooks): every output; HTML tables, plain-text tables,
  identifier-like values in any text (tracebacks included), and every embedded image
  as a figure (below).
- ``*.html`` / ``*.htm``: every table, identifier-like values, embedded images.
- ``*.json``: identifiers, printed tables in long strings, counts under count-like
  keys, lists of records as tables (:mod:`returnmodels.disclosure.documents`).
- ``*.log`` / ``*.txt`` / ``*.md``: printed tables and identifiers.
- ``*.nc``: a posterior must be in its released form (no data group, no per-cell
  variable, the release mark; :mod:`returnmodels.disclosure.posterior`); the internal
  posterior of an analysis folder is named as ``internal-file``.
- ``*.png``: the figure's mark of what it was drawn from
  (:mod:`returnmodels.disclosure.figure`), and its source tables.
- anything else: ``unchecked-file-type``: the audit cannot vouch for it.
- in notebooks, HTML, JSON and text: error messages and tracebacks that were not
  withheld (``error-message``, :mod:`returnmodels.disclosure.error_text`); a failed run's
  ``error.log``, which holds them, is named as ``internal-file``.

A folder with a ``release_manifest.json`` (written by ``returnmodels release``) must hold
exactly the files it lists, with the checksums it lists.
"""

from __future__ import annotations

import base64
import binascii
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
from returnmodels.disclosure.documents import (
    json_findings,
    tables_findings,
    text_findings,
    text_id_findings,
)
from returnmodels.disclosure.error_text import error_log_finding, file_error_findings
from returnmodels.disclosure.extract import html_tables, text_tables
from returnmodels.disclosure.figure import png_findings
from returnmodels.disclosure.fit_tables import fit_table_findings
from returnmodels.disclosure.posterior import netcdf_findings
from returnmodels.errors import ConfigError
from returnmodels.files import sha256_file

__all__ = [
    "RELEASE_MANIFEST",
    "AuditReport",
    "audit_csv",
    "audit_file",
    "audit_html",
    "html_findings",
    "audit_notebook",
    "audit_results",
    "file_kind",
]

#: The manifest ``returnmodels release`` writes at the top of a release folder.
RELEASE_MANIFEST = "release_manifest.json"

_KINDS = {
    ".csv": "CSV",
    ".ipynb": "notebook",
    ".html": "HTML",
    ".htm": "HTML",
    ".json": "JSON",
    ".log": "text",
    ".txt": "text",
    ".md": "text",
    ".nc": "NetCDF",
    ".png": "figure",
}
#: A figure embedded in HTML: an ``<img>`` whose source is a PNG data URI (images in
#: style sheets, such as a template's icons, are not figures).
_IMAGE = re.compile(
    r"<img\b[^>]*?\bsrc\s*=\s*[\"']data:image/png;base64,([A-Za-z0-9+/=\s]+)[\"']", re.IGNORECASE
)


def file_kind(path: Path) -> str | None:
    """The kind of output ``path`` is read as, or ``None`` for a kind the audit cannot read."""
    return _KINDS.get(path.suffix.lower())


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
        internal = sorted({f.source for f in self.findings if f.rule == "internal-file"})
        if internal:
            lines.append(
                f"internal files (for the analysis folder, not for release): {', '.join(internal)}"
                f"; `returnmodels release {self.root} --out RELEASE_DIR` writes what may leave"
            )
        if self.clean:
            lines.append(f"returnmodels audit: {self.root} is clean under {settings}")
        else:
            files = len({finding.source for finding in self.findings})
            lines.append(
                f"returnmodels audit: {len(self.findings)} findings in {files} files "
                f"of {self.root}, under {settings}"
            )
        lines.append(
            f"checked: {read}" + (f"; refused as unreadable kinds: {skipped}" if skipped else "")
        )
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
        kind = file_kind(path)
        if kind is None:
            skipped[path.suffix.lower() or "(no suffix)"] += 1
        else:
            checked[kind] += 1
        free = any(relative.parts[: len(p)] == p for p in exempt_parts)
        findings += audit_file(
            path, rules, source=str(relative), require_marker=not free, id_pattern=id_pattern
        )
    if (root / RELEASE_MANIFEST).is_file():
        findings += release_manifest_findings(root)
    return AuditReport(root, rules, tuple(findings), dict(checked), dict(sorted(skipped.items())))


def audit_file(
    path: Path,
    rules: DisclosureRules,
    *,
    source: str | None = None,
    require_marker: bool = True,
    id_pattern: str = CASE_ID_PATTERN,
) -> list[Finding]:
    """The findings of one file, by its kind (see the module docstring)."""
    source = source or str(path)
    if internal := error_log_finding(path, source):
        return [internal]
    kind = file_kind(path)
    if kind is None:
        shown = path.suffix.lower() or "no suffix"
        return [Finding(source, "file", f"{shown} file", "unchecked-file-type")]
    if kind == "CSV":
        return audit_csv(
            path, rules, require_marker=require_marker, id_pattern=id_pattern, source=source
        )
    if kind == "figure":
        return png_findings(path, rules, source=source, folder=path.parent)
    readers = {
        "notebook": audit_notebook,
        "HTML": audit_html,
        "JSON": json_findings,
        "text": text_findings,
        "NetCDF": netcdf_findings,
    }
    findings = readers[kind](path, rules, id_pattern=id_pattern, source=source)
    return findings + file_error_findings(path, kind, source)


def release_manifest_findings(root: Path) -> list[Finding]:
    """Files of a release folder that its manifest does not list, or lists otherwise."""
    try:
        listed = json.loads((root / RELEASE_MANIFEST).read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        return [Finding(RELEASE_MANIFEST, "file", str(error), "release-manifest")]
    present = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} - {
        RELEASE_MANIFEST
    }
    findings = [
        Finding(name, "file", "not listed in " + RELEASE_MANIFEST, "release-manifest")
        for name in sorted(present - set(listed))
    ]
    for name, entry in sorted(listed.items()):
        if name not in present:
            findings.append(Finding(name, "file", "listed but missing", "release-manifest"))
        elif sha256_file(root / name) != entry.get("sha256"):
            findings.append(
                Finding(name, "file", "sha256 differs from the manifest", "release-manifest")
            )
    return findings


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
    findings += fit_table_findings(path, table, rules, source)
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
    findings = tables_findings(tables, rules, source, where, id_pattern)
    findings += text_id_findings(html + "\n" + plain, findings, source, where, id_pattern)
    images = [_text(data["image/png"])] if "image/png" in data else []
    return findings + _image_findings(images + _IMAGE.findall(html), rules, source, where)


def _image_findings(images: list[str], rules, source: str, where: str) -> list[Finding]:
    """Embedded (base64) PNG images, each checked as a figure."""
    findings = []
    for number, encoded in enumerate(images, start=1):
        try:
            png = base64.b64decode("".join(encoded.split()), validate=True)
        except (ValueError, binascii.Error):
            png = b""
        findings += png_findings(png, rules, source=source, where=f"{where}image {number}, ")
    return findings


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
    return html_findings(html, rules, source=source, id_pattern=id_pattern)


def html_findings(
    html: str, rules: DisclosureRules, *, source: str, id_pattern: str = CASE_ID_PATTERN
) -> list[Finding]:
    """Findings in an HTML page: its tables, identifiers in its text, embedded figures."""
    findings = tables_findings(html_tables(html), rules, source, "", id_pattern)
    findings += text_id_findings(_IMAGE.sub("", html), findings, source, "", id_pattern)
    return findings + _image_findings(_IMAGE.findall(html), rules, source, "")


def _text(value: object) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")

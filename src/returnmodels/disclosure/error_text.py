"""Error messages in outputs: found, so that none leaves the secure environment.

A failed run's message may quote the data: the data layer's ``ContractError`` names the
column, the row and the value it found (``column 'nationality', row 3: found 'ABC'``), a
``ConfigError`` the levels that are not in the model. The batch runner therefore keeps a
run's messages in one internal file, :data:`ERROR_LOG` of the run's folder, and writes
:data:`WITHHELD` wherever else it speaks of the error (the notebook's error output, its
HTML, ``manifest.json``, ``index.html``).

These pure functions find what was not withheld, as findings of rule ``error-message``
(the finding's value says what kind of text it is, never the text):

- a notebook: an error output whose ``evalue`` or ``traceback`` is not the withheld text;
  a stream output (or a text display) holding a Python traceback; a ``stderr`` stream
  holding an exception's message (``ValueError: ...``);
- an HTML page: a traceback anywhere in its text; an error or ``stderr`` block (as
  nbconvert and ``index.html`` write them) holding an exception's message;
- a JSON document: an ``error`` object whose ``message``, ``evalue`` or ``traceback``
  is not the withheld text (or an ``error`` string that is not); a traceback in any string;
- text (``*.log``, ``*.txt``, ``*.md``): a traceback.

:func:`error_log_finding` names the runner's :data:`ERROR_LOG` as ``internal-file``:
kept in the analysis folder, never released.
"""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

from returnmodels.disclosure.checks import Finding

__all__ = [
    "ERROR_LOG",
    "WITHHELD",
    "document_error_findings",
    "error_log_finding",
    "file_error_findings",
    "html_error_findings",
    "is_withheld",
    "notebook_error_findings",
    "output_error_findings",
    "plain",
    "quotes_error",
    "quotes_traceback",
    "text_error_findings",
]

#: The internal file of a run's folder that holds its full error messages.
ERROR_LOG = "error.log"
#: What every other file says instead of an error's message (one fixed sentence, so the
#: audit can tell a withheld message from a quoted one).
WITHHELD = (
    "message withheld (it may quote the data): read error.log in the folder of this run, "
    "inside the secure environment"
)
RULE = "error-message"

#: ANSI escape sequences (IPython colours its tracebacks).
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: A Python traceback: its header, a frame (CPython's ``File "x.py", line 3`` or
#: IPython's ``File /x.py:3, in f``), or IPython's ``Cell In[4], line 1``.
_TRACEBACK = re.compile(
    r"Traceback \(most recent call last\)"
    r"|^[ \t]*File \"[^\"\n]+\", line \d+"
    r"|^[ \t]*File [^\n,]+:\d+, in "
    r"|\bCell In\[\d*\], line \d+",
    re.MULTILINE,
)
#: A line that gives an exception's message: ``ValueError: ...``, ``module.ContractError:
#: ...``, ``KeyError in cell [4]: ...`` (warnings, ``UserWarning: ...``, are not errors).
_EXCEPTION_LINE = re.compile(
    r"^[ \t]*(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception)(?: in cell \[\d+\])?:[ \t]*\S",
    re.MULTILINE,
)
_WITHHELD_LINE = re.compile(rf"^(?:[A-Za-z_][\w.]*: )?{re.escape(WITHHELD)}$")
#: Error and stderr blocks of an HTML page: nbconvert's (lab and classic templates) and
#: those of the batch's ``index.html``.
_HTML_BLOCK = re.compile(
    r"<(div|pre)\b[^>]*(?:application/vnd\.jupyter\.stderr|\boutput_(?:error|stderr)\b"
    r"|class=\"error\")[^>]*>(.*?)</\1>",
    re.IGNORECASE | re.DOTALL,
)
_HTML_CODE = re.compile(r"<(script|style)\b.*?</\1>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def plain(text: object) -> str:
    """``text`` (a string or a notebook's list of lines) without ANSI colour codes."""
    joined = "".join(text) if isinstance(text, list) else str(text or "")
    return _ANSI.sub("", joined)


def is_withheld(text: object) -> bool:
    """True for no text, the withheld sentence, or ``Name: `` and the withheld sentence."""
    stripped = plain(text).strip()
    return not stripped or bool(_WITHHELD_LINE.match(stripped))


def quotes_traceback(text: object) -> bool:
    """True when ``text`` holds a Python traceback."""
    return bool(_TRACEBACK.search(plain(text)))


def quotes_error(text: object) -> bool:
    """True when ``text`` holds a traceback or an exception's message (the withheld
    sentence aside)."""
    rest = plain(text).replace(WITHHELD, "")
    return bool(_TRACEBACK.search(rest) or _EXCEPTION_LINE.search(rest))


def output_error_findings(output: dict, source: str, where: str = "") -> list[Finding]:
    """Findings of one notebook output (``where`` names it: ``cell 3, output 1, ``)."""
    kind = output.get("output_type")
    if kind == "error":
        lines = output.get("traceback") or []
        if is_withheld(output.get("evalue")) and all(is_withheld(line) for line in lines):
            return []
        return [Finding(source, f"{where}error", "error output not withheld", RULE)]
    if kind == "stream":
        stderr = output.get("name") == "stderr"
        text = output.get("text", "")
        if quotes_error(text) if stderr else quotes_traceback(text):
            return [Finding(source, f"{where}{output.get('name')}", "error message", RULE)]
        return []
    shown = (output.get("data") or {}).get("text/plain", "")
    if quotes_traceback(shown):
        return [Finding(source, f"{where}text", "traceback", RULE)]
    return []


def notebook_error_findings(notebook: dict, source: str) -> list[Finding]:
    """Findings of every output of a notebook (cells and outputs numbered from 1)."""
    findings = []
    cells = notebook.get("cells")
    for number, cell in enumerate(cells if isinstance(cells, list) else [], start=1):
        outputs = cell.get("outputs") if isinstance(cell, dict) else None
        for index, output in enumerate(outputs if isinstance(outputs, list) else [], start=1):
            if isinstance(output, dict):
                where = f"cell {number}, output {index}, "
                findings += output_error_findings(output, source, where)
    return findings


def html_error_findings(html: str, source: str) -> list[Finding]:
    """Error or stderr blocks quoting an exception's message; else a traceback in the text."""
    html = _HTML_CODE.sub("", html)
    findings = [
        Finding(source, f"error block {number}", "error message", RULE)
        for number, match in enumerate(_HTML_BLOCK.finditer(html), start=1)
        if quotes_error(unescape(_TAG.sub("", match.group(2))))
    ]
    if not findings and quotes_traceback(unescape(_TAG.sub("", html))):
        findings.append(Finding(source, "text", "traceback", RULE))
    return findings


def document_error_findings(document: object, source: str, where: str = "$") -> list[Finding]:
    """``error`` objects that quote their message, and tracebacks in any string."""
    if isinstance(document, dict):
        findings = []
        for key, value in document.items():
            if key == "error":
                findings += _error_object_findings(value, source, f"{where}.{key}")
            findings += document_error_findings(value, source, f"{where}.{key}")
        return findings
    if isinstance(document, list):
        return [
            finding
            for index, item in enumerate(document)
            for finding in document_error_findings(item, source, f"{where}[{index}]")
        ]
    if isinstance(document, str) and quotes_traceback(document):
        return [Finding(source, where, "traceback", RULE)]
    return []


def _error_object_findings(value: object, source: str, where: str) -> list[Finding]:
    if isinstance(value, str) and not is_withheld(value):
        return [Finding(source, where, "error message", RULE)]
    if not isinstance(value, dict):
        return []
    findings = []
    for key in ("message", "evalue", "traceback"):
        text = value.get(key)
        lines = text if isinstance(text, list) else [text]
        if not all(isinstance(line, str | None) and is_withheld(line) for line in lines):
            findings.append(Finding(source, f"{where}.{key}", "error message", RULE))
    return findings


def text_error_findings(text: str, source: str) -> list[Finding]:
    """A traceback in a text file or log, named by its first line."""
    match = _TRACEBACK.search(plain(text))
    if match is None:
        return []
    line = plain(text).count("\n", 0, match.start()) + 1
    return [Finding(source, f"line {line}", "traceback", RULE)]


def file_error_findings(path: Path, kind: str, source: str) -> list[Finding]:
    """The findings above for a file of the audit's ``kind`` (``notebook``, ``HTML``,
    ``JSON``, ``text``); none for other kinds or a file the audit's reader already
    reports as unreadable."""
    if kind not in ("notebook", "HTML", "JSON", "text"):
        return []
    try:
        text = path.read_text(encoding="utf-8")
        if kind == "HTML":
            return html_error_findings(text, source)
        if kind == "text":
            return text_error_findings(text, source)
        document = json.loads(text)
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return []
    if kind == "notebook":
        return notebook_error_findings(document if isinstance(document, dict) else {}, source)
    return document_error_findings(document, source)


def error_log_finding(path: Path, source: str) -> Finding | None:
    """``internal-file`` for the runner's :data:`ERROR_LOG`, else ``None``."""
    if path.name != ERROR_LOG:
        return None
    return Finding(source, "file", "a failed run's full error messages", "internal-file")

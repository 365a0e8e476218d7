"""A run's error messages: kept in its internal ``error.log``, withheld everywhere else.

A failed run's message may quote the data (the data layer's ``ContractError`` names the
column, the row and the value it found), and so may a traceback a notebook printed. Only
the run's :data:`ERROR_LOG` keeps them: ``returnmodels audit`` names it as an internal
file and ``returnmodels release`` never copies it. Everything else the runner writes
about an error says only the exception's type, the cell and the fixed sentence
:data:`WITHHELD`, which says where the message is: the executed notebook's error outputs
(``ename`` kept), hence its HTML export, ``manifest.json``'s ``error``, the progress note
and ``index.html``. :func:`withhold_errors` runs in the staging folder, after the notebook
and before the HTML export and the manifest, so no published file ever held a message.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from returnmodels.disclosure.error_text import (
    ERROR_LOG,
    WITHHELD,
    output_error_findings,
    plain,
    quotes_error,
)

__all__ = [
    "ERROR_LOG",
    "WITHHELD",
    "failure_note",
    "public_error",
    "redact_notebook",
    "withhold_errors",
]

_NAME = re.compile(r"^[A-Za-z_][\w.]*$")
_HEADER = (
    "The full error messages of this run. This file is internal: it may quote the data, so "
    "it stays in the analysis folder (`returnmodels release` never copies it)."
)


def withhold_errors(
    staging: Path, executed: Path, log: Path, result: dict[str, Any]
) -> dict[str, Any] | None:
    """Move every error message of a run into ``staging/error.log``: the worker's
    ``result`` (the failure and a retried kernel start), the executed notebook's outputs
    that quote an error, and the worker's ``log`` when it quotes one (it is then replaced
    by :data:`WITHHELD`). Return the manifest's ``error``: type, cell, withheld message."""
    sections = _result_sections(result)
    notebook = _read_notebook(executed)
    withheld = redact_notebook(notebook) if notebook else []
    if withheld:
        executed.write_text(_notebook_json(notebook), encoding="utf-8")
        sections += [f"{executed.name}, {text}" for text in withheld]
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    if quotes_error(text):
        log.write_text(WITHHELD + "\n", encoding="utf-8")
        sections.append(f"{log.name} (the notebook worker's output):\n{text.rstrip()}")
    if sections:
        body = "\n\n".join([_HEADER, *sections])
        (staging / ERROR_LOG).write_text(body + "\n", encoding="utf-8")
    return public_error(result.get("error"))


def public_error(error: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the manifest says of a failure: the exception's type, the cell, :data:`WITHHELD`."""
    if not error:
        return None
    return {"name": _name(error.get("name")), "cell": error.get("cell"), "message": WITHHELD}


def failure_note(error: dict[str, Any] | None) -> str:
    """All that the progress table and ``index.html`` say of a failure: ``ValueError in
    cell [4]: `` and :data:`WITHHELD`."""
    public = public_error(error) or {"name": "Error", "cell": None}
    cell = f" in cell [{public['cell']}]" if public["cell"] is not None else ""
    return f"{public['name']}{cell}: {WITHHELD}"


def redact_notebook(notebook: dict[str, Any]) -> list[str]:
    """Withhold, in place, every output of ``notebook`` that quotes an error (as the audit
    finds them: :func:`~returnmodels.disclosure.error_text.output_error_findings`); return
    the withheld texts, each named by its cell."""
    withheld = []
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        for index, output in enumerate(cell.get("outputs") or [], start=1):
            if output_error_findings(output, source=""):
                counted = cell.get("execution_count")
                label = f"cell {number} (In [{counted}]), output {index}"
                withheld.append(f"{label}:\n{_output_text(output).rstrip()}")
                _withhold_output(output)
    return withheld


def _result_sections(result: dict[str, Any]) -> list[str]:
    titles = {
        "retried_after": "the first attempt (its kernel did not start; retried once)",
        "error": "the run failed",
    }
    sections = []
    for key, title in titles.items():
        error = result.get(key)
        if error:
            cell = f" in cell [{error['cell']}]" if error.get("cell") is not None else ""
            sections.append(f"{title}: {error.get('name')}{cell}:\n{error.get('message')}")
    return sections


def _output_text(output: dict[str, Any]) -> str:
    if output.get("output_type") == "error":
        lines = output.get("traceback") or [f"{output.get('ename')}: {output.get('evalue')}"]
        return plain("\n".join(plain(line) for line in lines))
    if output.get("output_type") == "stream":
        return plain(output.get("text", ""))
    return plain((output.get("data") or {}).get("text/plain", ""))


def _withhold_output(output: dict[str, Any]) -> None:
    if output.get("output_type") == "error":
        output["ename"] = _name(output.get("ename"))
        output["evalue"] = WITHHELD
        output["traceback"] = [f"{output['ename']}: {WITHHELD}"]
    elif output.get("output_type") == "stream":
        output["text"] = WITHHELD + "\n"
    else:
        output["data"] = {"text/plain": WITHHELD}


def _name(name: object) -> str:
    """An exception's type as published: an identifier, else ``Error``."""
    return name if isinstance(name, str) and _NAME.match(name) else "Error"


def _read_notebook(executed: Path) -> dict[str, Any] | None:
    """The executed notebook, or None when there is none or it cannot be read (the audit
    then refuses it as ``unreadable``, and the release withholds it)."""
    try:
        notebook = json.loads(executed.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return notebook if isinstance(notebook, dict) else None


def _notebook_json(notebook: dict[str, Any]) -> str:
    """The notebook as nbformat writes it (sorted keys, one-space indent)."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"

"""``OUT/index.html``: every run with its state, verdict, disclosure check and links;
opens without a server.

Static HTML with relative links only and no JavaScript, written atomically after every
change of state, so a browser pointed at the file always sees a whole page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path

from returnmodels.batch.progress import Progress, RunState
from returnmodels.files import atomic_write

__all__ = ["write_index", "INDEX"]

INDEX = "index.html"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; } td, th { padding: .3em .8em; border-bottom: 1px solid #ddd;
text-align: left; vertical-align: top; } .failed { color: #b00020; font-weight: bold; }
.done { color: #1b5e20; } .skipped { color: #555; } .queued, .running { color: #8a6d00; }
.error { font-family: monospace; white-space: pre-wrap; max-width: 60em; }
"""


def write_index(out: Path, progress: Progress, batch: Path, smoke: bool) -> Path:
    """Write ``out/index.html`` from the current state of ``progress``."""
    rows = "\n".join(_row(out, run) for run in progress.runs.values())
    counts = ", ".join(f"{progress.count(s)} {s}" for s in ("done", "skipped", "failed"))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>returnmodels results</title>
<style>{_STYLE}</style></head><body>
<h1>returnmodels results</h1>
<p>Batch <code>{escape(str(batch))}</code>{" (smoke test)" if smoke else ""}: {counts}.
Updated {datetime.now(UTC).isoformat(timespec="seconds")}.</p>
<table><thead><tr><th>Run</th><th>Status</th><th>Verdict</th><th>Disclosure</th>
<th>Duration</th><th>Files</th><th>Details</th></tr></thead>
<tbody>
{rows}
</tbody></table></body></html>
"""
    path = out / INDEX
    with atomic_write(path) as temporary:
        temporary.write_text(page, encoding="utf-8")
    return path


def _row(out: Path, run: RunState) -> str:
    manifest = run.manifest or {}
    folder = out / run.name
    links = []
    if folder.is_dir():
        links.append(_link(f"{run.name}/", "folder"))
        for key, label in (("html", "notebook (HTML)"), ("executed_notebook", "notebook")):
            if manifest.get(key) and (folder / manifest[key]).is_file():
                links.append(_link(f"{run.name}/{manifest[key]}", label))
        links.append(_link(f"{run.name}/manifest.json", "manifest"))
    error = manifest.get("error") if run.state == "failed" else None
    details = escape(run.note)
    if error:
        cell = f" in cell [{error['cell']}]" if error.get("cell") is not None else ""
        details = (
            f'<div class="error">{escape(error["name"])}{cell}: {escape(error["message"])}</div>'
            f"partial notebook: <code>{escape(str(manifest.get('partial_notebook')))}</code>"
        )
    took = f"{run.duration_s:.1f} s" if run.duration_s is not None else ""
    verdict = "" if run.verdict is None else escape(str(run.verdict))
    return (
        f'<tr><td>{escape(run.name)}</td><td class="{run.state}">{run.state}</td>'
        f"<td>{verdict}</td><td>{_disclosure(manifest)}</td><td>{took}</td>"
        f"<td>{' · '.join(links)}</td><td>{details}</td></tr>"
    )


def _disclosure(manifest: dict) -> str:
    """The run folder's audit: findings, internal files (released by ``returnmodels
    release`` only), or clean."""
    check = manifest.get("disclosure")
    if not check:
        return ""
    if check["findings"]:
        return f'<span class="failed">{len(check["findings"])} findings</span>'
    if check["internal"]:
        return f"internal: {escape(', '.join(check['internal']))}"
    return "clean"


def _link(href: str, label: str) -> str:
    return f'<a href="{escape(href, quote=True)}">{escape(label)}</a>'

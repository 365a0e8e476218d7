"""``OUT/index.html``: the results first, then every run with its state, verdict,
disclosure check and links; opens without a server.

The page leads with the headline: the study's published margins against the main fit's
(read from the controlled ``report/margins_with_targets.csv``, or else
``fit-group_predictors/margins.csv``), with links to the reports; then one row per run
with its verdict and a thumbnail of its key figure (:data:`KEY_FIGURES`, a relative
``<img src>`` to the run's own PNG). Static HTML with relative links only and no
JavaScript, written atomically after every change of state, so a browser pointed at the
file always sees a whole page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pandas as pd

from returnmodels.batch.failure import failure_note
from returnmodels.batch.progress import Progress, RunState
from returnmodels.files import atomic_write
from returnmodels.report.labels import label, value_label
from returnmodels.report.notebook import margin_targets
from returnmodels.report.page import REPORT, interval, percent

__all__ = ["INDEX", "KEY_FIGURES", "MAIN_FIT", "write_index"]

INDEX = "index.html"
#: The fit whose margins the headline shows when the report has not run.
MAIN_FIT = "fit-group_predictors"
#: A run's key figure: the first of these its folder holds.
KEY_FIGURES: tuple[str, ...] = (
    "margins_n_procedures.png",
    "loo_comparison.png",
    "verified_share.png",
    "assisted_share_by_procedures.png",
    "sbc_ranks.png",
    "rank.png",
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; } td, th { padding: .3em .8em; border-bottom: 1px solid #ddd;
text-align: left; vertical-align: top; } .failed { color: #b00020; font-weight: bold; }
.done { color: #1b5e20; } .skipped { color: #555; } .queued, .running { color: #8a6d00; }
.error { font-family: monospace; white-space: pre-wrap; max-width: 60em; }
.headline td.num { text-align: right; font-variant-numeric: tabular-nums; }
img.thumb { width: 180px; border: 1px solid #ddd; }
"""


def write_index(out: Path, progress: Progress, batch: Path, smoke: bool) -> Path:
    """Write ``out/index.html`` from the current state of ``progress``."""
    rows = "\n".join(_row(out, run) for run in progress.runs.values())
    counts = ", ".join(f"{progress.count(s)} {s}" for s in ("done", "skipped", "failed"))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>returnmodels results</title>
<style>{_STYLE}</style></head><body>
<h1>returnmodels results</h1>
{_headline(out, smoke)}
<h2>Runs</h2>
<p>Batch <code>{escape(str(batch))}</code>{" (smoke test)" if smoke else ""}: {counts}.
Updated {datetime.now(UTC).isoformat(timespec="seconds")}.</p>
<table><thead><tr><th>Run</th><th>Status</th><th>Verdict</th><th>Key figure</th>
<th>Disclosure</th><th>Duration</th><th>Files</th><th>Details</th></tr></thead>
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
        if (folder / REPORT).is_file():
            links.append(_link(f"{run.name}/{REPORT}", "report"))
        for key, label in (("html", "notebook (HTML)"), ("executed_notebook", "notebook")):
            if manifest.get(key) and (folder / manifest[key]).is_file():
                links.append(_link(f"{run.name}/{manifest[key]}", label))
        links.append(_link(f"{run.name}/manifest.json", "manifest"))
    error = manifest.get("error") if run.state == "failed" else None
    details = escape(run.note)
    if error:
        details = (
            f'<div class="error">{escape(failure_note(error))}</div>'
            f"partial notebook: <code>{escape(str(manifest.get('partial_notebook')))}</code>"
        )
    took = f"{run.duration_s:.1f} s" if run.duration_s is not None else ""
    verdict = "" if run.verdict is None else escape(str(run.verdict))
    return (
        f'<tr><td>{escape(run.name)}</td><td class="{run.state}">{run.state}</td>'
        f"<td>{verdict}</td><td>{_thumbnail(folder, run.name)}</td>"
        f"<td>{_disclosure(manifest)}</td><td>{took}</td>"
        f"<td>{' · '.join(links)}</td><td>{details}</td></tr>"
    )


def _headline_margins(out: Path) -> tuple[pd.DataFrame, str] | None:
    """The margins with the study's targets, and where they were read from."""
    for source in (Path("report") / "margins_with_targets.csv", Path(MAIN_FIT) / "margins.csv"):
        if (out / source).is_file():
            table = pd.read_csv(out / source, dtype={"value": str})
            if "target" not in table.columns:
                table = margin_targets(table)
            return table[table["target"].notna()], source.as_posix()
    return None


def _headline(out: Path, smoke: bool) -> str:
    """The study's published margins against the main fit's, and the reports' links."""
    found = _headline_margins(out)
    if found is None:
        return "<p>No fit yet: the headline appears here when the main fit has run.</p>"
    table, source = found
    verdict = str(table["convergence"].iloc[0]) if "convergence" in table.columns else ""
    rows = "".join(
        f"<tr><td>{escape(label(r.predictor))}</td><td>{escape(value_label(r.predictor, r.value))}"
        f'</td><td class="num">{percent(r.target)}</td>'
        f'<td class="num">{interval(r.mean, r.hdi_lower, r.hdi_upper)}</td></tr>'
        for r in table.itertuples(index=False)
    )
    reports = [
        _link(f"{name}/{REPORT}", text)
        for name, text in (("report", "the report"), ("report-nl", "het rapport (Nederlands)"))
        if (out / name / REPORT).is_file()
    ]
    warning = " Smoke run: these numbers mean nothing." if smoke else ""
    return (
        f"<h2>Headline: the study's figures and the model's</h2>"
        f"<p>Predicted share ending in assisted return, 94% intervals (from "
        f"<code>{escape(source)}</code>; convergence {escape(verdict) or 'unknown'}).{warning}"
        f'</p><table class="headline"><thead><tr><th>predictor</th><th>value</th>'
        f"<th>study</th><th>model (94% interval)</th></tr></thead><tbody>{rows}</tbody></table>"
        + (f"<p>Read {' · '.join(reports)}.</p>" if reports else "")
    )


def _thumbnail(folder: Path, name: str) -> str:
    """A thumbnail of the run's key figure, linked to the figure itself."""
    figure = next((f for f in KEY_FIGURES if (folder / f).is_file()), None)
    if figure is None:
        return ""
    href = escape(f"{name}/{figure}", quote=True)
    return f'<a href="{href}"><img class="thumb" src="{href}" alt="{escape(figure)}"></a>'


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

"""``report.html``: the study's figures for a reader, without code.

:func:`write_report` builds one self-contained HTML page (figures embedded as PNG data
URIs, no JavaScript, no external file) from what notebook ``04_report`` has already
written through its :class:`~returnmodels.report.run_folder.RunFolder`: the controlled
tables (CSV with their markers) and the marked figures, plus each fit's
``diagnostics.json`` and manifests. Nothing is recomputed, so the page shows exactly
the published numbers, and the folder's writer checks the page like the audit does.

Numbers are formatted for publication (:func:`percent`, :func:`interval`: percentages
with one decimal and the 94% interval; counts as whole numbers), names become labels
(:mod:`returnmodels.report.labels`), every figure has a numbered caption, and the page
ends with the disclosure rules it was made under and its provenance (data checksum,
package versions, git commit). ``language`` is ``"en"`` or ``"nl"``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pandas as pd

from returnmodels.paths import project_root
from returnmodels.report.labels import label, parameter_label, text, value_label
from returnmodels.report.run_folder import RunFolder
from returnmodels.versions import git_commit, package_versions

__all__ = ["REPORT", "difference", "interval", "percent", "population_rows", "write_report"]

#: The page's name in its run folder.
REPORT = "report.html"

_STYLE = """
body { font-family: Georgia, 'Times New Roman', serif; max-width: 58em; margin: 2em auto;
  padding: 0 1em; color: #1a1a1a; line-height: 1.45; }
h1, h2, caption, th, .verdict, .note { font-family: system-ui, sans-serif; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em;
  border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; font-size: .92em; }
caption { caption-side: top; text-align: left; font-size: .9em; padding-bottom: .4em; }
th, td { padding: .25em .8em; border-bottom: 1px solid #e2e2e2; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: .9em; color: #333; }
.pass { color: #1b5e20; font-weight: bold; } .fail { color: #b00020; font-weight: bold; }
.smoke { border: 2px solid #b00020; background: #fdecea; padding: .6em; }
.note { font-size: .85em; color: #555; }
"""


def percent(share: float, language: str = "en") -> str:
    """``0.1896`` -> ``19.0%`` (``19,0%`` in Dutch); missing -> an en dash."""
    if pd.isna(share):
        return "–"
    shown = f"{100 * float(share):.1f}%"
    return shown.replace(".", ",") if language == "nl" else shown


def interval(mean: float, lower: float, upper: float, language: str = "en") -> str:
    """``19.0% (17.2–20.9%)``: the estimate and its 94% interval."""
    return f"{percent(mean, language)} ({percent(lower, language)[:-1]}–{percent(upper, language)})"


def difference(mean: float, lower: float, upper: float, language: str = "en") -> str:
    """A difference of shares in percentage points: ``-4.8 pp (-9.5 to -0.5)``."""
    to = "tot" if language == "nl" else "to"
    shown = [_number(100 * float(v), language, 1) for v in (mean, lower, upper)]
    return f"{shown[0]} pp ({shown[1]} {to} {shown[2]})"


def _number(value: float, language: str = "en", digits: int = 2) -> str:
    shown = f"{float(value):.{digits}f}".replace("-", "−")
    return shown.replace(".", ",") if language == "nl" else shown


@dataclass
class _Page:
    language: str
    parts: list[str] = field(default_factory=list)
    figures: int = 0
    tables: int = 0

    def add(self, html: str) -> None:
        self.parts.append(html)

    def section(self, key: str) -> None:
        self.add(f"<h2>{escape(text(key, self.language))}</h2>")

    def table(self, frame: pd.DataFrame, caption: str, numeric: Sequence[str] = ()) -> None:
        self.tables += 1
        head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
        rows = "".join(
            "<tr>"
            + "".join(
                f'<td class="num">{escape(str(v))}</td>'
                if c in numeric
                else f"<td>{escape(str(v))}</td>"
                for c, v in zip(frame.columns, row, strict=True)
            )
            + "</tr>"
            for row in frame.itertuples(index=False)
        )
        number = f"{text('table', self.language)} {self.tables}"
        self.add(
            f"<table><caption><b>{number}.</b> {escape(caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        )

    def figure(self, png: Path, caption: str) -> None:
        if not png.is_file():
            return
        self.figures += 1
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        number = f"{text('figure', self.language)} {self.figures}"
        self.add(
            f'<figure><img src="data:image/png;base64,{data}" alt="{escape(caption, quote=True)}">'
            f"<figcaption><b>{number}.</b> {escape(caption)}</figcaption></figure>"
        )


def _read(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path, dtype={"value": str}) if path.is_file() else None


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def write_report(
    folder: RunFolder,
    fits: Mapping[str, Path],
    *,
    model: str,
    competing: str | None = None,
    contrast: tuple[str, str] | None = None,
    language: str = "en",
    smoke: bool = False,
    name: str = REPORT,
) -> Path:
    """Write ``name`` into ``folder`` from its controlled tables and figures and from the
    fit folders ``fits`` (``{model: <results>/fit-<model>}``); return its path."""
    page = _Page(language)
    page.add(f"<h1>{escape(text('title', language))}</h1>")
    page.add(f"<p>{escape(text('lead', language, model=model))}</p>")
    if smoke:
        page.add(f'<p class="smoke">{escape(text("smoke", language))}</p>')
    _verdicts(page, fits)
    _headline_and_margins(page, folder.path, model)
    _nationalities(page, folder.path, contrast)
    _ppc(page, folder.path)
    if competing is not None and (folder.path / "competing_margins.csv").is_file():
        page.section("section_competing")
        for predictor in ("n_procedures", "cooperation"):
            page.figure(
                folder.path / f"competing_margins_{predictor}.png",
                text(f"caption_competing_{predictor}", language),
            )
    _parameters(page, fits.get(model))
    _disclosure(page, folder)
    _provenance(page, fits)
    html = (
        f'<!DOCTYPE html>\n<html lang="{language}"><head><meta charset="utf-8">'
        f"<title>{escape(text('title', language))}</title><style>{_STYLE}</style></head>"
        f"<body>\n" + "\n".join(page.parts) + "\n</body></html>\n"
    )
    return folder.html(html, name)


def _verdicts(page: _Page, fits: Mapping[str, Path]) -> None:
    language = page.language
    page.section("section_verdicts")
    rows = []
    for model, path in fits.items():
        verdict = _json(path / "diagnostics.json")
        if verdict is None:
            state, details = (
                text("verdict_missing", language),
                text("no_fit", language, model=model),
            )
        else:
            state = text("verdict_pass" if verdict["passed"] else "verdict_fail", language)
            details = "; ".join(verdict.get("failures", [])) or "R-hat, ESS, divergences, E-BFMI"
        rows.append({text("model", language): model, text("verdict", language): state,
                     text("details", language): details})  # fmt: skip
    page.table(pd.DataFrame(rows), text("section_verdicts", language))


def _margin_rows(margins: pd.DataFrame, language: str, targets_only: bool) -> pd.DataFrame:
    rows = margins[margins["predictor"].isin(["n_procedures", "cooperation"])]
    if targets_only:
        rows = rows[rows["target"].notna()]
    return pd.DataFrame(
        {
            text("predictor", language): [label(p, language) for p in rows["predictor"]],
            text("value", language): [
                value_label(p, v, language)
                for p, v in zip(rows["predictor"], rows["value"], strict=True)
            ],
            text("study", language): [percent(t, language) for t in rows["target"]],
            text("estimate", language): _intervals(rows, "", language),
        }
    )


def _intervals(rows: pd.DataFrame, prefix: str, language: str) -> list[str]:
    """:func:`interval` of the ``<prefix>mean``, ``<prefix>hdi_lower``, ``<prefix>hdi_upper``
    columns, row by row."""
    columns = [rows[f"{prefix}{c}"] for c in ("mean", "hdi_lower", "hdi_upper")]
    return [interval(m, lo, hi, language) for m, lo, hi in zip(*columns, strict=True)]


def _headline_and_margins(page: _Page, path: Path, model: str) -> None:
    language = page.language
    margins = _read(path / "margins_with_targets.csv")
    if margins is None:
        return
    page.section("section_headline")
    numeric = [text("study", language), text("estimate", language)]
    page.table(_margin_rows(margins, language, True), text("caption_headline", language), numeric)
    page.section("section_margins")
    for predictor in ("n_procedures", "cooperation"):
        page.figure(
            path / f"margins_{predictor}.png", text(f"caption_margins_{predictor}", language)
        )
    page.table(_margin_rows(margins, language, False), text("section_margins", language), numeric)


def _nationalities(page: _Page, path: Path, contrast: tuple[str, str] | None) -> None:
    language = page.language
    effects = _read(path / "nationality_effects.csv")
    if effects is None:
        return
    page.section("section_nationalities")
    page.figure(path / "caterpillar.png", text("caption_caterpillar", language))
    top = effects.sort_values("n", ascending=False).head(15)
    group = effects.columns[0]
    table = pd.DataFrame(
        {
            label(group, language): top[group].astype(str),
            "n": ["" if pd.isna(n) else str(int(n)) for n in top["n"]],
            text("estimate", language): _intervals(top, "share_", language),
            text("raw_share", language): [percent(s, language) for s in top["raw_share"]],
        }
    )
    caption = text("nationalities_shown", language, top=len(top), count=len(effects))
    page.table(table, caption, ["n", text("estimate", language), text("raw_share", language)])
    if contrast is None:
        return
    found = _read(path / f"contrast_{contrast[0]}_{contrast[1]}.csv")
    if found is not None and len(found):
        page.section("section_contrast")
        row = found.iloc[0]
        shown = {
            text("contrast", language): [
                difference(row["mean"], row["hdi_lower"], row["hdi_upper"], language)
            ]
        }
        if "p_positive" in found.columns:
            shown[text("probability", language)] = [percent(row["p_positive"], language)]
        page.table(
            pd.DataFrame(shown), text("caption_contrast", language, a=contrast[0], b=contrast[1])
        )


def _ppc(page: _Page, path: Path) -> None:
    language = page.language
    found = [(by, _read(path / f"ppc_{by}.csv")) for by in ("nationality", "n_procedures")]
    if not any(table is not None for _, table in found):
        return
    page.section("section_ppc")
    for by, table in found:
        if table is None:
            continue
        page.figure(path / f"ppc_{by}.png", text(f"caption_ppc_{by}", language))
        inside = table["inside"].map({True: 1, False: 0, "True": 1, "False": 0}).dropna()
        page.add(
            f'<p class="note">{escape(text("inside", language))}: '
            f"{int(inside.sum())} / {len(inside)}</p>"
        )


_GROUP_PART = re.compile(r"^[a-z]+_(effect|offset|intercept|n_procedures_effect)$")


def population_rows(summary: pd.DataFrame, group: str = "nationality") -> pd.DataFrame:
    """Rows of a parameter summary that are population-level: neither a group's own
    parameter nor a derived per-group value."""
    names = summary["parameter"].astype(str)
    base = names.str.split("[").str[0]
    per_group = base.str.startswith(f"{group}_") & ~base.str.endswith(("_sigma", "_corr"))
    return summary[~per_group & ~base.str.match(_GROUP_PART)]


def _parameters(page: _Page, fit: Path | None) -> None:
    language = page.language
    summary = None if fit is None else _read(fit / "summary.csv")
    if summary is None:
        return
    rows = population_rows(summary)
    page.section("section_parameters")
    table = pd.DataFrame(
        {
            text("parameter", language): [parameter_label(p, language) for p in rows["parameter"]],
            text("posterior", language): [
                f"{_number(m, language)} ({_number(lo, language)} – {_number(hi, language)})"
                for m, lo, hi in zip(rows["mean"], rows["hdi94_lb"], rows["hdi94_ub"], strict=True)
            ],
            "R-hat": [_number(r, language, 3) for r in rows["r_hat"]],
        }
    )
    page.table(table, text("caption_parameters", language), [text("posterior", language), "R-hat"])


def _disclosure(page: _Page, folder: RunFolder) -> None:
    page.section("section_disclosure")
    rules = folder.rules.to_dict()
    page.add(f"<p>{escape(text('disclosure_text', page.language, **rules))}</p>")


def _provenance(page: _Page, fits: Mapping[str, Path]) -> None:
    language = page.language
    page.section("section_provenance")
    rows = []
    for model, path in fits.items():
        manifest = _json(path / "fit_manifest.json") or {}
        checksum = (manifest.get("data") or {}).get("sha256")
        if checksum:
            rows.append((f"{text('data_sha256', language)}: {model}", checksum))
    run = next((m for p in fits.values() if (m := _json(p / "manifest.json"))), {})
    commit, dirty = run.get("git_commit"), run.get("git_dirty")
    if commit is None and project_root() is not None:
        commit, dirty = git_commit(project_root())
    if commit:
        rows.append((text("commit", language), commit + (" (+ local changes)" if dirty else "")))
    versions = ", ".join(f"{k} {v}" for k, v in package_versions().items() if v)
    rows.append((text("versions", language), versions))
    rows.append((text("made", language), datetime.now(UTC).isoformat(timespec="seconds")))
    frame = pd.DataFrame(rows, columns=["", text("value", language)])
    page.table(frame, text("section_provenance", language))

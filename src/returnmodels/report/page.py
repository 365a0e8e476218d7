"""``report.html``: the study's figures for a reader, without code.

:func:`write_report` builds one self-contained HTML page (figures embedded as PNG data
URIs, no JavaScript, no external file) from what notebook ``04_report`` has already
written through its :class:`~returnmodels.report.run_folder.RunFolder`: the controlled
tables (CSV with their markers), the marked figures and ``withheld.json``
(:func:`write_withheld`), plus each fit's ``diagnostics.json`` and manifests. Nothing is
recomputed, so the page shows exactly the published numbers, and the folder's writer
checks the page like the audit does.

What a reader is told:

* where the data come from, first: the case file by name, and, when it is the bundled
  synthetic set (its SHA-256 is the one ``data/SHA256SUMS`` lists for
  ``cases.parquet``, or it is that file), a file with a ``returnmodels simulate`` truth
  file beside it, or the cases a smoke run simulated, that the data are synthetic
  (:func:`data_source`);
* models by a reader's name (:func:`~returnmodels.report.labels.model_label`),
  nationalities by country name with their code (``Nigeria (NGA)``);
* numbers in one style in the reader's language (:func:`percent`, :func:`interval`,
  :func:`difference`, :func:`ratio`): ``19.0% (17.5% to 20.6%)``, thousands separated
  (``118,000``; Dutch ``118.000`` and ``19,0%``), ``< 0.1%`` rather than ``0.0%``; odds
  ratios beside the log-odds;
* what the disclosure rules withheld, where it was withheld (``withheld`` in a cell, a
  count in a caption) and why, in the disclosure section;
* the provenance: the SHA-256 of the data file itself (as ``sha256sum`` prints it),
  package versions, git commit.

``language`` is ``"en"`` or ``"nl"``.
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

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.errors import ConfigError
from returnmodels.files import sha256_file
from returnmodels.paths import bundled_cases, bundled_file, project_root
from returnmodels.report import style
from returnmodels.report.labels import label, model_label, parameter_label, text, value_label
from returnmodels.report.model_figures import (
    fit_levels,
    group_name,
    shown_share,
    withheld_sentence,
)
from returnmodels.report.notebook import SMOKE_CASES
from returnmodels.report.run_folder import RunFolder
from returnmodels.versions import git_commit, package_versions

__all__ = [
    "REPORT",
    "WITHHELD",
    "DataSource",
    "bundled_synthetic",
    "data_source",
    "difference",
    "group_levels",
    "interval",
    "percent",
    "population_rows",
    "ratio",
    "with_group_levels",
    "write_report",
    "write_withheld",
]

#: The page's name in its run folder.
REPORT = "report.html"
#: The run folder's record of the values each per-group table leaves out.
WITHHELD = "withheld.json"
#: The study model without and with persons (notebook 04, :func:`_persons`).
PERSONS = "persons.csv"

_STYLE = """
body { font-family: Georgia, 'Times New Roman', serif; max-width: 58em; margin: 2em auto;
  padding: 0 1em; color: #1a1a1a; line-height: 1.45; }
h1, h2, caption, th, .verdict, .note, .synthetic { font-family: system-ui, sans-serif; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em;
  border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; font-size: .92em; }
caption { caption-side: top; text-align: left; font-size: .9em; padding-bottom: .4em; }
th, td { padding: .25em .8em; border-bottom: 1px solid #e2e2e2; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: .9em; color: #333; }
.pass { color: #1b5e20; font-weight: bold; } .fail { color: #b00020; font-weight: bold; }
.smoke { border: 2px solid #b00020; background: #fdecea; padding: .6em; }
.synthetic { border: 2px solid #8a6d00; background: #fff8e1; padding: .6em; }
.note { font-size: .85em; color: #555; }
"""


# -- numbers: one style, in the reader's language ----------------------------------------


def _to(language: str) -> str:
    return "tot" if language == "nl" else "to"


def _span(values: Sequence[float], shown, language: str) -> str:
    """The one interval style of the report: ``estimate (lower to upper)``."""
    mean, lower, upper = (shown(v) for v in values)
    return f"{mean} ({lower} {_to(language)} {upper})"


def percent(share: float, language: str = "en") -> str:
    """``0.1896`` -> ``19.0%`` (``19,0%`` in Dutch); ``< 0.1%`` below 0.05%; missing ->
    an en dash (:func:`~returnmodels.report.style.percent_text`)."""
    return style.percent_text(share, language)


def interval(mean: float, lower: float, upper: float, language: str = "en") -> str:
    """``19.0% (17.2% to 20.9%)``: a share and its 94% interval."""
    return _span((mean, lower, upper), lambda v: percent(v, language), language)


def difference(mean: float, lower: float, upper: float, language: str = "en") -> str:
    """A difference of shares in percentage points (the unit is in the column's header):
    ``−4.8 (−9.5 to −0.5)``."""
    return _span((mean, lower, upper), lambda v: _number(100 * float(v), language, 1), language)


def ratio(mean: float, lower: float, upper: float, language: str = "en") -> str:
    """An odds ratio and its interval, to three significant digits (at least two
    decimals), so that a narrow interval keeps its width: ``2.06 (1.33 to 3.37)``,
    ``0.625 (0.619 to 0.631)``."""
    digits = max(2, 2 - int(np.floor(np.log10(max(abs(float(mean)), 1e-12)))))
    return _span((mean, lower, upper), lambda v: _number(v, language, digits), language)


def _number(value: float, language: str = "en", digits: int = 2) -> str:
    return style.number_text(value, digits, language)


# -- where the data come from ---------------------------------------------------------


@dataclass(frozen=True)
class DataSource:
    """The case file the fits read: its path and file checksum (``None`` for cases a
    smoke run simulated), and the key of the sentence saying it is synthetic (``None``
    for data that are not known to be)."""

    path: Path | None
    sha256: str | None
    synthetic: str | None
    truth: Path | None = None


def _bundled_checksum() -> str | None:
    """The SHA-256 that ``data/SHA256SUMS`` lists for the bundled ``cases.parquet``."""
    try:
        sums = bundled_file("SHA256SUMS").read_text(encoding="utf-8")
    except ConfigError:
        return None
    for line in sums.splitlines():
        checksum, _, name = line.strip().partition("  ")
        if name.strip().lstrip("*") == "cases.parquet":
            return checksum
    return None


def bundled_synthetic(path: Path, checksum: str | None = None) -> bool:
    """Whether ``path`` is the bundled synthetic case file: that file itself, or a copy
    of it (its SHA-256 the one ``data/SHA256SUMS`` lists)."""
    try:
        if Path(path).resolve() == bundled_cases().resolve():
            return True
    except ConfigError:
        pass
    expected = _bundled_checksum()
    return expected is not None and (checksum or sha256_file(path)) == expected


def _truth_file(path: Path) -> Path | None:
    """``<name>.truth.json`` beside a case file: what ``returnmodels simulate`` writes."""
    truth = path.with_name(f"{path.name.split('.')[0]}.truth.json")
    return truth if truth.is_file() else None


def data_source(data: str | Path | None, *, smoke: bool = False) -> DataSource:
    """The :class:`DataSource` of the case file ``data`` (``None``: not known), or of the
    cases a smoke run simulated."""
    if smoke:
        return DataSource(None, None, "synthetic_smoke")
    if data is None:
        return DataSource(None, None, None)
    path = Path(data)
    checksum = sha256_file(path)
    if bundled_synthetic(path, checksum):
        return DataSource(path, checksum, "synthetic_bundled")
    truth = _truth_file(path)
    return DataSource(path, checksum, "synthetic_simulated" if truth else None, truth)


# -- what notebook 04 adds for the page ---------------------------------------------------


def group_levels(result: xr.DataTree, column: str, group: str = "nationality") -> dict[str, str]:
    """Each ``group`` level of the fit's cells with its value of ``column`` where that is
    one value for the whole level (a nationality's cooperation); ``{}`` when the fit's
    cells do not hold both."""
    if "constant_data" not in result.children:
        return {}
    data = result["constant_data"].to_dataset()
    names = [next((n for n in (f"cell_{c}", c) if n in data), None) for c in (group, column)]
    if None in names:
        return {}
    frame = pd.DataFrame({"g": data[names[0]].to_numpy(), "v": data[names[1]].to_numpy()})
    frame = frame.astype(str).drop_duplicates()
    single = frame.groupby("g")["v"].transform("size") == 1
    return dict(zip(frame.loc[single, "g"], frame.loc[single, "v"], strict=True))


def with_group_levels(
    contrast: pd.DataFrame, result: xr.DataTree, column: str = "cooperation"
) -> pd.DataFrame:
    """The controlled contrast of two groups with each one's ``column`` beside it
    (``a_cooperation``, ``b_cooperation``): a nationality-level attribute the study
    reads the contrast against, no count. Keeps the table's disclosure mark."""
    levels = group_levels(result, column)
    added = contrast.assign(
        **{
            f"{side}_{column}": [levels.get(str(v), "") for v in contrast[side]]
            for side in ("a", "b")
        }
    )
    added.attrs = dict(contrast.attrs)
    return added


def write_withheld(
    folder: RunFolder, result: xr.DataTree, tables: Mapping[str, tuple[pd.DataFrame, str]]
) -> Path:
    """``withheld.json``: for each per-group table (``{file: (controlled table, by)}``),
    how many values of ``by`` the fit has and how many the table leaves out, so that
    the page says so where it shows the table and in its disclosure section."""
    record = {}
    for name, (table, by) in tables.items():
        levels = fit_levels(result, by)
        if levels:
            left_out = len(set(levels) - {str(v) for v in table[by]})
            record[name] = {"by": by, "withheld": left_out, "levels": len(levels)}
    return folder.json(record, WITHHELD)


# -- the page ---------------------------------------------------------------------------


@dataclass
class _Page:
    language: str
    rules: Mapping[str, object]
    withheld: Mapping[str, dict] = field(default_factory=dict)
    parts: list[str] = field(default_factory=list)
    figures: int = 0
    tables: int = 0
    shown_in: dict[str, list[str]] = field(default_factory=dict)

    def add(self, html: str) -> None:
        self.parts.append(html)

    def section(self, key: str) -> None:
        self.add(f"<h2>{escape(text(key, self.language))}</h2>")

    def note(self, line: str) -> None:
        if line:
            self.add(f'<p class="note">{escape(line)}</p>')

    def shows(self, source: str | None, what: str) -> None:
        """Remember that ``what`` (``Figure 3``) shows the table ``source``."""
        if source:
            self.shown_in.setdefault(source, []).append(what)

    def table(
        self,
        frame: pd.DataFrame,
        caption: str,
        numeric: Sequence[str] = (),
        source: str | None = None,
    ) -> None:
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
        self.shows(source, number)
        self.add(
            f"<table><caption><b>{number}.</b> {escape(caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        )

    def figure(self, png: Path, caption: str, source: str | None = None) -> None:
        if not png.is_file():
            return
        self.figures += 1
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        number = f"{text('figure', self.language)} {self.figures}"
        self.shows(source, number)
        self.add(
            f'<figure><img src="data:image/png;base64,{data}" alt="{escape(caption, quote=True)}">'
            f"<figcaption><b>{number}.</b> {escape(caption)}</figcaption></figure>"
        )

    def withheld_line(self, source: str) -> str:
        """``66 of 85 nationalities withheld: ...`` for a table, or ``""``."""
        found = self.withheld.get(source)
        if not found or not found.get("withheld"):
            return ""
        return withheld_sentence(
            found["by"], found["withheld"], found["levels"], self.rules["min_cases"], self.language
        )


def _read(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path, dtype={"value": str}) if path.is_file() else None


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _fit_name(path: Path | None, model: str, language: str) -> str:
    """A fit's model as a reader knows it, a formula fit by its formula (its manifest)."""
    manifest = (_json(path / "fit_manifest.json") if path is not None else None) or {}
    formula = (manifest.get("config") or {}).get("formula")
    return model_label(manifest.get("model", model), language, formula)


def write_report(
    folder: RunFolder,
    fits: Mapping[str, Path],
    *,
    model: str,
    competing: str | None = None,
    contrast: tuple[str, str] | None = None,
    language: str = "en",
    smoke: bool = False,
    data: str | Path | None = None,
    name: str = REPORT,
    independent: str | None = None,
) -> Path:
    """Write ``name`` into ``folder`` from its controlled tables and figures and from the
    fit folders ``fits`` (``{model: <results>/fit-<model>}``); return its path. ``data``
    is the case file the fits read (``None``: the one the fit of ``model`` recorded,
    if any; with ``smoke``, the cases the smoke run simulated). ``independent``: the key
    in ``fits`` of the study model fitted as if every case were a different person,
    whose comparison with ``model`` (a fit with a person effect: ``persons.csv``,
    :func:`returnmodels.summaries.persons_comparison`) gets a section of its own."""
    rules = folder.rules.to_dict()
    page = _Page(language, rules, _json(folder.path / WITHHELD) or {})
    source = data_source(data if data is not None else _recorded_data(fits.get(model)), smoke=smoke)
    reader_model = _fit_name(fits.get(model), model, language)
    page.add(f"<h1>{escape(text('title', language))}</h1>")
    _data_statement(page, source)
    page.add(f"<p>{escape(text('lead', language, model=reader_model))}</p>")
    if smoke:
        page.add(f'<p class="smoke">{escape(text("smoke", language))}</p>')
    _verdicts(page, fits)
    verdict = _verdict_caption(fits.get(model), model, language)
    _headline_and_margins(page, folder.path, verdict)
    _nationalities(page, folder.path, contrast, verdict)
    _ppc(page, folder.path, verdict)
    if competing is not None and (folder.path / "competing_margins.csv").is_file():
        page.section("section_competing")
        competing_verdict = _verdict_caption(fits.get(competing), competing, language)
        for predictor in ("n_procedures", "cooperation"):
            page.figure(
                folder.path / f"competing_margins_{predictor}.png",
                f"{text(f'caption_competing_{predictor}', language)} {competing_verdict}",
                "competing_margins.csv",
            )
    if independent is not None:
        _persons(page, folder.path, fits.get(model), model)
    _parameters(page, fits.get(model))
    _disclosure(page)
    _provenance(page, fits, source, model)
    html = (
        f'<!DOCTYPE html>\n<html lang="{language}"><head><meta charset="utf-8">'
        f"<title>{escape(text('title', language))}</title><style>{_STYLE}</style></head>"
        f"<body>\n" + "\n".join(page.parts) + "\n</body></html>\n"
    )
    return folder.html(html, name)


def _recorded_data(fit: Path | None) -> Path | None:
    """The case file a fit's manifest records, where it is still there."""
    manifest = (_json(fit / "fit_manifest.json") if fit is not None else None) or {}
    recorded = (manifest.get("data") or {}).get("path")
    return Path(recorded) if recorded and Path(recorded).is_file() else None


def _data_statement(page: _Page, source: DataSource) -> None:
    """Where the data come from, at the top; a synthetic set in a box saying so."""
    language = page.language
    name = source.path.name if source.path is not None else ""
    if source.synthetic is not None:
        sentence = text(
            source.synthetic,
            language,
            name=name,
            truth=source.truth.name if source.truth is not None else "",
            n=style.count_label(SMOKE_CASES, language),
        )
        heading = escape(text("synthetic_heading", language))
        page.add(f'<p class="synthetic"><b>{heading}.</b> {escape(sentence)}</p>')
    if source.path is not None:
        page.add(f"<p>{escape(text('data_file', language, name=name))}</p>")
    elif source.synthetic is None:
        page.add(f"<p>{escape(text('data_unknown', language))}</p>")


def _verdict_caption(fit: Path | None, model: str, language: str) -> str:
    """``Study model: ...: passed the convergence checks.`` for a figure's caption."""
    verdict = _json(fit / "diagnostics.json") if fit is not None else None
    if verdict is None:
        return ""
    state = text("verdict_pass" if verdict["passed"] else "verdict_fail", language)
    return text("verdict_caption", language, model=_fit_name(fit, model, language), verdict=state)


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
            details = _in_language(
                "; ".join(verdict.get("failures", [])) or text("checks_all", language),
                language,
            )
        rows.append({text("model", language): _fit_name(path, model, language),
                     text("verdict", language): state,
                     text("details", language): details})  # fmt: skip
    page.table(pd.DataFrame(rows), text("section_verdicts", language))


def _in_language(message: str, language: str) -> str:
    """A diagnostic message (``R-hat 1.069 > 1.01 (nationality_effect)``) with its
    numbers' decimal comma in Dutch; its technical terms stay as they are."""
    if language != "nl":
        return message
    return re.sub(r"(?<=\d)\.(?=\d)", ",", message)


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


def _with_verdict(caption: str, verdict: str) -> str:
    return f"{caption} {verdict}".strip()


def _headline_and_margins(page: _Page, path: Path, verdict: str) -> None:
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
            path / f"margins_{predictor}.png",
            _with_verdict(text(f"caption_margins_{predictor}", language), verdict),
            "margins_with_targets.csv",
        )
    page.table(_margin_rows(margins, language, False), text("section_margins", language), numeric)


def _share_cells(share: pd.Series, language: str) -> list[str]:
    """Observed or raw shares for a table: ``withheld`` where suppressed, and where 0% or
    100% (of a named group, that tells about everyone in it)."""
    shown = shown_share(share)
    return [text("withheld", language) if pd.isna(s) else percent(s, language) for s in shown]


def _nationalities(page: _Page, path: Path, contrast: tuple[str, str] | None, verdict: str) -> None:
    language = page.language
    effects = _read(path / "nationality_effects.csv")
    if effects is None:
        return
    page.section("section_nationalities")
    source = "nationality_effects.csv"
    page.figure(
        path / "caterpillar.png",
        _with_verdict(text("caption_caterpillar", language), verdict),
        source,
    )
    top = effects.sort_values("n", ascending=False).head(15)
    group = effects.columns[0]
    cases = text("cases_rounded", language)
    table = pd.DataFrame(
        {
            label(group, language): [group_name(group, g, language) for g in top[group]],
            cases: [style.count_label(n, language) for n in top["n"]],
            text("estimate", language): _intervals(top, "share_", language),
            text("raw_share", language): _share_cells(top["raw_share"], language),
        }
    )
    caption = text("nationalities_shown", language, top=len(top), count=len(effects))
    withheld = page.withheld_line(source)
    caption += f"; {withheld}." if withheld else "."
    page.table(
        table,
        caption,
        [cases, text("estimate", language), text("raw_share", language)],
        source,
    )
    if contrast is not None:
        _contrast(page, path, contrast, effects)


def _contrast(page: _Page, path: Path, contrast: tuple[str, str], effects: pd.DataFrame) -> None:
    """The two nationalities with their cooperation and predicted shares, then the
    difference, the odds ratio and the probability that the first has the higher share."""
    language = page.language
    source = f"contrast_{contrast[0]}_{contrast[1]}.csv"
    found = _read(path / source)
    if found is None or not len(found):
        return
    page.section("section_contrast")
    group = effects.columns[0]
    names = [group_name(group, g, language) for g in contrast]
    first = found.iloc[0]
    shown = text("predicted_share_interval", language)
    rows = []
    for side, code, name in zip(("a", "b"), contrast, names, strict=True):
        own = effects[effects[group].astype(str) == str(code)]
        level = first.get(f"{side}_cooperation")
        rows.append(
            {
                label(group, language): name,
                label("cooperation", language): (
                    value_label("cooperation", level, language) if isinstance(level, str) else "–"
                ),
                shown: _intervals(own, "share_", language)[0] if len(own) else "–",
            }
        )
    page.table(
        pd.DataFrame(rows),
        text("caption_contrast_groups", language, a=names[0], b=names[1]),
        [shown],
    )
    measures = found.set_index("measure")
    values = []
    if "share_difference" in measures.index:
        row = measures.loc["share_difference"]
        values.append((text("contrast", language), difference(*_bounds(row), language)))
        probability = text("probability", language, a=names[0])
        values.append((probability, percent(row["p_positive"], language)))
    if "odds_ratio" in measures.index:
        row = measures.loc["odds_ratio"]
        values.append((text("contrast_odds_ratio", language), ratio(*_bounds(row), language)))
    estimate = text("estimate", language)
    page.table(
        pd.DataFrame(values, columns=[text("measure", language), estimate]),
        text("caption_contrast", language, a=names[0], b=names[1]),
        [estimate],
        source,
    )


def _bounds(row: pd.Series) -> tuple[float, float, float]:
    return row["mean"], row["hdi_lower"], row["hdi_upper"]


def _ppc(page: _Page, path: Path, verdict: str) -> None:
    language = page.language
    found = [(by, _read(path / f"ppc_{by}.csv")) for by in ("nationality", "n_procedures")]
    if not any(table is not None for _, table in found):
        return
    page.section("section_ppc")
    for by, table in found:
        if table is None:
            continue
        page.figure(
            path / f"ppc_{by}.png",
            _with_verdict(text(f"caption_ppc_{by}", language), verdict),
            f"ppc_{by}.csv",
        )
        inside = table["inside"].map({True: 1, False: 0, "True": 1, "False": 0}).dropna()
        page.note(f"{text('inside', language)}: {int(inside.sum())} / {len(inside)}")
        page.note(page.withheld_line(f"ppc_{by}.csv"))


_GROUP_PART = re.compile(r"^[a-z]+_(effect|offset|intercept|n_procedures_effect)$")


def _persons(page: _Page, path: Path, fit: Path | None, model: str) -> None:
    """The study model with persons beside it without (``persons.csv``), where written."""
    language = page.language
    table = _read(path / PERSONS)
    if table is None:
        return
    manifest = (_json(fit / "fit_manifest.json") if fit is not None else None) or {}
    formula = (manifest.get("config") or {}).get("formula") or model
    page.section("section_persons")
    page.add(f"<p>{escape(text('persons_text', language, formula=formula))}</p>")
    shown = [text(k, language) for k in ("persons_without", "persons_with", "persons_width")]
    rows = []
    for row in table.itertuples(index=False):
        rows.append(
            {
                text("persons_quantity", language): _persons_quantity(row, language),
                shown[0]: _persons_estimate(row, "without", language),
                shown[1]: _persons_estimate(row, "with", language),
                shown[2]: "–" if pd.isna(row.width_ratio) else _number(row.width_ratio, language),
            }
        )
    caption = _with_verdict(
        text("caption_persons", language), _verdict_caption(fit, model, language)
    )
    page.table(pd.DataFrame(rows), caption, shown, PERSONS)


def _persons_quantity(row, language: str) -> str:
    """A row of ``persons.csv`` as a reader names it: the person SD, a coefficient, or
    the predicted share at a value."""
    predictor = label(str(row.predictor), language)
    if row.quantity == "person_sd":
        return text("persons_sd", language)
    if row.quantity == "coefficient":
        return text("persons_coefficient", language, predictor=predictor)
    value = value_label(str(row.predictor), row.value, language)
    return text("persons_margin", language, predictor=predictor, value=value)


def _persons_estimate(row, side: str, language: str) -> str:
    """One fit's estimate of a row (``side``: ``with`` or ``without`` persons): a share
    as a percentage, an SD or coefficient as a number, each with its interval."""
    bounds = tuple(getattr(row, f"{side}_{k}") for k in ("mean", "lower", "upper"))
    if pd.isna(bounds[0]):
        return "–"
    if row.quantity == "margin":
        return interval(*bounds, language)
    return _span(bounds, lambda v: _number(v, language, 3), language)


def population_rows(summary: pd.DataFrame, group: str = "nationality") -> pd.DataFrame:
    """Rows of a parameter summary that are population-level: neither a group's own
    parameter nor a derived per-group value."""
    names = summary["parameter"].astype(str)
    base = names.str.split("[").str[0]
    per_group = base.str.startswith(f"{group}_") & ~base.str.endswith(("_sigma", "_corr"))
    return summary[~per_group & ~base.str.match(_GROUP_PART)]


#: R-hat with a non-breaking hyphen: a narrow column's header on one line.
_RHAT = "R\u2011hat"


def _is_coefficient(name: str) -> bool:
    """A coefficient on the log-odds scale (its exponent an odds ratio): neither an
    intercept, nor a standard deviation, nor a correlation."""
    base = name.split("[")[0]
    return not base.startswith("Intercept") and not base.endswith(("_sigma", "_corr"))


def _parameters(page: _Page, fit: Path | None) -> None:
    language = page.language
    summary = None if fit is None else _read(fit / "summary.csv")
    if summary is None:
        return
    rows = population_rows(summary)
    page.section("section_parameters")
    bounds = list(zip(rows["mean"], rows["hdi94_lb"], rows["hdi94_ub"], strict=True))
    posterior, odds = text("posterior", language), text("odds_ratio", language)
    table = pd.DataFrame(
        {
            text("parameter", language): [parameter_label(p, language) for p in rows["parameter"]],
            posterior: [
                _span(values, lambda v: _number(v, language), language) for values in bounds
            ],
            odds: [
                ratio(*np.exp(values), language) if _is_coefficient(str(p)) else ""
                for p, values in zip(rows["parameter"], bounds, strict=True)
            ],
            _RHAT: [_number(r, language, 3) for r in rows["r_hat"]],
        }
    )
    page.table(table, text("caption_parameters", language), [posterior, odds, _RHAT])


def _disclosure(page: _Page) -> None:
    language = page.language
    page.section("section_disclosure")
    page.add(f"<p>{escape(text('disclosure_text', language, **page.rules))}</p>")
    page.add(f"<p>{escape(text('disclosure_marks', language, **page.rules))}</p>")
    items = []
    for source, shown in page.shown_in.items():  # in the order the page shows them
        line = page.withheld_line(source)
        if line:
            items.append(f"<li>{escape(', '.join(shown))}: {escape(line)}</li>")
    if items:
        page.add("<ul>" + "".join(items) + "</ul>")


def _provenance(page: _Page, fits: Mapping[str, Path], source: DataSource, model: str) -> None:
    language = page.language
    page.section("section_provenance")
    rows = []
    if source.path is not None:
        rows.append((text("data_sha256", language, name=source.path.name), source.sha256))
    elif source.synthetic == "synthetic_smoke":
        rows.append((text("data_smoke", language, n=style.count_label(SMOKE_CASES, language)), ""))
    rows += _other_data(fits, source, language)
    rows.append((text("fit_folders", language), ", ".join(p.name for p in fits.values())))
    run = next((m for p in fits.values() if (m := _json(p / "manifest.json"))), {})
    commit, dirty = run.get("git_commit"), run.get("git_dirty")
    if commit is None and project_root() is not None:
        commit, dirty = git_commit(project_root())
    if commit:
        rows.append(
            (
                text("commit", language),
                commit + (f" {text('local_changes', language)}" if dirty else ""),
            )
        )
    versions = ", ".join(f"{k} {v}" for k, v in package_versions().items() if v)
    rows.append((text("versions", language), versions))
    rows.append((text("made", language), datetime.now(UTC).isoformat(timespec="seconds")))
    frame = pd.DataFrame(rows, columns=["", text("value", language)])
    page.table(frame, text("section_provenance", language))


def _other_data(
    fits: Mapping[str, Path], source: DataSource, language: str
) -> list[tuple[str, str]]:
    """Rows for fits whose manifest records another case file than the report's."""
    rows = []
    for model, path in fits.items():
        recorded = ((_json(path / "fit_manifest.json") or {}).get("data") or {}).get("path")
        if not recorded:
            continue
        file = Path(recorded)
        if source.path is not None and file.resolve() == source.path.resolve():
            continue
        name = _fit_name(path, model, language)
        if file.is_file():
            rows.append(
                (text("data_of_fit", language, model=name, name=file.name), sha256_file(file))
            )
        else:
            rows.append((text("data_missing", language, model=name, name=file.name), ""))
    return rows

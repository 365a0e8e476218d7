"""A report folder as notebooks 02 and 04 write it, from a fake fit (no sampler), and
a helper that writes ``report.html`` from it in a language, with a data file (used by
``tests/report/conftest.py``'s ``report_inputs`` and the report tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import xarray as xr

from fakes import fake_fit
from returnmodels.report import model_figures, notebook, page
from returnmodels.report.run_folder import RunFolder
from returnmodels.summaries import margins as margins_of
from returnmodels.summaries import parameter_summary, with_verdict

#: Nationalities and their cases: IRQ above a thousand (a thousands separator), ERI
#: below min_cases (withheld with the smallest pooled with it).
SIZES = {"IRQ": 1235, "NGA": 300, "AFG": 120, "SYR": 60, "SOM": 40, "ERI": 5}
MODEL = "varying_intercepts"
#: A published nationality whose raw share the fixture sets to 0%: a named group of
#: whom no one took assisted return, which the report must not show bare.
ZERO = "SYR"


@dataclass(frozen=True)
class ReportInputs:
    folder: RunFolder
    fits: dict[str, Path]
    result: xr.DataTree


def _with_cooperation(result: xr.DataTree) -> xr.DataTree:
    """The fake fit's cells with each nationality's cooperation (as ``fake_cases`` gives
    it: ``high`` before ``M``, else ``low``), as a fit of ``group_predictors`` keeps it."""
    data = result["constant_data"].to_dataset()
    codes = data["nationality"].to_numpy().astype(str)
    cooperation = ["high" if code < "M" else "low" for code in codes]
    result["constant_data"] = xr.DataTree(data.assign(cooperation=("cell", cooperation)))
    return result


def build_report_inputs(base: Path) -> ReportInputs:
    """The fit folder and report folder under ``base``."""
    result = _with_cooperation(fake_fit(SIZES))
    fit_dir = base / f"fit-{MODEL}"
    fit_folder = RunFolder(fit_dir)
    summary = parameter_summary(result).rename_axis("parameter")
    fit_folder.table(notebook.controlled_summary(summary, result), "summary.csv")
    margins = notebook.controlled_margins(with_verdict(margins_of(result), result), result)
    fit_folder.table(margins, "margins.csv")
    notebook.write_verdict(result, fit_folder)
    # the frame's hash, as fits record it: not what the report may show as the file's
    fit_folder.json(
        {"model": MODEL, "data": {"path": None, "sha256": "0" * 64}}, "fit_manifest.json"
    )
    folder = RunFolder(base / "report")
    margins, _ = notebook.read_fit_tables(fit_dir)
    folder.table(notebook.margin_targets(margins), "margins_with_targets.csv")
    effects = notebook.controlled_group_effects(result)
    zero = effects["nationality"] == ZERO
    effects.loc[zero, ["n_successes", "raw_share"]] = 0.0
    folder.table(effects, "nationality_effects.csv")
    folder.figure(
        model_figures.plot_caterpillar(result, effects),
        "caterpillar.png",
        sources=["nationality_effects.csv"],
    )
    contrast = page.with_group_levels(notebook.controlled_contrast(result, "NGA", "IRQ"), result)
    folder.table(contrast, "contrast_NGA_IRQ.csv")
    per_group = {"nationality_effects.csv": (effects, "nationality")}
    for by in ("nationality", "n_procedures"):
        ppc = folder.table(notebook.controlled_ppc(result, by), f"ppc_{by}.csv")
        folder.figure(
            model_figures.plot_ppc(result, ppc), f"ppc_{by}.png", sources=[f"ppc_{by}.csv"]
        )
        per_group[f"ppc_{by}.csv"] = (ppc, by)
    page.write_withheld(folder, result, per_group)
    fits = {MODEL: fit_dir, "competing_outcomes": base / "fit-competing_outcomes"}
    return ReportInputs(folder, fits, result)


def write_page(
    inputs: ReportInputs, language: str, data: Path | None = None, *, smoke: bool = False
) -> str:
    """``report.html`` of ``inputs`` in ``language``, with the case file ``data``; its text."""
    tag = "none" if data is None else f"{Path(data).parent.name}-{Path(data).stem}"
    path = page.write_report(
        inputs.folder,
        inputs.fits,
        model=MODEL,
        competing="competing_outcomes",
        contrast=("NGA", "IRQ"),
        language=language,
        smoke=smoke,
        data=data,
        name=f"report-{language}-{tag}{'-smoke' if smoke else ''}.html",
    )
    return path.read_text(encoding="utf-8")

"""What the fit, comparison and report notebooks publish, disclosure-controlled.

The model library (:mod:`returnmodels.summaries`, :func:`returnmodels.write_fit_folder`)
computes; this module turns its results into outputs that may leave a secure
environment and that the batch runner understands:

* :func:`write_fit_run` writes a fit into a run folder: ``posterior.nc``, ``summary.csv``
  and ``margins.csv`` (marked controlled; parameters of groups below ``min_cases``
  left out), ``diagnostics.json`` with the ``verdict`` key the batch index shows, and
  the fit's own manifest as ``fit_manifest.json`` (the runner writes ``manifest.json``);
* :func:`controlled_group_effects`, :func:`controlled_ppc`, :func:`controlled_margins`:
  per-group estimates only for groups with at least ``min_cases`` cases, raw and
  observed shares only where :func:`~returnmodels.disclosure.control_shares` publishes
  them, counts rounded;
* :func:`banner` puts the convergence verdict at the top of a notebook: a failing fit
  is never shown as a good one;
* :func:`read_fits` and :func:`loo_comparison` for comparing fitted models.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.data.validation import load_cases
from returnmodels.disclosure import (
    DEFAULT_RULES,
    DisclosureError,
    DisclosureRules,
    control_shares,
    mark_controlled,
    pool_small_groups,
    read_marker,
)
from returnmodels.disclosure.fit_tables import parameter_labels
from returnmodels.disclosure.posterior import (
    allowed,
    controlled_posterior,
    published_labels,
    support_of,
    value_published,
    whole_fit_published,
)
from returnmodels.disclosure.rules import round_counts
from returnmodels.engine.design import FormulaDesign
from returnmodels.errors import ConfigError
from returnmodels.files import check_new_folder, removed_on_failure, sha256_file
from returnmodels.inference.diagnostics import verdict_label, verdict_line, verdict_of
from returnmodels.inference.results import load_result, result_config
from returnmodels.models import column_spec
from returnmodels.paths import bundled_cases, formula_run_name, results_root, run_output
from returnmodels.report import style
from returnmodels.report.beside import beside
from returnmodels.report.convergence_figures import plot_rank_ecdf, plot_traces
from returnmodels.report.labels import text
from returnmodels.report.model_figures import plot_elpd_differences, plot_margins
from returnmodels.report.run_folder import Figure, RunFolder, png_bytes
from returnmodels.simulate import simulate_cases
from returnmodels.simulate.targets import COOPERATION_MARGINS, PROCEDURE_MARGINS
from returnmodels.summaries import (
    compare_models,
    contrast,
    group_effects,
    margins,
    parameter_summary,
    ppc_shares,
    with_verdict,
)
from returnmodels.summaries.fit_summary import power_scaling
from returnmodels.versions import package_versions

__all__ = [
    "FIT_FILES",
    "SMOKE_CASES",
    "SMOKE_SAMPLING",
    "Banner",
    "banner",
    "case_columns",
    "case_data",
    "data_file",
    "controlled_contrast",
    "controlled_group_effects",
    "controlled_margins",
    "controlled_persons",
    "controlled_ppc",
    "controlled_summary",
    "publishable_contrast",
    "fit_folder",
    "fit_manifest",
    "fit_run",
    "load_fit",
    "missing_fit",
    "results_folder",
    "run_folder",
    "loo_comparison",
    "margin_targets",
    "plot_loo_comparison",
    "ppc_columns",
    "plot_margins_with_targets",
    "read_fit_tables",
    "read_fits",
    "sampling_settings",
    "convergence_pngs",
    "save_convergence_plots",
    "withheld_groups",
    "write_fit_folder",
    "write_fit_outputs",
    "write_fit_run",
    "write_verdict",
]


# -- smoke runs: small data, tiny draws ------------------------------------------------

#: Simulated cases a notebook uses instead of its data when ``smoke=True``.
SMOKE_CASES = 3000
#: Sampler settings with ``smoke=True``: enough to exercise every step, not to converge.
SMOKE_SAMPLING: dict[str, int] = {"draws": 100, "tune": 100, "chains": 2}


def case_data(
    data: str | os.PathLike | None = None, *, smoke: bool = False, seed: int = 0
) -> pd.DataFrame:
    """The validated case file ``data`` (``None``: the bundled synthetic set, wherever
    the notebook runs); with ``smoke``, :data:`SMOKE_CASES` simulated cases instead (the
    same for every notebook of a smoke batch with the same seed)."""
    if smoke:
        return simulate_cases(n_cases=SMOKE_CASES, random_seed=seed).cases
    return load_cases(data_file(data))


def data_file(data: str | os.PathLike | None) -> Path:
    """The case file a notebook reads: ``data``, or the bundled one for ``None``."""
    return bundled_cases() if data is None else Path(data)


def run_folder(
    out: str | os.PathLike | None, run: str, rules: DisclosureRules = DEFAULT_RULES
) -> RunFolder:
    """The notebook's :class:`RunFolder`: ``out``, or by default ``results/<run>`` of the
    project (:func:`returnmodels.paths.run_output`), never the working directory."""
    folder = RunFolder(run_output(out, run), rules)
    if out is None:
        print(f"writing into {folder.path}")
    return folder


def results_folder(results: str | os.PathLike | None) -> Path:
    """The folder holding the runs a notebook reads (``None``: the project's results)."""
    return results_root() if results is None else Path(results)


def fit_run(
    model: str, formula: str | None = None, reference: Mapping[str, str] | None = None
) -> str:
    """The run (results folder name) of notebook 02's fit: ``fit-<model>``, or for a
    ``formula`` its own ``fit-formula-<slug>-<hash>``
    (:func:`returnmodels.paths.formula_run_name`), so that every formula, and every
    choice of ``reference`` levels, gets a folder of its own."""
    return f"fit-{model}" if formula is None else formula_run_name(formula, reference)


def _formula_in(model: str) -> str | None:
    """``model`` when it is a formula (it holds ``~``), else None."""
    return model if "~" in model else None


def _stored_model(model: str) -> str:
    """The ``returnmodels_model`` a fit of ``model`` (a name or a formula) records."""
    return "formula" if _formula_in(model) else model


def fit_folder(
    results: str | os.PathLike | None, model: str, reference: Mapping[str, str] | None = None
) -> Path:
    """``<results>/fit-<model>``: where notebook 02 (run ``fit-<model>``) writes; for a
    formula (``model`` holding ``~``, with its ``reference`` levels) the folder notebook
    02 gives it by default (:func:`fit_run`)."""
    return results_folder(results) / fit_run(model, _formula_in(model), reference)


def missing_fit(results: str | os.PathLike | None, model: str) -> str:
    """The one line saying which run to do first when a fit is not there."""
    if _formula_in(model):
        return (
            f"no fit of {model!r} in {fit_folder(results, model)}: fit it first "
            f"(`papermill notebooks/02_fit_model.ipynb fit.ipynb -p formula '{model}'`)"
        )
    return (
        f"no fit of {model} in {fit_folder(results, model)}: run fit-{model} first "
        f"(`papermill notebooks/02_fit_model.ipynb fit.ipynb -p model {model}`, "
        "or the main job: `./tasks main`)"
    )


def load_fit(results: str | os.PathLike | None, model: str) -> xr.DataTree:
    """The saved fit of ``model`` (a registered model, or a formula fitted with its
    default references), or a :class:`~returnmodels.errors.ConfigError` saying in one
    line which run to do first."""
    path = fit_folder(results, model) / "posterior.nc"
    if not path.is_file():
        raise ConfigError(missing_fit(results, model))
    return load_result(path, model=_stored_model(model))


def case_columns(predictors: list[str] | None = None):
    """The case-file column specification with these case-level predictors (the
    group, its cooperation predictor and the varying slope stay); ``None``: the
    library's default, every case-level predictor."""
    if predictors is None:
        return None

    return column_spec(predictors=list(predictors))


def sampling_settings(
    *, draws: int, tune: int, chains: int, seed: int, smoke: bool = False, **other
) -> dict:
    """Keyword arguments for :func:`returnmodels.fit`; :data:`SMOKE_SAMPLING` with ``smoke``."""
    settings = {"draws": draws, "tune": tune, "chains": chains} | (SMOKE_SAMPLING if smoke else {})
    return settings | {"random_seed": seed} | other


# -- the verdict, prominently ----------------------------------------------------------


@dataclass(frozen=True)
class Banner:
    """The convergence verdict as a notebook banner (HTML in Jupyter, text elsewhere)."""

    passed: bool
    line: str

    def __str__(self) -> str:
        if self.passed:
            return self.line
        return f"FIT FAILED CONVERGENCE CHECKS: do not use these numbers. {self.line}"

    def _repr_html_(self) -> str:
        colour, background = ("#155724", "#d4edda") if self.passed else ("#721c24", "#f8d7da")
        headline = (
            "Fit passed the convergence checks"
            if self.passed
            else ("FIT FAILED CONVERGENCE CHECKS: do not use these numbers")
        )
        return (
            f'<div style="border:2px solid {colour};background:{background};color:{colour};'
            f'padding:0.6em;font-size:1.1em"><b>{headline}</b><br>{self.line}</div>'
        )


def banner(result: xr.DataTree | Mapping, model: str | None = None) -> Banner:
    """The convergence verdict as a :class:`Banner`, from a fit (its stored verdict) or
    from a verdict mapping (``diagnostics.json``)."""
    if isinstance(result, xr.DataTree):
        verdict = verdict_of(result)
        model = model or result.attrs.get("returnmodels_model", "model")
    else:
        verdict = dict(result)
    return Banner(bool(verdict["passed"]), f"{model or 'fit'}: {verdict_line(verdict)}")


#: At most this many panels in a rank or trace plot (parameters are taken in order).
MAX_PANELS = 36
#: What a fit's plots say when none of its parameters may be published.
NOTHING_PUBLISHED = (
    "No parameter of this fit may be published: the fit rests on too few cases, "
    "or too few with or without the outcome (disclosure rules)."
)


def save_convergence_plots(
    result: xr.DataTree, folder: RunFolder, names: list[str] | None = None
) -> list[Figure]:
    """Rank plots and trace plots of the population-level parameters (``rank.png``,
    ``trace.png``; :func:`convergence_pngs`) written into ``folder``.
    ``names``: the parameters to consider (default :func:`population_parameters`)."""
    candidates = population_parameters(result) if names is None else names
    drawn = convergence_pngs(result, candidates, folder.mark(basis="diagnostics"))
    return [folder.png(png, f"{name}.png") for name, png in drawn.items()]


def convergence_pngs(result: xr.DataTree, names: list[str], marker: dict) -> dict[str, bytes]:
    """``{"rank": PNG, "trace": PNG}`` of the parameters ``names`` carrying ``marker``
    (:mod:`returnmodels.report.convergence_figures`: the fractional-rank Delta-ECDF per
    chain and the thinned draws, drawn directly), at most :data:`MAX_PANELS` panels,
    constant ones (a correlation's diagonal) left out. A fit of one chain has the rank
    plot of its two halves. Nothing is written: :meth:`RunFolder.png` writes them."""
    posterior = result["posterior"].to_dataset()
    shown, panels = [], 0
    for name in names:
        var = posterior[name]
        if bool((var.std(("chain", "draw")) == 0).any()):
            continue
        size = int(np.prod([var.sizes[d] for d in var.dims if d not in ("chain", "draw")]))
        if panels + size > MAX_PANELS:
            break
        shown.append(name)
        panels += size
    style.apply()  # the project's theme whatever was plotted before in this process
    if not shown:  # nothing of the fit may be published: say so in place of the plots
        drawn = {}
        for kind in ("rank", "trace"):
            figure, ax = style.subplots("wide")
            ax.axis("off")
            ax.text(0.5, 0.5, NOTHING_PUBLISHED, ha="center", va="center", wrap=True)
            drawn[kind] = png_bytes(figure, marker)
        return drawn
    halves = _halves_of_one_chain(result)["posterior"].to_dataset()
    with style.without_unloaded_jax():  # 0.7 s of a small fit's writing otherwise
        rank = plot_rank_ecdf(halves, shown)
        drawn = {"rank": png_bytes(rank, marker, tight=False)}
        # the trace plot into the rank plot's axes, now that it is saved
        drawn["trace"] = png_bytes(plot_traces(posterior, shown, figure=rank), marker, tight=False)
    return drawn


def _halves_of_one_chain(result: xr.DataTree) -> xr.DataTree:
    """A fit of one chain as two: its first and second halves (as split R-hat splits
    it), so that the rank plot, which compares chains, has two to compare. A fit of
    several chains is returned as it is."""
    posterior = result["posterior"].to_dataset()
    if posterior.sizes["chain"] > 1:
        return result
    draws = posterior.sizes["draw"] // 2
    one = posterior.isel(chain=0, drop=True)
    halves = [
        one.isel(draw=slice(start, start + draws)).assign_coords(draw=np.arange(draws))
        for start in (0, draws)
    ]
    split = xr.concat(halves, dim="chain").assign_coords(chain=[0, 1])
    return xr.DataTree.from_dict({"posterior": split.transpose("chain", "draw", ...)})


def formula_groups(result: xr.DataTree) -> list[str]:
    """The group factors of a formula fit (``nationality``, ``region:nationality``)."""
    return [g["factor"] for g in json.loads(result.attrs["returnmodels_design"])["groups"]]


def population_parameters(result: xr.DataTree) -> list[str]:
    """Sampled or derived parameters that are neither per cell nor per group."""
    per_level = set(formula_groups(result)) | {"cell"}
    return [
        name
        for name, var in result["posterior"].to_dataset().data_vars.items()
        if not per_level & set(var.dims)
    ]


# -- what may be published of a fit -------------------------------------------------


def fit_support(result: xr.DataTree) -> pd.DataFrame:
    """The fit's support table (the counts behind every parameter, level and value,
    :mod:`returnmodels.models.support`); a fit without one cannot be published from."""
    table = support_of(result)
    if table is None:
        raise ConfigError(
            "this fit has no disclosure_support group (saved by an older returnmodels): "
            "refit it to publish anything from it"
        )
    return table


def group_factors(result: xr.DataTree) -> list[str]:
    """The group factors of a fit: every block's factor (``region:nationality`` for a
    nested one), once each."""
    return list(dict.fromkeys(formula_groups(result)))


def published_fit(result: xr.DataTree, rules: DisclosureRules = DEFAULT_RULES) -> xr.DataTree:
    """``result`` with its posterior reduced to what may be published
    (:func:`~returnmodels.disclosure.posterior.controlled_posterior`): the parameters,
    effects and levels whose cases (with and without each outcome) pass the rules."""
    published = result.copy()
    posterior = controlled_posterior(result["posterior"].to_dataset(), fit_support(result), rules)
    published["posterior"] = xr.DataTree(posterior)
    return published


def withheld_groups(result: xr.DataTree, rules: DisclosureRules = DEFAULT_RULES) -> list[str]:
    """Levels of the fit's group factors whose estimates may not be published: those
    whose cases, or cases with or without an outcome, are below ``min_cases``, and the
    smallest levels pooled with them so that their total is publishable. Levels are
    counted per factor, once, however many blocks use the factor."""
    table = fit_support(result)
    withheld: set[str] = set()
    for factor in group_factors(result):
        rows = table[(table["kind"] == "dim") & (table["key"] == factor)]
        rows = rows.drop_duplicates("label")
        failing = set(rows.loc[~allowed(rows, rules), "label"])
        sizes = pd.DataFrame({"group": rows["label"].to_numpy(), "n": rows["n"].to_numpy()})
        withheld |= failing | {str(g) for g in pool_small_groups(sizes, "group", "n", rules)}
    return sorted(withheld)


def published_summary_labels(result: xr.DataTree, rules: DisclosureRules) -> set[str]:
    """The row labels (as ArviZ writes them, ``gender[female]``) of every parameter
    that may be published, generated from the controlled posterior's structure."""
    return parameter_labels(published_fit(result, rules)["posterior"].to_dataset())


def controlled_summary(
    summary: pd.DataFrame, result: xr.DataTree, rules: DisclosureRules = DEFAULT_RULES
) -> pd.DataFrame:
    """The parameter summary with only the rows that may be published, marked
    controlled: a row is kept only when its label is one the controlled posterior has."""
    keep = published_summary_labels(result, rules)
    return mark_controlled(summary[[str(label) in keep for label in summary.index]], rules)


def prior_sensitivity(result: xr.DataTree, rules: DisclosureRules = DEFAULT_RULES) -> pd.DataFrame:
    """Power-scaling prior sensitivity (Kallioinen et al. 2024; ArviZ's
    ``psense_summary`` on the fit's ``log_prior`` and ``log_likelihood``) of its
    population-level parameters, the rows that may be published (as
    :func:`controlled_summary` keeps them), marked controlled: per parameter the prior's
    and the likelihood's sensitivity and the diagnosis (``potential prior-data
    conflict``, ``potential strong prior / weak likelihood``, or ``-``). Empty for a
    fit without those groups."""
    table = power_scaling(result, population_parameters(result))
    if table is None:
        table = pd.DataFrame(columns=["prior", "likelihood", "diagnosis"])
    keep = published_summary_labels(result, rules)
    return mark_controlled(table[[str(label) in keep for label in table.index]], rules)


def controlled_margins(
    table: pd.DataFrame, result: xr.DataTree, rules: DisclosureRules = DEFAULT_RULES
) -> pd.DataFrame:
    """Margins that may be published, marked controlled: a margin at a value of a
    categorical variable rests on that value's cases (with and without each outcome);
    one of a numeric variable averages over every case. Nothing when the fit as a
    whole rests on too few cases."""
    support = fit_support(result)
    keep = [
        value_published(support, rules, str(predictor), value)
        for predictor, value in zip(table["predictor"], table["value"], strict=True)
    ]
    controlled = table.loc[np.asarray(keep, dtype=bool)].reset_index(drop=True)
    controlled.attrs = dict(table.attrs)
    return mark_controlled(controlled, rules)


def controlled_persons(
    table: pd.DataFrame,
    with_persons: xr.DataTree,
    without_persons: xr.DataTree,
    rules: DisclosureRules = DEFAULT_RULES,
) -> pd.DataFrame:
    """The rows of :func:`~returnmodels.summaries.persons_comparison` that may be
    published, marked controlled: the person SD where the person fit publishes it, the
    coefficient where both fits publish it (:func:`published_fit`), a margin where both
    fits' supports publish its value (as :func:`controlled_margins`)."""
    fits = (with_persons, without_persons)
    posteriors = [published_fit(fit, rules)["posterior"] for fit in fits]
    supports = [fit_support(fit) for fit in fits]
    keep = []
    for row in table.itertuples(index=False):
        if row.quantity == "margin":
            ok = all(value_published(s, rules, str(row.predictor), row.value) for s in supports)
        elif row.quantity == "person_sd":
            ok = f"{row.predictor}_sigma" in posteriors[0]
        else:
            ok = all(str(row.predictor) in posterior for posterior in posteriors)
        keep.append(ok)
    controlled = table.loc[np.asarray(keep, dtype=bool)].reset_index(drop=True)
    return mark_controlled(controlled, rules)


def margin_targets(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (margins) with the study's published figures in a ``target`` column."""
    targets = {("n_procedures", str(k)): v for k, v in PROCEDURE_MARGINS.items()}
    targets |= {("cooperation", k): v for k, v in COOPERATION_MARGINS.items()}
    keys = zip(table["predictor"], table["value"].astype(str), strict=True)
    result = table.assign(target=[targets.get(key, np.nan) for key in keys])
    result.attrs = dict(table.attrs)
    return result


def controlled_contrast(
    result: xr.DataTree, a: str, b: str, rules: DisclosureRules = DEFAULT_RULES
) -> pd.DataFrame:
    """:func:`returnmodels.summaries.contrast` of groups ``a`` and ``b``, refused
    (:class:`~returnmodels.disclosure.DisclosureError`) unless both are published levels.
    The refusal is the same whether a level is absent or withheld, so that it does not
    tell whether a small level exists."""
    factor = group_factors(result)[0]
    published = published_labels(fit_support(result), rules, "dim").get(factor, set())
    published -= set(withheld_groups(result, rules))
    unpublished = [level for level in (a, b) if str(level) not in published]
    if unpublished or not whole_fit_published(fit_support(result), rules):
        raise DisclosureError(
            f"no contrast of {a!r} and {b!r} published: contrasts are published only "
            f"between levels of {factor!r} with at least {rules.min_cases} cases, with and "
            f"without the outcome; {', '.join(map(repr, unpublished)) or 'the fit'} is not one"
        )
    return mark_controlled(contrast(result, a, b), rules)


def publishable_contrast(
    result: xr.DataTree, a: str, b: str, rules: DisclosureRules = DEFAULT_RULES
) -> pd.DataFrame | None:
    """:func:`controlled_contrast`, or None with the reason printed when the rules do
    not allow it (a notebook then goes on without it)."""
    try:
        return controlled_contrast(result, a, b, rules)
    except DisclosureError as refused:
        print(f"not published: {refused}")
        return None


def plot_margins_with_targets(
    result: xr.DataTree, table: pd.DataFrame, predictor: str, ax=None, language: str = "en"
):
    """:func:`returnmodels.report.model_figures.plot_margins` with the study's published
    figures (``target`` column of :func:`margin_targets`) as diamonds beside them."""
    ax = plot_margins(result, table, predictor, ax=ax, language=language)
    rows = table[table["predictor"] == predictor].reset_index(drop=True)
    shown = rows["target"].notna()
    if shown.any():
        ax.plot(
            np.flatnonzero(shown) + 0.15,
            rows.loc[shown, "target"],
            "D",
            color=style.COLOURS["study"],
            ms=7,
            label=text("study_figure", language),
        )
    ax.legend(loc="best")
    return ax


# -- the fit's run folder --------------------------------------------------------------

#: What a fit's folder holds, whoever wrote it (``returnmodels fit`` or notebook 02).
FIT_FILES: tuple[str, ...] = (
    "posterior.nc",
    "summary.csv",
    "margins.csv",
    "diagnostics.json",
    "rank.png",
    "trace.png",
    "fit_manifest.json",
)


def write_fit_outputs(
    result: xr.DataTree, folder: RunFolder, *, data_path: str | os.PathLike | None = None
) -> dict[str, Path | Figure]:
    """Write a fit's :data:`FIT_FILES` through ``folder``, each once and controlled:
    ``posterior.nc`` (internal: with its data groups), ``summary.csv`` (parameters of
    withheld groups left out) and ``margins.csv`` (population level) with their markers,
    ``diagnostics.json`` (the verdict, with the ``verdict`` key the batch index shows),
    rank and trace plots of the population-level parameters, and ``fit_manifest.json``
    (configuration, seed, data checksum, versions, timings, files, rules).

    The two plots are drawn in a child process beside this one
    (:func:`returnmodels.report.beside.beside`: forked, so it has every module and the
    draws already, and draws on the other core while this process writes the tables;
    it sends the PNG bytes back, and this process checks and writes them); the manifest
    is written after both. Its ``timings`` say where the writing time went:
    ``write_start_s`` (the published fit and the child's start), ``write_posterior_s``,
    ``write_summary_s``, ``write_margins_s`` and
    ``write_controls_s`` here, ``write_figures_s`` the drawing in the child,
    ``write_figures_wait_s`` the wait for it and the two PNGs' writing, and the
    whole ``write_s`` (which adds the manifest), beside the fit's
    ``compile_and_sample_s`` and ``compile_s``."""
    started = clock = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(part: str) -> None:  # where the writing time goes, in the manifest
        nonlocal clock
        now = time.perf_counter()
        seconds[f"write_{part}_s"], clock = now - clock, now

    def plots() -> tuple[float, dict[str, bytes]]:  # drawn beside the tables
        begun = time.perf_counter()
        drawn = convergence_pngs(published, population_parameters(published), marker)
        return time.perf_counter() - begun, drawn

    published = published_fit(result, folder.rules)
    marker = folder.mark(basis="diagnostics")
    outputs: dict[str, Path | Figure] = {}
    with beside(plots) as drawing:
        lap("start")
        outputs["posterior"] = folder.posterior(result)
        lap("posterior")
        summary = _summary_of(published).rename_axis("parameter")
        folder.table(controlled_summary(summary, result, folder.rules), "summary.csv")
        lap("summary")
        table = with_verdict(margins(result), result)
        lap("margins")
        folder.table(controlled_margins(table, result, folder.rules), "margins.csv")
        outputs["diagnostics"] = write_verdict(result, folder)
        lap("controls")
        seconds["write_figures_s"], drawn = drawing.result()
        for kind, png in drawn.items():
            outputs[kind] = folder.png(png, f"{kind}.png")
        lap("figures_wait")
    manifest = fit_manifest(result, data_path)
    seconds["margins_s"] = seconds["write_margins_s"]  # the name earlier manifests used
    manifest["timings"] |= seconds | {"write_s": time.perf_counter() - started}
    manifest["files"] = {n: sha256_file(folder.path / n) for n in FIT_FILES[:-1]}
    manifest["disclosure"] = folder.rules.to_dict()
    outputs["fit_manifest"] = folder.json(manifest, "fit_manifest.json")
    return outputs


def _summary_of(result: xr.DataTree) -> pd.DataFrame:
    """:func:`parameter_summary`, or an empty table of its columns when nothing may be
    published."""
    if not result["posterior"].to_dataset().data_vars:
        return pd.DataFrame(columns=["convergence", "mean", "sd", "hdi94_lb", "hdi94_ub"])
    return parameter_summary(result)


def write_fit_run(
    result: xr.DataTree,
    out: str | os.PathLike,
    *,
    data_path: str | os.PathLike | None = None,
    rules: DisclosureRules = DEFAULT_RULES,
) -> dict[str, Path | Figure]:
    """:func:`write_fit_outputs` into the run folder ``out`` (notebook 02, whose batch
    runner makes the folder appear whole)."""
    return write_fit_outputs(result, RunFolder(out, rules), data_path=data_path)


def write_fit_folder(
    result: xr.DataTree,
    out: str | os.PathLike,
    *,
    data_path: str | os.PathLike | None = None,
    rules: DisclosureRules = DEFAULT_RULES,
) -> Path:
    """:func:`write_fit_outputs` into the new folder ``out`` (``returnmodels fit``): built
    in a hidden sibling folder and renamed into place, so it appears whole or not at all."""
    out = check_new_folder(out)
    with removed_on_failure(out):  # parent folders made here go again if writing fails
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            write_fit_outputs(result, RunFolder(staging, rules), data_path=data_path)
            if out.exists():
                out.rmdir()
            os.replace(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return out


def fit_manifest(result: xr.DataTree, data_path: str | os.PathLike | None) -> dict:
    """The provenance of a fit: model, configuration and its hash, data, seed, sampler,
    package versions, timings and the convergence verdict."""
    config = result_config(result)
    verdict = verdict_of(result)
    return {
        "model": result.attrs["returnmodels_model"],
        "config": config,
        "config_hash": result.attrs["returnmodels_config_hash"],
        "data": {
            "path": None if data_path is None else str(data_path),
            "sha256": result.attrs["returnmodels_data_sha256"],
        },
        "seed": config["sampling"]["random_seed"],
        "sampler": config["sampling"]["sampler"],
        "versions": package_versions(),
        "timings": json.loads(result.attrs.get("returnmodels_timings", "{}")),
        "convergence": {"passed": verdict["passed"], "failures": verdict["failures"]},
    }


def write_verdict(result: xr.DataTree, folder: RunFolder) -> Path:
    """``diagnostics.json``: the stored verdict with a ``verdict`` key (``PASS`` or
    ``FAIL``), which the batch runner shows in its index."""
    verdict = verdict_of(result)
    return folder.json({"verdict": verdict_label(verdict)} | verdict, "diagnostics.json")


# -- per-group tables ------------------------------------------------------------------


def _shares_by(
    frame: pd.DataFrame, by: str, share: str, rules: DisclosureRules, withheld: Iterable[str]
) -> pd.DataFrame:
    """Rows of withheld groups dropped; ``share`` recomputed from rounded counts."""
    frame = frame.assign(n_successes=np.rint(frame[share] * frame["n"]).astype("int64"))
    frame = frame[~frame[by].astype(str).isin(set(withheld))].drop(columns=share)
    controlled = control_shares(
        frame, "n_successes", "n", rules, share=share, flag=f"{share}_suppressed"
    )
    columns = [by, "n", "n_successes", share, f"{share}_suppressed"]
    rest = [c for c in frame.columns if c not in columns]
    return mark_controlled(controlled[columns + rest], rules, count_columns=["n", "n_successes"])


def controlled_group_effects(result: xr.DataTree, rules: DisclosureRules = DEFAULT_RULES):
    """:func:`returnmodels.summaries.group_effects`, published groups only: ``n`` and the
    successes rounded, ``raw_share`` from the rounded counts (NaN where suppressed)."""
    effects = group_effects(result)
    group = effects.columns[0]
    published = published_labels(fit_support(result), rules, "dim").get(group, set())
    unpublished = set(effects[group].astype(str)) - published
    withheld = set(withheld_groups(result, rules)) | unpublished
    return _shares_by(effects, group, "raw_share", rules, withheld)


def ppc_columns(result: xr.DataTree) -> list[str]:
    """The variables of a fit's formula other than its group factors (as its cells
    hold them): the columns to check posterior predictions by."""
    design = FormulaDesign.from_result(result)
    return [c for c in design.cells.columns if c not in design.factors]


def _rounded_intervals(table: pd.DataFrame, rules: DisclosureRules) -> pd.DataFrame:
    """The replicated shares' mean and bounds as shares of rounded counts over the
    rounded n: a bound of 7/32 would give the exact n back beside a rounded one."""
    n = table["n"].to_numpy(dtype=float)
    shown_n = round_counts(n, rules.rounding_base)
    rounded = table.copy()
    for column in ("mean", "hdi_lower", "hdi_upper"):
        counts = round_counts(table[column].to_numpy(dtype=float) * n, rules.rounding_base)
        rounded[column] = np.where(shown_n > 0, counts / np.maximum(shown_n, 1), np.nan)
    return rounded


def controlled_ppc(
    result: xr.DataTree,
    by: str | None = None,
    rules: DisclosureRules = DEFAULT_RULES,
    *,
    random_seed: int = 0,
) -> pd.DataFrame:
    """:func:`returnmodels.summaries.ppc_shares` by ``by``, controlled: values of ``by``
    with fewer than ``min_cases`` cases withheld, observed shares from rounded counts,
    ``inside`` judged on the published share."""
    table = ppc_shares(result, by, random_seed=random_seed)
    by = table.columns[0]
    sizes = table[[by, "n"]].astype({by: str})
    support = fit_support(result)
    unpublished = {
        str(v) for v in table[by] if not value_published(support, rules, str(by), str(v))
    }
    withheld = set(map(str, pool_small_groups(sizes, by, "n", rules))) | unpublished
    table = _rounded_intervals(table, rules)
    controlled = _shares_by(table, by, "observed_share", rules, withheld)
    share = controlled["observed_share"]
    inside = (share >= controlled["hdi_lower"]) & (share <= controlled["hdi_upper"])
    controlled["inside"] = inside.where(share.notna())
    return mark_controlled(controlled, rules, count_columns=["n", "n_successes"])


# -- comparing fits --------------------------------------------------------------------


def read_fits(
    results: str | os.PathLike | None, models: Iterable[str], *, at_least: int = 0
) -> tuple[dict, list[str]]:
    """``({model: result}, notes)`` from ``<results>/fit-<model>/posterior.nc`` (a
    formula's from its folder, :func:`fit_folder`); a missing fit is left out with a
    note saying which run makes it. Fewer than ``at_least`` fits found: a
    :class:`~returnmodels.errors.ConfigError` with those notes."""
    fits, notes = {}, []
    for model in models:
        path = fit_folder(results, model) / "posterior.nc"
        if path.is_file():
            fits[model] = load_result(path, model=_stored_model(model))
        else:
            notes.append(f"left out: {missing_fit(results, model)}")
    if len(fits) < at_least:
        raise ConfigError(f"{at_least} fits needed, {len(fits)} found; " + "; ".join(notes))
    return fits, notes


def plot_loo_comparison(
    table: pd.DataFrame,
    folder: RunFolder,
    name: str = "loo_comparison.png",
    *,
    source: str = "loo_comparison.csv",
    title: str | None = None,
) -> Figure:
    """Each model's ELPD difference to the best with its SE
    (:func:`returnmodels.report.model_figures.plot_elpd_differences`: a model far behind,
    such as ``pooled``, drawn off scale so the others stay readable), saved into
    ``folder`` as drawn from the controlled ``source``."""
    return folder.figure(plot_elpd_differences(table, title=title), name, sources=[source])


def read_fit_tables(folder: str | os.PathLike) -> tuple[pd.DataFrame, dict] | None:
    """``(margins, verdict)`` that :func:`write_fit_run` wrote into ``folder`` (e.g.
    ``<results>/fit-<model>``), or ``None`` if they are not there."""
    folder = Path(folder)
    if not (folder / "margins.csv").is_file() or not (folder / "diagnostics.json").is_file():
        return None
    margins = pd.read_csv(folder / "margins.csv", dtype={"value": str})
    verdict = json.loads((folder / "diagnostics.json").read_text(encoding="utf-8"))
    return mark_controlled(margins, read_marker(folder / "margins.csv")["rules"]), verdict


def loo_comparison(
    fits: Mapping[str, xr.DataTree], rules: DisclosureRules = DEFAULT_RULES
) -> pd.DataFrame:
    """PSIS-LOO comparison (:func:`returnmodels.summaries.compare_models`) with each
    model's convergence verdict; marked controlled (no counts of cases)."""
    table = compare_models(fits).rename(columns={"n_pareto_k_bad": "pareto_k_bad_cells"})
    table.index.name = "model"
    verdicts = {m: verdict_label(verdict_of(r)) for m, r in fits.items()}
    table.insert(0, "convergence", [verdicts[m] for m in table.index])
    note = table.attrs["note"]
    table = mark_controlled(pd.DataFrame(table), rules)
    table.attrs["note"] = note
    return table

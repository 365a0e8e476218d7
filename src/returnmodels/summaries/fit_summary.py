"""One fit at a glance, as brms's and bambi's ``summary()`` show it: :func:`summary`.

What model (the formula, or a registered model's name and the formula it is), its family,
reference levels, priors (merged, as the result records them), the sampler and its
settings, the convergence verdict with its figures, and three tables: the common
coefficients (posterior mean, sd, 94% HDI, odds ratios, R-hat and ESS), the group SDs and
the correlations; and the power-scaling sensitivity check (:func:`sensitivity`, ArviZ's
``psense_summary``): the parameters whose posterior moves when the prior or the
likelihood is power-scaled, a line and a table of the flagged ones. It reads the result
alone: the posterior and the attributes every fit carries (``returnmodels_config``,
``returnmodels_design``, ``returnmodels_sampler``, ``returnmodels_verdict``) and, for the check,
the ``log_prior`` and ``log_likelihood`` groups, so a saved result is summarised without PyMC.

It is the analyst's view, not a controlled output: the tables hold every parameter
whatever the cases behind it. What leaves the secure environment goes through the run
folder (:func:`returnmodels.write_fit_folder`, notebook 02) and ``returnmodels release``.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.data.vocabulary import ASSISTED, NONREFERENCE_OUTCOMES, REFERENCE_OUTCOME
from returnmodels.errors import ConfigError
from returnmodels.inference.diagnostics import Verdict, verdict_of
from returnmodels.inference.loo import with_log_likelihood
from returnmodels.summaries._draws import HDI_PROB

__all__ = ["FitSummary", "coefficient_draws", "power_scaling", "sensitivity", "summary"]

_SAMPLE = ("chain", "draw")
_LEAD = "nonreference_outcome"
#: Columns of every table after its labels: draws summarised, then the diagnostics.
_STATS = ["mean", "sd", "hdi_lower", "hdi_upper"]
_DIAGNOSTICS = ["r_hat", "ess_bulk", "ess_tail"]
_ODDS = ["odds_ratio", "or_hdi_lower", "or_hdi_upper"]
#: psense's threshold: a change of the posterior (CJS distance per unit of log alpha)
#: above it flags a parameter (Kallioinen et al. 2024; priorsense's default).
PSENSE_THRESHOLD = 0.05
_SENSITIVITY = ["parameter", "prior", "likelihood", "diagnosis"]
#: Group levels' effects shown in the summary's sensitivity table; the rest are counted.
SHOWN_LEVEL_EFFECTS = 10


@dataclass(frozen=True)
class _Layout:
    """What a summary needs of a fit's structure (every fit is a formula's):
    the common terms ``(name, labels)``, the group blocks ``(factor, columns, levels)``
    and whether a second, multinomial stage (``competing_`` parameters) follows."""

    model: str
    formula: str
    family: str
    references: dict[str, str]
    common: tuple[tuple[str, tuple[str, ...]], ...]
    groups: tuple[tuple[str, tuple[str, ...], int], ...]
    competing: bool
    intercept: str  # what the Intercept is, in words


def _attr(result: xr.DataTree, name: str) -> dict:
    try:
        return json.loads(result.attrs[name])
    except KeyError:
        raise ConfigError(f"not a returnmodels result: attribute {name} missing") from None


def _family(competing: bool) -> str:
    if not competing:
        return "binomial, logit link"
    return (
        f"competing outcomes: binomial logit of {ASSISTED}, then multinomial logit of the "
        f"other outcomes against {REFERENCE_OUTCOME}"
    )


def _formula_layout(result: xr.DataTree, config: dict) -> _Layout:
    described = _attr(result, "returnmodels_design")
    competing = described.get("family") == "competing_outcomes"
    return _Layout(
        model=config.get("model", "formula"),
        formula=config["formula"],
        family=_family(competing),
        references=dict(described.get("references") or {}),
        common=tuple((t["name"], tuple(t["labels"])) for t in described["common"]),
        groups=tuple(
            (g["factor"], tuple(g["columns"]), int(g["n_levels"])) for g in described["groups"]
        ),
        competing=competing,
        intercept="log-odds at the reference levels and each numeric term's "
        "case-weighted mean (numeric terms are centred)",
    )


def _layout(result: xr.DataTree) -> _Layout:
    return _formula_layout(result, _attr(result, "returnmodels_config"))


def _stages(layout: _Layout) -> list[tuple[str, str | None, str]]:
    """``(prefix, non-reference outcome or None, what it models)`` per linear predictor."""
    stages = [("", None, ASSISTED)]
    if layout.competing:
        stages += [("competing_", o, o) for o in NONREFERENCE_OUTCOMES]
    return stages


def _values(posterior: xr.Dataset, name: str, outcome: str | None) -> np.ndarray | None:
    """Draws of ``name`` (one outcome's, in a competing stage) as (chain, draw, k)."""
    if name not in posterior:
        return None
    var = posterior[name]
    if outcome is not None and _LEAD in var.dims:
        var = var.sel({_LEAD: outcome})
    var = var.transpose(*_SAMPLE, ...)
    return var.values.reshape(var.sizes["chain"], var.sizes["draw"], -1)


def _stats(values: np.ndarray, prob: float) -> list[dict[str, float]]:
    """Mean, sd, HDI, R-hat, bulk and tail ESS of each column of (chain, draw, k)."""
    data = xr.Dataset({"v": (("chain", "draw", "k"), values)})
    diagnostics = {
        "r_hat": az.rhat(data)["v"].values,
        "ess_bulk": az.ess(data, method="bulk")["v"].values,
        "ess_tail": az.ess(data, method="tail")["v"].values,
    }
    rows = []
    for k in range(values.shape[-1]):
        flat = values[:, :, k].ravel()
        lower, upper = az.hdi(flat, prob=prob)
        row = {"mean": float(flat.mean()), "sd": float(flat.std(ddof=1)) if flat.size > 1 else 0.0}
        row |= {"hdi_lower": float(lower), "hdi_upper": float(upper)}
        rows.append(row | {key: float(v[k]) for key, v in diagnostics.items()})
    return rows


def _common_values(
    result: xr.DataTree, layout: _Layout
) -> Iterator[tuple[str, str | None, str, tuple[str, ...], np.ndarray]]:
    """Per common term and stage: ``(what it models, non-reference outcome or None,
    term, labels, draws (chain, draw, labels))``; a term the posterior lacks is skipped."""
    posterior = result["posterior"].to_dataset()
    for prefix, outcome, modelled in _stages(layout):
        for name, labels in layout.common:
            values = _values(posterior, prefix + name, outcome)
            if values is None:
                continue
            if values.shape[-1] != len(labels):
                raise ConfigError(
                    f"posterior variable {prefix + name!r} has {values.shape[-1]} columns, "
                    f"its design {len(labels)} ({list(labels)}): the result's attributes "
                    "do not describe it"
                )
            yield modelled, outcome, name, labels, values


def coefficient_draws(
    result: xr.DataTree,
) -> Iterator[tuple[str | None, str, str, np.ndarray]]:
    """Every common coefficient's draws, formula fit or registered model:
    ``(non-reference outcome or None, term, label, draws (chain, draw))``, the
    competing stage's after stage 1's; a term the posterior lacks is skipped."""
    for _, outcome, name, labels, values in _common_values(result, _layout(result)):
        for k, label in enumerate(labels):
            yield outcome, name, label, values[:, :, k]


def _coefficients(result: xr.DataTree, layout: _Layout, prob: float) -> pd.DataFrame:
    rows = []
    for modelled, _, name, labels, values in _common_values(result, layout):
        for label, stats in zip(labels, _stats(values, prob), strict=True):
            ratio = np.exp([stats["mean"], stats["hdi_lower"], stats["hdi_upper"]])
            odds = dict(zip(_ODDS, ratio.tolist(), strict=True))
            if name == "Intercept":  # a baseline, not a ratio
                odds = dict.fromkeys(_ODDS, np.nan)
            rows.append({"outcome": modelled, "term": label, **stats, **odds})
    columns = ["outcome", "term", *_STATS, *_ODDS, *_DIAGNOSTICS]
    return _framed(rows, columns, layout.competing)


def _sds(result: xr.DataTree, layout: _Layout, prob: float) -> pd.DataFrame:
    posterior = result["posterior"].to_dataset()
    rows = []
    for prefix, outcome, modelled in _stages(layout):
        for factor, columns, n_levels in layout.groups:
            for column in columns:
                stem = factor if column == "Intercept" else f"{factor}_{column}"
                values = _values(posterior, f"{prefix}{stem}_sigma", outcome)
                if values is None:
                    continue
                (stats,) = _stats(values, prob)
                row = {"outcome": modelled, "group": factor, "levels": n_levels}
                rows.append(row | {"term": column, **stats})
    columns = ["outcome", "group", "levels", "term", *_STATS, *_DIAGNOSTICS]
    return _framed(rows, columns, layout.competing)


def _pairs(posterior: xr.Dataset, name: str, columns: tuple[str, ...]) -> list[str]:
    """The labels of ``name``'s correlations: its pair coordinate, or the one pair."""
    pair = [d for d in posterior[name].dims if d not in (*_SAMPLE, _LEAD)]
    if pair:
        return [str(label) for label in posterior[name][pair[0]].values]
    return [f"{columns[0]}, {columns[1]}"]


def _correlations(result: xr.DataTree, layout: _Layout, prob: float) -> pd.DataFrame:
    posterior = result["posterior"].to_dataset()
    rows = []
    for prefix, outcome, modelled in _stages(layout):
        for factor, columns, _ in layout.groups:
            name = f"{prefix}{factor}_corr"
            values = _values(posterior, name, outcome) if len(columns) > 1 else None
            if values is None:
                continue
            labels = _pairs(posterior, name, columns)
            for label, stats in zip(labels, _stats(values, prob), strict=True):
                rows.append({"outcome": modelled, "group": factor, "terms": label, **stats})
    columns = ["outcome", "group", "terms", *_STATS, *_DIAGNOSTICS]
    return _framed(rows, columns, layout.competing)


def _framed(rows: list[dict], columns: list[str], competing: bool) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=columns)
    return table if competing else table.drop(columns="outcome")


def _prior_text(spec: Mapping) -> str:
    params = ", ".join(f"{k}={_number(v)}" for k, v in spec.items() if k != "dist")
    return f"{spec.get('dist', '?')}({params})"


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _sampler(result: xr.DataTree, config: dict) -> dict:
    """The settings asked for (``config["sampling"]``) updated by what the fit used
    (``returnmodels_sampler``: the adaptation ``auto`` chose, engine, compile cache)."""
    used = json.loads(result.attrs.get("returnmodels_sampler", "{}"))
    return dict(config.get("sampling") or {}) | used


@dataclass(frozen=True)
class FitSummary:
    """A fit's summary (:func:`summary`): prints as text (``print``, ``str``) and as
    HTML in Jupyter; the tables are DataFrames, unrounded (display rounds them).

    ``coefficients``: one row per common coefficient, ``term`` (``gender[female]``),
    posterior ``mean``, ``sd``, ``hdi_lower``/``hdi_upper`` (94% HDI, log-odds),
    ``odds_ratio``/``or_hdi_lower``/``or_hdi_upper`` (exp of the mean and of the HDI's
    bounds; empty for the Intercept, a baseline), ``r_hat``, ``ess_bulk``, ``ess_tail``;
    ``sds``: each group term's SD (``group``, its number of ``levels``, ``term``);
    ``correlations``: each correlated block's correlations (``terms``). A
    competing-outcomes fit has an ``outcome`` column first (``assisted_return``, then
    each outcome against ``unsupervised_departure``). ``sensitivity``: the parameters
    the power-scaling check flags (:func:`sensitivity`; None when not computed).
    """

    model: str
    formula: str
    family: str
    references: dict[str, str]
    priors: dict[str, dict]
    sampler: dict
    verdict: Verdict
    coefficients: pd.DataFrame
    sds: pd.DataFrame
    correlations: pd.DataFrame
    intercept: str
    prob: float = HDI_PROB
    digits: int = 2
    #: :func:`sensitivity`'s flagged parameters; None: not computed
    sensitivity: pd.DataFrame | None = None

    @property
    def title(self) -> str:
        if self.model == "formula":
            return "returnmodels fit of a formula"
        return f"returnmodels fit of registered model {self.model}"

    def header(self) -> list[tuple[str, str]]:
        """``(what, text)`` rows: model, family, references, priors, sampler, verdict."""
        references = ", ".join(f"{k} = {v}" for k, v in sorted(self.references.items()))
        priors = "; ".join(f"{k} ~ {_prior_text(v)}" for k, v in sorted(self.priors.items()))
        rows = [
            ("formula", self.formula or "(not recorded)"),
            ("family", self.family),
            ("reference levels", references or "none (no categorical term)"),
            ("priors", priors or "(not recorded)"),
            ("sampler", self.sampler_text()),
            ("convergence", self.verdict.line),
            ("sensitivity", _sensitivity_line(self.sensitivity)),
        ]
        if not self.verdict.passed and self.verdict.advice:
            rows.append(("what to try", " | ".join(self.verdict.advice)))
        return rows

    def sampler_text(self) -> str:
        s = self.sampler
        text = f"{s.get('sampler', '?')}"
        if s.get("engine"):
            text += f" ({s['engine']})"
        text += (
            f": {s.get('chains', '?')} chains x {s.get('draws', '?')} draws after "
            f"{s.get('tune', '?')} tuning steps"
        )
        extra = [f"{key} {s[key]}" for key in ("target_accept", "adaptation") if key in s]
        extra += [f"seed {s['random_seed']}"] if "random_seed" in s else []
        return text + (f", {', '.join(extra)}" if extra else "")

    def tables(self) -> list[tuple[str, pd.DataFrame, str]]:
        """The non-empty tables as displayed: ``(heading, table, note below it)``."""
        percent = f"{self.prob:.0%}"
        named = [
            (
                f"Coefficients (log-odds, {percent} HDI; odds_ratio: exp of the mean and of "
                "the HDI bounds)",
                self.coefficients,
                f"Intercept: {self.intercept}.",
            ),
            (f"Group SDs ({percent} HDI)", self.sds, ""),
            (f"Correlations ({percent} HDI)", self.correlations, ""),
            (
                "Prior sensitivity (power-scaling: how much each posterior moves when the "
                "prior or the likelihood is scaled)",
                *_shown_sensitivity(self.sensitivity),
            ),
        ]
        return [(title, table, note) for title, table, note in named if len(table)]

    def rounded(self, table: pd.DataFrame) -> pd.DataFrame:
        """``table`` as displayed: estimates to ``digits`` decimals, R-hat to 3, ESS
        whole, missing values blank."""
        shown = table.copy()
        for column in shown.columns:
            if column == "r_hat":
                shown[column] = shown[column].map(lambda v: _fixed(v, 3))
            elif column in ("ess_bulk", "ess_tail"):
                shown[column] = shown[column].map(lambda v: _fixed(v, 0))
            elif column in (*_STATS, *_ODDS, "prior", "likelihood"):
                shown[column] = shown[column].map(lambda v: _fixed(v, self.digits))
        return shown

    def __str__(self) -> str:
        width = max(len(what) for what, _ in self.header())
        lines = [self.title, ""]
        lines += [f"  {what:<{width}}  {text}" for what, text in self.header()]
        for title, table, note in self.tables():
            lines += ["", title, self.rounded(table).to_string(index=False)]
            lines += [note] if note else []
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(
            f"<tr><th style='text-align:left'>{html.escape(what)}</th>"
            f"<td style='text-align:left'>{html.escape(text)}</td></tr>"
            for what, text in self.header()
        )
        parts = [f"<h4>{html.escape(self.title)}</h4>", f"<table>{head}</table>"]
        for title, table, note in self.tables():
            parts.append(f"<p><b>{html.escape(title)}</b></p>")
            parts.append(self.rounded(table).to_html(index=False, escape=True))
            parts += [f"<p>{html.escape(note)}</p>"] if note else []
        return "\n".join(parts)


def power_scaling(
    result: xr.DataTree, var_names: list[str] | None = None, threshold: float = PSENSE_THRESHOLD
) -> pd.DataFrame | None:
    """ArviZ's power-scaling sensitivity of ``var_names`` (default: every variable):
    per parameter, the prior's and the likelihood's sensitivity (the CJS distance of
    the posterior per unit of log alpha, alpha in 0.99-1.01) and the diagnosis; None
    when the fit has no ``log_prior`` or no ``log_likelihood`` group. ArviZ's log
    message pointing to its guide is not printed."""
    result = with_log_likelihood(result)  # rebuilt where the fit left it out (too large)
    if not {"log_prior", "log_likelihood"} <= set(result.children):
        return None
    logger = logging.getLogger("arviz_stats.psense")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return az.psense_summary(result, var_names=var_names, threshold=threshold)
    finally:
        logger.setLevel(level)


def sensitivity(result: xr.DataTree, threshold: float = PSENSE_THRESHOLD) -> pd.DataFrame | None:
    """The parameters ArviZ's power-scaling check flags (``psense_summary``: potential
    prior-data conflict, or a strong prior and a weak likelihood), one row each with the
    prior's and the likelihood's sensitivity; None when the fit has no ``log_prior`` or
    no ``log_likelihood`` group to power-scale (a PyMC-sampled or saved-without fit).
    ArviZ's log message pointing to its guide is not printed: the summary says it."""
    table = power_scaling(result, threshold=threshold)
    if table is None:
        return None
    flagged = table[table["diagnosis"].str.startswith("potential")]
    return flagged.rename_axis("parameter").reset_index()[_SENSITIVITY]


def _is_level_effect(parameter: str) -> bool:
    """A group level's effect (``nationality_effect[NGA]``), not a parameter with a prior."""
    return parameter.split("[", 1)[0].endswith("_effect")


def _shown_sensitivity(table: pd.DataFrame | None) -> tuple[pd.DataFrame, str]:
    """The flagged rows as displayed, and the note below them: every parameter with a
    prior, and at most :data:`SHOWN_LEVEL_EFFECTS` group levels' effects (a fit with
    many levels may flag dozens; ``FitSummary.sensitivity`` holds them all)."""
    note = (
        "prior-data conflict: both sensitive; strong prior / weak likelihood: the prior "
        "decides more than the data."
    )
    if table is None:
        return pd.DataFrame(), note
    levels = table["parameter"].map(_is_level_effect).astype(bool)
    hidden = int(levels.sum()) - SHOWN_LEVEL_EFFECTS
    if hidden <= 0:
        return table, note
    shown = pd.concat([table[~levels], table[levels].head(SHOWN_LEVEL_EFFECTS)])
    return shown, f"{note} {hidden} more group levels' effects flagged (FitSummary.sensitivity)."


def _sensitivity_line(table: pd.DataFrame | None) -> str:
    if table is None:
        return "not computed (the fit has no log_prior or no log_likelihood group)"
    if not len(table):
        return f"no parameter flagged by power-scaling (threshold {PSENSE_THRESHOLD})"
    return (
        f"{len(table)} parameter(s) flagged by power-scaling (threshold {PSENSE_THRESHOLD}): "
        "see the table; Kallioinen et al. 2024, doi:10.1007/s11222-023-10366-5"
    )


def _fixed(value, decimals: int) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.{decimals}f}"


def summary(result: xr.DataTree, *, prob: float = HDI_PROB, digits: int = 2) -> FitSummary:
    """The summary of a fit, formula or registered model (see :class:`FitSummary`):
    ``print(rm.summary(result))``, or shown as a table in Jupyter. ``prob`` is the HDI's
    mass, ``digits`` the decimals shown."""
    if not 0 < prob < 1:
        raise ConfigError(f"prob must be between 0 and 1, got {prob!r}")
    config = _attr(result, "returnmodels_config")
    layout = _layout(result)
    return FitSummary(
        model=layout.model,
        formula=layout.formula,
        family=layout.family,
        references=layout.references,
        priors=dict(config.get("priors") or {}),
        sampler=_sampler(result, config),
        verdict=Verdict.from_dict(verdict_of(result)),
        coefficients=_coefficients(result, layout, prob),
        sds=_sds(result, layout, prob),
        correlations=_correlations(result, layout, prob),
        intercept=layout.intercept,
        prob=prob,
        digits=digits,
        sensitivity=sensitivity(result),
    )

"""Figures of a fit; each carries the fit's convergence verdict in its title.

matplotlib in the theme of :mod:`returnmodels.report.style` (ArviZ 1.x plotting is
organised around PlotCollection; these figures are tables drawn as points and
intervals, which plain matplotlib keeps simple). Labels come from
:mod:`returnmodels.report.labels` in ``language``; per-group figures show the largest
:data:`~returnmodels.report.style.MAX_GROUPS` groups and say so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.inference.diagnostics import verdict_of
from returnmodels.report import style
from returnmodels.report.labels import label, text, value_label

__all__ = ["plot_caterpillar", "plot_margins", "plot_ppc"]


def _title(ax, result: xr.DataTree, title: str, language: str = "en") -> None:
    verdict = verdict_of(result)
    shown = text("figure_pass" if verdict["passed"] else "figure_fail", language)
    ax.set_title(f"{title}\n{result.attrs['returnmodels_model']}: {shown}")
    if not verdict["passed"]:
        ax.text(
            0.5,
            0.5,
            text("figure_failed", language),
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="red",
            alpha=0.3,
            fontsize=20,
            rotation=20,
        )


def _shown_groups(table: pd.DataFrame, top: int | None, language: str) -> tuple[pd.DataFrame, str]:
    shown, _ = style.top_groups(table, "n", top)
    if len(shown) == len(table):
        return shown, ""
    return shown, text("nationalities_shown", language, top=len(shown), count=len(table))


def plot_caterpillar(
    result: xr.DataTree,
    effects: pd.DataFrame,
    ax=None,
    top: int | None = style.MAX_GROUPS,
    language: str = "en",
):
    """Partially pooled shares (points, 94% HDI) beside raw shares (crosses), by group,
    largest groups first (``top`` of them; ``None``: all). ``effects`` from
    ``group_effects``; case counts printed as whole numbers."""
    group = effects.columns[0]
    table, note = _shown_groups(effects, top, language)
    table = table.sort_values("n", ascending=True)
    ax = ax or style.subplots(height=max(3.0, 0.24 * len(table) + 1.2))[1]
    y = np.arange(len(table))
    model = style.COLOURS["model"]
    ax.hlines(y, table["share_hdi_lower"], table["share_hdi_upper"], color=model, lw=1.5)
    ax.plot(table["share_mean"], y, "o", color=model, label=text("model_pooled", language))
    ax.plot(
        table["raw_share"],
        y,
        "x",
        color=style.COLOURS["observed"],
        label=text("raw_share", language),
    )
    names = [
        f"{g} (n={style.count_label(n)})" for g, n in zip(table[group], table["n"], strict=True)
    ]
    ax.set_yticks(y, names)
    ax.set_xlabel(text("share_assisted", language))
    style.percent_axis(ax.xaxis)
    ax.legend(loc="lower right")
    _title(ax, result, f"{label(group, language)}" + (f" ({note})" if note else ""), language)
    return ax


def plot_margins(
    result: xr.DataTree, table: pd.DataFrame, predictor: str, ax=None, language: str = "en"
):
    """One predictor's margins: mean (points) and 94% HDI (error bars) against its values."""
    rows = table[table["predictor"] == predictor].reset_index(drop=True)
    ax = ax or style.subplots()[1]
    x = np.arange(len(rows))
    mean = rows["mean"].to_numpy(float)
    errors = [mean - rows["hdi_lower"].to_numpy(float), rows["hdi_upper"].to_numpy(float) - mean]
    ax.errorbar(
        x,
        mean,
        yerr=errors,
        fmt="o",
        color=style.COLOURS["model"],
        capsize=4,
        lw=1.5,
        label=text("estimate", language),
    )
    ax.set_xticks(x, [value_label(predictor, v, language) for v in rows["value"]])
    ax.set_xlabel(label(predictor, language))
    ax.set_ylabel(text("predicted_share", language))
    ax.set_ylim(bottom=0)
    style.percent_axis(ax.yaxis)
    _title(ax, result, text("section_margins", language), language)
    return ax


def plot_ppc(
    result: xr.DataTree,
    table: pd.DataFrame,
    ax=None,
    top: int | None = style.MAX_GROUPS,
    language: str = "en",
):
    """Observed shares against replicated 94% intervals (from ``ppc_shares``); for many
    groups the ``top`` largest, as rows with readable labels."""
    by = table.columns[0]
    shown, note = _shown_groups(table, top, language) if by == "nationality" else (table, "")
    if by == "nationality":
        shown = shown.sort_values("n", ascending=True)
    many = len(shown) > 12
    ax = ax or (
        style.subplots(height=max(3.0, 0.24 * len(shown) + 1.2))[1] if many else style.subplots()[1]
    )
    position = np.arange(len(shown))
    names = [value_label(by, v, language) for v in shown[by].astype(str)]
    lines, points = (ax.hlines, ax.plot) if many else (ax.vlines, ax.plot)
    lines(
        position,
        shown["hdi_lower"],
        shown["hdi_upper"],
        color=style.COLOURS["model"],
        lw=3,
        alpha=0.6,
        label=text("replicated", language),
    )
    xy = (shown["observed_share"], position) if many else (position, shown["observed_share"])
    points(*xy, "x", color=style.COLOURS["observed"], ms=7, label=text("observed", language))
    if many:
        ax.set_yticks(position, names)
        ax.set_xlabel(text("share_assisted", language))
        style.percent_axis(ax.xaxis)
    else:
        ax.set_xticks(position, names)
        ax.set_xlabel(label(by, language))
        ax.set_ylabel(text("share_assisted", language))
        style.percent_axis(ax.yaxis)
    ax.legend(loc="best")
    title = f"{text('section_ppc', language)}: {label(by, language)}"
    _title(ax, result, title + (f" ({note})" if note else ""), language)
    return ax

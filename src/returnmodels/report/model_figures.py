"""Figures; each carries the fit's convergence verdict in its title.

matplotlib only (ArviZ 1.x plotting is organised around PlotCollection; these figures are
tables drawn as points and intervals, which plain matplotlib keeps simple).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

from returnmodels.inference.diagnostics import verdict_of  # noqa: E402

__all__ = ["plot_caterpillar", "plot_margins", "plot_ppc"]


def _title(ax, result: xr.DataTree, text: str) -> None:
    verdict = verdict_of(result)
    label = "PASS" if verdict["passed"] else "FAIL - do not use"
    ax.set_title(f"{text}\n{result.attrs['returnmodels_model']}: convergence {label}", fontsize=9)
    if not verdict["passed"]:
        ax.text(
            0.5,
            0.5,
            "CONVERGENCE FAILED",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="red",
            alpha=0.3,
            fontsize=20,
            rotation=20,
        )


def plot_caterpillar(result: xr.DataTree, effects: pd.DataFrame, ax=None, top: int | None = 40):
    """Partially pooled shares (points, 94% HDI) beside raw shares (crosses), by group,
    largest groups first (``top`` of them). ``effects`` from ``group_effects``."""
    group = effects.columns[0]
    table = effects.sort_values("n", ascending=False).head(top).iloc[::-1]
    ax = ax or plt.subplots(figsize=(6, max(3, 0.18 * len(table))))[1]
    y = range(len(table))
    ax.hlines(y, table["share_hdi_lower"], table["share_hdi_upper"], color="C0")
    ax.plot(table["share_mean"], y, "o", color="C0", label="model (partially pooled)")
    ax.plot(table["raw_share"], y, "x", color="C3", label="raw share")
    ax.set_yticks(
        list(y), [f"{g} (n={n})" for g, n in zip(table[group], table["n"], strict=True)], fontsize=6
    )
    ax.set_xlabel("share assisted return")
    ax.legend(fontsize=7)
    _title(ax, result, f"{group}: partially pooled vs raw shares")
    return ax


def plot_margins(result: xr.DataTree, table: pd.DataFrame, predictor: str, ax=None):
    """One predictor's margins (mean and 94% HDI) against its values."""
    rows = table[table["predictor"] == predictor]
    ax = ax or plt.subplots(figsize=(5, 3))[1]
    x = range(len(rows))
    ax.vlines(x, rows["hdi_lower"], rows["hdi_upper"], color="C0")
    ax.plot(x, rows["mean"], "o", color="C0")
    ax.set_xticks(list(x), rows["value"].tolist())
    ax.set_xlabel(predictor)
    ax.set_ylabel("predicted share (margin)")
    _title(ax, result, f"predictive margins by {predictor}")
    return ax


def plot_ppc(result: xr.DataTree, table: pd.DataFrame, ax=None):
    """Observed shares against replicated 94% intervals (from ``ppc_shares``)."""
    by = table.columns[0]
    ax = ax or plt.subplots(figsize=(6, 3))[1]
    x = range(len(table))
    ax.vlines(x, table["hdi_lower"], table["hdi_upper"], color="C0", label="replicated 94% HDI")
    ax.plot(x, table["observed_share"], "x", color="C3", label="observed")
    ax.set_xticks(list(x), table[by].astype(str).tolist(), rotation=90, fontsize=6)
    ax.set_ylabel("share assisted return")
    ax.legend(fontsize=7)
    _title(ax, result, f"posterior predictive check by {by}")
    return ax

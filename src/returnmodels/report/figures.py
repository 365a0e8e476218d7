"""Seaborn figures of controlled descriptive tables (see :mod:`returnmodels.report.descriptive`).

Figures are drawn from the *controlled* tables only, so a figure never shows a count or
share that its table would not publish; they are saved through
:meth:`returnmodels.report.run_folder.RunFolder.figure`, which marks them as drawn from
those tables.
"""

from __future__ import annotations

import pandas as pd
import seaborn as sns

from returnmodels.data.vocabulary import OUTCOMES
from returnmodels.report import style
from returnmodels.report.labels import label

__all__ = ["plot_assisted_share", "plot_outcome_shares"]


def plot_outcome_shares(shares: pd.DataFrame, title: str, ax=None):
    """Stacked horizontal bars: each row's outcome mix (rows without a total are left out)."""
    ax = ax or style.subplots("wide", height=0.32 * len(shares) + 1.8)[1]
    rows = shares.drop(index="total", errors="ignore").dropna(subset=["total"])
    left = pd.Series(0.0, index=rows.index)
    for outcome, colour in zip(
        OUTCOMES, sns.color_palette(style.PALETTE, len(OUTCOMES)), strict=True
    ):
        values = rows[outcome].fillna(0.0)
        ax.barh(rows.index.astype(str), values, left=left, color=colour, label=label(outcome))
        left += values
    ax.invert_yaxis()
    ax.set(xlabel="share of cases (suppressed cells left blank)", xlim=(0, 1), title=title)
    style.percent_axis(ax.xaxis)
    ax.grid(axis="y", visible=False)
    ax.legend(loc="center left", bbox_to_anchor=(1, 0.5))
    return ax


def plot_assisted_share(table: pd.DataFrame, by: str, title: str, ax=None):
    """Points: the controlled share of cases ending in assisted return, by ``by``."""
    ax = ax or style.subplots()[1]
    shown = table.dropna(subset=["share"])
    sns.pointplot(
        data=shown, x=by, y="share", linestyle="none", ax=ax, color=style.COLOURS["observed"]
    )
    ax.set(ylabel="share ending in assisted return", xlabel=label(by), title=title)
    ax.set_ylim(bottom=0)
    style.percent_axis(ax.yaxis)
    return ax

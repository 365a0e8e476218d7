"""One look for every figure: a seaborn theme, a colour-blind palette, fixed sizes.

Every plotting function of :mod:`~returnmodels.report.figures`,
:mod:`~returnmodels.report.model_figures` and :mod:`~returnmodels.report.departures`
draws on :func:`subplots`, which applies :func:`apply` first, and takes its colours from
:data:`COLOURS` by role (``model``, ``observed``, ``study``, ...), so a colour means the
same thing in every figure. :func:`top_groups` keeps a per-group figure readable at any
number of groups.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

__all__ = [
    "COLOURS",
    "MAX_GROUPS",
    "PALETTE",
    "SIZES",
    "apply",
    "count_label",
    "fit_axis_labels",
    "lay_out_panels",
    "percent_axis",
    "subplots",
    "top_groups",
]

#: seaborn's colour-blind-safe palette (Wong-like): every figure's colours come from it.
PALETTE = "colorblind"
_COLOURS = sns.color_palette(PALETTE)
#: Colours by role, the same in every figure.
COLOURS: dict[str, tuple[float, float, float]] = {
    "model": _COLOURS[0],
    "observed": _COLOURS[3],
    "study": _COLOURS[1],
    "synthetic": _COLOURS[2],
    "reference": (0.45, 0.45, 0.45),
}
#: Figure sizes in inches: one column, a wide figure, and the width of a tall one.
SIZES: dict[str, tuple[float, float]] = {"single": (6.4, 4.0), "wide": (8.0, 4.5)}
#: At most this many groups (nationalities) in one per-group figure: the largest.
MAX_GROUPS = 30


def apply() -> None:
    """The theme: seaborn ``whitegrid``, ``paper`` context scaled for screen reading."""
    sns.set_theme(
        context="paper",
        style="whitegrid",
        palette=PALETTE,
        font_scale=1.15,
        rc={"axes.titlesize": "medium", "legend.fontsize": "small", "figure.dpi": 100},
    )


def subplots(size: str = "single", *, height: float | None = None, **kwargs):
    """``(figure, axes)`` in the theme, of size ``size`` (:data:`SIZES`), optionally with
    another ``height`` (a figure with one row per group)."""
    apply()
    width, default_height = SIZES[size]
    return plt.subplots(figsize=(width, height or default_height), layout="constrained", **kwargs)


def top_groups(
    table: pd.DataFrame, by: str = "n", top: int | None = MAX_GROUPS
) -> tuple[pd.DataFrame, str]:
    """The ``top`` rows with the largest ``by`` (all of them if ``top`` is ``None`` or
    there are not more), and a note for the title (``largest 30 of 120``, or ``""``)."""
    if top is None or len(table) <= top:
        return table, ""
    return table.nlargest(top, by), f"largest {top} of {len(table)}"


def count_label(value) -> str:
    """A count as a whole number with thousands separators (``13,135``); ``<min`` for a
    suppressed (missing) one."""
    return "suppressed" if pd.isna(value) else f"{int(round(float(value))):,}"


def percent_axis(axis) -> None:
    """Show shares on ``axis`` (``ax.xaxis`` or ``ax.yaxis``) as percentages, with as
    many decimals as the ticks need (``2.5%``, never a rounded ``2%``)."""
    axis.set_major_formatter(PercentFormatter(1.0, decimals=None))


def fit_axis_labels(figure, fill: float = 0.95, smallest: float = 6.0) -> None:
    """Fit each y-axis label that is taller than its panel (a long parameter name,
    ``region:nationality_sigma``, beside a short panel of a stacked trace plot) into the
    panel, so that it no longer runs into the next panel's: broken in two at the ``:`` or
    ``_`` nearest its middle where it would have to shrink by more than a third, then a
    smaller font, down to ``smallest`` points. The figure is laid out once; each label is
    measured on its own (a full draw per label cost seconds on a 36-panel trace plot)."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    for axis in figure.axes:
        label = axis.yaxis.label
        text = label.get_text()
        if not text:
            continue
        room = axis.get_window_extent(renderer).height * fill
        needed = label.get_window_extent(renderer).height
        if needed <= room:
            continue
        breaks = [i for i, c in enumerate(text) if c in ":_" and 0 < i < len(text) - 1]
        if room / needed < 2 / 3 and breaks and "\n" not in text:  # a third smaller at most
            at = min(breaks, key=lambda i: abs(i - len(text) / 2))
            label.set_text(f"{text[: at + 1]}\n{text[at + 1 :]}")
            needed = label.get_window_extent(renderer).height
        for _ in range(4):  # the extent of a rotated, wrapped label is not linear in size
            if needed <= room or label.get_fontsize() <= smallest:
                break
            label.set_fontsize(max(smallest, label.get_fontsize() * room / needed))
            needed = label.get_window_extent(renderer).height


def lay_out_panels(figure) -> None:
    """Lay out a grid of panels drawn elsewhere (ArviZ's rank and trace plots, which fix
    their subplot positions) so that nothing collides: matplotlib's constrained layout
    keeps a row's titles clear of the tick labels of the row above, and
    :func:`fit_axis_labels` fits y-labels taller than their panel."""
    figure.set_layout_engine("constrained")
    fit_axis_labels(figure)

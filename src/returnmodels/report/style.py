"""One look for every figure: a seaborn theme, a colour-blind palette, fixed sizes.

Every plotting function of :mod:`~returnmodels.report.figures`,
:mod:`~returnmodels.report.model_figures` and :mod:`~returnmodels.report.departures`
draws on :func:`subplots`, which applies :func:`apply` first, and takes its colours from
:data:`COLOURS` by role (``model``, ``observed``, ``study``, ...), so a colour means the
same thing in every figure. :func:`top_groups` keeps a per-group figure readable at any
number of groups.

Numbers are written the same way in figures and in the report's tables, in the
reader's language (:func:`number_text`, :func:`count_label`, :func:`percent_text`,
:func:`percent_axis`): ``1,234.5`` and ``19.0%`` in English, ``1.234,5`` and ``19,0%``
in Dutch, a share under 0.05% as ``< 0.1%`` (never a ``0.0%`` that reads as none).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

from returnmodels.report.labels import text

__all__ = [
    "COLOURS",
    "MAX_GROUPS",
    "PALETTE",
    "SIZES",
    "apply",
    "count_label",
    "number_text",
    "percent_axis",
    "percent_text",
    "subplots",
    "top_groups",
    "without_unloaded_jax",
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


@contextmanager
def without_unloaded_jax() -> Iterator[None]:
    """Figures drawn in here do not import JAX.

    ``arviz_base`` registers ``jax`` in ``sys.modules`` as a lazy placeholder
    (``lazy_loader.load("jax")`` for its NumPyro converter), and matplotlib asks every
    module it finds there whether a value is one of its arrays (``sys.modules["jax"].Array``),
    which loads JAX whole: 0.7 s on the first axes of a process, for no JAX array. In
    here the placeholder is set aside while it is still unloaded, and put back after,
    so ArviZ's converter and the NumPyro sampler load JAX as before when they need it."""
    placeholder = sys.modules.get("jax")
    hidden = placeholder is not None and type(placeholder).__name__ == "_LazyModule"
    if hidden:
        del sys.modules["jax"]
    try:
        yield
    finally:
        if hidden and "jax" not in sys.modules:
            sys.modules["jax"] = placeholder


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


def number_text(value: float, digits: int = 1, language: str = "en") -> str:
    """``-1234.5`` -> ``−1,234.5`` (``−1.234,5`` in Dutch): ``digits`` decimals,
    thousands separated, a true minus sign."""
    shown = f"{float(value):,.{digits}f}".replace("-", "\u2212")
    if language == "nl":
        shown = shown.translate(str.maketrans(",.", ".,"))
    return shown


def count_label(value, language: str = "en") -> str:
    """A count as a whole number with thousands separators (``13,135``, Dutch
    ``13.135``); ``withheld`` for a suppressed (missing) one."""
    if pd.isna(value):
        return text("withheld", language)
    return number_text(round(float(value)), 0, language)


def percent_text(share: float, language: str = "en") -> str:
    """``0.1896`` -> ``19.0%`` (``19,0%`` in Dutch), one decimal; under 0.05% ``< 0.1%``
    and over 99.95% ``> 99.9%``, so that a small share or probability never reads as
    none (or all); missing -> an en dash."""
    if pd.isna(share):
        return "\u2013"
    share = float(share)
    if share < 0.0005:
        return f"< {number_text(0.1, 1, language)}%"
    if share > 0.9995:
        return f"> {number_text(99.9, 1, language)}%"
    return f"{number_text(100 * share, 1, language)}%"


class _PercentTicks(PercentFormatter):
    """matplotlib's percentages (as many decimals as the ticks need) in ``language``."""

    def __init__(self, language: str) -> None:
        super().__init__(1.0, decimals=None)
        self.language = language

    def __call__(self, x, pos=None) -> str:
        shown = super().__call__(x, pos)
        return shown.translate(str.maketrans(",.", ".,")) if self.language == "nl" else shown


def percent_axis(axis, language: str = "en") -> None:
    """Show shares on ``axis`` (``ax.xaxis`` or ``ax.yaxis``) as percentages, with as
    many decimals as the ticks need (``2.5%``, never a rounded ``2%``), with the decimal
    comma in Dutch (``2,5%``)."""
    axis.set_major_formatter(_PercentTicks(language))

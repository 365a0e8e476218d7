r"""Rank and trace plots of a fit's parameters, drawn directly with matplotlib.

Both are the figures a reader of a fit folder checks mixing with; ArviZ draws them too
(``arviz_plots.plot_rank``, ``plot_trace_dist``), with a kernel density per chain and a
simulated simultaneous band, which took most of a small fit's writing time. Here:

* **rank plot** (Vehtari et al. 2021, the fractional-rank :math:`\Delta`-ECDF of
  Säilynoja et al. 2022): the draws of every chain are ranked together,
  :math:`u_{ci} = (r_{ci} - 1/2)/N`, and per chain the difference between the ECDF of its
  :math:`u` and the uniform CDF is drawn at :data:`RANK_POINTS` points. Chains that sample
  the same distribution stay inside the band: at each point :math:`x` a chain's ECDF of
  :math:`n` of the :math:`N` ranks has SD
  :math:`\sqrt{x(1-x)/n \cdot (N-n)/(N-1)}` (ranks drawn without replacement), and the
  band is :math:`\pm z` SDs with :math:`z` the normal quantile that makes it
  simultaneous at 94% over the points (Bonferroni: conservative);
* **trace plot**: each chain's draws in order, thinned to at most :data:`TRACE_POINTS`
  per chain (every :math:`k`-th draw, all chains alike), one panel per parameter.

Panels are laid out on a fixed grid (no text measuring), :data:`COLUMNS` to a row.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullLocator
from scipy import stats

__all__ = [
    "COLUMNS",
    "RANK_BAND_PROB",
    "RANK_POINTS",
    "TRACE_POINTS",
    "panels",
    "plot_rank_ecdf",
    "plot_traces",
    "rank_ecdf_differences",
]

COLUMNS = 4
RANK_POINTS = 40
RANK_BAND_PROB = 0.94
TRACE_POINTS = 250


def panels(posterior: xr.Dataset, names: list[str]) -> list[tuple[str, np.ndarray]]:
    """``(label, draws (chains, draws))`` for every element of ``names``:
    ``cooperation[high]``, one panel per label of a parameter's other dims."""
    out = []
    for name in names:
        var = posterior[name].transpose("chain", "draw", ...)
        other = [d for d in var.dims if d not in ("chain", "draw")]
        if not other:
            out.append((name, var.values))
            continue
        flat = var.stack(element=other)
        for k in range(flat.sizes["element"]):
            label = flat["element"].values[k]
            label = ",".join(map(str, label)) if isinstance(label, tuple) else str(label)
            out.append((f"{name}[{label}]", flat.isel(element=k).values))
    return out


def rank_ecdf_differences(draws: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(chains, points): each chain's ECDF of its fractional ranks among all the
    chains' draws, minus the uniform CDF, at ``points`` in (0, 1)."""
    chains, n = draws.shape
    ranks = stats.rankdata(draws.ravel()).reshape(chains, n)
    fractional = (ranks - 0.5) / (chains * n)
    ecdf = (fractional[:, :, None] <= points[None, None, :]).mean(axis=1)
    return ecdf - points[None, :]


def rank_band(points: np.ndarray, n: int, total: int, prob: float = RANK_BAND_PROB):
    """The half-width of the simultaneous band of one chain's :math:`\\Delta`-ECDF at
    ``points`` (module docstring)."""
    z = stats.norm.ppf(1.0 - (1.0 - prob) / (2.0 * len(points)))
    finite = (total - n) / max(total - 1, 1)
    return z * np.sqrt(points * (1.0 - points) / n * finite)


def _grid(count: int, height: float):
    """A figure with ``count`` panels, :data:`COLUMNS` to a row (only the panels drawn
    are made: an axes costs more than its lines)."""
    rows = max(1, -(-count // COLUMNS))
    columns = min(count, COLUMNS) or 1
    figure = Figure(figsize=(3.1 * columns, height * rows))
    cells = figure.add_gridspec(rows, columns)
    axes = np.array([figure.add_subplot(cells[k // columns, k % columns]) for k in range(count)])
    figure.subplots_adjust(
        left=0.07 if columns > 1 else 0.15, right=0.98, bottom=0.6 / (height * rows),
        top=1 - 0.45 / (height * rows), hspace=0.55, wspace=0.3,
    )  # fmt: skip
    return figure, axes


class _TicksInside(MaxNLocator):
    """At most ``nbins`` + 1 round ticks, only those inside the axis's view: matplotlib
    makes a tick (two lines, a grid line and two texts) for every location a locator
    gives, drawn or not, and ``MaxNLocator`` gives one beyond each end."""

    def __call__(self):
        low, high = sorted(self.axis.get_view_interval())
        return [tick for tick in super().__call__() if low <= tick <= high]


def _finish_axis(ax, label: str, lowest: bool) -> None:
    """Title and ticks of one panel; the x axis (the same in every panel: fractional
    rank, or draw) has its ticks and labels only on the ``lowest`` panel of its column,
    which spares the figure a third of its ticks and text."""
    ax.set_title(label, fontsize=8)
    # the x axis's ticks are made (a third of the drawing time) only where labelled
    ax.xaxis.set_major_locator(_TicksInside(3) if lowest else NullLocator())
    ax.yaxis.set_major_locator(_TicksInside(3))
    ax.tick_params(labelsize=7)  # after the locators: only the ticks kept are restyled


def _lowest(k: int, count: int) -> bool:
    """Whether panel ``k`` of ``count`` has no panel below it on the grid."""
    return k + COLUMNS >= count


def plot_rank_ecdf(posterior: xr.Dataset, names: list[str]):
    """The rank plot of ``names`` (module docstring): a figure, one panel each."""
    shown = panels(posterior, names)
    figure, axes = _grid(len(shown), 1.9)
    points = np.linspace(0, 1, RANK_POINTS + 2)[1:-1]
    for k, (ax, (label, draws)) in enumerate(zip(axes, shown, strict=False)):
        chains, n = draws.shape
        band = rank_band(points, n, chains * n)
        ax.fill_between(points, -band, band, color="0.88", lw=0)
        for c, line in enumerate(rank_ecdf_differences(draws, points)):
            ax.plot(points, line, lw=1, color=f"C{c}")
        _finish_axis(ax, label, _lowest(k, len(shown)))
    figure.suptitle("Rank plots: each chain's fractional-rank ECDF minus uniform", fontsize=9)
    return figure


def plot_traces(posterior: xr.Dataset, names: list[str], figure: Figure | None = None):
    """The trace plot of ``names`` (module docstring): a figure, one panel each.

    ``figure``: a figure of as many panels to draw into instead of a new one (the rank
    plot of the same ``names``, once saved), its lines and bands removed: its axes,
    about a third of the drawing time, serve both plots."""
    shown = panels(posterior, names)
    if figure is None:
        figure, axes = _grid(len(shown), 1.7)
    else:
        axes = figure.axes
        if len(axes) != len(shown):
            raise ValueError(f"the figure has {len(axes)} panel(s), the plot {len(shown)}")
        for ax in axes:
            for artist in [*ax.lines, *ax.collections]:
                artist.remove()
    for k, (ax, (label, draws)) in enumerate(zip(axes, shown, strict=False)):
        step = max(1, -(-draws.shape[1] // TRACE_POINTS))
        index = np.arange(0, draws.shape[1], step)
        for c, chain in enumerate(draws):
            ax.plot(index, chain[index], lw=0.6, alpha=0.8, color=f"C{c}")
        ax.relim()  # the limits of these lines alone
        ax.autoscale_view()
        _finish_axis(ax, label, _lowest(k, len(shown)))
    figure.suptitle("Trace plots: each chain's draws in order", fontsize=9)
    return figure

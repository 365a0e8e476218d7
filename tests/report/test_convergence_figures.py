"""Rank and trace plots drawn directly (report.convergence_figures): the lines are the
chains' rank ECDFs and draws, and the band holds chains that sample one distribution."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import xarray as xr

from returnmodels.report import convergence_figures as cf

matplotlib.use("Agg")


def _posterior(rng, chains=4, draws=1000, shift=0.0):
    values = rng.normal(size=(chains, draws))
    values[0] += shift
    return xr.Dataset(
        {
            "a": (("chain", "draw"), values),
            "b": (("chain", "draw", "b_level"), rng.normal(size=(chains, draws, 2))),
        },
        coords={"b_level": ["x", "y"]},
    )


def test_rank_ecdf_differences_are_each_chains_ecdf_of_pooled_ranks_minus_uniform():
    draws = np.array([[0.1, 0.5, 0.9], [0.2, 0.3, 0.4]])
    points = np.array([0.25, 0.5, 0.75])
    # pooled ranks 1..6: chain 0 holds ranks 1, 5, 6, chain 1 ranks 2, 3, 4
    fractional = np.array([[0.5, 4.5, 5.5], [1.5, 2.5, 3.5]]) / 6
    expected = (fractional[:, :, None] <= points).mean(axis=1) - points
    assert np.allclose(cf.rank_ecdf_differences(draws, points), expected)


def test_the_band_holds_chains_of_one_distribution_and_not_a_shifted_chain():
    rng = np.random.default_rng(0)
    points = np.linspace(0, 1, cf.RANK_POINTS + 2)[1:-1]
    band = cf.rank_band(points, 1000, 4000)
    outside = 0
    for _ in range(200):
        lines = cf.rank_ecdf_differences(rng.normal(size=(4, 1000)), points)
        outside += int((np.abs(lines) > band).any())
    assert outside / 200 <= 4 * 0.06  # simultaneous per chain: at most ~6% of each
    shifted = cf.rank_ecdf_differences(_posterior(rng, shift=0.3)["a"].values, points)
    assert (np.abs(shifted[0]) > band).any()


def test_panels_and_lines_follow_the_parameters_and_chains():
    posterior = _posterior(np.random.default_rng(1))
    labels = [label for label, _ in cf.panels(posterior, ["a", "b"])]
    assert labels == ["a", "b[x]", "b[y]"]
    rank = cf.plot_rank_ecdf(posterior, ["a", "b"])
    shown = [ax for ax in rank.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == labels
    assert all(len(ax.get_lines()) == 4 for ax in shown)  # one line per chain
    trace = cf.plot_traces(posterior, ["a"])
    lines = trace.axes[0].get_lines()
    assert len(lines) == 4
    step = -(-1000 // cf.TRACE_POINTS)
    assert np.array_equal(lines[1].get_ydata(), posterior["a"].values[1, ::step])


def test_the_x_axis_is_labelled_on_the_lowest_panel_of_each_column_only():
    """Six panels on a grid of four columns: panels 0 and 1 have panels 4 and 5 below
    them (x labels hidden), panels 2-5 are their column's lowest (labelled); the y axis
    of every panel keeps its labels (each parameter has its own scale)."""
    rng = np.random.default_rng(2)
    values = rng.normal(size=(2, 200, 6))
    posterior = xr.Dataset({"c": (("chain", "draw", "c_level"), values)})
    for plot in (cf.plot_rank_ecdf, cf.plot_traces):
        figure = plot(posterior, ["c"])
        figure.draw_without_rendering()
        shown = [any(t.get_text() for t in ax.get_xticklabels()) for ax in figure.axes]
        assert shown == [False, False, True, True, True, True]
        assert all(any(t.get_text() for t in ax.get_yticklabels()) for ax in figure.axes)


def test_every_tick_made_lies_inside_its_axis_and_every_labelled_axis_has_two():
    """matplotlib makes a tick for each location its locator gives: the panels' locator
    gives only those inside the view (at least two, so each scale can be read)."""
    rng = np.random.default_rng(3)
    posterior = _posterior(rng)
    for plot in (cf.plot_rank_ecdf, cf.plot_traces):
        figure = plot(posterior, ["a", "b"])
        figure.draw_without_rendering()
        for ax in figure.axes:
            for axis in (ax.yaxis, *([ax.xaxis] if ax.get_xticklabels() else [])):
                low, high = sorted(axis.get_view_interval())
                ticks = axis.get_majorticklocs()
                assert len(ticks) >= 2
                assert all(low <= tick <= high for tick in ticks), (low, high, ticks)


def test_traces_drawn_into_the_rank_plot_s_axes_are_the_traces_alone():
    """The trace plot reuses the saved rank plot's axes: the same lines and titles as a
    trace plot of its own, no rank line or band left, limits of the draws alone."""
    rng = np.random.default_rng(4)
    posterior = _posterior(rng)
    fresh = cf.plot_traces(posterior, ["a", "b"])
    reused = cf.plot_traces(posterior, ["a", "b"], figure=cf.plot_rank_ecdf(posterior, ["a", "b"]))
    assert len(reused.axes) == len(fresh.axes) == 3
    for mine, theirs in zip(reused.axes, fresh.axes, strict=True):
        assert mine.get_title() == theirs.get_title()
        assert not mine.collections  # the rank plot's band is gone
        assert len(mine.lines) == len(theirs.lines) == 4
        for line, other in zip(mine.lines, theirs.lines, strict=True):
            assert np.array_equal(line.get_xydata(), other.get_xydata())
        assert np.allclose(mine.get_ylim(), theirs.get_ylim())
        assert np.allclose(mine.get_xlim(), theirs.get_xlim())
    assert reused.get_suptitle() == fresh.get_suptitle()


def test_a_figure_of_other_panels_is_refused():
    rng = np.random.default_rng(5)
    posterior = _posterior(rng)
    with pytest.raises(ValueError, match=r"the figure has 1 panel\(s\), the plot 3"):
        cf.plot_traces(posterior, ["a", "b"], figure=cf.plot_rank_ecdf(posterior, ["a"]))

"""Figures fit for publication: readable at any number of groups, counts as integers."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import pandas as pd

from fakes import fake_fit
from returnmodels.report import model_figures, style
from returnmodels.report.notebook import controlled_group_effects

#: 120 nationalities (three-letter codes), large enough to be published.
CODES = ["".join(c) for c in itertools.islice(itertools.product("ABCDEF", repeat=3), 120)]


def test_counts_are_whole_numbers_and_groups_the_largest():
    assert style.count_label(13135.0) == "13,135"
    assert style.count_label(13135.0, "nl") == "13.135"
    assert style.count_label(float("nan"), "nl") == "afgeschermd"
    table = pd.DataFrame({"g": CODES, "n": range(120)})
    shown, note = style.top_groups(table)
    assert len(shown) == style.MAX_GROUPS and note == "largest 30 of 120"
    assert shown["n"].min() == 90
    few, note = style.top_groups(table.head(10))
    assert len(few) == 10 and note == ""


def test_caterpillar_of_120_nationalities_is_readable():
    # 40 cases each, 12 with the outcome: every nationality may be published
    result = fake_fit(dict.fromkeys(CODES, 40))
    effects = controlled_group_effects(result)
    ax = model_figures.plot_caterpillar(result, effects)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    plt.close(ax.figure)
    assert len(labels) == style.MAX_GROUPS
    assert all(label.endswith(", n=40") for label in labels), labels[:3]
    assert "largest 30 of 120" in ax.figure.get_supxlabel()


def test_percent_ticks_are_not_rounded_to_wrong_values():
    fig, ax = style.subplots()
    ax.plot([0, 1], [0.0, 0.2])
    style.percent_axis(ax.yaxis)
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    plt.close(fig)
    assert "12.5%" in ticks and "12%" not in ticks, ticks
    fig, ax = style.subplots()
    ax.plot([0, 1], [0.0, 0.2])
    style.percent_axis(ax.yaxis, "nl")
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    plt.close(fig)
    assert "12,5%" in ticks and "12.5%" not in ticks, ticks

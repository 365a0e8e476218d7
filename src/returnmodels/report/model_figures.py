"""Figures of a fit, titled for a reader; the fit's model and convergence verdict, and
what the disclosure rules withheld, in a footnote beneath each.

matplotlib in the theme of :mod:`returnmodels.report.style` (ArviZ 1.x plotting is
organised around PlotCollection; these figures are tables drawn as points and
intervals, which plain matplotlib keeps simple). Labels come from
:mod:`returnmodels.report.labels` in ``language``, numbers are written in it
(:func:`~returnmodels.report.style.percent_axis`); nationalities are shown by name with
their code (``Nigeria (NGA)``); per-group figures show the largest
:data:`~returnmodels.report.style.MAX_GROUPS` groups and say so.

Nothing withheld is left out silently: a group whose share is withheld (fewer than
``min_cases`` cases with or without the outcome, a 0% or 100% share included, which
would tell that no one or everyone in a named group had the outcome) keeps its row,
marked ``*``, without the share; the footnote counts the groups the rules left out
altogether. A fit that failed the convergence checks is marked across the plot.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.data.country_names import named_code
from returnmodels.data.vocabulary import CATEGORY_VALUES
from returnmodels.disclosure import DEFAULT_RULES, DisclosureRules
from returnmodels.disclosure.marker import controlled_rules
from returnmodels.errors import ConfigError
from returnmodels.inference.diagnostics import verdict_of
from returnmodels.report import style
from returnmodels.report.labels import label, model_label, text, value_label
from returnmodels.summaries.margins import margins
from returnmodels.summaries.margins_grid import counterfactuals_of
from returnmodels.summaries.nationality import group_effects
from returnmodels.summaries.ppc import ppc_shares

__all__ = [
    "OFF_SCALE_FACTOR",
    "off_scale",
    "plot_elpd_differences",
    "fit_label",
    "fit_levels",
    "group_name",
    "plot_caterpillar",
    "plot_margins",
    "plot_outcome_margins",
    "plot_ppc",
    "shown_share",
    "withheld_note",
    "withheld_sentence",
]

#: How a footnote names the values of a column (``nationalities``); others are
#: ``values of <label>``.
LEVEL_WORDS: dict[str, str] = {
    "nationality": "levels_nationality",
    "n_procedures": "levels_n_procedures",
}
#: Characters per inch of figure width in a footnote line (wrapped to the figure's width).
FOOTNOTE_CHARACTERS = 14


def fit_label(result: xr.DataTree, language: str = "en") -> str:
    """The fit's model as a reader knows it (:func:`~returnmodels.report.labels.model_label`)."""
    model = result.attrs["returnmodels_model"]
    formula = json.loads(result.attrs.get("returnmodels_config", "{}")).get("formula")
    return model_label(model, language, formula)


def group_name(by: str, value: object, language: str = "en") -> str:
    """A group as a reader reads it: a nationality by name with its code
    (``Nigeria (NGA)``), a predictor's value through its label."""
    if by == "nationality":
        return named_code(value, language)
    return value_label(by, value, language)


def fit_levels(result: xr.DataTree, by: str) -> list[str]:
    """Every value of ``by`` in the fit's cells (``constant_data``), as text, sorted; empty
    when the fit does not keep them."""
    if "constant_data" not in result.children:
        return []
    data = result["constant_data"].to_dataset()
    for name in (f"cell_{by}", by):
        if name in data and data[name].dims == ("cell",):
            return sorted({str(v) for v in data[name].to_numpy()})
    return []


def shown_share(share: pd.Series) -> pd.Series:
    """``share`` where a figure or report may show it: missing where it is withheld
    (suppressed) and where it is 0 or 1 (module docstring)."""
    share = pd.to_numeric(share, errors="coerce")
    return share.where((share > 0) & (share < 1))


def withheld_note(
    result: xr.DataTree,
    table: pd.DataFrame,
    by: str,
    rules: DisclosureRules,
    language: str = "en",
) -> str:
    """``4 of 85 nationalities withheld: ...`` for the values of ``by`` in the fit that
    the controlled ``table`` leaves out; ``""`` when none is left out (or the fit does
    not keep its values)."""
    levels = fit_levels(result, by)
    shown = {str(v) for v in table[by]}
    count = len(set(levels) - shown)
    if not levels or count == 0:
        return ""
    return withheld_sentence(by, count, len(levels), rules.min_cases, language)


def withheld_sentence(by: str, count: int, total: int, min_cases: int, language: str) -> str:
    """``4 of 85 nationalities withheld: fewer than 10 cases with or without the
    outcome``."""
    key = LEVEL_WORDS.get(by)
    words = (
        text(key, language) if key else text("levels_other", language, label=label(by, language))
    )
    return text(
        "withheld_levels", language, count=count, total=total, levels=words, min_cases=min_cases
    )


def _notes(
    result: xr.DataTree,
    table: pd.DataFrame,
    by: str,
    shown: str,
    marked: bool,
    share: str,
    language: str,
) -> list[str]:
    """A per-group figure's footnote lines: which groups it shows (``shown``), how many
    the rules left out, and what ``*`` means where a ``share`` is ``marked`` withheld."""
    rules = _rules(table)
    notes = [shown, withheld_note(result, table, by, rules, language)]
    if marked:
        words = text(share, language)
        notes.append(text("withheld_share", language, share=words, min_cases=rules.min_cases))
    return notes


def _rules(table: pd.DataFrame) -> DisclosureRules:
    return controlled_rules(table) or DEFAULT_RULES


def _verdict_line(passed: bool, model: str, language: str) -> str:
    return text("figure_pass" if passed else "figure_fail", language, model=model)


def _footnote(ax, lines: Sequence[str], failed: bool) -> None:
    """The lines beneath the plot, wrapped to its width (the figure's ``supxlabel``, so
    that the layout makes room for it)."""
    width = int(ax.figure.get_figwidth() * FOOTNOTE_CHARACTERS)
    wrapped = [textwrap.fill(line, width) for line in lines if line]
    ax.figure.supxlabel(
        "\n".join(wrapped),
        x=0.01,
        ha="left",
        fontsize="small",
        color="#b00020" if failed else "0.3",
    )


def _mark_failed(ax, language: str) -> None:
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


def _finish(
    ax, result: xr.DataTree | None, title: str, notes: Sequence[str], language: str, **verdict
) -> None:
    """Title, the verdict (of ``result``, or ``passed`` and ``model`` given) and ``notes``
    as a footnote, the failed-fit mark."""
    ax.set_title(title, pad=LEGEND_ROOM if _legend_is_above(ax) else 6.0)
    if result is not None:
        verdict = {"passed": verdict_of(result)["passed"], "model": fit_label(result, language)}
    passed = bool(verdict["passed"])
    _footnote(ax, [_verdict_line(passed, verdict["model"], language), *notes], failed=not passed)
    if not passed:
        _mark_failed(ax, language)


#: Points between a plot and its title where a legend sits above the plot.
LEGEND_ROOM = 26


def _legend_above(ax) -> None:
    """The legend in one row between the title and a plot with a row per group, where it
    hides no row and leaves the plot its width (:func:`_finish` makes room above)."""
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)


def _legend_is_above(ax) -> bool:
    legend = ax.get_legend()
    return (
        legend is not None
        and legend.get_bbox_to_anchor().transformed(ax.transAxes.inverted()).y0 >= 1.0
    )


def _shown_groups(table: pd.DataFrame, top: int | None, language: str) -> tuple[pd.DataFrame, str]:
    shown, _ = style.top_groups(table, "n", top)
    if len(shown) == len(table):
        return shown, ""
    return shown, text("nationalities_shown", language, top=len(shown), count=len(table))


def _row_names(table: pd.DataFrame, by: str, withheld: pd.Series, language: str) -> list[str]:
    """``Nigeria (NGA), n=235`` per row (``*`` where its share is withheld)."""
    names = []
    for value, n, hidden in zip(table[by], table["n"], withheld, strict=True):
        names.append(
            f"{group_name(by, value, language)}, n={style.count_label(n, language)}"
            + (" *" if hidden else "")
        )
    return names


def plot_caterpillar(
    result: xr.DataTree,
    effects: pd.DataFrame | None = None,
    ax=None,
    top: int | None = style.MAX_GROUPS,
    language: str = "en",
    *,
    group: str | None = None,
):
    """Partially pooled shares (points, 94% HDI) beside raw shares (crosses), by group,
    largest groups first (``top`` of them; ``None``: all). ``effects`` from
    ``controlled_group_effects`` (a published figure); without it they are computed
    here from the fit (:func:`~returnmodels.summaries.group_effects`, of ``group``: any
    group factor of a formula fit) for interactive use. Case counts printed as whole
    numbers, a withheld raw share marked ``*``, the groups left out counted in the
    footnote."""
    if effects is None:
        effects = group_effects(result, group=group)
    group = effects.columns[0]
    table, note = _shown_groups(effects, top, language)
    table = table.sort_values("n", ascending=True)
    raw = shown_share(table["raw_share"])
    ax = ax or style.subplots("wide", height=max(3.0, 0.24 * len(table) + 1.6))[1]
    y = np.arange(len(table))
    model = style.COLOURS["model"]
    ax.hlines(y, table["share_hdi_lower"], table["share_hdi_upper"], color=model, lw=1.5)
    ax.plot(table["share_mean"], y, "o", color=model, label=text("model_pooled", language))
    ax.plot(raw, y, "x", color=style.COLOURS["observed"], label=text("raw_share", language))
    ax.set_yticks(y, _row_names(table, group, raw.isna(), language))
    ax.set_xlabel(text("share_assisted", language))
    style.percent_axis(ax.xaxis, language)
    ax.set_xlim(left=0)
    _legend_above(ax)
    notes = _notes(result, effects, group, note, raw.isna().any(), "raw_share", language)
    _finish(ax, result, text("title_caterpillar", language), notes, language)
    return ax


def plot_margins(
    result: xr.DataTree,
    values: pd.DataFrame | Mapping[str, Sequence] | None = None,
    predictor: str | None = None,
    ax=None,
    language: str = "en",
    *,
    by: str | None = None,
):
    """One predictor's margins against its values, as bambi's ``plot_predictions``.

    Given a margins table (``values`` a DataFrame, e.g. a controlled one, and
    ``predictor``): mean (points) and 94% HDI (error bars). Given the fit alone
    (``values`` a mapping of one predictor to its values, or None for its
    :func:`~returnmodels.summaries.margins_grid.natural_values`; ``predictor`` naming
    it), the margins are computed here (population-averaged, every case set to each
    value), and with ``by`` drawn as one line per by-level, in its natural order
    (cooperation low, medium, high), each with its 94% HDI band; a percent axis.
    Computed margins are for interactive use: a published figure draws a controlled
    table."""
    if isinstance(values, pd.DataFrame):
        if predictor is None:
            raise ConfigError("plot_margins of a table needs predictor=")
        return _plot_margin_table(result, values, predictor, ax, language)
    if values is not None and len(values) != 1:
        raise ConfigError(f"plot_margins draws one predictor; got {list(values)}")
    if values is None and predictor is None:
        raise ConfigError("plot_margins needs values={predictor: [values]} or predictor=")
    predictor = next(iter(values)) if values else predictor
    if values is None:
        values = {predictor: counterfactuals_of(result).natural_values(predictor)}
    if by is None:
        return _plot_margin_table(result, margins(result, values), predictor, ax, language)
    table = margins(result, values, by=by)
    return _plot_margin_lines(result, table, predictor, by, ax, language)


def _natural_order(result: xr.DataTree, table: pd.DataFrame) -> pd.DataFrame:
    """``table``'s rows (its first column a variable's values) in the variable's
    natural order where it has one (a case-file category; numbers ascending)."""
    by = table.columns[0]
    schema = CATEGORY_VALUES.get(by)
    if schema is not None:
        rank = {level: i for i, level in enumerate(schema)}
        order = table[by].astype(str).map(rank).fillna(len(rank))
        return table.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)
    return table


def _margins_title(predictor: str, language: str) -> str:
    key = f"title_margins_{predictor}"
    title = text(key, language)
    return label(predictor, language) if title == key else title


def _plot_margin_table(result, table: pd.DataFrame, predictor: str, ax, language: str):
    """Mean (points) and 94% HDI (error bars) against the predictor's values."""
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
    style.percent_axis(ax.yaxis, language)
    _finish(ax, result, _margins_title(predictor, language), [], language)
    return ax


def _plot_margin_lines(result, table: pd.DataFrame, predictor: str, by: str, ax, language: str):
    """A line per level of ``by`` (table order) with its 94% HDI band; the predictor's
    values on a numeric axis where they are numbers, else in the table's order."""
    ax = ax or style.subplots("wide")[1]
    values = list(dict.fromkeys(table["value"]))
    numeric = pd.to_numeric(pd.Series(values), errors="coerce")
    x_of = dict(zip(values, numeric if numeric.notna().all() else range(len(values)), strict=True))
    for level, part in table.groupby(by, sort=False):
        x = [x_of[v] for v in part["value"]]
        ax.plot(x, part["mean"], marker="o", label=value_label(by, level, language))
        ax.fill_between(x, part["hdi_lower"], part["hdi_upper"], alpha=0.2)
    ax.set_xticks(list(x_of.values()), [value_label(predictor, v, language) for v in values])
    ax.set(xlabel=label(predictor, language), ylabel=text("predicted_share", language))
    ax.set_ylim(bottom=0)
    style.percent_axis(ax.yaxis, language)
    ax.legend(title=label(by, language), loc="center left", bbox_to_anchor=(1, 0.5))
    _finish(ax, result, _margins_title(predictor, language), [], language)
    return ax


def plot_outcome_margins(
    table: pd.DataFrame,
    predictor: str,
    verdict: Mapping,
    model: str = "competing_outcomes",
    ax=None,
    language: str = "en",
):
    """Margins of every outcome (``competing_outcomes``) against ``predictor``'s values:
    one line per outcome with its 94% HDI band. ``verdict`` is the fit's
    ``diagnostics.json`` (``passed``), ``model`` its registered name."""
    rows = table[table["predictor"] == predictor]
    ax = ax or style.subplots("wide")[1]
    for outcome, part in rows.groupby("outcome", sort=False):
        x = np.arange(len(part))
        ax.plot(x, part["mean"], marker="o", label=label(str(outcome), language))
        ax.fill_between(x, part["hdi_lower"], part["hdi_upper"], alpha=0.2)
        ax.set_xticks(x, [value_label(predictor, v, language) for v in part["value"].astype(str)])
    ax.set(xlabel=label(predictor, language), ylabel=text("predicted_share", language))
    ax.set_ylim(bottom=0)
    style.percent_axis(ax.yaxis, language)
    ax.legend(loc="center left", bbox_to_anchor=(1, 0.5))
    title = text(f"title_competing_{predictor}", language)
    reader = model_label(model, language)
    _finish(ax, None, title, [], language, passed=verdict["passed"], model=reader)
    return ax


def plot_ppc(
    result: xr.DataTree,
    table: pd.DataFrame | str | None = None,
    ax=None,
    top: int | None = style.MAX_GROUPS,
    language: str = "en",
    *,
    random_seed: int = 0,
):
    """Observed shares against replicated 94% intervals; for many groups the ``top``
    largest, as rows with readable labels. ``table`` from ``controlled_ppc`` (a
    published figure), or the variable to check by (``"cooperation"``; None: the
    fit's first group), computed here from the fit
    (:func:`~returnmodels.summaries.ppc_shares`) for interactive use. Values in their
    natural order (cooperation low, medium, high). A withheld observed share is marked
    ``*`` and the values left out are counted in the footnote."""
    if table is None or isinstance(table, str):
        table = _natural_order(result, ppc_shares(result, table, random_seed=random_seed))
    by = table.columns[0]
    shown, note = _shown_groups(table, top, language) if by == "nationality" else (table, "")
    if by == "nationality":
        shown = shown.sort_values("n", ascending=True)
    observed = shown_share(shown["observed_share"])
    many = len(shown) > 12
    ax = ax or (
        style.subplots("wide", height=max(3.0, 0.24 * len(shown) + 1.6))[1]
        if many
        else style.subplots()[1]
    )
    position = np.arange(len(shown))
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
    xy = (observed, position) if many else (position, observed)
    points(*xy, "x", color=style.COLOURS["observed"], ms=7, label=text("observed", language))
    hidden = observed.isna()
    if many:
        ax.set_yticks(position, _row_names(shown, by, hidden, language))
        if by != "nationality":  # values in their order, the first on top
            ax.invert_yaxis()
        ax.set_xlabel(text("share_assisted", language))
        style.percent_axis(ax.xaxis, language)
    else:
        names = [
            group_name(by, v, language) + ("*" if h else "")
            for v, h in zip(shown[by].astype(str), hidden, strict=True)
        ]
        ax.set_xticks(position, names)
        ax.set_xlabel(label(by, language))
        ax.set_ylabel(text("share_assisted", language))
        style.percent_axis(ax.yaxis, language)
    if many:
        _legend_above(ax)
    else:
        ax.legend(loc="best")
    notes = _notes(result, table, by, note, hidden.any(), "observed_share", language)
    _finish(ax, result, text("title_ppc", language, by=label(by, language)), notes, language)
    return ax


#: A model whose ELPD difference to the best is more than this many times the widest
#: span (difference plus two SE) of the better models is drawn off scale.
OFF_SCALE_FACTOR = 5.0


def off_scale(table: pd.DataFrame, factor: float = OFF_SCALE_FACTOR) -> list[str]:
    """The models of a comparison table (``elpd_diff``, ``dse``) so far behind the others
    that they would flatten the plot: each, worst first, is more than ``factor`` times
    the widest span (``-elpd_diff + 2 dse``, at least 1) of the models better than it."""
    gaps = (-table["elpd_diff"]).sort_values()
    spans = gaps + 2 * table["dse"].reindex(gaps.index).fillna(0.0)
    out = []
    for i in range(len(gaps) - 1, 0, -1):
        if gaps.iloc[i] > factor * max(float(spans.iloc[:i].max()), 1.0):
            out.append(str(gaps.index[i]))
        else:
            break
    return out


def plot_elpd_differences(table: pd.DataFrame, *, title: str | None = None, ax=None):
    """The comparison ``table`` (:func:`returnmodels.summaries.compare_models`) as each
    model's ELPD difference to the best with one and two SEs of the difference, best at
    the top. Models far behind (:func:`off_scale`) get an arrow at the left edge and
    their difference in their label, so the others stay readable; the footnote says so
    and what one observation is (``left_out``). Long names (formulas) are wrapped."""
    far = off_scale(table)
    shown = table.drop(index=far).sort_values("elpd_diff")
    if ax is None:
        _, ax = style.subplots("wide", height=1.8 + 0.55 * len(table))
    rows = list(shown.index) + far[::-1]
    y = {name: i for i, name in enumerate(reversed(rows))}
    diff, dse = shown["elpd_diff"].to_numpy(float), shown["dse"].fillna(0.0).to_numpy(float)
    at = [y[name] for name in shown.index]
    ax.errorbar(diff, at, xerr=2 * dse, fmt="none", ecolor="0.7", elinewidth=1.5, capsize=0)
    ax.errorbar(diff, at, xerr=dse, fmt="o", color="C0", elinewidth=3, capsize=0)
    ax.axvline(0.0, color="0.4", lw=0.8, ls="--")
    left = min(float(np.min(diff - 2 * dse)) * 1.15, -1.0)
    right = max(float(np.max(diff + 2 * dse)) * 1.15, -0.08 * left, 0.5)
    ax.set_xlim(left, right)
    labels = {name: textwrap.fill(str(name), 32) for name in y}
    for name in far:
        row = table.loc[name]
        labels[name] += f"\n{row['elpd_diff']:,.0f} \u00b1 {row['dse']:,.0f}, off scale"
        ax.plot([left], [y[name]], marker="<", color="C3", clip_on=False, markersize=10)
    ax.set_yticks(list(y.values()), [labels[name] for name in y])
    for name in far:
        ax.get_yticklabels()[y[name]].set_color("C3")
    ax.set_xlabel("ELPD difference to the best model (log score; 0 = best, higher is better)")
    ax.set_title(title or "Model comparison: ELPD difference to the best model")
    notes = ["Points: difference; thick bar: \u00b11 SE of the difference; thin: \u00b12 SE."]
    if "left_out" in table:
        notes.append(f"One observation left out: {table['left_out'].iloc[0]}.")
    if far:
        notes.append(
            f"Off scale (more than {OFF_SCALE_FACTOR:g} times the others' spread behind): "
            + ", ".join(far)
            + "."
        )
    _footnote(ax, notes, failed=False)
    return ax

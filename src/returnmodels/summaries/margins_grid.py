r"""Margins of any fit on a grid, by a variable, and comparisons between values.

A *cell* of the grid is a setting of one or more variables: every case is set to it,
the rest stays as observed, and the predicted probability is averaged over the cases
(each fitted cell weighted by its cases), per draw, as :func:`formula_margins` does
for one variable (CALIBRATION.md's definition):

.. math:: m_s(v) = \sum_i w_i \Pr(y_i = 1 \mid X_i = v, \text{rest}_i, \theta_s),
   \qquad w_i = n_i / \textstyle\sum_k n_k

* :func:`formula_grid_margins`: one row per value of a variable and level of ``by``,
  or per combination of several variables (``grid``);
* :func:`formula_comparisons`: differences :math:`m_s(b) - m_s(a)` and ratios
  :math:`m_s(b) / m_s(a)` of two such averages, draw by draw, per level of ``by``.

Both take any fit (a registered model is a named formula): :class:`Counterfactuals`
reads its design and draws once, so a setting of several variables is one call.

Population-averaged, unlike brms's ``conditional_effects`` (which predicts one typical
case). Tables here are for interactive use: a published table must first pass the
disclosure control (``report.notebook.controlled_margins``), and nothing is written.
Intervals are 94% HDIs, shares on the 0-1 scale.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.data.vocabulary import NONREFERENCE_OUTCOMES, OUTCOMES
from returnmodels.engine.design import FormulaDesign
from returnmodels.errors import ConfigError
from returnmodels.summaries._draws import (
    HDI_PROB,
    interval,
)
from returnmodels.summaries.formula import (
    FitDraws,
    average_outcome_shares,
    average_share,
    cells_frame,
    default_values,
    with_persons,
)

__all__ = [
    "COMPARISON_COLUMNS",
    "Counterfactuals",
    "counterfactuals_of",
    "comparison_pairs",
    "comparison_rows",
    "formula_comparisons",
    "formula_grid_margins",
    "natural_values",
]

SHARE_COLUMNS = ["mean", "hdi_lower", "hdi_upper"]
COMPARISON_COLUMNS = [
    "variable", "value", "baseline", "measure", "mean", "hdi_lower", "hdi_upper", "p_positive",
]  # fmt: skip


class Counterfactuals:
    """A formula fit's design and draws, read once, and the per-draw average share of
    any setting of its variables (:meth:`shares`)."""

    def __init__(self, result: xr.DataTree, persons: str = "averaged"):
        self.design = FormulaDesign.from_result(result)
        self.draws = with_persons(FitDraws(result, self.design), persons)
        self.competing = self.design.outcome_counts is not None
        self.stages = (
            (self.draws, [FitDraws(result, self.design, o) for o in NONREFERENCE_OUTCOMES])
            if self.competing
            else None
        )

    @property
    def outcomes(self) -> tuple[str, ...]:
        """The columns of :meth:`shares`: every outcome (competing family) or the one."""
        return OUTCOMES if self.competing else ("",)

    def check(self, variable: str) -> None:
        """Refuse what is not a variable of the formula's common terms."""
        design = self.design
        if variable not in design.cells.columns or variable in design.factors:
            raise ConfigError(
                f"no margins of {variable!r}: the formula's variables are "
                f"{sorted(set(design.cells.columns) - design.factors)}"
            )

    def natural_values(self, variable: str) -> list:
        """:func:`natural_values` of ``variable``."""
        return natural_values(self.design, variable)

    def reference_of(self, variable: str) -> str | None:
        """The reference level of a categorical variable; None for others."""
        return self.design.references.get(variable)

    def default_values(self) -> dict[str, list]:
        """Every variable's default values (:func:`default_values`)."""
        return default_values(self.design)

    def shares(self, setting: Mapping[str, object]) -> np.ndarray:
        """(draws, outcomes): the case-weighted average predicted share with every cell
        set to ``setting`` (variable -> value), per draw."""
        frame = cells_frame(self.design)
        for variable, value in setting.items():
            self.check(variable)
            frame[variable] = value
        X, encoded = self.design.encode(frame)
        weights = self.design.trials
        if self.stages is None:
            return average_share(self.draws, X, encoded, weights)[:, None]
        return average_outcome_shares(self.stages, X, encoded, weights)


def counterfactuals_of(result: xr.DataTree, persons: str = "averaged") -> Counterfactuals:
    """The counterfactual shares of a fit (every fit is a formula's); ``persons``: see
    :func:`~returnmodels.summaries.formula.with_persons`."""
    return Counterfactuals(result, persons)


def natural_values(design: FormulaDesign, variable: str) -> list:
    """The default values of ``variable`` (:func:`default_values`), which are in their
    natural order: a case-file category in the schema's order (cooperation low, medium,
    high), another categorical one in the model's (reference first), numbers ascending."""
    return default_values(design)[variable]


def _rows(counterfactuals, keys: dict, shares: np.ndarray, prob: float) -> list[dict]:
    """One row per outcome (none for a binary response) of ``keys`` and its interval."""
    if not counterfactuals.competing:
        return [keys | interval(shares[:, 0], prob)]
    return [
        {"outcome": outcome} | keys | interval(shares[:, k], prob)
        for k, outcome in enumerate(counterfactuals.outcomes)
    ]


def _frame(counterfactuals, rows: list[dict], columns: list[str]) -> pd.DataFrame:
    columns = ["outcome", *columns] if counterfactuals.competing else columns
    return pd.DataFrame(rows, columns=columns)


def _by_levels(counterfactuals, by: str | None) -> list:
    if by is None:
        return [None]
    counterfactuals.check(by)
    return counterfactuals.natural_values(by)


def _grid_variables(values: Mapping, grid: bool | Sequence[str], by: str | None) -> list[str]:
    variables = list(values) if grid is True else list(grid)
    if by is not None and by not in variables:
        variables.append(by)
    if len(set(variables)) != len(variables):
        raise ConfigError(f"grid variables named twice: {variables}")
    return variables


def formula_grid_margins(
    result: xr.DataTree,
    values: Mapping[str, Sequence] | None = None,
    *,
    by: str | None = None,
    grid: bool | Sequence[str] = False,
    prob: float = HDI_PROB,
    persons: str = "averaged",
) -> pd.DataFrame:
    """Margins of a fit (formula or registered) by ``by`` or on a ``grid``; each cell
    sets every case to its values together.

    * ``by="cooperation"``: each value of each variable in ``values`` at each level of
      ``by`` (in :func:`natural_values` order): columns predictor, value, ``<by>``, mean,
      hdi_lower, hdi_upper;
    * ``grid=True`` (every variable of ``values``) or ``grid=[variables]``: every
      combination, one column per variable (values from ``values``, else
      :func:`natural_values`; ``by`` joins the grid as its last variable).

    The competing-outcomes family has an ``outcome`` column first. Values are shown as
    given (``3``, ``"high"``). Published grid tables must pass the disclosure control
    first (module docstring)."""
    counterfactuals = counterfactuals_of(result, persons)
    values = counterfactuals.default_values() if values is None else dict(values)
    if grid is not False:
        variables = _grid_variables(values, grid, by)
        axes = []
        for variable in variables:
            counterfactuals.check(variable)
            axes.append(values.get(variable) or counterfactuals.natural_values(variable))
        rows = []
        for combination in itertools.product(*axes):
            setting = dict(zip(variables, combination, strict=True))
            rows += _rows(counterfactuals, setting, counterfactuals.shares(setting), prob)
        return _frame(counterfactuals, rows, [*variables, *SHARE_COLUMNS])
    if by is None:
        raise ConfigError("formula_grid_margins needs by= or grid=")
    if by in values:
        raise ConfigError(f"{by!r} is both a margin variable and by=; use grid=True instead")
    levels = _by_levels(counterfactuals, by)
    rows = []
    for predictor, predictor_values in values.items():
        counterfactuals.check(predictor)
        for value in predictor_values:
            for level in levels:
                shares = counterfactuals.shares({predictor: value, by: level})
                keys = {"predictor": predictor, "value": str(value), by: level}
                rows += _rows(counterfactuals, keys, shares, prob)
    return _frame(counterfactuals, rows, ["predictor", "value", by, *SHARE_COLUMNS])


def comparison_pairs(counterfactuals, variable: str, values: Sequence | None) -> list:
    """``(value, baseline)`` pairs: each of ``values`` after the first against the
    first; by default a categorical variable's levels against its reference, other
    variables' natural values against the smallest."""
    if values is None:
        reference = counterfactuals.reference_of(variable)
        levels = counterfactuals.natural_values(variable)
        if reference is not None:
            return [(level, reference) for level in levels if level != reference]
        values = levels
    values = list(values)
    if len(values) < 2:
        raise ConfigError(f"comparisons of {variable!r} need two values or more, got {values}")
    return [(value, values[0]) for value in values[1:]]


def comparison_rows(
    keys: dict, value_shares: np.ndarray, baseline_shares: np.ndarray, prob: float
) -> list[dict]:
    """The difference and the ratio of two per-draw average shares: mean, HDI and the
    posterior probability that the difference is above 0 (the ratio above 1)."""
    difference = value_shares - baseline_shares
    ratio = value_shares / baseline_shares
    return [
        keys | {"measure": "difference"} | interval(difference, prob)
        | {"p_positive": float(np.mean(difference > 0))},
        keys | {"measure": "ratio"} | interval(ratio, prob)
        | {"p_positive": float(np.mean(ratio > 1))},
    ]  # fmt: skip


def formula_comparisons(
    result: xr.DataTree,
    variable: str,
    values: Sequence | None = None,
    *,
    by: str | None = None,
    prob: float = HDI_PROB,
    persons: str = "averaged",
) -> pd.DataFrame:
    """Differences and ratios of the margins of ``variable`` between its values
    (:func:`comparison_pairs`), per level of ``by``, draw by draw from the same
    counterfactual averages as :func:`formula_grid_margins`. Columns: variable, value,
    baseline, (``<by>``), measure (``difference``: value minus baseline; ``ratio``:
    value over baseline), mean, hdi_lower, hdi_upper, p_positive (P(difference > 0),
    P(ratio > 1)); an ``outcome`` column first for the competing-outcomes family."""
    counterfactuals = counterfactuals_of(result, persons)
    counterfactuals.check(variable)
    if by == variable:
        raise ConfigError(f"comparisons of {variable!r} cannot also be by {by!r}")
    pairs = comparison_pairs(counterfactuals, variable, values)
    rows = []
    for level in _by_levels(counterfactuals, by):
        fixed = {} if by is None else {by: level}
        distinct = {str(v): v for pair in pairs for v in pair}
        shares = {
            key: counterfactuals.shares({variable: value} | fixed)
            for key, value in distinct.items()
        }
        for value, baseline in pairs:
            keys = {"variable": variable, "value": str(value), "baseline": str(baseline)}
            keys |= fixed
            for k, outcome in enumerate(counterfactuals.outcomes):
                named = {"outcome": outcome} | keys if counterfactuals.competing else keys
                a, b = shares[str(value)][:, k], shares[str(baseline)][:, k]
                rows += comparison_rows(named, a, b, prob)
    columns = [*COMPARISON_COLUMNS[:3], *([by] if by else []), *COMPARISON_COLUMNS[3:]]
    return _frame(counterfactuals, rows, columns)

"""Predictive margins (CALIBRATION.md): counterfactual average predicted probabilities.

For predictor :math:`X` and value :math:`v`, every case gets :math:`X = v`, every other
column stays as observed (group effects included), and the predicted probability is
averaged over cases, per posterior draw:

.. math:: m_s(v) = \\frac{1}{N} \\sum_i \\Pr(y_i = 1 \\mid X_i = v, \\text{rest}_i, \\theta_s)

summarised by the posterior mean and the 94% HDI. This is Stata's ``margins`` and
``marginaleffects::avg_predictions(datagrid(..., grid_type="counterfactual"))``. Cells
stand for their cases (weights = cases per cell). For ``competing_outcomes`` there is
one margin per outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.models.design import Design
from returnmodels.summaries._draws import (
    HDI_PROB,
    interval,
    outcome_names,
    posterior_of,
)
from returnmodels.summaries.formula import formula_margins, is_formula_fit
from returnmodels.summaries.margins_grid import (
    default_margin_values,
    formula_comparisons,
    formula_grid_margins,
    registered_shares,
)

__all__ = ["MARGIN_COLUMNS", "comparisons", "default_margin_values", "margin_draws", "margins"]

MARGIN_COLUMNS = ["predictor", "value", "mean", "hdi_lower", "hdi_upper"]


def margin_draws(result: xr.DataTree, predictor: str, value) -> np.ndarray:
    """Draws of the margin of ``predictor = value``: shape (samples, outcomes)."""
    design = Design.from_result(result)
    return registered_shares(design, posterior_of(result), {predictor: value})


def margins(
    result: xr.DataTree,
    values: Mapping[str, Sequence] | None = None,
    *,
    by: str | None = None,
    grid: bool | Sequence[str] = False,
    prob: float = HDI_PROB,
) -> pd.DataFrame:
    """Margins table: predictor, value, mean, hdi_lower, hdi_upper (0-1 scale); an
    ``outcome`` column is added for ``competing_outcomes``.

    ``values`` maps predictors to the values to set (default
    :func:`default_margin_values`; for case files n_procedures 1-8, every cooperation
    level and closing year). A formula fit takes any of its variables
    (:func:`returnmodels.summaries.formula.formula_margins`). Every fit takes ``by``
    (a column for the by-variable's level) or ``grid`` (every combination, a column
    per variable): :func:`~returnmodels.summaries.margins_grid.formula_grid_margins`. Such
    tables are for interactive use; a published one must pass the disclosure control
    (``report.notebook.controlled_margins``) first.
    """
    if by is not None or grid is not False:
        return formula_grid_margins(result, values, by=by, grid=grid, prob=prob)
    if is_formula_fit(result):
        return formula_margins(result, values, prob=prob)
    design = Design.from_result(result)
    posterior = posterior_of(result)
    if values is None:  # only predictors the model has: no flat margins by cooperation
        values = {  # for varying_intercepts, whose nationality effects absorb it
            name: levels
            for name, levels in default_margin_values(design).items()
            if name in posterior or f"competing_{name}" in posterior
        }
    names = outcome_names(design)
    rows = []
    for predictor, levels in values.items():
        for value in levels:
            draws = registered_shares(design, posterior, {predictor: value})
            for k, outcome in enumerate(names):
                row = {"predictor": predictor, "value": str(value), "outcome": outcome}
                rows.append(row | interval(draws[:, k], prob))
    table = pd.DataFrame(rows, columns=["outcome", *MARGIN_COLUMNS])
    return table if design.outcomes else table.drop(columns="outcome")


def comparisons(
    result: xr.DataTree,
    variable: str,
    values: Sequence | None = None,
    *,
    by: str | None = None,
    prob: float = HDI_PROB,
) -> pd.DataFrame:
    """Differences and ratios of ``variable``'s margins between its values, draw by
    draw: each of ``values`` after the first against the first (default: a categorical
    variable's levels against its reference, a number's default values against the
    smallest), per level of ``by``; mean, 94% HDI and p_positive (P(difference > 0),
    P(ratio > 1)). Any fit, formula or registered:
    :func:`~returnmodels.summaries.margins_grid.formula_comparisons`."""
    return formula_comparisons(result, variable, values, by=by, prob=prob)

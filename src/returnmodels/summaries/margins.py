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

from returnmodels.summaries._draws import HDI_PROB
from returnmodels.summaries.formula import formula_margins
from returnmodels.summaries.margins_grid import (
    Counterfactuals,
    formula_comparisons,
    formula_grid_margins,
)

__all__ = ["MARGIN_COLUMNS", "comparisons", "margin_draws", "margins"]

MARGIN_COLUMNS = ["predictor", "value", "mean", "hdi_lower", "hdi_upper"]


def margin_draws(result: xr.DataTree, predictor: str, value) -> np.ndarray:
    """Draws of the margin of ``predictor = value``: shape (samples, outcomes)."""
    return Counterfactuals(result).shares({predictor: value})


def margins(
    result: xr.DataTree,
    values: Mapping[str, Sequence] | None = None,
    *,
    by: str | None = None,
    grid: bool | Sequence[str] = False,
    prob: float = HDI_PROB,
    persons: str = "averaged",
) -> pd.DataFrame:
    r"""Margins table: predictor, value, mean, hdi_lower, hdi_upper (0-1 scale); an
    ``outcome`` column is added for ``competing_outcomes``.

    With a person effect integrated out (``(1 | person_id)``) the coefficients are
    conditional on the person, and a share of cases is not the inverse logit of a
    typical person's log-odds: ``persons="averaged"`` (the default) averages each
    case's probability over the fitted distribution of persons,
    :math:`\int \operatorname{logit}^{-1}(\eta + v)\,N(v \mid 0, \tau^2)\,dv`, which is
    what the study's shares (19/9/2 %) are; ``persons="typical"`` gives the shares of a
    person whose effect is 0, closer to 0 or 1 than the averaged ones. Without such a
    term both are the same.

    ``values`` maps variables to the values to set (default: every variable of the
    formula, :func:`returnmodels.summaries.formula.default_values`; for case files
    n_procedures 1-8, every cooperation level and closing year). Every fit takes ``by``
    (a column for the by-variable's level) or ``grid`` (every combination, a column
    per variable): :func:`~returnmodels.summaries.margins_grid.formula_grid_margins`. Such
    tables are for interactive use; a published one must pass the disclosure control
    (``report.notebook.controlled_margins``) first.
    """
    if by is not None or grid is not False:
        return formula_grid_margins(result, values, by=by, grid=grid, prob=prob, persons=persons)
    return formula_margins(result, values, prob=prob, persons=persons)


def comparisons(
    result: xr.DataTree,
    variable: str,
    values: Sequence | None = None,
    *,
    by: str | None = None,
    prob: float = HDI_PROB,
    persons: str = "averaged",
) -> pd.DataFrame:
    """Differences and ratios of ``variable``'s margins between its values, draw by
    draw: each of ``values`` after the first against the first (default: a categorical
    variable's levels against its reference, a number's default values against the
    smallest), per level of ``by``; mean, 94% HDI and p_positive (P(difference > 0),
    P(ratio > 1)); ``persons`` as for :func:`margins`. Any fit:
    :func:`~returnmodels.summaries.margins_grid.formula_comparisons`."""
    return formula_comparisons(result, variable, values, by=by, prob=prob, persons=persons)

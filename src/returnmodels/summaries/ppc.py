"""Posterior predictive checks: observed vs replicated assisted shares by a column.

Per posterior draw :math:`s`, every cell's successes are replicated,
:math:`\\tilde y_{cs} \\sim \\operatorname{Binomial}(n_c, p_{cs})`, and summed within each
value of ``by``; the observed share is set beside the replicated shares' mean and 94%
HDI. An observed share outside the interval flags misfit for that group. For
``competing_outcomes`` the check is on stage 1 (assisted return).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.models.design import Design
from returnmodels.models.prediction import encode_rows
from returnmodels.summaries._draws import (
    HDI_PROB,
    draw_chunks,
    outcome_probabilities,
    posterior_of,
    ppc_table,
)
from returnmodels.summaries.formula import formula_ppc, is_formula_fit

__all__ = ["ppc_shares"]


def ppc_shares(
    result: xr.DataTree, by: str | None = None, *, random_seed: int = 0, prob: float = HDI_PROB
) -> pd.DataFrame:
    """Table: ``by`` value, n, observed_share, replicated mean, hdi_lower, hdi_upper,
    inside (observed within the HDI). ``by`` defaults to the grouping column (a formula
    fit: any variable or group factor of the formula)."""
    if is_formula_fit(result):
        return formula_ppc(result, by, random_seed=random_seed, prob=prob)
    design = Design.from_result(result)
    by = by or design.group
    posterior = posterior_of(result)
    codes, levels = pd.factorize(design.cells[by].astype(str), sort=True)
    indicator = np.zeros((len(codes), len(levels)))
    indicator[np.arange(len(codes)), codes] = 1.0
    trials = design.trials
    n = trials @ indicator
    observed = (design.successes @ indicator) / n
    rng = np.random.default_rng(random_seed)
    rows = encode_rows(design, design.cells)
    replicated = []
    for draws in draw_chunks(posterior):
        p = outcome_probabilities(posterior, design, rows, draws)[:, :, 0]
        replicated.append(rng.binomial(trials, p) @ indicator / n)
    replicated = np.concatenate(replicated, axis=0)
    table = ppc_table(by, levels, n, observed, replicated, prob)
    if pd.api.types.is_numeric_dtype(design.cells[by]):
        table = table.iloc[np.argsort(table[by].astype(float).to_numpy())].reset_index(drop=True)
    return table

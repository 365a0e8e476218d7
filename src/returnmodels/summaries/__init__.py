"""Summaries of a fit, each one call on the result (the DataTree :func:`returnmodels.fit`
returns or :func:`returnmodels.load_result` reads). Intervals are 94% HDIs throughout.

* :func:`summary`: one fit at a glance (model, priors, sampler, verdict, coefficients
  with odds ratios, group SDs, correlations), as brms and bambi print it;
* :func:`parameter_summary`: ArviZ's summary, one row per parameter, with the verdict;
* :func:`odds_ratios`, :func:`margins` (CALIBRATION.md's definition; ``by=`` and
  ``grid=`` for formula fits), :func:`comparisons` (differences and ratios of margins);
* :func:`group_effects`, :func:`contrast`, :func:`predict_new_group` (unseen groups,
  by explicit choice);
* :func:`ppc_shares`; :func:`compare_models`, :func:`loo_table`;
* :func:`persons_comparison`: a fit with ``(1 | person_id)`` beside the same model
  without persons (the person SD, the slope on either scale, the margins and how much
  wider their intervals are);
* plots in :mod:`returnmodels.report.model_figures`.
"""

from __future__ import annotations

import pandas as pd
import xarray as xr

from returnmodels.inference.diagnostics import verdict_label, verdict_of
from returnmodels.inference.mcmc_stats import diagnostics_table, stats_table
from returnmodels.summaries._draws import HDI_PROB
from returnmodels.summaries.comparison import compare_models, loo_table
from returnmodels.summaries.fit_summary import FitSummary, summary
from returnmodels.summaries.margins import (
    comparisons,
    margin_draws,
    margins,
)
from returnmodels.summaries.nationality import contrast, group_effects, predict_new_group
from returnmodels.summaries.odds_ratios import odds_ratios
from returnmodels.summaries.persons import persons_comparison
from returnmodels.summaries.ppc import ppc_shares

__all__ = [
    "HDI_PROB",
    "FitSummary",
    "compare_models",
    "comparisons",
    "contrast",
    "group_effects",
    "loo_table",
    "margin_draws",
    "margins",
    "odds_ratios",
    "parameter_summary",
    "persons_comparison",
    "ppc_shares",
    "predict_new_group",
    "summary",
    "with_verdict",
]


def with_verdict(table: pd.DataFrame, result: xr.DataTree) -> pd.DataFrame:
    """``table`` with a ``convergence`` column (PASS or FAIL) first: no summary leaves
    the fit's verdict behind."""
    label = verdict_label(verdict_of(result))
    return table.assign(convergence=label)[["convergence", *table.columns]]


def parameter_summary(
    result: xr.DataTree, *, prob: float = HDI_PROB, var_names: list[str] | None = None
) -> pd.DataFrame:
    """ArviZ summary (mean, sd, 94% HDI, ESS, R-hat, MCSE), unrounded, one row per
    parameter with row names as ArviZ writes them (``gender[female]``); ``var_names``:
    only these parameters (their rows are the same as in the whole summary, at a
    fraction of its cost when the per-group effects are left out).

    The numbers are ``az.summary``'s, computed for every parameter at once
    (:mod:`returnmodels.inference.mcmc_stats`: the same numbers, to floating-point
    rounding, at a fraction of the cost of ArviZ's loop over parameters)."""
    posterior = result["posterior"].to_dataset()
    if var_names is not None:
        posterior = posterior[list(var_names)]
    diagnostics = diagnostics_table(posterior).drop(columns="variable")
    table = stats_table(posterior, prob).join(diagnostics.astype(float), how="left")
    return with_verdict(table, result)

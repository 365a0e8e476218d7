"""Group (nationality) effects: partially pooled shares, contrasts, unseen groups.

* :func:`group_effects`: per group, the raw share (successes / trials) beside the
  model's partially pooled share (the group's cases, predicted with its own effect:
  shrunk towards what its predictors imply) and the group effect on the logit scale.
* :func:`contrast`: group ``a`` versus group ``b``, counterfactually: every case gets
  group ``a`` (with its group-level predictors), then ``b``; the difference of the
  average predicted shares per draw, and the odds ratio of the two group intercepts.
* :func:`predict_new_group`: a group not in the data, by an explicit choice:
  ``"population"`` (no group deviation) or ``"sample"`` (a new deviation drawn from the
  fitted group distribution, which widens the interval honestly).
"""

from __future__ import annotations

import pandas as pd
import xarray as xr

from returnmodels.summaries._draws import HDI_PROB
from returnmodels.summaries.formula import (
    formula_contrast,
    formula_group_effects,
    formula_new_group,
)

__all__ = ["contrast", "group_effects", "predict_new_group"]


def group_effects(
    result: xr.DataTree, *, group: str | None = None, prob: float = HDI_PROB
) -> pd.DataFrame:
    """One row per group: group, n, raw_share, share (mean, hdi), effect (mean, hdi).
    ``group`` is any of the fit's group factors (default: its first;
    :func:`~returnmodels.summaries.formula.formula_group_effects`)."""
    return formula_group_effects(result, group=group, prob=prob)


def contrast(
    result: xr.DataTree, a: str, b: str, *, group: str | None = None, prob: float = HDI_PROB
) -> pd.DataFrame:
    """Group ``a`` vs ``b``: difference in average predicted share (0-1 scale, all cases
    set to each group in turn) and the odds ratio of their group intercepts (group
    predictors included). One row per measure, with mean, HDI and P(> 0 or > 1).
    ``group`` is any of the fit's group factors (default: its first)."""
    return formula_contrast(result, a, b, group=group, prob=prob)


def predict_new_group(
    result: xr.DataTree,
    group_values: dict | None = None,
    *,
    new_groups: str,
    group: str | None = None,
    random_seed: int | None = None,
    prob: float = HDI_PROB,
) -> pd.DataFrame:
    """Average predicted share over all cases for a group not in the data.

    ``group_values`` gives its group-level predictors (e.g. ``{"cooperation": "high"}``;
    required when the model has any). ``new_groups`` must be named: ``"population"`` or
    ``"sample"`` (see the module docstring); ``group`` is any of the fit's group factors.
    """
    return formula_new_group(
        result, group_values, new_groups=new_groups, group=group,
        random_seed=random_seed, prob=prob,
    )  # fmt: skip

"""Posterior predictive checks: observed vs replicated assisted shares by a column.

Per posterior draw :math:`s`, every cell's successes are replicated,
:math:`\\tilde y_{cs} \\sim \\operatorname{Binomial}(n_c, p_{cs})`, and summed within each
value of ``by``; the observed share is set beside the replicated shares' mean and 94%
HDI. An observed share outside the interval flags misfit for that group. For
``competing_outcomes`` the check is on stage 1 (assisted return).
"""

from __future__ import annotations

import pandas as pd
import xarray as xr

from returnmodels.summaries._draws import HDI_PROB
from returnmodels.summaries.formula import formula_ppc

__all__ = ["ppc_shares"]


def ppc_shares(
    result: xr.DataTree, by: str | None = None, *, random_seed: int = 0, prob: float = HDI_PROB
) -> pd.DataFrame:
    """Table: ``by`` value, n, observed_share, replicated mean, hdi_lower, hdi_upper,
    inside (observed within the HDI). ``by``: any variable or group factor of the
    formula (default: its first group factor)."""
    return formula_ppc(result, by, random_seed=random_seed, prob=prob)

"""Shared helpers: the posterior as one ``sample`` dim, interval summaries, PPC tables."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.engine.design import stack_draws

__all__ = ["HDI_PROB", "interval", "posterior_of", "ppc_table"]

#: The interval every summary reports: a 94% highest-density interval.
HDI_PROB = 0.94


def posterior_of(result: xr.DataTree) -> xr.Dataset:
    """The posterior, draws flattened into ``sample`` (see :func:`stack_draws`)."""
    return stack_draws(result["posterior"].to_dataset())


def interval(samples: np.ndarray, prob: float = HDI_PROB) -> dict[str, float]:
    """Posterior mean and HDI of 1-D draws."""
    lower, upper = az.hdi(np.asarray(samples, dtype=float), prob=prob)
    return {"mean": float(np.mean(samples)), "hdi_lower": float(lower), "hdi_upper": float(upper)}


def ppc_table(by, levels, n, observed, replicated, prob: float = HDI_PROB) -> pd.DataFrame:
    """One row per level: ``by``, n, observed_share, the replicated shares' mean and HDI,
    and whether the observed share is inside it (``replicated``: draws x levels)."""
    rows = []
    for k, level in enumerate(levels):
        summary = interval(replicated[:, k], prob)
        inside = summary["hdi_lower"] <= observed[k] <= summary["hdi_upper"]
        rows.append(
            {by: level, "n": int(n[k]), "observed_share": observed[k], **summary, "inside": inside}
        )
    return pd.DataFrame(rows)

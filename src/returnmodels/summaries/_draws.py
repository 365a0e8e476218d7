"""Shared helpers: predicted probabilities per draw, in chunks, and interval summaries."""

from __future__ import annotations

from collections.abc import Callable

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, softmax

from returnmodels.data.vocabulary import (
    ASSISTED,
    OUTCOMES,
)
from returnmodels.data.vocabulary import (
    COMPETING_OUTCOMES as COMPETING,
)
from returnmodels.data.vocabulary import (
    NONREFERENCE_OUTCOMES as NONREFERENCE,
)
from returnmodels.data.vocabulary import (
    REFERENCE_OUTCOME as REFERENCE,
)
from returnmodels.models.design import Design
from returnmodels.models.prediction import encode_rows, predict_eta, stack_draws

__all__ = [
    "HDI_PROB",
    "draw_chunks",
    "interval",
    "outcome_probabilities",
    "posterior_of",
    "ppc_table",
    "weighted_mean",
]

#: The interval every summary reports: a 94% highest-density interval.
HDI_PROB = 0.94
_CHUNK = 250  # draws per chunk: bounds memory at chunk * cells doubles


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


def draw_chunks(posterior: xr.Dataset):
    """Slices of the stacked draws, a few hundred at a time (memory: draws x cells)."""
    n = posterior.sizes["sample"]
    for start in range(0, n, _CHUNK):
        yield slice(start, min(n, start + _CHUNK))


def outcome_probabilities(
    posterior: xr.Dataset, design: Design, frame: pd.DataFrame | dict, draws: slice, **kwargs
) -> np.ndarray:
    """Probabilities (samples, rows, outcomes): one column (assisted) for binary models,
    the six outcomes (schema order) for ``competing_outcomes``."""
    p = expit(predict_eta(posterior, design, frame, draws=draws, **kwargs))
    if not design.outcomes:
        return p[:, :, None]
    etas = {
        k: predict_eta(
            posterior,
            design,
            frame,
            prefix="competing_",
            lead="nonreference_outcome",
            at=k,
            draws=draws,
            **kwargs,
        )
        for k in NONREFERENCE
    }
    etas[REFERENCE] = np.zeros_like(p)
    others = softmax(np.stack([etas[k] for k in COMPETING], axis=-1), axis=-1)
    return np.concatenate([p[:, :, None], others * (1 - p)[:, :, None]], axis=-1)


def outcome_names(design: Design) -> tuple[str, ...]:
    return (
        OUTCOMES
        if design.outcomes
        else (ASSISTED if design.spec.is_case_file else design.spec.response,)
    )


def weighted_mean(
    posterior: xr.Dataset,
    design: Design,
    frame: pd.DataFrame | dict,
    weights: np.ndarray,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    **kwargs,
) -> np.ndarray:
    """Per draw, the ``weights``-average over rows of the predicted probabilities:
    shape (samples, outcomes). Computed in chunks of draws."""
    w = np.asarray(weights, dtype=float) / np.sum(weights)
    if isinstance(frame, pd.DataFrame):
        frame = encode_rows(design, frame)
    out = []
    for draws in draw_chunks(posterior):
        p = outcome_probabilities(posterior, design, frame, draws, **kwargs)
        out.append(np.einsum("sro,r->so", p, w))
    return np.concatenate(out, axis=0)  # samples ordered by draw chunk; fine for summaries

"""Pareto-smoothed importance sampling (PSIS) of every cell at once.

ArviZ's ``psislw`` smooths the leave-one-out importance weights one observation at a
time, in Python (a generalized Pareto fit per cell): on the bundled data's 1,199 or
5,358 cells that took longer than writing the rest of a fit's folder. :func:`psis_log_weights`
runs the same steps (Vehtari et al., the ``arviz_stats`` version: the tail size, the
empirical-Bayes fit of the tail with its weakly informative prior on k, the smoothed
tail capped at its largest draw, the normalisation), each as one array operation over
all cells, in the log-likelihood's own precision; :func:`relative_efficiency` is the
relative efficiency ``az.loo`` passes to it. Both are checked against ArviZ in the tests.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.special import logsumexp

__all__ = ["good_k", "psis_log_weights", "psis_loo", "relative_efficiency"]

#: ArviZ's prior of the Pareto fit: its grid scale and the weight of k's prior at 0.5.
_PRIOR_BS = 3
_PRIOR_K = 10


def relative_efficiency(posterior: xr.Dataset) -> float:
    """The relative efficiency ``az.loo`` uses: the mean, over every element of every
    posterior variable, of its ESS (``method="mean"``) over the number of draws; 1 for a
    single chain."""
    if posterior.sizes["chain"] == 1:
        return 1.0
    ess = posterior.azstats.ess(method="mean")
    values = np.hstack([ess[name].values.flatten() for name in ess.data_vars])
    return values.mean() / (posterior.sizes["chain"] * posterior.sizes["draw"])


def tail_length(n_draws: int, r_eff: float) -> int:
    """How many of the largest importance ratios the Pareto fit smooths."""
    if n_draws * r_eff > 225:
        return int(np.floor(3 * (n_draws / r_eff) ** 0.5))
    return int(np.floor(n_draws / 5))


def _pareto_fit(tail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(k, sigma) per row of ``tail`` (rows sorted ascending, above their cutoff): the
    empirical-Bayes fit of a generalized Pareto distribution (Zhang and Stephens, with
    ArviZ's prior on k). A row whose first quartile is its minimum gets (nan, nan); a
    row whose fit is not a number gets (inf, nan)."""
    rows, n = tail.shape
    m = 30 + int(n**0.5)
    first_quartile = tail[:, int((n / 4 + 0.5) - 1)]
    degenerate = first_quartile <= tail[:, 0]
    grid = 1 - np.sqrt(m / (np.arange(1, m + 1, dtype=float) - 0.5))
    with np.errstate(divide="ignore", invalid="ignore"):
        b = grid[None, :] / (_PRIOR_BS * first_quartile[:, None]) + 1 / tail[:, -1:]
        k = np.mean(np.log1p(-b[:, :, None] * tail[:, None, :]), axis=2)
        scale = n * (np.log(-b / k) - k - 1)
        weights = np.exp(scale - logsumexp(scale, axis=1, keepdims=True))
        weights = np.where(weights >= 10 * np.finfo(float).eps, weights, 0.0)
        weights /= weights.sum(axis=1, keepdims=True)
        b_post = np.sum(b * weights, axis=1)
        kappa = np.mean(np.log1p(-b_post[:, None] * tail), axis=1)
        sigma = -kappa / b_post
        kappa = (n * kappa + _PRIOR_K * 0.5) / (n + _PRIOR_K)
    sigma = np.where(np.isnan(kappa), np.nan, sigma)
    kappa = np.where(np.isnan(kappa), np.inf, kappa)
    return np.where(degenerate, np.nan, kappa), np.where(degenerate, np.nan, sigma)


def _pareto_quantiles(probs: np.ndarray, kappa, sigma, mu) -> np.ndarray:
    """Quantiles ``probs`` of the generalized Pareto distribution of each row (rows of
    ``kappa``, ``sigma``, ``mu``): nan where sigma is not positive."""
    kappa, sigma, mu = kappa[:, None], sigma[:, None], mu[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        general = mu + sigma * np.expm1(-kappa * np.log1p(-probs)) / kappa
    exponential = mu - sigma * np.log1p(-probs)
    q = np.where(kappa == 0, exponential, general)
    return np.where(sigma <= 0, np.nan, q)


def psis_log_weights(log_likelihood: np.ndarray, r_eff: float) -> tuple[np.ndarray, np.ndarray]:
    """``(log_weights, khat)`` of PSIS-LOO for each row of ``log_likelihood`` (cells x
    draws, the draws flattened chain by chain): the normalised smoothed log importance
    weights (same shape and precision) and each cell's Pareto k. Raises ValueError, as
    ArviZ does, when a cell's tail is constant or shorter than 5 draws."""
    ratios = -np.asarray(log_likelihood)
    cells, n_draws = ratios.shape
    n_tail = tail_length(n_draws, r_eff)
    if n_tail < 5:
        raise ValueError("n_draws_tail must be at least 5")
    ratios = ratios - np.max(ratios, axis=1, keepdims=True)
    below = n_draws - n_tail - 1  # the largest ratio under the tail: the Pareto fit's cutoff
    order = np.argpartition(ratios, below, axis=1)  # the tail alone is sorted, not every draw
    cutoff = np.take_along_axis(ratios, order[:, below : below + 1], axis=1)
    unsorted = order[:, below + 1 :]
    tail_values = np.take_along_axis(ratios, unsorted, axis=1)
    ascending = np.argsort(tail_values, axis=1)
    tail_at = np.take_along_axis(unsorted, ascending, axis=1)
    tail = np.take_along_axis(tail_values, ascending, axis=1)
    largest, smallest = tail.max(axis=1), tail.min(axis=1)
    if np.any(np.abs(largest - smallest) < np.finfo(float).tiny):
        raise ValueError("All tail values are the same")
    exp_cutoff = np.exp(cutoff)
    khat, sigma = _pareto_fit(np.exp(tail) - exp_cutoff)
    smooth = np.isfinite(khat)
    if smooth.any():
        probs = np.arange(0.5, n_tail) / n_tail
        with np.errstate(divide="ignore", invalid="ignore"):
            smoothed = np.log(
                _pareto_quantiles(probs, khat[smooth], sigma[smooth], exp_cutoff[smooth, 0])
            )
        top = largest[smooth, None]
        smoothed = np.where(smoothed > top, top, smoothed)
        rows = np.flatnonzero(smooth)[:, None]
        ratios[rows, tail_at[smooth]] = smoothed
    ratios -= logsumexp(ratios, axis=1, keepdims=True)
    return ratios, khat


def psis_loo(log_likelihood: np.ndarray, r_eff: float) -> tuple[np.ndarray, ...]:
    """``(elpd_i, pareto_k, p_loo_i)`` per row of ``log_likelihood`` (cells x draws, the
    draws flattened chain by chain), as ``az.loo`` computes them cell by cell: the log
    of the PSIS-weighted mean likelihood, the Pareto k, and the log pointwise predictive
    density less the former."""
    log_likelihood = np.asarray(log_likelihood)
    log_weights, pareto_k = psis_log_weights(log_likelihood, r_eff)
    elpd_i = logsumexp(log_weights + log_likelihood, axis=1)
    lppd_i = logsumexp(log_likelihood, axis=1, b=1 / log_likelihood.shape[1])
    return elpd_i, pareto_k, lppd_i - elpd_i


def good_k(n_samples: int) -> float:
    """ArviZ's threshold of a reliable Pareto k for ``n_samples`` draws."""
    return min(1 - 1 / np.log10(n_samples), 0.7) if n_samples > 1 else 0.7

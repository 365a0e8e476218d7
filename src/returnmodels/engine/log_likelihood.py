r"""The pointwise log-likelihood of a formula fit, in NumPy, from its draws and design.

A fit's log-likelihood (draws x cells) is a function of its posterior and its cells,
both stored in the result, so a saved result that leaves it out (it can take hundreds
of MB) rebuilds it here (:func:`result_log_likelihood`) rather than keeping a copy.
No PyMC and no PyTensor: a saved result is compared on a machine without the sampler.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr
from scipy.special import gammaln, log_expit, logsumexp

from returnmodels.engine.design import FormulaDesign, stored_positions

__all__ = [
    "KEPT_MAX_BYTES",
    "LOG_LIKELIHOOD_CHUNK_ELEMENTS",
    "formula_log_likelihood",
    "kept_in_result",
    "log_binomial_coefficient",
    "rebuildable",
    "result_log_likelihood",
    "stage_linear_predictor",
    "stage_parameters",
    "unit_log_likelihood",
]


#: A fit keeps its pointwise log-likelihood (draws x cells, float32) when it takes at
#: most this many bytes (64 MiB: the study model's 1,199 cells x 4,000 draws take 19 MB;
#: the crossed closing years' 5,358 cells, 86 MB, and every case-level predictor's
#: 29,454 cells, 470 MB, do not); a larger one is rebuilt when LOO asks for it
#: (:func:`result_log_likelihood`), in the process that fitted it as from a saved file.
KEPT_MAX_BYTES = 64 * 2**20


def kept_in_result(n_cells: int, n_samples: int) -> bool:
    """Whether a one-stage fit of ``n_cells`` cells and ``n_samples`` draws keeps its
    log-likelihood (:data:`KEPT_MAX_BYTES`)."""
    return 4 * n_cells * n_samples <= KEPT_MAX_BYTES


def stage_parameters(posterior: xr.Dataset, design: FormulaDesign):
    """A stage's draws as arrays: beta (chains, draws, M, P) and, per block, per column,
    the effects (chains, draws, M, J)."""
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    M, lead = design.n_linear, (design.lead,) if design.lead else ()

    def values(name):  # (chains, draws, M, ...)
        var = posterior[design.prefix + name].transpose("chain", "draw", *lead, ...).values
        return var.reshape(chains, draws, M, -1)

    parts = [values(t.name) for t in design.common]
    beta = np.concatenate(parts, axis=-1) if parts else np.zeros((chains, draws, M, 0))
    effects = [
        [values(f"{b.column_name(r)}_effect") for r in range(b.width)] for b in design.blocks
    ]
    return beta, effects


def stage_linear_predictor(design: FormulaDesign, beta, effects, part: slice) -> np.ndarray:
    r"""Every cell's linear predictors at the draws ``part`` of :func:`stage_parameters`,
    :math:`\eta_{c} = x_c^\top\beta + \sum_b z_{cb}^\top u_{b,j_b(c)}`: (chains, d, C, M),
    a view of an array laid out (chains, d, M, C), cells innermost (contiguous for the
    binary family's M = 1)."""
    eta = beta[:, part] @ design.X.T  # (chains, d, M, C)
    for block, block_effects in zip(design.blocks, effects, strict=True):
        for r, effect in enumerate(block_effects):
            at_cell = np.take(effect[:, part], block.index, axis=-1)  # (chains, d, M, C)
            values = block.values[:, r]
            if np.all(values == 1.0):  # an intercept: no product to take
                eta += at_cell
            else:
                eta += at_cell * values
    return np.swapaxes(eta, -1, -2)


def log_binomial_coefficient(trials: np.ndarray, successes: np.ndarray) -> np.ndarray:
    """log C(n, k) per cell: the data-only term of the binomial log-likelihood."""
    n, k = np.asarray(trials, float), np.asarray(successes, float)
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


#: Draws x chains x cells x linear predictors computed at a time: about a megabyte of
#: doubles a temporary, so that the chunk's several passes stay in a core's cache. On
#: the crossed closing years' 5,358 cells x 4,000 draws the binary log-likelihood took
#: 0.15-0.2 s in chunks of this size, 0.7-1.0 s in chunks of 100 draws (2 MiB of L2).
LOG_LIKELIHOOD_CHUNK_ELEMENTS = 2**17


def formula_log_likelihood(
    posterior: xr.Dataset, design: FormulaDesign, chunk: int | None = None
) -> xr.Dataset:
    """Pointwise log-likelihood per cell and draw (float32), in NumPy, ``chunk`` draws at
    a time (default: about :data:`LOG_LIKELIHOOD_CHUNK_ELEMENTS` values of the linear
    predictor a chunk): binomial, or for a multinomial stage the multinomial of the
    cell's cases over its categories."""
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    beta, effects = stage_parameters(posterior, design)
    n, Y = design.trials.astype(float), design.linear_counts()
    if chunk is None:
        per_draw = chains * len(n) * design.n_linear
        chunk = max(1, LOG_LIKELIHOOD_CHUNK_ELEMENTS // per_draw)
    reference = n - Y.sum(axis=1)
    constant = gammaln(n + 1.0) - gammaln(Y + 1.0).sum(axis=1) - gammaln(reference + 1.0)
    logp = np.empty((chains, draws, len(n)), dtype=np.float32)
    for start in range(0, draws, chunk):
        part = slice(start, min(draws, start + chunk))
        eta = stage_linear_predictor(design, beta, effects, part)
        if design.n_linear == 1:
            logp[:, part] = _binomial_log_likelihood(eta[..., 0], Y[:, 0], n, constant)
            continue
        top = np.maximum(eta.max(axis=-1), 0.0)
        lse = top + np.log(np.exp(-top) + np.exp(eta - top[..., None]).sum(axis=-1))
        logp[:, part] = (Y * eta).sum(axis=-1) - n * lse + constant
    coords = {
        "chain": posterior["chain"].values,
        "draw": posterior["draw"].values,
        "cell": np.arange(len(n)),
    }
    return xr.Dataset({design.response: (("chain", "draw", "cell"), logp)}, coords=coords)


def _binomial_log_likelihood(eta, successes, trials, constant) -> np.ndarray:
    r""":math:`y\eta - n \log(1 + e^\eta) + \log\binom{n}{y}` cell by cell, the softplus
    as :math:`\max(\eta, 0) + \log(1 + e^{-|\eta|})` (no overflow either side; NumPy's
    ``logaddexp`` took three times as long), in place in a copy of ``eta``."""
    softplus = np.log1p(np.exp(-np.abs(eta)))
    softplus += np.maximum(eta, 0.0)
    softplus *= trials
    value = eta * successes
    value -= softplus
    value += constant
    return value


def rebuildable(result: xr.DataTree) -> bool:
    """Whether ``result`` is a one-stage formula fit whose log-likelihood
    :func:`result_log_likelihood` can rebuild from its stored groups."""
    if "returnmodels_design" not in result.attrs or "constant_data" not in result.children:
        return False
    described = json.loads(result.attrs["returnmodels_design"])
    return described.get("family") != "competing_outcomes" and not described.get("integrated")


def result_log_likelihood(result: xr.DataTree) -> xr.Dataset:
    """The ``log_likelihood`` group of a (saved) formula fit, rebuilt from its posterior
    and its cells: the values :func:`formula_log_likelihood` gave when it was fitted,
    in the result's order of cells."""
    design = FormulaDesign.from_result(result)
    rebuilt = formula_log_likelihood(result["posterior"].to_dataset(), design)
    stored = result["constant_data"].to_dataset().to_dataframe().reset_index(drop=True)
    at = stored_positions(stored, design.cells)
    in_order = rebuilt.copy(deep=True)
    for name, values in rebuilt.data_vars.items():
        in_order[name].values[..., at] = values.values
    return in_order


#: At most this many draws x entries x nodes at a time (memory of the chunk).
_UNIT_CHUNK_ELEMENTS = 4_000_000


def unit_log_likelihood(result: xr.DataTree) -> xr.Dataset:
    r"""Per outcome pattern of an integrated term's units and per draw, the log-likelihood
    of one unit of the pattern with its intercept integrated out,
    :math:`\log \sum_k (w_k/\sqrt\pi) \prod_{e \in p} \operatorname{Bernoulli}(y_e \mid
    \operatorname{logit}^{-1}(\eta_{c_e} + \sqrt2\,\sigma x_k))`, at the fit's
    Gauss-Hermite nodes: what the engine summed, weighted by the patterns' counts.
    Rebuilt from the result's posterior, cells and ``units`` group; float32, dims chain,
    draw, pattern."""
    units = result["units"].to_dataset()
    design = FormulaDesign.from_result(result)  # the design without the integrated term
    posterior = result["posterior"].to_dataset()
    stored = result["constant_data"].to_dataset().to_dataframe().reset_index(drop=True)
    rebuilt_of_stored = np.empty(design.n_cells, dtype=np.int64)
    rebuilt_of_stored[stored_positions(stored, design.cells)] = np.arange(design.n_cells)
    order = np.argsort(units["entry_pattern"].values, kind="stable")
    cell = rebuilt_of_stored[units["entry_cell"].values[order]]
    sign = 2.0 * units["entry_y"].values[order] - 1.0
    pattern = units["entry_pattern"].values[order]
    starts = np.flatnonzero(np.r_[True, pattern[1:] != pattern[:-1]])
    nodes, weights = np.polynomial.hermite.hermgauss(int(units.attrs["nodes"]))
    log_weights = np.log(weights / np.sqrt(np.pi))
    sigma = posterior[f"{units.attrs['factor']}_sigma"].values  # (chains, draws)
    beta, effects = stage_parameters(posterior, design)
    chains, draws = sigma.shape
    out = np.empty((chains, draws, len(units["pattern_count"])), dtype=np.float32)
    chunk = max(1, _UNIT_CHUNK_ELEMENTS // (chains * len(cell) * len(nodes)))
    for start in range(0, draws, chunk):
        part = slice(start, min(draws, start + chunk))
        eta = stage_linear_predictor(design, beta, effects, part)[..., 0][..., cell]
        shift = np.sqrt(2.0) * sigma[:, part, None, None] * nodes
        per_case = log_expit(sign[:, None] * (eta[..., None] + shift))  # (ch, d, E, K)
        per_pattern = np.add.reduceat(per_case, starts, axis=2) + log_weights
        out[:, part] = logsumexp(per_pattern, axis=-1)
    coords = {
        "chain": posterior["chain"].values,
        "draw": posterior["draw"].values,
        "pattern": np.arange(out.shape[-1]),
    }
    return xr.Dataset({design.response: (("chain", "draw", "pattern"), out)}, coords=coords)

r"""The integrated units' likelihood in one pass: a compiled kernel, as a PyTensor Op.

The quadrature of :mod:`returnmodels.engine.integrated` (a unit's intercept integrated
out by :math:`K` Gauss-Hermite nodes, :math:`b_k = \sqrt2\sigma x_k`) needs, for every
outcome pattern :math:`p` of :math:`n_p` units,

.. math::

    S_p = \sum_k \frac{w_k}{\sqrt\pi} \prod_{e \in p} f_{ek}, \qquad
    f_{ek} = \operatorname{logit}^{-1}\bigl(s_e(\eta_{c_e} + b_k)\bigr),

the log-likelihood :math:`\sum_p n_p \log S_p` and its gradients,
:math:`\partial/\partial\eta_c = \sum_{e: c_e = c} n_p \sum_k r_{pk}(y_e - p_{c_e k})` and
:math:`\partial/\partial\sigma = \sum_e n_p \sum_k r_{pk}(y_e - p_{c_e k})\sqrt2 x_k`, with
:math:`r_{pk} = (w_k/\sqrt\pi)\prod_e f_{ek}/S_p`.

Written as PyTensor operations (``engine/graph.py``'s ``_unit_products``, the reference
this kernel is tested against) every step is a pass over a cells x nodes table; once the
table outgrows the caches (29,454 cells x 30 nodes, 7 MB a table, for the model with
every case-level predictor) those passes cost 23 ms a gradient. Here the probabilities
:math:`p_{ck}` and :math:`1 - p_{ck}` are tabulated once, from one exponential a cell and
one a node (:math:`e^{\eta_c + b_k} = e^{\eta_c}e^{b_k}`, no cancellation in either), and
each pattern is visited once for its likelihood and once for its gradient.

Exactness: a pattern whose :math:`S_p` would leave the normal doubles (below
:data:`PRODUCT_FLOOR`, far out in warm-up) is computed in log space instead, from
:math:`\eta` itself (:math:`\log\operatorname{logit}^{-1} t = -\max(-t, 0) -
\log(1 + e^{-|t|})` and a log-sum-exp over the nodes), as ``_unit_logs`` does. The
floating-point flags allow reassociating sums and contracting products (so that the
node loops vectorise) but keep infinities and NaNs meaningful.
"""

from __future__ import annotations

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.graph import Apply, Op
from pytensor.link.numba.dispatch import basic as numba_basic
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

__all__ = ["PRODUCT_FLOOR", "UnitLikelihood", "unit_likelihood", "unit_likelihood_kernel"]

#: A pattern's likelihood below this is computed in log space (products would underflow).
PRODUCT_FLOOR = 1e-280
#: Fast-math flags without ``nnan``/``ninf``: sums may be reassociated (vectorised node
#: loops), infinities and NaNs keep their meaning (the log-space test relies on them).
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@numba.njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _log_expit(t):
    return -(max(-t, 0.0) + np.log1p(np.exp(-abs(t))))


@numba.njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _pattern_in_logs(eta, sigma, node, log_weight, entry, start, stop, n, g_eta, scratch):
    """One pattern (entries ``start:stop``) in log space: adds its gradients to
    ``g_eta``; returns its log-likelihood and its sigma gradient."""
    K = node.shape[0]
    for k in range(K):
        scratch[k] = log_weight[k]
    for j in range(start, stop):
        c, s = entry[0, j], float(entry[2, j])
        for k in range(K):
            scratch[k] += _log_expit(s * (eta[c] + sigma * node[k]))
    top = scratch.max()
    total = 0.0
    for k in range(K):
        scratch[k] = np.exp(scratch[k] - top)
        total += scratch[k]
    g_sigma = 0.0
    for j in range(start, stop):
        c, s = entry[0, j], float(entry[2, j])
        acc, acc_sigma = 0.0, 0.0
        for k in range(K):
            t = s * (eta[c] + sigma * node[k])
            term = scratch[k] * s * np.exp(_log_expit(-t))
            acc += term
            acc_sigma += term * node[k]
        g_eta[c] += n * acc / total
        g_sigma += n * acc_sigma / total
    return n * (top + np.log(total)), g_sigma


@numba.njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def unit_likelihood_kernel(eta, sigma, gh, entry, count):
    """``(log-likelihood, d/d eta, d/d sigma)`` of the units' patterns (module
    docstring). ``gh``: (3, K) rows :math:`\\sqrt2 x_k`, :math:`\\log(w_k/\\sqrt\\pi)`,
    :math:`w_k/\\sqrt\\pi`; ``entry``: (4, E) each entry's cell, pattern, :math:`2y - 1`
    and position, a pattern's entries together; ``count``: units of each pattern."""
    C, K, E = eta.shape[0], gh.shape[1], entry.shape[1]
    node, log_weight, weight = gh[0], gh[1], gh[2]
    at_node = np.empty(K)
    for k in range(K):
        at_node[k] = np.exp(sigma * node[k])
    success = np.empty((C, K))  # p_ck and 1 - p_ck, each without cancellation
    failure = np.empty((C, K))
    for c in range(C):
        at_cell = np.exp(eta[c])
        for k in range(K):
            odds = at_cell * at_node[k]
            q = 1.0 / (1.0 + odds)
            failure[c, k] = q
            success[c, k] = odds * q if odds < np.inf else 1.0
    g_eta = np.zeros(C)
    lik, g_sigma = 0.0, 0.0
    product = np.empty(K)
    scratch = np.empty(K)
    e = 0
    while e < E:
        start, pattern = e, entry[1, e]
        while e < E and entry[1, e] == pattern:
            e += 1
        n = count[pattern]
        for k in range(K):
            product[k] = weight[k]
        for j in range(start, e):
            row = success[entry[0, j]] if entry[2, j] > 0 else failure[entry[0, j]]
            for k in range(K):
                product[k] *= row[k]
        total = 0.0
        for k in range(K):
            total += product[k]
        if not total >= PRODUCT_FLOOR or not np.isfinite(total):
            part, part_sigma = _pattern_in_logs(
                eta, sigma, node, log_weight, entry, start, e, n, g_eta, scratch
            )
            lik += part
            g_sigma += part_sigma
            continue
        lik += n * np.log(total)
        scale = n / total
        for j in range(start, e):
            c = entry[0, j]
            y = 1.0 if entry[2, j] > 0 else 0.0
            acc, acc_sigma = 0.0, 0.0
            for k in range(K):
                term = product[k] * (y - success[c, k])
                acc += term
                acc_sigma += term * node[k]
            g_eta[c] += scale * acc
            g_sigma += scale * acc_sigma
    return lik, g_eta, g_sigma


class UnitLikelihood(Op):
    """The kernel as a PyTensor Op of ``(eta, sigma, gh, unit_entry, unit_count)`` with
    three outputs: the log-likelihood, its gradient with respect to ``eta`` and to
    ``sigma``. It has no gradient of its own: the engine's graph enters the likelihood's
    gradients by hand (``engine/graph.py``)."""

    __props__ = ()

    def make_node(self, eta, sigma, gh, entry, count):
        inputs = [pt.as_tensor_variable(x) for x in (eta, sigma, gh, entry, count)]
        outputs = [pt.dscalar(), pt.dvector(), pt.dscalar()]
        return Apply(self, inputs, outputs)

    def perform(self, node, inputs, output_storage):
        eta, sigma, gh, entry, count = inputs
        lik, g_eta, g_sigma = unit_likelihood_kernel(
            np.asarray(eta, float), float(sigma), gh, entry, np.asarray(count, float)
        )
        output_storage[0][0] = np.asarray(lik)
        output_storage[1][0] = g_eta
        output_storage[2][0] = np.asarray(g_sigma)


@register_funcify_default_op_cache_key(UnitLikelihood)
def _numba_unit_likelihood(op, **kwargs):
    kernel = unit_likelihood_kernel

    @numba_basic.numba_njit
    def unit_likelihood_op(eta, sigma, gh, entry, count):
        lik, g_eta, g_sigma = kernel(eta, sigma.item(), gh, entry, count)
        return np.asarray(lik), g_eta, np.asarray(g_sigma)

    return unit_likelihood_op


def unit_likelihood(v, eta, sigma):
    """The units' log-likelihood and its gradients with respect to ``eta`` and
    ``sigma``, from the engine's inputs ``v`` (the kernel, as an Op)."""
    return UnitLikelihood()(eta, sigma, v["gh"], v["unit_entry"], v["unit_count"])

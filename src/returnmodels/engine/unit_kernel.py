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
every case-level predictor) those passes cost 23 ms a gradient. The kernel keeps no
table: each entry's probabilities :math:`p_{ck}` and :math:`1 - p_{ck}` come from one
exponential a cell and one a node (:math:`e^{\eta_c + b_k} = e^{\eta_c}e^{b_k}`, no
cancellation in either) and a division, for blocks of patterns of one length at a time,
vectorised across the block; the workspace is a few small arrays whatever the number of
cells. (An earlier version tabulated every cell at every node first: on that model its
two 7 MB tables, allocated afresh by every gradient, cost about 3,500 page faults a call,
10 ms against 1.9 ms now; ``benchmarks/units.py``.)

Exactness: a pattern whose :math:`S_p` would leave the normal doubles (below
:data:`PRODUCT_FLOOR`, far out in warm-up) is computed in log space instead, from
:math:`\eta` itself (:math:`\log\operatorname{logit}^{-1} t = -\max(-t, 0) -
\log(1 + e^{-|t|})` and a log-sum-exp over the nodes), as ``_unit_logs`` does. The
floating-point flags allow reassociating sums and contracting products (so that the
loops across a block vectorise) but keep infinities and NaNs meaningful.
"""

from __future__ import annotations

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.graph import Apply, Op
from pytensor.link.numba.dispatch import basic as numba_basic
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from returnmodels.engine.kernel_key import source_salt

__all__ = ["PRODUCT_FLOOR", "UnitLikelihood", "unit_likelihood", "unit_likelihood_kernel"]

#: A pattern's likelihood below this is computed in log space (products would underflow).
PRODUCT_FLOOR = 1e-280
#: Entries of patterns of one length computed together (vectorised across the patterns).
BLOCK = 256
#: Fast-math flags without ``nnan``/``ninf``: sums may be reassociated (loops across a
#: block vectorise), infinities and NaNs keep their meaning (the log-space test relies on them).
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
def _pattern_length(entry, start):
    """How many entries the pattern whose first entry is ``start`` has (a pattern's
    entries are consecutive, the first at position 0)."""
    length = 1
    while start + length < entry.shape[1] and entry[3, start + length] != 0:
        length += 1
    return length


@numba.njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _single_case_block(odds_at_cell, y, at_node, node, weight, total, acc, acc_sigma):
    """A block of patterns of one case each: their likelihoods ``total`` and the sums
    ``acc`` (and ``acc_sigma``, times the nodes) of :math:`(w_k/\\sqrt\\pi) f_k (y - p_k)`
    in one pass over the nodes."""
    nb = odds_at_cell.shape[0]
    acc[:nb] = 0.0
    acc_sigma[:nb] = 0.0
    for k in range(at_node.shape[0]):
        uk, wk, xk = at_node[k], weight[k], node[k]
        for i in range(nb):
            odds = odds_at_cell[i] * uk
            q = 1.0 / (1.0 + odds)
            p = odds * q if odds < np.inf else 1.0
            f = wk * (p if y[i] > 0.0 else q)
            term = f * (y[i] - p)
            total[i] += f
            acc[i] += term
            acc_sigma[i] += term * xk


@numba.njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _pattern_block(
    odds_at_cell, y, L, nb, at_node, node, weight, total, acc, acc_sigma, product, residual
):
    """A block of ``nb`` patterns of ``L`` cases each (entry ``j`` of pattern ``i`` at
    ``j * nb + i``): their likelihoods ``total`` and, for each entry, the sums ``acc``
    (and ``acc_sigma``, times the nodes) of :math:`(w_k/\\sqrt\\pi)\\prod_e f_{ek}
    (y - p_k)`, node by node: the products and residuals of one node, then their share of
    the sums."""
    acc[: L * nb] = 0.0
    acc_sigma[: L * nb] = 0.0
    for k in range(at_node.shape[0]):
        uk, xk = at_node[k], node[k]
        product[:nb] = weight[k]
        for j in range(L):
            oj, yj = odds_at_cell[j * nb : (j + 1) * nb], y[j * nb : (j + 1) * nb]
            rj = residual[j * nb : (j + 1) * nb]
            for i in range(nb):
                odds = oj[i] * uk
                q = 1.0 / (1.0 + odds)
                p = odds * q if odds < np.inf else 1.0
                product[i] *= p if yj[i] > 0.0 else q  # a select: q + y(p - q) would cancel
                rj[i] = yj[i] - p
        for i in range(nb):
            total[i] += product[i]
        for j in range(L):
            rj = residual[j * nb : (j + 1) * nb]
            aj, sj = acc[j * nb : (j + 1) * nb], acc_sigma[j * nb : (j + 1) * nb]
            for i in range(nb):
                term = product[i] * rj[i]
                aj[i] += term
                sj[i] += term * xk


@numba.njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def unit_likelihood_kernel(eta, sigma, gh, entry, count):
    """``(log-likelihood, d/d eta, d/d sigma)`` of the units' patterns (module
    docstring). ``gh``: (3, K) rows :math:`\\sqrt2 x_k`, :math:`\\log(w_k/\\sqrt\\pi)`,
    :math:`w_k/\\sqrt\\pi`; ``entry``: (4, E) each entry's cell, pattern, :math:`2y - 1`
    and position in its pattern, a pattern's entries together; ``count``: units of each
    pattern.

    Patterns are taken in blocks of consecutive patterns of one length :math:`L` (the
    engine orders them by length), up to :data:`BLOCK` entries, node by node: the
    block's products and residuals :math:`y_e - p_{c_e k}` across the block (vectorised
    over patterns), then their share of the gradients; the workspace is a few arrays of
    :data:`BLOCK` entries, whatever the number of cells."""
    C, K, E = eta.shape[0], gh.shape[1], entry.shape[1]
    node, log_weight, weight = gh[0], gh[1], gh[2]
    at_node = np.empty(K)
    for k in range(K):
        at_node[k] = np.exp(sigma * node[k])
    at_cell = np.exp(eta)  # e^(eta + b_k) = e^eta e^b_k: no cancellation in either
    longest = 1
    for j in range(E):
        longest = max(longest, entry[3, j] + 1)
    capacity = max(BLOCK, longest)  # entries a block holds: BLOCK, or one long pattern
    odds_at_cell = np.empty(capacity)  # entry j of the block's pattern i at j * nb + i
    y = np.empty(capacity)
    residual = np.empty(capacity)
    acc = np.empty(capacity)
    acc_sigma = np.empty(capacity)
    product = np.empty(capacity)
    total = np.empty(capacity)
    scratch = np.empty(K)
    g_eta = np.zeros(C)
    lik, g_sigma = 0.0, 0.0
    e = 0
    while e < E:
        start, L = e, _pattern_length(entry, e)
        most = max(1, capacity // L)
        nb = 1  # the block: nb patterns of length L from `start`, each L entries
        while nb < most and start + nb * L < E and _pattern_length(entry, start + nb * L) == L:
            nb += 1
        e = start + nb * L
        for i in range(nb):
            for j in range(L):
                first = start + i * L + j
                odds_at_cell[j * nb + i] = at_cell[entry[0, first]]
                y[j * nb + i] = 1.0 if entry[2, first] > 0 else 0.0
        total[:nb] = 0.0
        if L == 1:  # one case a unit: a shorter pass
            _single_case_block(odds_at_cell[:nb], y[:nb], at_node, node, weight, total,
                               acc, acc_sigma)  # fmt: skip
        else:
            _pattern_block(odds_at_cell[: L * nb], y[: L * nb], L, nb, at_node, node, weight,
                           total, acc, acc_sigma, product, residual)  # fmt: skip
        for i in range(nb):
            first = start + i * L
            n, t = count[entry[1, first]], total[i]
            if not t >= PRODUCT_FLOOR or not np.isfinite(t):
                part, part_sigma = _pattern_in_logs(
                    eta, sigma, node, log_weight, entry, first, first + L, n, g_eta, scratch
                )
                lik += part
                g_sigma += part_sigma
                continue
            lik += n * np.log(t)
            scale = n / t
            for j in range(L):
                g_eta[entry[0, first + j]] += scale * acc[j * nb + i]
                g_sigma += scale * acc_sigma[j * nb + i]
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

    return unit_likelihood_op, source_salt(__name__)


def unit_likelihood(v, eta, sigma):
    """The units' log-likelihood and its gradients with respect to ``eta`` and
    ``sigma``, from the engine's inputs ``v`` (the kernel, as an Op)."""
    return UnitLikelihood()(eta, sigma, v["gh"], v["unit_entry"], v["unit_count"])

r"""The binomial cells' likelihood in one compiled pass, with elementary functions that
vectorise: a PyTensor Op.

Every gradient of a binomial formula fit needs, for each cell :math:`c` with
:math:`y_c` successes of :math:`n_c` trials and linear predictor :math:`\eta_c`,

.. math::

    \ell = \sum_c y_c\eta_c - n_c\bigl(\max(\eta_c, 0) + \log(1 + e^{-|\eta_c|})\bigr),
    \qquad \frac{\partial\ell}{\partial\eta_c} = y_c - n_c\operatorname{logit}^{-1}\eta_c,

with :math:`\operatorname{logit}^{-1}\eta = 1/(1 + e^{-|\eta|})` for :math:`\eta \ge 0`
and :math:`e^{-|\eta|}/(1 + e^{-|\eta|})` below (no overflow either side; the binomial
coefficient left out, as everywhere in the engine). Written as PyTensor operations the
pass calls the C library's ``exp`` and ``log1p`` once a cell each, one element at a time
(numba here has no vector math library): about 12 ns a cell, most of the gradient of a
model of a few thousand cells (the README's crossed closing years: 5,358 cells, 112 us a
gradient). Here both are arithmetic that the compiler vectorises:

* :func:`exp_nonpositive`, :math:`e^a` for :math:`a \le 0`: :math:`a = k\ln 2 + r`
  with :math:`|r| \le \ln 2/2` (Cody and Waite's two-part :math:`\ln 2`), :math:`e^r` by
  its Taylor polynomial of degree 13 (truncation below :math:`2\cdot10^{-17}`), times
  :math:`2^k` from a table; below :math:`a = -740` it returns :math:`e^{-740}` (the
  terms it enters are then below a double's resolution);
* :func:`log1p_unit`, :math:`\log(1 + s)` for :math:`0 \le s \le 1`:
  :math:`2\operatorname{artanh} u` with :math:`u = s/(2 + s) \le 1/3`, its odd series to
  :math:`u^{31}` (truncation below :math:`10^{-16}` relatively), exact in relative terms
  for the smallest :math:`s` too.

Both are within a few units in the last place of NumPy's functions
(``tests/inference/test_cell_kernel.py``), and the pass takes about 3 ns a cell. A NaN
linear predictor gives a NaN log-likelihood, as the PyTensor form does.
"""

from __future__ import annotations

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.graph import Apply, Op
from pytensor.link.numba.dispatch import basic as numba_basic
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from returnmodels.engine.kernel_key import source_salt

__all__ = [
    "EXP_FLOOR",
    "BinomialCells",
    "binomial_cells",
    "binomial_cells_kernel",
    "exp_nonpositive",
    "log1p_unit",
]

#: Arguments of :func:`exp_nonpositive` below this are taken as this.
EXP_FLOOR = -740.0
_LN2_HI = 6.93147180369123816490e-01  # ln 2 in two parts (fdlibm's): k ln2_hi is exact
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
#: Powers of two 2^k for k = -_TABLE_SHIFT .. 0, the scale of exp_nonpositive.
_TABLE_SHIFT = 1100
_POWERS_OF_TWO = np.ldexp(1.0, np.arange(-_TABLE_SHIFT, 1))
#: Flags of the elementwise pass: fused multiply-adds only; no reassociation, which
#: could reorder the polynomials.
_STRICT = {"contract"}


@numba.njit(cache=True, fastmath=_STRICT, error_model="numpy")
def exp_nonpositive(a):
    """:math:`e^a` for :math:`a \\le 0` (module docstring); NaN gives :math:`e^{-740}`,
    a positive argument 1 (the table holds no larger power of two)."""
    a = a if a > EXP_FLOOR else EXP_FLOOR
    a = a if a < 0.0 else 0.0
    k = np.floor(a * _INV_LN2 + 0.5)
    r = (a - k * _LN2_HI) - k * _LN2_LO
    p = 1.6059043836821613e-10  # 1/13!, then 1/12! ... 1/1!, 1/0!: Horner
    p = p * r + 2.08767569878681e-09
    p = p * r + 2.505210838544172e-08
    p = p * r + 2.755731922398589e-07
    p = p * r + 2.7557319223985893e-06
    p = p * r + 2.48015873015873e-05
    p = p * r + 1.984126984126984e-04
    p = p * r + 1.388888888888889e-03
    p = p * r + 8.333333333333333e-03
    p = p * r + 4.1666666666666664e-02
    p = p * r + 1.6666666666666666e-01
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _POWERS_OF_TWO[int(k) + _TABLE_SHIFT]


@numba.njit(cache=True, fastmath=_STRICT, error_model="numpy")
def log1p_unit(s):
    """:math:`\\log(1 + s)` for :math:`0 \\le s \\le 1` (module docstring)."""
    u = s / (2.0 + s)
    u2 = u * u
    q = 1.0 / 31.0  # the odd series of artanh: 1/31, 1/29, ... 1/3, 1
    q = q * u2 + 1.0 / 29.0
    q = q * u2 + 1.0 / 27.0
    q = q * u2 + 1.0 / 25.0
    q = q * u2 + 1.0 / 23.0
    q = q * u2 + 1.0 / 21.0
    q = q * u2 + 1.0 / 19.0
    q = q * u2 + 1.0 / 17.0
    q = q * u2 + 1.0 / 15.0
    q = q * u2 + 1.0 / 13.0
    q = q * u2 + 1.0 / 11.0
    q = q * u2 + 1.0 / 9.0
    q = q * u2 + 1.0 / 7.0
    q = q * u2 + 1.0 / 5.0
    q = q * u2 + 1.0 / 3.0
    q = q * u2 + 1.0
    return 2.0 * u * q


@numba.njit(cache=True, fastmath=_STRICT, error_model="numpy")
def _cell_terms(eta, y, n, term, g_eta):
    """Each cell's term of the log-likelihood and its gradient (a loop that vectorises)."""
    for c in range(eta.shape[0]):
        e = eta[c]
        small = exp_nonpositive(-abs(e))
        term[c] = y[c] * e - n[c] * (max(e, 0.0) + log1p_unit(small))
        g_eta[c] = y[c] - n[c] * (1.0 if e >= 0.0 else small) / (1.0 + small)


@numba.njit(cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")
def _total(term):
    """The sum of the terms (reassociated, so that it vectorises)."""
    total = 0.0
    for c in range(term.shape[0]):
        total += term[c]
    return total


@numba.njit(cache=True, error_model="numpy")
def binomial_cells_kernel(eta, y, n):
    """``(log-likelihood, d/d eta)`` of binomial cells (module docstring)."""
    term = np.empty(eta.shape[0])
    g_eta = np.empty(eta.shape[0])
    _cell_terms(eta, y, n, term, g_eta)
    return _total(term), g_eta


class BinomialCells(Op):
    """The kernel as a PyTensor Op of ``(eta, y, n)`` with two outputs: the
    log-likelihood and its gradient with respect to ``eta``. It has no gradient of its
    own: the engine's graph enters the likelihood's gradients by hand
    (``engine/graph.py``)."""

    __props__ = ()

    def make_node(self, eta, y, n):
        inputs = [pt.as_tensor_variable(x) for x in (eta, y, n)]
        return Apply(self, inputs, [pt.dscalar(), pt.dvector()])

    def perform(self, node, inputs, output_storage):
        eta, y, n = (np.asarray(x, float) for x in inputs)
        lik, g_eta = binomial_cells_kernel(eta, y, n)
        output_storage[0][0] = np.asarray(lik)
        output_storage[1][0] = g_eta


@register_funcify_default_op_cache_key(BinomialCells)
def _numba_binomial_cells(op, **kwargs):
    kernel = binomial_cells_kernel

    @numba_basic.numba_njit
    def binomial_cells_op(eta, y, n):
        # contiguous copies: the graph's views (a column of the counts) come typed as
        # strided arrays, on which the pass does not vectorise (4x slower)
        lik, g_eta = kernel(np.ascontiguousarray(eta), np.ascontiguousarray(y),
                            np.ascontiguousarray(n))  # fmt: skip
        return np.asarray(lik), g_eta

    return binomial_cells_op, source_salt(__name__)


def binomial_cells(eta, y, n):
    """The binomial cells' log-likelihood and its gradient with respect to ``eta`` (the
    kernel, as an Op)."""
    return BinomialCells()(eta, y, n)

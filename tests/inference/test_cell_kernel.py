"""The binomial cells' kernel (:mod:`returnmodels.engine.cell_kernel`): its exponential
and logarithm against NumPy's to a few units in the last place, and the likelihood and
gradient against the PyTensor form it replaced, at ordinary and extreme points."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from returnmodels.engine.cell_kernel import (
    EXP_FLOOR,
    binomial_cells,
    binomial_cells_kernel,
    exp_nonpositive,
    log1p_unit,
)

#: Two units in the last place of a double.
ULPS = 2 * np.finfo(float).eps


def _each(function, values):
    return np.array([function(float(v)) for v in values])


def _arguments_of_exp() -> np.ndarray:
    rng = np.random.default_rng(11)
    spread = -np.logspace(-320, np.log10(-EXP_FLOOR), 4000)
    near_halves = -(np.arange(1, 400) * np.log(2) / 2)  # the reduction's boundaries
    return np.concatenate([[0.0, -0.0, EXP_FLOOR], spread, near_halves, rng.uniform(-40, 0, 2000)])


def test_the_exponential_is_numpy_s_to_two_ulps_down_to_its_floor():
    a = _arguments_of_exp()
    expected = np.exp(a)
    normal = expected > np.finfo(float).tiny
    got = _each(exp_nonpositive, a)
    assert np.max(np.abs(got[normal] - expected[normal]) / expected[normal]) <= ULPS


def test_the_exponential_holds_its_floor_and_never_reads_outside_its_table():
    floor = np.exp(EXP_FLOOR)
    for a in (-745.0, -1e6, -np.inf, np.nan):
        assert exp_nonpositive(a) == pytest.approx(floor, rel=1e-12), a
    for a in (1e-300, 3.0, np.inf):  # outside its domain: the largest power it has
        assert exp_nonpositive(a) == 1.0


def test_log1p_is_numpy_s_to_two_ulps_on_the_unit_interval():
    rng = np.random.default_rng(12)
    s = np.concatenate(
        [[0.0, 5e-324, 1e-310, 1.0], np.logspace(-300, 0, 4000), rng.uniform(0, 1, 2000)]
    )
    got = _each(log1p_unit, s)
    expected = np.log1p(s)
    assert got[0] == 0.0
    normal = expected > np.finfo(float).tiny
    assert np.max(np.abs(got[normal] - expected[normal]) / expected[normal]) <= ULPS
    assert np.max(np.abs(got[~normal] - expected[~normal])) <= 5e-324  # subnormal s


def _reference(eta, y, n):
    """The PyTensor form the engine had before the kernel, in NumPy."""
    small = np.exp(-np.abs(eta))
    lik = np.sum(y * eta - n * (np.maximum(eta, 0.0) + np.log1p(small)))
    return lik, y - n * np.where(eta >= 0, 1.0, small) / (1.0 + small)


def _cells(seed: int, count: int):
    rng = np.random.default_rng(seed)
    extreme = [0.0, -0.0, 1e-300, -1e-300, 36.0, -36.0, 40.0, -40.0, 700.0, -700.0, 1e4, -1e4]
    eta = np.concatenate([extreme, rng.normal(-1.5, 3.0, count)])
    n = rng.integers(1, 200, len(eta)).astype(float)
    y = np.floor(n * rng.uniform(0, 1, len(eta)))
    y[:4], y[4:8] = 0.0, n[4:8]  # all failures and all successes among the extremes
    return eta, y, n


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_kernel_gives_the_pytensor_form_s_likelihood_and_gradient(seed):
    eta, y, n = _cells(seed, 5000)
    lik, gradient = binomial_cells_kernel(eta, y, n)
    expected_lik, expected_gradient = _reference(eta, y, n)
    assert lik == pytest.approx(expected_lik, rel=1e-13)
    assert np.allclose(gradient, expected_gradient, rtol=1e-13, atol=1e-12)


def test_a_nan_linear_predictor_gives_a_nan_likelihood():
    eta, y, n = _cells(4, 10)
    eta[7] = np.nan
    lik, _ = binomial_cells_kernel(eta, y, n)
    assert np.isnan(lik)


def test_the_op_in_a_compiled_graph_takes_strided_columns():
    """The engine hands the kernel views (a column of the counts): the compiled Op gives
    the kernel's values on them, as does the Op's Python implementation."""
    eta, y, n = _cells(5, 3000)
    eta_v, counts, trials = pt.dvector("eta"), pt.dmatrix("counts"), pt.dvector("trials")
    outputs = list(binomial_cells(eta_v, counts[:, 1], trials))
    counts_value = np.stack([n - y, y, n], axis=1)  # y as a strided column
    expected = binomial_cells_kernel(eta, y, n)
    for mode in ("NUMBA", "FAST_COMPILE"):
        function = pytensor.function([eta_v, counts, trials], outputs, mode=mode)
        lik, gradient = function(eta, counts_value, n)
        assert float(lik) == expected[0], mode
        assert np.array_equal(gradient, expected[1]), mode

"""The integrated person term's two forms (``engine/graph.py``): the product form that
a gradient runs (probabilities, one exponential a cell and one a node) and the log form
it falls back to where the product form cannot represent a likelihood. Both are the
same K = 30 Gauss-Hermite quadrature, so they agree to rounding wherever both run;
the log form, the engine's before the product form, is checked against lme4 and a
per-person reference in ``test_person_quadrature.py``.

Checked here on the bundled data's person patterns and on made-up ones: the two forms'
log-likelihoods and gradients across person SDs 0.05 to 3 and far out (the warm-up's
extreme linear predictors and SDs), that the product form runs where it should and
declines where it must, and that patterns too uneven to pad (one person with many
cases) fall back and stay right."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.special import log_expit, logsumexp, roots_hermite

from conftest import BUNDLED
from returnmodels.data.validation import load_cases
from returnmodels.engine.design import build_formula_design
from returnmodels.engine.graph import (
    PRODUCT_PADDING,
    _unit_likelihood,
    _unit_logs,
    _unit_products,
)
from returnmodels.engine.inputs import _unit_inputs, engine_inputs
from returnmodels.engine.integrated import IntegratedTerm, unit_patterns
from returnmodels.engine.unit_kernel import BLOCK, PRODUCT_FLOOR, unit_likelihood_kernel

pytestmark = pytest.mark.sampling  # compiles the three forms (seconds)

UNIT_INPUTS = ("gh", "unit_entry", "unit_count")
STUDY = "assisted ~ n_procedures + cooperation + (1 | nationality) + (1 | person_id)"


@pytest.fixture(scope="module")
def forms():
    """The combined, log and product forms as one compiled function of (eta, sigma,
    gh, unit_entry, unit_count)."""
    v = {
        name: pt.tensor(name, dtype=dtype, shape=(None,) * ndim)
        for name, dtype, ndim in (("gh", "float64", 2), ("unit_entry", "int64", 2),
                                  ("unit_count", "float64", 1))
    }  # fmt: skip
    eta, sigma = pt.dvector("eta"), pt.dscalar("sigma")
    outputs = [*_unit_likelihood(v, eta, sigma), *_unit_logs(v, eta, sigma)]
    outputs += list(_unit_products(v, eta, sigma))
    function = pytensor.function(
        [eta, sigma, *(v[name] for name in UNIT_INPUTS)], outputs, mode="NUMBA"
    )

    def run(arrays, eta_value, sigma_value):
        out = function(eta_value, sigma_value, *(arrays[name] for name in UNIT_INPUTS))
        return {"combined": out[0:3], "logs": out[3:6], "products": out[6:9], "floor": out[9]}

    return run


@pytest.fixture(scope="module")
def bundled():
    """The bundled data's study model with persons: its unit arrays and cell count."""
    cases = load_cases(BUNDLED)
    design = build_formula_design(cases, STUDY)
    arrays, _ = engine_inputs(design)
    return arrays, design.n_cells


def _close(a, b, rtol: float = 1e-12) -> None:
    """Log-likelihood, gradient in eta and in sigma agree to ``rtol`` (relative to the
    largest gradient where a gradient is near 0)."""
    assert abs(a[0] - b[0]) <= rtol * abs(b[0]), (a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], rtol=0, atol=rtol * max(1.0, np.abs(b[1]).max()))
    assert abs(a[2] - b[2]) <= rtol * max(1.0, abs(b[2]), np.abs(b[1]).max()), (a[2], b[2])


@pytest.mark.parametrize("sigma", [0.05, 0.3, 1.0, 2.0, 3.0])
def test_the_product_form_runs_and_equals_the_log_form_across_person_sds(forms, bundled, sigma):
    arrays, n_cells = bundled
    eta = np.random.default_rng(1).normal(-1.5, 1.0, n_cells)
    out = forms(arrays, eta, sigma)
    assert out["floor"] >= PRODUCT_FLOOR  # the product form is the one that counted
    _close(out["products"], out["logs"])
    _close(out["combined"], out["logs"])


@pytest.mark.parametrize(
    "shift, spread, sigma",
    [
        (-690.0, 3.0, 1.0),  # the table would leave e^-700: the log form
        (650.0, 10.0, 0.5),
        (-2000.0, 1.0, 0.3),
        (0.0, 400.0, 1.0),
        (-1.5, 1.0, 80.0),  # sigma max|node| past 700
        (-40.0, 5.0, 3.0),  # within range, products far below 1
        (30.0, 5.0, 10.0),
    ],
)
def test_extreme_points_stay_finite_and_equal_the_log_form(forms, bundled, shift, spread, sigma):
    arrays, n_cells = bundled
    eta = np.random.default_rng(2).normal(shift, spread, n_cells)
    out = forms(arrays, eta, sigma)
    assert np.isfinite(out["combined"][0]) and np.all(np.isfinite(out["combined"][1]))
    assert np.isfinite(out["combined"][2])
    _close(out["combined"], out["logs"])


def test_a_pattern_below_the_floor_falls_back_to_the_log_form(forms):
    """Two cells at -400 (in range), one person with a success in each: the pattern's
    likelihood, about e^-800, underflows in the product form, whose floor says so; the
    combined form takes the log form's finite value."""
    entry_cell, entry_y, entry_pattern, count = unit_patterns(
        np.array([0, 1, 0, 2]), np.array([1, 1, 0, 1]), np.array(["a", "a", "b", "c"])
    )
    arrays = _unit_arrays(entry_cell, entry_y, entry_pattern, count)
    eta = np.array([-400.0, -400.0, 0.5])
    out = forms(arrays, eta, 0.05)
    assert out["floor"] < PRODUCT_FLOOR
    assert not np.isfinite(out["products"][0])  # log 0: the reason for the fallback
    assert np.isfinite(out["combined"][0]) and out["combined"][0] < -790
    _close(out["combined"], out["logs"])
    assert abs(out["combined"][0] - _reference(entry_cell, entry_y, entry_pattern, count,
                                               eta, 0.05)) < 1e-9 * 800  # fmt: skip


def test_uneven_patterns_fall_back_and_stay_right(forms):
    """300 persons of two cases, 100 of one and one of 2,000 cases: padding the
    patterns of several cases to the longest would be about 600,000 rows, more than
    PRODUCT_PADDING times their entries, so the log form runs; it matches a reference
    written here."""
    rng = np.random.default_rng(3)
    n_cells = 6
    unit = np.concatenate([np.repeat(np.arange(300), 2), np.arange(300, 400), np.full(2000, -1)])
    cell, y = rng.integers(0, n_cells, unit.size), rng.integers(0, 2, unit.size)
    entry_cell, entry_y, entry_pattern, count = unit_patterns(cell, y, unit)
    arrays = _unit_arrays(entry_cell, entry_y, entry_pattern, count)
    several = np.bincount(entry_pattern) > 1
    longest = int(arrays["unit_entry"][3].max()) + 1
    padded = several.sum() * longest
    assert longest == 2000 and padded > PRODUCT_PADDING * (entry_cell.size - (~several).sum())
    eta = rng.normal(-0.5, 0.5, n_cells)
    out = forms(arrays, eta, 0.8)
    _close(out["combined"], out["logs"])
    reference = _reference(entry_cell, entry_y, entry_pattern, count, eta, 0.8)
    assert abs(out["combined"][0] - reference) <= 1e-10 * abs(reference)


def test_the_engine_arrays_put_single_case_patterns_first_and_keep_every_pattern():
    """``_unit_inputs`` renumbers the patterns, one-case patterns first (the product
    form counts those per row of its table and slices the rest off by number), with each
    pattern's entries consecutive and numbered by position; every pattern keeps its
    cases and its count of units."""
    entry_cell = np.array([0, 1, 2, 3, 3, 1, 0])
    entry_y = np.array([1, 0, 1, 0, 1, 1, 0])
    entry_pattern = np.array([0, 0, 1, 2, 2, 3, 0])  # out of order; patterns 1 and 3 single
    count = np.array([5.0, 2.0, 7.0, 1.0])
    arrays = _unit_arrays(entry_cell, entry_y, entry_pattern, count)
    cell, pattern, sign, position = arrays["unit_entry"]
    assert pattern.tolist() == [0, 1, 2, 2, 2, 3, 3]
    assert position.tolist() == [0, 0, 0, 1, 2, 0, 1]
    assert arrays["unit_count"].tolist() == [2.0, 1.0, 5.0, 7.0]

    def patterns(cells, outcomes, numbers, counts):
        return sorted(
            (tuple(sorted(zip(cells[numbers == k], outcomes[numbers == k], strict=True))), n)
            for k, n in enumerate(counts)
        )

    before = patterns(entry_cell, 2 * entry_y - 1, entry_pattern, count)
    assert patterns(cell, sign, pattern, arrays["unit_count"]) == before


def test_the_product_gradient_matches_finite_differences(forms):
    """The product form's hand-written gradient, on made-up patterns of one to three
    cases, against central differences of its own log-likelihood."""
    rng = np.random.default_rng(4)
    n_cells = 5
    cell, y = rng.integers(0, n_cells, 400), rng.integers(0, 2, 400)
    unit = rng.integers(0, 180, 400)
    arrays = _unit_arrays(*unit_patterns(cell, y, unit))
    eta, sigma, step = rng.normal(-0.3, 0.8, n_cells), 1.3, 1e-6
    at = forms(arrays, eta, sigma)
    _, g_eta, g_sigma = at["products"]
    assert at["floor"] >= PRODUCT_FLOOR
    for c in range(n_cells):
        up, down = eta.copy(), eta.copy()
        up[c] += step
        down[c] -= step
        change = forms(arrays, up, sigma)["products"][0] - forms(arrays, down, sigma)["products"][0]
        assert abs(change / (2 * step) - g_eta[c]) <= 1e-6 * max(1.0, abs(g_eta[c]))
    change = (
        forms(arrays, eta, sigma + step)["products"][0]
        - forms(arrays, eta, sigma - step)["products"][0]
    )
    assert abs(change / (2 * step) - g_sigma) <= 1e-6 * max(1.0, abs(g_sigma))


def test_the_kernel_takes_patterns_in_any_order_of_lengths_and_blocks():
    """The kernel's blocks (consecutive patterns of one length, up to BLOCK entries, or
    one longer pattern alone) on patterns whose lengths alternate at random, more of
    each length than a block holds, and two patterns longer than a block: the
    log-likelihood equals the SciPy reference and the gradients its central differences."""
    rng = np.random.default_rng(7)
    n_cells = 40
    lengths = np.concatenate([rng.integers(1, 6, 1500), [BLOCK + 37, 3 * BLOCK]])
    rng.shuffle(lengths)
    pattern = np.repeat(np.arange(lengths.size), lengths)
    position = np.arange(pattern.size) - np.searchsorted(pattern, pattern)
    cell, y = rng.integers(0, n_cells, pattern.size), rng.integers(0, 2, pattern.size)
    count = rng.integers(1, 4, lengths.size).astype(float)
    assert any(lengths[1:] != lengths[:-1]) and (lengths == 1).sum() > BLOCK
    x, w = roots_hermite(30)
    gh = np.stack([np.sqrt(2.0) * x, np.log(w) - 0.5 * np.log(np.pi), w / np.sqrt(np.pi)])
    entry = np.stack([cell, pattern, 2 * y - 1, position]).astype(np.int64)
    eta, sigma, step = rng.normal(-0.8, 0.7, n_cells), 1.1, 1e-5

    def reference(eta_value, sigma_value):
        return _reference(cell, y, pattern, count, eta_value, sigma_value)

    lik, g_eta, g_sigma = unit_likelihood_kernel(eta, sigma, gh, entry, count)
    assert abs(lik - reference(eta, sigma)) <= 1e-12 * abs(lik)
    for c in rng.choice(n_cells, 8, replace=False):
        up, down = eta.copy(), eta.copy()
        up[c] += step
        down[c] -= step
        numeric = (reference(up, sigma) - reference(down, sigma)) / (2 * step)
        assert abs(numeric - g_eta[c]) <= 1e-5 * max(1.0, abs(g_eta[c]))
    numeric = (reference(eta, sigma + step) - reference(eta, sigma - step)) / (2 * step)
    assert abs(numeric - g_sigma) <= 1e-5 * max(1.0, abs(g_sigma))


def _unit_arrays(entry_cell, entry_y, entry_pattern, count) -> dict[str, np.ndarray]:
    """The engine's unit arrays (``engine/inputs.py``'s layout) of made-up patterns."""
    term = IntegratedTerm("unit", "test", int(count.sum()), entry_cell, entry_y,
                          entry_pattern, count)  # fmt: skip
    return _unit_inputs(term, 1)


def _reference(entry_cell, entry_y, entry_pattern, count, eta, sigma, nodes: int = 30):
    """The patterns' log-likelihood by SciPy, entry by entry in log space."""
    x, w = roots_hermite(nodes)
    sign = 2.0 * entry_y - 1.0
    per_entry = log_expit(sign[:, None] * (eta[entry_cell][:, None] + np.sqrt(2) * sigma * x))
    per_pattern = np.zeros((count.size, nodes))
    np.add.at(per_pattern, entry_pattern, per_entry)
    return float(count @ logsumexp(per_pattern + np.log(w / np.sqrt(np.pi)), axis=1))

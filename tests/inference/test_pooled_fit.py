"""The pooled fit behind the centring policy (:func:`pooled_probabilities`: the common
terms alone at their posterior mode under N(0, 2.5) priors, by Newton's method) is the
mode SciPy finds on the log posterior written out with its distributions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats
from scipy.special import softmax

import returnmodels as rm
from returnmodels.engine.design import build_formula_design, competing_stage
from returnmodels.engine.policy import pooled_probabilities


def _mode_by_scipy(design) -> np.ndarray:
    """(C, M + 1) the cells' probabilities at the mode BFGS finds on the multinomial (or
    binomial) log-likelihood of the cells plus N(0, 2.5) log priors."""
    X, Y, n = design.X, design.linear_counts(), design.trials
    M, P = Y.shape[1], X.shape[1]
    counts = np.column_stack([n - Y.sum(axis=1), Y])

    def probabilities(flat):
        eta = np.column_stack([np.zeros(len(n)), X @ flat.reshape(M, P).T])
        return softmax(eta, axis=1)

    def negative(flat):
        likelihood = stats.multinomial.logpmf(counts, n, probabilities(flat)).sum()
        return -(likelihood + stats.norm.logpdf(flat, 0.0, 2.5).sum())

    found = optimize.minimize(negative, np.zeros(M * P), method="BFGS", options={"gtol": 1e-8})
    return probabilities(found.x)


@pytest.mark.parametrize(
    ("formula", "stage"),
    [
        ("assisted ~ C(n_procedures) + gender + (1 | nationality)", 0),  # rare levels
        ("outcome ~ n_procedures + gender + (1 | nationality)", 1),  # five categories
    ],
)
def test_the_pooled_fit_is_the_posterior_mode(formula, stage):
    cases = rm.simulate_cases(n_cases=2000, random_seed=3).cases
    design = build_formula_design(cases, formula)
    if stage:
        design = competing_stage(design)
    found = pooled_probabilities(design)
    assert found.shape == (design.n_cells, design.n_linear + 1)
    np.testing.assert_allclose(found.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(found, _mode_by_scipy(design), atol=2e-5)

"""Tiny fits of formulas with calls, end to end: sampled, rebuilt from the result alone,
and their margins computed on new values from the raw columns and the stored centres."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import returnmodels as rm
from conftest import CHAINS, DRAWS, SEED, TUNE
from returnmodels.engine.design import FormulaDesign

pytestmark = pytest.mark.sampling


def _fit(cases, formula):
    return rm.fit(
        cases, formula=formula, draws=DRAWS, tune=TUNE, chains=CHAINS, random_seed=SEED,
        progressbar=False,
    )  # fmt: skip


def _draws(result, name) -> np.ndarray:
    return result["posterior"][name].stack(sample=("chain", "draw")).values


def test_treatment_reference_fits_and_gives_margins(small_cases):
    """C(x, Treatment("high")), as the README writes it: sampled (its dim has no comma
    for nutpie to split), its levels the two that are not the reference, and margins for
    all three levels."""
    formula = 'assisted ~ n_procedures + C(cooperation, Treatment("high")) + (1 | nationality)'
    result = _fit(small_cases, formula)
    name = 'C(cooperation, Treatment("high"))'
    coefficient = result["posterior"][name]
    (dim,) = [d for d in coefficient.dims if d not in ("chain", "draw")]
    assert list(coefficient[dim].values) == ["low", "medium"]
    margins = rm.margins(result, {"cooperation": ["low", "medium", "high"]})
    assert list(margins["value"]) == ["low", "medium", "high"]
    assert margins["mean"].between(0, 1).all()
    # the reference is where the coefficient is zero: high differs from low by it
    design = FormulaDesign.from_result(result)
    X, _ = design.encode(small_cases.head(3).assign(cooperation="high"))
    labels = design.column_labels()
    assert not X[:, [labels.index(f"{name}[low]"), labels.index(f"{name}[medium]")]].any()


def test_transform_margins_use_the_raw_column_and_the_stored_centres(small_cases):
    """I(n_procedures >= 3) and log(case_days): the margins at n_procedures = v are the
    case-weighted average of expit(a + b1 ((v >= 3) - m1) + b2 (log(days) - m2)) with
    m1, m2 the case means of the raw transforms, computed here by hand from the cases."""
    formula = "assisted ~ I(n_procedures >= 3) + log(case_days)"
    result = _fit(small_cases, formula)
    margins = rm.margins(result, {"n_procedures": [1, 2, 3, 6]}).set_index("value")
    a = _draws(result, "Intercept")
    b1 = _draws(result, "I(n_procedures >= 3)")
    b2 = _draws(result, "log(case_days)")
    m1 = float(np.mean(small_cases["n_procedures"] >= 3))
    logged = np.log(small_cases["case_days"].to_numpy(float))
    m2 = float(np.mean(logged))
    for v in (1, 2, 3, 6):
        eta = a[:, None] + b1[:, None] * (float(v >= 3) - m1) + b2[:, None] * (logged - m2)
        # margins are computed in single precision: within 1e-6 of a share (never more)
        assert margins.loc[str(v), "mean"] == pytest.approx(expit(eta).mean(), abs=1e-6)
    # a step: the same share on either side of 3
    assert margins.loc["1", "mean"] == margins.loc["2", "mean"]
    assert margins.loc["3", "mean"] == margins.loc["6", "mean"]
    # new rows, from the result alone
    design = FormulaDesign.from_result(result)
    new = pd.DataFrame({"n_procedures": [1, 4], "case_days": [5, 400]})
    X, _ = design.encode(new)
    assert np.allclose(X[:, 1], [0 - m1, 1 - m1])
    assert np.allclose(X[:, 2], np.log([5.0, 400.0]) - m2)


def test_poly_fits_end_to_end(small_cases):
    result = _fit(small_cases, "assisted ~ poly(n_procedures, 2) + (1 | nationality)")
    coefficient = result["posterior"]["poly(n_procedures, 2)"]
    assert coefficient.sizes["poly(n_procedures; 2)_level"] == 2
    margins = rm.margins(result, {"n_procedures": [1, 2, 3]})
    assert margins["mean"].between(0, 1).all()
    assert margins["mean"].is_monotonic_decreasing  # fewer returns with more procedures

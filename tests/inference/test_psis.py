"""PSIS-LOO of every cell at once (the ``loo`` group a saved fit keeps) gives ArviZ's
numbers, which ``az.loo`` computes one cell at a time."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from returnmodels.inference.loo import fast_loo, loo_group, pointwise_loo
from returnmodels.inference.psis import psis_log_weights, tail_length


def _fit_like(dtype, *, cells: int = 60, chains: int = 3, draws: int = 400, seed: int = 1):
    """A tree with a posterior and a log-likelihood (chain, draw, cell) whose cells range
    from well behaved to heavy-tailed (Pareto k above 0.7), a few draws repeated as a
    sampler repeats a state."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(chains, draws))
    spread = np.linspace(0.05, 4.0, cells)
    log_likelihood = -0.5 * (theta[..., None] * spread) ** 2 - rng.gamma(2.0, 0.3, cells)
    log_likelihood[:, 10:13] = log_likelihood[:, 9:10]  # repeated draws: ties
    tree = xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset(
                {"theta": (("chain", "draw"), theta), "tau": (("chain", "draw"), theta**2)}
            ),
            "log_likelihood": xr.Dataset(
                {"y": (("chain", "draw", "cell"), log_likelihood.astype(dtype))},
                coords={"cell": np.arange(cells)},
            ),
        }
    )
    tree.attrs["returnmodels_model"] = "test"
    return tree


@pytest.mark.parametrize(("dtype", "tolerance"), [("float64", 1e-10), ("float32", 1e-5)])
def test_fast_loo_gives_arviz_numbers(dtype, tolerance):
    tree = _fit_like(dtype)
    expected, found = pointwise_loo(tree), fast_loo(tree)
    assert bool(np.any(expected.pareto_k > 0.7)) and expected.warning  # heavy tails present
    np.testing.assert_allclose(found.pareto_k, expected.pareto_k, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(found.elpd_i, expected.elpd_i, rtol=tolerance, atol=tolerance)
    for key in ("elpd", "se", "p"):
        assert getattr(found, key) == pytest.approx(getattr(expected, key), rel=tolerance)
    for key in ("n_samples", "n_data_points", "scale", "warning", "good_k"):
        assert getattr(found, key) == getattr(expected, key), key
    group = loo_group(tree)
    np.testing.assert_array_equal(group["pareto_k"].values, found.pareto_k.values)
    assert group.attrs["observed"] == "y"


def test_smoothing_changes_only_the_tail_and_the_weights_are_normalised():
    """Each cell's weights sum to one; below the tail (the largest ratios, as many as
    :func:`tail_length` says) every draw keeps its raw ratio up to the one normalising
    constant; a cell with a finite k has its tail changed."""
    tree = _fit_like("float64", cells=5)
    values = tree["log_likelihood"]["y"].transpose("cell", "chain", "draw").values.reshape(5, -1)
    log_weights, khat = psis_log_weights(values, r_eff=1.0)
    np.testing.assert_allclose(np.exp(log_weights).sum(axis=1), 1.0, rtol=1e-12)
    n_tail = tail_length(values.shape[1], 1.0)
    for cell in range(5):
        ranks = np.argsort(-values[cell])  # largest ratio (-log-likelihood) last
        body, tail = ranks[:-n_tail], ranks[-n_tail:]
        shift = log_weights[cell, body] - (-values[cell, body])
        np.testing.assert_allclose(shift, shift[0], atol=1e-9)
        if np.isfinite(khat[cell]):
            assert not np.allclose(log_weights[cell, tail] - (-values[cell, tail]), shift[0])


def test_a_constant_tail_is_refused_as_arviz_refuses_it():
    values = np.zeros((2, 400))
    with pytest.raises(ValueError, match="tail values are the same"):
        psis_log_weights(values, r_eff=1.0)

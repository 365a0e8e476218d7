"""The pointwise log-likelihood a fit keeps (:func:`formula_log_likelihood`, in NumPy, a
cache-sized chunk of draws at a time) is the binomial's or the multinomial's at every
cell and draw, whatever the chunk: checked against SciPy's distributions at posterior
draws made up for the design, cell by cell, without sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats
from scipy.special import softmax

import returnmodels as rm
from returnmodels.engine.design import build_formula_design
from returnmodels.engine.log_likelihood import formula_log_likelihood
from returnmodels.inference.fit import engine_stages


def _made_up_posterior(design, chains: int = 3, draws: int = 7, seed: int = 4) -> xr.Dataset:
    """Draws for every parameter the log-likelihood reads, N(0, 0.8) each (the
    multinomial stage's with their leading outcome dim)."""
    rng = np.random.default_rng(seed)
    lead = (design.lead,) if design.lead else ()
    M = design.n_linear

    def variable(name, width, dim):
        shape, dims = (chains, draws, *([M] if lead else []), width), ("chain", "draw", *lead, dim)
        return name, (dims, rng.normal(0.0, 0.8, size=shape))

    parts = [
        variable(design.prefix + t.name, len(t.labels), f"{t.name}_dim") for t in design.common
    ]
    for block in design.blocks:
        for r in range(block.width):
            name = f"{design.prefix}{block.column_name(r)}_effect"
            parts.append(variable(name, len(block.levels), block.factor))
    return xr.Dataset(dict(parts))


def _linear_predictor(design, posterior, chain, draw) -> np.ndarray:
    """(C, M) each cell's linear predictors at one draw, cell by cell and term by term."""
    point = posterior.isel(chain=chain, draw=draw)
    M = design.n_linear
    beta = np.concatenate(
        [point[design.prefix + t.name].values.reshape(M, -1) for t in design.common], axis=1
    )
    eta = np.zeros((design.n_cells, M))
    for c in range(design.n_cells):
        eta[c] = beta @ design.X[c]
        for block in design.blocks:
            for r in range(block.width):
                effect = point[f"{design.prefix}{block.column_name(r)}_effect"].values
                effect = effect.reshape(M, -1)[:, block.index[c]]
                eta[c] += effect * block.values[c, r]
    return eta


@pytest.fixture(scope="module")
def crossed_rows() -> pd.DataFrame:
    """Binary rows with a numeric slope varying by one factor, crossed with another."""
    rng = np.random.default_rng(11)
    n = 400
    return pd.DataFrame(
        {
            "y": rng.binomial(1, 0.4, n),
            "x": rng.normal(size=n).round(1),
            "g": rng.choice([f"g{i}" for i in range(6)], n),
            "h": rng.choice([f"h{i}" for i in range(4)], n),
        }
    )


@pytest.mark.parametrize("chunk", [None, 1, 3, 100])
def test_binomial_log_likelihood_is_scipys_at_every_cell_and_draw(crossed_rows, chunk):
    design = build_formula_design(crossed_rows, "y ~ x + (1 + x | g) + (1 | h)")
    assert (design.blocks[0].values[:, 1] != 1.0).any()  # a slope: values other than 1
    posterior = _made_up_posterior(design)
    found = formula_log_likelihood(posterior, design, chunk=chunk)["y"]
    assert found.dims == ("chain", "draw", "cell") and found.dtype == np.float32
    for chain in range(3):
        for draw in range(7):
            eta = _linear_predictor(design, posterior, chain, draw)[:, 0]
            expected = stats.binom.logpmf(
                design.successes, design.trials, 1.0 / (1.0 + np.exp(-eta))
            )
            got = found.isel(chain=chain, draw=draw).values
            np.testing.assert_allclose(got, expected, rtol=2e-6, atol=2e-6)


def test_multinomial_log_likelihood_is_scipys_at_every_cell_and_draw():
    cases = rm.simulate_cases(n_cases=1500, random_seed=2).cases
    stage = engine_stages(build_formula_design(cases, "outcome ~ n_procedures + (1 | region)"))[1]
    assert stage.n_linear > 1
    posterior = _made_up_posterior(stage, chains=2, draws=3)
    found = formula_log_likelihood(posterior, stage, chunk=2)[stage.response]
    counts = stage.linear_counts()
    reference = stage.trials - counts.sum(axis=1)
    for chain in range(2):
        for draw in range(3):
            eta = _linear_predictor(stage, posterior, chain, draw)
            probabilities = softmax(np.column_stack([np.zeros(stage.n_cells), eta]), axis=1)
            expected = [
                stats.multinomial.logpmf(np.r_[reference[c], counts[c]], stage.trials[c], p)
                for c, p in enumerate(probabilities)
            ]
            got = found.isel(chain=chain, draw=draw).values
            np.testing.assert_allclose(got, expected, rtol=2e-6, atol=2e-5)

"""The PyMC model of a term table is the engine's model: the same names and dims, and the
same log density on the model's parameters.

The engine samples theta = (beta, log sigma, atanh w, z) with some levels centred; the
PyMC model samples (beta, sigma, L, z) non-centred throughout. Both are densities of one
posterior when the engine's density at theta equals the PyMC model's at the point theta
maps to, plus log |det| of that map's Jacobian (up to a constant: each leaves out
normalising constants of its own). The map goes through the engine's own expansion
(beta, sigma, the correlations, the effects u), then L = chol(Omega) and
z_j = (diag(sigma) L)^{-1} u_j; its Jacobian is taken by finite differences.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from pymc.model.transform.conditioning import remove_value_transforms

import returnmodels as rm
from returnmodels.engine.callbacks import compiled_engine, log_density
from returnmodels.engine.design import build_formula_design, competing_stage
from returnmodels.engine.inputs import INPUTS, engine_inputs, reflected
from returnmodels.models.pymc_model import correlation_pairs, engine_names, pymc_model

PRIORS = {
    "coefficients": {"dist": "StudentT", "nu": 4.0, "mu": 0.1, "sigma": 1.5},
    "nationality_sigma": {"dist": "Exponential", "lam": 2.0},
    "closing_year_sigma": {"dist": "HalfStudentT", "nu": 3.0, "sigma": 0.7},
    "corr": {"dist": "LKJ", "eta": 3.0},
}


@pytest.fixture(scope="module")
def cases():
    """Simulated cases of the 12 largest nationalities (a Jacobian of a few hundred
    dimensions)."""
    cases = rm.simulate_cases(n_cases=1500, random_seed=2).cases
    largest = cases["nationality"].value_counts().index[:12]
    return cases[cases["nationality"].isin(largest)]


@pytest.fixture(scope="module")
def crossed(cases):
    """A correlated block crossed with an intercept block, priors of every kind."""
    formula = (
        "assisted ~ n_procedures + cooperation + (1 + n_procedures | nationality)"
        " + (1 | closing_year)"
    )
    return build_formula_design(cases, formula, priors=PRIORS)


@pytest.fixture(scope="module")
def multinomial(cases):
    """Stage 2 of the competing outcomes: four linear predictors, a correlated block."""
    design = build_formula_design(
        cases, "outcome ~ n_procedures + (1 + n_procedures + family | nationality)"
    )
    return competing_stage(design)


def _expansion(design):
    """The engine's named parameters at theta, as a function of theta (its own
    expansion)."""
    arrays, layout = engine_inputs(design)
    family = "binomial" if design.lead is None else "multinomial"
    general = compiled_engine(family, general=True, reflected=reflected(arrays))
    inputs = [arrays[n] for n, _, _ in INPUTS]

    def expanded(theta: np.ndarray) -> dict[str, np.ndarray]:
        (values,) = general.expand_fn(theta, *inputs)
        return {
            name: np.asarray(values[at]).reshape(shape)
            for name, at, shape in zip(layout.names, layout.slices, layout.shapes, strict=True)
        }

    return expanded


def _pymc_point(design, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The PyMC model's free variables at the engine's parameters ``values``."""
    p, M = design.prefix, design.n_linear
    point = {p + t.name: values[p + t.name] for t in design.common}
    for block in design.blocks:
        m, J = block.width, len(block.levels)
        names = [block.column_name(r) for r in range(m)]
        sigma = np.stack([values[f"{p}{n}_sigma"].reshape(M) for n in names], axis=-1)
        u = np.stack([values[f"{p}{n}_effect"].reshape(M, J) for n in names], axis=-1)
        L = np.ones((M, 1, 1))
        if block.correlated:
            omega = np.tile(np.eye(m), (M, 1, 1))
            corr = values[f"{p}{block.factor}_corr"].reshape(M, -1)
            for k, (r, c) in enumerate(correlation_pairs(block)):
                omega[:, r, c] = omega[:, c, r] = corr[:, k]
            L = np.linalg.cholesky(omega)
            point[f"{p}{block.factor}_corr_cholesky"] = L if design.lead else L[0]
        scale = sigma[:, :, None] * L  # diag(sigma) L, (M, m, m)
        z = np.linalg.solve(scale[:, None], u[..., None])[..., 0]  # (M, J, m)
        for r, n in enumerate(names):
            point[f"{p}{n}_offset"] = z[..., r] if design.lead else z[0, :, r]
        for n, s in zip(names, sigma.T, strict=True):
            point[f"{p}{n}_sigma"] = s if design.lead else s[0]
    return point


def _coordinates(design, point: dict[str, np.ndarray]) -> np.ndarray:
    """The free values as one vector, a Cholesky factor by its entries below the
    diagonal (the others follow from them)."""
    parts = []
    for name in sorted(point):
        value = np.asarray(point[name], dtype=float)
        if value.ndim >= 2 and value.shape[-1] == value.shape[-2] and "_corr_cholesky" in name:
            m = value.shape[-1]
            rows, columns = np.tril_indices(m, -1)
            value = value[..., rows, columns]
        parts.append(value.ravel())
    return np.concatenate(parts)


@pytest.mark.parametrize("which", ["crossed", "multinomial"])
def test_the_pymc_model_has_the_engine_names_and_dims(which, request):
    design = request.getfixturevalue(which)
    model = pymc_model(design)
    _, layout = engine_inputs(design)
    assert engine_names(design) == layout.names
    for name, shape in zip(layout.names, layout.shapes, strict=True):
        assert tuple(model.named_vars_to_dims.get(name, ())) == layout.dims.get(name, ()), name
        for dim in layout.dims.get(name, ()):
            assert list(model.coords[dim]) == list(layout.coords[dim]), dim
        assert tuple(model[name].shape.eval()) == shape, name


@pytest.mark.parametrize("which", ["crossed", "multinomial"])
def test_the_pymc_model_has_the_engine_density(which, request):
    design = request.getfixturevalue(which)
    arrays, layout = engine_inputs(design)
    assert (arrays["noncentred"] == 0).any()  # the engine's centred levels are checked too
    model = remove_value_transforms(pymc_model(design))
    pymc_logp = model.compile_logp(jacobian=False)

    expanded = _expansion(design)

    def point(theta):  # by the names of the value variables
        values = _pymc_point(design, expanded(theta))
        return {model.rvs_to_values[model[k]].name: v for k, v in values.items()}

    def pymc_side(theta):
        h, eye = 1e-6, np.eye(len(theta))
        columns = [
            (
                _coordinates(design, point(theta + h * e))
                - _coordinates(design, point(theta - h * e))
            )
            / (2 * h)
            for e in eye
        ]
        jacobian = np.column_stack(columns)
        assert jacobian.shape == (layout.n_dim, layout.n_dim)
        return float(pymc_logp(point(theta))) + np.linalg.slogdet(jacobian)[1]

    rng = np.random.default_rng(4)
    gaps = []
    for theta in rng.normal(0.0, 0.5, (3, layout.n_dim)):
        gaps.append(log_density(design, theta)[0] - pymc_side(theta))
    # each leaves out constants of its own: the gap is one constant
    assert np.ptp(gaps) < 1e-5, gaps
    # and a density that is not the engine's is told apart: another LKJ eta
    changed = dict(design.priors) | {
        f"{design.prefix}nationality_corr": {"dist": "LKJ", "eta": 1.0}
    }
    other = remove_value_transforms(pymc_model(replace(design, priors=changed)))
    other_logp = other.compile_logp(jacobian=False)
    shifts = [
        float(other_logp(point(t))) - float(pymc_logp(point(t)))
        for t in rng.normal(0.0, 0.5, (2, layout.n_dim))
    ]
    assert abs(shifts[0] - shifts[1]) > 1e-3

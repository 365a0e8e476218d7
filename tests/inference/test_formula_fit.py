"""The formula engine: its log density against the maths written out, no compile for a
new formula, and agreement with lme4 on classic grouped binomial data."""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats
from scipy.special import expit

from returnmodels.disclosure import DisclosureRules
from returnmodels.disclosure.posterior import released_posterior
from returnmodels.engine.callbacks import compile_formula_model, compiled_engine, log_density
from returnmodels.engine.design import build_formula_design
from returnmodels.engine.inputs import (
    INPUTS,
    crossed_ridge,
    engine_inputs,
    needs_general,
    reflected,
)
from returnmodels.engine.policy import centred, mean_ridge, nesting_parent
from returnmodels.inference.diagnostics import check_convergence, verdict_advice
from returnmodels.inference.fit import LOW_RANK_MAX_DIM, auto_adaptation, fit
from returnmodels.inference.results import load_result, save_result

CBPP = pd.read_csv(__import__("pathlib").Path(__file__).parents[1] / "fixtures" / "cbpp.csv")


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 600
    frame = pd.DataFrame(
        {
            "x": rng.normal(0.5, 1.0, n),
            "c": rng.choice(["a", "b", "c"], n),
            "tiny": [f"t{i % 60}" for i in range(n)],  # 10 cases a level: non-centred
            "year": rng.integers(2018, 2021, n),  # 200 cases a year: centred
        }
    )
    eta = -0.3 + 0.8 * frame["x"] + (frame["c"] == "c") * 0.5
    eta += frame["year"].map({2018: -0.8, 2019: 0.0, 2020: 0.8})  # years that differ
    frame["y"] = rng.binomial(1, expit(eta))
    return frame


def _cholesky(w: np.ndarray, m: int) -> tuple[np.ndarray, float]:
    """Stan's cholesky_factor_corr from CPCs w (row by row) and the log Jacobian."""
    L, log_jac, k = np.zeros((m, m)), 0.0, 0
    L[0, 0] = 1.0
    for i in range(1, m):
        sum_sqs = 0.0
        for j in range(i):
            log_jac += 0.5 * np.log1p(-sum_sqs)
            L[i, j] = w[k] * np.sqrt(1.0 - sum_sqs)
            sum_sqs += L[i, j] ** 2
            k += 1
        L[i, i] = np.sqrt(1.0 - sum_sqs)
    return L, log_jac


def _reference_log_density(design, theta: np.ndarray) -> float:
    """The model of the formula docstring, written out with loops and scipy: theta's
    first entry is the intercept plus the mean of each non-centred block's intercepts
    (the shear), at which the centred block (year, the one here) is centred."""
    P = design.X.shape[1]
    at = P
    beta = theta[:P].copy()
    lp = 0.0
    S = sum(b.width for b in design.blocks)
    log_sigma = theta[at : at + S]
    at += S
    sigma = np.exp(log_sigma)
    lp += (stats.halfnorm.logpdf(sigma, scale=1.0) - np.log(np.sqrt(2 / np.pi))).sum()
    lp += log_sigma.sum()
    factors, cursor = [], 0
    for block in design.blocks:
        m = block.width
        n_w = m * (m - 1) // 2 if block.correlated else 0
        y = theta[at : at + n_w]
        at += n_w
        w = np.tanh(y)
        L, log_jac = _cholesky(w, m)
        if block.correlated:
            eta_lkj = 2.0
            lp += sum((m - r - 1 + 2 * (eta_lkj - 1)) * np.log(L[r, r]) for r in range(1, m))
            lp += log_jac + np.log1p(-(w**2)).sum()
        factors.append((block, L, sigma[cursor : cursor + m]))
        cursor += m
    effects = []
    for block, L, s in factors:
        J, m = len(block.levels), block.width
        z = theta[at : at + J * m].reshape(m, J).T  # column by column, level by level
        at += J * m
        mask = centred(design, block)[0]  # one linear predictor
        z_eff = z.copy()
        shift = theta[0]  # the one centred block here (year): at theta's intercept
        z_eff[mask, 0] = (z[mask, 0] - shift) / s[0]
        lp += stats.norm.logpdf(z_eff).sum() + J * m * np.log(np.sqrt(2 * np.pi))
        lp -= mask.sum() * np.log(s[0])
        u = (np.diag(s) @ L @ z_eff.T).T  # (J, m)
        if not mask.any():  # crossed with the centred block: the intercept gives its mean
            beta[0] -= u[:, 0].mean()
        effects.append((block, u))
    lp += stats.norm.logpdf(beta, 0.0, 2.5).sum() + P * np.log(np.sqrt(2 * np.pi))
    eta = design.X @ beta
    for block, u in effects:
        eta = eta + (u[block.index] * block.values).sum(axis=1)
    n, k = design.trials, design.successes
    lp += stats.binom.logpmf(k, n, expit(eta)).sum()
    return lp


@pytest.mark.parametrize(
    "formula",
    [
        "y ~ x + c + (1 + x | tiny) + (1 | year)",
        "y ~ x * c + (1 + x + c | tiny) + (1 | year)",  # a 4 x 4 correlation
        "y ~ x + (1 | year)",
        "y ~ x + c",
    ],
)
def test_log_density_is_the_model_written_out(rows, formula):
    design = build_formula_design(rows, formula)
    arrays, layout = engine_inputs(design)
    if "year" in formula:  # the centred parameterisation is checked too (the years)
        assert (arrays["noncentred"] == 0).any()
    theta = np.random.default_rng(5).normal(0.0, 0.7, layout.n_dim)
    value, grad = log_density(design, theta)
    reference = _reference_log_density(design, theta)
    # constants (2 pi) differ by a fixed amount per parameter: compare differences
    other = theta + np.random.default_rng(6).normal(0.0, 0.3, layout.n_dim)
    value2, _ = log_density(design, other)
    assert value2 - value == pytest.approx(
        _reference_log_density(design, other) - reference, rel=1e-9, abs=1e-8
    )
    # the gradient is the derivative of that density
    h = 1e-6
    for i in np.random.default_rng(7).choice(
        layout.n_dim, size=min(8, layout.n_dim), replace=False
    ):
        step = np.zeros(layout.n_dim)
        step[i] = h
        numeric = (log_density(design, theta + step)[0] - log_density(design, theta - step)[0]) / (
            2 * h
        )
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-5)


@pytest.mark.parametrize(
    "formula", ["y ~ x + c + (1 | tiny)", "y ~ x * c + (1 | year)", "y ~ x + c"]
)
def test_the_lean_engine_is_the_general_one(rows, formula):
    """A design with neither correlated, nested nor crossed blocks runs on the engine
    without their machinery: the same log density and gradient as the general engine, and the
    gradient (the likelihood's written by hand) is the density's derivative in every
    coordinate."""
    design = build_formula_design(rows, formula)
    arrays, layout = engine_inputs(design)
    assert not needs_general(arrays)
    inputs = [arrays[n] for n, _, _ in INPUTS]
    lean, general = (
        compiled_engine("binomial", general=False),
        compiled_engine("binomial", general=True),
    )
    rng = np.random.default_rng(8)
    for theta in rng.normal(0.0, 0.7, (3, layout.n_dim)):
        value, grad = lean.logp_fn(theta, *inputs)
        value_g, grad_g = general.logp_fn(theta, *inputs)
        assert float(value) == pytest.approx(float(value_g), rel=1e-12)
        np.testing.assert_allclose(grad, grad_g, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(
            lean.expand_fn(theta, *inputs)[0], general.expand_fn(theta, *inputs)[0], rtol=1e-12
        )
        h, eye = 1e-6, np.eye(layout.n_dim)
        numeric = [
            (
                float(lean.logp_fn(theta + h * e, *inputs)[0])
                - float(lean.logp_fn(theta - h * e, *inputs)[0])
            )
            / (2 * h)
            for e in eye
        ]
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def nested_rows() -> pd.DataFrame:
    """Nationalities nested in regions: large ones (centred) and tiny ones (non-centred),
    regions that differ, and years crossed with both."""
    rng = np.random.default_rng(12)
    sizes = {f"r{r}": [400, 300, 250, 6, 4] for r in range(4)}
    frames = []
    for region, counts in sizes.items():
        for k, n in enumerate(counts):
            frames.append(
                pd.DataFrame({"region": region, "nat": f"{region}n{k}", "x": rng.normal(size=n)})
            )
    frame = pd.concat(frames, ignore_index=True)
    frame["year"] = rng.integers(2018, 2021, len(frame))
    effect = frame["region"].map({"r0": -1.0, "r1": 0.0, "r2": 0.6, "r3": 1.2})
    nat = frame["nat"].map(dict(zip(frame["nat"].unique(), rng.normal(0, 0.5, 20), strict=True)))
    frame["y"] = rng.binomial(1, expit(-0.5 + 0.7 * frame["x"] + effect + nat))
    return frame


def test_nesting_is_read_from_the_data(nested_rows):
    design = build_formula_design(nested_rows, "y ~ x + (1 | region/nat) + (1 | year)")
    region, nat, year = design.blocks
    assert (region.factor, nat.factor) == ("region", "region:nat")
    parent, level = nesting_parent(design, nat)
    assert parent == 0 and list(level) == [j // 5 for j in range(20)]
    assert nesting_parent(design, region) is None and nesting_parent(design, year) is None
    # written as crossed, nested in the data (each nat in one region): nested
    crossed = build_formula_design(nested_rows, "y ~ (1 | region) + (1 | nat) + (1 | year)")
    assert nesting_parent(crossed, crossed.blocks[1])[0] == 0
    # every nat in every year: crossed, not nested
    assert nesting_parent(crossed, crossed.blocks[2]) is None
    # the engine: regions non-centred, large nationalities centred at their region's effect
    arrays, _ = engine_inputs(design)
    assert not centred(design, region).any() and (arrays["noncentred"][0, :4] == 1).all()
    large = centred(design, nat)[0]
    assert large.sum() == 12  # three of five a region
    child, parent = arrays["nest"]  # the centred nationalities and their regions
    np.testing.assert_array_equal(child, 4 + np.flatnonzero(large))  # region's 4 levels first
    np.testing.assert_array_equal(parent, level[large])
    assert arrays["nest_weight"].all() and needs_general(arrays)


def _natural_log_density(design, phi: np.ndarray) -> float:
    """log p(beta, sigma, u, y) of uncorrelated group blocks, with sigma on the log scale,
    at phi = (beta, log sigma, u) in the layout's order; constants as scipy has them."""
    P, S = design.X.shape[1], len(design.blocks)
    beta, sigma, u = phi[:P], np.exp(phi[P : P + S]), phi[P + S :]
    lp = stats.norm.logpdf(beta, 0.0, 2.5).sum() + stats.halfnorm.logpdf(sigma).sum()
    lp += np.log(sigma).sum()
    eta, at = design.X @ beta, 0
    for b, block in enumerate(design.blocks):
        effect = u[at : at + len(block.levels)]
        lp += stats.norm.logpdf(effect, 0.0, sigma[b]).sum()
        eta = eta + effect[block.index]
        at += len(block.levels)
    return lp + stats.binom.logpmf(design.successes, design.trials, expit(eta)).sum()


@pytest.fixture(scope="module")
def crossed_rows() -> pd.DataFrame:
    """60 persons crossed with 8 items (1,440 rows): items that the data pin down well
    (centred), persons with one answer an item (non-centred) or five (centred)."""
    rng = np.random.default_rng(13)
    reps = np.where(np.arange(60) % 2 == 0, 1, 5)
    person = np.repeat(np.arange(60), 8 * reps)
    item = np.concatenate([np.repeat(np.arange(8), r) for r in reps])
    frame = pd.DataFrame({"person": [f"p{i}" for i in person], "item": [f"i{j}" for j in item]})
    frame["x"] = rng.normal(size=len(frame))
    eta = 0.2 + 0.5 * frame["x"] + rng.normal(0, 1.0, 60)[person] + rng.normal(0, 1.0, 8)[item]
    frame["y"] = rng.binomial(1, expit(eta))
    return frame


@pytest.mark.parametrize(
    ("data", "formula", "sheared"),
    [
        ("nested_rows", "y ~ x + (1 | region/nat)", False),
        ("nested_rows", "y ~ x + (1 | region/nat) + (1 | year)", True),  # years crossed
        ("crossed_rows", "y ~ x + (1 | person) + (1 | item)", True),
    ],
)
def test_the_parameterisation_is_the_model_with_its_jacobian(request, data, formula, sheared):
    """Whatever the engine's parameterisation, its density at theta is the model's at
    phi(theta) = (beta, log sigma, u) plus log |det d phi / d theta|, the Jacobian taken
    by finite differences of the engine's own expansion: with hierarchical centring, and
    with the intercept that takes in the mean of crossed blocks' effects."""
    design = build_formula_design(request.getfixturevalue(data), formula)
    arrays, layout = engine_inputs(design)
    assert (arrays["noncentred"] == 0).any() and (arrays["noncentred"] == 1).any()
    assert bool(arrays["nest"].size) == ("/" in formula)  # centred at their region
    assert bool(arrays["shear"].size) == sheared
    engine = compiled_engine("binomial", general=True, reflected=reflected(arrays))
    inputs = [arrays[n] for n, _, _ in INPUTS]
    P, S = design.X.shape[1], len(design.blocks)

    def phi(t):
        (values,) = engine.expand_fn(t, *inputs)
        return np.concatenate([values[:P], np.log(values[P : P + S]), values[P + S :]])

    def model_side(t):
        h, eye = 1e-6, np.eye(len(t))
        jac = np.column_stack([(phi(t + h * e) - phi(t - h * e)) / (2 * h) for e in eye])
        return _natural_log_density(design, phi(t)) + np.linalg.slogdet(jac)[1]

    rng = np.random.default_rng(3)
    theta = rng.normal(0.0, 0.6, layout.n_dim)
    other = theta + rng.normal(0.0, 0.3, layout.n_dim)
    engine_side = float(engine.logp_fn(other, *inputs)[0]) - float(
        engine.logp_fn(theta, *inputs)[0]
    )
    # constants differ by a fixed amount: compare differences
    assert engine_side == pytest.approx(model_side(other) - model_side(theta), rel=1e-7, abs=1e-5)


def test_crossed_blocks_give_their_mean_to_the_intercept(crossed_rows, nested_rows, rows):
    """The block whose levels would move together most carries the intercept (items,
    their data pin each down); the other crossed block's effects give their mean to it;
    nested blocks, a single block and the prior alone keep the intercept as it is."""
    design = build_formula_design(crossed_rows, "y ~ x + (1 | person) + (1 | item)")
    person, item = design.blocks
    assert centred(design, item).all() and centred(design, person).any()
    assert mean_ridge(design, item) > mean_ridge(design, person)
    arrays, _ = engine_inputs(design)
    G_levels = set(arrays["G_index"][0])
    assert G_levels == set(60 + np.arange(8))  # the items' means hold the intercept
    np.testing.assert_array_equal(arrays["shear"], np.arange(60))  # the persons' mean
    np.testing.assert_allclose(arrays["shear_weight"], 1 / 60)
    np.testing.assert_array_equal(arrays["shear_column"], [1.0, 0.0])  # Intercept, x
    assert needs_general(arrays)
    # persons that their data pin down (centred) move together: sampled reflected
    assert crossed_ridge(arrays) and reflected(arrays)
    prior_only, _ = engine_inputs(design, likelihood_weight=0)
    assert prior_only["shear"].size == 0 and not prior_only["shear_column"].any()
    assert not reflected(prior_only)
    for data, formula in [
        (crossed_rows, "y ~ x + (1 | person)"),
        (nested_rows, "y ~ x + (1 | region/nat)"),
        (crossed_rows, "y ~ 0 + x + (1 | person) + (1 | item)"),
    ]:
        arrays, _ = engine_inputs(build_formula_design(data, formula))
        assert arrays["shear"].size == 0, formula
        assert not crossed_ridge(arrays) and not reflected(arrays)
    # crossed, but the sheared block's levels are each left to their prior (10 cases a
    # level, non-centred): a diagonal mass matrix
    arrays, _ = engine_inputs(build_formula_design(rows, "y ~ x + c + (1 | tiny) + (1 | year)"))
    assert arrays["shear"].size == 60 and not crossed_ridge(arrays)
    assert not reflected(arrays)


def _reflection_matrix(arrays, block: int) -> tuple[np.ndarray, np.ndarray]:
    """(levels, H): the levels of one sheared block that the engine samples reflected,
    and the matrix its ``reflection`` rows describe, a = H z = z - w (v'z)."""
    level, group, v, w = arrays["reflection"]
    at = group == block
    return level[at].astype(int), np.eye(at.sum()) - np.outer(w[at], v[at])


def test_the_crossed_levels_mean_is_a_coordinate_of_its_own(crossed_rows):
    """The persons that their data pin down (centred) and that give their mean to the
    intercept are sampled reflected: H is orthogonal (Jacobian 1, the same posterior)
    and takes theta's first coordinate to their common direction, so that coordinate is
    sqrt(J) times their mean; the engine's draw holds H z as their effects."""
    design = build_formula_design(crossed_rows, "y ~ x + (1 | person) + (1 | item)")
    arrays, layout = engine_inputs(design)
    assert reflected(arrays)
    levels, H = _reflection_matrix(arrays, block=0)
    centred_persons = np.flatnonzero(arrays["noncentred"][0, :60] == 0)
    np.testing.assert_array_equal(levels, centred_persons)  # persons 1, 3, ..., 59
    J = len(levels)
    np.testing.assert_allclose(H @ H.T, np.eye(J), atol=1e-12)
    np.testing.assert_allclose(H[:, 0], np.full(J, 1 / np.sqrt(J)), atol=1e-12)
    engine = compiled_engine("binomial", general=True, reflected=True)
    inputs = [arrays[n] for n, _, _ in INPUTS]
    theta = np.random.default_rng(5).normal(0.0, 0.6, layout.n_dim)
    (values,) = engine.expand_fn(theta, *inputs)
    P, S, R = design.X.shape[1], len(design.blocks), 0
    z = theta[P + S + R :]
    effects = values[P + S :]  # the persons' first: their u, centred at zero
    np.testing.assert_allclose(effects[levels], H @ z[levels], rtol=1e-10, atol=1e-12)
    assert effects[levels].mean() * np.sqrt(J) == pytest.approx(z[levels][0], rel=1e-10)
    # non-centred persons keep their own coordinate: u = sigma z
    others = np.setdiff1d(np.arange(60), levels)
    sigma = values[P]
    np.testing.assert_allclose(effects[others], sigma * z[others], rtol=1e-10)


def test_auto_adaptation_is_diagonal_where_crossed_levels_are_reflected(crossed_rows, rows):
    """A reflected design gets the diagonal mass matrix (the ridge low-rank would learn
    is gone); the others keep the dimension rule (low-rank up to 200 parameters)."""
    crossed = compile_formula_model(
        build_formula_design(crossed_rows, "y ~ x + (1 | person) + (1 | item)")
    )
    assert crossed.reflected and crossed.n_dim <= LOW_RANK_MAX_DIM
    assert auto_adaptation(crossed) == "diag"
    for formula in ["y ~ x + c + (1 | tiny) + (1 | year)", "y ~ x + (1 | year)"]:
        model = compile_formula_model(build_formula_design(rows, formula))
        assert not model.reflected and model.n_dim <= LOW_RANK_MAX_DIM
        assert auto_adaptation(model) == "low_rank", formula


@pytest.mark.sampling
def test_the_shear_leaves_the_posterior_as_it_was(crossed_rows, monkeypatch):
    """The same crossed model sampled with the intercept taking in the persons' mean and
    their centred values reflected (on a diagonal mass matrix), and without either (the
    shear and the reflection switched off; low-rank): the same posterior means and SDs
    within Monte Carlo error."""
    import returnmodels.engine.inputs as engine_module

    formula = "y ~ x + (1 | person) + (1 | item)"
    settings = {"draws": 600, "tune": 600, "chains": 2, "random_seed": 5}
    sheared_fit = fit(crossed_rows, formula=formula, **settings)
    sheared = sheared_fit["posterior"]
    assert json.loads(sheared_fit.attrs["returnmodels_sampler"])["adaptation"] == "diag"
    P = 2
    monkeypatch.setattr(
        engine_module,
        "intercept_shear",
        lambda *args: (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(P)),
    )
    monkeypatch.setattr(engine_module, "mean_reflection", lambda *args: np.zeros((4, 0)))
    plain_fit = fit(crossed_rows, formula=formula, **settings)
    plain = plain_fit["posterior"]
    assert json.loads(plain_fit.attrs["returnmodels_sampler"])["adaptation"] == "low_rank"
    for name in ["Intercept", "x", "person_sigma", "item_sigma", "item_effect"]:
        a, b = sheared[name], plain[name]
        se = np.sqrt(az.mcse(a.to_dataset())[name] ** 2 + az.mcse(b.to_dataset())[name] ** 2).values
        diff = np.abs(a.mean(("chain", "draw")) - b.mean(("chain", "draw"))).values
        assert (diff < 4.5 * se + 1e-3).all(), name
        sd_a, sd_b = a.std(("chain", "draw")).values, b.std(("chain", "draw")).values
        assert (np.abs(sd_a / sd_b - 1) < 0.2).all(), name


@pytest.mark.sampling
def test_a_new_formula_compiles_nothing_and_round_trips(rows, tmp_path):
    settings = {"draws": 200, "tune": 200, "chains": 2, "random_seed": 3}
    first = fit(rows, formula="y ~ x + (1 | year)", **settings)
    # the pointwise log-likelihood is the binomial's at each cell, draw by draw
    design = build_formula_design(rows, "y ~ x + (1 | year)")
    draw = first["posterior"].isel(chain=1, draw=7)
    eta = float(draw["Intercept"]) + float(draw["x"]) * design.X[:, 1]
    eta = eta + draw["year_effect"].values[design.blocks[0].index]
    expected = stats.binom.logpmf(design.successes, design.trials, expit(eta))
    got = first["log_likelihood"]["y"].isel(chain=1, draw=7).values
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-5)
    # the general graph (correlated blocks) is loaded once by another formula, so the
    # test holds in any order and on an empty cache: a new formula then compiles nothing
    fit(rows, formula="y ~ x + (1 + x | year)", draws=20, tune=20, chains=1, random_seed=1)
    result = fit(rows, formula="y ~ x * c + (1 + x | tiny)", **settings)
    sampler = json.loads(result.attrs["returnmodels_sampler"])
    assert sampler["compile_cache"] == "process"
    # a correlated block gets smaller steps unless target_accept is given
    assert json.loads(result.attrs["returnmodels_config"])["sampling"]["target_accept"] == 0.9
    assert json.loads(first.attrs["returnmodels_config"])["sampling"]["target_accept"] == 0.8
    names = set(result["posterior"].data_vars)
    assert {"Intercept", "x", "c", "x:c", "tiny_sigma", "tiny_x_sigma", "tiny_corr"} <= names
    assert {"tiny_effect", "tiny_x_effect"} <= names
    assert result["posterior"]["tiny_effect"].dims == ("chain", "draw", "tiny")
    assert list(result["posterior"]["c"].coords["c_level"].values) == ["b", "c"]
    assert result.attrs["returnmodels_model"] == "formula"
    path = save_result(result, tmp_path / "fit.nc")
    loaded = load_result(path)
    assert (
        json.loads(loaded.attrs["returnmodels_config"])["formula"] == "y ~ x * c + (1 + x | tiny)"
    )
    loo = az.loo(loaded)
    assert np.isfinite(loo.elpd)
    # released form: no data groups, and no level below min_cases (10 cases each here,
    # fewer than 10 of them with y = 1 and with y = 0)
    released = released_posterior(result, DisclosureRules(min_cases=10))
    assert "constant_data" not in released.children
    assert "tiny" not in released["posterior"].dims
    assert "tiny_effect" not in released["posterior"].data_vars
    kept = released_posterior(result, DisclosureRules(min_cases=1))
    assert kept["posterior"].sizes["tiny"] == 60


#: lme4 1.1 on cbpp, glmer(cbind(incidence, size - incidence) ~ period + (1 | herd),
#: family = binomial): the fixed effects with their standard errors, and the herd SD.
LME4_CBPP = {
    "Intercept": (-1.3983, 0.2312),
    "2": (-0.9919, 0.3032),
    "3": (-1.1282, 0.3228),
    "4": (-1.5797, 0.4220),
}
LME4_CBPP_HERD_SD = 0.6421


@pytest.mark.slow
def test_cbpp_agrees_with_lme4():
    result = fit(
        CBPP,
        formula="incidence | trials(size) ~ C(period) + (1 | herd)",
        draws=1000,
        tune=1000,
        chains=4,
        random_seed=20251,
        target_accept=0.9,  # rstanarm glmer uses 0.95: 15 herds, a funnel at small SD
    )
    assert json.loads(result.attrs["returnmodels_verdict"])["passed"]
    post = result["posterior"]
    means = {"Intercept": float(post["Intercept"].mean())}
    for level in ("2", "3", "4"):
        means[level] = float(post["C(period)"].sel({"C(period)_level": level}).mean())
    for name, (estimate, se) in LME4_CBPP.items():
        # posterior means under weak priors: within half a standard error of the MLE
        assert abs(means[name] - estimate) < 0.5 * se, (name, means[name], estimate)
    herd_sd = float(post["herd_sigma"].median())
    # 15 herds: the posterior of the SD is wide and right-skewed; its median near the MLE
    assert 0.45 < herd_sd < 0.9, herd_sd


def test_a_failing_verdict_says_what_to_try():
    rng = np.random.default_rng(0)
    draws = (2, 200)
    shifted = rng.normal(0, 1, draws) + np.array([[0.0], [3.0]])  # chains disagree
    posterior = xr.Dataset(
        {"x": (("chain", "draw"), shifted), "g_sigma": (("chain", "draw"), rng.gamma(2, 1, draws))}
    )
    diverging = np.zeros(draws, bool)
    diverging[0, :5] = True
    stats = xr.Dataset(
        {
            "diverging": (("chain", "draw"), diverging),
            "energy": (("chain", "draw"), rng.normal(size=draws)),
        }
    )
    tree = xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})
    verdict = check_convergence(tree)
    assert not verdict.passed
    text = verdict_advice(verdict)
    assert "target_accept" in text and "g_sigma" in text
    assert "R-hat/ESS (x)" in text and "draws and tune 2000" in text
    passing = check_convergence(
        xr.DataTree.from_dict(
            {"posterior": xr.Dataset({"x": (("chain", "draw"), rng.normal(size=(4, 500)))})}
        )
    )
    assert passing.passed and verdict_advice(passing) == ""

"""The competing-outcomes family on the formula engine: ``outcome ~ ...`` on a case file.

Stage 1 is the binary model of ``assisted``; stage 2 the multinomial logit of the other
five outcomes against ``unsupervised_departure``, one linear predictor per non-reference
outcome (:func:`returnmodels.engine.design.competing_stage`). Checked here: the counts,
the multinomial log density against the model written out, the parameterisation of a
variance near zero, and a fit's groups, names and pointwise log-likelihood.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import gammaln, logsumexp

import returnmodels as rm
from returnmodels.data.vocabulary import (
    ASSISTED,
    COMPETING_OUTCOMES,
    NONREFERENCE_OUTCOMES,
    OUTCOMES,
    REFERENCE_OUTCOME,
)
from returnmodels.engine.callbacks import compiled_engine, log_density
from returnmodels.engine.design import FormulaDesign, build_formula_design, competing_stage
from returnmodels.engine.inputs import INPUTS, engine_inputs, needs_general, reflected
from returnmodels.engine.policy import centred
from returnmodels.errors import ConfigError
from returnmodels.inference.fit import fit
from returnmodels.inference.results import load_result, save_result
from returnmodels.models import CASE_FILE_SPEC
from returnmodels.summaries import margins

REFERENCE = {k: CASE_FILE_SPEC.reference[k] for k in ("gender", "cooperation")}

SMALL = "outcome ~ n_procedures + gender + cooperation + (1 | nationality)"


def test_outcome_counts_and_the_two_stages(small_cases):
    design = build_formula_design(small_cases, SMALL, reference=REFERENCE)
    counts = design.outcome_counts
    totals = small_cases["outcome"].value_counts()
    assert counts.sum(axis=0).tolist() == [int(totals.get(o, 0)) for o in OUTCOMES]
    assert np.array_equal(counts.sum(axis=1), design.trials)
    # stage 1: assisted return against the rest, on the same cells
    assert design.response == "assisted" and design.n_linear == 1
    assert np.array_equal(design.successes, counts[:, OUTCOMES.index(ASSISTED)])
    # stage 2: the others, one linear predictor per non-reference outcome
    stage = competing_stage(design)
    assert stage.n_linear == len(NONREFERENCE_OUTCOMES) == 4
    assert np.array_equal(stage.trials, design.trials - design.successes)
    Y = stage.linear_counts()
    for k, outcome in enumerate(NONREFERENCE_OUTCOMES):
        assert np.array_equal(Y[:, k], counts[:, OUTCOMES.index(outcome)])
    reference = stage.trials - Y.sum(axis=1)
    assert np.array_equal(reference, counts[:, OUTCOMES.index(REFERENCE_OUTCOME)])
    # stage 2's priors are its own by name, its classes shared
    named = build_formula_design(
        small_cases,
        SMALL,
        reference=REFERENCE,
        priors={"competing_n_procedures": {"dist": "Normal", "mu": 0.0, "sigma": 0.5}},
    )
    row = named.column_labels().index("n_procedures")
    assert competing_stage(named).coefficient_priors[row].tolist() == [np.inf, 0.0, 0.5]
    assert named.coefficient_priors[row].tolist() == [np.inf, 0.0, 2.5]


def test_outcome_values_outside_the_contract_are_refused(small_cases):
    bad = small_cases.assign(outcome=small_cases["outcome"].astype(object))
    bad.loc[bad.index[:3], "outcome"] = "deported"
    with pytest.raises(ConfigError, match=r"only the case file's outcomes.*\['deported'\]"):
        build_formula_design(bad, SMALL)


def _reference_log_density(stage: FormulaDesign, theta: np.ndarray) -> float:
    """Stage 2 written out: beta_k ~ N(0, 2.5), sigma_k ~ HalfNormal(1) on the log scale,
    u_kj = sigma_k z_kj (z ~ N(0, 1)) or, for a centred level, a_kj ~ N(G_j beta_k,
    sigma_k) with u_kj = a_kj - G_j beta_k; y_c ~ Multinomial over (ref, softmax)."""
    arrays, _ = engine_inputs(stage)
    (block,) = stage.blocks
    M, P, J = stage.n_linear, stage.X.shape[1], len(block.levels)
    beta = theta[: M * P].reshape(M, P)
    log_sigma = theta[M * P : M * P + M]
    z = theta[M * P + M :].reshape(M, J)
    sigma = np.exp(log_sigma)
    lp = stats.norm.logpdf(beta, 0.0, 2.5).sum()
    lp += stats.halfnorm.logpdf(sigma, scale=1.0).sum() + log_sigma.sum()
    nc = arrays["noncentred"]
    G = np.zeros((J, P))  # the engine's (level, column, value) triples
    np.add.at(G, tuple(arrays["G_index"]), arrays["G_value"])
    u = np.zeros((M, J))
    for k in range(M):
        for j in range(J):
            if nc[k, j]:
                lp += stats.norm.logpdf(z[k, j])
                u[k, j] = sigma[k] * z[k, j]
            else:
                mean = G[j] @ beta[k]
                lp += stats.norm.logpdf(z[k, j], mean, sigma[k])
                u[k, j] = z[k, j] - mean
    eta = np.column_stack([np.zeros(stage.n_cells), stage.X @ beta.T + u.T[block.index]])
    counts = np.column_stack([stage.trials - stage.linear_counts().sum(1), stage.linear_counts()])
    log_p = eta - logsumexp(eta, axis=1)[:, None]
    return float(lp + np.sum(counts * log_p))


@pytest.mark.sampling
def test_multinomial_log_density_is_the_model_written_out(small_cases):
    stage = competing_stage(build_formula_design(small_cases, SMALL, reference=REFERENCE))
    arrays, layout = engine_inputs(stage)
    nc = arrays["noncentred"]
    assert nc.shape == (4, len(stage.blocks[0].levels))
    assert (nc == 0).any() and (nc == 1).any()  # both parameterisations are checked
    rng = np.random.default_rng(3)
    theta = rng.normal(0.0, 0.5, layout.n_dim)
    other = theta + rng.normal(0.0, 0.2, layout.n_dim)
    value, grad = log_density(stage, theta)
    value2, _ = log_density(stage, other)
    # constants (2 pi, the multinomial coefficient) cancel in differences
    expected = _reference_log_density(stage, other) - _reference_log_density(stage, theta)
    assert value2 - value == pytest.approx(expected, rel=1e-9, abs=1e-8)
    h = 1e-6
    for i in rng.choice(layout.n_dim, size=8, replace=False):
        step = np.zeros(layout.n_dim)
        step[i] = h
        numeric = (log_density(stage, theta + step)[0] - log_density(stage, theta - step)[0]) / (
            2 * h
        )
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-5)


def test_a_variance_near_zero_is_sampled_non_centred(small_cases):
    """Other outcomes shuffled among the cases not in assisted return: they no longer
    vary by nationality, and stage 2 samples every nationality non-centred (the centred
    form is a funnel as the SD goes to zero); stage 1 keeps its centred nationalities."""
    rng = np.random.default_rng(5)
    cases = small_cases.copy()
    others = cases.index[cases["outcome"] != ASSISTED]
    cases.loc[others, "outcome"] = rng.permutation(cases.loc[others, "outcome"].to_numpy())
    formula = "outcome ~ n_procedures + (1 | nationality)"
    shuffled = build_formula_design(cases, formula)
    original = build_formula_design(small_cases, formula)
    block = shuffled.blocks[0]
    assert not centred(competing_stage(shuffled), block).any()
    assert centred(competing_stage(original), original.blocks[0]).any()
    assert np.array_equal(centred(shuffled, block), centred(original, original.blocks[0]))


@pytest.mark.sampling
def test_a_competing_fit_holds_both_stages(small_cases, tmp_path):
    result = fit(
        small_cases, formula=SMALL, reference=REFERENCE, draws=200, tune=200, chains=2,
        progressbar=False,
    )  # fmt: skip
    posterior = result["posterior"].to_dataset()
    for name in ("Intercept", "n_procedures", "nationality_sigma", "nationality_effect"):
        assert name in posterior and f"competing_{name}" in posterior
    assert posterior["competing_gender"].dims == (
        "chain", "draw", "nonreference_outcome", "gender_level"
    )  # fmt: skip
    assert list(posterior["nonreference_outcome"].values) == list(NONREFERENCE_OUTCOMES)
    assert {"sample_stats", "sample_stats_stage1"} <= set(result.children)
    details = json.loads(result.attrs["returnmodels_sampler"])
    # which compiled graph sampled each stage: the presets' blocks are neither
    # correlated nor nested, so the lean graphs
    assert details["stage0_engine"].endswith("(binomial, lean)")
    assert details["stage1_engine"].endswith("(multinomial, lean)")
    # the pointwise log-likelihood of stage 2 is the multinomial pmf of each cell
    loglik = result["log_likelihood"].to_dataset()
    assert set(loglik.data_vars) == {"assisted", "competing"}
    observed = result["observed_data"].to_dataset()["competing"]
    assert list(observed["competing_outcome"].values) == list(COMPETING_OUTCOMES)
    draw = posterior.isel(chain=0, draw=0)
    original = build_formula_design(small_cases, SMALL, reference=REFERENCE)
    stage = competing_stage(original)  # the result's cells are the design's, in its order
    B = np.concatenate(
        [draw[f"competing_{t.name}"].values.reshape(4, -1) for t in stage.common], axis=1
    )  # (outcome, column), each term's dims (nonreference_outcome[, level])
    eta = stage.X @ B.T + draw["competing_nationality_effect"].values.T[stage.blocks[0].index]
    log_p = np.column_stack([np.zeros(stage.n_cells), eta])
    log_p -= logsumexp(log_p, axis=1)[:, None]
    counts = observed.values  # COMPETING order; the reference is its third column
    order = [COMPETING_OUTCOMES.index(o) for o in (REFERENCE_OUTCOME, *NONREFERENCE_OUTCOMES)]
    y = counts[:, order]
    n = y.sum(axis=1)
    expected = gammaln(n + 1) - gammaln(y + 1).sum(axis=1) + (y * log_p).sum(axis=1)
    got = loglik["competing"].isel(chain=0, draw=0).values
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-4)
    # the result rebuilds its design, with every outcome's counts, after save and load
    path = save_result(result, tmp_path / "competing.nc")
    loaded = load_result(path)
    rebuilt = FormulaDesign.from_result(loaded)

    def by_cell(design):  # each cell's counts by outcome, keyed by its values
        keys = design.cells.astype(str).apply(tuple, axis=1)
        return dict(zip(keys, map(tuple, design.outcome_counts), strict=True))

    assert by_cell(rebuilt) == by_cell(original)
    assert pd.Series(rebuilt.successes).sum() == (small_cases["outcome"] == ASSISTED).sum()
    # margins of the six outcomes: each value's shares sum to one; assisted return's is
    # the uptake's margin, and each share lies near its observed share at the data
    table = margins(loaded, {"gender": ["male", "female"]})
    assert set(table["outcome"]) == set(OUTCOMES)
    totals = table.groupby("value")["mean"].sum()
    assert np.allclose(totals, 1.0)
    uptake = table[table["outcome"] == ASSISTED].set_index("value")["mean"]
    assert uptake["male"] != uptake["female"]
    observed_share = small_cases["outcome"].value_counts(normalize=True)
    fitted = margins(loaded, {"n_procedures": [int(small_cases["n_procedures"].median())]})
    for outcome, share in observed_share.items():
        mean = fitted.loc[fitted["outcome"] == outcome, "mean"].iloc[0]
        assert abs(mean - share) < 0.1, outcome


def _assert_same_density_and_draw(engine, point, other) -> None:
    """The engine's log density and expanded draw at ``point`` are those at ``other``
    (each ``(theta, inputs)``): one model under two parameterisations."""
    (theta, inputs), (moved, moved_inputs) = point, other
    value = float(engine.logp_fn(theta, *inputs)[0])
    assert value == pytest.approx(float(engine.logp_fn(moved, *moved_inputs)[0]), rel=1e-10)
    np.testing.assert_allclose(
        engine.expand_fn(theta, *inputs)[0],
        engine.expand_fn(moved, *moved_inputs)[0],
        rtol=1e-9,
        atol=1e-12,
    )


def test_the_multinomial_shear_moves_the_model_by_a_shear(small_cases):
    """Crossed blocks on the multinomial engine: its density and draw at theta are the
    engine's without the shear at the sheared point, each linear predictor's intercept
    and the centred values of the block that carries it less the crossed block's mean
    effect (a map of Jacobian 1: the same model)."""
    formula = "outcome ~ n_procedures + gender + (1 | nationality) + (1 | closing_year)"
    reference = {"gender": REFERENCE["gender"]}
    stage = competing_stage(build_formula_design(small_cases, formula, reference=reference))
    arrays, layout = engine_inputs(stage)
    assert arrays["shear"].size and needs_general(arrays)
    M, P = stage.n_linear, stage.X.shape[1]
    _, S, R, Q, _, _ = (int(n) for n in arrays["sizes"])
    plain = arrays | {
        "shear": np.zeros(0, dtype=np.int64),
        "shear_weight": np.zeros(0),
        "shear_column": np.zeros(P),
    }
    engine = compiled_engine("multinomial", general=True)
    intercept = int(np.flatnonzero(arrays["shear_column"])[0])
    G = np.zeros((Q, P))
    np.add.at(G, tuple(arrays["G_index"]), arrays["G_value"])
    carriers = (arrays["noncentred"] == 0) & (G[:, intercept] != 0)[None, :]  # (M, Q)
    assert carriers.any()
    nc = arrays["noncentred"][:, arrays["shear"]]  # crossed levels: centred at zero
    for theta in np.random.default_rng(4).normal(0.0, 0.5, (3, layout.n_dim)):
        beta = theta[: M * P].reshape(M, P)
        sigma = np.exp(theta[M * P : M * (P + S)].reshape(M, S))[:, arrays["level_sd"]]
        z = theta[M * (P + S + R) :].reshape(M, Q)
        shear = arrays["shear"]
        u = nc * sigma[:, shear] * z[:, shear] + (1 - nc) * z[:, shear]
        mean = u @ arrays["shear_weight"]  # (M,) the crossed block's mean effect
        moved_beta, moved_z = beta.copy(), z.copy()
        moved_beta[:, intercept] -= mean
        moved_z -= carriers * mean[:, None]
        moved = np.concatenate(
            [moved_beta.ravel(), theta[M * P : M * (P + S + R)], moved_z.ravel()]
        )
        inputs = [arrays[name] for name, _, _ in INPUTS]
        plain_inputs = [plain[name] for name, _, _ in INPUTS]
        _assert_same_density_and_draw(engine, (theta, inputs), (moved, plain_inputs))


def test_the_multinomial_engine_samples_crossed_levels_reflected():
    """Closing years crossed with nationalities, each year pinned down for every outcome
    (centred in every column): the engine at theta is the engine without the reflection
    at a = H z, H the reflection its rows describe, in every linear predictor's column;
    its density and draw are the same (an orthogonal map: the same model)."""
    cases = rm.simulate_cases(n_cases=20_000, random_seed=7).cases
    formula = "outcome ~ n_procedures + gender + (1 | nationality) + (1 | closing_year)"
    stage = competing_stage(build_formula_design(cases, formula))
    arrays, layout = engine_inputs(stage)
    assert reflected(arrays)
    level, _, v, w = arrays["reflection"]
    level = level.astype(int)
    H = np.eye(len(level)) - np.outer(w, v)
    np.testing.assert_allclose(H @ H.T, np.eye(len(level)), atol=1e-12)
    assert (arrays["noncentred"][:, level] == 0).all()  # centred for every outcome
    M, P = stage.n_linear, stage.X.shape[1]
    _, S, R, Q, _, _ = (int(n) for n in arrays["sizes"])
    plain = arrays | {"reflection": np.zeros((4, 0))}
    engine = compiled_engine("multinomial", general=True, reflected=True)
    inputs = [arrays[name] for name, _, _ in INPUTS]
    plain_inputs = [plain[name] for name, _, _ in INPUTS]
    # the graph of designs without reflected levels ignores the rows: the plain point
    unreflected = compiled_engine("multinomial", general=True)
    theta = np.random.default_rng(2).normal(0.0, 0.5, layout.n_dim)
    assert float(unreflected.logp_fn(theta, *inputs)[0]) == pytest.approx(
        float(engine.logp_fn(theta, *plain_inputs)[0]), rel=1e-12
    )
    for theta in np.random.default_rng(6).normal(0.0, 0.5, (3, layout.n_dim)):
        z = theta[M * (P + S + R) :].reshape(M, Q).copy()
        z[:, level] = z[:, level] @ H.T  # each column's a = H z
        moved = np.concatenate([theta[: M * (P + S + R)], z.ravel()])
        _assert_same_density_and_draw(engine, (theta, inputs), (moved, plain_inputs))

"""``(1 | person_id)`` integrated out by Gauss-Hermite quadrature inside the engine.

The engine's likelihood of the persons' outcome patterns is checked against an
independent reference written here (per person, SciPy's Gauss-Hermite rule at 60 nodes,
no patterns), against lme4's ``glmer(..., nAGQ = 25)`` deviance (numbers stored in
``tests/fixtures/glmer_person_deviance.json`` with the R script that made them), and
its gradient against finite differences; a small fit recovers the person SD."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import log_expit, logsumexp, roots_hermite

import returnmodels as rm
from returnmodels.cli import main
from returnmodels.engine.callbacks import compiled_engine
from returnmodels.engine.design import build_formula_design
from returnmodels.engine.inputs import INPUTS, engine_inputs, has_units
from returnmodels.engine.inputs import needs_general as needs_general_engine
from returnmodels.engine.integrated import unit_patterns, without_group_term
from returnmodels.errors import ConfigError

FIXTURES = Path(__file__).parents[1] / "fixtures"
STUDY = "assisted ~ n_procedures + (1 | nationality) + (1 | person_id)"
CROSSED = "assisted ~ n_procedures + (1 | nationality) + (1 | closing_year) + (1 | person_id)"
CORRELATED = "assisted ~ n_procedures + (1 + n_procedures | nationality) + (1 | person_id)"
NESTED = "assisted ~ n_procedures + gender + (1 | region/nationality) + (1 | person_id)"


@pytest.fixture(scope="module")
def cases() -> pd.DataFrame:
    cases = rm.simulate_cases(n_cases=3000, random_seed=2).cases
    return cases.assign(region=cases["nationality"].astype(str).str[0])  # a nesting level


def _engine_of(arrays):
    return compiled_engine("binomial", needs_general_engine(arrays), has_units(arrays))


def _unit_loglik(design, theta) -> float:
    """The engine's log density less the same with no unit in any pattern: the
    persons' log-likelihood alone (the cells' counts are empty with persons)."""
    arrays, _ = engine_inputs(design)
    without = arrays | {"unit_count": np.zeros_like(arrays["unit_count"])}
    engine = _engine_of(arrays)
    full = engine.logp_fn(theta, *(arrays[n] for n, _, _ in INPUTS))[0]
    empty = engine.logp_fn(theta, *(without[n] for n, _, _ in INPUTS))[0]
    return float(full - empty)


def _expanded(design, theta) -> dict[str, np.ndarray]:
    arrays, layout = engine_inputs(design)
    (values,) = _engine_of(arrays).expand_fn(theta, *(arrays[n] for n, _, _ in INPUTS))
    return {
        name: values[part].reshape(shape)
        for name, part, shape in zip(layout.names, layout.slices, layout.shapes, strict=True)
    }


def _reference_loglik(design, frame, draw, nodes: int = 60) -> float:
    """Per person, directly: log of sum_k w_k / sqrt(pi) prod_j Bernoulli(y_j |
    expit(eta_j + sqrt(2) sigma x_k)), eta_j from the design's encoding of each row."""
    X, blocks = design.encode(frame)
    beta = np.concatenate([np.atleast_1d(draw[t.name]) for t in design.common])
    eta = X @ beta
    for block, (index, values) in zip(design.blocks, blocks, strict=True):
        for r in range(block.width):  # every column: a varying slope's too
            eta += draw[f"{block.column_name(r)}_effect"][index] * values[:, r]
    x, w = roots_hermite(nodes)
    sigma = float(draw["person_id_sigma"])
    sign = 2.0 * frame["assisted"].to_numpy(float) - 1.0
    per_case = log_expit(sign[:, None] * (eta[:, None] + np.sqrt(2.0) * sigma * x[None, :]))
    person = pd.factorize(frame["person_id"])[0]
    per_person = np.zeros((person.max() + 1, nodes))
    np.add.at(per_person, person, per_case)
    return float(logsumexp(per_person + np.log(w / np.sqrt(np.pi)), axis=1).sum())


def _points(design, n: int, seed: int, top: float = 2.5) -> list[np.ndarray]:
    arrays, layout = engine_inputs(design)
    rng = np.random.default_rng(seed)
    P, S = int(arrays["sizes"][0]), int(arrays["sizes"][1])
    points = []
    for _ in range(n):
        theta = rng.uniform(-0.8, 0.8, size=layout.n_dim)
        theta[P + S - 1] = rng.uniform(np.log(0.3), np.log(top))  # the person SD
        points.append(theta)
    return points


def test_patterns_keep_every_case_and_outcome():
    cell = np.array([0, 1, 1, 0, 2, 2, 0, 0])
    y = np.array([1, 0, 1, 1, 0, 0, 0, 1])
    unit = np.array(["a", "b", "b", "c", "d", "e", "f", "f"])
    entry_cell, entry_y, entry_pattern, count = unit_patterns(cell, y, unit)
    # singles: (0,1) a and c, (2,0) d and e; pairs: b {(1,0),(1,1)}, f {(0,0),(0,1)}
    assert list(count) == [2, 2, 1, 1]
    assert entry_pattern.tolist() == [0, 1, 2, 2, 3, 3]
    weight = count[entry_pattern]
    assert np.bincount(entry_cell, weights=weight).tolist() == [4, 2, 2]
    assert np.bincount(entry_cell, weights=weight * entry_y).tolist() == [3, 1, 0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_patterns_are_each_units_sorted_cases_counted_in_the_documented_order(seed):
    """Against a plain-Python reference: a unit's pattern is the sorted tuple of its
    (cell, outcome) codes; single-case patterns first by code, then the others by length
    and content, each with its number of units; units labelled by text or number."""
    rng = np.random.default_rng(seed)
    n = 3000
    cell, y = rng.integers(0, 9, n), rng.integers(0, 2, n)
    unit = rng.integers(0, 1800, n).astype(str) if seed else rng.integers(0, 1800, n)
    codes: dict = {}
    for c, outcome, u in zip(cell, y, unit, strict=True):
        codes.setdefault(u, []).append(2 * int(c) + int(outcome))
    counted = Counter(tuple(sorted(v)) for v in codes.values())
    keys = sorted(counted, key=lambda t: (len(t) > 1, len(t), t))
    entry_cell, entry_y, entry_pattern, count = unit_patterns(cell, y, unit)
    got = [
        tuple(2 * entry_cell[entry_pattern == k] + entry_y[entry_pattern == k].astype(int))
        for k in range(len(count))
    ]
    assert got == keys
    assert count.tolist() == [counted[k] for k in keys]
    assert max(len(k) for k in keys) >= 4  # several lengths of several cases were met


def test_the_term_is_integrated_and_says_why(cases):
    auto = build_formula_design(cases, STUDY)
    marked = build_formula_design(cases, STUDY, integrate=["person_id"])
    assert "chosen by the engine" in auto.integrated.reason
    assert "marked" in marked.integrated.reason
    assert auto.describe()["integrated"]["n_levels"] == cases["person_id"].nunique()
    assert [b.factor for b in auto.blocks] == ["nationality"]
    assert "person_id" not in auto.cells.columns
    assert without_group_term(STUDY, "person_id") == "assisted ~ n_procedures + (1 | nationality)"
    with pytest.raises(ConfigError, match="competing outcomes"):
        build_formula_design(cases, STUDY.replace("assisted", "outcome"))
    with pytest.raises(ConfigError, match="only an intercept"):
        build_formula_design(
            cases, "assisted ~ (1 + n_procedures | person_id)", integrate=["person_id"]
        )


@pytest.mark.sampling
@pytest.mark.parametrize("formula", [STUDY, CROSSED, CORRELATED, NESTED])
def test_engine_likelihood_matches_a_per_person_reference(cases, formula):
    design = build_formula_design(cases, formula)
    frame = cases.assign(assisted=(cases["outcome"] == "assisted_return").astype(int))
    for theta in _points(design, 4, seed=3):
        engine = _unit_loglik(design, theta)
        reference = _reference_loglik(design, frame, _expanded(design, theta))
        assert abs(engine - reference) <= 1e-6 * abs(reference), (engine, reference)


@pytest.mark.sampling
def test_fifteen_and_thirty_nodes_agree(cases):
    """Non-adaptive quadrature: 15 nodes reach 1e-6 up to a person SD of 1.5
    (``QUADRATURE_NODES``' comment has the error by SD)."""
    design = build_formula_design(cases, STUDY)
    few = replace(design, integrated=replace(design.integrated, nodes=15))
    many = replace(design, integrated=replace(design.integrated, nodes=30))
    for theta in _points(design, 4, seed=5, top=1.5):
        a, b = _unit_loglik(few, theta), _unit_loglik(many, theta)
        assert abs(a - b) <= 1e-6 * abs(b), (a, b)


@pytest.mark.sampling
@pytest.mark.parametrize("formula", [STUDY, CROSSED, CORRELATED])
def test_gradient_matches_finite_differences(cases, formula):
    design = build_formula_design(cases, formula)
    arrays, _ = engine_inputs(design)
    engine = _engine_of(arrays)
    inputs = [arrays[n] for n, _, _ in INPUTS]
    step = 1e-5
    for theta in _points(design, 2, seed=7):
        _, grad = engine.logp_fn(theta, *inputs)
        numeric = np.empty_like(theta)
        for i in range(len(theta)):
            up, down = theta.copy(), theta.copy()
            up[i] += step
            down[i] -= step
            change = engine.logp_fn(up, *inputs)[0] - engine.logp_fn(down, *inputs)[0]
            numeric[i] = change / (2 * step)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-4)


@pytest.mark.sampling
def test_engine_deviance_matches_glmer_adaptive_quadrature():
    """glmer(y ~ x + (1 | person), nAGQ = 25)'s deviance at fixed (sigma, beta) is
    -2 log L of the Bernoulli cases with the person integrated out; the engine's at
    the same point (x centred in the data, so the intercepts are the same)."""
    reference = json.loads((FIXTURES / "glmer_person_deviance.json").read_text())
    data = pd.read_csv(FIXTURES / "glmer_person_data.csv")
    design = build_formula_design(data, "y ~ x + (1 | person)", integrate=["person"])
    assert abs(design.centres["x"]) < 1e-12
    for point in reference["points"]:
        theta = np.array([point["intercept"], point["x"], np.log(point["sigma"])])
        deviance = -2.0 * _unit_loglik(design, theta)
        assert abs(deviance - point["deviance"]) <= 1e-6 * point["deviance"], (deviance, point)


def _persons_with_frailty(n_cases: int, sd: float, seed: int) -> pd.DataFrame:
    """Simulated cases (1-3 a person) with a binary response drawn here from a model of
    exactly the formula's terms (slope -0.3 on ``n_procedures``, nationality SD 0.5) plus
    a person effect of SD ``sd``: the simulator's own outcomes depend on more predictors
    than these formulas have."""
    cases = rm.simulate_cases(n_cases=n_cases, random_seed=seed).cases
    rng = np.random.default_rng(seed)
    person = pd.factorize(cases["person_id"])[0]
    nationality = pd.factorize(cases["nationality"])[0]
    eta = (
        -1.5
        - 0.3 * (cases["n_procedures"].to_numpy() - 2)
        + rng.normal(0, 0.5, nationality.max() + 1)[nationality]
        + rng.normal(0, sd, person.max() + 1)[person]
    )
    y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    return pd.DataFrame(
        {
            "y": y,
            "n_procedures": cases["n_procedures"],
            "nationality": cases["nationality"],
            "person_id": cases["person_id"],
        }
    )


@pytest.mark.sampling
@pytest.mark.slow
def test_a_fit_recovers_the_person_sd_the_nationality_sd_and_the_slope():
    """On simulated sets of two sizes, the truth of each of the three (person SD 1.0,
    nationality SD 0.5, slope -0.3) lies within 3.5 posterior SDs of its posterior mean
    (about 1 in 2,000 by chance for each), and the larger set knows the person SD
    better."""
    truths = {"person_id_sigma": 1.0, "nationality_sigma": 0.5, "n_procedures": -0.3}
    spread = {}
    for n_cases, seed in ((8000, 11), (24000, 12)):
        data = _persons_with_frailty(n_cases, sd=1.0, seed=seed)
        result = rm.fit(
            data,
            "y ~ n_procedures + (1 | nationality) + (1 | person_id)",
            draws=1000,
            tune=1000,
            chains=4,
            random_seed=3,
            progressbar=False,
        )
        described = json.loads(result.attrs["returnmodels_design"])["integrated"]
        assert "chosen by the engine" in described["reason"]
        assert "person_id_effect" not in result["posterior"]
        verdict = rm.check_convergence(result)
        assert verdict.passed, (n_cases, str(verdict))
        for name, truth in truths.items():
            draws = result["posterior"][name].values.ravel()
            z = abs(draws.mean() - truth) / draws.std()
            assert z < 3.5, (n_cases, name, draws.mean(), draws.std())
        spread[n_cases] = float(result["posterior"]["person_id_sigma"].std())
    assert spread[24000] < spread[8000], spread


@pytest.mark.sampling
def test_fit_and_the_cli_integrate_a_term_the_user_names(tmp_path):
    """``integrate=`` (and ``--integrate``) integrates a (1 | g) term the automatic rule
    would sample (few, larger levels), and the result says the user asked for it."""
    data = _persons_with_frailty(1500, sd=1.0, seed=5)
    small = data.assign(household=data["person_id"].str[:-1])  # a handful of persons each
    tiny = {"draws": 30, "tune": 50, "chains": 2, "random_seed": 1, "progressbar": False}
    result = rm.fit(small, "y ~ n_procedures + (1 | household)", integrate=["household"], **tiny)
    described = json.loads(result.attrs["returnmodels_design"])["integrated"]
    assert described["factor"] == "household" and "marked" in described["reason"]
    assert "household_effect" not in result["posterior"]
    assert json.loads(result.attrs["returnmodels_config"])["integrate"] == ["household"]
    sampled = rm.fit(small, "y ~ n_procedures + (1 | household)", **tiny)
    assert "household_effect" in sampled["posterior"]
    path = tmp_path / "households.csv"
    small.to_csv(path, index=False)
    out = tmp_path / "fit"
    arguments = ["fit", "--data", str(path), "--formula", "y ~ n_procedures + (1 | household)"]
    arguments += ["--integrate", "household", "--out", str(out), "--draws", "30", "--tune", "50"]
    assert main([*arguments, "--chains", "2"]) in (0, 3)  # 3: a tiny fit may fail the gate
    config = json.loads((out / "fit_manifest.json").read_text())["config"]
    assert config["integrate"] == ["household"]


def test_simulated_persons_keep_their_cells_and_draw_outcomes_at_the_true_sd(cases):
    """SBC's data sets for a person fit: every person keeps their cells (so each cell
    keeps its cases), outcomes are drawn given a person effect at the drawn SD, and a
    larger SD makes a person's cases more alike."""
    from returnmodels.inference.model_checks import _simulated
    from returnmodels.inference.prior_predictive import draw_prior

    design = build_formula_design(cases, STUDY)
    rng = np.random.default_rng(1)
    truth = draw_prior(design, 1, rng)
    assert "person_id_sigma" in truth and truth["person_id_sigma"].values.item() > 0
    term = design.integrated

    def cases_per_cell(t):
        weight = t.pattern_count[t.entry_pattern]
        return np.bincount(t.entry_cell, weights=weight, minlength=design.n_cells)

    def pair_log_odds_ratio(sd: float) -> float:  # of two-case persons' two outcomes
        at = truth.copy(deep=True)
        at["person_id_sigma"][...] = sd
        at["Intercept"][...], at["n_procedures"][...] = -0.5, 0.0  # no other source of
        at["nationality_effect"][...] = 0.0  # likeness than the person
        simulated = _simulated(design, at, np.random.default_rng(2)).integrated
        np.testing.assert_array_equal(cases_per_cell(simulated), cases_per_cell(term))
        two = np.flatnonzero(np.bincount(simulated.entry_pattern) == 2)
        first = np.searchsorted(simulated.entry_pattern, two)
        pairs = simulated.entry_y[first] * 2 + simulated.entry_y[first + 1]
        table = np.bincount(pairs.astype(int), simulated.pattern_count[two], 4) + 0.5
        discordant = (table[1] + table[2]) / 2  # a pattern sorts its pair: (0, 1) only
        return float(np.log(table[0] * table[3] / discordant**2))

    assert abs(pair_log_odds_ratio(0.01)) < 0.5  # alike by chance only
    assert pair_log_odds_ratio(3.0) > 2.0


@pytest.mark.slow
@pytest.mark.sampling
def test_simulation_based_calibration_of_the_person_sd():
    """SBC on the engine for a person fit (reduced sizes): the ranks of the true person
    SD among the posterior draws are uniform."""
    data = _persons_with_frailty(1200, sd=1.0, seed=9)
    result = rm.run_sbc(
        data,
        formula="y ~ n_procedures + (1 | person_id)",
        n_replications=24,
        draws=150,
        tune=200,
        chains=2,
        n_rank_draws=49,
        parameters=["person_id_sigma", "Intercept"],
        random_seed=4,
    )
    tests = result.tests()  # indexed by parameter
    assert min(tests.loc["person_id_sigma", ["chi2_p", "ks_p"]]) > 0.001, tests
    ranks = result.ranks["person_id_sigma"]
    assert 0.15 < ranks.mean() / 49 < 0.85  # not piled at either end

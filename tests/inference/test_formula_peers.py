"""Formula fits agree with peers on the same model and data (issue 13, item 5).

Each test fits one model twice, in returnmodels (``fit(formula=...)``) and in a peer
written independently (bambi 0.21; a hand-written PyMC model where bambi has no
equivalent: bambi's group effects are never correlated), with the same coding and the
same priors, and asks of every shared parameter that the two posterior means agree
within Monte Carlo error: ``z = (mean_a - mean_b) / sqrt(mcse_a^2 + mcse_b^2)``,
``|z| < Z_MAX``. Both fits must first pass their convergence checks (the returnmodels
verdict; R-hat < 1.01, no divergences and bulk ESS >= 400 for the peer), since a
Monte Carlo error means nothing otherwise.

Making the models identical:

* numeric predictors: returnmodels centres them at their case-weighted mean; the peers
  are given the variable already centred at that mean (bambi with
  ``center_predictors=False``, so its intercept is the same intercept: the log-odds at
  the centred predictors and the reference levels);
* categorical predictors: bambi's reference is the first level in sorted order
  (``"a"``), which is not the most common level in the data, so returnmodels is told
  ``reference={"c": "a"}``;
* priors: the intercept Normal(0, 10) (wide, so that where a peer puts its intercept
  prior could not matter even if it differed), every common coefficient Normal(0, 2.5),
  every group SD HalfNormal(1), the correlation LKJ(2); group effects non-centred in the
  peers (returnmodels samples data-rich levels centred: the same model).

The peers' sampler settings are whatever makes each converge (they change how well the
posterior is explored, not the posterior): bambi's non-centred intercepts of data-rich
levels are strongly correlated with the common intercept, so the varying-slope peers use
nutpie's low-rank mass matrix; with only 6 levels of h the crossed model's SD has a
funnel, where bambi needs ``target_accept=0.95`` (low-rank diverges there).

The data are simulated with fixed seeds, as binomial cells (``s | trials(n)``) in the
crossed test and as binary rows in the varying-slope tests (returnmodels aggregates them
into cells; the peers are given the cells), which keeps every likelihood a few hundred
terms long and the whole module about one to two minutes on two cores (most of it the
peers' compilation: more when PyTensor's cache is cold).

Checked to be able to fail (each by changing one side only): bambi's group SD priors
HalfNormal(0.3) (|z| 8 to 15 on the SDs), returnmodels given 5% fewer cells (|z| up to
18), bambi's coefficient prior Normal(0, 0.5) (x: z 9.5), bambi given uncentred x
(intercept: z 279), PyMC's LKJ eta 4 or 1 instead of 2 (g_corr: z 12, -4.4), PyMC's SD
prior HalfNormal(0.5) (z 11, 7); returnmodels with its default reference is refused by
the coding check.

"""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import nutpie
import pandas as pd
import pymc as pm
import pytest
import xarray as xr
from scipy.special import expit

from returnmodels.inference.fit import fit

pytestmark = pytest.mark.slow
bmb = pytest.importorskip("bambi")

#: Largest |z| accepted for one parameter. With about a dozen comparisons per test, two
#: correct implementations exceed it with probability ~1e-3 (the seeds are fixed, so a
#: passing test stays passing); a wrong prior, coding or likelihood moves a posterior
#: mean by many Monte Carlo errors, which are 1/30 to 1/60 of a posterior SD here.
Z_MAX = 4.0
DRAWS = TUNE = 1000
CHAINS = 4

INTERCEPT = {"dist": "Normal", "mu": 0.0, "sigma": 10.0}
COEFFICIENTS = {"dist": "Normal", "mu": 0.0, "sigma": 2.5}
SIGMA = {"dist": "HalfNormal", "sigma": 1.0}
CORR = {"dist": "LKJ", "eta": 2.0}
PRIORS = {"intercept": INTERCEPT, "coefficients": COEFFICIENTS, "sigma": SIGMA, "corr": CORR}


def _bambi_prior(spec: dict):
    return bmb.Prior(spec["dist"], **{k: v for k, v in spec.items() if k != "dist"})


def _bambi_group_prior():
    return bmb.Prior("Normal", mu=0.0, sigma=_bambi_prior(SIGMA))


# ---------------------------------------------------------------- comparison


def _mean_mcse(draws: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and its Monte Carlo SE (arviz's ``mcse``, method "mean"), per
    element of a (chain, draw, ...) array."""
    data = draws.rename("v").to_dataset()
    mcse = az.mcse(data, sample_dims=["chain", "draw"], method="mean")["v"]
    mean = draws.mean(["chain", "draw"])
    return np.atleast_1d(mean.to_numpy()), np.atleast_1d(np.asarray(mcse))


def z_scores(pairs: dict) -> dict[str, float]:
    """``{name: z}`` for ``{name: (ours, theirs)}`` (DataArrays, same trailing shape)."""
    scores = {}
    for name, (a, b) in pairs.items():
        (ma, sa), (mb, sb) = _mean_mcse(a), _mean_mcse(b)
        assert ma.shape == mb.shape, f"{name}: shapes {ma.shape} and {mb.shape}"
        z = (ma - mb) / np.hypot(sa, sb)
        for k, value in enumerate(z):
            scores[name if len(z) == 1 else f"{name}[{k}]"] = float(value)
    return scores


def assert_agree(pairs: dict) -> dict[str, float]:
    scores = z_scores(pairs)
    shown = ", ".join(f"{k}: {v:+.2f}" for k, v in scores.items())
    print(f"z-scores: {shown}")
    bad = {k: round(v, 2) for k, v in scores.items() if not abs(v) < Z_MAX}
    assert not bad, f"posterior means differ by more than {Z_MAX} MC errors: {bad} ({shown})"
    return scores


def assert_ours_converged(result) -> None:
    verdict = json.loads(result.attrs["returnmodels_verdict"])
    assert verdict["passed"], f"returnmodels fit did not pass its convergence checks: {verdict}"


def assert_peer_converged(idata, var_names: list[str]) -> None:
    posterior = idata["posterior"].to_dataset()[var_names]
    rhat = az.rhat(posterior, sample_dims=["chain", "draw"])
    ess = az.ess(posterior, sample_dims=["chain", "draw"], method="bulk")
    worst_rhat = max(float(rhat[v].max()) for v in var_names)
    worst_ess = min(float(ess[v].min()) for v in var_names)
    divergences = int(idata["sample_stats"]["diverging"].sum())
    assert worst_rhat < 1.01, f"peer R-hat {worst_rhat:.4f}"
    assert worst_ess >= 400, f"peer bulk ESS {worst_ess:.0f}"
    assert divergences == 0, f"peer: {divergences} divergent transitions"


def _cells(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Binary rows aggregated to binomial cells (s successes of n), as the peers see them."""
    return rows.groupby(by, sort=True).agg(s=("y", "sum"), n=("y", "size")).reset_index()


# ---------------------------------------------------------------- crossed groups


@pytest.fixture(scope="module")
def crossed() -> pd.DataFrame:
    """20 levels of g crossed with 6 of h and 3 of c: 360 cells of 4 to 32 cases (about
    4,900 cases), x continuous by cell; level "b" of c is the most common (twice the
    cases of "a" and "c"), so returnmodels' default reference would differ from bambi's."""
    rng = np.random.default_rng(20260113)
    g, h, c = (a.ravel() for a in np.meshgrid(np.arange(20), np.arange(6), np.arange(3)))
    n = rng.integers(4, 17, g.size) * np.array([1, 2, 1])[c]
    x = rng.normal(1.0, 1.0, g.size)
    u_g = rng.normal(0.0, 0.6, 20)
    u_h = rng.normal(0.0, 0.5, 6)
    b_g = rng.normal(0.0, 0.4, 20)
    beta_c = np.array([0.0, 0.4, -0.5])
    beta_xc = np.array([0.0, 0.3, -0.4])
    eta = -0.3 + (0.6 + beta_xc[c] + b_g[g]) * (x - 1.0) + beta_c[c] + u_g[g] + u_h[h]
    return pd.DataFrame(
        {
            "s": rng.binomial(n, expit(eta)),
            "n": n,
            "x": x,
            "c": np.array(["a", "b", "c"])[c],
            "g": [f"g{i:02d}" for i in g],
            "h": [f"h{i}" for i in h],
        }
    )


def test_crossed_groups_interaction_and_uncorrelated_slope_agree_with_bambi(crossed):
    """``x * c + (1 | g) + (0 + x | g) + (1 | h)``: crossed intercepts, an interaction of
    a numeric and a categorical predictor, and a varying slope uncorrelated with its
    group's intercept (which is what bambi fits), in returnmodels and in bambi."""
    ours = fit(
        crossed,
        formula="s | trials(n) ~ x * c + (1 | g) + (0 + x | g) + (1 | h)",
        priors=PRIORS,
        reference={"c": "a"},
        draws=DRAWS,
        tune=TUNE,
        chains=CHAINS,
        random_seed=1,
    )
    centre = np.average(crossed["x"], weights=crossed["n"])
    model = bmb.Model(
        "p(s, n) ~ x * c + (1|g) + (0 + x|g) + (1|h)",
        crossed.assign(x=crossed["x"] - centre),
        family="binomial",
        priors={
            "Intercept": _bambi_prior(INTERCEPT),
            "x": _bambi_prior(COEFFICIENTS),
            "c": _bambi_prior(COEFFICIENTS),
            "x:c": _bambi_prior(COEFFICIENTS),
            "1|g": _bambi_group_prior(),
            "x|g": _bambi_group_prior(),
            "1|h": _bambi_group_prior(),
        },
        center_predictors=False,
    )
    theirs = model.fit(  # a longer warm-up: at 1,000 its R-hat was 1.016 on one machine
        draws=DRAWS, tune=2 * TUNE, chains=CHAINS, random_seed=2, inference_method="nutpie",
        target_accept=0.95, progressbar=False,
    )  # fmt: skip
    post, peer = ours["posterior"], theirs["posterior"]
    # the same coding: the same non-reference levels, in the same order
    assert list(post["c"]["c_level"].values) == list(peer["c"]["c_dim"].values) == ["b", "c"]
    assert list(post["x:c"]["x:c_level"].values) == list(peer["x:c"]["x:c_dim"].values)
    shared = ["Intercept", "x", "c", "x:c", "1|g_sigma", "x|g_sigma", "1|h_sigma"]
    assert_ours_converged(ours)
    assert_peer_converged(theirs, shared)
    assert_agree(
        {
            "Intercept": (post["Intercept"], peer["Intercept"]),
            "x": (post["x"], peer["x"]),
            "c": (post["c"], peer["c"]),
            "x:c": (post["x:c"], peer["x:c"]),
            "g_sigma": (post["g_sigma"], peer["1|g_sigma"]),
            "g_x_sigma": (post["g_x_sigma"], peer["x|g_sigma"]),
            "h_sigma": (post["h_sigma"], peer["1|h_sigma"]),
            "g_effect": (post["g_effect"][..., :3], peer["1|g"][..., :3]),
        }
    )


# ---------------------------------------------------------------- correlated slope


@pytest.fixture(scope="module")
def slopes() -> pd.DataFrame:
    """30 levels of g x 150 binary rows; x takes 7 values (so rows aggregate to cells);
    intercept SD 0.8, slope SD 0.5, their correlation 0.5."""
    rng = np.random.default_rng(20260114)
    n_levels, per_level = 30, 150
    g = np.repeat(np.arange(n_levels), per_level)
    x = rng.binomial(6, 0.4, g.size).astype(float)
    sd = np.array([0.8, 0.5])
    cov = np.outer(sd, sd) * np.array([[1.0, 0.5], [0.5, 1.0]])
    u = rng.multivariate_normal(np.zeros(2), cov, n_levels)
    eta = -0.2 + u[g, 0] + (0.5 + u[g, 1]) * (x - 2.4)
    return pd.DataFrame({"y": rng.binomial(1, expit(eta)), "x": x, "g": [f"g{i:02d}" for i in g]})


def _pymc_correlated(cells: pd.DataFrame) -> pm.Model:
    """``s | trials(n) ~ x + (1 + x | g)`` written out: non-centred, LKJCholeskyCov."""
    levels, index = np.unique(cells["g"], return_inverse=True)
    with pm.Model(coords={"g": levels, "term": ["Intercept", "x"]}) as model:
        intercept = pm.Normal("Intercept", INTERCEPT["mu"], INTERCEPT["sigma"])
        slope = pm.Normal("x", COEFFICIENTS["mu"], COEFFICIENTS["sigma"])
        chol, corr, sds = pm.LKJCholeskyCov(
            "chol", n=2, eta=CORR["eta"], sd_dist=pm.HalfNormal.dist(SIGMA["sigma"], shape=2),
            compute_corr=True,
        )  # fmt: skip
        pm.Deterministic("g_sigma", sds[0])
        pm.Deterministic("g_x_sigma", sds[1])
        pm.Deterministic("g_corr", corr[0, 1])
        z = pm.Normal("z", 0.0, 1.0, dims=("g", "term"))
        u = pm.Deterministic("u", z @ chol.T, dims=("g", "term"))
        x = cells["x"].to_numpy()
        eta = intercept + u[index, 0] + (slope + u[index, 1]) * x
        pm.Binomial("s", n=cells["n"].to_numpy(), logit_p=eta, observed=cells["s"].to_numpy())
    return model


def test_uncorrelated_slope_agrees_with_bambi(slopes):
    """``y ~ x + (1 | g) + (0 + x | g)`` against bambi's ``(x|g)``, which is the same
    model there: bambi's ``(x|g)`` is ``(1|g) + (x|g)``, two independent terms."""
    ours = fit(slopes, formula="y ~ x + (1 | g) + (0 + x | g)", priors=PRIORS, draws=DRAWS,
               tune=TUNE, chains=CHAINS, random_seed=5)  # fmt: skip
    cells = _cells(slopes, ["g", "x"]).assign(x=lambda d: d["x"] - slopes["x"].mean())
    model = bmb.Model(
        "p(s, n) ~ x + (x|g)",
        cells,
        family="binomial",
        priors={
            "Intercept": _bambi_prior(INTERCEPT),
            "x": _bambi_prior(COEFFICIENTS),
            "1|g": _bambi_group_prior(),
            "x|g": _bambi_group_prior(),
        },
        center_predictors=False,
    )
    # two terms, each with its own SD and nothing joining them
    terms = model.components[model.family.likelihood.parent].group_specific_terms
    assert sorted(terms) == ["1|g", "x|g"]
    theirs = model.fit(
        draws=DRAWS, tune=TUNE, chains=CHAINS, random_seed=6, inference_method="nutpie",
        nuts={"adaptation": "low_rank"}, progressbar=False,
    )  # fmt: skip
    post, peer = ours["posterior"], theirs["posterior"]
    assert_ours_converged(ours)
    assert_peer_converged(theirs, ["Intercept", "x", "1|g_sigma", "x|g_sigma"])
    assert_agree(
        {
            "Intercept": (post["Intercept"], peer["Intercept"]),
            "x": (post["x"], peer["x"]),
            "g_sigma": (post["g_sigma"], peer["1|g_sigma"]),
            "g_x_sigma": (post["g_x_sigma"], peer["x|g_sigma"]),
            "g_effect": (post["g_effect"][..., :3], peer["1|g"][..., :3]),
            "g_x_effect": (post["g_x_effect"][..., :3], peer["x|g"][..., :3]),
        }
    )


def test_correlated_slope_agrees_with_pymc(slopes):
    """``y ~ x + (1 + x | g)``, correlated (LKJ), against the model written in PyMC and
    sampled by nutpie (low-rank mass matrix: the non-centred intercepts of data-rich
    levels are strongly correlated with the common intercept)."""
    ours = fit(slopes, formula="y ~ x + (1 + x | g)", priors=PRIORS, draws=DRAWS,
               tune=TUNE, chains=CHAINS, random_seed=3)  # fmt: skip
    cells = _cells(slopes, ["g", "x"]).assign(x=lambda d: d["x"] - slopes["x"].mean())
    theirs = nutpie.sample(
        nutpie.compile_pymc_model(_pymc_correlated(cells)), draws=DRAWS, tune=TUNE,
        chains=CHAINS, seed=4, adaptation="low_rank", progress_bar=False,
    )  # fmt: skip
    post, peer = ours["posterior"], theirs["posterior"]
    shared = ["Intercept", "x", "g_sigma", "g_x_sigma", "g_corr"]
    assert_ours_converged(ours)
    assert_peer_converged(theirs, shared)
    pairs = {name: (post[name], peer[name]) for name in shared}
    pairs["g_effect"] = (post["g_effect"][..., :3], peer["u"][..., :3, 0])
    pairs["g_x_effect"] = (post["g_x_effect"][..., :3], peer["u"][..., :3, 1])
    assert list(post["g_effect"]["g"].values[:3]) == list(peer["u"]["g"].values[:3])
    assert_agree(pairs)

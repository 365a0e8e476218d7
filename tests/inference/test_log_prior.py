"""The ``log_prior`` group of formula fits (what ``az.psense_summary`` power-scales), the
power-scaling line of ``rm.summary``, and LOO without ArviZ's wall of Pareto k warnings."""

from __future__ import annotations

import warnings
from dataclasses import replace

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

import returnmodels as rm
from fakes import fake_fit, fake_formula_rows
from returnmodels.disclosure.posterior import INTERNAL_GROUPS
from returnmodels.engine.design import build_formula_design
from returnmodels.engine.inputs import engine_inputs
from returnmodels.engine.log_prior import formula_log_prior, lkj_logpdf
from returnmodels.inference.loo import PARETO_K_GOOD, pareto_note
from returnmodels.inference.results import result_config
from returnmodels.summaries.fit_summary import sensitivity

FORMULA = "assisted ~ n_procedures + cooperation + (1 | nationality)"


@pytest.fixture(scope="module")
def cases():
    return rm.simulate_cases(n_cases=3000, random_seed=7).cases


@pytest.fixture(scope="module")
def tiny_fit(cases):
    return rm.fit(cases, formula=FORMULA, draws=100, tune=100, chains=2, random_seed=3)


def _user_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


# ------------------------------------------------------------------ log_prior, no sampling


def test_lkj_density_is_normalised():
    """m = 2: (r + 1) / 2 ~ Beta(eta, eta); m = 3, eta = 1: uniform over the 3 x 3
    correlation matrices, whose volume is pi^2 / 2."""
    r = np.array([-0.8, 0.1, 0.6])
    omega = np.stack([np.array([[1.0, v], [v, 1.0]]) for v in r])
    expected = stats.beta.logpdf((r + 1) / 2, 2.5, 2.5) - np.log(2.0)
    np.testing.assert_allclose(lkj_logpdf(omega, 2.5), expected)
    omega3 = np.array([[1.0, 0.3, -0.2], [0.3, 1.0, 0.4], [-0.2, 0.4, 1.0]])
    np.testing.assert_allclose(lkj_logpdf(omega3, 1.0), -np.log(np.pi**2 / 2))


def test_every_prior_class_enters_with_its_recorded_parameters():
    """A correlated block: each SD's half-normal, the correlation's LKJ (m = 2, so a
    scaled Beta) and the coefficients' Normal and Student-t, from a posterior laid out
    as the engine lays out its draws."""
    rng = np.random.default_rng(4)
    priors = {
        "corr": {"eta": 3.0},
        "sigma": {"sigma": 0.5},
        "x": {"dist": "StudentT", "nu": 4.0, "mu": 0.5, "sigma": 2.0},
    }
    design = build_formula_design(fake_formula_rows(rng), "y ~ x + (1 + x | g)", priors=priors)
    layout = engine_inputs(design)[1]
    posterior = xr.Dataset(
        {
            name: (("chain", "draw", *layout.dims.get(name, ())), rng.uniform(0.1, 0.9, (2, 5, *s)))
            for name, s in zip(layout.names, layout.shapes, strict=True)
        },
        coords={"chain": [0, 1], "draw": np.arange(5)} | layout.coords,
    )
    found = formula_log_prior(posterior, design)
    assert set(found.data_vars) == {"Intercept", "x", "g_sigma", "g_x_sigma", "g_corr"}
    r = posterior["g_corr"].values
    np.testing.assert_allclose(found["g_corr"], stats.beta.logpdf((r + 1) / 2, 3, 3) - np.log(2))
    for name in ("g_sigma", "g_x_sigma"):
        expected = stats.halfnorm.logpdf(posterior[name].values, scale=0.5)
        np.testing.assert_allclose(found[name], expected)
    x = posterior["x"].values
    np.testing.assert_allclose(found["x"], stats.t.logpdf(x, 4.0, 0.5, 2.0))
    intercept = stats.norm.logpdf(posterior["Intercept"].values, 0, 2.5)
    np.testing.assert_allclose(found["Intercept"], intercept)


def test_log_prior_stays_internal_to_a_release():
    assert "log_prior" in INTERNAL_GROUPS


# ------------------------------------------------------------------ a tiny fit


@pytest.mark.sampling
def test_log_prior_is_the_recorded_priors_summed_per_draw(tiny_fit):
    """No group effect's N(0, sigma) and no offset: the parameters' priors only."""
    priors = result_config(tiny_fit)["priors"]
    assert priors["coefficients"] == {"dist": "Normal", "mu": 0.0, "sigma": 2.5}
    post = tiny_fit["posterior"].to_dataset()
    total = tiny_fit["log_prior"].to_dataset().to_array().sum("variable")
    assert total.dims == ("chain", "draw")
    for chain, draw in ((0, 0), (0, 57), (1, 99)):
        at = post.isel(chain=chain, draw=draw)
        by_hand = (
            stats.norm.logpdf(float(at["Intercept"]), 0.0, 2.5)
            + stats.norm.logpdf(float(at["n_procedures"]), 0.0, 2.5)
            + stats.norm.logpdf(at["cooperation"].values, 0.0, 2.5).sum()
            + stats.halfnorm.logpdf(float(at["nationality_sigma"]), scale=1.0)
        )
        assert float(total.isel(chain=chain, draw=draw)) == pytest.approx(by_hand, rel=1e-10)


@pytest.mark.sampling
def test_a_prior_scale_changes_log_prior_as_its_density_does(tiny_fit, cases):
    post = tiny_fit["posterior"].to_dataset()
    narrow = build_formula_design(cases, FORMULA, priors={"n_procedures": {"sigma": 0.5}})
    changed = formula_log_prior(post, narrow)
    kept = tiny_fit["log_prior"].to_dataset()
    b = post["n_procedures"].values
    expected = stats.norm.logpdf(b, 0, 0.5) - stats.norm.logpdf(b, 0, 2.5)
    np.testing.assert_allclose(changed["n_procedures"] - kept["n_procedures"], expected)
    np.testing.assert_allclose(changed["Intercept"], kept["Intercept"])


@pytest.mark.sampling
def test_psense_summary_runs_on_the_fit_and_on_its_saved_file(tiny_fit, tmp_path):
    rows = sum(
        int(np.prod([v.sizes[d] for d in v.dims if d not in ("chain", "draw")]))
        for v in tiny_fit["posterior"].to_dataset().data_vars.values()
    )
    fresh = az.psense_summary(tiny_fit)
    assert len(fresh) == rows and {"prior", "likelihood", "diagnosis"} <= set(fresh.columns)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rm.save_result(tiny_fit, tmp_path / "fit.nc")
    assert _user_warnings(caught) == []  # ArviZ's Pareto k warning of the loo group
    loaded = rm.load_result(tmp_path / "fit.nc")
    assert "log_prior" in loaded.children
    np.testing.assert_allclose(az.psense_summary(loaded)["prior"], fresh["prior"])


@pytest.mark.sampling
def test_summary_shows_the_parameters_psense_flags(tiny_fit):
    table = az.psense_summary(tiny_fit)
    flagged = table[table["diagnosis"] != "✓"]
    shown = rm.summary(tiny_fit)
    assert list(shown.sensitivity["parameter"]) == list(flagged.index)
    assert "  sensitivity  " in str(shown)


# ------------------------------------------------------------------ fakes: psense, LOO


def _with_groups(tree: xr.DataTree, log_prior: dict, log_lik: np.ndarray) -> xr.DataTree:
    tree = tree.copy()
    coords = {"chain": tree["posterior"]["chain"].values, "draw": tree["posterior"]["draw"].values}
    tree["log_prior"] = xr.Dataset(
        {k: (("chain", "draw"), v) for k, v in log_prior.items()}, coords=coords
    )
    cells = {"cell": np.arange(log_lik.shape[-1])}
    tree["log_likelihood"] = xr.Dataset(
        {"assisted": (("chain", "draw", "cell"), log_lik)}, coords=coords | cells
    )
    return tree


def test_summary_flags_a_parameter_both_prior_and_likelihood_pull():
    fit = fake_fit({"AAA": 400, "BBB": 300}, random_seed=1)
    b = fit["posterior"]["n_procedures"].values
    z = (b - b.mean()) / b.std()
    cells = fit["observed_data"].sizes["cell"]
    log_lik = np.repeat((-5.0 * z**2 / cells)[..., None], cells, axis=-1)
    fit = _with_groups(fit, {"n_procedures": -5.0 * z**2}, log_lik)
    table = sensitivity(fit)
    row = table.set_index("parameter").loc["n_procedures"]
    assert row["diagnosis"] == "potential prior-data conflict"
    assert row["prior"] > 0.05 and row["likelihood"] > 0.05
    text = str(rm.summary(fit))
    assert f"{len(table)} parameter(s) flagged by power-scaling" in text
    assert "n_procedures" in text.split("Prior sensitivity")[1]


def test_summary_shows_ten_level_effects_and_counts_the_rest():
    flagged = pd.DataFrame(
        {
            "parameter": ["g_sigma"] + [f"g_effect[L{i}]" for i in range(14)],
            "prior": 0.1,
            "likelihood": 0.2,
            "diagnosis": "potential prior-data conflict",
        }
    )
    shown = replace(rm.summary(fake_fit({"AAA": 400, "BBB": 300})), sensitivity=flagged)
    title, table, note = shown.tables()[-1]
    assert title.startswith("Prior sensitivity")
    assert list(table["parameter"]) == ["g_sigma"] + [f"g_effect[L{i}]" for i in range(10)]
    assert "4 more group levels' effects flagged" in note
    assert "15 parameter(s) flagged" in str(shown)


def test_summary_says_when_psense_cannot_run():
    shown = rm.summary(fake_fit({"AAA": 400, "BBB": 300}))
    assert shown.sensitivity is None
    assert "not computed (the fit has no log_prior" in str(shown)


def _heavy_tailed_fit(random_seed: int) -> xr.DataTree:
    """A fake fit whose first cells' log-likelihood has a Cauchy tail: Pareto k > 0.7."""
    fit = fake_fit({"AAA": 400, "BBB": 300}, random_seed=0)
    rng = np.random.default_rng(random_seed)
    cells = fit["observed_data"].sizes["cell"]
    log_lik = rng.normal(-1.0, 0.05, (2, 50, cells))
    log_lik[..., :4] = -np.abs(rng.standard_cauchy((2, 50, 4)))
    return _with_groups(fit, {"n_procedures": np.zeros((2, 50))}, log_lik)


def test_compare_and_save_print_no_warning_wall_but_count_the_bad_cells(tmp_path):
    fits = {"a": _heavy_tailed_fit(1), "b": _heavy_tailed_fit(2)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = rm.compare_models(fits)
        rm.save_result(fits["a"], tmp_path / "a.nc")
    assert _user_warnings(caught) == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ks = {n: az.loo(f, var_name="assisted", pointwise=True).pareto_k for n, f in fits.items()}
    for name, k in ks.items():
        bad = int((k > PARETO_K_GOOD).sum())
        assert bad >= 1
        assert table.loc[name, "n_pareto_k_bad"] == bad
        assert f"{name}: {bad} of {k.size} cells with Pareto k > 0.7" in table.attrs["note"]
    assert "leaves out a cell of cases with the same predictors" in table.attrs["note"]


def test_pareto_note_writes_thousands():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loo = az.loo(_heavy_tailed_fit(3), var_name="assisted", pointwise=True)
    loo.pareto_k = xr.DataArray(np.r_[np.full(1191, 0.2), np.full(8, 0.9)], dims="cell")
    assert pareto_note(loo).startswith("8 of 1,199 cells with Pareto k > 0.7; ")

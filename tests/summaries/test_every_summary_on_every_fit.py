"""Every public summary runs on a formula fit with an interaction, a crossed group and a
correlated slope, as on a registered fit (no KeyError for a kind of fit)."""

from __future__ import annotations

import arviz as az
import matplotlib
import numpy as np
import pytest

import returnmodels as rm
from returnmodels.report import notebook

matplotlib.use("Agg")

FORMULA = (
    "assisted ~ n_procedures * cooperation + (1 + n_procedures | nationality) + (1 | closing_year)"
)


@pytest.fixture(scope="module")
def formula_fit(small_cases):
    return rm.fit(small_cases, FORMULA, draws=100, tune=150, chains=2, random_seed=3)


@pytest.mark.sampling
@pytest.mark.parametrize("kind", ["formula", "registered"])
def test_every_public_summary_runs(kind, formula_fit, smoke_fits, small_cases):
    fit = formula_fit if kind == "formula" else smoke_fits("group_predictors")
    nationality = str(small_cases["nationality"].value_counts().index[0])
    other = str(small_cases["nationality"].value_counts().index[1])
    tables = {
        "margins": rm.margins(fit, {"n_procedures": [1, 3]}, by="cooperation"),
        "comparisons": rm.comparisons(fit, "n_procedures", [1, 3], by="cooperation"),
        "odds_ratios": rm.odds_ratios(fit),
        "group_effects": rm.group_effects(fit),
        "contrast": rm.contrast(fit, nationality, other),
        "new_group": rm.predict_new_group(
            fit, {"cooperation": "high"}, new_groups="sample", random_seed=1
        ),
        "ppc": rm.ppc_shares(fit, "cooperation"),
    }
    for name, table in tables.items():
        assert len(table) > 0, name
        numbers = table.select_dtypes("number")
        assert np.isfinite(numbers.to_numpy(float)).all(), name
    shares = tables["margins"]["mean"]
    assert shares.between(0, 1).all()
    assert set(tables["group_effects"]["nationality"]) >= {nationality, other}
    rm.summary(fit)
    rm.plot_margins(fit, {"n_procedures": [1, 3]}, by="cooperation")
    matplotlib.pyplot.close("all")


@pytest.mark.sampling
@pytest.mark.parametrize("kind", ["formula", "registered"])
def test_figures_take_a_fit_and_show_values_in_their_natural_order(kind, formula_fit, smoke_fits):
    fit = formula_fit if kind == "formula" else smoke_fits("group_predictors")
    ax = rm.plot_ppc(fit, "cooperation")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["little", "medium", "extensive"]
    ax = rm.plot_caterpillar(fit)
    assert len(ax.get_yticklabels()) > 0
    matplotlib.pyplot.close("all")


@pytest.mark.sampling
def test_prior_sensitivity_is_psense_of_the_published_population_parameters(formula_fit):
    table = notebook.prior_sensitivity(formula_fit)
    assert {"Intercept", "n_procedures", "nationality_sigma", "closing_year_sigma"} <= set(
        table.index
    )
    assert not any("_effect" in name for name in table.index)  # no group level
    full = az.psense_summary(formula_fit)
    assert table.loc["nationality_sigma", "prior"] == full.loc["nationality_sigma", "prior"]
    assert (table[["prior", "likelihood"]].to_numpy(float) >= 0).all()


@pytest.mark.sampling
def test_a_saved_formula_fit_rebuilds_its_log_likelihood_for_loo(formula_fit, tmp_path):
    """A saved formula fit that leaves its log-likelihood out keeps no copy of LOO
    either: it rebuilds the log-likelihood from its posterior and cells, value for
    value and in the stored order of cells, so comparisons from the file are the
    fresh fit's."""
    from returnmodels.inference.loo import pointwise_loo, with_log_likelihood
    from returnmodels.inference.results import load_result, save_result

    loaded = load_result(save_result(formula_fit, tmp_path / "f.nc", log_likelihood=False))
    assert "log_likelihood" not in loaded.children and "loo" not in loaded.children
    rebuilt = with_log_likelihood(loaded)["log_likelihood"]["assisted"]
    stored = formula_fit["log_likelihood"]["assisted"]
    assert rebuilt.dims == stored.dims
    np.testing.assert_array_equal(rebuilt.values, stored.values)
    fresh, from_file = pointwise_loo(formula_fit), pointwise_loo(loaded)
    assert from_file.elpd == pytest.approx(fresh.elpd, abs=1e-9)
    np.testing.assert_allclose(from_file.pareto_k, fresh.pareto_k, atol=1e-12)
    table = rm.compare_models({"fresh": formula_fit, "file": loaded})
    assert table.loc["file", "elpd"] == pytest.approx(table.loc["fresh", "elpd"], abs=1e-9)


@pytest.mark.sampling
def test_a_fit_too_large_to_keep_its_log_likelihood_rebuilds_it_in_process(
    formula_fit, small_cases, monkeypatch
):
    """Above the size a fit keeps (``KEPT_MAX_BYTES``, here 0) the fitting process leaves
    the log-likelihood out as a saved file does, and LOO and the power-scaling check
    rebuild it: the same numbers as the fit that kept it (same data, same seed)."""
    from returnmodels.engine import log_likelihood
    from returnmodels.inference.loo import pointwise_loo
    from returnmodels.summaries.fit_summary import power_scaling

    monkeypatch.setattr(log_likelihood, "KEPT_MAX_BYTES", 0)
    lean = rm.fit(small_cases, FORMULA, draws=100, tune=150, chains=2, random_seed=3)
    assert "log_likelihood" not in lean.children and "log_likelihood" in formula_fit.children
    np.testing.assert_array_equal(
        lean["posterior"]["Intercept"].values, formula_fit["posterior"]["Intercept"].values
    )
    kept, rebuilt = pointwise_loo(formula_fit), pointwise_loo(lean)
    assert rebuilt.elpd == pytest.approx(kept.elpd, abs=1e-9)
    np.testing.assert_allclose(rebuilt.pareto_k, kept.pareto_k, atol=1e-12)
    names = ["Intercept", "n_procedures"]
    pd_kept, pd_rebuilt = power_scaling(formula_fit, names), power_scaling(lean, names)
    assert pd_rebuilt is not None
    np.testing.assert_allclose(
        pd_rebuilt[["prior", "likelihood"]].to_numpy(float),
        pd_kept[["prior", "likelihood"]].to_numpy(float),
        atol=1e-9,
    )

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

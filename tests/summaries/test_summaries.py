"""Summaries on tiny fits: shapes, columns, explicit choices, refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from returnmodels.errors import ConfigError
from returnmodels.report.model_figures import plot_caterpillar, plot_margins, plot_ppc
from returnmodels.summaries import (
    compare_models,
    contrast,
    group_effects,
    margins,
    odds_ratios,
    parameter_summary,
    ppc_shares,
    predict_new_group,
)

pytestmark = pytest.mark.sampling  # every test here reads tiny fits


def test_margins_table(smoke_fits):
    table = margins(smoke_fits("group_predictors"))
    assert list(table.columns) == ["predictor", "value", "mean", "hdi_lower", "hdi_upper"]
    procedures = table[table["predictor"] == "n_procedures"]
    assert procedures["value"].tolist()[:3] == ["1", "2", "3"]
    assert (procedures["mean"].diff().dropna() < 0).all()  # uptake falls with procedures
    assert ((table["hdi_lower"] <= table["mean"]) & (table["mean"] <= table["hdi_upper"])).all()
    assert set(table["predictor"]) >= {"n_procedures", "cooperation", "closing_year"}


def test_competing_outcome_margins_sum_to_one(smoke_fits):
    table = margins(smoke_fits("competing_outcomes"), {"cooperation": ["low", "high"]})
    assert table["outcome"].nunique() == 6
    sums = table.groupby("value")["mean"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-9)


def test_odds_ratios_and_summary(smoke_fits):
    result = smoke_fits("group_predictors")
    table = odds_ratios(result)
    assert "cooperation[high]" in set(table["term"]) and (table["odds_ratio"] > 0).all()
    summary = parameter_summary(result)
    assert {"hdi94_lb", "hdi94_ub", "convergence"} <= set(summary.columns)
    assert "gender[female]" in summary.index


def test_group_effects_contrast_and_new_groups(smoke_fits):
    result = smoke_fits("group_predictors")
    effects = group_effects(result)
    assert {"raw_share", "share_mean", "effect_mean"} <= set(effects.columns)
    a, b = effects.sort_values("n")["nationality"].iloc[-2:]
    table = contrast(result, a, b)
    assert list(table["measure"]) == ["share_difference", "odds_ratio"]
    with pytest.raises(ConfigError, match="'nationality' has no level 'ZZZ'"):
        contrast(result, a, "ZZZ")
    with pytest.raises(ConfigError, match="new_groups"):
        predict_new_group(result, {"cooperation": "high"}, new_groups="accident")
    population = predict_new_group(result, {"cooperation": "high"}, new_groups="population")
    sampled = predict_new_group(result, {"cooperation": "high"}, new_groups="sample", random_seed=1)
    width = lambda t: float(t["hdi_upper"].iloc[0] - t["hdi_lower"].iloc[0])  # noqa: E731
    assert width(sampled) > width(population)


def test_ppc_and_plots(smoke_fits):
    result = smoke_fits("varying_slopes")
    table = ppc_shares(result, "n_procedures")
    assert {"observed_share", "mean", "inside"} <= set(table.columns)
    values = table["n_procedures"].astype(int).tolist()  # numbers ascending, 2 before 10
    assert values == sorted(values) and max(values) >= 10
    by_cooperation = ppc_shares(result, "cooperation")["cooperation"].tolist()
    assert by_cooperation == ["low", "medium", "high"]  # the schema's order, not the text's
    plot_ppc(result, table)
    plot_caterpillar(result, group_effects(result))
    plot_margins(result, margins(result, {"n_procedures": [1, 2, 3]}), "n_procedures")


def test_loo_comparison(smoke_fits):
    table = compare_models({m: smoke_fits(m) for m in ("pooled", "group_predictors")})
    assert {"elpd", "elpd_diff", "dse", "pareto_k_max", "n_pareto_k_bad"} <= set(table.columns)
    assert sorted(table.index) == ["group_predictors", "pooled"]
    assert table["elpd_diff"].iloc[0] == 0 and (table["elpd_diff"] <= 0).all()  # best first
    with pytest.raises(ConfigError):
        compare_models({"c": smoke_fits("competing_outcomes"), "p": smoke_fits("pooled")})


def test_saved_results_compare_exactly_like_fresh_fits(smoke_fits, tmp_path):
    """Saved results leave out the (large) log-likelihood and keep no copy of the LOO:
    it is rebuilt from the posterior and the cells (pooled's split by nationality,
    which its formula does not name), to the stored values; the comparison from the
    files equals the one from the fits."""
    from returnmodels.engine.log_likelihood import result_log_likelihood
    from returnmodels.inference.results import load_result, save_result

    names = ("pooled", "varying_intercepts")
    fresh = compare_models({m: smoke_fits(m) for m in names})
    for m in names:
        save_result(smoke_fits(m), tmp_path / f"{m}.nc", log_likelihood=False)
    loaded = {m: load_result(tmp_path / f"{m}.nc") for m in names}
    assert all(not {"log_likelihood", "loo"} & set(r.children) for r in loaded.values())
    rebuilt = result_log_likelihood(loaded["pooled"])
    xr.testing.assert_equal(rebuilt, smoke_fits("pooled")["log_likelihood"].to_dataset())
    from_files = compare_models(loaded)
    pd.testing.assert_frame_equal(fresh, from_files.loc[fresh.index])


def test_a_small_saved_result_keeps_its_log_likelihood_for_arviz(smoke_fits, tmp_path):
    """Below LOG_LIKELIHOOD_MAX_BYTES the saved file follows ArviZ's convention: az.loo
    and az.compare work on it directly, and give what the fit gives."""
    import arviz as az

    from returnmodels.inference.results import LOG_LIKELIHOOD_MAX_BYTES, load_result, save_result

    fit = smoke_fits("pooled")
    assert fit["log_likelihood"].to_dataset().nbytes <= LOG_LIKELIHOOD_MAX_BYTES
    loaded = load_result(save_result(fit, tmp_path / "pooled.nc"))
    assert "log_likelihood" in loaded.children
    assert "loo" not in loaded.children  # the log-likelihood gives it: no second copy
    assert az.loo(loaded).elpd == pytest.approx(az.loo(fit).elpd)
    table = az.compare({"a": loaded, "b": load_result(save_result(fit, tmp_path / "b.nc"))})
    assert set(table.index) == {"a", "b"}


def test_a_large_log_likelihood_is_left_out_and_compare_says_why(smoke_fits, tmp_path, monkeypatch):
    from returnmodels.inference import results

    monkeypatch.setattr(results, "LOG_LIKELIHOOD_MAX_BYTES", 0)
    fit = smoke_fits("competing_outcomes")  # two observed variables: no loo group
    loaded = results.load_result(results.save_result(fit, tmp_path / "c.nc"))
    assert "log_likelihood" not in loaded.children and "loo" not in loaded.children
    with pytest.raises(ConfigError, match="LOG_LIKELIHOOD_MAX_BYTES"):
        compare_models({"c": loaded, "d": loaded})

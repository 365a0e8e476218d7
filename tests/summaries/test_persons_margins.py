"""Margins of a fit with the person effect integrated out say what they average over:
population-averaged shares by default (each case's probability averaged over the
fitted persons), a typical person's on request."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import returnmodels as rm
from returnmodels.simulate.truth import logistic_normal_mean

SMALL = {"draws": 100, "tune": 150, "chains": 2, "random_seed": 2, "progressbar": False}


@pytest.fixture(scope="module")
def cases():
    return rm.simulate_cases(n_cases=3000, random_seed=4, person_sigma=1.2).cases


@pytest.fixture(scope="module")
def person_fit(cases):
    return rm.fit(cases, formula="assisted ~ n_procedures + (1 | person_id)", **SMALL)


@pytest.fixture(scope="module")
def independent_fit(cases):
    """The same cases, every case taken for a different person."""
    return rm.fit(cases, formula="assisted ~ n_procedures", **SMALL)


@pytest.mark.sampling
def test_margins_average_over_persons_unless_asked_for_a_typical_one(person_fit):
    """One term beside the person: every case set to n_procedures = v has the same
    linear predictor a + b (v - centre), so the margin per draw is the logistic-normal
    mean of it at that draw's person SD (averaged), or its inverse logit (typical)."""
    design = json.loads(person_fit.attrs["returnmodels_design"])
    assert design["integrated"]["factor"] == "person_id"
    posterior = person_fit["posterior"].to_dataset().stack(sample=("chain", "draw"))
    a, b = posterior["Intercept"].values, posterior["n_procedures"].values
    tau = posterior["person_id_sigma"].values
    centre = design["centres"]["n_procedures"]
    averaged = rm.margins(person_fit, {"n_procedures": [1, 3, 6]}).set_index("value")
    typical = rm.margins(person_fit, {"n_procedures": [1, 3, 6]}, persons="typical")
    typical = typical.set_index("value")
    for v in (1, 3, 6):
        eta = a + b * (v - centre)
        pairs = zip(eta, tau, strict=True)
        by_hand = np.mean([logistic_normal_mean(np.array([e]), t)[0] for e, t in pairs])
        assert averaged.loc[str(v), "mean"] == pytest.approx(by_hand, abs=1e-5)
        assert typical.loc[str(v), "mean"] == pytest.approx(expit(eta).mean(), abs=1e-6)
        # below one half, averaging over persons pulls a share towards one half
        assert typical.loc[str(v), "mean"] < averaged.loc[str(v), "mean"] < 0.5
    with pytest.raises(rm.ConfigError, match="persons must be one of"):
        rm.margins(person_fit, {"n_procedures": [1]}, persons="median")


@pytest.mark.sampling
def test_grids_and_comparisons_average_over_persons_too(person_fit):
    flat = rm.margins(person_fit, {"n_procedures": [1, 3]}).set_index("value")["mean"]
    grid = rm.margins(person_fit, {"n_procedures": [1, 3]}, grid=True)
    assert grid["mean"].to_numpy() == pytest.approx(flat.to_numpy(), abs=1e-5)
    difference = rm.comparisons(person_fit, "n_procedures", [1, 3]).set_index("measure")
    assert difference.loc["difference", "mean"] == pytest.approx(flat["3"] - flat["1"], abs=1e-5)


@pytest.mark.sampling
def test_loo_leaves_out_a_person_and_equals_arviz_on_one_column_per_person(person_fit):
    """The per-pattern log-likelihood, expanded to one column per person, is what
    ``az.loo`` takes; PSIS per pattern with the patterns' counts gives its numbers."""
    import arviz as az
    import xarray as xr

    from returnmodels.engine.log_likelihood import unit_log_likelihood
    from returnmodels.inference.loo import PersonLOO, pointwise_loo

    loo = pointwise_loo(person_fit)
    assert isinstance(loo, PersonLOO) and loo.unit == "person_id"
    counts = person_fit["units"]["pattern_count"].values
    assert loo.n_data_points == counts.sum()  # one observation per person
    per_pattern = unit_log_likelihood(person_fit)["assisted"]
    per_person = per_pattern.isel(pattern=np.repeat(np.arange(counts.size), counts))
    expanded = xr.DataTree.from_dict(
        {
            "posterior": person_fit["posterior"].to_dataset(),
            "log_likelihood": xr.Dataset({"assisted": per_person.rename(pattern="person")}),
        }
    )
    with np.errstate(all="ignore"):
        reference = az.loo(expanded, pointwise=True)
    assert loo.elpd == pytest.approx(float(reference.elpd), rel=1e-5)
    assert loo.se == pytest.approx(float(reference.se), rel=1e-4)
    # p_loo is lppd less elpd, both large: float32 log-likelihoods leave it within 1e-3
    assert loo.p == pytest.approx(float(reference.p), rel=1e-3)
    table = rm.loo_table(person_fit)
    assert table["left_out"] == "one level of person_id (all its cases)"
    assert table["n_points"] == counts.sum()
    with pytest.raises(rm.ConfigError, match="leaves out a unit"):
        rm.compare_models({"persons": person_fit, "again": person_fit})


@pytest.mark.sampling
def test_the_patterns_log_likelihood_is_the_per_person_one(person_fit):
    """Summed with the patterns' counts, the rebuilt per-pattern log-likelihood is the
    persons' log-likelihood computed case by case at the same draw (60-node
    quadrature per person, no patterns)."""
    from scipy.special import log_expit, logsumexp, roots_hermite

    from returnmodels.engine.log_likelihood import unit_log_likelihood

    cases = rm.simulate_cases(n_cases=3000, random_seed=4, person_sigma=1.2).cases
    per_pattern = unit_log_likelihood(person_fit)["assisted"].values
    counts = person_fit["units"]["pattern_count"].values
    centre = json.loads(person_fit.attrs["returnmodels_design"])["centres"]["n_procedures"]
    posterior = person_fit["posterior"]
    x, w = roots_hermite(60)
    y = (cases["outcome"] == "assisted_return").to_numpy(float)
    person = pd.factorize(cases["person_id"])[0]
    for chain, draw in [(0, 0), (1, 57)]:
        a = float(posterior["Intercept"][chain, draw])
        b = float(posterior["n_procedures"][chain, draw])
        tau = float(posterior["person_id_sigma"][chain, draw])
        eta = a + b * (cases["n_procedures"].to_numpy(float) - centre)
        per_case = log_expit((2 * y - 1)[:, None] * (eta[:, None] + np.sqrt(2) * tau * x))
        per_person = np.zeros((person.max() + 1, x.size))
        np.add.at(per_person, person, per_case)
        expected = logsumexp(per_person + np.log(w / np.sqrt(np.pi)), axis=1).sum()
        got = float(np.sum(counts * per_pattern[chain, draw].astype(float)))
        assert got == pytest.approx(expected, rel=1e-5)


@pytest.mark.sampling
def test_persons_comparison_sets_the_two_fits_side_by_side(person_fit, independent_fit):
    """Each number is the one its own fit gives: the person SD of the person fit, each
    fit's slope, each fit's margins (the person fit's averaged over persons), and the
    widths' ratio; the fits must be a person fit and one without."""
    independent = independent_fit
    table = rm.persons_comparison(person_fit, independent, {"n_procedures": [1, 4]})
    rows = table.set_index(["quantity", "value"])
    sd = person_fit["posterior"]["person_id_sigma"].values.ravel()
    assert rows.loc[("person_sd", ""), "with_mean"] == pytest.approx(sd.mean())
    assert np.isnan(rows.loc[("person_sd", ""), "without_mean"])
    slope = rows.loc[("coefficient", "")]
    assert slope["with_mean"] == pytest.approx(person_fit["posterior"]["n_procedures"].mean())
    assert slope["without_mean"] == pytest.approx(independent["posterior"]["n_procedures"].mean())
    for fit, side in ((person_fit, "with"), (independent, "without")):
        own = rm.margins(fit, {"n_procedures": [1, 4]}).set_index("value")
        for v in ("1", "4"):
            assert rows.loc[("margin", v), f"{side}_mean"] == pytest.approx(own.loc[v, "mean"])
            assert rows.loc[("margin", v), f"{side}_upper"] == own.loc[v, "hdi_upper"]
    margin = rows.loc[("margin", "4")]
    width = (margin["with_upper"] - margin["with_lower"]) / (
        margin["without_upper"] - margin["without_lower"]
    )
    assert margin["width_ratio"] == pytest.approx(width)
    with pytest.raises(rm.ConfigError, match="no integrated"):
        rm.persons_comparison(independent, person_fit)
    with pytest.raises(rm.ConfigError, match="integrates a person effect too"):
        rm.persons_comparison(person_fit, person_fit)


@pytest.mark.sampling
def test_the_persons_table_publishes_only_what_both_fits_may(person_fit, independent_fit):
    """Controlled as every output: all rows under the default rules on 3,000 cases,
    nothing when the fits rest on too few cases."""
    from returnmodels.disclosure import DisclosureRules
    from returnmodels.disclosure.marker import controlled_rules
    from returnmodels.report.notebook import controlled_persons

    independent = independent_fit
    table = rm.persons_comparison(person_fit, independent, {"n_procedures": [1, 2]})
    kept = controlled_persons(table, person_fit, independent)
    assert len(kept) == len(table) and controlled_rules(kept) is not None
    strict = DisclosureRules(min_cases=10**6)
    assert controlled_persons(table, person_fit, independent, strict).empty


@pytest.mark.sampling
def test_posterior_predictive_shares_average_over_persons(person_fit):
    """Replicated shares of a person fit come from each cell's probability averaged
    over persons: over all cases they match the observed share (a typical person's
    probability would fall short of it by several points at a person SD of 1.2)."""
    table = rm.ppc_shares(person_fit, "n_procedures")
    observed = np.average(table["observed_share"], weights=table["n"])
    replicated = np.average(table["mean"], weights=table["n"])
    assert replicated == pytest.approx(observed, abs=0.01)
    assert table["inside"].mean() >= 0.75

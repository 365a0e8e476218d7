"""A person frailty in the synthetic data: the cases of a person share their propensity,
the published figures stay calibrated (population-averaged over it), the truth says its
SD, and without it every draw is what it was."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.special import expit

from returnmodels.cli import main
from returnmodels.errors import ConfigError
from returnmodels.simulate import simulate_cases, truth_path_for
from returnmodels.simulate.calibrate import uptake_figures
from returnmodels.simulate.targets import COOPERATION_MARGINS, PROCEDURE_MARGINS
from returnmodels.simulate.truth import TrueParameters, logistic_normal_mean

N, SEED = 20_000, 5


@pytest.fixture(scope="module")
def frail():
    return simulate_cases(N, random_seed=SEED, person_sigma=1.5)


@pytest.fixture(scope="module")
def plain():
    return simulate_cases(N, random_seed=SEED, person_sigma=0.0)


@pytest.mark.parametrize("eta", [-4.0, -1.0, 0.0, 2.5])
@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.0])
def test_the_logistic_normal_mean_is_the_integral(eta, sigma):
    exact = integrate.quad(
        lambda v: expit(eta + sigma * v) * stats.norm.pdf(v), -14, 14, epsabs=1e-13
    )[0]
    assert logistic_normal_mean(np.array([eta]), sigma)[0] == pytest.approx(exact, abs=1e-5)
    assert logistic_normal_mean(np.array([eta]), 0.0)[0] == expit(eta)


def test_without_a_frailty_every_draw_is_as_before(plain):
    again = simulate_cases(N, random_seed=SEED, person_sigma=0.0)
    pd.testing.assert_frame_equal(plain.cases, again.cases)
    assert "person_sigma" not in plain.truth.to_dict()["uptake"]  # truth files unchanged


def test_a_frailty_changes_only_the_outcomes_and_is_in_the_truth(frail, plain):
    others = [c for c in plain.cases.columns if c not in ("outcome", "detention", "case_days")]
    pd.testing.assert_frame_equal(frail.cases[others], plain.cases[others])
    assert not frail.cases["outcome"].equals(plain.cases["outcome"])
    recorded = frail.truth.to_dict()["uptake"]
    assert recorded["person_sigma"] == 1.5
    assert TrueParameters.from_dict(frail.truth.to_dict()).uptake.person_sigma == 1.5


def test_the_cases_of_a_person_share_their_propensity(frail, plain):
    """Among persons with two cases, the two outcomes are more alike with a frailty
    than without (log odds ratio of the pair; without one they are alike through the
    shared nationality and covariates only)."""

    def pair_log_odds_ratio(simulation) -> float:
        cases = simulation.cases.sort_values(["person_id", "closing_year", "n_procedures"])
        twice = cases.groupby("person_id", observed=True).filter(lambda g: len(g) == 2)
        assisted = (twice["outcome"] == "assisted_return").to_numpy().reshape(-1, 2)
        table = pd.crosstab(assisted[:, 0], assisted[:, 1]).to_numpy() + 0.5
        return float(np.log(table[0, 0] * table[1, 1] / (table[0, 1] * table[1, 0])))

    with_frailty, without = pair_log_odds_ratio(frail), pair_log_odds_ratio(plain)
    assert with_frailty > without + 0.5


def test_the_published_figures_hold_population_averaged(frail):
    expected = uptake_figures(frail.truth.uptake, frail.cases)
    for value, target in PROCEDURE_MARGINS.items():
        assert expected[f"n_procedures={value}"] == pytest.approx(target, abs=0.015)
    for level, target in COOPERATION_MARGINS.items():
        assert expected[f"cooperation={level}"] == pytest.approx(target, abs=0.015)
    observed = (frail.cases["outcome"] == "assisted_return").mean()
    averaged = frail.truth.uptake_probability(frail.cases).mean()
    assert observed == pytest.approx(averaged, abs=4 * np.sqrt(averaged / N))


def test_conditional_coefficients_are_larger_than_without_frailty(frail, plain):
    """The same population shares need a steeper conditional slope per procedure when
    persons differ (attenuation of marginal logits): the truth is conditional."""
    assert frail.truth.uptake.n_procedures < plain.truth.uptake.n_procedures < 0


def test_a_negative_or_missing_sd_is_refused():
    for bad in (-0.1, float("nan")):
        with pytest.raises(ConfigError, match="person_sigma"):
            simulate_cases(500, random_seed=1, person_sigma=bad)


def test_the_cli_writes_the_sd_into_the_truth_file(tmp_path, capsys):
    out = tmp_path / "frail.parquet"
    assert main(["simulate", "--out", str(out), "--n-cases", "800", "--person-sd", "0.7"]) == 0
    truth = json.loads(truth_path_for(out).read_text())
    assert truth["parameters"]["uptake"]["person_sigma"] == 0.7


def test_the_bundled_data_carry_the_default_frailty():
    """The bundled cases were drawn with the default person SD (what `returnmodels
    simulate` regenerates them with), and the defaults of both entry points are it."""
    from conftest import TRUTH
    from returnmodels.simulate import DEFAULT_PERSON_SIGMA

    assert DEFAULT_PERSON_SIGMA > 0
    recorded = json.loads(TRUTH.read_text())["parameters"]["uptake"]["person_sigma"]
    assert recorded == DEFAULT_PERSON_SIGMA
    import inspect

    default = inspect.signature(simulate_cases).parameters["person_sigma"].default
    assert default == DEFAULT_PERSON_SIGMA

"""The synthetic case files: determinism, contract, exact truth, and the calibration targets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from returnmodels.cli import main
from returnmodels.data.validation import load_cases, validate_cases
from returnmodels.data.vocabulary import OUTCOMES
from returnmodels.errors import ConfigError
from returnmodels.files import sha256_file
from returnmodels.simulate import (
    DEFAULT_N_CASES,
    DEFAULT_SEED,
    TrueParameters,
    simulate_cases,
    truth_path_for,
    write_simulation,
)
from returnmodels.simulate.calibrate import uptake_figures
from returnmodels.simulate.profile import NATIONALITIES

DATA = Path(__file__).resolve().parents[2] / "data"
BUNDLED = DATA / "cases.parquet"
DEPARTURES = ["assisted_return", "independent_return", "forced_return", "unsupervised_departure"]


@pytest.fixture(scope="module")
def small():
    return simulate_cases(n_cases=4_000, random_seed=7)


@pytest.fixture(scope="module")
def bundled() -> pd.DataFrame:
    return load_cases(BUNDLED)


@pytest.fixture(scope="module")
def bundled_truth() -> dict:
    return json.loads(truth_path_for(BUNDLED).read_text())


# --- determinism and files ----------------------------------------------------------


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_same_seed_gives_byte_identical_files(tmp_path, suffix):
    first = write_simulation(simulate_cases(2_000, random_seed=11), tmp_path / f"a{suffix}")
    second = write_simulation(simulate_cases(2_000, random_seed=11), tmp_path / f"b{suffix}")
    for one, other in zip(first, second, strict=True):
        assert one.read_bytes() == other.read_bytes(), f"{one.name} differs from {other.name}"


def test_another_seed_gives_other_data():
    one = simulate_cases(2_000, random_seed=1).cases
    other = simulate_cases(2_000, random_seed=2).cases
    assert not one.equals(other)


def test_simulated_cases_satisfy_the_contract(small, tmp_path):
    validated = validate_cases(small.cases, source="simulated")
    assert len(validated) == 4_000
    cases_path, _ = write_simulation(small, tmp_path / "cases.csv")
    assert len(load_cases(cases_path)) == 4_000


def test_truth_file_holds_the_returned_parameters(small, tmp_path):
    _, truth_path = write_simulation(small, tmp_path / "cases.parquet")
    assert truth_path == tmp_path / "cases.truth.json"
    document = json.loads(truth_path.read_text())
    assert document["seed"] == 7 and document["n_cases"] == 4_000
    restored = TrueParameters.from_dict(document["parameters"])
    assert restored.uptake.intercept == pytest.approx(small.truth.uptake.intercept)
    assert restored.uptake.closing_year == small.truth.uptake.closing_year
    np.testing.assert_allclose(
        restored.outcome_probabilities(small.cases),
        small.truth.outcome_probabilities(small.cases),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    ("n_cases", "seed"), [(10, 1), (2.5, 1), ("1000", 1), (True, 1), (1000, -1), (1000, 1.5)]
)
def test_bad_arguments_are_refused(n_cases, seed):
    with pytest.raises(ConfigError, match="n_cases|random_seed"):
        simulate_cases(n_cases=n_cases, random_seed=seed)


def test_cli_simulate_writes_both_files_identically_twice(tmp_path, capsys):
    for name in ("a", "b"):
        args = ["simulate", "--out", str(tmp_path / f"{name}.parquet"), "--n-cases", "500"]
        assert main([*args, "--seed", "3"]) == 0
    assert "sha256" in capsys.readouterr().out
    for suffix in (".parquet", ".truth.json"):
        a, b = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
        assert a.read_bytes() == b.read_bytes()


# --- the data are drawn from the stated truth ----------------------------------------


def test_outcome_frequencies_match_true_probabilities(bundled, bundled_truth):
    """Observed counts agree with the truth's expected counts, outcome by outcome,
    within 4 binomial standard errors: the data come from the model the truth states."""
    truth = TrueParameters.from_dict(bundled_truth["parameters"])
    probabilities = truth.outcome_probabilities(bundled)
    expected = probabilities.sum(axis=0)
    sd = np.sqrt((probabilities * (1 - probabilities)).sum(axis=0))
    observed = np.array([(bundled["outcome"] == o).sum() for o in OUTCOMES])
    z = (observed - expected) / sd
    assert np.all(np.abs(z) < 4), dict(zip(OUTCOMES, z.round(2), strict=True))


def test_assisted_share_by_procedures_matches_truth(bundled, bundled_truth):
    truth = TrueParameters.from_dict(bundled_truth["parameters"])
    p = pd.Series(truth.uptake_probability(bundled), index=bundled.index)
    assisted = bundled["outcome"] == "assisted_return"
    for k in (1, 2, 3, 5):
        rows = bundled["n_procedures"] == k
        se = np.sqrt((p[rows] * (1 - p[rows])).sum()) / rows.sum()
        gap = assisted[rows].mean() - p[rows].mean()
        assert abs(gap) < 4 * se, f"n_procedures={k}: observed - expected = {gap:.4f}"


# --- the bundled data set ------------------------------------------------------------


def test_bundled_files_match_their_checksums():
    for line in (DATA / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert sha256_file(DATA / name) == digest, f"data/{name} does not match SHA256SUMS"


@pytest.mark.slow
def test_bundled_data_regenerate_byte_identically(tmp_path):
    cases_path, truth_path = write_simulation(
        simulate_cases(DEFAULT_N_CASES, DEFAULT_SEED), tmp_path / "cases.parquet"
    )
    assert sha256_file(cases_path) == sha256_file(BUNDLED)
    assert sha256_file(truth_path) == sha256_file(truth_path_for(BUNDLED))


def test_bundled_size(bundled):
    assert len(bundled) == 118_000
    assert bundled["case_id"].is_unique
    assert bundled["person_id"].nunique() < len(bundled)  # some persons have several cases


@pytest.mark.parametrize(
    ("outcome", "target"),
    [
        ("assisted_return", 0.10),
        ("independent_return", 0.08),
        ("forced_return", 0.13),
        ("unsupervised_departure", 0.41),
        ("legal_stay", 0.20),
        ("other", 0.08),
    ],
)
def test_outcome_mix(bundled, outcome, target):
    share = (bundled["outcome"] == outcome).mean()
    assert abs(share - target) <= 0.03, f"{outcome}: {share:.3f} vs target {target}"


def test_departure_split_follows_dtv(bundled):
    departed = bundled[bundled["outcome"].isin(DEPARTURES)]
    shares = departed["outcome"].value_counts(normalize=True)
    verified = shares["assisted_return"] + shares["independent_return"]
    assert abs(verified - 0.25) <= 0.03
    assert abs(shares["forced_return"] - 0.18) <= 0.03
    assert abs(shares["unsupervised_departure"] - 0.57) <= 0.03


def test_unsupervised_share_of_departures_falls(bundled):
    departed = bundled[bundled["outcome"].isin(DEPARTURES)]
    unsupervised = (
        (departed["outcome"] == "unsupervised_departure").groupby(departed["closing_year"]).mean()
    )
    early = unsupervised.loc[2017:2021]
    assert early.between(0.55, 0.65).all(), early.round(3).to_dict()
    assert abs(unsupervised.loc[2023] - 0.45) <= 0.03
    assert unsupervised.loc[2023] < early.min() - 0.08


def test_year_pattern(bundled):
    per_year = bundled["closing_year"].value_counts().sort_index()
    assert list(per_year.index) == list(range(2017, 2024))
    assert per_year.loc[2017:2019].min() > per_year.loc[2020:2022].max()  # high, then a dip
    assert per_year.loc[2023] > per_year.loc[2022]  # and a rise


def test_procedures_have_a_long_tail(bundled):
    k = bundled["n_procedures"]
    assert 0.28 <= (k == 1).mean() <= 0.34
    assert 0.045 <= (k >= 8).mean() <= 0.07
    assert k.min() == 1


def test_nationalities_are_many_and_unbalanced(bundled):
    sizes = bundled["nationality"].value_counts()
    assert 110 <= len(sizes) <= 130
    assert (sizes >= 2_000).sum() >= 5  # a handful with thousands
    assert (sizes < 10).sum() >= 10  # a long tail below the disclosure threshold
    large = {"MAR", "DZA", "NGA", "SYR", "IRQ", "IRN", "TUR", "AFG", "GEO", "ALB", "MDA", "IND"}
    assert large <= set(sizes.index[:20])


def test_cooperation_is_constant_within_nationality_and_mostly_medium_or_high(bundled):
    assert (bundled.groupby("nationality")["cooperation"].nunique() == 1).all()
    assert (bundled["cooperation"] != "low").mean() >= 0.75
    level = dict(NATIONALITIES)
    assert level["NGA"] == "high" and level["IRQ"] in {"low", "medium"}


def test_nigerians_take_up_assisted_return_less_than_iraqis(bundled):
    share = (bundled["outcome"] == "assisted_return").groupby(bundled["nationality"]).mean()
    assert share["NGA"] < share["IRQ"] - 0.03, share[["NGA", "IRQ"]].round(3).to_dict()


@pytest.mark.parametrize(
    ("figure", "target"),
    [
        ("n_procedures=1", 0.19),
        ("n_procedures=3", 0.09),
        ("n_procedures=6", 0.02),
        ("cooperation=high", 0.11),
        ("cooperation=low", 0.05),
    ],
)
def test_true_margins_hit_the_study_figures(bundled, bundled_truth, figure, target):
    """The *true* predictive margins on the bundled cases; fitted ones are tested with the
    models. Tolerance 1 point here, leaving room for estimation within the 1.5 of a fit."""
    truth = TrueParameters.from_dict(bundled_truth["parameters"])
    value = uptake_figures(truth.uptake, bundled)[figure]
    assert abs(value - target) <= 0.01, f"{figure}: {value:.4f} vs {target}"
    assert bundled_truth["expected_on_these_cases"][figure] == pytest.approx(value, abs=1e-6)


def test_cooperation_effects_are_ordered(bundled_truth):
    cooperation = bundled_truth["parameters"]["uptake"]["cooperation"]
    assert cooperation["low"] == 0 < cooperation["medium"] < cooperation["high"]
    assert bundled_truth["parameters"]["uptake"]["n_procedures"] < 0

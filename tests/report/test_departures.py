"""DT&V departure figures (:mod:`returnmodels.report.departures`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from returnmodels.disclosure import is_controlled
from returnmodels.report import departures

DEPARTURES = Path(__file__).resolve().parents[2] / "data" / "dtv_departures_by_year.csv"


def test_table_loads_with_trials_and_share():
    table = departures.load_departures(DEPARTURES)
    assert list(table["year"]) == list(range(2014, 2024))
    row = table.set_index("year").loc[2017]
    assert row[departures.TRIALS] == 3400 + 2700
    assert row["verified_share"] == pytest.approx(3400 / 6100)
    assert is_controlled(table)


def test_year_range_is_a_parameter():
    table = departures.load_departures(DEPARTURES, 2015, 2023)
    assert table["year"].min() == 2015 and len(table) == 9


def test_ml_reference_is_the_ten_year_fit():
    """The glmer intercept is (near) the mean of the ten yearly log-odds, 2014-2023."""
    table = departures.load_departures(DEPARTURES)
    logits = np.log(table[departures.SUCCESSES] / table["gedwongen_vertrek"])
    assert logits.mean() == pytest.approx(departures.ML_REFERENCE["intercept"], abs=0.01)


def test_synthetic_share_is_controlled(small_cases):
    shares = departures.synthetic_verified_share(small_cases)
    assert is_controlled(shares)
    assert (shares["n_demonstrable"].dropna() % 5 == 0).all()
    assert shares["verified_share"].dropna().between(0.3, 0.9).all()


@pytest.mark.slow
def test_posterior_agrees_with_the_ml_fit():
    table = departures.load_departures(DEPARTURES)
    result = departures.fit_departures(
        table, draws=1000, tune=1000, chains=4, random_seed=20251, target_accept=0.99
    )
    comparison = departures.compare_with_ml(result).set_index("parameter")
    intercept = comparison.loc["intercept (logit)", "posterior_mean"]
    sd = comparison.loc["year SD (logit)", "posterior_mean"]
    assert abs(intercept - 0.4265) < 0.15, f"intercept {intercept:.3f} vs ML 0.4265"
    assert 0.15 < sd < 0.45, f"year SD {sd:.3f} vs ML 0.257"
    shares = departures.year_shares(result, table)
    assert (
        shares["verified_share"].between(
            shares["share_hdi_lower"] - 0.01, shares["share_hdi_upper"] + 0.01
        )
    ).all()

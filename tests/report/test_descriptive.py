"""Descriptive tables are disclosure-controlled and faithful to the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from returnmodels.disclosure import DisclosureRules, is_controlled
from returnmodels.report.descriptive import (
    assisted_share_by,
    outcome_counts_by,
    outcome_shares,
    with_pooled_groups,
)
from returnmodels.simulate import simulate_cases

RULES = DisclosureRules(min_cases=10, rounding_base=5)


@pytest.fixture(scope="module")
def cases() -> pd.DataFrame:
    return simulate_cases(n_cases=3_000, random_seed=9).cases


@pytest.mark.parametrize("by", ["closing_year", "nationality", "n_procedures", "cooperation"])
def test_outcome_counts_are_controlled_rounded_and_close_to_the_truth(cases, by):
    table = outcome_counts_by(cases, by, RULES)
    assert is_controlled(table)
    values = table.to_numpy(float)
    shown = values[~np.isnan(values)]
    assert np.all(shown % 5 == 0), "published counts are multiples of 5"
    assert np.all((shown == 0) | (shown >= 10)), "no published count between 1 and 9"
    assert table.loc["total", "total"] == 3_000
    exact = cases["outcome"].value_counts()
    for outcome, count in table.loc["total"].drop("total").items():
        assert abs(count - exact[outcome]) <= 2.5


def test_procedures_are_top_coded(cases):
    table = outcome_counts_by(cases, "n_procedures", RULES)
    assert list(table.index[:-1]) == ["1", "2", "3", "4", "5", "6", "7", "8+"]


def test_small_nationalities_are_pooled_and_never_shown(cases):
    sizes = cases["nationality"].value_counts()
    small = set(sizes.index[sizes < 10])
    assert small, "the fixture needs nationalities below the threshold"
    pooled = with_pooled_groups(cases, "nationality", RULES)
    assert small.isdisjoint(set(pooled["nationality"]))
    assert (pooled["nationality"] == "other").sum() >= 10
    table = outcome_counts_by(cases, "nationality", RULES)
    assert small.isdisjoint(set(table.index)) and "other" in table.index


def test_shares_come_from_published_counts(cases):
    counts = outcome_counts_by(cases, "closing_year", RULES)
    shares = outcome_shares(counts)
    assert is_controlled(shares)
    expected = counts["assisted_return"] / counts["total"]
    pd.testing.assert_series_equal(shares["assisted_return"], expected.round(4), check_names=False)
    assert shares[counts.columns[:-1]].isna().equals(counts[counts.columns[:-1]].isna())


def test_assisted_share_suppresses_small_numerators_and_keeps_inputs(cases):
    before = cases.copy()
    table = assisted_share_by(cases, "n_procedures", RULES)
    pd.testing.assert_frame_equal(cases, before)
    assert is_controlled(table)
    published = table.dropna(subset=["share"])
    failures = published["n_cases"] - published["n_assisted"]
    assert published["n_assisted"].isin([0]).where(published["n_assisted"] < 10, True).all()
    assert failures.isin([0]).where(failures < 10, True).all()  # zeros follow the zero rule
    first = table.set_index("n_procedures").loc["1"]
    exact = (cases.loc[cases["n_procedures"] == 1, "outcome"] == "assisted_return").mean()
    assert first["share"] == pytest.approx(exact, abs=0.01)

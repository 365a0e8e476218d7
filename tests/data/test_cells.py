"""Aggregation into binomial cells conserves every total and the likelihood."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from returnmodels.data.cells import CELL_COLUMNS, aggregate_cells
from returnmodels.errors import ConfigError
from returnmodels.simulate import simulate_cases


@pytest.fixture(scope="module")
def cases() -> pd.DataFrame:
    return simulate_cases(n_cases=3_000, random_seed=5).cases


@pytest.fixture(scope="module")
def cells(cases) -> pd.DataFrame:
    return aggregate_cells(cases)


def test_grand_totals_are_conserved(cases, cells):
    assert cells["n_cases"].sum() == len(cases)
    assert cells["n_assisted"].sum() == (cases["outcome"] == "assisted_return").sum()


@pytest.mark.parametrize("column", CELL_COLUMNS)
def test_totals_by_every_column_are_conserved(cases, cells, column):
    by_rows = cases.groupby(column, observed=True).agg(
        n=("case_id", "size"), s=("outcome", lambda o: (o == "assisted_return").sum())
    )
    by_cells = cells.groupby(column, observed=True)[["n_cases", "n_assisted"]].sum()
    np.testing.assert_array_equal(by_rows["n"].to_numpy(), by_cells["n_cases"].to_numpy())
    np.testing.assert_array_equal(by_rows["s"].to_numpy(), by_cells["n_assisted"].to_numpy())


def test_cells_are_unique_nonempty_and_keep_dtypes(cases, cells):
    assert not cells.duplicated(list(CELL_COLUMNS)).any()
    assert (cells["n_cases"] >= 1).all()
    assert (cells["n_assisted"] <= cells["n_cases"]).all()
    assert cells["gender"].dtype == cases["gender"].dtype
    assert len(cells) < len(cases)


def test_input_is_not_modified(cases):
    before = cases.copy()
    aggregate_cells(cases, ["nationality", "family"])
    pd.testing.assert_frame_equal(cases, before)


def test_binomial_likelihood_of_cells_equals_bernoulli_likelihood_of_rows(cases, cells):
    """For any probability that depends on the cell's columns, the log-likelihood of the
    rows equals that of the cells up to the constant log binomial coefficients."""
    rng = np.random.default_rng(0)
    by = ["nationality", "n_procedures"]
    cells = aggregate_cells(cases, by)
    cells["p"] = rng.uniform(0.01, 0.99, size=len(cells))
    rows = cases.merge(cells[[*by, "p"]], on=by, how="left")
    y = (rows["outcome"] == "assisted_return").to_numpy()
    bernoulli = np.sum(np.where(y, np.log(rows["p"]), np.log1p(-rows["p"])))
    n, s, p = cells["n_cases"], cells["n_assisted"], cells["p"]
    log_choose = binom.logpmf(s, n, 0.5) - n * np.log(0.5)
    binomial = np.sum(binom.logpmf(s, n, p) - log_choose)
    assert binomial == pytest.approx(bernoulli, rel=1e-10)


def test_named_success_column(cases):
    frame = cases.assign(flag=cases["detention"])
    cells = aggregate_cells(frame, ["nationality"], success="flag")
    assert cells["n_assisted"].sum() == frame["detention"].sum()


@pytest.mark.parametrize(
    ("by", "success", "message"),
    [
        (["no_such_column"], None, "no_such_column"),
        ([], None, "at least one column"),
        (["nationality"], "no_such", "no_such"),
        (["nationality"], "n_procedures", "boolean"),
    ],
)
def test_bad_requests_are_refused(cases, by, success, message):
    with pytest.raises(ConfigError, match=message):
        aggregate_cells(cases, by, success=success)

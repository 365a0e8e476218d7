"""Disclosure control: every threshold at, just below and just above; zeros and NaN;
secondary suppression tested by trying to recover what it hides; inputs never mutated."""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from returnmodels.disclosure import (
    DEFAULT_RULES,
    DisclosureError,
    DisclosureRules,
    assert_not_case_level,
    control_counts,
    control_groups,
    control_shares,
    is_controlled,
    mark_controlled,
    marker_path,
    pool_small_groups,
    publishable,
    round_counts,
    smallest_published,
    write_controlled_csv,
)
from returnmodels.disclosure.suppression import suppressed_bridges
from returnmodels.errors import ConfigError
from returnmodels.files import sha256_file

EXACT = DisclosureRules(min_cases=10, rounding_base=1)  # no rounding: recovery is exact


# --- rules -------------------------------------------------------------------------------


def test_default_rules_and_round_trip():
    rules = DisclosureRules()
    assert rules.to_dict() == {"min_cases": 10, "rounding_base": 5, "suppress_zeros": False}
    assert json.loads(json.dumps(rules.to_dict())) == rules.to_dict()
    assert DisclosureRules.from_dict(rules.to_dict()) == rules == DEFAULT_RULES
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.min_cases = 3


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"min_cases": 0}, "min_cases=0"),
        ({"min_cases": -5}, "min_cases=-5"),
        ({"min_cases": 2.5}, "min_cases=2.5"),
        ({"min_cases": True}, "min_cases=True"),
        ({"min_cases": "10"}, "min_cases='10'"),
        ({"rounding_base": 0}, "rounding_base=0"),
        ({"rounding_base": None}, "rounding_base=None"),
        ({"suppress_zeros": "yes"}, "suppress_zeros='yes'"),
    ],
)
def test_bad_rules_name_parameter_value_and_what_is_allowed(settings, named):
    with pytest.raises(ConfigError, match="is not allowed") as error:
        DisclosureRules(**settings)
    assert named in str(error.value)
    assert "use " in str(error.value)


def test_unknown_settings_are_refused():
    with pytest.raises(ConfigError, match="unknown disclosure settings \\['dominance'\\]"):
        DisclosureRules.from_dict({"min_cases": 10, "dominance": 0.8})


def test_strictness_order():
    base = DisclosureRules()
    assert DisclosureRules(min_cases=11, rounding_base=10).at_least_as_strict_as(base)
    assert not DisclosureRules(min_cases=9).at_least_as_strict_as(base)
    assert not DisclosureRules(rounding_base=1).at_least_as_strict_as(base)
    assert not base.at_least_as_strict_as(DisclosureRules(suppress_zeros=True))


def test_rounding_is_to_the_nearest_multiple_halves_up():
    values = np.array([0, 1, 2, 3, 7, 8, 12, 13, np.nan])
    expected = np.array([0, 0, 0, 5, 5, 10, 10, 15, np.nan])
    np.testing.assert_array_equal(round_counts(values, 5), expected)
    np.testing.assert_array_equal(round_counts(values, 1), values)
    assert list(round_counts(pd.Series([2.5, 7.5]), 5)) == [5.0, 10.0]


@pytest.mark.parametrize(("value", "expected"), [(9, False), (10, True), (11, True)])
def test_publishable_at_the_threshold(value, expected):
    assert publishable([value], DEFAULT_RULES)[0] == expected


def test_publishable_zero_and_nan():
    assert list(publishable([0, np.nan], DEFAULT_RULES)) == [True, False]
    assert list(publishable([0], DisclosureRules(suppress_zeros=True))) == [False]


@pytest.mark.parametrize(("min_cases", "base", "floor"), [(10, 5, 10), (7, 5, 5), (12, 5, 10)])
def test_smallest_published(min_cases, base, floor):
    assert smallest_published(DisclosureRules(min_cases=min_cases, rounding_base=base)) == floor


# --- the attacker: what can be recovered from a published table and its totals -------------


def recoverable(published: pd.DataFrame) -> list[tuple[int, int]]:
    """Suppressed entries whose exact value follows from the published entries.

    Independent of the library's graph algorithm: linear algebra on the line equations.
    ``published`` has totals in its last row and column (two-way tables).
    """
    values = published.to_numpy(dtype=float)
    rows, columns = values.shape
    unknown = list(zip(*np.nonzero(np.isnan(values)), strict=True))
    equations = []
    for r in range(rows):
        equations.append([(r, c, 1 if c < columns - 1 else -1) for c in range(columns)])
    for c in range(columns):
        equations.append([(r, c, 1 if r < rows - 1 else -1) for r in range(rows)])
    matrix = np.array(
        [[next((s for (r, c, s) in eq if (r, c) == u), 0) for u in unknown] for eq in equations]
    )
    found = []
    rank = np.linalg.matrix_rank(matrix) if unknown else 0
    for k, entry in enumerate(unknown):
        unit = np.zeros(len(unknown))
        unit[k] = 1
        if np.linalg.matrix_rank(np.vstack([matrix, unit])) == rank:
            found.append((int(entry[0]), int(entry[1])))
    return found


def with_totals(table: pd.DataFrame) -> pd.DataFrame:
    full = table.copy()
    full["total"] = table.sum(axis=1)
    full.loc["total"] = full.sum(axis=0)
    return full


def test_the_attacker_recovers_a_cell_hidden_without_secondary_suppression():
    table = pd.DataFrame({"a": [3, 40], "b": [50, 60]}, index=["x", "y"])
    naive = with_totals(table).astype(float)
    naive.iloc[0, 0] = np.nan
    assert recoverable(naive) == [(0, 0)]


TABLE = pd.DataFrame(
    {"assisted": [3, 40, 15, 22], "forced": [40, 30, 12, 0], "legal": [50, 25, 60, 31]},
    index=pd.Index(["IRQ", "NGA", "SYR", "AFG"], name="nationality"),
)


def test_control_counts_suppresses_small_cells_and_protects_them():
    result = control_counts(TABLE, EXACT)
    assert list(result.index) == ["IRQ", "NGA", "SYR", "AFG", "total"]
    assert list(result.columns) == ["assisted", "forced", "legal", "total"]
    assert np.isnan(result.loc["IRQ", "assisted"])
    assert recoverable(result) == []
    assert result.loc["AFG", "forced"] == 0  # a zero is published by default
    exact = with_totals(TABLE)
    shown = result.notna().to_numpy()
    np.testing.assert_array_equal(result.to_numpy()[shown], exact.to_numpy(dtype=float)[shown])


@pytest.mark.parametrize("seed", range(60))
def test_no_suppressed_cell_is_recoverable_in_random_tables(seed):
    generator = np.random.default_rng(seed)
    rows, columns = generator.integers(2, 7, size=2)
    small = generator.random((rows, columns)) < 0.3
    values = np.where(
        small,
        generator.integers(0, 10, (rows, columns)),
        generator.integers(10, 200, (rows, columns)),
    )
    table = pd.DataFrame(values, columns=[f"c{j}" for j in range(columns)])
    result = control_counts(table, EXACT)
    assert recoverable(result) == []
    interior = result.iloc[:-1, :-1].to_numpy()
    primary = (values > 0) & (values < 10)
    assert np.isnan(interior[primary]).all()
    assert suppressed_bridges(result.isna().to_numpy()) == []


@pytest.mark.parametrize(("value", "suppressed"), [(9, True), (10, False), (11, False)])
def test_count_cell_at_the_threshold(value, suppressed):
    table = pd.DataFrame({"a": [value, 100], "b": [100, 100]})
    result = control_counts(table)
    assert np.isnan(result.iloc[0, 0]) == suppressed
    if not suppressed:
        assert result.iloc[0, 0] == 10  # 10 and 11 both round to 10


@pytest.mark.parametrize(("value", "suppressed"), [(6, True), (7, False), (8, False)])
def test_count_cell_at_a_configured_threshold(value, suppressed):
    rules = DisclosureRules(min_cases=7, rounding_base=1)
    result = control_counts(pd.DataFrame({"a": [value, 100], "b": [100, 100]}), rules)
    assert np.isnan(result.iloc[0, 0]) == suppressed


def test_counts_are_rounded_and_totals_rounded_on_their_own():
    table = pd.DataFrame({"a": [12, 13], "b": [14, 22]})
    result = control_counts(table)
    assert result.to_numpy().tolist() == [[10, 15, 25], [15, 20, 35], [25, 35, 60]]
    assert (result.to_numpy() % 5 == 0).all()


def test_small_totals_are_suppressed_too():
    result = control_counts(pd.DataFrame({"a": [2, 50], "b": [3, 60]}), EXACT)
    assert result.iloc[0].isna().all()  # the row total of 5 included
    assert recoverable(result) == []


def test_zeros_are_suppressed_when_the_rules_say_so():
    rules = DisclosureRules(rounding_base=1, suppress_zeros=True)
    result = control_counts(TABLE, rules)
    assert np.isnan(result.loc["AFG", "forced"])
    assert recoverable(result) == []


def test_a_zero_is_not_used_to_hide_a_cell_when_a_positive_cell_will_do():
    series = pd.Series([3, 40, 15, 0], name="n")
    result = control_counts(series, EXACT)
    assert list(result.index) == [0, 1, 2, 3, "total"]
    assert result["n"].isna().tolist() == [True, False, True, False, False]


@pytest.mark.parametrize(
    ("values", "hidden"), [([9, 40, 50], 2), ([10, 40, 50], 0), ([0, 40, 50], 0)]
)
def test_one_way_table_needs_two_hidden_entries_or_none(values, hidden):
    result = control_counts(pd.Series(values), EXACT)
    assert int(result.isna().sum().sum()) == hidden
    assert result.iloc[-1, 0] == sum(values)


def test_one_row_table_gets_a_total_column_only():
    result = control_counts(pd.DataFrame({"a": [3], "b": [40], "c": [50]}), EXACT)
    assert list(result.columns) == ["a", "b", "c", "total"] and len(result) == 1
    assert result.isna().sum(axis=1).iloc[0] == 2


def test_single_small_cell_hides_its_total_too():
    result = control_counts(pd.DataFrame({"a": [3]}), EXACT)
    assert result["a"].isna().all()


def test_missing_cells_stay_missing_count_as_zero_and_hide_nothing():
    table = pd.DataFrame({"a": [3.0, np.nan, 40], "b": [40, 20, 30], "c": [50, 30, 20]})
    result = control_counts(table, EXACT)
    assert np.isnan(result.iloc[1, 0])
    assert result.iloc[1, 3] == 50
    published = result.copy()
    published.iloc[1, 0] = 0.0  # the attacker knows a missing cell adds nothing
    assert recoverable(published) == []


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pd.DataFrame({"a": [-1, 20]}), "whole numbers >= 0"),
        (pd.DataFrame({"a": [1.5, 20]}), "row 1 has 1.5"),
        (pd.DataFrame({"a": ["x", "y"]}), "must hold counts"),
        (pd.DataFrame({"a": [True, False]}), "must hold counts"),
        (pd.DataFrame(), "empty"),
        (pd.DataFrame({"a": [1], "total": [1]}), "already has a 'total'"),
    ],
)
def test_bad_count_tables_are_refused(table, message):
    with pytest.raises(ConfigError, match=message):
        control_counts(table)


# --- shares ------------------------------------------------------------------------------


def shares(k, n, rules=DEFAULT_RULES):
    return control_shares(pd.DataFrame({"group": ["g"] * len(k), "k": k, "n": n}), "k", "n", rules)


@pytest.mark.parametrize(("k", "shown"), [(9, False), (10, True), (11, True)])
def test_share_needs_enough_successes(k, shown):
    result = shares([k], [100])
    assert result["share"].notna().iloc[0] == shown
    assert result["suppressed"].iloc[0] != shown
    assert result["n"].iloc[0] == 100  # the denominator alone is publishable


@pytest.mark.parametrize(("failures", "shown"), [(9, False), (10, True), (11, True)])
def test_share_needs_enough_failures(failures, shown):
    result = shares([50], [50 + failures])
    assert result["share"].notna().iloc[0] == shown
    assert result["k"].notna().iloc[0] == shown


@pytest.mark.parametrize(("n", "published"), [(9, False), (10, True), (11, True)])
def test_denominator_at_the_threshold(n, published):
    result = shares([0], [n])
    assert result["n"].notna().iloc[0] == published


def test_zero_and_full_shares_follow_the_zero_rule():
    default = shares([0, 20], [20, 20])
    assert default["share"].tolist() == [0.0, 1.0]
    strict = shares([0, 20], [20, 20], DisclosureRules(suppress_zeros=True))
    assert strict["share"].isna().all()


def test_share_is_computed_from_rounded_counts():
    result = shares([12], [23])
    assert result[["k", "n"]].iloc[0].tolist() == [10, 25]
    assert result["share"].iloc[0] == pytest.approx(0.4)


def test_share_nan_and_empty_groups_are_suppressed():
    result = shares([np.nan, 0], [50, 0])
    assert result["share"].isna().all() and result["suppressed"].all()
    assert result["n"].tolist()[0] == 50


def test_share_numerator_above_denominator_is_refused():
    with pytest.raises(ConfigError, match="'k' exceeds 'n' in row 1: 12 > 10"):
        shares([12], [10])


# --- groups ------------------------------------------------------------------------------


def groups(sizes):
    labels = [f"G{i}" for i in range(len(sizes))]
    return pd.DataFrame(
        {"nationality": labels, "n_cases": sizes, "mean": np.linspace(0.1, 0.5, len(sizes))}
    )


@pytest.mark.parametrize(("size", "pooled"), [(9, True), (10, False), (11, False)])
def test_group_at_the_threshold(size, pooled):
    frame = groups([size, 100, 200])
    assert ("G0" in pool_small_groups(frame, "nationality", "n_cases")) == pooled


def test_small_groups_are_pooled_into_other_and_the_pool_grows_until_safe():
    frame = groups([5, 3, 100, 40, 12])
    assert pool_small_groups(frame, "nationality", "n_cases") == ["G1", "G0", "G4"]
    result = control_groups(frame, "nationality", "n_cases")
    assert result["nationality"].tolist() == ["G2", "G3", "other"]
    assert result["n_cases"].tolist() == [100, 40, 20]
    assert np.isnan(result["mean"].iloc[-1])  # estimates cannot be summed
    assert is_controlled(result)


def test_small_groups_are_withheld_for_estimates():
    result = control_groups(groups([5, 6, 100, 40]), "nationality", "n_cases", pool=False)
    assert result["nationality"].tolist() == ["G2", "G3"]
    assert result["mean"].notna().all()


def test_everything_is_withheld_when_all_groups_together_are_too_few():
    assert len(control_groups(groups([2, 3, 4]), "nationality", "n_cases")) == 0


def test_no_small_groups_no_other_row():
    result = control_groups(groups([10, 50]), "nationality", "n_cases")
    assert result["nationality"].tolist() == ["G0", "G1"]


def test_pooling_by_keys_and_count_columns():
    frame = pd.DataFrame(
        {
            "nationality": ["A", "A", "B", "B", "C", "C"],
            "year": [2017, 2018] * 3,
            "n_cases": [3, 4, 4, 9, 60, 70],
            "n_assisted": [1, 1, 2, 9, 20, 30],
        }
    )
    result = control_groups(
        frame, "nationality", "n_cases", EXACT, count_columns=["n_assisted"], keys=["year"]
    )
    other = result[result["nationality"] == "other"]
    assert other["year"].tolist() == [2017, 2018]
    # A (7 cases) is small and B (13) joins it, so that the pool is not below 10 either
    assert other["n_cases"].tolist()[1] == 13 and np.isnan(other["n_cases"].iloc[0])
    assert other["n_assisted"].tolist()[1] == 10 and np.isnan(other["n_assisted"].iloc[0])


def test_other_label_already_used_is_refused():
    frame = groups([5, 6, 100])
    frame.loc[2, "nationality"] = "other"
    with pytest.raises(ConfigError, match="'other' is already a value"):
        control_groups(frame, "nationality", "n_cases")


# --- purity and marks --------------------------------------------------------------------


def test_inputs_are_never_mutated():
    table = TABLE.copy()
    frame = pd.DataFrame({"g": ["a", "b"], "k": [3, 30], "n": [40, 60]})
    grouped = groups([5, 3, 100, 40, 12])
    originals = [copy.deepcopy(x) for x in (table, frame, grouped)]
    control_counts(table)
    control_counts(table["assisted"])
    control_shares(frame, "k", "n")
    control_groups(grouped, "nationality", "n_cases")
    control_groups(grouped, "nationality", "n_cases", pool=False)
    for before, after in zip(originals, (table, frame, grouped), strict=True):
        pd.testing.assert_frame_equal(before, after)
        assert after.attrs == {}


def test_outputs_are_marked_and_raw_frames_are_not():
    rules = DisclosureRules(min_cases=12)
    result = control_counts(TABLE, rules)
    assert is_controlled(result)
    assert result.attrs["disclosure_controlled"] == rules.to_dict()
    assert not is_controlled(TABLE)


# --- writing -----------------------------------------------------------------------------


def test_write_controlled_csv_writes_the_csv_and_its_marker(tmp_path):
    path = write_controlled_csv(control_counts(TABLE), tmp_path / "table.csv")
    text = path.read_text().splitlines()
    assert text[0] == "nationality,assisted,forced,legal,total"
    assert text[1] == "IRQ,,,50,95"  # suppressed cells are empty, counts whole numbers
    marker = json.loads(marker_path(path).read_text())
    assert marker["rules"] == DEFAULT_RULES.to_dict()
    assert marker["sha256"] == sha256_file(path)
    assert marker["count_columns"] == ["assisted", "forced", "legal", "total"]
    assert marker["suppressed_cells"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv", "table.csv.disclosure.json"]


def test_row_numbers_are_not_written_but_labels_are(tmp_path):
    frame = pd.DataFrame({"k": [3, 30, 20], "n": [40, 60, 50]}).iloc[1:]
    path = write_controlled_csv(control_shares(frame, "k", "n"), tmp_path / "s.csv")
    assert path.read_text().splitlines()[0] == "k,n,share,suppressed"
    path = write_controlled_csv(control_counts(pd.Series([20, 30])), tmp_path / "c.csv")
    assert path.read_text().splitlines() == ["index,0", "0,20", "1,30", "total,50"]


def test_write_refuses_uncontrolled_frames(tmp_path):
    with pytest.raises(DisclosureError, match="not disclosure-controlled"):
        write_controlled_csv(TABLE, tmp_path / "raw.csv")
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_a_controlled_frame_edited_afterwards(tmp_path):
    edited = control_shares(pd.DataFrame({"k": [30], "n": [60]}), "k", "n")
    edited["k"] = [7]
    with pytest.raises(DisclosureError, match="row 1, column 'k': 7: small-count"):
        write_controlled_csv(edited, tmp_path / "edited.csv")
    assert list(tmp_path.iterdir()) == []


def test_mark_controlled_vouches_for_estimates_but_not_for_case_rows(tmp_path):
    summary = pd.DataFrame({"parameter": ["intercept"], "mean": [0.12], "hdi_3%": [0.1]})
    write_controlled_csv(mark_controlled(summary, DEFAULT_RULES), tmp_path / "summary.csv")
    rows = mark_controlled(
        pd.DataFrame({"case_id": ["C000001"], "outcome": ["legal_stay"]}), DEFAULT_RULES
    )
    with pytest.raises(DisclosureError, match="identifier-column"):
        write_controlled_csv(rows, tmp_path / "rows.csv")
    with pytest.raises(ConfigError, match="not columns of the frame"):
        mark_controlled(summary, DEFAULT_RULES, count_columns=["n"])


# --- case-level data ---------------------------------------------------------------------


CASES = pd.DataFrame(
    {
        "nationality": ["IRQ", "NGA"],
        "closing_year": [2019, 2020],
        "outcome": ["assisted_return", "legal_stay"],
        "n_procedures": [1, 3],
        "gender": ["male", "female"],
    }
)


@pytest.mark.parametrize(
    ("frame", "rule"),
    [
        (CASES.assign(case_id=["C000001", "C000002"]), "identifier-column"),
        (CASES.assign(Person_ID=["x", "y"]), "identifier-column"),
        (pd.DataFrame({"label": ["C000123"], "n": [10]}), "identifier-value"),
        (CASES, "case-level-rows"),
    ],
)
def test_case_level_frames_are_refused(frame, rule):
    with pytest.raises(DisclosureError, match=rule):
        assert_not_case_level(frame)


def test_aggregated_frames_pass_the_case_level_check():
    assert_not_case_level(CASES.assign(n_cases=[10, 20]))
    assert_not_case_level(TABLE.reset_index())

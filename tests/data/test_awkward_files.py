"""Awkward data files and frames, read without sampling: one strict reader for every table.

Case files and other tables (what a formula with another response, or the column options,
fits) are read alike: UTF-8 with a byte-order mark dropped; an empty file, a header
without rows, a file that is not UTF-8 or that looks semicolon-separated is refused with a
message naming the file and what is wrong. Other tables' numbers are converted explicitly,
a column that cannot be converted named with its rows, lines and values; a frame gets the
checks a file gets; values found wrong later name the data row as a user counts it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from returnmodels.data.cells import aggregate_cells
from returnmodels.data.reading import ContractError, TableError, offending_rows
from returnmodels.data.tables import check_table, read_other_table
from returnmodels.data.validation import load_cases, validate_cases
from returnmodels.engine.design import build_formula_design
from returnmodels.errors import ConfigError
from returnmodels.inference.fit import engine_design
from returnmodels.models.columns import CASE_FILE_SPEC, check_data, column_spec, read_data
from returnmodels.simulate import simulate_cases

CASE_ROWS = 100
OTHER = "y,x,g\n0,-1.5,a\n1,0.25,b\n1,2,a\n0,3.5,b\n"
OTHER_SPEC = column_spec(outcome="y", group="g", predictors=["x"])


@pytest.fixture(scope="module")
def case_text() -> str:
    return simulate_cases(n_cases=CASE_ROWS, random_seed=4).cases.to_csv(index=False)


def _read(kind: str, path):
    """A case file is read against the contract; another table by the column options."""
    return read_data(path, CASE_FILE_SPEC if kind == "cases" else OTHER_SPEC)


def _text(kind: str, case_text: str) -> str:
    return case_text if kind == "cases" else OTHER


def _refusal(kind: str, path) -> str:
    with pytest.raises(ContractError) as caught:
        _read(kind, path)
    message = str(caught.value)
    assert message.startswith(str(path)), message  # the file is named first
    assert isinstance(caught.value, TableError) == (kind == "other"), message
    return message


KINDS = ["cases", "other"]


# -- the file itself, on both paths -----------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_latin1_file_names_line_byte_and_resaving_as_utf8(kind, case_text, tmp_path):
    lines = _text(kind, case_text).splitlines()
    lines[2] = "é" + lines[2]  # data row 2, file line 3
    path = tmp_path / "latin1.csv"
    path.write_bytes("\n".join(lines).encode("latin-1"))
    message = _refusal(kind, path)
    assert "byte 0xe9" in message and "(line 3) is not valid UTF-8" in message
    assert "'é'" in message and "re-save the file as UTF-8" in message


@pytest.mark.parametrize("kind", KINDS)
def test_empty_file_is_refused_as_empty(kind, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert "the file is empty (0 bytes)" in _refusal(kind, path)


@pytest.mark.parametrize("kind", KINDS)
def test_header_only_file_is_refused_as_having_no_rows(kind, case_text, tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(_text(kind, case_text).splitlines()[0] + "\n")
    assert "the file has a header but no rows" in _refusal(kind, path)


@pytest.mark.parametrize("kind", KINDS)
def test_semicolon_file_is_said_to_look_semicolon_separated(kind, case_text, tmp_path):
    path = tmp_path / "semi.csv"
    # decimal commas, as a semicolon-separated export writes them: one problem, not a
    # "ragged row" for each
    path.write_text(_text(kind, case_text).replace(",", ";").replace(".", ","))
    message = _refusal(kind, path)
    assert "the file looks semicolon-separated" in message
    assert "returnmodels reads comma-separated CSV" in message
    assert "(1 problem)" in message


@pytest.mark.parametrize("kind", KINDS)
def test_byte_order_mark_is_dropped(kind, case_text, tmp_path):
    plain, marked = tmp_path / "plain.csv", tmp_path / "marked.csv"
    plain.write_text(_text(kind, case_text))
    marked.write_bytes(b"\xef\xbb\xbf" + _text(kind, case_text).encode())
    with_mark = _read(kind, marked)
    assert not str(with_mark.columns[0]).startswith("\ufeff")
    pd.testing.assert_frame_equal(with_mark, _read(kind, plain))


# -- other tables: numbers converted explicitly -----------------------------------------


def test_other_table_columns_are_typed_by_their_values(tmp_path):
    path = tmp_path / "typed.csv"
    path.write_text(
        "count,share,flag,code,label,big,gap\n"
        "1, 0.5,true,007,a,123456789012345678901,\n"
        "-2,1e-3,FALSE,010,b,5,3\n"
        "3,2,True,001,c,6,\n"
    )
    table = read_other_table(path)
    assert table["count"].dtype == np.int64 and table["count"].tolist() == [1, -2, 3]
    assert table["share"].dtype == np.float64 and table["share"].tolist() == [0.5, 0.001, 2.0]
    assert table["flag"].dtype == bool and table["flag"].tolist() == [True, False, True]
    assert table["code"].tolist() == ["007", "010", "001"]  # leading zeros: a code, text
    assert table["label"].tolist() == ["a", "b", "c"]
    assert table["big"].tolist()[0] == "123456789012345678901"  # beyond 64 bits: text
    assert str(table["gap"].dtype) == "Int64"  # blank cells are missing, not 0 or ""
    assert table["gap"].isna().tolist() == [True, False, True]


def test_column_of_numbers_with_other_values_names_rows_lines_and_values(tmp_path):
    path = tmp_path / "mixed.csv"
    # a quoted field over two lines: data row 3 starts on file line 5
    path.write_text('y,x,note\n1,1.5,ok\n0,"2,5","two\nlines"\n1,n/a,ok\n0,3,ok\n1,4,ok\n')
    with pytest.raises(TableError) as caught:
        read_other_table(path)
    message = str(caught.value)
    assert message.startswith(f"{path} cannot be used as a table (2 problems):")
    assert "column 'x', row 2 (line 3): value '2,5'; expected a number" in message
    assert "did you mean '2.5'?" in message
    assert "column 'x', row 3 (line 5): value 'n/a'" in message
    assert "3 of its 5 values are numbers" in message


def test_column_mostly_text_stays_text(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("y,region\n1,north\n0,south\n1,7\n")
    assert read_other_table(path)["region"].tolist() == ["north", "south", "7"]


# -- frames get the checks a file gets --------------------------------------------------


def test_case_file_frame_is_validated_with_rows_counted_from_one(case_text):
    cases = pd.read_csv(pd.io.common.StringIO(case_text), dtype=str, keep_default_na=False)
    cases.index = cases.index + 100  # the frame's own index is not what a user counts
    cases.loc[104, "outcome"] = "assisted"
    with pytest.raises(ContractError) as caught:
        check_data(cases, CASE_FILE_SPEC)
    assert "column 'outcome', row 5: value 'assisted'" in str(caught.value)
    assert "did you mean 'assisted_return'?" in str(caught.value)


def test_valid_case_file_frame_is_typed_as_the_file_is(case_text, tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text(case_text)
    text = pd.read_csv(path, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(check_data(text, CASE_FILE_SPEC), load_cases(path))


def test_other_frame_with_numbers_and_text_in_a_column_is_refused():
    frame = pd.DataFrame({"y": [1, 0, 1, 0], "x": [1.5, 2.0, "n/a", 3.0], "g": list("abab")})
    with pytest.raises(TableError, match=r"column 'x', row 3: value 'n/a'"):
        check_data(frame, OTHER_SPEC)
    fine = frame.assign(x=[1.5, 2.0, 2.5, 3.0])
    assert check_data(fine, OTHER_SPEC) is fine


def test_other_frame_with_no_rows_or_a_repeated_column_is_refused():
    with pytest.raises(TableError, match="the table has no rows"):
        check_table(pd.DataFrame({"y": [], "g": []}))
    with pytest.raises(TableError, match="'g' appears 2 times"):
        check_table(pd.DataFrame([[1, "a", "b"]], columns=["y", "g", "g"]))


def test_fit_refuses_a_bad_case_file_frame_before_sampling(case_text):
    from returnmodels.inference.fit import fit

    cases = validate_cases(pd.read_csv(pd.io.common.StringIO(case_text), dtype=str))
    broken = cases.astype({"outcome": object})
    broken.loc[4, "outcome"] = "assisted"
    for how in ({"model": "pooled"}, {"formula": "assisted ~ 1 + (1 | nationality)"}):
        with pytest.raises(ContractError, match="row 5: value 'assisted'"):
            fit(broken, **how, draws=10, tune=10, chains=1)


# -- values found wrong after reading: the data row as a user counts it ----------------


def test_counts_outside_their_range_name_data_rows_and_both_values():
    frame = pd.DataFrame({"k": [1, 5, 2, 0], "n": [3, 4, 2, 0], "g": list("abab")})
    with pytest.raises(ConfigError) as caught:
        build_formula_design(frame, "k | trials(n) ~ 1 + (1 | g)")
    message = str(caught.value)
    assert "data row 2 (k 5, n 4), data row 4 (k 0, n 0)" in message
    assert "np.int64" not in message and "rows [" not in message


def test_response_that_is_not_binary_names_rows_and_values():
    frame = pd.DataFrame({"y": [0, 1, 2, None], "x": [1.0, 2, 3, 4], "g": list("abab")})
    with pytest.raises(ConfigError) as caught:
        build_formula_design(frame, "y ~ x + (1 | g)")
    assert "data row 3 (value 2.0), data row 4 (missing)" in str(caught.value)


def test_missing_predictor_value_names_its_row():
    frame = pd.DataFrame({"y": [0, 1, 1, 0], "x": [1.0, np.nan, 3, 4], "g": list("abab")})
    with pytest.raises(ConfigError, match=r"column 'x', data row 2 \(missing\)"):
        build_formula_design(frame, "y ~ x + (1 | g)")


def test_counts_with_a_missing_value_are_refused_not_summed_over(tmp_path):
    path = tmp_path / "herds.csv"
    path.write_text("k,n,g\n1,3,a\n2,,b\n0,2,a\n1,1,b\n")
    spec = column_spec(successes="k", trials="n", group="g")
    with pytest.raises(ConfigError, match=r"'n' must hold whole counts: data row 2 \(missing\)"):
        engine_design(path, "varying_intercepts", columns=spec)


def test_aggregating_with_missing_values_names_the_rows():
    cases = pd.DataFrame({"g": ["a", None, "b"], "y": [True, False, True]})
    with pytest.raises(ConfigError, match=r"column 'g', data row 2 \(missing\)"):
        aggregate_cells(cases, ["g"], success="y")


def test_offending_rows_are_cut_after_five():
    values = pd.Series([9] * 8)
    assert offending_rows(values, values > 0).endswith("data row 5 (value 9) and 3 more")

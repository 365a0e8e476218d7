"""The case-file contract: what loads, what it loads as, and what every bad input gets.

Row numbers in messages are data rows as a user counts them (1 = first row after the
header); for CSV the file line follows (``row 3 (line 4)``).
"""

from __future__ import annotations

import gzip
import io
import pickle
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from returnmodels.data import validation
from returnmodels.data.validation import (
    CASE_DTYPES,
    VALIDATED_ATTR,
    ContractError,
    DataFileError,
    Problem,
    assisted,
    fingerprint,
    format_summary,
    load_cases,
    load_nationality_table,
    read_table,
    summarise_cases,
    validate_cases,
    validate_nationality_table,
)
from returnmodels.data.vocabulary import (
    CATEGORY_VALUES,
    OUTCOMES,
    REQUIRED_COLUMNS,
)
from returnmodels.errors import ReturnModelsError

COLUMNS = [*REQUIRED_COLUMNS, "detention", "case_days"]
CSV = """\
case_id,person_id,nationality,closing_year,outcome,n_procedures,gender,age_group,family,cooperation,detention,case_days
C1,P1,IRQ,2019,assisted_return,1,male,18-29,true,low,false,30
C2,P2,NGA,2020,forced_return,2,female,30-44,FALSE,medium,1,0
C3,P2,NGA,2021,legal_stay,3,unknown,0-17,1,medium,0,410
C4,P4,XXA,2017,other,1,male,65+,0,high,True,12
C5,P5,IRQ,2023,assisted_return,1,female,45-64,False,low,false,7
C6,P6,IRQ,2022,unsupervised_departure,2,male,18-29,TRUE,low,0,99
"""  # noqa: E501
OUTCOME = [
    "assisted_return",
    "forced_return",
    "legal_stay",
    "other",
    "assisted_return",
    "unsupervised_departure",
]
COOPERATION = ["low", "medium", "medium", "high", "low", "low"]
NATIONALITIES = pd.DataFrame(
    {"nationality": ["IRQ", "NGA", "XXA"], "cooperation": ["low", "medium", "high"]}
)


def cases_frame() -> pd.DataFrame:
    """Six valid cases, every cell text, as a CSV file reads."""
    return pd.read_csv(io.StringIO(CSV), dtype=str, keep_default_na=False)


def write_csv(tmp_path, frame: pd.DataFrame, name: str = "cases.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def csv_error(tmp_path, frame: pd.DataFrame, **kwargs) -> ContractError:
    with pytest.raises(ContractError) as caught:
        load_cases(write_csv(tmp_path, frame), **kwargs)
    return caught.value


def with_value(column: str, row: int, value: object) -> pd.DataFrame:
    """The valid frame with data row ``row`` (1-based) of ``column`` set to ``value``."""
    frame = cases_frame()
    frame.loc[row - 1, column] = value
    return frame


def file_error(path) -> str:
    with pytest.raises(ContractError) as caught:
        load_cases(path)
    assert str(path) in str(caught.value)
    return str(caught.value)


def write_arrow(tmp_path, columns: dict[str, pa.Array], name: str = "cases.parquet"):
    """The valid cases as a Parquet file written by Arrow (no pandas metadata), with
    ``columns`` replaced by the given arrays, stored with the arrays' own types."""
    table = pa.Table.from_pandas(validate_cases(cases_frame()), preserve_index=False)
    for column, array in columns.items():
        table = table.set_column(table.schema.get_field_index(column), column, array)
    path = tmp_path / name
    pq.write_table(table.replace_schema_metadata(None), path)
    return path


# -- what loads, and as what ----------------------------------------------------------


def test_valid_csv_loads_with_the_documented_dtypes(tmp_path):
    cases = load_cases(write_csv(tmp_path, cases_frame()))
    assert list(cases.columns) == COLUMNS
    assert cases.dtypes.to_dict() == CASE_DTYPES
    for column in ("case_id", "person_id", "nationality"):
        assert isinstance(cases[column].dtype, pd.StringDtype)
        assert cases[column].dtype.na_value is pd.NA
    for column in ("closing_year", "n_procedures", "case_days"):
        assert cases[column].dtype == np.dtype("int64")
    for column in ("family", "detention"):
        assert cases[column].dtype == np.dtype(bool)
    for column, values in CATEGORY_VALUES.items():
        dtype = cases[column].dtype
        assert isinstance(dtype, pd.CategoricalDtype) and dtype.ordered
        assert list(dtype.categories) == list(values)


def test_valid_values_are_converted_not_changed(tmp_path):
    cases = load_cases(write_csv(tmp_path, cases_frame()))
    assert cases["case_id"].tolist() == ["C1", "C2", "C3", "C4", "C5", "C6"]
    assert cases["closing_year"].tolist() == [2019, 2020, 2021, 2017, 2023, 2022]
    assert cases["family"].tolist() == [True, False, True, False, False, True]
    assert cases["detention"].tolist() == [False, True, False, True, False, False]
    assert cases["outcome"].astype(str).tolist() == OUTCOME


def test_extra_columns_are_kept_unchanged():
    frame = cases_frame().assign(office=["A", "", "B", "7", "x", "2.0"], score=np.arange(6.0))
    cases = validate_cases(frame)
    pd.testing.assert_series_equal(cases["office"], frame["office"])
    pd.testing.assert_series_equal(cases["score"], frame["score"])


def test_the_input_frame_is_not_modified():
    frame = cases_frame()
    before = frame.copy()
    validate_cases(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_optional_columns_may_be_absent():
    cases = validate_cases(cases_frame().drop(columns=["detention", "case_days"]))
    assert "detention" not in cases and "case_days" not in cases


def test_typed_frame_validates_as_it_is():
    typed = validate_cases(cases_frame())
    again = validate_cases(typed)
    pd.testing.assert_frame_equal(again, typed)


def _checks_fail(*args, **kwargs):
    raise AssertionError("the frame was checked again")


def test_a_validated_unchanged_frame_is_not_checked_again(monkeypatch):
    typed = validate_cases(cases_frame())
    assert typed.attrs[VALIDATED_ATTR] == fingerprint(typed)
    monkeypatch.setattr(validation, "check_columns", _checks_fail)
    again = validate_cases(typed)
    assert again is not typed
    pd.testing.assert_frame_equal(again, typed)


def test_a_validated_frame_changed_since_is_checked_in_full():
    typed = validate_cases(cases_frame())
    changed = typed.copy()  # attrs travel with the copy, stamp and all
    changed.loc[2, "n_procedures"] = -1
    assert changed.attrs[VALIDATED_ATTR] == typed.attrs[VALIDATED_ATTR]
    with pytest.raises(ContractError, match="n_procedures"):
        validate_cases(changed)
    retyped = typed.copy()
    retyped["closing_year"] = retyped["closing_year"].astype(float)  # same values, a float
    with pytest.raises(ContractError, match="closing_year"):
        validate_cases(retyped)


def test_a_stamp_that_does_not_match_its_frame_is_checked(monkeypatch):
    frame = cases_frame()
    frame.loc[0, "gender"] = "Male"
    frame.attrs[VALIDATED_ATTR] = fingerprint(validate_cases(cases_frame()))
    with pytest.raises(ContractError, match="gender"):
        validate_cases(frame)
    typed = validate_cases(cases_frame())
    monkeypatch.setattr(validation, "check_columns", _checks_fail)
    with pytest.raises(AssertionError, match="checked again"):  # a table: checked against it
        validate_cases(typed, nationality_table=NATIONALITIES)


def test_assisted_is_derived_from_outcome():
    flags = assisted(validate_cases(cases_frame()))
    assert flags.dtype == bool and flags.name == "assisted"
    assert flags.tolist() == [True, False, False, False, True, False]


# -- bad files ------------------------------------------------------------------------


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_bytes(b"")
    assert "the file is empty (0 bytes)" in file_error(path)


def test_header_only_file_is_refused(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text(",".join(COLUMNS) + "\n")
    assert "the file has a header but no rows" in file_error(path)


def test_blank_file_is_refused(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text("\n \n\n")
    assert "only blank lines" in file_error(path)


def test_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_bytes(b"\xff\xfec\x00a\x00s\x00e\x00")
    message = file_error(path)
    assert "UTF-8" in message and "byte 0xff at offset 0 (line 1)" in message


def test_non_utf8_byte_later_in_the_file_gives_its_line(tmp_path):
    path = tmp_path / "cases.csv"
    text = cases_frame().to_csv(index=False).encode()
    path.write_bytes(text.replace(b"NGA", b"N\xe9A", 1))
    assert "(line 3) is not valid UTF-8" in file_error(path)


def test_png_is_refused(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(40))
    assert "not valid UTF-8" in file_error(path)


def test_binary_blob_that_decodes_is_not_a_table(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_bytes(b"case_id\x00\x01\x02,person_id\n\x00\x00\x03,4\n")
    assert "NUL bytes" in file_error(path)


def test_row_with_too_many_fields_is_refused_with_row_and_line(tmp_path):
    path = tmp_path / "cases.csv"
    text = cases_frame().to_csv(index=False).splitlines()
    text[3] += ",surplus"
    path.write_text("\n".join(text) + "\n")
    message = file_error(path)
    assert "row 3 (line 4): expected 12 fields per row, as in the header; found 13" in message


def test_row_with_too_few_fields_is_refused_not_padded(tmp_path):
    path = tmp_path / "cases.csv"
    text = cases_frame().to_csv(index=False).splitlines()
    text[2] = text[2].rsplit(",", 1)[0]
    path.write_text("\n".join(text) + "\n")
    assert "row 2 (line 3): expected 12 fields per row" in file_error(path)


def test_duplicate_header_names_are_refused(tmp_path):
    path = tmp_path / "cases.csv"
    text = cases_frame().to_csv(index=False).replace("case_days", "gender", 1)
    path.write_text(text)
    assert "'gender' appears 2 times in the header" in file_error(path)


def test_semicolon_separated_file_gets_a_hint(tmp_path):
    path = tmp_path / "cases.csv"
    cases_frame().to_csv(path, index=False, sep=";")
    assert "separated by ';'" in file_error(path)


def test_missing_file_is_a_domain_error(tmp_path):
    with pytest.raises(DataFileError, match="no such file") as caught:
        load_cases(tmp_path / "absent.csv")
    assert isinstance(caught.value, ReturnModelsError)
    assert "absent.csv" in str(caught.value)


def test_unknown_extension_is_refused(tmp_path):
    path = tmp_path / "cases.xlsx"
    path.write_bytes(b"PK\x03\x04")
    assert ".csv, .csv.gz, .parquet, .pq" in file_error(path)


def test_gzipped_csv_loads(tmp_path):
    path = tmp_path / "cases.csv.gz"
    path.write_bytes(gzip.compress(cases_frame().to_csv(index=False).encode()))
    assert len(load_cases(path)) == 6


def test_gzipped_file_named_csv_is_refused_as_compressed_not_as_bad_utf8(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_bytes(gzip.compress(cases_frame().to_csv(index=False).encode()))
    message = file_error(path)
    assert (
        "file: expected UTF-8 CSV text; the file looks gzip-compressed (it starts with bytes "
        "1f 8b): name it '.csv.gz', which is accepted"
    ) in message
    assert "not valid UTF-8" not in message
    renamed = path.rename(tmp_path / "cases.csv.gz")
    assert len(load_cases(renamed)) == 6  # the advice holds


@pytest.mark.parametrize(
    ("start", "looks"),
    [
        (b"PK\x03\x04", "looks like a zip archive, e.g. an .xlsx workbook (it starts with "
         "bytes 50 4b 03 04): export it as CSV"),
        (b"PAR1", "looks like a Parquet file (it starts with bytes 50 41 52 31): name it "
         "'.parquet'"),
    ],
)  # fmt: skip
def test_zip_or_parquet_file_named_csv_says_what_it_looks_like(tmp_path, start, looks):
    path = tmp_path / "cases.csv"
    path.write_bytes(start + bytes(range(256)))
    assert looks in file_error(path)


def test_plain_csv_named_csv_gz_is_refused_as_not_compressed(tmp_path):
    path = tmp_path / "cases.csv.gz"
    path.write_text(cases_frame().to_csv(index=False))
    message = file_error(path)
    assert "expected a gzip-compressed CSV file; the file is not gzip-compressed" in message
    assert "name it '.csv' if it is CSV" in message


def test_read_table_keeps_csv_cells_as_text(tmp_path):
    frame = read_table(write_csv(tmp_path, with_value("n_procedures", 2, "2.0")))
    assert frame["n_procedures"].tolist()[1] == "2.0"
    assert frame["closing_year"].tolist()[0] == "2019"


# -- bad columns and values -----------------------------------------------------------


@pytest.mark.parametrize("column", REQUIRED_COLUMNS)
def test_missing_required_column_is_named(tmp_path, column):
    message = str(csv_error(tmp_path, cases_frame().drop(columns=[column])))
    assert f"column {column!r}: expected a required column" in message


def test_misnamed_column_gets_a_hint():
    error = pytest.raises(
        ContractError, validate_cases, cases_frame().rename(columns={"outcome": "Outcome"})
    ).value
    assert "found 'Outcome': column names must match exactly" in str(error)


@pytest.mark.parametrize("column", REQUIRED_COLUMNS)
def test_missing_value_in_each_required_column(tmp_path, column):
    error = csv_error(tmp_path, with_value(column, 3, ""))
    assert f"column {column!r}, row 3 (line 4): missing value" in str(error)
    assert [(p.column, p.rows, p.lines) for p in error.problems] == [(column, (3,), (4,))]


@pytest.mark.parametrize("column", ["detention", "case_days"])
def test_missing_value_in_a_present_optional_column(tmp_path, column):
    assert f"column {column!r}, row 5 (line 6): missing value" in str(
        csv_error(tmp_path, with_value(column, 5, ""))
    )


def test_non_numeric_year(tmp_path):
    message = str(csv_error(tmp_path, with_value("closing_year", 2, "20l9")))
    assert (
        "column 'closing_year', row 2 (line 3): value '20l9'; expected an integer year" in message
    )


def test_implausible_year(tmp_path):
    message = str(csv_error(tmp_path, with_value("closing_year", 1, "1850")))
    assert "column 'closing_year', row 1 (line 2): value '1850'" in message
    assert "from 1900 to 2100" in message


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "2.0", "two", " 2"])
def test_bad_n_procedures(tmp_path, value):
    message = str(csv_error(tmp_path, with_value("n_procedures", 4, value)))
    assert f"column 'n_procedures', row 4 (line 5): value {value!r}; " in message
    assert "expected an integer >= 1" in message


def test_negative_case_days(tmp_path):
    message = str(csv_error(tmp_path, with_value("case_days", 6, "-3")))
    assert "column 'case_days', row 6 (line 7): value '-3'; expected an integer >= 0" in message


@pytest.mark.parametrize("value", ["Assisted_return", " assisted_return", "assisted return"])
def test_outcome_is_not_fixed_but_a_near_match_is_suggested(tmp_path, value):
    message = str(csv_error(tmp_path, with_value("outcome", 2, value)))
    assert f"column 'outcome', row 2 (line 3): value {value!r}; expected one of" in message
    assert "did you mean 'assisted_return'?" in message


@pytest.mark.parametrize(("value", "hint"), [("x", None), ("Male", "male"), ("mal", "male")])
def test_unknown_gender(tmp_path, value, hint):
    message = str(csv_error(tmp_path, with_value("gender", 1, value)))
    assert f"column 'gender', row 1 (line 2): value {value!r}; " in message
    assert "expected one of 'female', 'male', 'unknown'" in message
    assert ("did you mean" in message) == (hint is not None)
    if hint:
        assert f"did you mean {hint!r}?" in message


def test_unknown_age_group(tmp_path):
    message = str(csv_error(tmp_path, with_value("age_group", 3, "18 - 29")))
    assert "column 'age_group', row 3 (line 4): value '18 - 29'" in message
    assert "did you mean '18-29'?" in message


@pytest.mark.parametrize("column", ["case_id", "person_id"])
@pytest.mark.parametrize("blank", ["   ", " ", "\t "])
def test_identifier_of_only_white_space_is_refused(tmp_path, column, blank):
    error = csv_error(tmp_path, with_value(column, 2, blank))
    assert f"column {column!r}, row 2 (line 3): value {blank!r}; expected a non-empty" in str(error)
    assert "only white space: the identifier is blank" in str(error)
    assert [(p.column, p.rows, p.lines) for p in error.problems] == [(column, (2,), (3,))]


def test_blank_identifiers_are_listed_by_row_and_not_as_duplicates(tmp_path):
    frame = cases_frame()
    frame.loc[[1, 4], "case_id"] = "   "
    frame.loc[5, "person_id"] = "  "
    error = csv_error(tmp_path, frame)
    message = str(error)
    assert "column 'case_id', rows 2 (line 3), 5 (line 6): value '   '" in message
    assert "column 'person_id', row 6 (line 7): value '  '" in message
    assert "each case_id once" not in message and len(error.problems) == 2


def test_blank_identifier_in_a_frame_is_refused():
    frame = cases_frame().assign(person_id=["P1", "P2", "P2", "   ", "P5", "P6"])
    message = str(pytest.raises(ContractError, validate_cases, frame).value)
    assert "column 'person_id', row 4: value '   '; expected a non-empty identifier" in message


def test_duplicate_case_id_lists_the_rows_of_each_value(tmp_path):
    frame = cases_frame()
    frame.loc[[3, 5], "case_id"] = "C1"
    frame.loc[4, "case_id"] = "C2"
    error = csv_error(tmp_path, frame)
    message = str(error)
    assert "column 'case_id', rows 1 (line 2), 4 (line 5), 6 (line 7): value 'C1'" in message
    assert "column 'case_id', rows 2 (line 3), 5 (line 6): value 'C2'" in message
    assert "expected each case_id once" in message


@pytest.mark.parametrize(("value", "hint"), [("iq", None), ("IRQX", None), ("irq", "IRQ")])
def test_bad_nationality_code(tmp_path, value, hint):
    frame = with_value("nationality", 5, value)
    message = str(csv_error(tmp_path, frame))
    assert f"column 'nationality', row 5 (line 6): value {value!r}; " in message
    assert "expected three upper-case letters" in message
    assert ("did you mean 'IRQ'?" in message) == (hint is not None)


def test_cooperation_must_be_constant_within_a_nationality(tmp_path):
    message = str(csv_error(tmp_path, with_value("cooperation", 6, "high")))
    assert "column 'cooperation', row 6 (line 7): value 'high'" in message
    assert "expected one cooperation level per nationality" in message
    assert "nationality 'IRQ' has 'low' in rows 1, 5" in message


@pytest.mark.parametrize(
    ("value", "flag"), [("TRUE", True), ("False", False), ("1", True), ("0", False)]
)
def test_boolean_spellings_accepted(value, flag):
    assert validate_cases(with_value("family", 2, value))["family"].tolist()[1] is flag


@pytest.mark.parametrize(("value", "hint"), [("yes", None), ("2", None), (" true", "true")])
def test_boolean_spellings_refused(tmp_path, value, hint):
    message = str(csv_error(tmp_path, with_value("family", 2, value)))
    assert f"column 'family', row 2 (line 3): value {value!r}; expected a boolean" in message
    assert ("did you mean 'true'?" in message) == (hint is not None)


def test_every_problem_is_listed_in_one_error(tmp_path):
    frame = cases_frame()
    frame.loc[0, "n_procedures"] = "0"
    frame.loc[1, "outcome"] = "Other"
    frame.loc[2, "nationality"] = "ng"
    frame.loc[3, "family"] = "yes"
    frame.loc[4, "person_id"] = ""
    frame = frame.drop(columns=["gender"])
    error = csv_error(tmp_path, frame)
    message = str(error)
    assert message.startswith(f"{tmp_path / 'cases.csv'} breaks the data contract (6 problems):")
    for part in [
        "column 'gender': expected a required column",
        "column 'n_procedures', row 1 (line 2): value '0'",
        "column 'outcome', row 2 (line 3): value 'Other'",
        "column 'nationality', row 3 (line 4): value 'ng'",
        "column 'family', row 4 (line 5): value 'yes'",
        "column 'person_id', row 5 (line 6): missing value",
    ]:
        assert part in message
    assert len(error.problems) == 6 and len(message.splitlines()) == 7


def test_many_rows_breaking_one_rule_are_grouped():
    frame = pd.concat([cases_frame()] * 10, ignore_index=True)
    frame["case_id"] = [f"C{i}" for i in range(len(frame))]
    frame["n_procedures"] = "0"
    frame.loc[7, "gender"] = "f"
    error = pytest.raises(ContractError, validate_cases, frame).value
    assert len(error.problems) == 2
    assert "column 'n_procedures', rows 1, 2, 3, 4, 5 and 55 more: value '0'" in str(error)
    assert "column 'gender', row 8: value 'f'" in str(error)  # a frame: no file lines


def test_many_distinct_bad_values_give_one_problem_per_rule():
    frame = pd.concat([cases_frame()] * 2, ignore_index=True)
    frame["case_id"] = [f"C{i}" for i in range(len(frame))]
    frame["nationality"] = [f"n{i}" for i in range(len(frame))]
    error = pytest.raises(ContractError, validate_cases, frame).value
    [problem] = error.problems
    assert problem.rows == tuple(range(1, 13)) and len(problem.value) == 12
    assert "values 'n0', 'n1', 'n2' and 9 more" in str(problem)


def test_message_is_cut_after_the_limit():
    problems = [Problem("outcome", (i,), "x", "one of ...") for i in range(1, 61)]
    message = str(ContractError(problems, "f.csv"))
    assert message.splitlines()[0] == "f.csv breaks the data contract (60 problems):"
    assert message.splitlines()[-1] == "  ... and 10 more problems"
    assert len(message.splitlines()) == 52


def test_contract_error_is_a_value_error_that_pickles():
    error = pytest.raises(ContractError, validate_cases, with_value("gender", 1, "x")).value
    assert isinstance(error, ValueError) and isinstance(error, ReturnModelsError)
    assert error.source == "<frame>"
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.problems == error.problems


def test_empty_frame_is_refused():
    message = str(pytest.raises(ContractError, validate_cases, cases_frame().iloc[:0]).value)
    assert "expected at least one row" in message


def test_long_values_are_truncated():
    message = str(
        pytest.raises(ContractError, validate_cases, with_value("gender", 1, "x" * 500)).value
    )
    assert "'xxxxxxxx" in message and "x" * 100 not in message


# -- typed input (Parquet, frames) ----------------------------------------------------


def test_parquet_round_trip(tmp_path):
    cases = validate_cases(cases_frame())
    path = tmp_path / "cases.parquet"
    cases.to_parquet(path)
    again = load_cases(path)
    pd.testing.assert_frame_equal(again, cases)


def test_parquet_of_text_columns_is_refused_naming_the_stored_types(tmp_path):
    """Parquet has stored types: text is not parsed into integers or booleans."""
    path = tmp_path / "cases.pq"
    cases_frame().to_parquet(path)  # every column stored as text
    error = pytest.raises(ContractError, load_cases, path).value
    found = "found type string (large_string); Parquet types are not converted"
    for column in ("closing_year", "n_procedures", "case_days"):
        assert f"column {column!r}: expected type integer (a Parquet integer type" in str(error)
    for column in ("family", "detention"):
        assert f"column {column!r}: expected type boolean (a Parquet boolean" in str(error)
    assert str(error).count(found) == 5
    mistyped = ["closing_year", "n_procedures", "family", "detention", "case_days"]
    assert [p.column for p in error.problems] == mistyped  # text stored as text is fine


def test_parquet_with_a_bad_value_is_refused_without_lines(tmp_path):
    frame = validate_cases(cases_frame())
    frame.loc[2, "n_procedures"] = 0
    path = tmp_path / "cases.parquet"
    frame.to_parquet(path)
    message = str(pytest.raises(ContractError, load_cases, path).value)
    assert "column 'n_procedures', row 3: value 0; expected an integer >= 1" in message
    assert "(line" not in message


def test_parquet_float_column_of_whole_numbers_is_refused_with_both_types(tmp_path):
    frame = validate_cases(cases_frame())
    frame["n_procedures"] = frame["n_procedures"].astype(float)  # 1.0, 2.0, ...: whole
    path = tmp_path / "cases.parquet"
    frame.to_parquet(path)
    [problem] = pytest.raises(ContractError, load_cases, path).value.problems
    assert str(problem) == (
        "column 'n_procedures': expected type integer (a Parquet integer type, e.g. int64); "
        "found type float (double), refused even where the values are whole; "
        "Parquet types are not converted"
    )


@pytest.mark.parametrize(
    ("column", "array", "expected", "found"),
    [
        ("closing_year", pa.array(["2019", "2020", "2021", "2017", "2023", "2022"]),
         "type integer", "type string"),
        ("case_days", pa.array([30.0, 0, 410, 12, 7, 99]), "type integer", "type float (double)"),
        ("case_days", pa.array([True] * 6), "type integer", "type bool"),
        ("family", pa.array(["true", "false", "1", "0", "false", "TRUE"]), "type boolean",
         "type string"),
        ("detention", pa.array([0.0, 1, 0, 1, 0, 0]), "type boolean", "type float (double)"),
        ("outcome", pa.array([1, 2, 3, 4, 1, 5]), "type category", "type int64"),
        ("nationality", pa.array([1, 2, 2, 3, 1, 1], pa.int32()), "type string", "type int32"),
        ("case_id", pa.array([1.0, 2, 3, 4, 5, 6]), "type string", "type float (double)"),
        ("person_id", pa.array([True] * 6), "type string", "type bool"),
    ],
)  # fmt: skip
def test_parquet_column_of_another_type_names_column_and_both_types(
    tmp_path, column, array, expected, found
):
    error = pytest.raises(ContractError, load_cases, write_arrow(tmp_path, {column: array})).value
    [problem] = error.problems
    assert (problem.column, problem.rows) == (column, ())
    assert str(problem).startswith(f"column {column!r}: expected {expected} (a Parquet")
    assert f"found {found}" in str(problem)


def test_parquet_types_that_are_the_contracts_load(tmp_path):
    """Plain and dictionary strings, integer identifiers, any integer width, 0/1 booleans."""
    path = write_arrow(
        tmp_path,
        {
            "case_id": pa.array([11, 12, 13, 14, 15, 16], pa.uint32()),
            "person_id": pa.array(["P1", "P2", "P2", "P4", "P5", "P6"], pa.string()),
            "nationality": pa.array(["IRQ", "NGA", "NGA", "XXA", "IRQ", "IRQ"]).dictionary_encode(),
            "gender": pa.array(["male", "female", "unknown", "male", "female", "male"]),
            "closing_year": pa.array([2019, 2020, 2021, 2017, 2023, 2022], pa.int16()),
            "detention": pa.array([0, 1, 0, 1, 0, 0], pa.int8()),
        },
    )
    cases = load_cases(path)
    assert cases.dtypes.to_dict() == CASE_DTYPES
    assert cases["case_id"].tolist() == ["11", "12", "13", "14", "15", "16"]
    assert cases["detention"].tolist() == [False, True, False, True, False, False]


def test_parquet_integer_column_with_missing_values_is_reported_as_missing(tmp_path):
    """Arrow integers with nulls are not read as floats, so the message is about the gap."""
    path = write_arrow(tmp_path, {"n_procedures": pa.array([1, 2, None, 1, 1, 2], pa.int64())})
    error = pytest.raises(ContractError, load_cases, path).value
    assert [str(p) for p in error.problems] == [
        "column 'n_procedures', row 3: missing value; expected an integer >= 1"
    ]


def test_parquet_all_null_column_is_reported_as_missing_values(tmp_path):
    path = write_arrow(tmp_path, {"case_days": pa.nulls(6)})
    message = str(pytest.raises(ContractError, load_cases, path).value)
    assert "column 'case_days', rows 1, 2, 3, 4, 5 and 1 more: missing value" in message


def test_parquet_type_problems_are_listed_with_value_problems(tmp_path):
    path = write_arrow(
        tmp_path,
        {
            "closing_year": pa.array(["2019"] * 6),
            "gender": pa.array(["male", "Male", "male", "male", "male", "male"]),
        },
    )
    error = pytest.raises(ContractError, load_cases, path).value
    assert [p.column for p in error.problems] == ["closing_year", "gender"]
    assert "column 'gender', row 2: value 'Male'" in str(error)


def test_parquet_nationality_table_of_another_type_is_refused(tmp_path):
    path = tmp_path / "nat.parquet"
    pq.write_table(pa.table({"nationality": ["IRQ", "NGA"], "cooperation": [1, 2]}), path)
    message = str(pytest.raises(ContractError, load_nationality_table, path).value)
    assert "column 'cooperation': expected type category" in message
    assert "found type int64" in message


def test_float_column_of_whole_numbers_is_refused():
    frame = cases_frame().assign(n_procedures=[1.0, 2.0, 3.0, 1.0, 1.0, 2.0])
    message = str(pytest.raises(ContractError, validate_cases, frame).value)
    assert "column 'n_procedures', rows 1, 2, 3, 4, 5 and 1 more" in message
    assert "float64" in message and "store it with an integer type" in message


def test_integer_and_boolean_typed_columns_are_accepted():
    frame = cases_frame().assign(
        closing_year=np.arange(2017, 2023),
        n_procedures=pd.array([1, 2, 1, 3, 1, 1], dtype="Int64"),
        family=[True, False, True, True, False, False],
        detention=np.array([0, 1, 1, 0, 0, 1]),
    )
    cases = validate_cases(frame)
    assert cases.dtypes.to_dict() == CASE_DTYPES
    assert cases["detention"].tolist() == [False, True, True, False, False, True]


@pytest.mark.parametrize(
    ("column", "values", "shown"),
    [
        ("detention", [0, 1, 2, 0, 0, 1], "row 3: value 2"),
        ("n_procedures", [1, 2, 0, 1, 1, 1], "row 3: value 0"),
        ("n_procedures", [1, 2, None, 1, 1, 1], "row 3: missing value"),
        ("n_procedures", [True] * 6, "the column holds bool values"),
        ("family", [1.0, 0.0, 1.0, 0.0, 1.0, 0.0], "the column holds float values"),
        ("case_id", [1.5, 2.5, 3.5, 4.5, 5.5, 6.5], "not text"),
        ("outcome", ["other", "Other", "other", "other", "other", "other"], "row 2: value 'Other'"),
    ],
)
def test_typed_values_follow_the_same_rules(column, values, shown):
    frame = cases_frame().assign(**{column: values})
    message = str(pytest.raises(ContractError, validate_cases, frame).value)
    assert f"column {column!r}" in message and shown in message


def test_categorical_input_with_a_bad_level_is_refused():
    frame = cases_frame()
    frame["gender"] = pd.Categorical(frame["gender"].replace("unknown", "u"))
    assert "row 3: value 'u'" in str(pytest.raises(ContractError, validate_cases, frame).value)


def test_validation_is_fast():
    frame = cases_frame().iloc[np.tile(np.arange(6), 20_000)].reset_index(drop=True)
    frame["case_id"] = "C" + pd.Series(np.arange(len(frame))).astype(str)  # 120,000 rows
    start = time.perf_counter()
    validate_cases(frame)
    assert time.perf_counter() - start < 2.0


# -- the nationality table ------------------------------------------------------------


def test_nationality_table_supplies_cooperation():
    cases = validate_cases(
        cases_frame().drop(columns=["cooperation"]), nationality_table=NATIONALITIES
    )
    assert cases["cooperation"].astype(str).tolist() == COOPERATION
    assert cases["cooperation"].dtype == CASE_DTYPES["cooperation"]


def test_nationality_table_must_agree_with_the_cases(tmp_path):
    table = NATIONALITIES.assign(cooperation=["low", "high", "high"])
    message = str(csv_error(tmp_path, cases_frame(), nationality_table=table))
    assert "column 'cooperation', rows 2 (line 3), 3 (line 4): value 'medium'" in message
    assert "expected 'high' for nationality 'NGA', as in the table" in message


def test_nationality_missing_from_the_only_source_of_cooperation(tmp_path):
    frame = cases_frame().drop(columns=["cooperation"])
    message = str(csv_error(tmp_path, frame, nationality_table=NATIONALITIES.iloc[:2]))
    assert "column 'nationality', row 4 (line 5): value 'XXA'" in message
    assert "listed in the nationality table" in message


def test_cooperation_missing_without_a_table_mentions_the_table():
    message = str(
        pytest.raises(
            ContractError, validate_cases, cases_frame().drop(columns="cooperation")
        ).value
    )
    assert "column 'cooperation': expected a required column, or a nationality table" in message


def test_nationality_table_from_a_path(tmp_path):
    table = write_csv(tmp_path, NATIONALITIES.assign(region=["ME", "WA", "-"]), "nat.csv")
    cases = load_cases(write_csv(tmp_path, cases_frame().drop(columns="cooperation")), table)
    assert cases["cooperation"].astype(str).tolist()[:2] == ["low", "medium"]


def test_bad_nationality_table_is_refused_with_its_own_name(tmp_path):
    table = NATIONALITIES.assign(cooperation=["low", "Medium", "high"])
    table.loc[2, "nationality"] = "IRQ"
    path = write_csv(tmp_path, table, "nat.csv")
    message = str(pytest.raises(ContractError, load_nationality_table, path).value)
    assert message.startswith(f"{path} breaks the data contract (2 problems)")
    assert "column 'cooperation', row 2 (line 3): value 'Medium'" in message
    assert "column 'nationality', rows 1 (line 2), 3 (line 4): value 'IRQ'" in message
    with pytest.raises(ContractError, match="nationality table"):
        validate_nationality_table(table.drop(columns="cooperation"))


# -- the summary ----------------------------------------------------------------------


def test_summary_counts():
    summary = summarise_cases(validate_cases(cases_frame()))
    assert summary["n_cases"] == 6 and summary["n_persons"] == 5
    assert summary["n_nationalities"] == 3
    assert (summary["year_min"], summary["year_max"]) == (2017, 2023)
    assert summary["cases_per_year"] == {2017: 1, 2019: 1, 2020: 1, 2021: 1, 2022: 1, 2023: 1}
    assert list(summary["outcome_shares"]) == list(OUTCOMES)
    assert summary["outcome_shares"]["assisted_return"] == pytest.approx(2 / 6)
    assert summary["outcome_shares"]["independent_return"] == 0.0
    assert sum(summary["outcome_shares"].values()) == pytest.approx(1.0)


def test_format_summary_is_a_few_lines():
    text = format_summary(summarise_cases(validate_cases(cases_frame())))
    assert 2 <= len(text.splitlines()) <= 6
    assert "6 cases of 5 persons, 3 nationalities, closed 2017-2023" in text
    assert "assisted_return 33.3%" in text


def test_frame_with_a_repeated_column_is_refused():
    frame = pd.concat([cases_frame(), cases_frame()[["gender"]]], axis=1)
    message = str(pytest.raises(ContractError, validate_cases, frame).value)
    assert "expected distinct column names; 'gender' appears 2 times" in message


def test_parquet_without_rows_is_refused(tmp_path):
    path = tmp_path / "cases.parquet"
    cases_frame().iloc[:0].to_parquet(path)
    assert "the table has no rows" in file_error(path)


def test_the_declarative_contract_catches_what_it_declares():
    """CASE_SCHEMA (pandera) accepts every validated frame and refuses a broken one."""
    from pandera.errors import SchemaErrors

    from returnmodels.data.contract import CASE_SCHEMA

    frame = pd.read_csv(io.StringIO(CSV), dtype=str, keep_default_na=False)
    typed = validate_cases(frame)
    CASE_SCHEMA.validate(typed)
    broken = typed.assign(n_procedures=typed["n_procedures"] - 1)
    with pytest.raises(SchemaErrors, match="n_procedures"):
        CASE_SCHEMA.validate(broken, lazy=True)

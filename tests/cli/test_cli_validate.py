"""``returnmodels validate``: a summary and exit 0 for a valid file, one message and exit 2
for an invalid one, never a traceback."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from returnmodels import cli
from returnmodels.data.validation import load_cases

HEADER = (
    "case_id,person_id,nationality,closing_year,outcome,n_procedures,gender,age_group,"
    "family,cooperation"
)
VALID = [
    "C1,P1,IRQ,2019,assisted_return,1,male,18-29,true,low",
    "C2,P2,NGA,2020,forced_return,2,female,30-44,false,medium",
    "C3,P2,NGA,2021,legal_stay,3,unknown,0-17,1,medium",
]


@pytest.fixture
def write(tmp_path):
    def write(rows, name="cases.csv", header=HEADER):
        path = tmp_path / name
        path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
        return path

    return write


def test_valid_file_prints_a_summary(write, capsys):
    path = write(VALID)
    assert cli.main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert f"{path}: valid case file" in out
    assert "3 cases of 2 persons, 2 nationalities, closed 2019-2021" in out
    assert "assisted_return 33.3%" in out
    assert err == ""


def test_invalid_file_lists_every_problem_and_exits_2(write, capsys):
    rows = [*VALID, "C3,P4,irq,2021,Other,0,male,18-29,yes,low"]
    path = write(rows)
    assert cli.main(["validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"returnmodels validate: {path} breaks the data contract (5 problems)")
    for part in [
        "column 'case_id', rows 3 (line 4), 4 (line 5): value 'C3'",
        "column 'nationality', row 4 (line 5): value 'irq'",
        "column 'outcome', row 4 (line 5): value 'Other'",
        "column 'n_procedures', row 4 (line 5): value '0'",
        "column 'family', row 4 (line 5): value 'yes'",
    ]:
        assert part in err
    assert "Traceback" not in err


def test_nationality_table_supplies_cooperation(write, capsys):
    path = write([row.rsplit(",", 1)[0] for row in VALID], header=HEADER.rsplit(",", 1)[0])
    table = write(["IRQ,low", "NGA,medium"], name="nat.csv", header="nationality,cooperation")
    assert cli.main(["validate", str(path), "--nationality-table", str(table)]) == 0
    assert "3 cases of 2 persons" in capsys.readouterr().out


def test_nationality_table_that_disagrees_exits_2(write, capsys):
    path = write(VALID)
    table = write(["IRQ,low", "NGA,high"], name="nat.csv", header="nationality,cooperation")
    assert cli.main(["validate", str(path), "--nationality-table", str(table)]) == 2
    err = capsys.readouterr().err
    assert "column 'cooperation', rows 2 (line 3), 3 (line 4): value 'medium'" in err
    assert "expected 'high' for nationality 'NGA', as in the table" in err


def test_blank_identifier_exits_2_naming_column_and_row(write, capsys):
    path = write([*VALID, "   ,P4,IRQ,2019,assisted_return,1,male,18-29,true,low"])
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "column 'case_id', row 4 (line 5): value '   '; expected a non-empty identifier" in err


def test_gzipped_file_named_csv_exits_2_saying_so(write, capsys):
    path = write(VALID)
    path.write_bytes(gzip.compress(path.read_bytes()))
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "the file looks gzip-compressed (it starts with bytes 1f 8b)" in err
    assert "name it '.csv.gz', which is accepted" in err
    gz = path.rename(path.with_name("cases.csv.gz"))
    assert cli.main(["validate", str(gz)]) == 0
    assert "3 cases of 2 persons" in capsys.readouterr().out


def test_parquet_with_a_year_stored_as_text_exits_2_naming_the_types(write, tmp_path, capsys):
    cases = load_cases(write(VALID))  # typed: every other column stored as the contract's
    path = tmp_path / "cases.parquet"
    cases.assign(closing_year=cases["closing_year"].astype(str)).to_parquet(path)
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path} breaks the data contract (1 problem)" in err
    assert "column 'closing_year': expected type integer" in err
    assert "found type string" in err


def test_missing_file_exits_2(tmp_path, capsys):
    assert cli.main(["validate", str(tmp_path / "absent.csv")]) == 2
    assert "absent.csv: no such file" in capsys.readouterr().err


def test_command_line_gives_no_traceback(write):
    path = write(["C1,P1,IRQ,2019,assisted_return,1.5,male,18-29,true,low"])
    result = subprocess.run(
        [str(Path(sys.executable).with_name("returnmodels")), "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "column 'n_procedures', row 1 (line 2): value '1.5'" in result.stderr
    assert "Traceback" not in result.stderr

"""``returnmodels fit`` on awkward files and options: a message and exit status 2, never a
traceback, nothing written; and what should fit (a 0/1 or true/false response in any
table, a byte-order mark, a single chain) fits.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fakes import fake_fit
from returnmodels.cli import main
from returnmodels.errors import ConfigError
from returnmodels.files import check_new_folder, removed_on_failure
from returnmodels.inference.diagnostics import check_convergence
from returnmodels.report import notebook
from returnmodels.report.run_folder import RunFolder
from returnmodels.simulate import simulate_cases

TINY = ["--draws", "50", "--tune", "50"]
#: How each kind of table is fitted: a case file, a formula on another table, and the
#: registered models' column options on another table.
HOW = {
    "case file": ["--formula", "assisted ~ gender + (1 | nationality)"],
    "formula": ["--formula", "y ~ x + (1 | g)"],
    "column options": ["--model", "varying_intercepts", "--outcome", "y", "--group", "g"],
}


def _other_table(rows: int = 120, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 5, rows)
    x = rng.normal(size=rows)
    y = rng.random(rows) < 1 / (1 + np.exp(-(x + 0.3 * g - 0.6)))
    return pd.DataFrame({"y": y.astype(int), "x": x.round(3), "g": [f"G{i}" for i in g]})


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    cases = simulate_cases(n_cases=300, random_seed=5).cases.to_csv(index=False)
    other = _other_table().to_csv(index=False)
    return {"case file": cases, "formula": other, "column options": other}


def _fit(capsys, data, out, how: str, *extra: str) -> tuple[int, str]:
    code = main(["fit", "--data", str(data), "--out", str(out), *HOW[how], *TINY, *extra])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err


def _awkward(kind: str, text: str) -> bytes:
    lines = text.splitlines()
    if kind == "latin-1":
        lines[3] = "é" + lines[3]
        return "\n".join(lines).encode("latin-1")
    if kind == "empty":
        return b""
    if kind == "header only":
        return (lines[0] + "\n").encode()
    return text.replace(",", ";").encode()  # semicolon-separated


AWKWARD = {
    "latin-1": ["not valid UTF-8", "(line 4)", "re-save the file as UTF-8"],
    "empty": ["the file is empty (0 bytes)"],
    "header only": ["the file has a header but no rows"],
    "semicolon": ["looks semicolon-separated", "returnmodels reads comma-separated CSV"],
}


@pytest.mark.parametrize("how", list(HOW))
@pytest.mark.parametrize("kind", list(AWKWARD))
def test_awkward_file_exits_2_naming_file_and_problem(kind, how, texts, tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_bytes(_awkward(kind, texts[how]))
    out = tmp_path / "out"
    code, error = _fit(capsys, data, out, how)
    assert code == 2
    assert f"returnmodels fit: {data} " in error
    for words in AWKWARD[kind]:
        assert words in error, error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]  # nothing written


def test_column_of_numbers_with_text_names_row_line_and_value(tmp_path, capsys):
    data = tmp_path / "data.csv"
    table = _other_table().astype({"x": object})
    table.loc[6, "x"] = "1,5"
    table.to_csv(data, index=False)
    code, error = _fit(capsys, data, tmp_path / "out", "formula")
    assert code == 2
    assert "column 'x', row 7 (line 8): value '1,5'; expected a number" in error
    assert "did you mean '1.5'?" in error


@pytest.mark.parametrize("seed", ["-1", str(2**64), str(2**70)])
def test_seed_out_of_range_is_refused_before_the_data_are_read(seed, tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_bytes(b"")  # reading it would fail: the seed must be refused first
    code, error = _fit(capsys, data, tmp_path / "out", "formula", "--seed", seed)
    assert code == 2
    assert "--seed must be a whole number from 0 to 18446744073709551615" in error
    assert f"got {seed}" in error and "empty" not in error


def test_non_empty_out_is_refused_before_the_data_are_read(tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_bytes(b"")
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("kept")
    code, error = _fit(capsys, data, out, "formula")
    assert code == 2 and "exists and is not empty" in error and "empty (0 bytes)" not in error
    assert [p.name for p in out.iterdir()] == ["old.txt"]


def test_out_where_no_folder_can_be_made_is_refused_before_reading(tmp_path, capsys, monkeypatch):
    import returnmodels.files as files

    def refuse(**kwargs):  # what a read-only file system answers, even to root
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(files.tempfile, "mkdtemp", refuse)
    data = tmp_path / "data.csv"
    data.write_bytes(b"")
    code, error = _fit(capsys, data, tmp_path / "a" / "out", "formula")
    assert code == 2 and "cannot be created in" in error and "Read-only file system" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_failed_write_leaves_no_folder_behind(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("a figure could not be drawn")

    monkeypatch.setattr(notebook, "write_fit_outputs", fail)
    with pytest.raises(RuntimeError):
        notebook.write_fit_folder(fake_fit({"AAA": 30, "BBB": 40}), tmp_path / "new" / "out")
    assert list(tmp_path.iterdir()) == []


def _one_chain(result):
    tree = result.copy()
    tree["posterior"] = result["posterior"].to_dataset().isel(chain=[0])
    return tree


def test_one_chain_gate_says_r_hat_needs_two_chains():
    verdict = check_convergence(_one_chain(fake_fit({"AAA": 30, "BBB": 40})))
    assert not verdict.passed
    assert verdict.failures[0].startswith("1 chain: R-hat is undefined (it compares chains)")
    assert "nan" not in " ".join(verdict.failures)


def test_one_chain_rank_plot_compares_its_halves(tmp_path):
    result = _one_chain(fake_fit({"AAA": 30, "BBB": 40}))
    halves = notebook._halves_of_one_chain(result)["posterior"].to_dataset()
    draws = result["posterior"].sizes["draw"] // 2
    assert halves.sizes["chain"] == 2 and halves.sizes["draw"] == draws
    intercept = result["posterior"]["Intercept"].values[0]
    assert np.array_equal(halves["Intercept"].values[1], intercept[draws : 2 * draws])
    rank, trace = notebook.save_convergence_plots(result, RunFolder(tmp_path))
    assert (tmp_path / "rank.png").is_file() and (tmp_path / "trace.png").is_file()


# -- the Python side of the same checks ------------------------------------------------


@pytest.mark.parametrize("seed", [-1, 2**64, 2**70])
def test_seed_outside_the_unsigned_64_bit_range_is_refused(seed):
    from returnmodels.inference.fit import check_sampling

    with pytest.raises(ConfigError, match=r"from 0 to 18446744073709551615.*got "):
        check_sampling({"random_seed": seed})


def test_largest_seed_is_accepted():
    from returnmodels.inference.fit import MAX_SEED, check_sampling

    assert check_sampling({"random_seed": MAX_SEED})["random_seed"] == 2**64 - 1


def test_output_folder_is_probed_by_making_a_folder(tmp_path, monkeypatch):
    import returnmodels.files as files

    assert check_new_folder(tmp_path / "new" / "out") == tmp_path / "new" / "out"
    assert list(tmp_path.iterdir()) == []  # the probe is gone

    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkdtemp", refuse)
    with pytest.raises(ConfigError, match="cannot be created in .*: Permission denied"):
        check_new_folder(tmp_path / "out")


def test_parent_folders_made_for_a_failed_write_are_removed(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    with pytest.raises(RuntimeError), removed_on_failure(out):
        raise RuntimeError("the write failed")
    assert list(tmp_path.iterdir()) == []
    with removed_on_failure(out):
        out.mkdir()
    assert out.is_dir()


# -- what must fit ----------------------------------------------------------------------


@pytest.mark.sampling
@pytest.mark.parametrize(
    ("response", "chains"), [("0/1", "1"), ("true/false", "2")], ids=["0-1", "true-false"]
)
@pytest.mark.parametrize("how", ["formula", "column options"])
def test_binary_response_of_another_table_fits(response, chains, how, tmp_path, capsys):
    table = _other_table()
    if response == "true/false":
        table["y"] = np.where(table["y"] == 1, "TRUE", "false")
    data = tmp_path / "data.csv"
    data.write_bytes(b"\xef\xbb\xbf" + table.to_csv(index=False).encode())  # a BOM too
    out = tmp_path / "out"
    code, error = _fit(capsys, data, out, how, "--chains", chains)
    assert code == 0, error
    assert {"posterior.nc", "rank.png", "trace.png", "fit_manifest.json"} <= {
        p.name for p in out.iterdir()
    }
    manifest = json.loads((out / "fit_manifest.json").read_text())
    assert manifest["config"]["sampling"]["chains"] == int(chains)
    if chains == "1":
        assert manifest["convergence"]["failures"][0].startswith("1 chain: R-hat is undefined")


@pytest.mark.sampling
def test_case_file_with_a_byte_order_mark_fits_with_one_chain(texts, tmp_path, capsys):
    data = tmp_path / "cases.csv"
    data.write_bytes(b"\xef\xbb\xbf" + texts["case file"].encode())
    code, error = _fit(capsys, data, tmp_path / "out", "case file", "--chains", "1")
    assert code == 0, error
    assert (tmp_path / "out" / "rank.png").is_file()


@pytest.mark.sampling
def test_competing_outcomes_take_the_largest_seed(texts, tmp_path):
    from returnmodels.inference.fit import MAX_SEED, fit

    data = tmp_path / "cases.csv"
    data.write_text(texts["case file"])
    result = fit(
        data, formula="outcome ~ 1 + (1 | nationality)", draws=20, tune=20, chains=1,
        random_seed=MAX_SEED, progressbar=False,
    )  # fmt: skip
    assert "sample_stats_stage1" in result.children  # stage 2 sampled, seed wrapped to 0

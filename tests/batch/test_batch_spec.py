"""Batch files are validated before anything runs: each mistake is one ConfigError naming
the file, the run, the key and the value, and nothing is written to the results folder."""

from __future__ import annotations

import io
from contextlib import redirect_stderr
from pathlib import Path

import nbformat
import pytest

from returnmodels import cli
from returnmodels.batch.spec import load_batch
from returnmodels.errors import ConfigError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "notebooks"
REPO = Path(__file__).parents[2]


@pytest.fixture
def batch(tmp_path):
    """Write a batch file whose root is the fixture notebooks folder; return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "batch.yaml"
        path.write_text(f"root: {FIXTURES}\n{text}", encoding="utf-8")
        return path

    return write


def test_a_valid_batch_merges_defaults_and_resolves_paths(batch, tmp_path):
    (tmp_path / "cases.csv").write_text("x\n1\n")
    path = batch(
        f"defaults: {{seed: 1, data: {tmp_path}/cases.csv}}\n"
        "runs:\n"
        "  - {name: draws, notebook: draws.ipynb, parameters: {seed: 2}}\n"
        "  - {name: down, notebook: downstream.ipynb, after: draws}\n"
    )
    spec = load_batch(path)
    draws = spec.run("draws")
    assert draws.parameters == {"seed": 2, "data": str(tmp_path / "cases.csv")}
    assert draws.notebook == FIXTURES / "draws.ipynb"
    assert spec.run("down").after == ("draws",)
    assert spec.run("down").parameters == {}  # downstream.ipynb defines neither default


def test_relative_paths_are_resolved_against_root(tmp_path):
    (tmp_path / "nb").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "cases.csv").write_text("x\n1\n")
    nbformat.write(nbformat.read(FIXTURES / "draws.ipynb", 4), tmp_path / "nb" / "draws.ipynb")
    path = tmp_path / "nb" / "batch.yaml"
    path.write_text(
        "root: ..\nruns:\n"
        "  - {name: d, notebook: nb/draws.ipynb, parameters: {data: data/cases.csv}}\n"
    )
    run = load_batch(path).run("d")
    assert run.notebook == tmp_path / "nb" / "draws.ipynb"
    assert run.parameters["data"] == str(tmp_path / "data" / "cases.csv")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("runs: [unclosed\n", "not valid YAML"),
        ("runs: []\n", "'runs' must be a non-empty list"),
        ("colour: red\nruns: [{name: a, notebook: draws.ipynb}]\n", "unknown key 'colour'"),
        ("runs: [{name: a, notebook: draws.ipynb, seed: 1}]\n", "run 'a': unknown key 'seed'"),
        ("runs: [{name: 'a b', notebook: draws.ipynb}]\n", "key 'name' = 'a b'"),
        ("runs: [{name: a, notebook: missing.ipynb}]\n", "key 'notebook' = 'missing.ipynb'"),
        (
            "runs: [{name: a, notebook: draws.ipynb, parameters: {sede: 1}}]\n",
            "parameter 'sede' = 1 is not defined in the parameters cell of draws.ipynb",
        ),
        (
            "runs: [{name: a, notebook: draws.ipynb}, {name: a, notebook: fails.ipynb}]\n",
            "run name 'a' is used twice",
        ),
        (
            "runs: [{name: a, notebook: draws.ipynb, after: [b]}]\n",
            "run 'a': key 'after' = 'b' is not another run",
        ),
        (
            "runs: [{name: a, notebook: draws.ipynb, after: [b]},"
            " {name: b, notebook: draws.ipynb, after: [a]}]\n",
            "makes a cycle: a -> b -> a",
        ),
        (
            "defaults: {sede: 1}\nruns: [{name: a, notebook: draws.ipynb}]\n",
            "key 'defaults': parameter 'sede' = 1 is defined in the parameters cell of no",
        ),
        (
            "defaults: {out: /tmp}\nruns: [{name: a, notebook: draws.ipynb}]\n",
            "parameter 'out' is set by the runner",
        ),
        (
            "runs: [{name: a, notebook: draws.ipynb, parameters: {data: nowhere/cases.csv}}]\n",
            "parameter 'data' = 'nowhere/cases.csv' looks like a path",
        ),
    ],
)
def test_each_mistake_is_named(batch, text, expected):
    path = batch(text)
    with pytest.raises(ConfigError) as caught:
        load_batch(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_batch_must_be_a_mapping(tmp_path):
    path = tmp_path / "batch.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="a batch file must be a mapping"):
        load_batch(path)


def test_smoke_needs_a_smoke_parameter(batch, tmp_path):
    nb = nbformat.read(FIXTURES / "sleeps.ipynb", 4)
    nb.cells[1].source = 'out = "."\nseconds = 1.0'
    nbformat.write(nb, tmp_path / "nosmoke.ipynb")
    path = tmp_path / "batch.yaml"
    path.write_text(f"root: {tmp_path}\nruns: [{{name: a, notebook: nosmoke.ipynb}}]\n")
    load_batch(path)  # fine without --smoke
    with pytest.raises(ConfigError, match="defines no 'smoke' parameter"):
        load_batch(path, smoke=True)


def test_an_invalid_batch_writes_nothing(batch, tmp_path):
    path = batch("runs: [{name: a, notebook: draws.ipynb, parameters: {sede: 1}}]\n")
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        status = cli.main(["run", str(path), "--out", str(tmp_path / "out")])
    assert status == 2
    assert "sede" in stderr.getvalue()
    assert not (tmp_path / "out").exists()


def test_the_main_job_is_a_valid_batch():
    spec = load_batch(REPO / "notebooks" / "main.yaml", smoke=True)
    explore = next(run for run in spec.runs if run.name == "explore")
    assert Path(explore.parameters["data"]).is_file()

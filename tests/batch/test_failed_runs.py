"""A failed run carries no data values: its message (which may quote the data, as the data
layer's ``ContractError`` does) stays in the run's internal ``error.log``; the notebook,
its HTML, the manifest, ``run.log`` and ``index.html`` say only the exception's type, the
cell and the withheld sentence; the audit names only ``error.log``, which the release
never copies."""

from __future__ import annotations

import io
import json
from concurrent.futures import Future
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from returnmodels import cli
from returnmodels.batch import Progress, runner, worker
from returnmodels.batch.failure import WITHHELD, redact_notebook, withhold_errors
from returnmodels.batch.manifest import read_manifest
from returnmodels.disclosure.audit import audit_results
from returnmodels.disclosure.error_text import ERROR_LOG, notebook_error_findings

FIXTURES = Path(__file__).parents[1] / "fixtures" / "notebooks"
#: The planted value: the third row of the data, quoted by the failing notebook.
PLANTED = b"ZZQ"


@pytest.fixture(scope="module")
def failed(tmp_path_factory):
    """A batch of one notebook that prints a traceback and fails, both quoting the data."""
    folder = tmp_path_factory.mktemp("failed")
    (folder / "cases.csv").write_text("nationality\nIRQ\nNGA\nZZQ\n", encoding="utf-8")
    notebook = FIXTURES / "quotes_data.ipynb"
    batch = folder / "batch.yaml"
    batch.write_text(
        f"runs:\n  - {{name: quotes, notebook: {notebook}, parameters: {{data: cases.csv}}}}\n",
        encoding="utf-8",
    )
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        status = cli.main(["run", str(batch), "--out", str(folder / "out")])
    return folder / "out", status, stderr.getvalue()


def files_quoting(folder: Path, value: bytes) -> list[str]:
    """Every file under ``folder`` (hidden ones too) whose bytes contain ``value``."""
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and value in p.read_bytes()
    )


def test_only_the_error_log_quotes_the_data(failed):
    out, status, _ = failed
    assert status == 1
    assert files_quoting(out, PLANTED) == [f"quotes/{ERROR_LOG}"]
    full = (out / "quotes" / ERROR_LOG).read_text(encoding="utf-8")
    assert "ValueError in cell [6]:\ncolumn 'nationality', row 3 (line 4): found 'ZZQ'" in full
    assert "KeyError: 'ZZQ'" in full  # the traceback the notebook printed to stderr
    assert "Traceback (most recent call last)" in full


def test_the_failure_is_named_by_type_and_cell_only(failed):
    out, _, stderr = failed
    manifest = read_manifest(out / "quotes")
    assert manifest["status"] == "failed"
    assert manifest["error"] == {"name": "ValueError", "cell": 6, "message": WITHHELD}
    assert manifest["error_log"] == str(out / "quotes" / ERROR_LOG)
    notebook = json.loads((out / "quotes" / "quotes_data.ipynb").read_text(encoding="utf-8"))
    outputs = [o for cell in notebook["cells"] for o in cell.get("outputs", [])]
    errors = [o for o in outputs if o["output_type"] == "error"]
    assert errors == [
        {
            "output_type": "error",
            "ename": "ValueError",
            "evalue": WITHHELD,
            "traceback": [f"ValueError: {WITHHELD}"],
        }
    ]
    assert {"output_type": "stream", "name": "stderr", "text": WITHHELD + "\n"} in outputs
    assert f"ValueError: {WITHHELD}" in (out / "quotes" / "quotes_data.html").read_text()
    assert f"ValueError in cell [6]: {WITHHELD}" in (out / "index.html").read_text()
    assert f"FAILED quotes: ValueError in cell [6]: {WITHHELD}" in stderr
    assert (out / "quotes" / "before.txt").is_file()  # the partial outputs are kept


def test_the_audit_names_only_the_internal_error_log(failed):
    out = failed[0]
    report = audit_results(out / "quotes")
    assert [(f.source, f.rule) for f in report.findings] == [(ERROR_LOG, "internal-file")]
    disclosure = read_manifest(out / "quotes")["disclosure"]
    assert disclosure["internal"] == [ERROR_LOG] and disclosure["findings"] == []


def test_the_release_leaves_the_error_log_inside_and_is_clean(failed, tmp_path, capsys):
    out = failed[0]
    release = tmp_path / "release"
    assert cli.main(["release", str(out), "--out", str(release)]) == 1  # error.log withheld
    manifest = json.loads((release / "release_manifest.json").read_text(encoding="utf-8"))
    assert manifest["withheld"] == {f"quotes/{ERROR_LOG}": ["file: internal-file"]}
    assert {"quotes/quotes_data.ipynb", "quotes/quotes_data.html", "quotes/manifest.json"} <= set(
        manifest["files"]
    )
    assert files_quoting(release, PLANTED) == []
    capsys.readouterr()
    assert cli.main(["audit", str(release)]) == 0, capsys.readouterr().out


def notebook_with(*outputs: dict) -> dict:
    cell = {"cell_type": "code", "execution_count": 3, "outputs": list(outputs), "source": ""}
    return {"cells": [{"cell_type": "markdown", "source": "# x"}, cell]}


def test_redaction_withholds_exactly_what_the_audit_finds():
    stderr_traceback = {
        "output_type": "stream",
        "name": "stderr",
        "text": "Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'ZZQ'\n",
    }
    warning = {"output_type": "stream", "name": "stderr", "text": "x.py:3: UserWarning: slow\n"}
    error = {
        "output_type": "error",
        "ename": "ContractError",
        "evalue": "found 'ZZQ'",
        "traceback": ["\x1b[31mContractError\x1b[39m: found 'ZZQ'"],
    }
    shown = {"output_type": "execute_result", "data": {"text/plain": "3"}, "metadata": {}}
    notebook = notebook_with(stderr_traceback, warning, error, shown)
    assert len(notebook_error_findings(notebook, "nb")) == 2
    withheld = redact_notebook(notebook)
    assert notebook_error_findings(notebook, "nb") == []
    assert [text.splitlines()[0] for text in withheld] == [
        "cell 2 (In [3]), output 1:",
        "cell 2 (In [3]), output 3:",
    ]
    assert "KeyError: 'ZZQ'" in withheld[0] and "ContractError: found 'ZZQ'" in withheld[1]
    outputs = notebook["cells"][1]["outputs"]
    assert outputs[1] == warning and outputs[3] == shown  # the rest untouched
    assert outputs[2]["traceback"] == [f"ContractError: {WITHHELD}"]


def test_a_run_log_that_quotes_an_error_moves_into_the_error_log(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("Traceback (most recent call last):\n  ...\nOSError: cases ZZQ\n")
    result = {"error": {"name": "WorkerError", "message": "exited: ZZQ", "cell": None}}
    error = withhold_errors(tmp_path, tmp_path / "missing.ipynb", log, result)
    assert error == {"name": "WorkerError", "cell": None, "message": WITHHELD}
    assert log.read_text() == WITHHELD + "\n"
    full = (tmp_path / ERROR_LOG).read_text()
    assert "the run failed: WorkerError:\nexited: ZZQ" in full and "OSError: cases ZZQ" in full


def test_a_clean_run_writes_no_error_log_and_keeps_its_log(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("kernel started\n")
    assert withhold_errors(tmp_path, tmp_path / "none.ipynb", log, {"error": None}) is None
    assert log.read_text() == "kernel started\n" and not (tmp_path / ERROR_LOG).exists()


def test_a_retried_kernel_start_keeps_its_message_out_of_the_log(monkeypatch, capsys):
    failures = [{"name": "RuntimeError", "message": "died reading ZZQ", "cell": None}]
    monkeypatch.setattr(
        worker,
        "_execute_once",
        lambda task: failures.pop() | {"kernel_start": True} if failures else None,
    )
    monkeypatch.setattr(worker, "time", type("T", (), {"sleep": staticmethod(lambda s: None)}))
    result = worker.execute({"notebook": "x.ipynb"})
    assert "ZZQ" not in capsys.readouterr().err  # the worker's output is the run's run.log
    assert result["retried_after"] == {
        "name": "RuntimeError",
        "message": "died reading ZZQ",
        "cell": None,
    }


def test_a_runner_error_is_printed_but_its_note_names_only_the_type():
    future: Future = Future()
    future.set_exception(KeyError("ZZQ"))
    stream = io.StringIO()
    progress = Progress(["a"], stream=stream)
    runner._finish("a", future, progress)
    assert progress.runs["a"].note == f"runner error: KeyError: {runner.RUNNER_WITHHELD}"
    assert "a: runner error: KeyError: 'ZZQ'" in stream.getvalue()  # the terminal only

"""Running batches of the tiny fixture notebooks: outputs, manifests, index, skipping,
--force, reproducibility, failure isolation, atomicity after a kill, and Dask."""

from __future__ import annotations

import io
import re
import shutil
import signal
import subprocess
import sys
import time
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from returnmodels import cli
from returnmodels.batch import DaskExecutor, Progress, load_batch, run_batch
from returnmodels.batch.failure import WITHHELD
from returnmodels.batch.manifest import is_complete, read_manifest

FIXTURES = Path(__file__).parents[1] / "fixtures" / "notebooks"
DRAWS = "  - {name: draws, notebook: draws.ipynb, parameters: {seed: 7}}\n"
DOWN = "  - {name: down, notebook: downstream.ipynb, after: [draws]}\n"
FAILS = "  - {name: fails, notebook: fails.ipynb}\n"
AFTER_FAILS = "  - {name: after-fails, notebook: downstream.ipynb, after: [fails]}\n"


def write_batch(folder: Path, *runs: str) -> Path:
    path = folder / f"batch-{len(list(folder.glob('batch-*.yaml')))}.yaml"
    path.write_text(f"root: {FIXTURES}\nruns:\n{''.join(runs)}", encoding="utf-8")
    return path


def run_cli(*args: str) -> tuple[int, str, float]:
    stderr, start = io.StringIO(), time.monotonic()
    with redirect_stderr(stderr):
        status = cli.main(["run", *map(str, args)])
    return status, stderr.getvalue(), time.monotonic() - start


def last_table(stderr: str) -> dict[str, str]:
    """Run name -> last printed state line."""
    states = {}
    for line in stderr.splitlines():
        match = re.match(r"^  (\S+)\s+(queued|running|done|skipped|failed)\b(.*)$", line)
        if match:
            states[match[1]] = f"{match[2]}{match[3]}".strip()
    return states


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """One batch with a success, a dependent, a failure and a run depending on it."""
    folder = tmp_path_factory.mktemp("batch")
    batch = write_batch(folder, DRAWS, FAILS, DOWN, AFTER_FAILS)
    status, stderr, _ = run_cli(batch, "--out", folder / "out")
    return folder, folder / "out", status, stderr


@pytest.fixture
def copy_of_first(first, tmp_path):
    """The first batch's results folder, copied so a test may rerun into it."""
    shutil.copytree(first[1], tmp_path / "out")
    return tmp_path


def test_a_failing_run_neither_stops_nor_hides_the_others(first):
    _, out, status, stderr = first
    assert status == 1
    states = last_table(stderr)
    assert states["draws"].startswith("done") and states["down"].startswith("done")
    assert states["fails"].startswith("failed")
    assert states["after-fails"] == "skipped  dependency failed: fails"
    assert f"FAILED fails: ValueError in cell [4]: {WITHHELD}" in stderr
    assert f"partial notebook: {out / 'fails' / 'fails.ipynb'}" in stderr
    failed = read_manifest(out / "fails")
    assert failed["status"] == "failed"
    assert failed["error"] == {
        "name": "ValueError",
        "message": WITHHELD,  # the message may quote the data: it is in error.log
        "cell": 4,  # In [4]: parameters, injected parameters, before.txt, raise
    }
    assert "deliberate failure for the test" in (out / "fails" / "error.log").read_text()
    assert (out / "fails" / "fails.ipynb").is_file() and (out / "fails" / "before.txt").is_file()
    assert not (out / "after-fails").exists()
    assert not (out / ".staging").exists()


def test_each_run_folder_holds_notebook_html_outputs_and_manifest(first):
    out = first[1]
    manifest = read_manifest(out / "draws")
    assert {"draws.ipynb", "draws.html", "draws.csv", "diagnostics.json", "run.log"} <= set(
        manifest["outputs"]
    )
    assert manifest["status"] == "ok" and manifest["verdict"] == "converged"
    assert manifest["seed"] == 7 and manifest["parameters"] == {"seed": 7}
    assert manifest["versions"]["papermill"] and manifest["versions"]["returnmodels"]
    assert manifest["injected"] == ["out"] and manifest["error"] is None
    assert manifest["duration_s"] > 0 and manifest["started"] <= manifest["finished"]
    assert is_complete(out / "draws", manifest["fingerprint"])
    # the kernel is this environment's interpreter; the working directory was the staging folder
    kernel = Path((out / "draws" / "kernel.txt").read_text())
    assert kernel.parent == Path(sys.executable).parent
    assert Path((out / "draws" / "cwd.txt").read_text()).parent == out / ".staging"
    # ... and it held no kernel sockets (they showed in notebook 02's listing of its folder)
    listing = (out / "draws" / "cwd_listing.txt").read_text().split("\n")
    assert "draws.csv" in listing and not [n for n in listing if n.startswith("kernel-ipc")]
    # the dependent run read its upstream's published outputs through `results`
    assert read_manifest(out / "down")["injected"] == ["out", "results"]
    assert (out / "down" / "total.csv").read_text().startswith("total\n")


def test_index_links_every_run_with_status_and_error(first):
    out = first[1]
    page = (out / "index.html").read_text()
    for href in re.findall(r'href="([^"]+)"', page):
        assert not href.startswith(("/", "http")) and (out / href).exists(), href
    assert 'href="draws/draws.html"' in page and 'href="fails/fails.html"' in page
    assert f"ValueError in cell [4]: {WITHHELD}" in page
    assert str(out / "fails" / "fails.ipynb") in page
    assert "dependency failed: fails" in page and "<script" not in page


def test_a_rerun_skips_what_is_up_to_date(copy_of_first):
    batch = write_batch(copy_of_first, DRAWS, DOWN)
    before = read_manifest(copy_of_first / "out" / "draws")
    status, stderr, took = run_cli(batch, "--out", copy_of_first / "out")
    assert status == 0
    states = last_table(stderr)
    assert states["draws"].endswith("up to date") and states["down"].endswith("up to date")
    assert read_manifest(copy_of_first / "out" / "draws")["started"] == before["started"]
    assert took < 5


def test_force_reruns_and_gives_identical_csvs(copy_of_first):
    out = copy_of_first / "out"
    before = (out / "draws" / "draws.csv").read_bytes()
    status, stderr, _ = run_cli(write_batch(copy_of_first, DRAWS), "--out", out, "--force")
    assert status == 0 and last_table(stderr)["draws"].startswith("done")
    assert (out / "draws" / "draws.csv").read_bytes() == before


def test_damaged_outputs_rerun_the_run_and_its_dependents(copy_of_first):
    out = copy_of_first / "out"
    (out / "draws" / "draws.csv").write_text("i,x\n0,0\n")
    status, stderr, _ = run_cli(write_batch(copy_of_first, DRAWS, DOWN), "--out", out)
    states = last_table(stderr)
    assert status == 0
    assert states["draws"].startswith("done") and states["down"].startswith("done")
    assert is_complete(out / "draws", read_manifest(out / "draws")["fingerprint"])


def test_a_killed_batch_leaves_nothing_that_looks_complete(tmp_path):
    sleeps = "  - {name: sleeps, notebook: sleeps.ipynb, parameters: {seconds: 2.0}}\n"
    batch = write_batch(tmp_path, sleeps, DRAWS)
    out = tmp_path / "out"
    command = [Path(sys.executable).parent / "returnmodels", "run", batch, "--out", out]
    runner = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(out.glob(".staging/sleeps-*/started.txt")):  # the notebook is sleeping
        assert time.monotonic() < deadline and runner.poll() is None
        time.sleep(0.05)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    staged = next(out.glob(".staging/sleeps-*/"))
    for folder in (p for p in out.iterdir() if p.is_dir() and p.name != ".staging"):
        manifest = read_manifest(folder)
        assert manifest and is_complete(folder, manifest["fingerprint"]), folder
    assert not (out / "sleeps").exists()
    time.sleep(3.0)  # the orphaned notebook would have finished by now: it must have died
    assert not (staged / "done.txt").exists()
    status, stderr, _ = run_cli(batch, "--out", out)
    assert status == 0, stderr
    assert (out / "sleeps" / "done.txt").is_file() and not (out / ".staging").exists()


def test_the_same_batch_runs_on_a_dask_cluster_with_smoke(tmp_path):
    distributed = pytest.importorskip("distributed")
    batch = load_batch(write_batch(tmp_path, DRAWS, DOWN), smoke=True)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        executor = DaskExecutor(cluster.scheduler_address)
        try:
            progress = run_batch(
                batch,
                tmp_path / "out",
                executor,
                smoke=True,
                progress=Progress(["draws", "down"], stream=io.StringIO()),
            )
        finally:
            executor.close()
    assert [r.state for r in progress.runs.values()] == ["done", "done"]
    manifest = read_manifest(tmp_path / "out" / "draws")
    assert manifest["verdict"] == "smoke" and manifest["smoke"] is True
    assert manifest["injected"] == ["out", "smoke"]


def test_a_kernel_that_fails_to_start_is_retried_once(monkeypatch):
    from returnmodels.batch import worker

    failures = [{"name": "RuntimeError", "message": "Kernel died", "cell": None}]
    attempts = []

    def execute_once(task):
        attempts.append(task)
        return failures.pop() | {"kernel_start": True} if failures else None

    monkeypatch.setattr(worker, "_execute_once", execute_once)
    monkeypatch.setattr(worker, "time", type("T", (), {"sleep": staticmethod(lambda s: None)}))
    result = worker.execute({"notebook": "x.ipynb"})
    assert result["status"] == "ok" and result["attempts"] == 2 and len(attempts) == 2
    assert result["kernel_argv"][0] in ("python", "python3", sys.executable)

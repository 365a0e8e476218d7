"""Run a validated batch: skip what is up to date, respect ``after``, isolate failures.

A run starts once every run it comes ``after`` is done or up to date. It is skipped as
up to date when its inputs fingerprint matches its ``OUT/<run>/manifest.json``, every
output listed there is intact, no upstream run executed in this batch and ``force`` is
off. A run whose upstream failed (or was skipped for that reason) is skipped too, and
says which. A failed run's note gives the exception's type and cell, not its message
(:mod:`.failure`). One batch at a time may write to a results folder (a lock file guards it);
the leftovers of a killed batch under ``OUT/.staging/`` are removed when the next starts.
"""

from __future__ import annotations

import fcntl
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from returnmodels.batch.execute import CANCELLED, STAGING, execute_run
from returnmodels.batch.executors import DaskExecutor, LocalExecutor
from returnmodels.batch.failure import failure_note
from returnmodels.batch.index import write_index
from returnmodels.batch.manifest import (
    file_inputs,
    fingerprint,
    git_commit,
    is_complete,
    read_manifest,
)
from returnmodels.batch.progress import Progress
from returnmodels.batch.spec import Batch
from returnmodels.errors import ConfigError
from returnmodels.files import sha256_file

__all__ = ["run_batch", "plan_tasks"]

POLL_S = 0.1
#: What the progress note and ``index.html`` say of a runner error's message.
RUNNER_WITHHELD = "message withheld (it may quote the data): printed in the terminal only"


def run_batch(
    batch: Batch,
    out: str | Path,
    executor: LocalExecutor | DaskExecutor,
    *,
    smoke: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> Progress:
    """Execute ``batch`` into ``out``; return the final state of every run."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    progress = progress or Progress([r.name for r in batch.runs])
    with _lock(out):
        shutil.rmtree(out / STAGING, ignore_errors=True)
        (out / STAGING).mkdir()
        tasks = plan_tasks(batch, out, smoke)
        progress.print()
        CANCELLED.clear()
        try:
            _schedule(batch, tasks, out, executor, progress, force, smoke)
        except BaseException:
            CANCELLED.set()  # e.g. Ctrl-C: runs in flight here are discarded, not published
            raise
        write_index(out, progress, batch.path, smoke)
        shutil.rmtree(out / STAGING, ignore_errors=True)
    return progress


def plan_tasks(batch: Batch, out: Path, smoke: bool) -> dict[str, dict[str, Any]]:
    """The task of every run, with its inputs fingerprint (upstream runs first)."""
    commit, dirty = git_commit(batch.root)
    tasks: dict[str, dict[str, Any]] = {}
    pending = list(batch.runs)
    while pending:  # the batch is acyclic (validated), so each pass places at least one run
        for run in [r for r in pending if all(a in tasks for a in r.after)]:
            notebook_sha = sha256_file(run.notebook)
            files = file_inputs(run.parameters)
            upstream = {a: tasks[a]["fingerprint"] for a in run.after}
            effective = run.parameters | ({"smoke": True} if smoke else {})
            tasks[run.name] = {
                "name": run.name,
                "notebook": str(run.notebook),
                "notebook_sha256": notebook_sha,
                "parameters": run.parameters,
                "accepts": sorted(run.accepts),
                "after": list(run.after),
                "out": str(out),
                "smoke": smoke,
                "files": files,
                "fingerprint": fingerprint(notebook_sha, effective, files, upstream),
                "git_commit": commit,
                "git_dirty": dirty,
            }
            pending.remove(run)
    return tasks


def _schedule(batch, tasks, out, executor, progress, force, smoke) -> None:
    waiting = [r.name for r in batch.runs]
    running: dict[str, Any] = {}
    executed: set[str] = set()
    while waiting or running:
        changed = False
        for name in list(waiting):
            run = batch.run(name)
            states = [progress.runs[a].state for a in run.after]
            blocked = [a for a, s in zip(run.after, states, strict=True) if s == "failed"]
            blocked += [
                a
                for a, s in zip(run.after, states, strict=True)
                if s == "skipped" and progress.runs[a].note.startswith("dependency")
            ]
            if blocked:
                waiting.remove(name)
                progress.set(name, "skipped", f"dependency failed: {', '.join(blocked)}")
                changed = True
            elif all(s in ("done", "skipped") for s in states):
                fresh = not force and not executed.intersection(run.after)
                if fresh and is_complete(out / name, tasks[name]["fingerprint"]):
                    waiting.remove(name)
                    progress.set(name, "skipped", "up to date", read_manifest(out / name))
                    changed = True
                elif len(running) < executor.slots:
                    waiting.remove(name)
                    running[name] = executor.submit(execute_run, tasks[name])
                    executed.add(name)
                    progress.set(name, "running")
                    changed = True
        for name in [n for n, f in running.items() if f.done()]:
            _finish(name, running.pop(name), progress)
            changed = True
        if changed:
            write_index(out, progress, batch.path, smoke)
        else:
            time.sleep(POLL_S)


def _finish(name: str, future: Any, progress: Progress) -> None:
    """Record a finished run. Its note (printed, and shown by ``index.html``) names the
    exception's type and cell, never its message, which may quote the data: a run's
    message is in its ``error.log``; a runner error's is printed to the terminal only."""
    try:
        manifest = future.result()
    except Exception as error:  # the runner itself failed (e.g. a Dask worker was lost)
        kind = type(error).__name__
        print(f"{name}: runner error: {kind}: {error}", file=progress.stream, flush=True)
        progress.set(name, "failed", f"runner error: {kind}: {RUNNER_WITHHELD}")
        return
    if manifest["status"] == "ok":
        progress.set(name, "done", manifest=manifest)
    else:
        progress.set(name, "failed", failure_note(manifest["error"]), manifest=manifest)


@contextmanager
def _lock(out: Path) -> Iterator[None]:
    with open(out / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another batch is writing to {str(out)!r}; wait for it") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

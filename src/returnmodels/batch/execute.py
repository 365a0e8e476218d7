"""One run, start to finish: stage, execute in a fresh process, write the manifest, publish.

:func:`execute_run` takes and returns plain dicts, so it runs the same in a local
thread or on a Dask worker (which must see the same file system). Nothing appears
under ``OUT/<run>/`` until the run is over: the notebook executes with its working
directory and its ``out`` parameter set to ``OUT/.staging/<run>-<token>/``; the manifest
is written last; then the folder is renamed into place (an older ``OUT/<run>/`` is first
renamed aside, then deleted). A failed run is published the same way, with the partial
executed notebook and a manifest whose status is ``failed``. Before anything is published,
every error message moves into the run's internal ``error.log`` and is withheld from the
notebook, its HTML and the manifest (:mod:`.failure`): a message may quote the data.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from returnmodels.batch import worker
from returnmodels.batch.failure import ERROR_LOG, withhold_errors
from returnmodels.batch.manifest import MANIFEST, list_outputs, package_versions
from returnmodels.disclosure import DEFAULT_RULES, DisclosureRules
from returnmodels.disclosure.audit import audit_results
from returnmodels.errors import ConfigError
from returnmodels.files import write_json

__all__ = ["execute_run", "export_html", "publish", "CANCELLED", "STAGING", "DIAGNOSTICS", "LOG"]

STAGING = ".staging"
#: File a notebook may write into its ``out`` folder; its ``verdict`` key is the run's verdict.
DIAGNOSTICS = "diagnostics.json"
#: The worker process's own log (papermill, kernel start-up), kept with the run's outputs.
LOG = "run.log"
#: Set by the runner when a batch is interrupted, so that runs in flight in this process
#: (whose notebook processes die with the interrupt) are discarded, not published as failed.
CANCELLED = threading.Event()


def execute_run(task: dict[str, Any]) -> dict[str, Any]:
    """Execute the run described by ``task`` and publish ``OUT/<name>/``; return its manifest.

    ``task`` holds ``name``, ``notebook``, ``parameters`` (absolute paths already),
    ``accepts`` (the notebook's parameter names), ``out`` (the results folder), ``smoke``
    and the provenance the runner computed: ``fingerprint``, ``files``,
    ``notebook_sha256``, ``git_commit``, ``git_dirty``, ``after``.
    """
    out = Path(task["out"])
    staging = out / STAGING / f"{task['name']}-{secrets.token_hex(4)}"
    staging.mkdir(parents=True)
    injected = _injected(task, staging)
    started, clock = _now(), time.monotonic()
    result = _run_worker(task, staging, task["parameters"] | injected)
    if CANCELLED.is_set():  # the batch was interrupted: publish nothing
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"run {task['name']!r} cancelled: the batch was interrupted")
    stem = Path(task["notebook"]).stem
    error = withhold_errors(staging, staging / f"{stem}.ipynb", staging / LOG, result)
    if (staging / f"{stem}.ipynb").is_file():
        export_html(staging / f"{stem}.ipynb", staging / f"{stem}.html")
    manifest = _provenance(task) | {
        "started": started,
        "finished": _now(),
        "duration_s": round(time.monotonic() - clock, 3),
        "status": result["status"],
        "error": error,
        "attempts": result.get("attempts"),
        "kernel_argv": result.get("kernel_argv"),
        "injected": sorted(injected),
        "verdict": _verdict(staging),
        "executed_notebook": f"{stem}.ipynb" if (staging / f"{stem}.ipynb").is_file() else None,
        "html": f"{stem}.html" if (staging / f"{stem}.html").is_file() else None,
    }
    final = out / task["name"]
    if manifest["status"] != "ok" and manifest["executed_notebook"]:
        manifest["partial_notebook"] = str(final / manifest["executed_notebook"])
    if (staging / ERROR_LOG).is_file():
        manifest["error_log"] = str(final / ERROR_LOG)
    manifest["disclosure"] = disclosure_check(staging, task["parameters"])
    manifest["outputs"] = list_outputs(staging)
    write_json(manifest, staging / MANIFEST)
    publish(staging, final)
    return manifest


def disclosure_check(folder: Path, parameters: dict[str, Any]) -> dict[str, Any]:
    """What ``returnmodels audit`` says of a run's folder, under the run's own rules:
    ``internal`` files (a posterior with its data groups: kept for later runs, released
    only by ``returnmodels release``) and every other finding (file, location, rule;
    never the value that broke it)."""
    try:
        rules = DisclosureRules(
            min_cases=parameters.get("min_cases", DEFAULT_RULES.min_cases),
            rounding_base=parameters.get("rounding_base", DEFAULT_RULES.rounding_base),
        )
    except ConfigError as error:
        return {"rules": None, "internal": [], "findings": [f"rules: {error}"]}
    report = audit_results(folder, rules)
    internal = sorted({f.source for f in report.findings if f.rule == "internal-file"})
    findings = [
        f"{f.source}: {f.location}: {f.rule}" for f in report.findings if f.rule != "internal-file"
    ]
    return {"rules": rules.to_dict(), "internal": internal, "findings": findings}


def _injected(task: dict[str, Any], staging: Path) -> dict[str, Any]:
    """The runner's own parameters, for those the notebook defines."""
    offered = {"out": str(staging), "results": str(task["out"])}
    if task["smoke"]:
        offered["smoke"] = True
    return {k: v for k, v in offered.items() if k in task["accepts"]}


def _run_worker(task: dict[str, Any], staging: Path, parameters: dict) -> dict[str, Any]:
    stem = Path(task["notebook"]).stem
    base = staging.parent / staging.name
    job = {
        "notebook": task["notebook"],
        "executed": str(staging / f"{stem}.ipynb"),
        "parameters": parameters,
        "cwd": str(staging),
        "result": f"{base}.result.json",
    }
    Path(f"{base}.task.json").write_text(json.dumps(job), encoding="utf-8")
    with open(staging / LOG, "wb") as log:
        code = subprocess.call(
            [sys.executable, "-P", worker.__file__, f"{base}.task.json"],
            cwd=staging,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        return json.loads(Path(job["result"]).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        tail = (staging / LOG).read_text(encoding="utf-8", errors="replace").strip()[-1500:]
        message = f"the notebook worker exited with status {code}: {tail or 'no output'}"
        return {"status": "failed", "error": {"name": "WorkerError", "message": message}}
    finally:
        Path(f"{base}.task.json").unlink(missing_ok=True)
        Path(job["result"]).unlink(missing_ok=True)


def export_html(executed: Path, html: Path) -> None:
    """Write an HTML copy of the executed notebook (nbconvert's HTML exporter, no server)."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    html.write_text(body, encoding="utf-8")


def _provenance(task: dict[str, Any]) -> dict[str, Any]:
    parameters = task["parameters"]
    files = task["files"]
    return {
        "run": task["name"],
        "notebook": task["notebook"],
        "notebook_sha256": task["notebook_sha256"],
        "parameters": parameters,
        "smoke": bool(task["smoke"] or parameters.get("smoke", False)),
        "seed": parameters.get("seed", parameters.get("random_seed")),
        "data_sha256": files.get("data", {}).get("sha256"),
        "input_files": files,
        "after": task["after"],
        "fingerprint": task["fingerprint"],
        "versions": package_versions(),
        "git_commit": task["git_commit"],
        "git_dirty": task["git_dirty"],
        "partial_notebook": None,
        "error_log": None,
    }


def _verdict(staging: Path) -> Any:
    try:
        return json.loads((staging / DIAGNOSTICS).read_text(encoding="utf-8")).get("verdict")
    except (OSError, ValueError, AttributeError):
        return None


def publish(staging: Path, final: Path) -> None:
    """Move ``staging`` to ``final``: any old ``final`` is renamed aside first, then deleted."""
    aside = None
    if final.exists() or final.is_symlink():
        aside = staging.parent / f"{final.name}-replaced-{secrets.token_hex(4)}"
        os.replace(final, aside)
    os.replace(staging, final)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

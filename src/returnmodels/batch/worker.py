"""Execute one notebook in a fresh process: ``python -P worker.py TASK.json``.

Each run gets its own process, kernel and working directory: papermill changes the
process-wide working directory while it runs, so two notebooks must never share a
process. The kernel is the ``python3`` spec of *this* environment (its folder comes
first on ``JUPYTER_PATH``; jupyter_client runs a spec whose command is ``python`` with
this process's interpreter), and kernels talk over IPC sockets, not TCP ports, which
removes the port race behind papermill's "ZMQError: Address already in use" when many
kernels start at once. A kernel that fails to start is retried once.

The file is run as a script (not ``-m``) and imports only the standard library and
papermill, so that a worker does not pay for importing ``returnmodels`` and its
scientific stack before the kernel even starts.

Sampling progress bars are turned off in the notebooks a worker runs
(``RETURNMODELS_PROGRESS=0``, read by :func:`returnmodels.inference.fit.show_progress`):
the runner shows the batch's progress, and a bar would only fill the executed notebook.

The task file holds ``notebook``, ``executed``, ``parameters``, ``cwd``, ``result``,
``start_timeout``; the result file gets ``status``, ``error``, ``retried_after`` (the
first attempt's error when its kernel did not start), ``attempts`` and ``kernel_argv``.
Error messages go to the result file only, never to the worker's output (the run's
``run.log``), since a message may quote the data.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "execute", "KERNEL_NAME"]

KERNEL_NAME = "python3"
#: The variable :func:`returnmodels.inference.fit.show_progress` reads (the same name:
#: a test checks it), set to ``0`` for the kernels this worker starts.
PROGRESS_ENV = "RETURNMODELS_PROGRESS"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    task = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    _exit_with_parent()
    result = execute(task)
    Path(task["result"]).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


def execute(task: dict[str, Any]) -> dict[str, Any]:
    """Run the notebook, retrying once if its kernel failed to start."""
    os.environ[PROGRESS_ENV] = "0"  # the kernel inherits it: no sampling progress bars
    kernel_argv = _use_this_environments_kernel()
    attempts, error, first = 1, _execute_once(task), None
    if error is not None and error.pop("kernel_start"):
        # the message goes to the result (the runner keeps it in error.log), not to the
        # log, which is published: a message may quote the data
        print(f"no cell ran ({error['name']}); retrying once", file=sys.stderr)
        time.sleep(1.0)
        attempts, error, first = 2, _execute_once(task), error
        if error is not None:
            error.pop("kernel_start")
    return {
        "status": "ok" if error is None else "failed",
        "error": error,
        "retried_after": first,
        "attempts": attempts,
        "kernel_argv": kernel_argv,
    }


def _execute_once(task: dict[str, Any]) -> dict[str, Any] | None:
    import papermill
    from traitlets.config import Config

    # IPC sockets in a folder of their own: in the notebook's working directory (the
    # run's output folder) they showed up in its listings as kernel-ipc-1 ... -5
    sockets = tempfile.mkdtemp(prefix="returnmodels-kernel-")
    manager = {"transport": "tcp"}
    if os.name == "posix":
        manager = {"transport": "ipc", "ip": os.path.join(sockets, "kernel-ipc")}
    config = Config({"KernelManager": manager})
    try:
        papermill.execute_notebook(
            task["notebook"],
            task["executed"],
            parameters=task["parameters"],
            kernel_name=KERNEL_NAME,
            cwd=task["cwd"],
            progress_bar=False,
            start_timeout=task.get("start_timeout", 120),
            config=config,
        )
    except papermill.PapermillExecutionError as failure:
        return {
            "name": failure.ename,
            "message": str(failure.evalue),
            "cell": failure.exec_count,
            "kernel_start": False,
        }
    except Exception as failure:  # kernel death, timeouts, unreadable notebook
        return {
            "name": type(failure).__name__,
            "message": str(failure),
            "cell": None,
            "kernel_start": not _any_cell_ran(Path(task["executed"])),
        }
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    return None


def _any_cell_ran(executed: Path) -> bool:
    try:
        nb = json.loads(executed.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(c.get("execution_count") for c in nb.get("cells", []))


def _use_this_environments_kernel() -> list[str]:
    """Put this environment's kernel specs first; refuse a ``python3`` spec that would run
    another interpreter."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    here = str(Path(sys.prefix) / "share" / "jupyter")
    os.environ["JUPYTER_PATH"] = os.pathsep.join([here, os.environ.get("JUPYTER_PATH", "")])
    try:
        argv = list(KernelSpecManager().get_kernel_spec(KERNEL_NAME).argv)
    except NoSuchKernel:
        raise RuntimeError(
            f"no '{KERNEL_NAME}' kernel: install ipykernel in {sys.prefix}"
        ) from None
    if argv and argv[0] not in ("python", "python3", sys.executable):
        raise RuntimeError(
            f"kernel '{KERNEL_NAME}' would run {argv[0]}, not {sys.executable}; run "
            f"`{sys.executable} -m ipykernel install --sys-prefix`"
        )
    return argv


def _exit_with_parent() -> None:
    """Exit when the process that started us dies (the kernel follows: ipykernel polls
    its parent), so a killed batch leaves no notebook running."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

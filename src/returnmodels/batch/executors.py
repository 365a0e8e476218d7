"""Where runs execute: local threads (each starting a fresh notebook process) or Dask.

Both executors offer ``submit(function, task)`` returning a future with ``done()`` and
``result()``, and ``slots``: how many runs may be in flight at once. The Dask executor
connects to an existing scheduler with ``distributed.Client(address)``; its workers must
run the same environment and see the same file system as the machine starting the batch.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from returnmodels.errors import ConfigError

__all__ = ["DaskExecutor", "LocalExecutor", "default_workers", "make_executor"]


def default_workers() -> int:
    """Local parallelism when none is asked for: two runs, or one on a one-core machine."""
    return max(1, min(2, os.cpu_count() or 1))


class LocalExecutor:
    """Runs on this machine, ``workers`` at a time (threads that wait on worker processes)."""

    def __init__(self, workers: int | None = None) -> None:
        self.slots = workers or default_workers()
        self.description = f"{self.slots} local worker process(es)"
        self._pool = ThreadPoolExecutor(self.slots, thread_name_prefix="returnmodels-run")

    def submit(self, function: Callable[[dict], dict], task: dict[str, Any]) -> Future:
        return self._pool.submit(function, task)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Runs on the Dask cluster whose scheduler listens at ``address``."""

    def __init__(self, address: str, workers: int | None = None) -> None:
        from distributed import Client

        try:
            self._client = Client(address, timeout="20s")
        except (OSError, TimeoutError) as error:
            raise ConfigError(
                f"--scheduler {address!r}: cannot reach a Dask scheduler there ({error})"
            ) from None
        threads = sum(self._client.nthreads().values()) or 1
        self.slots = workers or threads
        self.description = f"Dask scheduler {address} ({threads} worker thread(s))"

    def submit(self, function: Callable[[dict], dict], task: dict[str, Any]) -> Any:
        key = f"returnmodels-run-{task['name']}-{secrets.token_hex(4)}"  # never reuse a result
        return self._client.submit(function, task, key=key, pure=False, retries=0)

    def close(self) -> None:
        self._client.close()


def make_executor(scheduler: str | None, workers: int | None) -> LocalExecutor | DaskExecutor:
    """A Dask executor when ``scheduler`` is given, else a local one."""
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers}: the number of workers must be at least 1")
    return DaskExecutor(scheduler, workers) if scheduler else LocalExecutor(workers)

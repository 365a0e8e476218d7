"""Run a drawing on the other core while this process writes tables: :func:`beside`.

Matplotlib's drawing is Python code: on a thread it holds the interpreter lock that
pandas' and xarray's code in the writer wants too, so the two barely overlap. A child
forked from this process starts with every module imported and every array in place
(copy-on-write), draws on a core of its own and sends its result (PNG bytes) back
through a pipe; nothing is pickled on the way in and nothing is imported again.

Safety and fallback. The child runs only the task it is given (NumPy and matplotlib on
data it already holds) and leaves through ``os._exit`` (multiprocessing's fork start),
so it runs no exit handler and touches none of the parent's threads: the sampler's
pool, a notebook kernel's I/O threads. Python warns that forking a process with threads
may deadlock the child when the child needs a lock another thread held; this child
needs none of theirs, and whatever goes wrong in it (an exception, a crash, no answer
within :data:`WAIT_SECONDS`) ends in the same place: the parent runs the task itself, so
the result is the same either way and an error in the task is raised here with its own
traceback. Where the platform has no ``fork`` the task runs on a thread, as before.
"""

from __future__ import annotations

import gc
import multiprocessing
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection

__all__ = ["WAIT_SECONDS", "Beside", "beside"]

#: How long the parent waits for the child's answer before it draws itself.
WAIT_SECONDS = 60.0

#: Python's warning when a process with threads forks (see the module docstring).
_FORK_WARNING = r"This process \(pid=\d+\) is multi-threaded, use of fork\(\)"


def _run_in_child(task: Callable[[], object], sender: Connection) -> None:
    """The child's whole life: the task's value through the pipe, or nothing. Without
    the cyclic garbage collector: a collection would walk (and so copy) every object
    inherited from the parent, for a process that ends in a moment."""
    gc.disable()
    try:
        sender.send(task())
    except BaseException:  # the parent runs the task itself and raises it there
        pass
    finally:
        sender.close()


class Beside[T]:
    """A task started beside the caller; :meth:`result` is its value."""

    def __init__(self, task: Callable[[], T]) -> None:
        self._task = task
        self._thread: Future | None = None
        if "fork" not in multiprocessing.get_all_start_methods():
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="beside")
            self._thread = self._pool.submit(task)
            return
        context = multiprocessing.get_context("fork")
        self._receiver, sender = context.Pipe(duplex=False)
        self._child = context.Process(target=_run_in_child, args=(task, sender), daemon=True)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _FORK_WARNING, DeprecationWarning)
            self._child.start()
        sender.close()  # the child holds the writing end: end of file if it dies

    def __enter__(self) -> Beside[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def result(self) -> T:
        """The task's value: the child's answer, or the task run here when the child
        gave none (module docstring)."""
        if self._thread is not None:
            try:
                return self._thread.result()
            finally:
                self.close()
        try:
            if self._receiver.poll(WAIT_SECONDS):
                return self._receiver.recv()
        except (EOFError, OSError):  # the child ended without an answer
            pass
        finally:
            self.close(wait=1.0)  # an answered child is only exiting
        return self._task()

    def close(self, wait: float = 0.0) -> None:
        """Stop the child (or the thread's pool) if it still runs after ``wait``
        seconds: after :meth:`result`, or when the caller gave up (an error beside it;
        ``with beside(task)``)."""
        if self._thread is not None:
            self._pool.shutdown(cancel_futures=True)
            return
        self._receiver.close()
        self._child.join(timeout=wait)
        if self._child.is_alive():
            self._child.kill()
            self._child.join()


def beside[T](task: Callable[[], T]) -> Beside[T]:
    """Start ``task`` (no arguments) beside the caller:
    ``with beside(draw) as drawing: ...; value = drawing.result()`` (leaving the block
    stops a child whose result was not asked for)."""
    return Beside(task)

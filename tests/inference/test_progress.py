"""The sampling progress bar: on in notebooks and terminals, off in batch workers."""

from __future__ import annotations

import inspect
import io
import os
import sys

import pytest

from returnmodels.batch import worker
from returnmodels.inference import fit as fit_module
from returnmodels.inference.fit import PROGRESS_ENV, fit, show_progress


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.fixture
def batch_free(monkeypatch):
    """No progress setting, no kernel, no terminal: the plain default."""
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(fit_module.sys, "stderr", _Stream(tty=False))
    return monkeypatch


def test_fit_asks_for_the_interactive_default():
    assert inspect.signature(fit).parameters["progressbar"].default is None


def test_an_explicit_choice_wins(batch_free):
    batch_free.setenv(PROGRESS_ENV, "0")
    assert show_progress(True) is True
    batch_free.setenv(PROGRESS_ENV, "1")
    assert show_progress(False) is False


def test_off_when_nobody_watches(batch_free):
    assert show_progress() is False


def test_on_in_a_jupyter_kernel_and_on_a_terminal(batch_free):
    batch_free.setitem(sys.modules, "ipykernel", object())
    assert show_progress() is True
    batch_free.delitem(sys.modules, "ipykernel")
    batch_free.setattr(fit_module.sys, "stderr", _Stream(tty=True))
    assert show_progress() is True


@pytest.mark.parametrize("value, shown", [("0", False), ("off", False), ("1", True)])
def test_the_environment_decides_the_default(batch_free, value, shown):
    batch_free.setitem(sys.modules, "ipykernel", object())  # even inside a kernel
    batch_free.setenv(PROGRESS_ENV, value)
    assert show_progress() is shown


def test_batch_worker_turns_progress_off_for_its_kernels(monkeypatch):
    assert worker.PROGRESS_ENV == PROGRESS_ENV
    monkeypatch.setenv(PROGRESS_ENV, "1")  # restored after the test, whatever execute sets
    seen = {}

    def execute_once(task):
        seen["value"] = os.environ.get(PROGRESS_ENV)
        return None

    monkeypatch.setattr(worker, "_execute_once", execute_once)
    monkeypatch.setattr(worker, "_use_this_environments_kernel", lambda: ["python"])
    assert worker.execute({"notebook": "x.ipynb"})["status"] == "ok"
    assert seen["value"] == "0"

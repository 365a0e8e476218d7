"""A task drawn beside the caller (:mod:`returnmodels.report.beside`): in a forked
child when it answers, by the caller itself when it does not, with the same value."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import warnings

import pytest

from returnmodels.report import beside as beside_module
from returnmodels.report import notebook
from returnmodels.report.beside import beside
from returnmodels.report.run_folder import RunFolder

PARENT = os.getpid()


def where_and_what() -> tuple[int, list[int]]:
    return os.getpid(), [k * k for k in range(1000)]


def test_the_task_runs_in_a_child_and_its_value_comes_back():
    with beside(where_and_what) as drawing:
        pid, value = drawing.result()
    assert pid != os.getpid()
    assert value == [k * k for k in range(1000)]


def test_an_error_in_the_task_is_raised_here_with_its_own_message():
    def broken():
        raise ValueError("no such panel: cooperation[high]")

    with beside(broken) as drawing, pytest.raises(ValueError, match=r"cooperation\[high\]"):
        drawing.result()


def test_a_child_that_dies_without_an_answer_leaves_the_task_to_the_caller():
    def dies_in_the_child():
        if os.getpid() != PARENT:
            os._exit(3)
        return where_and_what()

    with beside(dies_in_the_child) as drawing:
        pid, _ = drawing.result()
    assert pid == PARENT


def test_a_child_that_does_not_answer_is_stopped_and_the_caller_runs_the_task(monkeypatch):
    monkeypatch.setattr(beside_module, "WAIT_SECONDS", 0.5)

    def hangs_in_the_child():
        if os.getpid() != PARENT:
            time.sleep(60)
        return where_and_what()

    started = time.perf_counter()
    drawing = beside(hangs_in_the_child)
    pid, _ = drawing.result()
    assert pid == PARENT
    assert time.perf_counter() - started < 30
    assert not drawing._child.is_alive()


def test_leaving_the_block_early_stops_a_child_whose_answer_was_not_asked_for():
    with pytest.raises(RuntimeError, match="the tables failed"):
        with beside(lambda: time.sleep(60)) as drawing:
            raise RuntimeError("the tables failed")
    assert not drawing._child.is_alive()


def test_forking_beside_threads_warns_nobody():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with beside(where_and_what) as drawing:
                pid, _ = drawing.result()
    finally:
        stop.set()
        other.join()
    assert pid != PARENT


def test_without_fork_the_task_runs_on_a_thread(monkeypatch):
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    with beside(lambda: (os.getpid(), threading.current_thread().name)) as drawing:
        pid, thread = drawing.result()
    assert pid == PARENT and thread.startswith("beside")


@pytest.mark.sampling
def test_the_writer_s_figures_are_the_ones_drawn_here(smoke_fits, tmp_path):
    result = smoke_fits("varying_intercepts")
    folder = RunFolder(tmp_path / "fit")
    outputs = notebook.write_fit_outputs(result, folder)
    published = notebook.published_fit(result, folder.rules)
    names = notebook.population_parameters(published)
    here = notebook.convergence_pngs(published, names, folder.mark(basis="diagnostics"))
    for kind in ("rank", "trace"):
        assert (tmp_path / "fit" / f"{kind}.png").read_bytes() == here[kind]
        assert outputs[kind].png == here[kind]

"""A matrix-vector product on nutpie's chain threads, BLAS free to split it or not.

    .venv/bin/python benchmarks/run.py blas [--out benchmarks/results-blas.json]

nutpie samples its chains on threads of its own, one a core, each calling the engine's
log density, whose linear predictor is a column-major matrix-vector product that numba
hands to OpenBLAS. OpenBLAS splits a product over every core above about 100,000
elements; with the chains already on every core its threads wait on each other. Here
two threads (the machine's 2 cores, as nutpie's chains) each compute the product of the
engine's design shapes many times, once with BLAS as it is and once limited to one
thread (``threadpoolctl.threadpool_limits(1, "blas")``, what ``fit`` does around
sampling); microseconds per product, on the machine as it is and again beside one
busy process (a shared machine, a laptop with a browser open). The shapes: the study
model (1,199 cells x 5), ``C(n_procedures) + gender`` (2,426 x 12), the crossed years
(5,358 x 3), the item-response set (7,500 x 2) and the every-predictor model (29,454 x
17).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numba
import numpy as np
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from writing import stamp  # noqa: E402  (this folder is not a package)

SHAPES = [(1199, 5), (2426, 12), (5358, 3), (7500, 2), (29454, 17)]
THREADS = 2


@numba.njit
def _products(X, b, times):
    total = 0.0
    for _ in range(times):
        total += np.dot(X, b)[0]
    return total


def per_product_us(X, b, times: int) -> float:
    """Wall microseconds per product with :data:`THREADS` threads computing ``times``
    products each."""
    workers = [threading.Thread(target=_products, args=(X, b, times)) for _ in range(THREADS)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (time.perf_counter() - start) / times * 1e6


def measure(busy: bool) -> list[dict]:
    """Both timings of every shape in :data:`SHAPES`."""
    rng = np.random.default_rng(0)
    rows = []
    for cells, columns in SHAPES:
        X = np.asfortranarray(rng.random((cells, columns)))
        b = rng.random(columns)
        _products(X, b, 1)  # compile
        times = max(200, int(3e9 // (cells * columns * 10)))
        free = per_product_us(X, b, times)
        with threadpool_limits(limits=1, user_api="blas"):
            single = per_product_us(X, b, times)
        rows.append(
            {"busy_process": busy, "cells": cells, "columns": columns,
             "blas_free_us": free, "one_thread_us": single}
        )  # fmt: skip
        print(
            f"{'beside a busy process' if busy else 'as it is':<22} {cells:>6} x {columns:<3}"
            f" BLAS free {free:9.1f} us   one thread {single:8.1f} us"
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "results-blas.json"))
    args = parser.parse_args()
    rows = []
    for busy in (False, True):
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            rows += measure(busy)
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
    Path(args.out).write_text(json.dumps({"stamp": stamp(), "products": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

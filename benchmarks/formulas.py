"""Exploration latency: from ``fit(formula)`` to a converged posterior, in a warm process.

    .venv/bin/python benchmarks/formulas.py [--out benchmarks/results-formulas.json]
        [--formulas-only] [--only TEXT ...] [--repeat N]

``--only TEXT`` (repeatable) fits only the formulas containing TEXT, ``--repeat N`` fits
each N times in turn (the machine is shared: repeat, and compare CPU seconds).

In one process: load the precompiled formula engine once (``warm-up``: its lean and its
general graph, and the general one with reflected crossed levels), then fit each formula
of the README's "Writing a model" section, none fitted before in this process, on the
bundled data, read and validated once as a notebook does (4 chains x 1000 + 1000). For
each it records the wall time, the sampling time (nutpie), the overhead (everything
else: the data checksum, the design, the data table, the log-likelihood, the verdict),
min bulk ESS and the verdict, and beside the sampling time what the gradients cost: one
log density and gradient of the formula's engine model (:func:`callback_timer`, median
of 5) and the gradient evaluations per draw after warm-up (``n_steps``). Then two
crossed designs that are not in the README: a simulated item-response set (300 persons
crossed with 25 items, binary, SDs 1) and the nationalities crossed with the age groups
on the bundled data. The load average goes with every row (the machine is shared).

Last, the cost of one log density and gradient on the formula engine against the PyMC
model of the same term table (:func:`returnmodels.models.pymc_model.pymc_model`, what
``--sampler pymc`` samples, compiled by ``nutpie.compile_pymc_model``), through the C
callbacks nutpie calls while sampling (:func:`callback_timer`), in interleaved rounds,
medians: the study model (``group_predictors`` with ``n_procedures`` and cooperation)
and ``varying_intercepts`` with ``n_procedures``, then every preset with its default
columns (competing outcomes: the sum of its two stages on either side).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "cases.parquet"
sys.path.insert(0, str(ROOT / "tests"))  # conftest: the README formula reader


def callback_timer(model, seconds: float = 0.1, clock=time.perf_counter):
    """Seconds of one log density + gradient through the model's C callback, as nutpie
    calls it while sampling: a numba loop calls the callback for about ``seconds`` at a
    time (no Python in between; calling the compiled function from Python would add the
    unboxing of every data array to each call, which sampling never pays). ``clock``
    ``time.process_time``: CPU seconds, which other processes' load hardly changes."""
    import ctypes

    import numba
    import numpy as np

    callback = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_uint64, *[ctypes.c_void_p] * 4)(
        model.compiled_logp_func.address
    )

    @numba.njit
    def loop(n, x, gradient, logp, table):
        failures = 0
        for _ in range(n):
            failures += callback(x.size, x.ctypes, gradient.ctypes, logp.ctypes, table.ctypes)
        return failures

    x = np.asarray(model.initial_point_func(1), dtype=float)
    # the engine's table of addresses, or nutpie's record of them, as bytes for numba
    table = np.atleast_1d(model.user_data).view(np.uint8)
    gradient, logp = np.zeros_like(x), np.zeros(1)
    if loop(10, x, gradient, logp, table) != 0:
        raise RuntimeError("the log density callback failed at the initial point")

    started = time.perf_counter()
    loop(20, x, gradient, logp, table)
    evaluations = max(20, int(seconds / ((time.perf_counter() - started) / 20)))

    def once() -> float:
        started = clock()
        loop(evaluations, x, gradient, logp, table)
        return (clock() - started) / evaluations

    once.model = model  # the table points into the model's arrays: keep them alive
    return once


def item_responses(seed: int = 3):
    """300 persons crossed with 25 items, every person answering every item (7,500
    binary responses), person and item effects N(0, 1) around 0.3 on the logit scale."""
    import numpy as np
    import pandas as pd
    from scipy.special import expit

    rng = np.random.default_rng(seed)
    persons, items = 300, 25
    ability, difficulty = rng.normal(0, 1, persons), rng.normal(0, 1, items)
    person, item = np.repeat(np.arange(persons), items), np.tile(np.arange(items), persons)
    frame = pd.DataFrame({"person": [f"p{i}" for i in person], "item": [f"i{j}" for j in item]})
    frame["y"] = rng.binomial(1, expit(0.3 + ability[person] + difficulty[item]))
    return frame


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results-formulas.json"))
    parser.add_argument(
        "--formulas-only", action="store_true", help="leave out the engine/template gradients"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="fit only the formulas containing TEXT (repeatable; implies --formulas-only)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="fit each formula this many times, in turn"
    )
    args = parser.parse_args()
    args.formulas_only = args.formulas_only or bool(args.only)
    started = time.perf_counter()
    import numpy as np
    import nutpie

    import returnmodels as rm
    from conftest import readme_formulas
    from returnmodels.engine.callbacks import compile_formula_model
    from returnmodels.engine.design import build_formula_design
    from returnmodels.inference.fit import engine_design, fit
    from returnmodels.models import MODEL_NAMES, column_spec
    from returnmodels.models.pymc_model import pymc_model

    imported = time.perf_counter()
    cases = rm.load_cases(BUNDLED)
    # the binomial family's graphs: the lean one, the general one (correlated) and the
    # general one with reflected crossed levels
    warm = [
        build_formula_design(cases, f)
        for f in (
            "assisted ~ 1 + (1 | closing_year)",
            "assisted ~ 1 + (1 + gender | closing_year)",
            "assisted ~ 1 + (1 | nationality) + (1 | closing_year)",
        )
    ]
    engine_started = time.perf_counter()
    for design in warm:
        compile_formula_model(design)
    report = {
        "imports_s": imported - started,
        "engine_load_s": time.perf_counter() - engine_started,
        "load_avg": os.getloadavg()[0],
        "formulas": [],
    }
    crossed = [
        ("item responses (simulated)", item_responses(), "y ~ 1 + (1 | person) + (1 | item)"),
        ("bundled", cases, "assisted ~ n_procedures + (1 | nationality) + (1 | age_group)"),
    ]
    runs = [("bundled", cases, formula) for formula in readme_formulas()] + crossed
    if args.only:
        runs = [run for run in runs if any(text in run[2] for text in args.only)]
    for data_name, frame, formula in runs * args.repeat:
        load = os.getloadavg()[0]
        t0, cpu0 = time.perf_counter(), time.process_time()
        result = fit(frame, formula=formula, random_seed=20251)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        timings = json.loads(result.attrs["returnmodels_timings"])
        verdict = json.loads(result.attrs["returnmodels_verdict"])
        sampler = json.loads(result.attrs["returnmodels_sampler"])
        sampling = timings["compile_and_sample_s"] - timings["compile_s"]
        model = compile_formula_model(build_formula_design(frame, formula))
        once = callback_timer(model, clock=time.process_time)
        per_gradient = float(np.median([once() for _ in range(5)]))
        steps = result["sample_stats"]["n_steps"]
        row = {
            "formula": formula,
            "data": data_name,
            "load_avg": [load, os.getloadavg()[0]],
            "wall_s": wall,
            # CPU seconds of the whole fit, every thread: on a quiet machine the sampling
            # runs on 2 cores, so about (cpu_s - overhead_s) / 2 of wall time
            "cpu_s": cpu,
            "sampling_s": sampling,
            "overhead_s": wall - sampling,
            "compile_s": timings["compile_s"],
            "design_s": timings["build_s"],
            "log_likelihood_s": timings["log_likelihood_s"],
            "compile_cache": sampler["compile_cache"],
            "n_dim": sampler["n_dim"],
            "cells": int(result["observed_data"].sizes["cell"]),
            "adaptation": sampler["adaptation"],
            "engine": sampler["engine"],
            "per_gradient_us": per_gradient * 1e6,
            "gradient_evaluations_per_draw": float(steps.mean()),
            # CPU seconds of the draws' gradients, as many again for the warm-up
            "gradient_cpu_s_estimate": per_gradient * float(steps.sum()) * 2,
            "ess_bulk_min": verdict["ess_bulk_min"],
            "r_hat_max": verdict["r_hat_max"],
            "passed": verdict["passed"],
            "failures": verdict["failures"],
        }
        report["formulas"].append(row)
        print(json.dumps(row), flush=True)

    if args.formulas_only:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
        return
    report["gradient"] = []
    study_size = [
        ("group_predictors", ["n_procedures"], ["cooperation"]),
        ("varying_intercepts", ["n_procedures"], []),
    ]
    comparisons = [
        (name, column_spec(predictors=case, group_predictors=group))
        for name, case, group in study_size
    ] + [(name, None) for name in MODEL_NAMES]
    for name, spec in comparisons:
        stages = engine_design(cases, name, columns=spec)
        engine_models = [compile_formula_model(stage) for stage in stages]
        t0 = time.perf_counter()
        templates = [
            nutpie.compile_pymc_model(pymc_model(stage), backend="numba") for stage in stages
        ]
        template_compile = time.perf_counter() - t0
        engine_timers = [callback_timer(model) for model in engine_models]
        template_timers = [callback_timer(model) for model in templates]
        rounds = [  # interleaved: the same load on both
            (sum(once() for once in engine_timers), sum(once() for once in template_timers))
            for _ in range(15)
        ]
        row = {
            "model": name,
            "columns": "study" if spec is not None else "default",
            "cells": stages[0].n_cells,
            "engine_s": float(np.median([e for e, _ in rounds])),
            "template_s": float(np.median([t for _, t in rounds])),
            "template_compile_s": template_compile,
            "engine_n_dim": sum(int(model.n_dim) for model in engine_models),
            "template_n_dim": sum(int(model.n_dim) for model in templates),
        }
        row["ratio"] = row["engine_s"] / row["template_s"]
        report["gradient"].append(row)
        print(json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

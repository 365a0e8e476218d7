"""Exploration latency: from ``fit(formula)`` to a converged posterior, in a warm process.

    .venv/bin/python benchmarks/formulas.py [--out benchmarks/results-formulas.json]

In one process: load the precompiled formula engine once (``warm-up``), then fit each
formula of the README's "Writing a model" section, none fitted before in this process,
on the bundled data, read and validated once as a notebook does (4 chains x 1000 +
1000). For each it records the wall time, the sampling time (nutpie), the overhead
(everything else: the data checksum, the design, the data table, the log-likelihood, the
verdict), min bulk ESS and the verdict. Last, the cost of one log density and gradient
of the study model on the formula engine against the registered template of the same
model (``group_predictors`` with ``n_procedures`` and cooperation): the numba functions
nutpie's callbacks call, in interleaved rounds, medians.
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
sys.path.insert(0, str(ROOT / "tests" / "inference"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results-formulas.json"))
    args = parser.parse_args()
    started = time.perf_counter()
    import numpy as np
    from test_readme_formulas import readme_formulas

    import returnmodels as rm
    from returnmodels.inference.compiled import compile_for_nutpie
    from returnmodels.inference.fit import build_model, fit
    from returnmodels.inference.formula_fit import INPUTS, compile_formula_model, engine_inputs
    from returnmodels.models import column_spec
    from returnmodels.models.formula import build_formula_design

    imported = time.perf_counter()
    cases = rm.load_cases(BUNDLED)
    warm = build_formula_design(cases, "assisted ~ 1 + (1 | closing_year)")
    engine_started = time.perf_counter()
    compile_formula_model(warm)
    report = {
        "imports_s": imported - started,
        "engine_load_s": time.perf_counter() - engine_started,
        "load_avg": os.getloadavg()[0],
        "formulas": [],
    }
    for formula in readme_formulas():
        t0 = time.perf_counter()
        result = fit(cases, formula=formula, random_seed=20251)
        wall = time.perf_counter() - t0
        timings = json.loads(result.attrs["returnmodels_timings"])
        verdict = json.loads(result.attrs["returnmodels_verdict"])
        sampler = json.loads(result.attrs["returnmodels_sampler"])
        sampling = timings["compile_and_sample_s"] - timings["compile_s"]
        row = {
            "formula": formula,
            "wall_s": wall,
            "sampling_s": sampling,
            "overhead_s": wall - sampling,
            "compile_s": timings["compile_s"],
            "design_s": timings["build_s"],
            "log_likelihood_s": timings["log_likelihood_s"],
            "compile_cache": sampler["compile_cache"],
            "n_dim": sampler["n_dim"],
            "cells": int(result["observed_data"].sizes["cell"]),
            "ess_bulk_min": verdict["ess_bulk_min"],
            "passed": verdict["passed"],
            "failures": verdict["failures"],
        }
        report["formulas"].append(row)
        print(json.dumps(row), flush=True)

    study = "assisted ~ n_procedures + cooperation + (1 | nationality)"
    engine_model = compile_formula_model(build_formula_design(cases, study))
    spec = column_spec(predictors=["n_procedures"], group_predictors=["cooperation"])
    template, _, _ = build_model(cases, "group_predictors", columns=spec)
    t0 = time.perf_counter()
    template_model = compile_for_nutpie(template)
    template_compile = time.perf_counter() - t0

    def timer(function, point, arrays):
        """Seconds of one log density + gradient, calling the numba function PyTensor
        compiled (what nutpie's callback calls) directly, 2,000 times."""
        jit = function.vm.jit_fn
        jit(point, *arrays)

        def once() -> float:
            t = time.perf_counter()
            for _ in range(2000):
                jit(point, *arrays)
            return (time.perf_counter() - t) / 2000

        return once

    engine_arrays, _ = engine_inputs(build_formula_design(cases, study))
    engine_arrays = [engine_arrays[name] for name, _, _ in INPUTS]
    template_arrays = [v.get_value() for v in template_model.logp_func.get_shared()]
    engine_once = timer(engine_model.logp_func, engine_model.initial_point_func(1), engine_arrays)
    template_once = timer(
        template_model.logp_func, template_model.initial_point_func(1), template_arrays
    )
    rounds = [(engine_once(), template_once()) for _ in range(15)]  # interleaved: same load
    engine_s = float(np.median([e for e, _ in rounds]))
    template_s = float(np.median([t for _, t in rounds]))
    report["gradient"] = {
        "engine_s": engine_s,
        "template_s": template_s,
        "template_compile_s": template_compile,
        "template_cache": template_model.cache_status,
        "engine_n_dim": int(engine_model.n_dim),
        "template_n_dim": int(template_model.n_dim),
    }
    report["gradient"]["ratio"] = report["gradient"]["engine_s"] / report["gradient"]["template_s"]
    print(json.dumps(report["gradient"]), flush=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

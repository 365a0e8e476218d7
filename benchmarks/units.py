"""The integrated person term's cost per gradient, log form against product form (issue 24,
item 4).

    .venv/bin/python benchmarks/units.py [--out benchmarks/results-units.json] [--fit]
        [--fit-all] [--stages]

On the bundled 118,000 cases, the study model with persons
(:data:`FORMULA`, ``(1 | person_id)`` integrated by K = 30 Gauss-Hermite nodes), in one
process: the engine's log density and gradient (PyTensor's compiled function, the one
nutpie's callback wraps) with the units' likelihood in each of its three forms: log
space (``engine/graph.py``'s ``_unit_logs``, the first), PyTensor's product form
(``_unit_products``, the second) and the compiled kernel the engine runs now
(``engine/unit_kernel.py``), beside the same model without the person term; then the
units' likelihood alone in each form; and the log and kernel forms' log densities and
gradients at the same point. Each time is the best of several rounds of calls, in milliseconds a
gradient.

``--stages`` times the product form stage by stage on the every-predictor model with
persons (:data:`ALL_PREDICTORS`, 29,454 cells), where its table no longer fits a cache,
then the kernel there, with its minor page faults a call (the earlier kernel's two
tables of 7 MB, allocated every call, cost about 3,500).
``--fit`` adds fits of the model (4 chains x 1000 + 1000 tune, the defaults) in a warm
process (the engine's graph with persons loaded first, as ``formulas.py`` loads its
graphs), three in turn: wall time, CPU seconds, sampling time, gradient evaluations a
draw (of the kept draws: a fit keeps no warm-up statistics), divergences, the verdict
and the person SD. ``--fit-all`` fits the every-predictor model
(:data:`ALL_PREDICTORS`) with and without persons, side by side, the same way. Results
go to ``--out``, stamped with the commit, the date and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pytensor
import pytensor.tensor as pt

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from writing import stamp  # noqa: E402  (this folder is not a package)

from returnmodels.data.validation import load_cases  # noqa: E402
from returnmodels.engine import graph  # noqa: E402
from returnmodels.engine.callbacks import compile_formula_model  # noqa: E402
from returnmodels.engine.design import build_formula_design  # noqa: E402
from returnmodels.engine.inputs import INPUTS, engine_inputs, needs_general  # noqa: E402

BUNDLED = HERE.parent / "data" / "cases.parquet"
FORMULA = "assisted ~ n_procedures + cooperation + (1 | nationality) + (1 | person_id)"
WITHOUT = "assisted ~ n_procedures + cooperation + (1 | nationality)"
UNIT_INPUTS = ("gh", "unit_entry", "unit_count")


def best_ms(function, args, calls: int = 50, rounds: int = 7) -> float:
    """The best of ``rounds`` rounds of ``calls`` calls, in ms a call (the machine is
    shared: the best round is the one least interrupted)."""
    function(*args)
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            function(*args)
        best = min(best, (time.perf_counter() - started) / calls * 1e3)
    return best


def engine_function(units: bool, unit_form=None):
    """The engine's compiled log density and gradient (lean binomial graph), with the
    units' likelihood in ``unit_form`` (the engine's own when None)."""
    form = unit_form or graph._unit_likelihood
    with mock.patch.object(graph, "_unit_likelihood", form):
        theta, inputs, lp, grad, _ = graph.engine_graph(False, general=False, units=units)
    return pytensor.function([theta, *inputs], [lp, grad], mode="NUMBA", on_unused_input="ignore")


def unit_function(form):
    """The units' likelihood and gradients alone, of (eta, sigma, its three arrays)."""
    v = {name: pt.tensor(name, dtype=d, shape=(None,) * n) for name, d, n in INPUTS}
    eta, sigma = pt.dvector("eta"), pt.dscalar("sigma")
    outputs = list(form(v, eta, sigma))[:3]
    return pytensor.function([eta, sigma, *(v[n] for n in UNIT_INPUTS)], outputs, mode="NUMBA")


def _products(v, eta, sigma):
    """The PyTensor product form without its floor (the engine's form before the kernel)."""
    return graph._unit_products(v, eta, sigma)[:3]


def per_gradient(cases) -> dict:
    """The per-gradient figures of the module docstring."""
    design = build_formula_design(cases, FORMULA)
    arrays, layout = engine_inputs(design)
    assert not needs_general(arrays)
    inputs = [arrays[name] for name, _, _ in INPUTS]
    theta = np.random.default_rng(1).uniform(-0.5, 0.5, layout.n_dim)
    engines = {
        "log_form": engine_function(True, graph._unit_logs),
        "pytensor_products": engine_function(True, _products),
        "kernel": engine_function(True),
    }
    plain = build_formula_design(cases, WITHOUT)
    plain_arrays, plain_layout = engine_inputs(plain)
    plain_theta = np.random.default_rng(1).uniform(-0.5, 0.5, plain_layout.n_dim)
    plain_inputs = [plain_arrays[name] for name, _, _ in INPUTS]
    eta = np.random.default_rng(2).normal(-1.5, 1.0, design.n_cells)
    unit_args = [eta, 0.7, *(arrays[name] for name in UNIT_INPUTS)]
    units = {
        "log_form": unit_function(graph._unit_logs),
        "pytensor_products": unit_function(_products),
        "kernel": unit_function(graph._unit_likelihood),
    }
    old, new = engines["log_form"](theta, *inputs), engines["kernel"](theta, *inputs)
    term = design.integrated
    lengths = np.bincount(term.entry_pattern)
    return {
        "formula": FORMULA,
        "cells": int(design.n_cells),
        "entries": int(len(term.entry_cell)),
        "patterns": int(term.n_patterns),
        "patterns_by_length": {int(n): int((lengths == n).sum()) for n in np.unique(lengths)},
        "persons": int(term.pattern_count.sum()),
        "single_case_persons": int(term.pattern_count[lengths == 1].sum()),
        "quadrature_nodes": int(term.nodes),
        **{f"engine_{k}_ms": best_ms(f, [theta, *inputs]) for k, f in engines.items()},
        "engine_without_persons_ms": best_ms(engine_function(False), [plain_theta, *plain_inputs]),
        **{f"units_{k}_ms": best_ms(f, unit_args) for k, f in units.items()},
        "log_density_relative_difference": float(abs(new[0] - old[0]) / abs(old[0])),
        "gradient_max_relative_difference": float(
            np.max(np.abs(new[1] - old[1])) / np.max(np.abs(old[1]))
        ),
    }


def fitted(cases, formula: str = FORMULA) -> dict:
    """A fit of ``formula`` at the defaults: its time, steps, verdict and person SD."""
    from returnmodels.inference.fit import fit

    load = os.getloadavg()[0]
    started, cpu = time.perf_counter(), os.times()
    result = fit(cases, formula, random_seed=1, progressbar=False)
    wall, after = time.perf_counter() - started, os.times()
    timings = json.loads(result.attrs["returnmodels_timings"])
    verdict = json.loads(result.attrs["returnmodels_verdict"])
    stats = result["sample_stats"]
    sampling = timings["compile_and_sample_s"] - timings.get("compile_s", 0.0)
    found = {
        "formula": formula,
        "wall_s": wall,
        "cpu_s": after.user + after.system - cpu.user - cpu.system,
        "build_s": timings["build_s"],
        "compile_s": timings.get("compile_s", 0.0),
        "sampling_s": sampling,
        "gradients_per_draw": float(stats["n_steps"].mean()),
        "divergences": int(stats["diverging"].sum()),
        "gate": "PASS" if verdict["passed"] else "FAIL",
        "r_hat_max": verdict["r_hat_max"],
        "ess_bulk_min": verdict["ess_bulk_min"],
        "load_before": load,
        "load_after": os.getloadavg()[0],
    }
    if "person_id_sigma" in result["posterior"]:
        sd = result["posterior"]["person_id_sigma"]
        found["person_sd_mean"] = float(sd.mean())
        found["person_sd_q05_q95"] = [float(sd.quantile(0.05)), float(sd.quantile(0.95))]
    return found


def warm_fits(cases, formulas: list[str], repeat: int) -> dict:
    """``formulas`` fitted ``repeat`` times in turn, after loading the engine's graphs
    they need (the time a process spends once, not a fit's)."""
    started = time.perf_counter()
    for formula in formulas:
        compile_formula_model(build_formula_design(cases, formula))
    return {
        "engine_load_s": time.perf_counter() - started,
        "fits": [fitted(cases, formula) for _ in range(repeat) for formula in formulas],
    }


#: The every-predictor model with persons: the stages of its product form (``--stages``).
ALL_PREDICTORS = (
    "assisted ~ n_procedures + C(closing_year) + gender + age_group + family + cooperation"
    " + (1 | nationality) + (1 | person_id)"
)


def product_stages(cases, formula: str = ALL_PREDICTORS) -> dict:
    """Where the product form's time goes on ``formula``'s design: each stage of
    ``graph._unit_products`` compiled on its own, cumulatively (a stage's time includes
    the stages it needs), in ms a call, beside the sizes of its table and patterns."""
    design = build_formula_design(cases, formula)
    arrays, _ = engine_inputs(design)
    v = {name: pt.tensor(name, dtype=d, shape=(None,) * n) for name, d, n in INPUTS}
    eta, sigma = pt.dvector("eta"), pt.dscalar("sigma")
    cell, pattern, sign, position = (v["unit_entry"][i] for i in range(4))
    node, weight, count = v["gh"][0], v["gh"][2], v["unit_count"]
    n_cells, n_nodes, n_patterns = eta.shape[0], node.shape[0], count.shape[0]
    both = pt.exp(pt.concatenate([eta, sigma * node]))
    odds = both[:n_cells][:, None] * both[n_cells:][None, :]
    q = 1.0 / (1.0 + odds)
    p = odds * q
    table = pt.concatenate([q, p, pt.ones((1, n_nodes))], axis=0)
    row = cell + n_cells * (sign + 1) // 2
    singles = graph._single_patterns(v)
    units = pt.zeros(2 * n_cells)[row[:singles]].inc(count[:singles])
    weighted = table[: 2 * n_cells] * weight[None, :]
    total = pt.sum(weighted, axis=1)
    by_row = (units / total)[:, None] * weighted
    several = pattern[singles:] - singles
    padded = pt.full((n_patterns - singles, pt.max(position) + 1), 2 * n_cells, dtype="int64")
    padded = pt.set_subtensor(padded[several, position[singles:]], row[singles:])
    product = pt.prod(table[padded], axis=1) * weight[None, :]
    share = (count[singles:] / pt.sum(product, axis=1))[:, None] * product
    by_row = pt.inc_subtensor(by_row[row[singles:]], share[several])
    d = by_row[n_cells:] * q - by_row[:n_cells] * p
    stages = {
        "table (C x K: exponentials, q and p)": table,
        "single-case persons' likelihood": pt.sum(units * pt.log(total)),
        "patterns' padded gather and products": product,
        "patterns' scatter back to the rows": by_row,
        "gradient with respect to eta": d,
    }
    inputs = [eta, sigma, *(v[name] for name in UNIT_INPUTS)]
    values = [np.random.default_rng(2).normal(-1.5, 1.0, design.n_cells), 0.7]
    values += [arrays[name] for name in UNIT_INPUTS]
    term = design.integrated
    found = {
        "formula": formula,
        "cells": int(design.n_cells),
        "quadrature_nodes": int(term.nodes),
        "patterns": int(term.n_patterns),
        "entries": int(len(term.entry_cell)),
    }
    for name, output in stages.items():
        function = pytensor.function(inputs, pt.sum(output), mode="NUMBA", on_unused_input="ignore")
        found[f"{name}, ms"] = best_ms(function, values, calls=10, rounds=3)
    kernel = unit_function(graph._unit_likelihood)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    found["kernel (the engine's form), ms"] = best_ms(kernel, values, calls=10, rounds=3)
    calls = 1 + 3 * 10  # best_ms's calls: one before, then rounds x calls
    found["kernel's minor page faults a call"] = (
        resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    ) / calls
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(HERE / "results-units.json"))
    parser.add_argument("--fit", action="store_true", help="also time three fits at the defaults")
    parser.add_argument(
        "--fit-all", action="store_true",
        help="also fit the every-predictor model with and without persons, side by side",
    )  # fmt: skip
    parser.add_argument(
        "--stages", action="store_true", help="also time the product form's stages on the "
        "every-predictor model with persons (cumulative, ms a call)"
    )  # fmt: skip
    args = parser.parse_args()
    cases = load_cases(BUNDLED)
    results = {"environment": stamp(), "per_gradient": per_gradient(cases)}
    if args.stages:
        results["stages"] = product_stages(cases)
    if args.fit:
        results["fit"] = warm_fits(cases, [FORMULA], repeat=3)
    if args.fit_all:
        without = ALL_PREDICTORS.replace(" + (1 | person_id)", "")
        results["fit_all"] = warm_fits(cases, [ALL_PREDICTORS, without], repeat=1)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""returnmodels vs Stan (pystan 3) on the study model, in one invocation.

    .venv/bin/python -m pip install -c requirements.lock -e ".[bench]"  # pystan, only here
    .venv/bin/python benchmarks/stan.py [--out benchmarks/results-stan.json]

The study model, ``assisted ~ n_procedures + cooperation + (1 | nationality)`` on the
bundled cases (1,199 binomial cells, 120 nationalities), fitted by both engines, 4 chains
x (1000 tune + 1000 draws), seeds fixed. Stan fits ``stan_study.stan``: the same model as
brms writes it (nationality effects non-centred, u = sigma * z), on returnmodels' own cells
and design matrix (Intercept, centred ``n_procedures``, cooperation dummies), with the same
priors (N(0, 2.5) on every column of X, HalfNormal(1) on the SD). Each fit runs in its own
fresh process, so that imports and compilation are counted:

1. returnmodels, its caches as found (the precompiled formula engine: ``hit``);
2. Stan, cold: an empty httpstan cache (``XDG_CACHE_HOME`` in a temporary folder), so
   the build runs stanc and the C++ compiler;
3. Stan again in a new process on that cache: the program is found compiled (``cached``);
   its fits from step 2 are removed first, since httpstan would otherwise return the
   stored draws of the same seed instead of sampling;
4. returnmodels on empty PyTensor/numba caches (``PYTENSOR_FLAGS=base_compiledir=<tmp>``,
   ``NUMBA_CACHE_DIR=<tmp>``): its cold compile.

Stan's cells and design matrix are built once by this driver (returnmodels'
``build_formula_design``) and handed to the Stan processes as a NumPy file: Stan's times
leave out reading the cases and making the cells, which returnmodels' include (that
favours Stan). Min bulk ESS (arviz ``az.ess``) is over the same parameters in both: the
coefficients (Intercept, ``n_procedures``, cooperation), the nationality SD and the 120
nationality effects (Stan's ``u``, not its standardised ``z``). Same posterior: posterior
means of the shared parameters, |difference| over the combined Monte Carlo SE.

Writes ``benchmarks/results-stan.json`` and prints the Markdown tables of the README's
"Stan (pystan)" section.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402  (T0 first: a worker's wall time counts from its start)
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from importlib.metadata import PackageNotFoundError, version  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
# This file is called stan.py: a worker started as a script must import pystan's `stan`,
# not itself (workers also run with `python -P`).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

ROOT = HERE.parent
BUNDLED = ROOT / "data" / "cases.parquet"
PROGRAM = HERE / "stan_study.stan"
FORMULA = "assisted ~ n_procedures + cooperation + (1 | nationality)"
DRAWS = TUNE = 1000
CHAINS = 4
SEED = 20251
NORMAL_COEFFICIENT = (float("inf"), 0.0, 2.5)  # returnmodels' (nu, mu, sigma): Normal(0, 2.5)


# --------------------------------------------------------------------------- driver


def write_cells(folder: Path) -> dict:
    """returnmodels' cells and design of the study formula, for the Stan processes, and
    the layout that names Stan's draws as returnmodels does."""
    import numpy as np

    import returnmodels as rm
    from returnmodels.engine.design import build_formula_design

    started = time.perf_counter()
    design = build_formula_design(rm.load_cases(BUNDLED), FORMULA)
    made = time.perf_counter() - started
    (block,) = design.blocks
    assert block.columns == ("Intercept",), "the Stan program has nationality intercepts only"
    assert np.all(block.values == 1.0)
    # The Stan program hard-codes returnmodels' default priors: fail loudly if they change.
    assert np.all(design.coefficient_priors == np.array(NORMAL_COEFFICIENT)), (
        design.coefficient_priors
    )
    assert design.priors["sigma"] == {"dist": "HalfNormal", "sigma": 1.0}, design.priors
    labels = list(design.column_labels())
    np.savez(
        folder / "cells.npz", X=design.X, successes=design.successes, trials=design.trials,
        group=block.index + 1,
    )  # fmt: skip
    layout = {
        "coefficients": [
            {
                "name": term.name,
                "columns": [labels.index(label) for label in term.labels],
                "dim": term.dim if term.levels is not None else None,
                "levels": list(term.levels) if term.levels is not None else None,
            }
            for term in design.common
        ],  # fmt: skip
        "group": {"name": block.factor, "levels": list(block.levels)},
    }
    (folder / "layout.json").write_text(json.dumps(layout))
    return {
        "n_cells": int(design.n_cells), "n_cases": int(design.trials.sum()),
        "n_groups": len(block.levels), "columns": labels, "references": design.references,
        "centres": design.centres, "design_s": made,
    }  # fmt: skip


def run_worker(engine: str, folder: Path, tag: str, env: dict | None = None) -> dict:
    """One fit in a fresh process (``python -P``: no script folder on sys.path)."""
    out = folder / f"{tag}.json"
    command = [sys.executable, "-P", str(Path(__file__).resolve()), "--worker", engine,
               "--folder", str(folder), "--result", str(out)]  # fmt: skip
    print(f"[{time.strftime('%H:%M:%S')}] {tag}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, env=os.environ | (env or {}), capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{tag} failed:\n{done.stderr[-4000:]}")
    return json.loads(out.read_text()) | {"process_wall_s": wall}


def agreement(a: dict, b: dict) -> dict:
    """|mean_a - mean_b| over the combined Monte Carlo SE, per shared parameter."""
    out = {}
    for name, x in a["shared"].items():
        y = b["shared"][name]
        z = abs(x["mean"] - y["mean"]) / (x["mcse"] ** 2 + y["mcse"] ** 2) ** 0.5
        out[name] = {"returnmodels": x["mean"], "stan": y["mean"], "sd": x["sd"], "z": z,
                     "agree": bool(z < 3)}  # fmt: skip
    effects_z = [
        abs(x - y) / (sx**2 + sy**2) ** 0.5
        for x, y, sx, sy in zip(a["effects"]["mean"], b["effects"]["mean"],
                                a["effects"]["mcse"], b["effects"]["mcse"], strict=True)
    ]  # fmt: skip
    out["nationality_effect (120)"] = {
        "max_z": max(effects_z), "n_over_3": sum(z > 3 for z in effects_z),
        "largest_abs_diff": max(abs(x - y) for x, y in
                                zip(a["effects"]["mean"], b["effects"]["mean"], strict=True)),
    }  # fmt: skip
    return out


def ratios(ours: dict, stan: dict) -> dict:
    """returnmodels' advantage: > 1 where returnmodels is faster or more efficient."""
    return {
        "total_wall": stan["total_s"] / ours["total_s"],
        "min_ess_per_total_s": ours["min_ess_per_total_s"] / stan["min_ess_per_total_s"],
        "min_ess_per_sampling_s": ours["min_ess_per_sampling_s"] / stan["min_ess_per_sampling_s"],
        "steps_per_draw": stan["steps_per_draw"] / ours["steps_per_draw"],
    }


def environment() -> dict:
    def _version(package: str) -> str | None:
        try:
            return version(package)
        except PackageNotFoundError:
            return None

    packages = ("returnmodels", "pymc", "pytensor", "nutpie", "arviz", "numpy", "pystan",
                "httpstan")  # fmt: skip
    compiler = subprocess.run(["g++", "--version"], capture_output=True, text=True)
    return {
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "cores": os.cpu_count(),
        **{p: _version(p) for p in packages},
        "stan": _stan_version(),
        "compiler": compiler.stdout.splitlines()[0] if compiler.returncode == 0 else None,
    }


def _stan_version() -> str | None:
    try:
        import httpstan
    except ImportError:
        return None
    header = Path(httpstan.__file__).parent / "include" / "stan" / "version.hpp"
    parts = {}
    for line in header.read_text().splitlines():
        bits = line.split()
        if len(bits) == 3 and bits[0] == "#define" and bits[1].startswith("STAN_"):
            parts[bits[1]] = bits[2]
    return ".".join(parts.get(k, "?") for k in ("STAN_MAJOR", "STAN_MINOR", "STAN_PATCH"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=str(HERE / "results-stan.json"))
    parser.add_argument("--worker", choices=["returnmodels", "stan"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument(
        "--skip-cold-returnmodels", action="store_true",
        help="leave out returnmodels on empty caches",
    )  # fmt: skip
    parser.add_argument("--print", metavar="RESULTS", help="print the tables of a results file")
    args = parser.parse_args()
    if args.print:
        print(tables(json.loads(Path(args.print).read_text())))
        return 0
    if args.worker:
        worker = worker_returnmodels if args.worker == "returnmodels" else worker_stan
        figures = worker(Path(args.folder))
        figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        # The largest finished child: Stan's C++ compiler. Stan's chains run in httpstan's
        # worker processes, which are not waited for and so not counted.
        figures["peak_rss_child_mib"] = children
        figures["min_ess_per_sampling_s"] = figures["min_ess_bulk"] / figures["sample_s"]
        figures["min_ess_per_total_s"] = figures["min_ess_bulk"] / figures["total_s"]
        Path(args.result).write_text(json.dumps({"engine": args.worker, **figures}, indent=2))
        return 0
    try:
        import stan  # noqa: F401
    except ImportError:
        raise SystemExit('pystan is not installed: pip install "pystan>=3.10"') from None

    started_at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    results: dict = {
        "started": started_at,
        "load_avg_start": os.getloadavg(),
        "environment": environment(),
        "formula": FORMULA,
        "sampling": {"chains": CHAINS, "tune": TUNE, "draws": DRAWS, "seed": SEED},
    }
    with tempfile.TemporaryDirectory(prefix="bench-stan-") as tmp:
        folder = Path(tmp)
        results["cells"] = write_cells(folder)
        shutil.copy(PROGRAM, folder / PROGRAM.name)
        runs = {}
        runs["returnmodels"] = run_worker("returnmodels", folder, "returnmodels")
        stan_cache = {"XDG_CACHE_HOME": str(folder / "xdg-cache")}  # empty: cold build
        runs["stan_cold"] = run_worker("stan", folder, "stan_cold", stan_cache)
        runs["stan_cached"] = run_worker("stan", folder, "stan_cached", stan_cache)
        if not args.skip_cold_returnmodels:
            empty = {"PYTENSOR_FLAGS": f"base_compiledir={folder}/pytensor",
                     "NUMBA_CACHE_DIR": f"{folder}/numba"}  # fmt: skip
            runs["returnmodels_cold"] = run_worker("returnmodels", folder, "returnmodels_cold",
                                                   empty)  # fmt: skip
    results["runs"] = runs
    comparisons = {
        "returnmodels vs Stan cold": ("returnmodels", "stan_cold"),
        "returnmodels vs Stan cached": ("returnmodels", "stan_cached"),
    }
    if "returnmodels_cold" in runs:
        comparisons["both cold"] = ("returnmodels_cold", "stan_cold")
    results["ratios"] = {label: ratios(runs[a], runs[b]) for label, (a, b) in comparisons.items()}
    results["same_posterior"] = agreement(runs["returnmodels"], runs["stan_cold"])
    results["stan_cached_same_draws"] = runs["stan_cold"]["digest"] == runs["stan_cached"]["digest"]
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    results["load_avg_end"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(tables(results))
    return 0


# --------------------------------------------------------------------------- workers


def worker_returnmodels(folder: Path) -> dict:
    load_start = os.getloadavg()[0]
    from returnmodels.inference.fit import fit

    imported = time.perf_counter()
    result = fit(BUNDLED, formula=FORMULA, draws=DRAWS, tune=TUNE, chains=CHAINS,
                 random_seed=SEED)  # fmt: skip
    finished = time.perf_counter()
    timings = json.loads(result.attrs["returnmodels_timings"])
    sampler = json.loads(result.attrs["returnmodels_sampler"])
    verdict = json.loads(result.attrs["returnmodels_verdict"])
    stats = result["sample_stats"]
    layout = json.loads((folder / "layout.json").read_text())
    posterior = result["posterior"].to_dataset()
    names = [term["name"] for term in layout["coefficients"]]
    names += [f"{layout['group']['name']}_sigma", f"{layout['group']['name']}_effect"]
    figures = {
        "import_s": imported - T0,
        "fit_s": finished - imported,  # load, design, compile, sampling, log-likelihood, verdict
        "build_s": timings["build_s"],
        "compile_s": timings.get("compile_s", 0.0),
        "sample_s": timings["compile_and_sample_s"] - timings.get("compile_s", 0.0),
        "total_s": finished - T0,
        "compile_cache": sampler.get("compile_cache"),
        "adaptation": sampler.get("adaptation"),
        "n_dim": sampler.get("n_dim"),
        "steps_per_draw": float(stats["n_steps"].mean()),
        "divergences": int(stats["diverging"].sum()),
        "verdict_ess_bulk_min": verdict.get("ess_bulk_min"),
        "load_avg_start": load_start,
    }
    return (
        figures
        | _posterior_figures(posterior[names], layout)
        | {"load_avg_end": os.getloadavg()[0]}
    )


def worker_stan(folder: Path) -> dict:
    load_start = os.getloadavg()[0]
    import numpy as np
    import stan
    from httpstan.cache import list_model_names, model_directory
    from httpstan.models import calculate_model_name

    imported = time.perf_counter()
    with np.load(folder / "cells.npz") as cells:
        X, successes, trials, group = (cells[k] for k in ("X", "successes", "trials", "group"))
    data = {"N": X.shape[0], "P": X.shape[1], "J": int(group.max()), "X": X,
            "trials": trials.astype(int), "successes": successes.astype(int),
            "group": group.astype(int)}  # fmt: skip
    layout = json.loads((folder / "layout.json").read_text())
    assert data["J"] == len(layout["group"]["levels"])
    program = (folder / PROGRAM.name).read_text()
    in_cache = calculate_model_name(program) in list_model_names()
    loaded = time.perf_counter()
    model = stan.build(program, data=data, random_seed=SEED)
    built = time.perf_counter()
    # With a seed, httpstan stores each fit and may return it for a request it takes to be
    # the same: remove the earlier run's fits, so that this process samples.
    stored = list(model_directory(model.model_name).rglob("*.jsonlines.gz"))
    for path in stored:
        path.unlink()
    sampled_from = time.perf_counter()
    fit = model.sample(num_chains=CHAINS, num_samples=DRAWS, num_warmup=TUNE)
    sampled = time.perf_counter()

    def draws(name: str) -> np.ndarray:
        """(chain, draw, *dims): pystan's flat last axis is draw-major (draw * chains + chain)."""
        values = fit[name]
        values = values.reshape(*values.shape[:-1], DRAWS, CHAINS)
        return np.moveaxis(values, (-1, -2), (0, 1))

    beta, sigma, u = draws("beta"), draws("sigma")[..., 0], draws("u")
    leapfrog, divergent = draws("n_leapfrog__")[..., 0], draws("divergent__")[..., 0]
    finished = time.perf_counter()
    # Same seed, same binary: the cached run's draws should be the cold run's.
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in
                                     (beta, sigma, draws("z")))).hexdigest()  # fmt: skip

    import xarray as xr

    group_name = layout["group"]["name"]
    variables = {}
    for term in layout["coefficients"]:
        if term["dim"] is None:
            (column,) = term["columns"]
            variables[term["name"]] = (("chain", "draw"), beta[:, :, column])
        else:
            variables[term["name"]] = (("chain", "draw", term["dim"]),
                                       beta[:, :, term["columns"]])  # fmt: skip
    variables[f"{group_name}_sigma"] = (("chain", "draw"), sigma)
    variables[f"{group_name}_effect"] = (("chain", "draw", group_name), u)
    coords = {"chain": np.arange(CHAINS), "draw": np.arange(DRAWS),
              group_name: layout["group"]["levels"]}  # fmt: skip
    coords |= {t["dim"]: t["levels"] for t in layout["coefficients"] if t["dim"] is not None}
    posterior = xr.Dataset(variables, coords=coords)
    figures = {
        "import_s": imported - T0,
        "data_s": loaded - imported,
        "compile_s": built - loaded,  # stan.build: stanc and the C++ compiler, or the cache
        "compile_cache": "cached" if in_cache else "cold",
        "sample_s": sampled - sampled_from,
        "total_s": finished - T0 - (sampled_from - built),  # not the removal of old fits
        "stored_fits_removed": len(stored),
        "steps_per_draw": float(leapfrog.mean()),
        "divergences": int(divergent.sum()),
        "max_treedepth": int(draws("treedepth__").max()),
        "step_size_mean": float(draws("stepsize__").mean()),
        "digest": digest,
        "model_name": model.model_name,
        "load_avg_start": load_start,
    }
    return figures | _posterior_figures(posterior, layout) | {"load_avg_end": os.getloadavg()[0]}


def _posterior_figures(posterior, layout: dict) -> dict:
    """Min bulk ESS and max R-hat over every variable; mean, SD and Monte Carlo SE of the
    shared scalars and of the group effects."""
    import arviz as az
    import numpy as np

    names = list(posterior.data_vars)
    ess = az.ess(posterior, method="bulk")
    rhat = az.rhat(posterior)
    mcse = az.mcse(posterior)
    worst = min(names, key=lambda n: float(np.min(ess[n].values)))
    shared = {}
    for term in layout["coefficients"]:
        selections = [(term["name"], {})] if term["dim"] is None else [
            (f"{term['name']}[{level}]", {term["dim"]: level}) for level in term["levels"]
        ]  # fmt: skip
        for label, selection in selections:
            values = posterior[term["name"]].sel(selection)
            shared[label] = {"mean": float(values.mean()), "sd": float(values.std()),
                             "mcse": float(mcse[term["name"]].sel(selection))}  # fmt: skip
    sigma = f"{layout['group']['name']}_sigma"
    shared[sigma] = {"mean": float(posterior[sigma].mean()), "sd": float(posterior[sigma].std()),
                     "mcse": float(mcse[sigma])}  # fmt: skip
    effect = f"{layout['group']['name']}_effect"
    return {
        "min_ess_bulk": float(min(np.min(ess[n].values) for n in names)),
        "min_ess_bulk_of": worst,
        "max_rhat": float(max(np.max(rhat[n].values) for n in names)),
        "ess_variables": names,
        "shared": shared,
        "effects": {
            "mean": posterior[effect].mean(("chain", "draw")).values.tolist(),
            "mcse": mcse[effect].values.tolist(),
        },  # fmt: skip
    }


# --------------------------------------------------------------------------- tables


def tables(results: dict) -> str:
    runs = results["runs"]
    columns = [(k, label) for k, label in (
        ("returnmodels", "returnmodels (caches as found)"),
        ("stan_cold", "Stan, cold build"),
        ("stan_cached", "Stan, cached build"),
        ("returnmodels_cold", "returnmodels (empty caches)"),
    ) if k in runs]  # fmt: skip
    rows = [
        ("import s", "import_s"), ("compile s", "compile_s"), ("sampling s", "sample_s"),
        ("total wall s", "total_s"), ("min bulk ESS", "min_ess_bulk"),
        ("min ESS / sampling s", "min_ess_per_sampling_s"),
        ("min ESS / total s", "min_ess_per_total_s"),
        ("leapfrog steps per draw", "steps_per_draw"), ("max R-hat", "max_rhat"),
        ("divergences", "divergences"), ("peak RSS MiB (the compiler)", None),
        ("load average at start", "load_avg_start"),
    ]  # fmt: skip
    cells = results["cells"]
    lines = [
        f"{results['started']} - {results['finished']}; load average "
        f"{results['load_avg_start'][0]:.2f} at the start, {results['load_avg_end'][0]:.2f} "
        f"at the end; {cells['n_cells']:,} cells, {cells['n_cases']:,} cases, "
        f"{cells['n_groups']} nationalities; {CHAINS} chains x ({TUNE} + {DRAWS}).\n",
        "| | " + " | ".join(label for _, label in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for label, key in rows:
        values = []
        for run, _ in columns:
            r = runs[run]
            if key is None:
                child = r.get("peak_rss_child_mib") or 0
                values.append(f"{r['peak_rss_mib']:,.0f}" + (
                    f" ({child:,.0f})" if run.startswith("stan") and child else ""))  # fmt: skip
            elif key == "compile_s":
                values.append(f"{_fmt(r[key])} ({r.get('compile_cache')})")
            else:
                values.append(_fmt(r.get(key)))
        lines.append(f"| {label} | " + " | ".join(values) + " |")
    lines += ["", "| ratio (returnmodels' advantage) | " + " | ".join(results["ratios"]) + " |",
              "|---|" + "---:|" * len(results["ratios"])]  # fmt: skip
    for key, label in (
        ("total_wall", "total wall"),
        ("min_ess_per_total_s", "ESS / total s"),
        ("min_ess_per_sampling_s", "ESS / sampling s"),
        ("steps_per_draw", "leapfrog steps per draw (Stan / returnmodels)"),
    ):
        lines.append(f"| {label} | " + " | ".join(
            f"{r[key]:.1f}x" for r in results["ratios"].values()) + " |")  # fmt: skip
    lines += [
        "",
        "| parameter | returnmodels | Stan | z (Monte Carlo SE) |",
        "|---|---:|---:|---:|",
    ]
    for name, a in results["same_posterior"].items():
        if "max_z" in a:
            lines.append(f"| {name} | | | max {a['max_z']:.1f} ({a['n_over_3']} over 3; largest "
                         f"difference {a['largest_abs_diff']:.3f}) |")  # fmt: skip
        else:
            lines.append(f"| {name} | {a['returnmodels']:.3f} | {a['stan']:.3f} | {a['z']:.1f} |")
    same = "identical" if results["stan_cached_same_draws"] else "NOT identical"
    lines.append(f"\nStan's cached run's draws are {same} to the cold run's (same seed).")
    return "\n".join(lines)


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


if __name__ == "__main__":
    sys.exit(main())

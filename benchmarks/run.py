"""One command for the whole benchmark: ``.venv/bin/python benchmarks/run.py``.

The other measurements run through it too, each in its own script:
``run.py formulas|stan|writing|settings|units|blas|persons|persons-laplace [their options]`` (the
README's formulas, Stan beside returnmodels, a fit's writing time, sampler settings, the
integrated person term's cost per gradient, BLAS threads under the chains', the study
model with persons beside glmer and Stan, and beside Stan's embedded Laplace by size); with no
such name it runs the comparison, bundled and scaling measurements below.

Runs every measurement of ``measure.py`` in its own fresh process (so that imports,
compilation and peak memory are counted per fit), side by side on the same rows:

1. returnmodels vs bambi on the same subset (``--rows``, default 11,800 cases: bambi needs
   more than 15 minutes on all 118,000 rows on a 2-core machine); ``--bambi-full`` adds
   the comparison on all rows, and ``--bambi-timeout`` stops a bambi fit that runs
   longer, reporting the ratios as lower bounds; then both again with a wide intercept
   prior, the check that they fit the same posterior;
2. returnmodels on the bundled data, cold and then warm (another seed, same structure);
3. scaling: returnmodels on 11,800, 118,000 and 1,180,000 simulated cases.

Writes ``benchmarks/results.json`` and prints the Markdown tables of ``README.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from measure import CHAINS, DRAWS  # noqa: E402  (this folder is not a package)

ROOT = HERE.parent
BUNDLED = ROOT / "data" / "cases.parquet"
SCALES = (11_800, 118_000, 1_180_000)
SHARED = ("n_procedures", "nationality_sigma", "cooperation[high]")


def measure(
    engine: str, data: Path, *extra: str, env: dict | None = None, timeout: float | None = None
) -> dict:
    """One ``measure.py`` run in a fresh process; past ``timeout`` seconds it is stopped
    (with its chain processes) and reported as ``{"finished": False, "total_s": timeout}``."""
    command = [sys.executable, str(HERE / "measure.py"), engine, str(data), *extra]
    print("$", " ".join(command[1:]), file=sys.stderr, flush=True)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ | (env or {}), start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return {"engine": engine, "finished": False, "total_s": float(timeout)}
    if process.returncode != 0:
        raise SystemExit(f"{engine} failed:\n{stderr[-3000:]}")
    return json.loads(stdout) | {"finished": True}


def agreement(a: dict, b: dict) -> dict:
    """|mean_a - mean_b| in units of the combined Monte Carlo standard error."""
    out = {}
    for name in SHARED:
        x, y = a["shared"][name], b["shared"][name]
        z = abs(x["mean"] - y["mean"]) / (x["mcse"] ** 2 + y["mcse"] ** 2) ** 0.5
        out[name] = {
            "returnmodels": x["mean"],
            "bambi": y["mean"],
            "z": z,
            "agree": z < 3,
            "diff_in_posterior_sd": abs(x["mean"] - y["mean"]) / x.get("sd", float("nan")),
        }
    return out


def ratios(a: dict, b: dict) -> dict:
    """returnmodels (a) over bambi (b); lower bounds where bambi did not finish: its wall
    time exceeds the time it ran, and its min ESS cannot exceed all of its draws."""
    if not b["finished"]:
        best = DRAWS * CHAINS / b["total_s"]
        return {
            "min_ess_per_sampling_s": a["min_ess_per_sampling_s"] / best,
            "min_ess_per_total_s": a["min_ess_per_total_s"] / best,
            "total_wall_speedup": b["total_s"] / a["total_s"],
            "lower_bounds": True,
        }
    return {
        "min_ess_per_sampling_s": a["min_ess_per_sampling_s"] / b["min_ess_per_sampling_s"],
        "min_ess_per_total_s": a["min_ess_per_total_s"] / b["min_ess_per_total_s"],
        "total_wall_speedup": b["total_s"] / a["total_s"],
        "lower_bounds": False,
    }


#: The other measurements, by the name ``run.py`` takes them under.
SUITES = {
    "formulas": "formulas.py",
    "stan": "stan.py",
    "writing": "writing.py",
    "settings": "sampler_settings.py",
    "units": "units.py",
    "blas": "blas_threads.py",
    "persons": "persons.py",
    "persons-laplace": "persons_laplace.py",
}


def environment() -> dict:
    """Commit, date, machine and package versions of this measurement."""
    packages = ("returnmodels", "pymc", "pytensor", "nutpie", "bambi", "arviz", "numpy")
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "commit": commit,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "load_avg": os.getloadavg()[0],
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "cores": os.cpu_count(),
        **{p: version(p) for p in packages},
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] in SUITES:  # another measurement, its own options
        script = str(HERE / SUITES[sys.argv[1]])
        os.execv(sys.executable, [sys.executable, script, *sys.argv[2:]])
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=11_800)
    parser.add_argument("--bambi-full", action="store_true")
    parser.add_argument(
        "--bambi-timeout", type=float, default=None,
        help="stop a bambi fit after this many seconds and report the ratios as lower bounds",
    )  # fmt: skip
    parser.add_argument("--skip-compare", action="store_true", help="no bambi comparison")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--skip-bundled", action="store_true", help="no cold/warm bundled fit")
    parser.add_argument(
        "--scaling-predictors",
        default=None,
        help="case-level predictors of the scaling fits (default: all; the main job: n_procedures)",
    )
    parser.add_argument("--scales", default=",".join(map(str, SCALES)))
    parser.add_argument("--out", default=str(HERE / "results.json"))
    args = parser.parse_args()
    results: dict = {"environment": environment(), "comparisons": []}
    subsets = [] if args.skip_compare else [args.rows] + ([None] if args.bambi_full else [])
    for rows in subsets:
        extra = ("--rows", str(rows)) if rows else ()
        ours = measure("returnmodels", BUNDLED, *extra)
        theirs = measure("bambi", BUNDLED, *extra, timeout=args.bambi_timeout)
        results["comparisons"].append(
            {"rows": ours["n_rows"], "returnmodels": ours, "bambi": theirs,
             "ratios": ratios(ours, theirs),
             "agreement": agreement(ours, theirs) if theirs["finished"] else {}}
        )  # fmt: skip
    if not args.skip_compare:
        # Same posterior: each engine places its N(0, 2.5) intercept prior elsewhere
        # (returnmodels at the reference levels, bambi at the column means), which moves
        # the cooperation contrast; with a wide intercept prior both fit one posterior.
        wide = ("--rows", str(args.rows), "--intercept-sigma", "100")
        ours, theirs = measure("returnmodels", BUNDLED, *wide), measure("bambi", BUNDLED, *wide)
        results["same_posterior"] = {"rows": ours["n_rows"], "intercept_sigma": 100,
                                     "agreement": agreement(ours, theirs)}  # fmt: skip
    if not args.skip_bundled:
        # Cold: empty PyTensor/numba caches (PyTensor's numba cache and returnmodels'
        # callbacks live under base_compiledir); warm: the same structure again, in the
        # same process (--refit, another seed), in a new process reading the disk caches,
        # and in a new process on other data of the same shape (--flip).
        with tempfile.TemporaryDirectory() as caches:
            env = {"PYTENSOR_FLAGS": f"base_compiledir={caches}/pytensor",
                   "NUMBA_CACHE_DIR": f"{caches}/numba"}  # fmt: skip
            results["bundled"] = measure("returnmodels", BUNDLED, "--refit", env=env)
            results["bundled_new_process"] = measure("returnmodels", BUNDLED, env=env)
            results["bundled_other_data"] = measure(
                "returnmodels", BUNDLED, "--flip", "50", "--seed", "2", env=env
            )
    if not args.skip_scaling:
        results["scaling"] = []
        with tempfile.TemporaryDirectory() as folder:
            for n in map(int, args.scales.split(",")):
                path = Path(folder) / f"cases_{n}.parquet"
                subprocess.run(
                    [str(Path(sys.executable).parent / "returnmodels"), "simulate",
                     "--out", str(path), "--n-cases", str(n)],
                    check=True, capture_output=True,
                )  # fmt: skip
                extra = ("--predictors", args.scaling_predictors) if args.scaling_predictors else ()
                results["scaling"].append(measure("returnmodels", path, *extra))
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(tables(results))
    return 0


def tables(results: dict) -> str:
    rows = [
        ("import s", "import_s"), ("build s", "build_s"), ("compile s", "compile_s"),
        ("sampling s", "sample_s"), ("total wall s", "total_s"),
        ("min bulk ESS", "min_ess_bulk"), ("min ESS / sampling s", "min_ess_per_sampling_s"),
        ("min ESS / total s", "min_ess_per_total_s"), ("max R-hat", "max_rhat"),
        ("divergences", "divergences"), ("gradient steps per draw", "steps_per_draw"),
        ("peak RSS MiB", "peak_rss_mib"),
        ("binomial cells", "n_cells"),
    ]  # fmt: skip
    lines = []
    for comparison in results["comparisons"]:
        lines += [f"\n### {comparison['rows']:,} cases\n", "| | returnmodels | bambi |",
                  "|---|---:|---:|"]  # fmt: skip
        for label, key in rows:
            cells = [_fmt(comparison[e].get(key)) for e in ("returnmodels", "bambi")]
            lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
        bound = ">= " if comparison["ratios"].get("lower_bounds") else ""
        if bound:
            lines.append(f"| bambi | stopped after {comparison['bambi']['total_s']:.0f} s | |")
        for key, value in comparison["ratios"].items():
            if key != "lower_bounds":
                lines.append(f"| ratio {key} | {bound}{value:.1f}x | |")
        for name, a in comparison["agreement"].items():
            verdict = f"{'agree' if a['agree'] else 'DIFFER'}, z={a['z']:.1f}"
            lines.append(f"| {name} | {a['returnmodels']:.3f} | {a['bambi']:.3f} ({verdict}) |")
    same = results.get("same_posterior")
    if same is not None:
        lines += [f"\n### Same posterior ({same['rows']:,} cases, intercept prior N(0, 100))\n",
                  "| parameter | returnmodels | bambi |", "|---|---:|---:|"]  # fmt: skip
        for name, a in same["agreement"].items():
            verdict = f"{'agree' if a['agree'] else 'DIFFER'}, z={a['z']:.1f}"
            lines.append(f"| {name} | {a['returnmodels']:.3f} | {a['bambi']:.3f} ({verdict}) |")
    bundled = results.get("bundled")
    lines += [] if bundled is None else ["\n### Bundled data, cold then warm\n",
              f"cold total {bundled['total_s']:.1f} s (compile {_fmt(bundled['compile_s'])} s); "
              f"warm build+compile {bundled['warm_build_compile_s']:.2f} s, "
              f"warm fit {bundled['warm_total_s']:.1f} s"]  # fmt: skip
    for key, label in (
        ("bundled_new_process", "warm, new process"),
        ("bundled_other_data", "warm, new process, other data of the same shape"),
    ):
        again = results.get(key)
        lines += [] if again is None else [
            f"\n{label}: build+compile {again['build_s'] + again['compile_s']:.2f} s "
            f"(callbacks: {again.get('compile_cache')}), "
            f"total {again['total_s']:.1f} s"]  # fmt: skip
    if "scaling" in results:
        lines += ["\n### Scaling\n", "| cases | cells | sampling s | total s | peak RSS MiB |",
                  "|---:|---:|---:|---:|---:|"]  # fmt: skip
        for s in results["scaling"]:
            lines.append(
                f"| {s['n_rows']:,} | {s['n_cells']:,} | {s['sample_s']:.1f} | "
                f"{s['total_s']:.1f} | {s['peak_rss_mib']:.0f} |"
            )
    return "\n".join(lines)


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


if __name__ == "__main__":
    sys.exit(main())

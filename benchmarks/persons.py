"""The study model with persons beside glmer and Stan, in one invocation.

    .venv/bin/python benchmarks/persons.py [--stan-cases 12000] [--stan-timeout 900]

``assisted ~ n_procedures + cooperation + (1 | nationality) + (1 | person_id)`` on the
bundled cases (118,000 cases of 96,768 persons, drawn with a person SD of 1.0 on the
uptake logit and a nationality SD of 0.8: ``data/cases.truth.json``). Each fit runs in its
own fresh process, so that imports and compilation are counted:

1. returnmodels on all cases (person effects integrated out by 30-node Gauss-Hermite
   quadrature), 4 chains x (1000 tune + 1000 draws);
2. ``lme4::glmer`` on all cases (Laplace, ``nAGQ = 1``: lme4 allows no more with two
   grouping factors), through ``Rscript``: ``n_procedures`` centred where returnmodels
   centres it (its case-weighted mean), cooperation against returnmodels' reference
   (``medium``), so that the slopes compare;
3. Stan (pystan 3) on a subsample of whole persons (``--stan-cases``, persons drawn with a
   fixed seed, all their cases kept): ``persons_study.stan``, brms's joint non-centred
   model, one standard-normal z a person and a nationality, the same priors as
   returnmodels (N(0, 2.5) on every column of returnmodels' design, HalfNormal(1) on both
   SDs); stopped after ``--stan-timeout`` seconds and recorded as not finished. The
   httpstan cache is used as found (its compile time and state are recorded); stored
   fits of the program are removed first, since httpstan would return them for the same
   seed instead of sampling;
4. returnmodels on the same subsample, for a like-for-like ratio.

Min bulk ESS and max R-hat are over the parameters both samplers have: the coefficients,
both SDs and the 120 nationality effects (Stan's person z's are reported apart).

Writes ``benchmarks/results-persons.json`` (stamped with commit, date, machine and load)
and prints the Markdown table of the README's persons section.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402  (T0 first: a worker's wall time counts from its start)
import datetime  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from importlib.metadata import PackageNotFoundError, version  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUNDLED = ROOT / "data" / "cases.parquet"
TRUTH = ROOT / "data" / "cases.truth.json"
PROGRAM = HERE / "persons_study.stan"
FORMULA = "assisted ~ n_procedures + cooperation + (1 | nationality) + (1 | person_id)"
CHAINS, TUNE, DRAWS = 4, 1000, 1000
SEED = 20251
SUBSAMPLE_SEED = 24
HDI = 0.94

GLMER_SCRIPT = r"""
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
cases <- read.csv(args[1])
cases$cooperation <- relevel(factor(cases$cooperation), ref = readLines(args[3]))
cases$nationality <- factor(cases$nationality)
cases$person_id <- factor(cases$person_id)
started <- proc.time()[["elapsed"]]
fit <- glmer(assisted ~ n_procedures_c + cooperation + (1 | nationality) + (1 | person_id),
             data = cases, family = binomial)
fit_s <- proc.time()[["elapsed"]] - started
sds <- as.data.frame(VarCorr(fit))
coefs <- summary(fit)$coefficients
out <- list(
  fit_s = fit_s,
  person_sd = sds$sdcor[sds$grp == "person_id"],
  nationality_sd = sds$sdcor[sds$grp == "nationality"],
  coefficients = setNames(as.list(coefs[, "Estimate"]), rownames(coefs)),
  se = setNames(as.list(coefs[, "Std. Error"]), rownames(coefs)),
  singular = isSingular(fit),
  converged_messages = as.list(fit@optinfo$conv$lme4$messages),
  n_cases = nrow(cases), n_persons = nlevels(cases$person_id),
  lme4 = as.character(packageVersion("lme4")), r = R.version.string
)
writeLines(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA), args[2])
"""


# --------------------------------------------------------------------------- driver


def environment() -> dict:
    """Commit, date, machine, load and versions of this measurement."""

    def _version(package: str) -> str | None:
        try:
            return version(package)
        except PackageNotFoundError:
            return None

    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    packages = ("returnmodels", "pymc", "pytensor", "nutpie", "arviz", "numpy", "pystan",
                "httpstan")  # fmt: skip
    return {
        "commit": commit,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "load_avg": os.getloadavg(),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "cores": os.cpu_count(),
        **{p: _version(p) for p in packages},
    }


def subsample(folder: Path, n_cases: int) -> dict:
    """Whole persons drawn in a fixed random order until about ``n_cases`` cases; written
    as a case file for returnmodels."""
    import numpy as np
    import pandas as pd

    cases = pd.read_parquet(BUNDLED)
    persons = cases["person_id"].unique()
    order = np.random.default_rng(SUBSAMPLE_SEED).permutation(persons)
    sizes = cases.groupby("person_id").size().loc[order]
    kept = order[: int(np.searchsorted(sizes.cumsum().to_numpy(), n_cases)) + 1]
    sub = cases[cases["person_id"].isin(set(kept))].reset_index(drop=True)
    sub.to_parquet(folder / "subsample.parquet", index=False)
    return {
        "n_cases": len(sub),
        "n_persons": int(sub["person_id"].nunique()),
        "n_nationalities": int(sub["nationality"].nunique()),
        "seed": SUBSAMPLE_SEED,
    }


def case_rows(path: Path) -> tuple:
    """The cases of ``path`` and returnmodels' design of them: its columns (the
    cooperation reference is the data's, so may differ between the subsample and all
    cases), its centre of n_procedures, its priors checked against what the peers
    hard-code."""
    import returnmodels as rm
    from returnmodels.engine.design import build_formula_design

    cases = rm.load_cases(path)
    design = build_formula_design(cases, FORMULA)
    labels = list(design.column_labels())
    assert labels[:2] == ["Intercept", "n_procedures"] and len(labels) == 4, labels
    assert (design.coefficient_priors == [float("inf"), 0.0, 2.5]).all(), design.priors
    assert design.priors["sigma"] == {"dist": "HalfNormal", "sigma": 1.0}, design.priors
    return cases, float(design.centres["n_procedures"]), labels, design.references["cooperation"]


def peer_columns(cases, centre: float) -> dict:
    """Per-case columns of returnmodels' design: centred n_procedures, the outcome."""
    return {
        "assisted": (cases["outcome"].astype(str) == "assisted_return").to_numpy().astype(int),
        "n_procedures_c": cases["n_procedures"].to_numpy(dtype=float) - centre,
        "cooperation": cases["cooperation"].astype(str).to_numpy(),
        "nationality": cases["nationality"].astype(str).to_numpy(),
        "person_id": cases["person_id"].astype(str).to_numpy(),
    }


def write_glmer_input(folder: Path) -> dict:
    """All cases as a CSV for glmer, n_procedures centred where returnmodels centres it."""
    import pandas as pd

    cases, centre, labels, reference = case_rows(BUNDLED)
    cols = peer_columns(cases, centre)
    frame = pd.DataFrame({k: cols[k] for k in ("assisted", "n_procedures_c", "cooperation",
                                               "nationality", "person_id")})  # fmt: skip
    frame.to_csv(folder / "glmer.csv", index=False)
    (folder / "glmer.R").write_text(GLMER_SCRIPT)
    (folder / "glmer_reference.txt").write_text(reference)
    return {"centre": centre, "columns": labels, "reference": reference}


def write_stan_input(folder: Path) -> dict:
    """The subsample's per-case design for Stan: returnmodels' columns, 1-based indices."""
    import numpy as np

    cases, centre, labels, reference = case_rows(folder / "subsample.parquet")
    cols = peer_columns(cases, centre)
    dummies = [(cols["cooperation"] == label[len("cooperation[") : -1]).astype(float)
               for label in labels[2:]]  # fmt: skip
    nationalities, nationality = np.unique(cols["nationality"], return_inverse=True)
    _, person = np.unique(cols["person_id"], return_inverse=True)
    X = np.column_stack([np.ones(len(cases)), cols["n_procedures_c"], *dummies])
    np.savez(folder / "stan.npz", X=X, y=cols["assisted"], nationality=nationality + 1,
             person=person + 1)  # fmt: skip
    (folder / "nationalities.json").write_text(json.dumps(nationalities.tolist()))
    return {"centre": centre, "columns": labels, "reference": reference,
            "n_persons": int(person.max() + 1)}  # fmt: skip


def run_process(tag: str, command: list, timeout: float | None) -> dict:
    """One fit in a fresh process (its own session, so that a timeout stops its children
    too); past ``timeout`` seconds: ``{"finished": False}``."""
    print(f"[{time.strftime('%H:%M:%S')}] {tag}", file=sys.stderr, flush=True)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)  # fmt: skip
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return {"finished": False, "stopped_after_s": timeout, "load_avg_start": load,
                "load_avg_end": os.getloadavg()[0]}  # fmt: skip
    wall = time.perf_counter() - started
    if process.returncode != 0:
        print(f"{tag} failed:\n{stderr[-3000:]}", file=sys.stderr, flush=True)
        return {"finished": False, "failed": stderr[-3000:], "process_wall_s": wall}
    return {"finished": True, "process_wall_s": wall, "load_avg_start": load,
            "load_avg_end": os.getloadavg()[0]}  # fmt: skip


def run_worker(
    tag: str, engine: str, folder: Path, data: Path, sampling: dict, timeout: float | None
) -> dict:
    """A returnmodels or Stan fit of ``data`` in a fresh process."""
    out = folder / f"{tag}.json"
    command = [sys.executable, "-P", str(Path(__file__).resolve()), "--worker", engine,
               "--folder", str(folder), "--data", str(data), "--result", str(out),
               "--draws", str(sampling["draws"]), "--tune", str(sampling["tune"])]  # fmt: skip
    status = run_process(tag, command, timeout)
    figures = json.loads(out.read_text()) if status["finished"] else {}
    return figures | status


def run_glmer(folder: Path, timeout: float | None) -> dict:
    """glmer through Rscript; the process's wall time is its total."""
    out = folder / "glmer.json"
    command = ["Rscript", str(folder / "glmer.R"), str(folder / "glmer.csv"), str(out),
               str(folder / "glmer_reference.txt")]  # fmt: skip
    status = run_process("glmer", command, timeout)
    if not status["finished"]:
        return status
    fit = json.loads(out.read_text())
    return {
        "total_s": status["process_wall_s"],
        "fit_s": fit["fit_s"],
        "person_sd": {"estimate": fit["person_sd"]},
        "nationality_sd": {"estimate": fit["nationality_sd"]},
        "slope": {
            "estimate": fit["coefficients"]["n_procedures_c"],
            "se": fit["se"]["n_procedures_c"],
        },  # fmt: skip
        "glmer": fit,
    } | status


def label_cases(runs: dict, results: dict) -> dict:
    """Each run's number of cases: all of them, or the subsample's."""
    import pandas as pd

    everything = len(pd.read_parquet(BUNDLED, columns=["case_id"]))
    for tag, run in runs.items():
        run["n_cases"] = results["subsample"]["n_cases"] if "subsample" in tag else everything
    return runs


def ratios(ours: dict, peer: dict) -> dict:
    """returnmodels' advantage: > 1 where returnmodels is faster or more efficient."""
    if not ours.get("finished"):
        return {"not_finished": True}
    if not peer.get("finished"):
        stopped = peer.get("stopped_after_s", 0)
        return {"not_finished": True, "total_wall_at_least": stopped / ours["total_s"]}
    out = {"total_wall": peer["total_s"] / ours["total_s"]}
    if "min_ess_per_total_s" in peer:
        out["min_ess_per_total_s"] = ours["min_ess_per_total_s"] / peer["min_ess_per_total_s"]
        out["min_ess_per_sampling_s"] = (
            ours["min_ess_per_sampling_s"] / peer["min_ess_per_sampling_s"]
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=str(HERE / "results-persons.json"))
    parser.add_argument("--stan-cases", type=int, default=12_000)
    parser.add_argument("--stan-timeout", type=float, default=900.0)
    parser.add_argument("--glmer-timeout", type=float, default=1800.0)
    parser.add_argument("--draws", type=int, default=DRAWS, help="for every sampler")
    parser.add_argument("--tune", type=int, default=TUNE, help="for every sampler")
    parser.add_argument("--skip-stan", action="store_true")
    parser.add_argument("--skip-glmer", action="store_true")
    parser.add_argument("--print", metavar="RESULTS", help="print the table of a results file")
    parser.add_argument("--worker", choices=["returnmodels", "stan"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.print:
        print(table(json.loads(Path(args.print).read_text())))
        return 0
    if args.worker:
        worker = worker_returnmodels if args.worker == "returnmodels" else worker_stan
        figures = finish(worker(Path(args.folder), Path(args.data), args.draws, args.tune))
        Path(args.result).write_text(json.dumps({"engine": args.worker, **figures}, indent=2))
        return 0
    uptake = json.loads(TRUTH.read_text())["parameters"]["uptake"]
    results: dict = {
        "environment": environment(),
        "formula": FORMULA,
        "sampling": {"chains": CHAINS, "tune": args.tune, "draws": args.draws, "seed": SEED},
        "truth": {
            "person_sd": uptake["person_sigma"],
            "slope_conditional": uptake["n_procedures"],
            "nationality_sd": uptake["nationality_sigma"],
        },  # fmt: skip
    }
    runs: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-persons-") as tmp:
        folder = Path(tmp)
        sampling = results["sampling"]
        runs["returnmodels"] = run_worker(
            "returnmodels", "returnmodels", folder, BUNDLED, sampling, None
        )
        if not args.skip_glmer:
            results["glmer_input"] = write_glmer_input(folder)
            runs["glmer"] = run_glmer(folder, args.glmer_timeout)
        if not args.skip_stan:
            results["subsample"] = subsample(folder, args.stan_cases)
            results["stan_input"] = write_stan_input(folder)
            sub = folder / "subsample.parquet"
            runs["returnmodels_subsample"] = run_worker("returnmodels_subsample", "returnmodels",
                                                        folder, sub, sampling, None)  # fmt: skip
            runs["stan_subsample"] = run_worker("stan_subsample", "stan", folder, sub, sampling,
                                                args.stan_timeout)  # fmt: skip
    results["runs"] = label_cases(runs, results)
    results["ratios"] = {}
    if "glmer" in runs:
        results["ratios"]["returnmodels vs glmer (all cases)"] = ratios(
            runs["returnmodels"], runs["glmer"]
        )
    if "stan_subsample" in runs:
        results["ratios"]["returnmodels vs Stan (subsample)"] = ratios(
            runs["returnmodels_subsample"], runs["stan_subsample"]
        )
    results["finished"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    results["load_avg_end"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    return 0


# --------------------------------------------------------------------------- workers


def worker_returnmodels(folder: Path, data: Path, draws: int, tune: int) -> dict:
    import returnmodels as rm

    imported = time.perf_counter()
    result = rm.fit(str(data), formula=FORMULA, draws=draws, tune=tune, chains=CHAINS,
                    random_seed=SEED, progressbar=False)  # fmt: skip
    finished = time.perf_counter()
    timings = result.attrs["returnmodels_timings"]
    timings = json.loads(timings) if isinstance(timings, str) else timings
    sampler = json.loads(result.attrs["returnmodels_sampler"])
    stats = result["sample_stats"]
    posterior = result["posterior"].to_dataset()
    names = {"person_sd": "person_id_sigma", "nationality_sd": "nationality_sigma",
             "slope": "n_procedures"}  # fmt: skip
    figures = {
        "import_s": imported - T0,
        "fit_s": finished - imported,
        "build_s": timings["build_s"],
        "compile_s": timings.get("compile_s", 0.0),
        "sample_s": timings["compile_and_sample_s"] - timings.get("compile_s", 0.0),
        "total_s": finished - T0,
        "compile_cache": sampler.get("compile_cache"),
        "steps_per_draw": float(stats["n_steps"].mean()),
        "divergences": int(stats["diverging"].sum()),
    }
    return figures | summarise(posterior, list(posterior.data_vars), names)


def build_stan(program: str, payload: dict) -> tuple:
    """``program`` built by pystan for ``payload``: the model, whether httpstan had the
    program in its cache (``"cached"`` or ``"cold"``) and the build's seconds."""
    import stan
    from httpstan.cache import list_model_names
    from httpstan.models import calculate_model_name

    in_cache = calculate_model_name(program) in list_model_names()
    started = time.perf_counter()
    model = stan.build(program, data=payload, random_seed=SEED)
    return model, ("cached" if in_cache else "cold"), time.perf_counter() - started


def sample_fresh(model, n_draws: int, tune: int) -> tuple:
    """``(fit, stored fits removed, sampling seconds)``: the earlier fits httpstan stored
    for the model removed first (with a seed it would return one for the same request
    instead of sampling), then :data:`CHAINS` chains sampled."""
    from httpstan.cache import model_directory

    stored = list(model_directory(model.model_name).rglob("*.jsonlines.gz"))
    for path in stored:
        path.unlink()
    started = time.perf_counter()
    fit = model.sample(num_chains=CHAINS, num_samples=n_draws, num_warmup=tune)
    return fit, len(stored), time.perf_counter() - started


def worker_stan(folder: Path, data: Path, n_draws: int, tune: int) -> dict:
    import numpy as np
    import xarray as xr

    imported = time.perf_counter()
    with np.load(folder / "stan.npz") as arrays:
        X, y, nationality, person = (arrays[k] for k in ("X", "y", "nationality", "person"))
    payload = {"N": X.shape[0], "P": X.shape[1], "J": int(nationality.max()),
               "K": int(person.max()), "X": X, "y": y, "nationality": nationality,
               "person": person}  # fmt: skip
    model, cache, compile_s = build_stan(PROGRAM.read_text(), payload)
    built = time.perf_counter()
    fit, removed, sample_s = sample_fresh(model, n_draws, tune)
    removing_s = time.perf_counter() - built - sample_s
    draws = stan_draws(fit, n_draws)
    posterior = stan_posterior(draws)
    persons = xr.Dataset({"z_person": (("chain", "draw", "person"), draws("z_person"))})
    finished = time.perf_counter()
    figures = {
        "import_s": imported - T0,
        "compile_s": compile_s,
        "compile_cache": cache,
        "sample_s": sample_s,
        "total_s": finished - T0 - removing_s,  # not the removal of old fits
        "n_cases": int(X.shape[0]),
        "steps_per_draw": float(draws("n_leapfrog__").mean()),
        "divergences": int(draws("divergent__").sum()),
        "max_treedepth": int(draws("treedepth__").max()),
        "stored_fits_removed": removed,
    }
    names = {"person_sd": "person_id_sigma", "nationality_sd": "nationality_sigma",
             "slope": "n_procedures"}  # fmt: skip
    import arviz as az

    person_ess = az.ess(persons, method="bulk")["z_person"].values
    return (
        figures
        | summarise(posterior, list(posterior.data_vars), names)
        | {
            "person_z_min_ess_bulk": float(person_ess.min()),
            "person_z_max_rhat": float(az.rhat(persons)["z_person"].values.max()),
        }
    )


def stan_draws(fit, n_draws: int):
    """A function of a Stan variable's name that gives its draws as (chain, draw,
    *dims): pystan's flat last axis is draw-major (draw * chains + chain)."""
    import numpy as np

    def draws(name: str) -> np.ndarray:
        values = fit[name]
        values = values.reshape(*values.shape[:-1], n_draws, CHAINS)
        return np.moveaxis(values, (-1, -2), (0, 1))

    return draws


def stan_posterior(draws):
    """An xarray Dataset of the parameters both samplers have, from a Stan fit's ``draws``
    (:func:`stan_draws`), under returnmodels' names."""
    import xarray as xr

    beta = draws("beta")
    return xr.Dataset({
        "Intercept": (("chain", "draw"), beta[:, :, 0]),
        "n_procedures": (("chain", "draw"), beta[:, :, 1]),
        "cooperation": (("chain", "draw", "cooperation_level"), beta[:, :, 2:]),
        "nationality_sigma": (("chain", "draw"), draws("sigma_nationality")[..., 0]),
        "person_id_sigma": (("chain", "draw"), draws("sigma_person")[..., 0]),
        "nationality_effect": (("chain", "draw", "nationality"), draws("u")),
    })  # fmt: skip


def summarise(posterior, variables: list, names: dict) -> dict:
    """Mean and 94% HDI of the person SD, nationality SD and slope; min bulk ESS and max
    R-hat over ``variables``."""
    import arviz as az
    import numpy as np

    ess = az.ess(posterior[variables], method="bulk")
    rhat = az.rhat(posterior[variables])
    out = {}
    for label, name in names.items():
        values = posterior[name]
        low, high = (float(v) for v in az.hdi(values, prob=HDI).values)
        out[label] = {"mean": float(values.mean()), "hdi_94": [low, high],
                      "ess_bulk": float(ess[name])}  # fmt: skip
    out["min_ess_bulk"] = float(min(np.min(ess[n].values) for n in variables))
    out["max_rhat"] = float(max(np.max(rhat[n].values) for n in variables))
    return out


def finish(figures: dict) -> dict:
    """ESS a second of total wall and of sampling."""
    return figures | {
        "min_ess_per_total_s": figures["min_ess_bulk"] / figures["total_s"],
        "min_ess_per_sampling_s": figures["min_ess_bulk"] / figures["sample_s"],
    }


# --------------------------------------------------------------------------- table


def table(results: dict) -> str:
    runs = results["runs"]
    columns = [(k, label) for k, label in (
        ("returnmodels", "returnmodels, all cases"),
        ("glmer", "glmer (Laplace), all cases"),
        ("returnmodels_subsample", "returnmodels, subsample"),
        ("stan_subsample", "Stan, subsample"),
    ) if k in runs]  # fmt: skip
    lines = ["| | " + " | ".join(label for _, label in columns) + " | truth |",
             "|---|" + "---:|" * (len(columns) + 1)]  # fmt: skip
    truth = results["truth"]

    def cell(run: dict, key: str) -> str:
        if not run.get("finished"):
            return "stopped" if "stopped_after_s" in run else "failed"
        value = run.get(key)
        if isinstance(value, dict):
            if "hdi_94" in value:
                return f"{value['mean']:.3f} ({value['hdi_94'][0]:.3f} to {value['hdi_94'][1]:.3f})"
            se = f" (SE {value['se']:.3f})" if "se" in value else ""
            return f"{value['estimate']:.3f}{se}"
        return _fmt(value)

    rows = [
        ("cases", "n_cases", ""), ("total wall s", "total_s", ""),
        ("compile s", "compile_s", ""), ("sampling s", "sample_s", ""),
        ("person SD", "person_sd", truth["person_sd"]),
        ("nationality SD", "nationality_sd", truth["nationality_sd"]),
        ("n_procedures slope", "slope", truth["slope_conditional"]),
        ("min bulk ESS", "min_ess_bulk", ""), ("min ESS / total s", "min_ess_per_total_s", ""),
        ("max R-hat", "max_rhat", ""), ("divergences", "divergences", ""),
        ("gradient steps a draw", "steps_per_draw", ""),
    ]  # fmt: skip
    for label, key, true in rows:
        cells = [cell(runs[k], key) for k, _ in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {true} |")
    for name, ratio in results["ratios"].items():
        text = ", ".join(f"{k} {v:.2f}x" for k, v in ratio.items() if isinstance(v, float))
        unfinished = " (peer not finished)" if ratio.get("not_finished") else ""
        lines.append(f"\n{name}: {text}{unfinished}")
    return "\n".join(lines)


def _fmt(value) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


if __name__ == "__main__":
    sys.exit(main())

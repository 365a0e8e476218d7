"""The study model with persons: Stan's embedded Laplace beside returnmodels, by size.

    .venv/bin/python benchmarks/persons_laplace.py [--sizes 1000 2000] [--timeout 600]

``assisted ~ n_procedures + cooperation + (1 | nationality) + (1 | person_id)`` on
subsamples of whole persons of the bundled cases (``persons.py``'s ``subsample``: persons
in a fixed random order, seed 24, all their cases kept, until about the size asked; at
least 1,000 cases, since below 500 persons returnmodels samples the person effects
instead of integrating them, and refuses them as nearly a level a case).
returnmodels integrates the person intercepts out exactly, by 30-node Gauss-Hermite
quadrature; ``persons_laplace.stan`` integrates them out by Stan's embedded Laplace
approximation (``laplace_marginal``, Stan 2.37+), the approximation glmer makes with
``nAGQ = 1``, inside NUTS over the rest. The program writes that marginal four ways
(``VARIANTS``): three as Stan's documentation suggests, over one dense covariance of
all persons (or cases), and one that calls ``laplace_marginal`` once a person. For each
size:

1. a probe (its own process): the program's log density and its gradient at one fixed
   point (coefficients 0, both SDs 1, nationality effects 0), timed, for each variant
   of ``--probe-variants`` (the dense ones only up to ``--dense-max-cases``), with the
   process's peak memory: the values must agree, and the gradient's cost says where the
   dense covariance bites;
2. Stan with the embedded Laplace (``--variant``), 4 chains x (``--tune`` + ``--draws``),
   stopped after ``--timeout`` seconds and recorded as not finished. The httpstan cache is
   used as found (its compile time and state are recorded); stored fits of the program
   are removed first, since httpstan would return them for the same seed instead of
   sampling;
3. returnmodels on the same cases, its defaults (4 chains x 1000 + 1000).

Once a Stan fit does not finish, no larger size is tried. Min bulk ESS and max R-hat are
over the parameters both samplers have: the coefficients, both SDs and the nationality
effects. Each fit runs in its own fresh process (``persons.py``'s pattern; its
functions are imported, not copied). Writes ``benchmarks/results-persons-laplace.json``
(stamped as ``persons.py`` stamps) and prints its Markdown tables.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402  (T0 first: a worker's wall time counts from its start)
import datetime  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
PROGRAM = HERE / "persons_laplace.stan"
SIZES = (1000, 2000, 4000, 12000)
VARIANTS = {
    1: "laplace_marginal, one latent a person, covariance sigma_p^2 I",
    2: "laplace_marginal, one latent a person, non-centred (covariance I)",
    3: "laplace_marginal_bernoulli_logit_lpmf, one latent a case",
    4: "laplace_marginal once a person (1 x 1 covariance)",
}
DENSE = (1, 2, 3)  # a K x K or N x N matrix factored at every Newton step
RM_SAMPLING = {"draws": 1000, "tune": 1000}  # returnmodels' defaults


def load_persons():
    """``persons.py`` as a module, without putting this folder on ``sys.path`` (its
    ``stan.py`` would shadow pystan's ``stan``)."""
    spec = importlib.util.spec_from_file_location("persons", HERE / "persons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


persons = load_persons()


# --------------------------------------------------------------------------- driver


def run_stan_worker(tag: str, mode: str, folder: Path, options: list, timeout: float) -> dict:
    """A probe or a fit of the Stan program in a fresh process (``-P``: this folder off
    ``sys.path``)."""
    out = folder / f"{tag}.json"
    command = [sys.executable, "-P", str(Path(__file__).resolve()), "--worker", mode,
               "--folder", str(folder), "--result", str(out), *options]  # fmt: skip
    status = persons.run_process(tag, command, timeout)
    figures = json.loads(out.read_text()) if status["finished"] else {}
    return figures | status


def probe_size(folder: Path, args, n_cases: int) -> dict:
    """The probe of every variant asked for at this size (the dense ones only up to
    ``--dense-max-cases``)."""
    probes = {}
    for variant in args.probe_variants:
        if variant in DENSE and n_cases > args.dense_max_cases:
            probes[str(variant)] = {"skipped": f"over --dense-max-cases {args.dense_max_cases}"}
            continue
        options = ["--variant", str(variant), "--repeats", str(args.repeats)]
        probes[str(variant)] = run_stan_worker(f"probe_{variant}", "probe", folder, options,
                                               args.probe_timeout)  # fmt: skip
    return probes


def fit_size(folder: Path, args) -> dict:
    """Stan with the embedded Laplace, then returnmodels, on the cases of ``folder``."""
    options = ["--variant", str(args.variant), "--draws", str(args.draws),
               "--tune", str(args.tune)]  # fmt: skip
    stan_run = run_stan_worker("stan_laplace", "fit", folder, options, args.timeout)
    sub = folder / "subsample.parquet"
    ours = persons.run_worker("returnmodels", "returnmodels", folder, sub, RM_SAMPLING,
                              args.timeout)  # fmt: skip
    return {"stan_laplace": stan_run, "returnmodels": ours}


def earlier_probes(path: Path) -> dict:
    """The probes of an earlier (probes only) run, with its stamp."""
    earlier = json.loads(path.read_text())
    sizes = [{k: e[k] for k in ("subsample", "probe")} for e in earlier["sizes"]]
    return {"file": path.name, "environment": earlier["environment"], "sizes": sizes}


def add_profile(args) -> int:
    """``worker_profile`` at the first size, added to the results file ``--out``."""
    out = Path(args.out)
    results = json.loads(out.read_text())
    with tempfile.TemporaryDirectory(prefix="bench-laplace-profile-") as tmp:
        folder = Path(tmp)
        sub = persons.subsample(folder, args.sizes[0])
        persons.write_stan_input(folder)
        options = ["--variant", str(args.variant), "--draws", str(args.draws),
                   "--tune", str(args.tune)]  # fmt: skip
        run = run_stan_worker("profile", "profile", folder, options, args.timeout)
    results["laplace_vs_exact"] = {"subsample": sub, "environment": persons.environment(),
                                   **run}  # fmt: skip
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(tables(results))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=str(HERE / "results-persons-laplace.json"))
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--timeout", type=float, default=600.0, help="a fit's limit, s")
    parser.add_argument("--probe-timeout", type=float, default=300.0)
    parser.add_argument("--probe-variants", type=int, nargs="*", default=sorted(VARIANTS))
    parser.add_argument("--dense-max-cases", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5, help="gradients timed a probe")
    parser.add_argument("--variant", type=int, choices=sorted(VARIANTS), default=4,
                        help="the program's variant that is fitted")  # fmt: skip
    parser.add_argument("--draws", type=int, default=persons.DRAWS, help="Stan's")
    parser.add_argument("--tune", type=int, default=persons.TUNE, help="Stan's")
    parser.add_argument("--skip-fits", action="store_true", help="probes only")
    parser.add_argument("--include-probes", nargs="*", default=[], metavar="RESULTS",
                        help="earlier probes-only results whose probes to keep")  # fmt: skip
    parser.add_argument("--print", metavar="RESULTS", help="print the tables of a results file")
    parser.add_argument("--profile", action="store_true",
                        help="add to --out the Laplace-versus-exact profile at --sizes[0] "
                        "(one chain of --tune + --draws) and stop")  # fmt: skip
    parser.add_argument("--worker", choices=["probe", "fit", "profile"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.print:
        print(tables(json.loads(Path(args.print).read_text())))
        return 0
    if args.worker:
        folder = Path(args.folder)
        if args.worker == "probe":
            figures = worker_probe(folder, args.variant, args.repeats)
        elif args.worker == "profile":
            figures = worker_profile(folder, args.variant, args.draws, args.tune)
        else:
            figures = persons.finish(worker_fit(folder, args.variant, args.draws, args.tune))
        figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        Path(args.result).write_text(json.dumps({"variant": args.variant, **figures}, indent=2))
        return 0
    if args.profile:
        return add_profile(args)
    uptake = json.loads(persons.TRUTH.read_text())["parameters"]["uptake"]
    results: dict = {
        "environment": persons.environment(),
        "formula": persons.FORMULA,
        "variants": VARIANTS,
        "fitted_variant": args.variant,
        "sampling": {
            "chains": persons.CHAINS,
            "seed": persons.SEED,
            "stan": {"tune": args.tune, "draws": args.draws},
            "returnmodels": RM_SAMPLING,
        },  # fmt: skip
        "timeout_s": args.timeout,
        "truth": {
            "person_sd": uptake["person_sigma"],
            "slope_conditional": uptake["n_procedures"],
            "nationality_sd": uptake["nationality_sigma"],
        },  # fmt: skip
        "sizes": [],
        "earlier_probes": [earlier_probes(Path(path)) for path in args.include_probes],
    }
    for n_cases in args.sizes:
        with tempfile.TemporaryDirectory(prefix=f"bench-laplace-{n_cases}-") as tmp:
            folder = Path(tmp)
            entry = {"asked": n_cases, "subsample": persons.subsample(folder, n_cases)}
            entry["stan_input"] = persons.write_stan_input(folder)
            entry["probe"] = probe_size(folder, args, n_cases)
            if not args.skip_fits:
                entry["runs"] = fit_size(folder, args)
            results["sizes"].append(entry)
            Path(args.out).write_text(json.dumps(results, indent=2) + "\n")  # as it goes
            if not args.skip_fits and not entry["runs"]["stan_laplace"]["finished"]:
                results["stopped_at_cases"] = entry["subsample"]["n_cases"]
                break
    results["finished"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    results["load_avg_end"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(tables(results))
    return 0


# --------------------------------------------------------------------------- workers


def stan_payload(folder: Path, variant: int) -> dict:
    """``persons.write_stan_input``'s design as the program's data."""
    import numpy as np

    with np.load(folder / "stan.npz") as arrays:
        X, y, nationality, person = (arrays[k] for k in ("X", "y", "nationality", "person"))
    return {"N": X.shape[0], "P": X.shape[1], "J": int(nationality.max()),
            "K": int(person.max()), "X": X, "y": y, "nationality": nationality,
            "person": person, "variant": variant}  # fmt: skip


def build(folder: Path, variant: int) -> tuple:
    """The program built for ``folder``'s data: the model, whether httpstan had it, the
    build's seconds."""
    payload = stan_payload(folder, variant)
    return (*persons.build_stan(PROGRAM.read_text(), payload), payload)


def worker_probe(folder: Path, variant: int, repeats: int) -> dict:
    """Log density and gradient at one point, timed: coefficients 0, log SDs 0 (SDs 1),
    nationality z's 0."""
    model, cache, compile_s, payload = build(folder, variant)
    point = [0.0] * (payload["P"] + 2 + payload["J"])
    started = time.perf_counter()
    log_density = model.log_prob(point)
    log_prob_s = time.perf_counter() - started
    seconds, gradient = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        gradient = model.grad_log_prob(point)
        seconds.append(time.perf_counter() - started)
    return {
        "n_cases": payload["N"], "n_persons": payload["K"], "compile_s": compile_s,
        "compile_cache": cache, "log_density": log_density, "log_prob_s": log_prob_s,
        "grad_s_median": statistics.median(seconds), "grad_s": seconds,
        "grad_sigma_person": gradient[payload["P"] + 1],
    }  # fmt: skip


def worker_fit(folder: Path, variant: int, n_draws: int, tune: int) -> dict:
    """The embedded-Laplace program sampled by NUTS; figures as ``persons.py``'s Stan
    worker reports them."""
    import arviz as az  # noqa: F401  (imported before the clock: persons.summarise uses it)

    imported = time.perf_counter()
    model, cache, compile_s, payload = build(folder, variant)
    built = time.perf_counter()
    fit, removed, sample_s = persons.sample_fresh(model, n_draws, tune)
    removing_s = time.perf_counter() - built - sample_s

    draws = persons.stan_draws(fit, n_draws)
    posterior = persons.stan_posterior(draws)
    finished = time.perf_counter()
    figures = {
        "import_s": imported - T0,
        "compile_s": compile_s,
        "compile_cache": cache,
        "sample_s": sample_s,
        "total_s": finished - T0 - removing_s,  # not the removal of old fits
        "n_cases": payload["N"],
        "n_persons": payload["K"],
        "draws": n_draws,
        "tune": tune,
        "steps_per_draw": float(draws("n_leapfrog__").mean()),
        "divergences": int(draws("divergent__").sum()),
        "max_treedepth": int(draws("treedepth__").max()),
        "stored_fits_removed": removed,
    }
    names = {"person_sd": "person_id_sigma", "nationality_sd": "nationality_sigma",
             "slope": "n_procedures"}  # fmt: skip
    return figures | persons.summarise(posterior, list(posterior.data_vars), names)


def worker_profile(folder: Path, variant: int, n_draws: int, tune: int) -> dict:
    """Where the embedded-Laplace fit goes and why: one short chain, then at its posterior
    means the log likelihood of the cases against sigma_p (the rest held), as Stan's
    embedded Laplace computes it (its log density less the program's priors, which drop
    constants as its ``~`` statements do), as an independent Laplace computes it (each
    person's exact mode by bisection), and exactly (60-node Gauss-Hermite)."""
    import numpy as np

    model, _, _, payload = build(folder, variant)
    fit = model.sample(num_chains=1, num_samples=n_draws, num_warmup=tune)
    beta, z = fit["beta"].mean(axis=1), fit["z_nationality"].mean(axis=1)
    sigma_nat = float(fit["sigma_nationality"].mean())
    eta = payload["X"] @ beta + sigma_nat * z[payload["nationality"] - 1]
    y, person = payload["y"], payload["person"] - 1
    rows = []
    for sigma in sorted({0.5, 1.0, 2.0, 4.0, 10.0, float(fit["sigma_person"].mean())}):
        point = [*beta, float(np.log(sigma_nat)), float(np.log(sigma)), *z]
        priors = (-np.sum(beta**2) / (2 * 2.5**2) - sigma_nat**2 / 2 - sigma**2 / 2
                  - np.sum(z**2) / 2)  # fmt: skip
        rows.append({
            "sigma_person": sigma,
            "stan_laplace": model.log_prob(point, adjust_transform=False) - priors,
            "numpy_laplace": laplace_loglik(eta, y, person, sigma),
            "exact_gh60": exact_loglik(eta, y, person, sigma),
        })  # fmt: skip
    return {
        "chain": {"tune": tune, "draws": n_draws},
        "posterior_means": {
            "beta": beta.tolist(),
            "sigma_nationality": sigma_nat,
            "sigma_person": float(fit["sigma_person"].mean()),
        },  # fmt: skip
        "profile": rows,
    }


def laplace_loglik(eta, y, person, sigma: float) -> float:
    """log p(y | eta, sigma) by the Laplace approximation, person by person: the mode of
    each person's concave log posterior by bisection on its decreasing gradient."""
    import numpy as np
    from scipy.special import expit

    k = int(person.max()) + 1
    n = np.bincount(person, minlength=k)
    low, high = -n * sigma**2 - 1.0, n * sigma**2 + 1.0
    for _ in range(200):
        b = (low + high) / 2
        gradient = np.bincount(person, y - expit(eta + b[person]), k) - b / sigma**2
        low, high = np.where(gradient > 0, b, low), np.where(gradient > 0, high, b)
    b = (low + high) / 2
    p = expit(eta + b[person])
    w = np.bincount(person, p * (1 - p), k)
    loglik = np.sum(y * np.log(p) + (1 - y) * np.log1p(-p))
    return float(loglik - np.sum(b**2) / (2 * sigma**2) - 0.5 * np.sum(np.log1p(sigma**2 * w)))


def exact_loglik(eta, y, person, sigma: float, nodes: int = 60) -> float:
    """log p(y | eta, sigma), each person's intercept integrated by Gauss-Hermite."""
    import numpy as np

    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    linear = eta[:, None] + sigma * x[None, :]
    per_case = y[:, None] * linear - np.logaddexp(0, linear)
    per_person = np.zeros((int(person.max()) + 1, nodes))
    np.add.at(per_person, person, per_case)
    top = per_person.max(axis=1, keepdims=True)
    weights = w / np.sqrt(2 * np.pi)
    return float(np.sum(top[:, 0] + np.log(np.exp(per_person - top) @ weights)))


# --------------------------------------------------------------------------- tables


def tables(results: dict) -> str:
    """The probe's table and the fits' table, Markdown."""
    lines = ["| cases | persons | variant | log density | gradient ms | peak RSS MiB |",
             "|---:|---:|---|---:|---:|---:|"]  # fmt: skip
    earlier = [e for run in results.get("earlier_probes", []) for e in run["sizes"]]
    for entry in earlier + results["sizes"]:
        sub = entry["subsample"]
        for variant, probe in entry["probe"].items():
            if "skipped" in probe:
                continue
            if not probe.get("finished"):
                cells = ["stopped" if "stopped_after_s" in probe else "failed", "-", "-"]
            else:
                cells = [f"{probe['log_density']:.4f}", f"{probe['grad_s_median'] * 1e3:,.1f}",
                         f"{probe['peak_rss_mib']:,.0f}"]  # fmt: skip
            lines.append(f"| {sub['n_cases']:,} | {sub['n_persons']:,} | {variant} | "
                         + " | ".join(cells) + " |")  # fmt: skip
    truth = results["truth"]
    lines += ["", f"truth: person SD {truth['person_sd']}, nationality SD "
              f"{truth['nationality_sd']}, slope {truth['slope_conditional']}", "",
              "| cases | persons | engine | total s | sampling s | person SD | nationality SD "
              "| slope | min bulk ESS | max R-hat | steps a draw | divergences |",
              "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for entry in results["sizes"]:
        sub = entry["subsample"]
        for tag, label in (("stan_laplace", "Stan, embedded Laplace"),
                           ("returnmodels", "returnmodels")):  # fmt: skip
            run = entry.get("runs", {}).get(tag)
            if run is None:
                continue
            head = f"| {sub['n_cases']:,} | {sub['n_persons']:,} | {label} | "
            if not run.get("finished"):
                why = (f"stopped after {run['stopped_after_s']:.0f} s"
                       if "stopped_after_s" in run else "failed")  # fmt: skip
                lines.append(head + why + " |" + " - |" * 8)
                continue
            cells = [f"{run['total_s']:,.1f}", f"{run['sample_s']:,.1f}",
                     *(_interval(run[k]) for k in ("person_sd", "nationality_sd", "slope")),
                     f"{run['min_ess_bulk']:,.0f}", f"{run['max_rhat']:.3f}",
                     f"{run['steps_per_draw']:.1f}", f"{run['divergences']}"]  # fmt: skip
            lines.append(head + " | ".join(cells) + " |")
    profile = results.get("laplace_vs_exact")
    if profile and profile.get("finished"):
        means = profile["posterior_means"]
        lines += ["", f"log likelihood against sigma_p at one chain's posterior means "
                  f"({profile['subsample']['n_cases']:,} cases; intercept "
                  f"{means['beta'][0]:.2f}, slope {means['beta'][1]:.3f}):", "",
                  "| sigma_p | Stan embedded Laplace | Laplace (numpy) | exact (GH 60) |",
                  "|---:|---:|---:|---:|"]  # fmt: skip
        for row in profile["profile"]:
            lines.append(f"| {row['sigma_person']:.2f} | {row['stan_laplace']:.1f} | "
                         f"{row['numpy_laplace']:.1f} | {row['exact_gh60']:.1f} |")  # fmt: skip
    return "\n".join(lines)


def _interval(value: dict) -> str:
    low, high = value["hdi_94"]
    return f"{value['mean']:.3f} ({low:.3f} to {high:.3f})"


if __name__ == "__main__":
    sys.exit(main())

"""Measure one fit in a fresh process and print its figures as JSON (used by run.py).

    python benchmarks/measure.py returnmodels DATA [--rows N] [--seed S] [--fit-seed F]
                                 [--intercept-sigma W] [--refit] [--flip K]
    python benchmarks/measure.py bambi DATA [--rows N] [--seed S] [--fit-seed F]
                                 [--intercept-sigma W]

Both engines fit the same model to the same rows: assisted return on n_procedures,
cooperation, closing year, gender, age group and family, with nationality random
intercepts (returnmodels' ``group_predictors``; bambi's
``assisted ~ n_procedures + cooperation + C(closing_year) + gender + age_group + family
+ (1|nationality)``). Times are wall seconds; memory is the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

T0 = time.perf_counter()

FORMULA = (
    "assisted ~ n_procedures + cooperation + C(closing_year) + gender + age_group + family"
    " + (1|nationality)"
)
DRAWS = TUNE = 1000
CHAINS = 4


def _rows(path: str, rows: int | None, seed: int, flip: int = 0):
    from returnmodels.data.validation import load_cases

    cases = load_cases(path)
    if rows and rows < len(cases):
        cases = cases.sample(n=rows, random_state=seed).sort_index()
    if flip:  # other data of the same shape: `flip` assisted returns of the largest group
        largest = cases["nationality"].value_counts().index[0]
        assisted = (cases["nationality"] == largest) & (cases["outcome"] == "assisted_return")
        cases = cases.copy()
        cases.loc[cases.index[assisted][:flip], "outcome"] = "unsupervised_departure"
    return cases


def _posterior_figures(posterior, keep) -> dict:
    import arviz as az
    import numpy as np

    names = [name for name in posterior.data_vars if keep(name)]
    ess = az.ess(posterior[names], method="bulk")
    rhat = az.rhat(posterior[names])
    return {
        "min_ess_bulk": float(min(np.min(ess[n].values) for n in names)),
        "max_rhat": float(max(np.max(rhat[n].values) for n in names)),
    }


def _shared_means(posterior, names: dict) -> dict:
    """Posterior mean and Monte Carlo SE of the parameters both engines share."""
    import arviz as az

    out = {}
    for label, (variable, selection) in names.items():
        draws = posterior[variable].sel(selection) if selection else posterior[variable]
        out[label] = {
            "mean": float(draws.mean()),
            "sd": float(draws.std()),
            "mcse": float(az.mcse(draws.to_dataset(name="x"))["x"]),
        }
    return out


def measure_returnmodels(args) -> dict:
    started = time.perf_counter()
    from returnmodels.inference.fit import fit

    imported = time.perf_counter()
    cases = _rows(args.data, args.rows, args.seed, args.flip)
    loaded = time.perf_counter()
    columns = None
    if args.predictors:  # e.g. the main job's study model: n_procedures only
        from returnmodels.models import column_spec

        columns = column_spec(predictors=args.predictors.split(","))
    priors = None
    if args.intercept_sigma:  # both engines put their intercept prior at a different place
        priors = {"intercept": {"dist": "Normal", "mu": 0.0, "sigma": args.intercept_sigma}}
    result = fit(cases, "group_predictors", columns=columns, priors=priors, draws=DRAWS,
                 tune=TUNE, chains=CHAINS, random_seed=args.fit_seed)  # fmt: skip
    finished = time.perf_counter()
    timings = json.loads(result.attrs["returnmodels_timings"])
    figures = {
        "import_s": imported - started + (started - T0),
        "load_s": loaded - imported,
        "build_s": timings["build_s"],
        "compile_s": timings.get("compile_s", 0.0),
        "sample_s": timings["compile_and_sample_s"] - timings.get("compile_s", 0.0),
        "total_s": finished - T0,
        "n_rows": len(cases),
        "n_cells": int(result["constant_data"].sizes.get("cell", 0)),
        "divergences": int(result["sample_stats"]["diverging"].sum()),
        "steps_per_draw": float(result["sample_stats"]["n_steps"].mean()),
        "compile_cache": json.loads(result.attrs["returnmodels_sampler"]).get("compile_cache"),
    }
    posterior = result["posterior"].to_dataset()
    figures |= _posterior_figures(posterior, lambda n: not n.endswith("_centred"))
    figures["shared"] = _shared_means(
        posterior,
        {
            "n_procedures": ("n_procedures", None),
            "nationality_sigma": ("nationality_sigma", None),
            "cooperation[high]": ("cooperation", {"cooperation_level": "high"}),
        },
    )
    if args.refit:  # warm: the same structure again, another seed
        again = time.perf_counter()
        refit = fit(cases, "group_predictors", columns=columns, priors=priors, draws=DRAWS,
                    tune=TUNE, chains=CHAINS, random_seed=args.fit_seed + 1)  # fmt: skip
        warm = json.loads(refit.attrs["returnmodels_timings"])
        figures["warm_build_compile_s"] = warm["build_s"] + warm.get("compile_s", 0.0)
        figures["warm_total_s"] = time.perf_counter() - again
    return figures


def measure_bambi(args) -> dict:
    started = time.perf_counter()
    import bambi as bmb

    imported = time.perf_counter()
    cases = _rows(args.data, args.rows, args.seed)
    frame = cases.assign(assisted=(cases["outcome"] == "assisted_return").astype(int))
    frame = frame.assign(family=frame["family"].astype(int))
    loaded = time.perf_counter()
    # returnmodels' default priors (N(0, 2.5) coefficients, HalfNormal(1) nationality SD),
    # so that "same posterior" compares the same model, not two sets of default priors.
    common = bmb.Prior("Normal", mu=0.0, sigma=2.5)
    group = bmb.Prior("Normal", mu=0.0, sigma=bmb.Prior("HalfNormal", sigma=1.0))
    intercept = common
    if args.intercept_sigma:
        intercept = bmb.Prior("Normal", mu=0.0, sigma=args.intercept_sigma)
    priors = {"common": common, "Intercept": intercept, "1|nationality": group}
    if args.bambi_default_priors:
        priors = None
    model = bmb.Model(FORMULA, frame, family="bernoulli", priors=priors)
    model.build()
    built = time.perf_counter()
    idata = model.fit(draws=DRAWS, tune=TUNE, chains=CHAINS, cores=2, random_seed=args.fit_seed,
                      progressbar=False)  # fmt: skip
    finished = time.perf_counter()
    posterior = idata["posterior"].to_dataset() if hasattr(idata, "children") else idata.posterior
    stats = idata["sample_stats"] if hasattr(idata, "children") else idata.sample_stats
    figures = {
        "import_s": imported - started + (started - T0),
        "load_s": loaded - imported,
        "build_s": built - loaded,
        "compile_s": None,  # bambi compiles inside fit: counted in sample_s
        "sample_s": finished - built,
        "total_s": finished - T0,
        "n_rows": len(frame),
        "n_cells": None,
        "divergences": int(stats["diverging"].sum()),
        "steps_per_draw": float(stats["n_steps"].mean()),
    }
    figures |= _posterior_figures(posterior, lambda n: n != "p")
    coop = [d for d in posterior["cooperation"].dims if d not in ("chain", "draw")][0]
    figures["shared"] = _shared_means(
        posterior,
        {
            "n_procedures": ("n_procedures", None),
            "nationality_sigma": ("1|nationality_sigma", None),
            "cooperation[high]": ("cooperation", {coop: "high"}),
        },
    )
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("engine", choices=["returnmodels", "bambi"])
    parser.add_argument("data")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1, help="rows drawn with --rows")
    parser.add_argument("--fit-seed", type=int, default=None, help="sampler seed (--seed)")
    parser.add_argument("--refit", action="store_true", help="returnmodels: time a warm refit")
    parser.add_argument(
        "--flip", type=int, default=0,
        help="close this many assisted returns of the largest group otherwise (same shape)",
    )  # fmt: skip
    parser.add_argument(
        "--predictors", default=None, help="returnmodels: case-level predictors, comma-separated"
    )
    parser.add_argument(
        "--bambi-default-priors", action="store_true", help="bambi: its own default priors"
    )
    parser.add_argument(
        "--intercept-sigma", type=float, default=None,
        help="both: Normal(0, this) intercept prior instead of Normal(0, 2.5)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.fit_seed = args.seed if args.fit_seed is None else args.fit_seed
    measure = measure_returnmodels if args.engine == "returnmodels" else measure_bambi
    figures = measure(args)
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["min_ess_per_sampling_s"] = figures["min_ess_bulk"] / figures["sample_s"]
    figures["min_ess_per_total_s"] = figures["min_ess_bulk"] / figures["total_s"]
    json.dump({"engine": args.engine, **figures}, sys.stdout, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

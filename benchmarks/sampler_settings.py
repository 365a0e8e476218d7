"""Sampler settings side by side on one model: nutpie adaptations and centring thresholds.

    python benchmarks/sampler_settings.py group_predictors --adaptation low_rank diag
    python benchmarks/sampler_settings.py group_predictors --centring 1e9 4 1
    python benchmarks/sampler_settings.py competing_outcomes --predictors n_procedures \\
        --stage 1 --adaptation low_rank diag

Builds the model's term table on the bundled data (``--predictors`` as the main job's
study model, default every case-level predictor; ``--stage`` picks a stage of the
competing-outcomes family), compiles it on the formula engine once per centring
threshold (:data:`returnmodels.engine.policy.CENTRING_INFORMATION`; ``1e9`` = every
group non-centred; smaller values centre the levels whose data pin them down) and
samples it with nutpie, 4 chains x (``--tune`` + ``--draws``) on the machine's cores,
for each adaptation. Prints one JSON line per combination: sampling seconds, gradient
steps in tuning and in the draws, minimum bulk ESS (and where), maximum R-hat,
divergences, parameters. Used for the "Round 2" table of ``benchmarks/README.md``
(measured then on the registered models' PyMC builders, since removed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "cases.parquet"


def run(args) -> None:
    import arviz as az
    import nutpie

    import returnmodels.engine.policy as policy
    from returnmodels.data.validation import load_cases
    from returnmodels.engine.callbacks import compile_formula_model
    from returnmodels.inference.fit import engine_design
    from returnmodels.models import column_spec

    spec = column_spec(predictors=args.predictors.split(",")) if args.predictors else None
    cases = load_cases(args.data)
    for threshold in args.centring:
        policy.CENTRING_INFORMATION = threshold  # read when the engine's inputs are made
        stage = engine_design(cases, args.model, columns=spec)[args.stage]
        compiled = compile_formula_model(stage)
        for adaptation in args.adaptation:
            started = time.perf_counter()
            trace = nutpie.sample(compiled, draws=args.draws, tune=args.tune, chains=4,
                                  seed=args.seed, adaptation=adaptation, save_warmup=True,
                                  progress_bar=False)  # fmt: skip
            seconds = time.perf_counter() - started
            posterior = trace["posterior"].to_dataset()
            names = list(posterior.data_vars)
            ess = az.ess(posterior[names], method="bulk")
            rhat = az.rhat(posterior[names])
            worst = min((float(ess[n].min()), n) for n in names)
            line = {
                "model": args.model, "stage": args.stage, "centring": threshold,
                "adaptation": adaptation, "n_dim": int(compiled.n_dim),
                "sampling_s": round(seconds, 1),
                "tuning_steps": int(trace["warmup_sample_stats"]["n_steps"].sum()),
                "draw_steps": int(trace["sample_stats"]["n_steps"].sum()),
                "min_ess_bulk": round(worst[0]), "min_ess_at": worst[1],
                "max_rhat": round(max(float(rhat[n].max()) for n in names), 4),
                "divergences": int(trace["sample_stats"]["diverging"].sum()),
            }  # fmt: skip
            print(json.dumps(line), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--predictors", default=None, help="comma-separated; default all")
    parser.add_argument("--stage", type=int, default=0, help="staged models: which stage")
    parser.add_argument("--adaptation", nargs="+", default=["low_rank", "diag"])
    parser.add_argument("--centring", nargs="+", type=float, default=[4.0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``returnmodels simulate``: synthetic case files with their truth file."""

from __future__ import annotations

import argparse

from returnmodels.data.validation import format_summary, summarise_cases
from returnmodels.files import sha256_file
from returnmodels.simulate import (
    DEFAULT_N_CASES,
    DEFAULT_PERSON_SIGMA,
    DEFAULT_SEED,
    simulate_cases,
    write_simulation,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="generate synthetic case files from the known, calibrated model",
        description=(
            "Generate synthetic case files in the data contract, with the true parameters "
            "written as JSON beside them (<name>.truth.json). The same seed and size give "
            "byte-identical files. The defaults regenerate the bundled data set."
        ),
    )
    parser.add_argument("--out", required=True, help="output file, .parquet or .csv")
    parser.add_argument("--n-cases", type=int, default=DEFAULT_N_CASES, help="number of cases")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--person-sd",
        type=float,
        default=DEFAULT_PERSON_SIGMA,
        help=(
            f"SD of a person frailty on the uptake logit (default {DEFAULT_PERSON_SIGMA:g}, "
            "the bundled data's; 0: none): the cases of a person share it; the figures "
            "stay calibrated, population-averaged over it"
        ),
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    simulation = simulate_cases(
        n_cases=args.n_cases, random_seed=args.seed, person_sigma=args.person_sd
    )
    for path in write_simulation(simulation, args.out):
        print(f"wrote {path}  sha256 {sha256_file(path)}")
    print(format_summary(summarise_cases(simulation.cases)))
    return 0

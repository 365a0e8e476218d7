"""``returnmodels run``: the project's main job on the bundled data."""

from __future__ import annotations

import argparse

from returnmodels.mainjob import DEFAULT_DATA, DEFAULT_RESULTS, run_main_job


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the main job: validate and summarise the data, write results",
        description=(
            "Run the main job on the bundled data (or --data): validate the case file "
            "against the contract and write its summary tables to the results folder."
        ),
    )
    parser.add_argument("--data", default=DEFAULT_DATA, help=f"case file (default {DEFAULT_DATA})")
    parser.add_argument(
        "--out", default=DEFAULT_RESULTS, help=f"results folder (default {DEFAULT_RESULTS})"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    written = run_main_job(args.data, args.out)
    for path in written:
        print(f"wrote {path}")
    return 0

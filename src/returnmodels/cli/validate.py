"""``returnmodels validate PATH``: check a case file against the contract and summarise it.

A valid file prints a short summary and exits 0. An invalid one raises
:class:`~returnmodels.data.validation.ContractError`, which the command turns into one message
on stderr listing every problem, and exit status 2.
"""

from __future__ import annotations

import argparse

from returnmodels.data.validation import format_summary, load_cases, summarise_cases

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``validate`` sub-command to the ``returnmodels`` parser."""
    parser = subparsers.add_parser(
        "validate",
        help="check a case file against the data contract and summarise it",
        description=(
            "Check a case file (.csv, .csv.gz, .parquet, .pq) against the data contract. "
            "A valid file prints a summary; an invalid one lists every problem found "
            "(column, row, value, what was expected) and exits with status 2."
        ),
    )
    parser.add_argument("path", metavar="PATH", help="the case file")
    parser.add_argument(
        "--nationality-table",
        metavar="PATH",
        default=None,
        help="a table of nationality, cooperation (and optionally region) that supplies "
        "cooperation where the case file lacks it, and must agree with it where it has it",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load and validate ``args.path``; print the summary."""
    cases = load_cases(args.path, nationality_table=args.nationality_table)
    print(f"{args.path}: valid case file")
    print(format_summary(summarise_cases(cases)))
    return 0

"""``returnmodels aggregate``: collapse case rows into binomial cells."""

from __future__ import annotations

import argparse

from returnmodels.data.cells import CELL_COLUMNS, aggregate_cells
from returnmodels.data.validation import load_cases
from returnmodels.files import write_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "aggregate",
        help="collapse case rows into binomial cells (n_cases, n_assisted)",
        description=(
            "Validate a case file and collapse it into one row per combination of the "
            "given columns, with n_cases and n_assisted. Every total is conserved."
        ),
    )
    parser.add_argument("data", metavar="PATH", help="case file (.csv or .parquet)")
    parser.add_argument("--out", required=True, help="output file, .csv or .parquet")
    parser.add_argument(
        "--by",
        default=",".join(CELL_COLUMNS),
        help=f"comma-separated columns (default: {','.join(CELL_COLUMNS)})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cells = aggregate_cells(load_cases(args.data), [c for c in args.by.split(",") if c])
    write_table(cells, args.out)
    print(f"wrote {args.out}: {len(cells)} cells, {int(cells['n_cases'].sum())} cases")
    return 0

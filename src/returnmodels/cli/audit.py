"""``returnmodels audit RESULTS_DIR``: check a results folder against the disclosure rules.

A clean folder prints a short report and exits 0; otherwise every finding is printed
(file, location, value, rule) and the exit status is 1. Bad options exit 2.
"""

from __future__ import annotations

import argparse

from returnmodels.disclosure import CASE_ID_PATTERN, DEFAULT_RULES, DisclosureRules
from returnmodels.disclosure.audit import audit_results

__all__ = ["add_rule_options", "register", "rules_of", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``audit`` sub-command to the ``returnmodels`` parser."""
    parser = subparsers.add_parser(
        "audit",
        help="check a results folder for outputs that break the disclosure rules",
        description=(
            "Check every file under RESULTS_DIR (CSV, notebooks, HTML, JSON, logs, NetCDF, "
            "PNG) for small or unrounded counts, case identifiers, case-level rows, outputs "
            "without their disclosure mark and internal files (a posterior with its data "
            "groups); any other kind of file is refused as unchecked. Exit 0 when the "
            "folder is safe to release, 1 with every finding otherwise."
        ),
    )
    parser.add_argument("results_dir", metavar="RESULTS_DIR", help="the folder to audit")
    add_rule_options(parser)
    parser.add_argument(
        "--exempt",
        metavar="DIR",
        action="append",
        default=[],
        help="a folder under RESULTS_DIR whose CSVs need no marker (content still checked); "
        "may be repeated",
    )
    parser.set_defaults(func=run)


def add_rule_options(parser: argparse.ArgumentParser) -> None:
    """The disclosure rules' options, shared by ``audit`` and ``release``."""
    parser.add_argument(
        "--min-cases",
        type=int,
        default=DEFAULT_RULES.min_cases,
        help="the minimum number of cases behind a published count (default: %(default)s)",
    )
    parser.add_argument(
        "--rounding-base",
        type=int,
        default=DEFAULT_RULES.rounding_base,
        help="published counts must be multiples of this (default: %(default)s)",
    )
    parser.add_argument(
        "--suppress-zeros", action="store_true", help="treat published zeros as findings too"
    )
    parser.add_argument(
        "--id-pattern",
        default=CASE_ID_PATTERN,
        help="regular expression of case and person identifiers (default: %(default)s)",
    )


def rules_of(args: argparse.Namespace) -> DisclosureRules:
    """The rules the options name."""
    return DisclosureRules(
        min_cases=args.min_cases,
        rounding_base=args.rounding_base,
        suppress_zeros=args.suppress_zeros,
    )


def run(args: argparse.Namespace) -> int:
    """Audit ``args.results_dir``; print the report; 0 if clean, 1 otherwise."""
    report = audit_results(
        args.results_dir, rules_of(args), exempt=args.exempt, id_pattern=args.id_pattern
    )
    print(report.format())
    return 0 if report.clean else 1

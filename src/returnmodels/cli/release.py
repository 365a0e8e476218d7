"""``returnmodels release RESULTS_DIR --out RELEASE_DIR``: what may leave, and only that.

Copies every file of the analysis folder that passes output checking into the new
folder RELEASE_DIR, writes posteriors in their released form (no data groups), and
lists every file with the check it passed in ``release_manifest.json``. Exit 0 when
everything could be released, 1 when files were withheld (each printed with its
reasons; the release folder holds the rest), 2 on bad options.
"""

from __future__ import annotations

import argparse

from returnmodels.cli.audit import add_rule_options, rules_of
from returnmodels.disclosure.release import release_results

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``release`` sub-command to the ``returnmodels`` parser."""
    parser = subparsers.add_parser(
        "release",
        help="copy what passes output checking into a release folder, with a manifest",
        description=(
            "Check every file of RESULTS_DIR as `returnmodels audit` does; copy what "
            "passes into the new folder --out (posteriors without their data groups), "
            "withhold the rest with its reasons, and write release_manifest.json. "
            "Exit 0 when nothing was withheld, 1 otherwise."
        ),
    )
    parser.add_argument("results_dir", metavar="RESULTS_DIR", help="the analysis folder")
    parser.add_argument("--out", required=True, metavar="RELEASE_DIR", help="new release folder")
    add_rule_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Release ``args.results_dir`` into ``args.out``; print what was withheld."""
    report = release_results(args.results_dir, args.out, rules_of(args), id_pattern=args.id_pattern)
    print(report.format())
    return 1 if report.withheld else 0

"""The ``returnmodels`` command: one sub-module per sub-command.

Each sub-module exposes ``register(subparsers)`` (adds its parser and sets
``func``) and is listed in :data:`COMMANDS`. Domain errors become a one-message exit
status 2 without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module

from returnmodels import __version__
from returnmodels.errors import ReturnModelsError

__all__ = ["main", "build_parser"]

#: Sub-command modules, in the order ``returnmodels --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "validate",
    "simulate",
    "aggregate",
    "run",
    "audit",
    "release",
    "models",
    "fit",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="returnmodels",
        description="Hierarchical Bayesian models of assisted-return uptake.",
    )
    parser.add_argument("--version", action="version", version=f"returnmodels {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        import_module(f"returnmodels.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ReturnModelsError as error:
        print(f"returnmodels {args.command}: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"returnmodels {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

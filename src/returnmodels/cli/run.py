"""``returnmodels run``: execute a batch of parameterised notebooks (default: the main job)."""

from __future__ import annotations

import argparse
import sys

from returnmodels.batch.mainjob import DEFAULT_BATCH, DEFAULT_RESULTS, default_batch

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a batch of notebooks (default: the main job)",
        description=(
            "Execute the notebook runs listed in BATCH (default: the main job, "
            f"{DEFAULT_BATCH}) into OUT/<run>/, each with its executed notebook, an HTML "
            "copy, its outputs and manifest.json, and write OUT/index.html. Runs whose "
            "inputs and outputs are unchanged are skipped. Exit status 1 if any run failed."
        ),
    )
    parser.add_argument("batch", nargs="?", help=f"batch YAML file (default {DEFAULT_BATCH})")
    parser.add_argument(
        "--smoke", action="store_true", help="inject smoke=True into every notebook (fast)"
    )
    parser.add_argument(
        "--out", default=DEFAULT_RESULTS, help=f"results folder (default {DEFAULT_RESULTS}/)"
    )
    parser.add_argument("--force", action="store_true", help="rerun runs that are up to date")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://host:8786)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="runs at once (default: min(2, CPUs) locally; all worker threads on Dask)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # imported here: papermill and nbconvert take seconds to import, other commands need neither
    from returnmodels.batch import Progress, load_batch, make_executor, run_batch

    batch = load_batch(args.batch or default_batch(), smoke=args.smoke)
    executor = make_executor(args.scheduler, args.workers)
    print(f"returnmodels run: {len(batch.runs)} run(s) on {executor.description}", file=sys.stderr)
    try:
        progress = run_batch(
            batch,
            args.out,
            executor,
            smoke=args.smoke,
            force=args.force,
            progress=Progress([r.name for r in batch.runs]),
        )
    finally:
        executor.close()
    return _report(progress, args.out)


def _report(progress, out: str) -> int:
    """Say which runs failed and why, and where the index is; the exit status."""
    failed = [r for r in progress.runs.values() if r.state == "failed"]
    for run in failed:
        manifest = run.manifest or {}
        where = manifest.get("partial_notebook") or "no notebook was written"
        print(f"FAILED {run.name}: {run.note}\n  partial notebook: {where}", file=sys.stderr)
    for run in progress.runs.values():
        if run.state == "skipped" and run.note.startswith("dependency"):
            print(f"SKIPPED {run.name}: {run.note}", file=sys.stderr)
    print(f"index: {out}/index.html", file=sys.stderr)
    return 1 if failed else 0

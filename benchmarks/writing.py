"""Writing a fit's outputs against its sampling time (issue 25, item 6).

    .venv/bin/python benchmarks/writing.py [--out benchmarks/results-writing.json]
        [--fits DIR]   # keep the fits in DIR (posterior.nc each) and reuse them next time
        [--label before|after]

For the study model, the README's interaction and its crossed-interaction formula
(:data:`FORMULAS`), fitted on the bundled 118,000 cases with the default settings (4
chains x 1000 + 1000 tune): the sampling time (``compile_and_sample_s - compile_s`` of
the fit's ``returnmodels_timings``); then, in the same process, the writer that
``returnmodels fit`` and notebook 02 share (``write_fit_outputs``),
whole, into a fresh folder: the total reported against sampling, measured first as
after a fit (it pays the first-use costs: imports, font caches); then each part of it
again, timed separately in the writer's order. Notebook 02 also shows the
population-level summary and reads the margins back: the ``notebook_*`` parts, not in
the writer's total.

A reused fit (``--fits``) keeps the sampling time recorded when it was sampled, and
its ``loo`` group is dropped, so that the writer computes it as for a fresh fit.
Results go to ``--out`` (default ``benchmarks/results-writing.json``), under ``--label``,
stamped with the commit, the date and the machine.
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "cases.parquet"

#: The study model, the README's interaction (Writing a model) and its crossed-interaction
#: formula (the one ``rm.summary`` shows), with their reference levels.
FORMULAS = {
    "study": ("assisted ~ n_procedures + cooperation + (1 | nationality)", None),
    "interaction": ("assisted ~ n_procedures * cooperation + (1 | nationality)", None),
    "crossed_interaction": (
        "assisted ~ n_procedures * cooperation + (1 | nationality) + (1 | closing_year)",
        {"cooperation": "low"},
    ),
}


def stamp() -> dict:
    """Commit, date and machine of this measurement."""
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "commit": commit + ("+dirty" if dirty else ""),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_avg": os.getloadavg()[0],
    }


def sampling_seconds(result) -> float:
    timings = json.loads(result.attrs["returnmodels_timings"])
    return timings["compile_and_sample_s"] - timings.get("compile_s", 0.0)


def fitted(name: str, formula: str, reference, cases, keep: Path | None):
    """The fit of ``formula``: read from ``keep`` if it was kept there, else sampled."""
    from returnmodels.inference.fit import fit
    from returnmodels.inference.results import load_result, save_result

    path = None if keep is None else keep / f"{name}.nc"
    if path is not None and path.is_file():
        result = load_result(path)
        if "loo" in result.children:
            del result["loo"]  # a fresh fit has none: the writer computes it
        return result
    result = fit(cases, formula=formula, reference=reference, random_seed=20251, progressbar=False)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_result(result, path, log_likelihood=True)
    return result


def timed_parts(result, workdir: Path) -> dict[str, float]:
    """Seconds of each part of the writer, in its order, into a scratch folder."""
    from returnmodels.report import notebook as nb
    from returnmodels.report.run_folder import RunFolder
    from returnmodels.summaries import margins, with_verdict

    folder = RunFolder(workdir / "parts")
    parts: dict[str, float] = {}

    def clock(part, call):
        started = time.perf_counter()
        value = call()
        parts[part] = time.perf_counter() - started
        return value

    clock("posterior_nc", lambda: folder.posterior(result))
    published = clock("published_fit", lambda: nb.published_fit(result, folder.rules))
    summary = clock("summary", lambda: nb._summary_of(published).rename_axis("parameter"))
    clock(
        "summary_controlled",
        lambda: folder.table(nb.controlled_summary(summary, result, folder.rules), "summary.csv"),
    )
    table = clock("margins", lambda: with_verdict(margins(result), result))
    clock(
        "margins_controlled",
        lambda: folder.table(nb.controlled_margins(table, result, folder.rules), "margins.csv"),
    )
    clock("diagnostics", lambda: nb.write_verdict(result, folder))
    names = clock("population_parameters", lambda: nb.population_parameters(published))
    clock("rank_trace_png", lambda: nb.save_convergence_plots(published, folder, names))
    clock("manifest", lambda: nb.fit_manifest(result, None))
    clock("notebook_population_summary", lambda: population_summary(result))
    clock("notebook_read_margins", lambda: nb.read_fit_tables(folder.path))
    return parts


def population_summary(result):
    """Notebook 02's table of the population-level parameters, as its version makes it:
    the summary of those parameters alone where ``parameter_summary`` takes
    ``var_names``, else the whole summary filtered (before)."""
    from returnmodels.report import notebook as nb
    from returnmodels.summaries import parameter_summary

    population = nb.population_parameters(result)
    if "var_names" in inspect.signature(parameter_summary).parameters:
        return parameter_summary(result, var_names=population)
    summary = parameter_summary(result)
    return summary[[name.split("[")[0] in population for name in summary.index]]


def measure(name: str, formula: str, reference, cases, keep: Path | None) -> dict:
    from returnmodels.report import notebook as nb
    from returnmodels.report.run_folder import RunFolder

    started = time.perf_counter()
    result = fitted(name, formula, reference, cases, keep)
    fit_wall = time.perf_counter() - started
    sampling = sampling_seconds(result)
    with tempfile.TemporaryDirectory(prefix="rm-writing-") as scratch:
        started = time.perf_counter()  # first, as after a fit: it pays first-use costs
        nb.write_fit_outputs(result, RunFolder(Path(scratch) / "whole"))
        whole = time.perf_counter() - started
        sizes = {p.name: p.stat().st_size for p in (Path(scratch) / "whole").iterdir()}
        parts = timed_parts(result, Path(scratch))
    return {
        "name": name,
        "formula": formula,
        "reference": reference,
        "cells": int(result["observed_data"].sizes["cell"]),
        "draws": int(result["posterior"].sizes["draw"] * result["posterior"].sizes["chain"]),
        "fit_wall_s": fit_wall,
        "sampling_s": sampling,
        "write_s": whole,
        "write_pct_of_sampling": 100 * whole / sampling,
        "parts_s": parts,
        "file_bytes": sizes,
    }


def measure_cli(name: str, formula: str, reference) -> dict:
    """``returnmodels fit`` itself, in a process of its own: its manifest's timings
    (the sampling, and where the writer's time went, first-use costs included)."""
    with tempfile.TemporaryDirectory(prefix="rm-writing-cli-") as scratch:
        out = Path(scratch) / "fit"
        command = [str(ROOT / ".venv" / "bin" / "returnmodels"), "fit", "--data", str(BUNDLED)]
        command += ["--formula", formula, "--out", str(out), "--seed", "20251"]
        for column, level in (reference or {}).items():
            command += ["--reference", f"{column}={level}"]
        subprocess.run(command, check=True, capture_output=True, text=True)
        timings = json.loads((out / "fit_manifest.json").read_text())["timings"]
    sampling = timings["compile_and_sample_s"] - timings.get("compile_s", 0.0)
    return {
        "name": name,
        "formula": formula,
        "sampling_s": sampling,
        "write_s": timings["write_s"],
        "write_pct_of_sampling": 100 * timings["write_s"] / sampling,
        "parts_s": {k: v for k, v in timings.items() if k.startswith("write_") and k != "write_s"},
    }


def show(rows: list[dict]) -> str:
    """A markdown table: each part's seconds per formula, the totals, the ratio."""
    names = list(dict.fromkeys(p for row in rows for p in row["parts_s"]))
    lines = ["| part | " + " | ".join(r["name"] for r in rows) + " |"]
    lines.append("|---" * (len(rows) + 1) + "|")
    for part in names:
        cells = [f"{r['parts_s'].get(part, float('nan')):.2f}" for r in rows]
        lines.append(f"| {part} | " + " | ".join(cells) + " |")
    for key, label in (("write_s", "**writer, whole**"), ("sampling_s", "sampling")):
        lines.append(f"| {label} | " + " | ".join(f"{r[key]:.1f}" for r in rows) + " |")
    pct = [f"{r['write_pct_of_sampling']:.0f}%" for r in rows]
    lines.append("| **writing / sampling** | " + " | ".join(pct) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results-writing.json"))
    parser.add_argument("--fits", default=None, help="keep (and reuse) the fits here")
    parser.add_argument("--label", default="after")
    parser.add_argument("--only", choices=list(FORMULAS), action="append")
    parser.add_argument(
        "--source-commit", help="the commit of the returnmodels imported, when not this checkout's"
    )
    parser.add_argument(
        "--cli", action="store_true", help="measure `returnmodels fit` itself (its manifest)"
    )
    args = parser.parse_args()
    import returnmodels as rm

    cases = rm.load_cases(BUNDLED)
    keep = None if args.fits is None else Path(args.fits)
    rows = []
    for name, (formula, reference) in FORMULAS.items():
        if args.only and name not in args.only:
            continue
        if args.cli:
            rows.append(measure_cli(name, formula, reference))
        else:
            rows.append(measure(name, formula, reference, cases, keep))
        print(json.dumps(rows[-1]), flush=True)
    print(show(rows))
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.is_file() else {}
    stamped = stamp() | {"returnmodels": str(Path(rm.__file__).parent)}
    if args.source_commit:
        stamped["commit"] = args.source_commit
    report[args.label] = {"stamp": stamped, "formulas": rows, "table": show(rows)}
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

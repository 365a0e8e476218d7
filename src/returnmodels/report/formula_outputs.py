"""The output folder of a formula fit (``returnmodels fit --formula``), controlled.

The same files as a registered model's folder except the margins (not yet computed for
formulas): ``posterior.nc`` (internal), ``summary.csv`` (population-level parameters,
and group effects only of levels with at least ``min_cases`` cases, marked controlled),
``diagnostics.json``, ``rank.png``, ``trace.png`` and ``fit_manifest.json``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import xarray as xr

from returnmodels.disclosure import (
    DEFAULT_RULES,
    DisclosureRules,
    mark_controlled,
    pool_small_groups,
)
from returnmodels.files import check_new_folder, sha256_file
from returnmodels.report.notebook import fit_manifest, save_convergence_plots, write_verdict
from returnmodels.report.run_folder import RunFolder
from returnmodels.summaries import parameter_summary

__all__ = ["FORMULA_FIT_FILES", "formula_groups", "write_formula_fit_folder"]

FORMULA_FIT_FILES = (
    "posterior.nc",
    "summary.csv",
    "diagnostics.json",
    "rank.png",
    "trace.png",
    "fit_manifest.json",
)
_LABEL = re.compile(r"^([^\[]+)\[(.*)\]$")


def formula_groups(result: xr.DataTree) -> list[str]:
    """The group factors of a formula fit (``nationality``, ``region:nationality``)."""
    return [g["factor"] for g in json.loads(result.attrs["returnmodels_design"])["groups"]]


def _withheld(result: xr.DataTree, factor: str, rules: DisclosureRules) -> set[str]:
    cells = result["constant_data"].to_dataset()
    variables = factor.split(":")
    labels = cells[variables[0]].to_series().astype(str)
    for v in variables[1:]:
        labels = labels + ":" + cells[v].to_series().astype(str)
    sizes = (
        pd.DataFrame({"group": labels.to_numpy(), "n": cells["trials"].to_numpy()})
        .groupby("group", sort=True)["n"]
        .sum()
        .reset_index()
    )
    return {str(g) for g in pool_small_groups(sizes, "group", "n", rules)}


def _population(result: xr.DataTree) -> list[str]:
    per_level = set(formula_groups(result)) | {"cell"}
    return [
        name
        for name, var in result["posterior"].to_dataset().data_vars.items()
        if not per_level & set(var.dims)
    ]


def controlled_formula_summary(result: xr.DataTree, rules: DisclosureRules) -> pd.DataFrame:
    """The parameter summary without the effects of withheld levels, marked controlled."""
    summary = parameter_summary(result).rename_axis("parameter")
    posterior = result["posterior"].to_dataset()
    withheld = {f: _withheld(result, f, rules) for f in formula_groups(result)}

    def shown(label: str) -> bool:
        found = _LABEL.match(str(label))
        if not found or found.group(1) not in posterior:
            return True
        dims = [d for d in posterior[found.group(1)].dims if d not in ("chain", "draw")]
        return not (dims and dims[0] in withheld and found.group(2) in withheld[dims[0]])

    return mark_controlled(summary[[shown(label) for label in summary.index]], rules)


def write_formula_fit_folder(
    result: xr.DataTree,
    out: str | os.PathLike,
    *,
    data_path: str | os.PathLike | None = None,
    rules: DisclosureRules = DEFAULT_RULES,
) -> Path:
    """Write :data:`FORMULA_FIT_FILES` into the new folder ``out``, whole or not at all."""
    out = check_new_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        folder = RunFolder(staging, rules)
        folder.posterior(result)
        folder.table(controlled_formula_summary(result, rules), "summary.csv")
        write_verdict(result, folder)
        save_convergence_plots(result, folder, names=_population(result))
        manifest = fit_manifest(result, data_path)
        manifest["formula"] = json.loads(result.attrs["returnmodels_design"])
        manifest["files"] = {n: sha256_file(staging / n) for n in FORMULA_FIT_FILES[:-1]}
        manifest["disclosure"] = rules.to_dict()
        folder.json(manifest, "fit_manifest.json")
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out

"""Posteriors (``posterior.nc``): internal in the analysis folder, released without data.

A fit's DataTree carries its data: ``observed_data`` and ``constant_data`` hold the exact
successes and trials of every binomial cell, and ``log_likelihood``, ``loo`` and the
predictive groups are per cell too. That is what refits, model comparison and predictive
checks need, so the analysis folder keeps it: such a file is **internal**.

:func:`released_posterior` makes the form that may leave: no group of
:data:`INTERNAL_GROUPS`, no variable with a per-cell dimension (:data:`CELL_DIMS`), no
coordinate of a group (nationality) withheld under the rules
(:func:`~returnmodels.disclosure.pool_small_groups`), and the root attribute
:data:`NETCDF_KEY` saying so. :func:`netcdf_findings` is the audit's check of a NetCDF file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.disclosure.checks import CASE_ID_PATTERN, Finding
from returnmodels.disclosure.control import pool_small_groups
from returnmodels.disclosure.rules import DisclosureRules
from returnmodels.errors import ConfigError

__all__ = [
    "CELL_DIMS",
    "INTERNAL_GROUPS",
    "NETCDF_KEY",
    "group_sizes",
    "netcdf_findings",
    "released_posterior",
]

#: Groups of a DataTree that hold data or per-cell values: never released.
INTERNAL_GROUPS: tuple[str, ...] = (
    "observed_data",
    "constant_data",
    "log_likelihood",
    "loo",
    "posterior_predictive",
    "prior_predictive",
    "predictions",
    "predictions_constant_data",
)
#: Dimensions of one entry per cell or per case: never released.
CELL_DIMS: tuple[str, ...] = ("cell", "obs", "case")
#: Root attribute of a released posterior: the rules and what was taken out.
NETCDF_KEY = "returnmodels_disclosure"


def group_sizes(result: xr.DataTree) -> pd.DataFrame:
    """``group`` and ``n`` (cases) of every group of a fit, from its ``constant_data``;
    for a formula fit, the levels of every group factor (``a:b`` for nested ones)."""
    data = result["constant_data"].to_dataset()
    if "returnmodels_design" in result.attrs:
        factors = [g["factor"] for g in json.loads(result.attrs["returnmodels_design"])["groups"]]
        frames = []
        for factor in factors:
            variables = factor.split(":")
            labels = data[variables[0]].values.astype(str).astype(object)
            for variable in variables[1:]:
                labels = labels + ":" + data[variable].values.astype(str).astype(object)
            frames.append(pd.DataFrame({"group": labels, "n": data["trials"].values}))
        cells = pd.concat(frames) if frames else pd.DataFrame({"group": [], "n": []})
        return cells.groupby("group", sort=True)["n"].sum().reset_index()
    group = json.loads(data.attrs["design"])["spec"]["group"]
    cells = pd.DataFrame(
        {"group": data[f"cell_{group}"].values.astype(str), "n": data["cell_trials"].values}
    )
    return cells.groupby("group", sort=True)["n"].sum().reset_index()


def released_posterior(result: xr.DataTree, rules: DisclosureRules) -> xr.DataTree:
    """The form of ``result`` that may leave a secure environment (module docstring)."""
    if "constant_data" not in result.children:
        raise ConfigError("not a fit with its data: no constant_data group to control it by")
    withheld = set(pool_small_groups(group_sizes(result), "group", "n", rules))
    kept = {
        f"/{name}": _without(node.to_dataset(), withheld)
        for name, node in result.children.items()
        if name not in INTERNAL_GROUPS
    }
    released = xr.DataTree.from_dict({"/": xr.Dataset(attrs=dict(result.attrs))} | kept)
    released.attrs[NETCDF_KEY] = json.dumps(
        {
            "status": "released",
            "rules": rules.to_dict(),
            "removed_groups": sorted(set(result.children) & set(INTERNAL_GROUPS)),
            "withheld_groups": len(withheld),
        },
        sort_keys=True,
    )
    return released


def _without(dataset: xr.Dataset, withheld: set[str]) -> xr.Dataset:
    """``dataset`` without per-cell variables and without withheld groups' coordinates."""
    dataset = dataset.drop_vars(
        [name for name, var in dataset.variables.items() if set(var.dims) & set(CELL_DIMS)]
    )
    for dim in list(dataset.dims):
        if dim in dataset.coords and dataset[dim].dtype.kind in "OUS":
            labels = dataset[dim].values.astype(str)
            dataset = dataset.isel({dim: ~np.isin(labels, list(withheld))})
    return dataset


def netcdf_findings(
    path: Path,
    rules: DisclosureRules,
    *,
    source: str,
    id_pattern: str = CASE_ID_PATTERN,
) -> list[Finding]:
    """The audit of one NetCDF file: internal groups, per-cell variables, no release
    mark or one with weaker rules, identifier-like values in attributes or labels."""
    try:
        tree = xr.open_datatree(path, engine="h5netcdf")
    except (OSError, ValueError) as error:
        return [Finding(source, "file", type(error).__name__, "unreadable")]
    with tree:
        findings = _structure_findings(tree, source)
        findings += _mark_findings(tree, rules, source)
        findings += _identifier_findings(tree, source, id_pattern)
    return findings


def _structure_findings(tree: xr.DataTree, source: str) -> list[Finding]:
    findings = []
    internal = sorted(set(tree.children) & set(INTERNAL_GROUPS))
    if internal:
        shown = ", ".join(internal)
        findings.append(Finding(source, "groups", f"data groups {shown}", "internal-file"))
    for node in tree.subtree:
        if node.name in INTERNAL_GROUPS:
            continue
        for name, var in node.dataset.variables.items():
            if set(var.dims) & set(CELL_DIMS):
                where = f"group {node.path}, variable {name}"
                findings.append(Finding(source, where, f"dims {var.dims}", "internal-file"))
    return findings


def _mark_findings(tree: xr.DataTree, rules: DisclosureRules, source: str) -> list[Finding]:
    text = tree.attrs.get(NETCDF_KEY)
    if text is None:
        return [Finding(source, "attributes", f"no {NETCDF_KEY} mark", "internal-file")]
    try:
        made_under = DisclosureRules.from_dict(json.loads(text)["rules"])
    except (ValueError, KeyError, TypeError, ConfigError) as error:
        return [Finding(source, f"attribute {NETCDF_KEY}", str(error), "marker-invalid")]
    if made_under.at_least_as_strict_as(rules):
        return []
    shown = ", ".join(f"{k}={v}" for k, v in made_under.to_dict().items())
    return [Finding(source, f"attribute {NETCDF_KEY}", shown, "weaker-rules")]


def _identifier_findings(tree: xr.DataTree, source: str, id_pattern: str) -> list[Finding]:
    pattern = re.compile(rf"(?<![\w])(?:{id_pattern})(?![\w])")
    for node in tree.subtree:
        texts = [str(v) for v in node.attrs.values()]
        for var in node.dataset.variables.values():
            texts += [str(v) for v in var.attrs.values()]
            if var.dtype.kind in "OUS":
                texts += [str(v) for v in np.asarray(var.values).ravel()]
        found = [m for text in texts for m in pattern.findall(text)]
        if found:
            where = f"group {node.path}"
            return [
                Finding(source, where, f"{found[0]} ({len(found)} matches)", "identifier-value")
            ]
    return []

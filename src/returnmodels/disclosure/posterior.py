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
from returnmodels.disclosure.rules import DisclosureRules
from returnmodels.errors import ConfigError

__all__ = [
    "CELL_DIMS",
    "CENTRE_DECIMALS",
    "INTERNAL_GROUPS",
    "NETCDF_KEY",
    "SUPPORT_GROUP",
    "allowed",
    "controlled_posterior",
    "netcdf_findings",
    "published_labels",
    "released_attributes",
    "released_posterior",
    "support_dataset",
    "support_of",
    "value_published",
    "whole_fit_published",
    "withheld_labels",
]

#: Groups of a DataTree that hold data or per-cell values: never released.
INTERNAL_GROUPS: tuple[str, ...] = (
    "observed_data",
    "constant_data",
    "log_likelihood",
    "loo",
    "units",  # an integrated term's outcome patterns, with their counts of persons
    "log_prior",  # per draw, but summed over every parameter's prior, withheld ones too
    "posterior_predictive",
    "prior_predictive",
    "predictions",
    "predictions_constant_data",
    "disclosure_support",
)
#: Dimensions of one entry per cell or per case: never released.
CELL_DIMS: tuple[str, ...] = ("cell", "obs", "case")
#: Root attribute of a released posterior: the rules and what was taken out.
NETCDF_KEY = "returnmodels_disclosure"
#: The internal group of a fit that holds its support table: the counts behind every
#: parameter, level and value (:mod:`returnmodels.models.support`).
SUPPORT_GROUP = "disclosure_support"
#: Dims of posterior draws.
SAMPLE_DIMS = ("chain", "draw", "sample")
#: Dims that index no cases (:data:`returnmodels.models.support.STRUCTURAL_DIMS`).
STRUCTURAL_DIMS = ("nonreference_outcome", "competing_outcome", "outcome")


def support_of(result: xr.DataTree) -> pd.DataFrame | None:
    """The fit's support table (:mod:`returnmodels.models.support`: the counts behind
    every parameter, level and value), or None for a result without one."""
    if SUPPORT_GROUP not in result.children:
        return None
    table = result[SUPPORT_GROUP].to_dataset().to_dataframe().reset_index(drop=True)
    return table.astype({"kind": str, "key": str, "label": str})


def support_dataset(table: pd.DataFrame) -> xr.Dataset:
    """A support table as the fit's internal ``disclosure_support`` group."""
    table = table.reset_index(drop=True)
    data = {
        column: ("support_row", table[column].to_numpy(dtype=object if column in _TEXT else None))
        for column in table.columns
    }
    dataset = xr.Dataset(data)
    for column in _TEXT:
        dataset[column] = dataset[column].astype(str)
    return dataset


_TEXT = ("kind", "key", "label")


def allowed(table: pd.DataFrame, rules: DisclosureRules) -> np.ndarray:
    """True for the rows of a support table whose counts may be published: every
    non-zero count at least ``min_cases``, and zeros too under ``suppress_zeros``."""
    nonzero = table["smallest_nonzero"].to_numpy() >= rules.min_cases
    zeros = table["smallest"].to_numpy() >= rules.min_cases
    return nonzero & (zeros if rules.suppress_zeros else True)


def published_labels(table: pd.DataFrame, rules: DisclosureRules, kind: str) -> dict[str, set]:
    """Per key of ``kind`` (``dim`` or ``column``), the labels that may be published."""
    ok = allowed(table, rules)
    rows = table[(table["kind"] == kind).to_numpy() & ok]
    return {key: set(part["label"]) for key, part in rows.groupby("key")}


def withheld_labels(table: pd.DataFrame, rules: DisclosureRules, kind: str) -> dict[str, set]:
    """Per key of ``kind``, the labels that may not be published."""
    ok = allowed(table, rules)
    rows = table[(table["kind"] == kind).to_numpy() & ~ok]
    return {key: set(part["label"]) for key, part in rows.groupby("key")}


def whole_fit_published(table: pd.DataFrame, rules: DisclosureRules) -> bool:
    """Whether the fit as a whole rests on enough cases (and on enough with and without
    each outcome) to publish anything of it."""
    whole = table["kind"] == "whole"
    return bool(whole.any() and allowed(table[whole], rules).all())


def value_published(
    table: pd.DataFrame, rules: DisclosureRules, column: str, value: object
) -> bool:
    """Whether a quantity at ``column == value`` (a margin, a predictive check) may be
    published: the value's cases for a categorical column, all cases for a numeric one."""
    if not whole_fit_published(table, rules):
        return False
    rows = table[(table["kind"] == "column") & (table["key"] == column)]
    if rows.empty:  # numeric: the quantity averages over every case
        return True
    at = rows[rows["label"] == str(value)]
    return bool(len(at) and allowed(at, rules).all())


def controlled_posterior(
    posterior: xr.Dataset, table: pd.DataFrame, rules: DisclosureRules
) -> xr.Dataset:
    """``posterior`` with only what may be published: each variable whose counts pass
    (its own row, else all cases), and of every level dim only the published levels.
    A variable with a dim the table does not know is left out (fail closed); so is
    everything when the fit as a whole rests on too few cases."""
    if not whole_fit_published(table, rules):
        return posterior.drop_vars(list(posterior.data_vars))
    levels = published_labels(table, rules, "dim")
    known = set(table.loc[table["kind"] == "dim", "key"])
    variables = table[table["kind"] == "variable"]
    variable_ok = dict(zip(variables["key"], allowed(variables, rules), strict=True))
    dropped = []
    for name, var in posterior.data_vars.items():
        dims = [d for d in var.dims if d not in SAMPLE_DIMS]
        unknown = [d for d in dims if d not in known and not _structural(d)]
        if unknown or not variable_ok.get(name, True):
            dropped.append(name)
    controlled = posterior.drop_vars(dropped)
    for dim in list(controlled.dims):
        if dim in known:
            labels = controlled[dim].values.astype(str)
            controlled = controlled.isel({dim: np.isin(labels, list(levels.get(dim, ())))})
    empty = [name for name, var in controlled.data_vars.items() if var.size == 0]
    controlled = controlled.drop_vars(empty)
    return controlled.drop_dims([dim for dim, size in controlled.sizes.items() if size == 0])


def _structural(dim: str) -> bool:
    return dim in STRUCTURAL_DIMS or dim.endswith("_corr_pair")


def released_posterior(result: xr.DataTree, rules: DisclosureRules) -> xr.DataTree:
    """The form of ``result`` that may leave a secure environment (module docstring)."""
    if "constant_data" not in result.children:
        raise ConfigError("not a fit with its data: no constant_data group to control it by")
    table = support_of(result)
    if table is None:
        raise ConfigError(
            "no disclosure_support group (a fit saved by an older returnmodels): refit it"
        )
    kept = {}
    for name, node in result.children.items():
        if name in INTERNAL_GROUPS:
            continue
        dataset = node.to_dataset()
        if name == "posterior":
            dataset = controlled_posterior(dataset, table, rules)
        kept[f"/{name}"] = _without_cells(dataset)
    attrs = released_attributes(dict(result.attrs), table, rules)
    released = xr.DataTree.from_dict({"/": xr.Dataset(attrs=attrs)} | kept)
    published = set(released["posterior"].to_dataset().data_vars) if "/posterior" in kept else set()
    released.attrs[NETCDF_KEY] = json.dumps(
        {
            "status": "released",
            "rules": rules.to_dict(),
            "removed_groups": sorted(set(result.children) & set(INTERNAL_GROUPS)),
            "withheld_parameters": len(set(result["posterior"].data_vars) - published)
            if "posterior" in result.children
            else 0,
            "centres_rounded_to": CENTRE_DECIMALS,
        },
        sort_keys=True,
    )
    return released


#: Decimals of the predictors' means in a released posterior: rounded, so that two
#: releases that differ by one person do not give that person's values by differencing.
CENTRE_DECIMALS = 1


def released_attributes(attrs: dict, table: pd.DataFrame, rules: DisclosureRules) -> dict:
    """A fit's attributes as they may leave: the design without its level labels and
    numbers of levels (which name or count small levels), its centres (the exact means
    of the predictors) rounded to :data:`CENTRE_DECIMALS`, and reference levels that
    may not be published shown as withheld."""
    attrs = dict(attrs)
    if "returnmodels_design" in attrs:
        design = json.loads(attrs["returnmodels_design"])
        attrs["returnmodels_design"] = json.dumps(
            {
                "formula": design.get("formula"),
                "family": design.get("family"),
                "response": design.get("response"),
                "trials": design.get("trials"),
                "common": [term["name"] for term in design.get("common", [])],
                "groups": [group["factor"] for group in design.get("groups", [])],
                "centres": {
                    k: round(float(v), CENTRE_DECIMALS)
                    for k, v in design.get("centres", {}).items()
                },
                "references": _published_references(design.get("references", {}), table, rules),
            },
            sort_keys=True,
        )
    if "returnmodels_config" in attrs:
        config = json.loads(attrs["returnmodels_config"])
        if isinstance(config.get("reference"), dict):
            config["reference"] = _published_references(config["reference"], table, rules)
        attrs["returnmodels_config"] = json.dumps(config, sort_keys=True)
    return attrs


def _published_references(references: dict, table: pd.DataFrame, rules) -> dict:
    return {
        column: level if value_published(table, rules, column, level) else "withheld"
        for column, level in references.items()
    }


def _without_cells(dataset: xr.Dataset) -> xr.Dataset:
    """``dataset`` without per-cell variables."""
    return dataset.drop_vars(
        [name for name, var in dataset.variables.items() if set(var.dims) & set(CELL_DIMS)]
    )


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
        findings += _statistics_findings(tree, source)
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


def _statistics_findings(tree: xr.DataTree, source: str) -> list[Finding]:
    """A released posterior's design must be the released one: no level labels or
    numbers of levels, and centres rounded to :data:`CENTRE_DECIMALS`."""
    if NETCDF_KEY not in tree.attrs or "returnmodels_design" not in tree.attrs:
        return []
    try:
        design = json.loads(tree.attrs["returnmodels_design"])
    except ValueError:
        return [Finding(source, "attribute returnmodels_design", "unreadable", "unreadable")]
    exact = [
        name
        for name, value in (design.get("centres") or {}).items()
        if not isinstance(value, int | float) or round(float(value), CENTRE_DECIMALS) != value
    ]
    terms = design.get("common", []) + design.get("groups", [])
    if any(not isinstance(term, str) for term in terms):
        exact.append("level labels or numbers of levels")
    if exact:
        where = "attribute returnmodels_design"
        return [Finding(source, where, f"exact: {', '.join(exact)}", "exact-statistics")]
    return []


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

"""The tables of a fit's folder, checked against the fit itself, not against their writer.

A fit's folder holds its posterior (``posterior.nc``) beside the tables computed from it
(``summary.csv``, ``margins.csv``). A marker on a table says its writer controlled it;
the audit and the release do not take that on trust. Where the folder's posterior is
the internal one (with its data and its support table, :mod:`returnmodels.models.support`),
every row of such a table is checked against what the rules allow to be published:

* a table with a ``parameter`` column (a posterior summary): each row must be a
  parameter, or a parameter at a level, that the controlled posterior keeps
  (:func:`~returnmodels.disclosure.posterior.controlled_posterior`);
* a table with ``predictor`` and ``value`` columns (margins): each value of a
  categorical predictor must rest on enough cases, with and without each outcome.

Where the posterior beside it is a released one (no data), a summary may hold only
parameters and levels that the released posterior itself holds.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.disclosure.checks import Finding
from returnmodels.disclosure.posterior import (
    NETCDF_KEY,
    SAMPLE_DIMS,
    controlled_posterior,
    support_of,
    value_published,
)
from returnmodels.disclosure.rules import DisclosureRules

__all__ = ["POSTERIOR_FILE", "fit_table_findings", "parameter_labels"]

#: The posterior a fit's folder holds beside its tables.
POSTERIOR_FILE = "posterior.nc"


def parameter_labels(posterior: xr.Dataset) -> set[str]:
    """The row labels a summary of ``posterior`` has, as ArviZ writes them:
    ``Intercept``, ``gender[female]``, ``competing_gender[forced_return, female]``."""
    labels = set()
    for name, var in posterior.data_vars.items():
        dims = [d for d in var.dims if d not in SAMPLE_DIMS]
        if not dims:
            labels.add(str(name))
            continue
        coords = [posterior[d].values.astype(str) for d in dims]
        grid = np.array(np.meshgrid(*coords, indexing="ij")).reshape(len(dims), -1).T
        labels |= {f"{name}[{', '.join(row)}]" for row in grid}
    return labels


@lru_cache(maxsize=16)
def _beside(path: str, modified: float, rules: DisclosureRules):
    """``(kind, published labels, support table)`` of the posterior at ``path``:
    ``internal`` (with its support), ``released``, or None when it cannot be read."""
    try:
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            posterior = tree["posterior"].to_dataset() if "posterior" in tree.children else None
            support = support_of(tree)
            released = NETCDF_KEY in tree.attrs
            if posterior is None:
                return None
            if support is not None and not released:
                kept = controlled_posterior(posterior, support, rules)
                return "internal", frozenset(parameter_labels(kept)), support
            if released:
                return "released", frozenset(parameter_labels(posterior)), None
    except (OSError, ValueError, KeyError):
        return None
    return None


def fit_table_findings(
    path: Path, table: pd.DataFrame, rules: DisclosureRules, source: str
) -> list[Finding]:
    """Rows of ``table`` (the CSV at ``path``) that the fit beside it may not publish."""
    posterior = path.parent / POSTERIOR_FILE
    if not posterior.is_file():
        return []
    fit = _beside(str(posterior), posterior.stat().st_mtime, rules)
    if fit is None:
        return []
    kind, labels, support = fit
    findings = []
    if "parameter" in table.columns:
        rows = [i for i, label in enumerate(table["parameter"].astype(str)) if label not in labels]
        findings += _rows(source, "parameter", rows, f"not published by the {kind} posterior")
    if kind == "internal" and {"predictor", "value"} <= set(table.columns):
        rows = [
            i
            for i, (predictor, value) in enumerate(
                zip(table["predictor"].astype(str), table["value"].astype(str), strict=True)
            )
            if not value_published(support, rules, predictor, value)
        ]
        findings += _rows(source, "value", rows, "a value resting on too few cases")
    return findings


def _rows(source: str, column: str, rows: list[int], what: str) -> list[Finding]:
    if not rows:
        return []
    shown = ", ".join(str(r + 1) for r in rows[:5]) + (" ..." if len(rows) > 5 else "")
    where = f"column {column}, data rows {shown}"
    return [Finding(source, where, f"{len(rows)} rows: {what}", "small-support")]

"""A formula fit's result completed from its samples: the log prior, the pointwise
log-likelihood, the observed counts and the cells.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.data.vocabulary import (
    COMPETING_OUTCOMES,
    OUTCOMES,
)
from returnmodels.engine.design import FormulaDesign
from returnmodels.engine.log_likelihood import formula_log_likelihood, kept_in_result
from returnmodels.engine.log_prior import formula_log_prior


def cells_dataset(design: FormulaDesign) -> xr.Dataset:
    """The cells as ``constant_data`` (their variables, uncentred) and ``observed_data``."""
    data = {
        c: (
            "cell",
            design.cells[c].astype(str).to_numpy()
            if not pd.api.types.is_numeric_dtype(design.cells[c])
            else design.cells[c].to_numpy(),
        )
        for c in design.cells.columns
    }
    data["trials"] = ("cell", design.trials)
    return xr.Dataset(data, coords={"cell": np.arange(design.n_cells)})


#: The group of a result holding an integrated term's outcome patterns (internal, as
#: the cells are): what the per-person log-likelihood and LOO are rebuilt from.
UNITS_GROUP = "units"


def units_dataset(design: FormulaDesign) -> xr.Dataset:
    """The integrated term's outcome patterns as flat entries (cell in the result's
    order of cells, outcome, pattern) and each pattern's count of units."""
    term = design.integrated
    return xr.Dataset(
        {
            "entry_cell": ("entry", np.asarray(term.entry_cell, dtype=np.int64)),
            "entry_y": ("entry", np.asarray(term.entry_y, dtype=np.int64)),
            "entry_pattern": ("entry", np.asarray(term.entry_pattern, dtype=np.int64)),
            "pattern_count": ("pattern", np.asarray(term.pattern_count, dtype=np.int64)),
        },
        attrs={"factor": term.factor, "nodes": int(term.nodes)},
    )


def complete_formula_result(
    results: xr.DataTree | list[xr.DataTree], designs: FormulaDesign | tuple[FormulaDesign, ...]
) -> xr.DataTree:
    """posterior and sample_stats, with log_prior, log_likelihood, observed_data and
    constant_data (``log_prior``: :func:`returnmodels.engine.log_prior.formula_log_prior`,
    what ``az.psense_summary`` reads). A one-stage fit whose log-likelihood would take
    more than :data:`~returnmodels.engine.log_likelihood.KEPT_MAX_BYTES` leaves it out:
    it is rebuilt from the posterior and the cells when LOO asks for it, as for a saved
    result (``returnmodels.inference.loo.with_log_likelihood``).

    Several stages (the competing-outcomes family) are joined draw by draw: one
    posterior, ``sample_stats`` of the first stage and ``sample_stats_stage<i>`` of the
    others (the gate reads them all), a log-likelihood per stage (``assisted``,
    ``competing``), and the competing outcomes' counts (``competing``, dims cell x
    ``competing_outcome``) beside ``assisted`` in ``observed_data``."""
    if isinstance(results, xr.DataTree):
        results, designs = [results], (designs,)
    design = designs[0]
    posterior = xr.merge([r["posterior"].to_dataset() for r in results])
    groups = {
        "sample_stats" if i == 0 else f"sample_stats_stage{i}": r["sample_stats"].to_dataset()
        for i, r in enumerate(results)
    }
    cell = {"cell": np.arange(design.n_cells)}
    observed = xr.Dataset({design.response: ("cell", design.successes)}, coords=cell)
    if design.outcome_counts is not None:
        at = [OUTCOMES.index(o) for o in COMPETING_OUTCOMES]
        observed["competing"] = xr.DataArray(
            design.outcome_counts[:, at],
            dims=("cell", "competing_outcome"),
            coords=cell | {"competing_outcome": list(COMPETING_OUTCOMES)},
        )
    # with an integrated intercept the cells are not independent given the draws (a
    # person's cases share the person), so no pointwise log-likelihood per cell is kept
    samples = posterior.sizes["chain"] * posterior.sizes["draw"]
    if design.integrated is not None:  # its log-likelihood is per unit: rebuilt from
        pointwise = {UNITS_GROUP: units_dataset(design)}  # the patterns when LOO asks
    elif len(designs) == 1 and not kept_in_result(len(design.trials), samples):
        pointwise = {}  # too large to keep: rebuilt when LOO asks (result_log_likelihood)
    else:
        pointwise = {
            "log_likelihood": xr.merge([formula_log_likelihood(posterior, d) for d in designs])
        }
    tree = xr.DataTree.from_dict(
        {
            "posterior": posterior,
            **groups,
            "log_prior": formula_log_prior(posterior, designs),
            **pointwise,
            "observed_data": observed,
            "constant_data": cells_dataset(design),
        }
    )
    tree.attrs["returnmodels_design"] = json.dumps(design.describe())
    return tree

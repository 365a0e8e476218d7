"""Model comparison by PSIS-LOO: ELPD differences with standard errors, Pareto k.

Models are comparable only when fitted to the same observations: the same data
checksum, the same cells and the same observed variable. Binary models are compared on
their pointwise (per cell) log-likelihood; ``competing_outcomes`` models the six
outcomes, a different observation, and is refused here.

A fresh fit holds the pointwise log-likelihood (draws x cells: hundreds of MB on the
bundled data). Saved results keep instead a ``loo`` group with the pointwise PSIS-LOO
results (:func:`loo_group`: ``elpd_i`` and ``pareto_k`` per cell, the totals as
attributes), which is all a comparison needs; :func:`pointwise_loo` reads either.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats.utils import ELPDData

from returnmodels.errors import ConfigError
from returnmodels.inference.loo import (
    PARETO_K_GOOD,
    loo_group,
    pareto_note,
    pointwise_loo,
    response_of,
)

__all__ = ["PARETO_K_GOOD", "compare_models", "loo_group", "loo_table", "pointwise_loo"]


def compare_models(results: Mapping[str, xr.DataTree]) -> pd.DataFrame:
    """ArviZ's LOO comparison of fits of the same data, one row per model (best first):
    elpd, p, elpd_diff and its SE (``dse``), weight, plus Pareto k diagnostics.

    What is left out is a *cell*, not a case: the fits' observations are aggregated
    cells (the cases sharing every predictor's value), so the ELPD is that of predicting
    a whole cell of cases without it, and large cells can get Pareto k above
    :data:`PARETO_K_GOOD`. ArviZ's warnings (one per model about Pareto k, and its
    comparison's own) are not printed: the table's ``attrs["note"]`` says in one line per
    model how many cells have Pareto k above the threshold (``n_pareto_k_bad`` counts
    them too), and ``attrs["arviz_warnings"]`` keeps the comparison's other warnings."""
    if len(results) < 2:
        raise ConfigError("compare at least two fits")
    loos = {name: pointwise_loo(r) for name, r in results.items()}
    checksums = {name: r.attrs.get("returnmodels_data_sha256") for name, r in results.items()}
    responses = {name: response_of(r) for name, r in results.items()}
    cells = {name: int(loo.elpd_i.size) for name, loo in loos.items()}
    for label, found in (("data", checksums), ("observed variable", responses), ("cells", cells)):
        if len(set(found.values())) > 1:
            raise ConfigError(f"fits differ in their {label}: {found}; LOO needs the same data")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = az.compare(loos, round_to="none")
    diagnostics = pd.DataFrame({name: _diagnostics(loo) for name, loo in loos.items()}).T
    table = table.join(
        diagnostics[["pareto_k_max", "n_pareto_k_bad"]].astype({"n_pareto_k_bad": int})
    )
    table.attrs["note"] = "\n".join(f"{name}: {pareto_note(loo)}" for name, loo in loos.items())
    table.attrs["arviz_warnings"] = sorted({str(w.message) for w in caught})
    return table


def loo_table(result: xr.DataTree) -> dict:
    """PSIS-LOO of one fit: elpd, its SE, p_loo and the Pareto k counts."""
    loo = pointwise_loo(result)
    return _diagnostics(loo)


def _diagnostics(loo: ELPDData) -> dict:
    k = np.asarray(loo.pareto_k)
    return {
        "elpd_loo": float(loo.elpd),
        "se": float(loo.se),
        "p_loo": float(loo.p),
        "pareto_k_max": float(np.nanmax(k)),
        "n_pareto_k_bad": int(np.sum(k > PARETO_K_GOOD)),
        "n_points": int(k.size),
    }

"""Model comparison by PSIS-LOO: ELPD differences with standard errors, Pareto k.

Models are comparable only when fitted to the same observations: the same data
checksum, the same cells and the same observed variable. Binary models are compared on
their pointwise (per cell) log-likelihood; ``competing_outcomes`` models the six
outcomes, a different observation, and is refused here.
"""

from __future__ import annotations

from collections.abc import Mapping

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.errors import ConfigError

__all__ = ["PARETO_K_GOOD", "compare_models", "loo_table"]

#: Pareto k above this makes the PSIS estimate of a cell's contribution unreliable.
PARETO_K_GOOD = 0.7


def _response(result: xr.DataTree) -> str:
    names = list(result["log_likelihood"].to_dataset().data_vars)
    if len(names) != 1:
        raise ConfigError(
            f"model {result.attrs.get('returnmodels_model')!r} has {len(names)} observed "
            "variables; LOO comparison here is for the binary models"
        )
    return names[0]


def loo_table(result: xr.DataTree) -> dict:
    """PSIS-LOO of one fit: elpd, its SE, p_loo and the Pareto k counts."""
    loo = az.loo(result, var_name=_response(result), pointwise=True)
    k = np.asarray(loo.pareto_k)
    return {
        "elpd_loo": float(loo.elpd),
        "se": float(loo.se),
        "p_loo": float(loo.p),
        "pareto_k_max": float(np.nanmax(k)),
        "n_pareto_k_bad": int(np.sum(k > PARETO_K_GOOD)),
        "n_points": int(k.size),
    }


def compare_models(results: Mapping[str, xr.DataTree]) -> pd.DataFrame:
    """ArviZ's LOO comparison of fits of the same data, one row per model (best first):
    elpd, p, elpd_diff and its SE (``dse``), weight, plus Pareto k diagnostics."""
    if len(results) < 2:
        raise ConfigError("compare at least two fits")
    checksums = {name: r.attrs.get("returnmodels_data_sha256") for name, r in results.items()}
    responses = {name: _response(r) for name, r in results.items()}
    cells = {name: r["log_likelihood"].sizes.get("cell") for name, r in results.items()}
    for label, found in (("data", checksums), ("observed variable", responses), ("cells", cells)):
        if len(set(found.values())) > 1:
            raise ConfigError(f"fits differ in their {label}: {found}; LOO needs the same data")
    table = az.compare(dict(results), var_name=next(iter(responses.values())))
    diagnostics = pd.DataFrame({name: loo_table(r) for name, r in results.items()}).T
    return table.join(diagnostics[["pareto_k_max", "n_pareto_k_bad"]])

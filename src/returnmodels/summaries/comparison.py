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

from collections.abc import Mapping

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats.utils import ELPDData

from returnmodels.errors import ConfigError

__all__ = ["PARETO_K_GOOD", "compare_models", "loo_group", "loo_table", "pointwise_loo"]

#: Pareto k above this makes the PSIS estimate of a cell's contribution unreliable.
PARETO_K_GOOD = 0.7


_LOO_ATTRS = ("elpd", "se", "p", "n_samples", "n_data_points", "scale", "warning", "good_k")


def _response(result: xr.DataTree) -> str:
    group = "log_likelihood" if "log_likelihood" in result.children else "loo"
    if group == "loo":
        return result["loo"].attrs["observed"]
    names = list(result[group].to_dataset().data_vars)
    if len(names) != 1:
        raise ConfigError(
            f"model {result.attrs.get('returnmodels_model')!r} has {len(names)} observed "
            "variables; LOO comparison here is for the binary models"
        )
    return names[0]


def pointwise_loo(result: xr.DataTree) -> ELPDData:
    """PSIS-LOO of one fit, pointwise: from its log-likelihood, or its saved ``loo`` group."""
    if "log_likelihood" in result.children:
        return az.loo(result, var_name=_response(result), pointwise=True)
    if "loo" not in result.children:
        raise ConfigError(
            f"model {result.attrs.get('returnmodels_model')!r} has neither a log_likelihood "
            "nor a loo group, so it cannot be compared: a saved fit keeps its log_likelihood "
            "only up to returnmodels.results.LOG_LIKELIHOOD_MAX_BYTES (save_result("
            "log_likelihood=True) keeps it at any size), and a fit with several observed "
            "variables (competing_outcomes) gets no loo group"
        )
    stored = result["loo"].to_dataset()
    totals = {key: stored.attrs[key] for key in _LOO_ATTRS}
    totals["warning"] = bool(totals["warning"])
    return ELPDData(**totals, elpd_i=stored["elpd_i"], pareto_k=stored["pareto_k"])


def loo_group(result: xr.DataTree) -> xr.Dataset:
    """The pointwise PSIS-LOO results of ``result`` as a small dataset (see the module)."""
    loo = pointwise_loo(result)
    attrs = {key: getattr(loo, key) for key in _LOO_ATTRS}
    attrs = {k: (int(v) if isinstance(v, bool | np.bool_) else v) for k, v in attrs.items()}
    return xr.Dataset(
        {"elpd_i": loo.elpd_i.astype("float64"), "pareto_k": loo.pareto_k.astype("float64")},
        attrs=attrs | {"observed": _response(result)},
    )


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


def compare_models(results: Mapping[str, xr.DataTree]) -> pd.DataFrame:
    """ArviZ's LOO comparison of fits of the same data, one row per model (best first):
    elpd, p, elpd_diff and its SE (``dse``), weight, plus Pareto k diagnostics."""
    if len(results) < 2:
        raise ConfigError("compare at least two fits")
    loos = {name: pointwise_loo(r) for name, r in results.items()}
    checksums = {name: r.attrs.get("returnmodels_data_sha256") for name, r in results.items()}
    responses = {name: _response(r) for name, r in results.items()}
    cells = {name: int(loo.elpd_i.size) for name, loo in loos.items()}
    for label, found in (("data", checksums), ("observed variable", responses), ("cells", cells)):
        if len(set(found.values())) > 1:
            raise ConfigError(f"fits differ in their {label}: {found}; LOO needs the same data")
    table = az.compare(loos, round_to="none")
    diagnostics = pd.DataFrame({name: _diagnostics(loo) for name, loo in loos.items()}).T
    return table.join(diagnostics[["pareto_k_max", "n_pareto_k_bad"]])

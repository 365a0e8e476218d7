"""Model comparison by PSIS-LOO (or K-fold): ELPD differences with standard errors.

Models are comparable only when fitted to the same observations: the same data
checksum, the same observed variable and the same cells. What one LOO observation is
here: **one cell of cases with the same predictors** (the fits' observations are
aggregated cells), so PSIS-LOO predicts a whole cell from the rest, its nationality kept
in the fit. Fits of the same data may hold their cells in different orders (a formula
fit sorts them by its own variables): they are matched by their values before any
pointwise difference, and fits whose cells are not the same groups of cases are refused
saying how they differ. ``competing_outcomes`` models the six outcomes, a different
observation, and is refused here.

A fresh fit holds the pointwise log-likelihood (draws x cells: hundreds of MB on the
bundled data). Saved results keep instead a ``loo`` group with the pointwise PSIS-LOO
results (:func:`loo_group`: ``elpd_i`` and ``pareto_k`` per cell, the totals as
attributes), which is all a comparison needs; :func:`pointwise_loo` reads either.

K-fold results (:func:`returnmodels.inference.kfold.kfold`: whole nationalities left
out) are compared the same way, per nationality (``compare_models(kfold=...)``); cells
whose PSIS estimate was replaced by an exact refit (:func:`returnmodels.inference.kfold.reloo`)
enter through ``loo=``.
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
    LOO_LEFT_OUT,
    PARETO_K_GOOD,
    GroupedKFold,
    PersonLOO,
    cell_table,
    loo_group,
    pareto_note,
    pointwise_loo,
    refit_cells,
    response_of,
)

__all__ = ["PARETO_K_GOOD", "compare_models", "loo_group", "loo_table", "pointwise_loo"]


def compare_models(
    results: Mapping[str, xr.DataTree] | None = None,
    *,
    loo: Mapping[str, ELPDData] | None = None,
    kfold: Mapping[str, GroupedKFold] | None = None,
) -> pd.DataFrame:
    """ArviZ's comparison of fits of the same observations, one row per model (best
    first): elpd, p, elpd_diff and its SE (``dse``), weight, and ``left_out`` (what one
    observation is).

    PSIS-LOO (``results``: any mix of registered and formula fits of the same data and
    cells): ``loo`` gives a model's own pointwise LOO instead of its PSIS one (e.g. from
    :func:`returnmodels.inference.kfold.reloo`, with exact refits of the cells of high
    Pareto k; ``n_refit`` counts them). ArviZ's warnings are not printed: the table's
    ``attrs["note"]`` says in one line per model how many cells have Pareto k above
    :data:`PARETO_K_GOOD` (``n_pareto_k_bad`` counts them too), and
    ``attrs["arviz_warnings"]`` keeps the comparison's other warnings.

    K-fold (``kfold``: results of :func:`returnmodels.inference.kfold.kfold` with the same
    group and folds): compared per held-out level; ``attrs["note"]`` has each model's
    one-line summary. Give ``results`` or ``kfold``, not both."""
    if (results is None) == (kfold is None):
        raise ConfigError(
            "give the fits to compare by PSIS-LOO (results) or their K-fold results (kfold=)"
        )
    if kfold is not None:
        return _compare_kfold(kfold)
    if len(results) < 2:
        raise ConfigError("compare at least two fits")
    per_unit = [name for name, r in results.items() if "units" in r.children]
    if per_unit:
        raise ConfigError(
            f"{per_unit}: a fit with an integrated intercept per unit (person_id) leaves out "
            "a unit (a person and all their cases) in LOO, the other fits a cell of cases; "
            "their pointwise values do not line up, so they are not compared here yet. "
            "rm.loo_table(fit) gives such a fit's own LOO per unit"
        )
    unknown = sorted(set(loo or {}) - set(results))
    if unknown:
        raise ConfigError(f"loo= given for {unknown}, which are not among the fits {list(results)}")
    given = {
        name: (loo or {}).get(name) if name in (loo or {}) else pointwise_loo(r)
        for name, r in results.items()
    }
    _check_same_data(results)
    order = _aligned_cells(results)
    loos = {name: _reordered(given[name], order[name]) for name in results}
    table, caught = _az_compare(loos)
    diagnostics = pd.DataFrame({name: _diagnostics(loo) for name, loo in loos.items()}).T
    table = table.join(
        diagnostics[["pareto_k_max", "n_pareto_k_bad"]].astype({"n_pareto_k_bad": int})
    )
    table["n_refit"] = [len(refit_cells(loos[name])) for name in table.index]
    table["left_out"] = LOO_LEFT_OUT
    table.attrs["note"] = "\n".join(f"{name}: {pareto_note(loo)}" for name, loo in loos.items())
    table.attrs["arviz_warnings"] = caught
    return table


def _az_compare(elpds: Mapping[str, ELPDData]) -> tuple[pd.DataFrame, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = az.compare(dict(elpds), round_to="none")
    return table, sorted({str(w.message) for w in caught})


def _check_same_data(results: Mapping[str, xr.DataTree]) -> None:
    checksums = {name: r.attrs.get("returnmodels_data_sha256") for name, r in results.items()}
    responses = {name: response_of(r) for name, r in results.items()}
    for label, found in (("data", checksums), ("observed variable", responses)):
        if len(set(found.values())) > 1:
            raise ConfigError(f"fits differ in their {label}: {found}; LOO needs the same data")


def _as_key(column: pd.Series) -> pd.Series:
    """Values as text that match across fits (3, 3.0 and np.int64(3) alike)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.astype(float).map(repr)
    return column.astype(str)


def _aligned_cells(results: Mapping[str, xr.DataTree]) -> dict[str, np.ndarray]:
    """For each fit, the positions of the first fit's cells among its own (so every
    fit's pointwise values line up), or a refusal saying how their cells differ."""
    tables = {name: cell_table(r) for name, r in results.items()}
    first = next(iter(tables))
    shared = [c for c in tables[first][1] if all(c in key for _, key in tables.values())]
    described = "; ".join(
        f"{name}: {len(cells):,} cells by {key}" for name, (cells, key) in tables.items()
    )
    refusal = (
        f"fits differ in their cells ({described}), so their LOO observations are not the "
        "same groups of cases; LOO compares fits of the same cells (a formula with the "
        "same variables as the registered models' cells, or K-fold by nationality)"
    )
    keys = {}
    for name, (cells, _) in tables.items():
        index = pd.MultiIndex.from_frame(pd.DataFrame({c: _as_key(cells[c]) for c in shared}))
        if not shared or not index.is_unique:
            raise ConfigError(refusal)
        keys[name] = index
    order = {}
    for name, index in keys.items():
        if len(index) != len(keys[first]) or not keys[first].isin(index).all():
            raise ConfigError(refusal)
        order[name] = index.get_indexer(keys[first])
        trials = tables[name][0]["trials"].to_numpy()[order[name]]
        if not np.array_equal(trials, tables[first][0]["trials"].to_numpy()):
            raise ConfigError(refusal)
    return order


def _reordered(loo: ELPDData, order: np.ndarray) -> ELPDData:
    """``loo`` with its cells in the first fit's order (cell coords 0..n-1)."""
    if len(loo.elpd_i) != len(order):
        raise ConfigError(
            f"a pointwise LOO of {len(loo.elpd_i):,} cells given for a fit of {len(order):,}"
        )
    out = ELPDData(**{f: getattr(loo, f) for f in _ELPD_FIELDS})
    for field in ("elpd_i", "pareto_k"):
        values = getattr(loo, field)
        dim = values.dims[0]
        moved = values.isel({dim: order}).assign_coords({dim: np.arange(len(order))})
        moved.attrs = dict(values.attrs)
        setattr(out, field, moved)
    if refit_cells(loo):  # positions in the first fit's order
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        out.elpd_i.attrs["refit_cells"] = sorted(int(inverse[c]) for c in refit_cells(loo))
    return out


_ELPD_FIELDS = ("elpd", "se", "p", "n_samples", "n_data_points", "scale", "warning", "good_k")


def _compare_kfold(kfold: Mapping[str, GroupedKFold]) -> pd.DataFrame:
    """K-fold results compared per held-out level (see :func:`compare_models`)."""
    if len(kfold) < 2:
        raise ConfigError("compare at least two K-fold results")
    first = next(iter(kfold.values()))
    for name, result in kfold.items():
        if not isinstance(result, GroupedKFold):
            raise ConfigError(f"kfold[{name!r}] is not a K-fold result (returnmodels.kfold)")
        if result.group != first.group or not result.folds.equals(first.folds):
            raise ConfigError(
                f"the K-fold results differ in their folds ({name!r} leaves out "
                f"{result.left_out}, the first {first.left_out}): compare K-fold results "
                "made with the same data, group, k and random_seed"
            )
    table, caught = _az_compare(kfold)
    table["left_out"] = [kfold[name].left_out for name in table.index]
    table["folds_failing_gate"] = [sum(not ok for ok in kfold[n].fold_passed) for n in table.index]
    table.attrs["note"] = "\n".join(f"{name}: {r.note()}" for name, r in kfold.items())
    table.attrs["arviz_warnings"] = caught
    return table


def loo_table(result: xr.DataTree) -> dict:
    """PSIS-LOO of one fit: elpd, its SE, p_loo and the Pareto k counts, and what one
    observation is (``left_out``: a cell of cases, or a person with all their cases
    where the fit integrated the person effect out)."""
    loo = pointwise_loo(result)
    return _diagnostics(loo) | {
        "left_out": getattr(loo, "left_out", LOO_LEFT_OUT),
        "note": pareto_note(loo),
    }


def _diagnostics(loo: ELPDData) -> dict:
    """elpd, SE, p, the largest Pareto k, the observations with k above
    :data:`PARETO_K_GOOD` and how many there are (units for a
    :class:`~returnmodels.inference.loo.PersonLOO`, counted with their patterns')."""
    k = np.asarray(loo.pareto_k)
    weight = loo.counts if isinstance(loo, PersonLOO) else np.ones(k.size)
    return {
        "elpd_loo": float(loo.elpd),
        "se": float(loo.se),
        "p_loo": float(loo.p),
        "pareto_k_max": float(np.nanmax(k)),
        "n_pareto_k_bad": int(np.sum(weight[k > PARETO_K_GOOD])),
        "n_points": int(np.sum(weight)),
    }

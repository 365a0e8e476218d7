"""What notebook 03 calls to compare models: the fits (registered ones from the results
folder, formula fits loaded or fitted on the engine) and the K-fold comparison by
nationality. Apart from :mod:`returnmodels.report.notebook` because it refits models
(PyMC), which the batch runner's import of that module should not pay for."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import pandas as pd
import xarray as xr

from returnmodels.disclosure import DEFAULT_RULES, DisclosureRules
from returnmodels.disclosure.marker import mark_controlled
from returnmodels.errors import ConfigError
from returnmodels.inference.fit import fit
from returnmodels.inference.kfold import kfold
from returnmodels.inference.results import load_result
from returnmodels.report.notebook import fit_folder, read_fits, sampling_settings
from returnmodels.summaries import compare_models

__all__ = ["SMOKE_FOLDS", "comparison_fits", "kfold_comparison"]

#: Folds of the K-fold comparison of a smoke batch (enough to run every step).
SMOKE_FOLDS = 3


def comparison_fits(
    results: str | os.PathLike | None,
    models: Iterable[str],
    formulas: Iterable[str],
    cases: pd.DataFrame,
    *,
    seed: int,
    smoke: bool = False,
) -> tuple[dict, list[str]]:
    """``({name: fit}, notes)`` for notebook 03: the registered ``models``' fits from
    ``results`` (:func:`read_fits`), and each of ``formulas`` from its notebook-02 folder
    when it is there, else fitted here on ``cases`` (the precompiled engine: no compile;
    notebook 02's default sampler settings, or the smoke ones)."""
    fits, notes = read_fits(results, models)
    for formula in formulas:
        path = fit_folder(results, formula) / "posterior.nc"
        if path.is_file():
            fits[formula] = load_result(path, model="formula")
            continue
        settings = sampling_settings(draws=1000, tune=1000, chains=4, seed=seed, smoke=smoke)
        fits[formula] = fit(cases, formula, progressbar=False, **settings)
        notes.append(f"fitted here (no saved fit): {formula}")
    if len(fits) < 2:
        raise ConfigError(f"2 fits needed, {len(fits)} found; " + "; ".join(notes))
    return fits, notes


def kfold_comparison(
    fits: Mapping[str, xr.DataTree],
    cases: pd.DataFrame,
    *,
    k: int = 10,
    group: str = "nationality",
    draws: int | None = None,
    seed: int = 0,
    smoke: bool = False,
    rules: DisclosureRules = DEFAULT_RULES,
) -> pd.DataFrame:
    """K-fold comparison leaving out whole levels of ``group`` (:func:`returnmodels.kfold`
    of each fit on ``cases``, its data; ``draws`` draws and as many tuning steps per refit,
    ``None``: each fit's own), compared by :func:`returnmodels.summaries.compare_models`;
    the one-line notes in ``attrs["note"]``. Marked controlled: totals, no counts.
    ``smoke``: :data:`SMOKE_FOLDS` folds and the fits' own (tiny) draws."""
    if smoke:
        k, draws = min(k, SMOKE_FOLDS), None
    settings = {} if draws is None else {"draws": draws, "tune": draws}
    results = {
        name: kfold(result, cases, k, group=group, random_seed=seed, **settings)
        for name, result in fits.items()
    }
    table = compare_models(kfold=results)
    table.index.name = "model"
    note = table.attrs["note"]
    table = mark_controlled(pd.DataFrame(table), rules)
    table.attrs["note"] = note
    return table

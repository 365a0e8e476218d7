"""Pointwise PSIS-LOO of a fit: from its log-likelihood, or from its saved ``loo`` group.

A fresh fit holds the pointwise log-likelihood (draws x cells). A saved result keeps
it when it is small (:data:`returnmodels.inference.results.LOG_LIKELIHOOD_MAX_BYTES`);
a fit that leaves it out rebuilds it from its posterior and cells when it is asked for
(:func:`with_log_likelihood`: the same values); a result that cannot be rebuilt (saved
by a version whose registered models were not formulas) keeps a ``loo`` group in its
place (:func:`loo_group`: ``elpd_i`` and ``pareto_k`` per cell,
the totals as attributes). :func:`pointwise_loo` reads any of them. The ``loo`` group
is computed for every cell at once (:func:`fast_loo`,
:mod:`returnmodels.inference.psis`): ArviZ's numbers, to the rounding of the float32
log-likelihood, where ``az.loo`` smooths one cell at a time in Python.

LOO here is leave-one-*cell*-out: a fit's observations are its aggregated cells (the
cases that share every predictor's value), so each PSIS weight leaves out a whole cell
of cases at once, and a few large cells get Pareto k above
:data:`PARETO_K_GOOD`. ArviZ warns about that once per ``az.loo``; here the warning is
caught and the bad cells are counted instead (:func:`pareto_note`: one line).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import ClassVar

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats.utils import ELPDData, ELPDDataLOOKFold

from returnmodels.engine.log_likelihood import (
    rebuildable,
    result_log_likelihood,
    unit_log_likelihood,
)
from returnmodels.errors import ConfigError
from returnmodels.inference.psis import good_k, psis_loo, relative_efficiency

__all__ = [
    "LOO_LEFT_OUT",
    "PARETO_K_GOOD",
    "GroupedKFold",
    "PersonLOO",
    "cell_table",
    "fast_loo",
    "loo_group",
    "pareto_note",
    "pointwise_loo",
    "refit_cells",
    "response_of",
    "unit_loo",
    "with_log_likelihood",
]

#: Pareto k above this makes the PSIS estimate of a cell's contribution unreliable.
PARETO_K_GOOD = 0.7
#: The start of ArviZ's warning about Pareto k (arviz_stats.loo.loo_helper._warn_pareto_k).
_PARETO_WARNING = "Estimated shape parameter of Pareto distribution"

#: What one PSIS-LOO observation of a fit is (the tables and notebook 03 say it).
LOO_LEFT_OUT = "one cell of cases with the same predictors"

_LOO_ATTRS = ("elpd", "se", "p", "n_samples", "n_data_points", "scale", "warning", "good_k")


def response_of(result: xr.DataTree) -> str:
    if "units" in result.children or (
        "log_likelihood" not in result.children and rebuildable(result)
    ):
        return json.loads(result.attrs["returnmodels_design"])["response"]
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


def with_log_likelihood(result: xr.DataTree) -> xr.DataTree:
    """``result`` with its ``log_likelihood`` group: as stored, or rebuilt from its
    posterior and cells where a saved formula fit left it out
    (:func:`~returnmodels.engine.log_likelihood.result_log_likelihood`)."""
    if "log_likelihood" in result.children or not rebuildable(result):
        return result
    completed = result.copy()
    completed["log_likelihood"] = xr.DataTree(result_log_likelihood(result))
    return completed


@dataclass(kw_only=True, repr=False)
class PersonLOO(ELPDData):
    r"""PSIS-LOO of a fit whose per-unit intercept was integrated out: one observation is
    a unit (a person, all their cases). Units of the same outcome pattern are the same
    observation given the draws, so ``elpd_i`` and ``pareto_k`` are per pattern and
    ``counts`` says how many units each stands for; the totals weigh them:
    :math:`\widehat{\mathrm{elpd}} = \sum_p n_p\,\widehat{\mathrm{elpd}}_p`, its SE
    :math:`\sqrt{N \operatorname{Var}_n(\widehat{\mathrm{elpd}}_p)}` over the
    :math:`N = \sum_p n_p` units (the variance with :math:`N - 1`), as ``az.loo`` on one
    column per unit gives."""

    counts: np.ndarray = None
    unit: str = "person_id"

    @property
    def left_out(self) -> str:
        return f"one level of {self.unit} (all its cases)"

    def note(self) -> str:
        """One line: the units with Pareto k above :data:`PARETO_K_GOOD`, and what a LOO
        observation is."""
        bad = np.asarray(self.pareto_k) > PARETO_K_GOOD
        units = int(np.sum(self.counts[bad]))
        return (
            f"{units:,} of {int(self.counts.sum()):,} units of {self.unit} ({int(bad.sum()):,} "
            f"of {bad.size:,} outcome patterns) with Pareto k > {PARETO_K_GOOD}; LOO here "
            f"leaves out {self.left_out}"
        )


def unit_loo(result: xr.DataTree) -> PersonLOO:
    """PSIS-LOO per unit of a fit with an integrated intercept (:class:`PersonLOO`): the
    per-pattern log-likelihood rebuilt from the result
    (:func:`~returnmodels.engine.log_likelihood.unit_log_likelihood`), Pareto-smoothed
    for every pattern at once (:func:`~returnmodels.inference.psis.psis_loo`)."""
    name = response_of(result)
    ordered = unit_log_likelihood(result)[name].transpose("pattern", "chain", "draw")
    n_samples = ordered.sizes["chain"] * ordered.sizes["draw"]
    values = np.ascontiguousarray(ordered.values).reshape(-1, n_samples)
    r_eff = relative_efficiency(result["posterior"].to_dataset())
    elpd_p, pareto_k, p_loo_p = psis_loo(values, r_eff)
    counts = result["units"]["pattern_count"].values.astype(float)
    units = counts.sum()
    elpd = float(np.sum(counts * elpd_p))
    variance = float(np.sum(counts * (elpd_p - elpd / units) ** 2) / max(units - 1, 1))
    threshold = good_k(n_samples)
    pattern = {"pattern": np.arange(len(counts))}
    return PersonLOO(
        elpd=elpd,
        se=float(np.sqrt(units * variance)),
        p=float(np.sum(counts * p_loo_p)),
        n_samples=n_samples,
        n_data_points=int(units),
        scale="log",
        warning=bool(np.any(pareto_k > threshold)),
        good_k=threshold,
        elpd_i=xr.DataArray(elpd_p.astype("float64"), dims="pattern", coords=pattern),
        pareto_k=xr.DataArray(pareto_k.astype("float64"), dims="pattern", coords=pattern),
        counts=counts.astype(np.int64),
        unit=str(result["units"].attrs["factor"]),
    )


def pointwise_loo(result: xr.DataTree) -> ELPDData:
    """PSIS-LOO of one fit, pointwise: from its log-likelihood (rebuilt where a saved
    fit left it out), or the ``loo`` group an older saved result keeps; a fit with an
    integrated intercept per unit (:func:`unit_loo`)."""
    if "units" in result.children:
        return unit_loo(result)
    result = with_log_likelihood(result)
    if "log_likelihood" in result.children:
        with warnings.catch_warnings():  # counted instead: pareto_note
            warnings.filterwarnings("ignore", message=_PARETO_WARNING, category=UserWarning)
            return az.loo(result, var_name=response_of(result), pointwise=True)
    if "loo" not in result.children:
        raise ConfigError(
            f"model {result.attrs.get('returnmodels_model')!r} has neither a log_likelihood "
            "nor a loo group, and its log-likelihood cannot be rebuilt from its posterior and "
            "cells (a fit with several observed variables, competing_outcomes), so it cannot "
            "be compared: save it with its log_likelihood (kept up to "
            "returnmodels.inference.results.LOG_LIKELIHOOD_MAX_BYTES, at any size with "
            "save_result(log_likelihood=True))"
        )
    stored = result["loo"].to_dataset()
    totals = {key: stored.attrs[key] for key in _LOO_ATTRS}
    totals["warning"] = bool(totals["warning"])
    return ELPDData(**totals, elpd_i=stored["elpd_i"], pareto_k=stored["pareto_k"])


def loo_group(result: xr.DataTree) -> xr.Dataset:
    """The pointwise PSIS-LOO results of ``result`` as a small dataset (see the module):
    from its log-likelihood, every cell at once (:func:`fast_loo`), else as
    :func:`pointwise_loo` reads them."""
    loo = fast_loo(result) if "log_likelihood" in result.children else pointwise_loo(result)
    attrs = {key: getattr(loo, key) for key in _LOO_ATTRS}
    attrs = {k: (int(v) if isinstance(v, bool | np.bool_) else v) for k, v in attrs.items()}
    return xr.Dataset(
        {"elpd_i": loo.elpd_i.astype("float64"), "pareto_k": loo.pareto_k.astype("float64")},
        attrs=attrs | {"observed": response_of(result)},
    )


def cell_table(result: xr.DataTree) -> tuple[pd.DataFrame, list[str]]:
    """``(cells, key)``: a fit's cells in the order of its log-likelihood, with their
    variables' raw values, ``trials`` and ``successes``, and ``key`` the variables that
    make a cell (a case is in the cell whose key values it has). Read from the stored
    groups alone (``constant_data``, ``observed_data``)."""
    cells = result["constant_data"].to_dataset().to_dataframe().reset_index(drop=True)
    key = [c for c in cells.columns if c != "trials"]
    observed = result["observed_data"].to_dataset()
    response = json.loads(result.attrs["returnmodels_design"])["response"]
    return cells.assign(successes=observed[response].to_numpy()), key


def refit_cells(loo: ELPDData) -> list[int]:
    """The cells whose PSIS estimate an exact refit replaced
    (:func:`returnmodels.inference.kfold.reloo`); none for plain PSIS-LOO."""
    return list(loo.elpd_i.attrs.get("refit_cells", [])) if loo.elpd_i is not None else []


def fast_loo(result: xr.DataTree) -> ELPDData:
    """What :func:`pointwise_loo` gives from a log-likelihood (the same numbers, to the
    rounding of the stored float32 log-likelihood), with the Pareto smoothing and the
    pointwise sums done for every cell at once (:func:`~returnmodels.inference.psis.psis_loo`)
    instead of ArviZ's one cell at a time, which took seconds on the bundled data."""
    name = response_of(result)
    log_likelihood = result["log_likelihood"][name]
    cells = [d for d in log_likelihood.dims if d not in ("chain", "draw")]
    ordered = log_likelihood.transpose(*cells, "chain", "draw")
    n_samples = ordered.sizes["chain"] * ordered.sizes["draw"]
    values = np.ascontiguousarray(ordered.values).reshape(-1, n_samples)
    r_eff = relative_efficiency(result["posterior"].to_dataset())
    elpd_i, pareto_k, p_loo_i = psis_loo(values, r_eff)
    coords = {d: ordered.coords[d] for d in cells if d in ordered.coords}
    shape = ordered.shape[:-2]
    pointwise = {
        key: xr.DataArray(value.astype("float64").reshape(shape), dims=cells, coords=coords)
        for key, value in (("elpd_i", elpd_i), ("pareto_k", pareto_k), ("p_loo_i", p_loo_i))
    }
    elpd, se, p, _ = pointwise["elpd_i"].azstats.loo_summary(pointwise["p_loo_i"])
    threshold = good_k(n_samples)
    return ELPDData(
        elpd=elpd,
        se=se,
        p=p,
        n_samples=n_samples,
        n_data_points=int(np.prod(shape)),
        scale="log",
        warning=bool(np.any(pareto_k > threshold)),
        good_k=threshold,
        elpd_i=pointwise["elpd_i"],
        pareto_k=pointwise["pareto_k"],
    )


def pareto_note(loo: ELPDData) -> str:
    """One line for ArviZ's wall of Pareto k warnings: how many cells have k above
    :data:`PARETO_K_GOOD`, and what LOO leaves out here (a cell, not a case); after
    exact refits (``reloo``) how many cells were refit instead; per unit for a
    :class:`PersonLOO`."""
    if isinstance(loo, PersonLOO):
        return loo.note()
    k = np.asarray(loo.pareto_k)
    bad = int(np.sum(k > PARETO_K_GOOD))
    refit = refit_cells(loo)
    note = f"{bad:,} of {k.size:,} cells with Pareto k > {PARETO_K_GOOD}"
    if refit:
        note = f"{len(refit):,} of {k.size:,} cells refit exactly (Pareto k was > {PARETO_K_GOOD})"
        note += f", {bad:,} left with k > {PARETO_K_GOOD}" if bad else ""
    return f"{note}; LOO here leaves out {LOO_LEFT_OUT.replace('one', 'a', 1)}"


@dataclass(kw_only=True, repr=False)
class GroupedKFold(ELPDDataLOOKFold):
    r"""K-fold cross-validation that leaves out whole levels of a group (nationalities).

    ``elpd_i`` has one value per level :math:`j` of ``group`` (dim ``group``): the log
    predictive density of all its cells when it was held out,
    :math:`\log p(y_j \mid y_{-k(j)})`, and ``elpd`` their sum
    (:func:`returnmodels.inference.kfold.kfold` gives the estimator). ``folds`` maps each
    level to its fold; ``ess_i`` is each level's effective number of joint draws
    :math:`(\theta_s, u_{sm})` behind its Monte Carlo estimate; ``fold_passed`` says which
    folds' refits passed the convergence gate."""

    _display_kind: ClassVar[str] = "kfold"

    group: str = "nationality"
    folds: pd.Series = None
    group_draws: int = 1
    ess_i: xr.DataArray = None
    fold_passed: tuple[bool, ...] = ()
    timings: dict = None

    @property
    def left_out(self) -> str:
        """What one fold leaves out, in words."""
        per_fold = len(self.folds) / self.n_folds
        return (
            f"whole levels of {self.group} (all their cases): {self.n_folds} folds of about "
            f"{per_fold:.0f} levels each"
        )

    def note(self) -> str:
        """One line: what was left out, the folds' gate, the weakest Monte Carlo estimate."""
        failed = sum(not ok for ok in self.fold_passed)
        gate = "all folds passed the gate" if not failed else f"{failed} fold(s) failed the gate"
        return (
            f"K-fold leaves out {self.left_out}; {gate}; smallest effective number of "
            f"draws behind a level's estimate {float(np.min(self.ess_i)):,.0f}"
        )

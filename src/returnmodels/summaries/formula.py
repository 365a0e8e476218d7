r"""Summaries of a formula fit, from its draws and its design alone (no PyMC).

The linear predictor of any row :math:`r` (a cell, or a counterfactual one) at draw
:math:`s` is rebuilt from the fit's design (:meth:`FormulaDesign.encode`):

.. math:: \eta_{rs} = x_r^\top \beta_s + \sum_b z_{rb}^\top u_{b, j_b(r), s}

* :func:`formula_margins`: counterfactual predictive margins of any variable (every cell
  set to the value, averaged over cases; CALIBRATION.md's definition); for the
  competing-outcomes family, of each of the six outcomes (an ``outcome`` column);
* :func:`formula_contrast`: two levels of any group factor, every cell set to each in
  turn (with that level's group-level predictors);
* :func:`formula_new_group`: a level not in the data, by explicit choice: its effects at
  zero (``"population"``) or drawn from the fitted distribution (``"sample"``);
* :func:`formula_ppc`: observed shares by any variable or factor against replicated data.

Intervals are 94% HDIs, shares on the 0-1 scale.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, logsumexp

from returnmodels.data.vocabulary import (
    ASSISTED,
    CATEGORY_VALUES,
    NONREFERENCE_OUTCOMES,
    OUTCOMES,
    REFERENCE_OUTCOME,
)
from returnmodels.engine.design import FormulaDesign
from returnmodels.engine.terms import group_labels
from returnmodels.errors import ConfigError
from returnmodels.summaries._draws import HDI_PROB, interval, posterior_of, ppc_table

__all__ = [
    "FitDraws",
    "average_outcome_shares",
    "average_share",
    "cells_frame",
    "formula_contrast",
    "formula_group_effects",
    "formula_margins",
    "formula_new_group",
    "formula_ppc",
    "integrated_factor",
    "with_persons",
]

_CHUNK = 250  # draws at a time: rows x draws stays small
#: At most this many draws x rows at a time where all settings of a variable are
#: stacked (tens of thousands of rows): the temporaries stay in cache.
_CHUNK_ELEMENTS = 2**20
#: Up to this many common columns the linear predictor is an einsum (see :func:`_eta`).
_FEW_COLUMNS = 16


class FitDraws:
    """The posterior as arrays: beta (S, P) and each block's effects (S, J, m); of stage
    1, or with ``outcome`` of one non-reference outcome's linear predictor in stage 2
    of the competing-outcomes family (its ``competing_`` parameters)."""

    def __init__(self, result: xr.DataTree, design: FormulaDesign, outcome: str | None = None):
        posterior = posterior_of(result)
        n = posterior.sizes["sample"]
        prefix = "" if outcome is None else "competing_"

        def values(name):
            var = posterior[prefix + name]
            if outcome is not None:
                var = var.sel(nonreference_outcome=outcome)
            return var.transpose("sample", ...).values

        parts = [values(t.name).reshape(n, -1) for t in design.common]
        self.beta = np.concatenate(parts, axis=1) if parts else np.zeros((n, 0))
        self.effects = [
            np.stack(
                [values(f"{block.column_name(r)}_effect") for r in range(block.width)], axis=-1
            )
            for block in design.blocks
        ]
        self.posterior = posterior
        self.n = n
        integrated = integrated_factor(result) if outcome is None else None
        #: draws of the SD of an integrated per-unit effect (``person_id_sigma``), which
        #: the shares average over (population-averaged), or None
        self.unit_sigma = (
            None if integrated is None else posterior[f"{integrated}_sigma"].values.astype(float)
        )

    def typical_unit(self) -> FitDraws:
        """These draws with the integrated unit effect at 0: shares of a typical person
        (conditional on the person) instead of averaged over persons."""
        typical = copy.copy(self)
        typical.unit_sigma = None
        return typical

    def single_precision(self) -> FitDraws:
        """These draws in float32, for the margins' fast path (:func:`_average_shares`)."""
        single = copy.copy(self)
        single.beta = self.beta.astype(np.float32)
        single.effects = [effects.astype(np.float32) for effects in self.effects]
        if self.unit_sigma is not None:
            single.unit_sigma = self.unit_sigma.astype(np.float32)
        return single


#: What a share averages over when the fit integrated a per-unit effect out
#: (``(1 | person_id)``): every person (population-averaged) or a typical one.
PERSONS = ("averaged", "typical")


def with_persons(draws: FitDraws, persons: str) -> FitDraws:
    """``draws`` whose shares are population-averaged over the integrated person effect
    (``"averaged"``, the default: what a share of cases is, and what the study
    published) or those of a typical person, whose effect is 0 (``"typical"``: the
    coefficients' own, conditional scale). Without an integrated term both are the
    same."""
    if persons not in PERSONS:
        raise ConfigError(f"persons must be one of {list(PERSONS)}, got {persons!r}")
    return draws.typical_unit() if persons == "typical" else draws


def integrated_factor(result: xr.DataTree) -> str | None:
    """The factor of the fit's integrated ``(1 | g)`` term (``person_id``), or None."""
    described = json.loads(result.attrs.get("returnmodels_design", "{}"))
    integrated = described.get("integrated")
    return None if not integrated else integrated["factor"]


#: Gauss-Hermite nodes for averaging a share over an integrated unit effect.
_UNIT_NODES = 20


def _share(
    draws: FitDraws, eta: np.ndarray, part: slice, fast: bool = False, draws_axis: int = 0
) -> np.ndarray:
    r"""The predicted share of rows at linear predictor ``eta`` (draws in ``part`` x
    rows): :math:`\operatorname{logit}^{-1}(\eta)`, or with an integrated unit effect of
    SD :math:`\tau_s` its average over units,
    :math:`\sum_k (w_k/\sqrt\pi)\operatorname{logit}^{-1}(\eta + \sqrt2\,\tau_s x_k)`
    (Gauss-Hermite, :data:`_UNIT_NODES` nodes). ``fast``: in place, in single precision
    (:func:`_expit_in_place`); ``draws_axis``: the axis of ``eta`` that holds the draws."""
    if draws.unit_sigma is None:
        return _expit_in_place(eta) if fast else expit(eta)
    nodes, weights = np.polynomial.hermite.hermgauss(_UNIT_NODES)
    scale = np.sqrt(2.0) * draws.unit_sigma[part]
    scale = (scale[:, None] if draws_axis == 0 else scale[None, :]).astype(eta.dtype)
    out = np.zeros_like(eta)
    for node, weight in zip(nodes, weights / np.sqrt(np.pi), strict=True):
        shifted = eta + scale * eta.dtype.type(node)
        out += eta.dtype.type(weight) * (_expit_in_place(shifted) if fast else expit(shifted))
    return out


def average_outcome_shares(stages, X, encoded, weights) -> np.ndarray:
    """Per draw (S, 6): the case-weighted mean of each outcome's probability over the
    rows, p = (1 - q) softmax(0, eta_2) with q the uptake's, in ``OUTCOMES`` order."""
    uptake, others = stages
    w = np.asarray(weights, float) / np.sum(weights)
    out = np.empty((uptake.n, len(OUTCOMES)))
    order = (REFERENCE_OUTCOME, *NONREFERENCE_OUTCOMES)
    columns = [OUTCOMES.index(o) for o in order]
    for start in range(0, uptake.n, _CHUNK):
        part = slice(start, min(uptake.n, start + _CHUNK))
        q = expit(_eta(uptake, X, encoded, part))
        eta = np.stack([np.zeros_like(q), *(_eta(d, X, encoded, part) for d in others)])
        p = np.exp(eta - logsumexp(eta, axis=0)) * (1.0 - q)[None]
        out[part, OUTCOMES.index(ASSISTED)] = q @ w
        out[part, columns] = np.moveaxis(p @ w, 0, 1)
    return out


def _eta(
    draws: FitDraws,
    X,
    encoded,
    part: slice,
    skip: frozenset[int] = frozenset(),
    distinct: tuple[np.ndarray, np.ndarray] | None = None,
):
    """(draws in ``part``, rows): the linear predictor of the rows ``X`` / ``encoded``.
    Each block's effects are gathered one column at a time at the rows' levels (no
    draws x rows x width temporary), and an intercept column (all ones) is added as
    gathered, without multiplying by one. A design of a few columns (most formulas)
    is multiplied out by einsum, not BLAS: on such a skinny product BLAS's threads cost
    more than the product itself when the cores are busy (3x at load 5 on 2 cores).
    ``distinct``: ``(rows, inverse)`` with ``X == rows[inverse]`` (:func:`_distinct_rows`):
    the product is taken for the distinct rows only and gathered."""
    beta = draws.beta[part]
    rows = X if distinct is None else distinct[0]
    eta = np.einsum("sp,rp->sr", beta, rows) if X.shape[1] <= _FEW_COLUMNS else beta @ rows.T
    if distinct is not None:
        eta = np.take(eta, distinct[1], axis=1)
    for b, (index, values) in enumerate(encoded):
        if b in skip:
            continue
        effects = draws.effects[b][part]
        for r in range(values.shape[1]):
            gathered = np.take(effects[:, :, r], index, axis=1)
            column = values[:, r]
            eta += gathered if np.all(column == 1.0) else gathered * column
    return eta


def average_share(draws, X, encoded, weights, skip=frozenset(), extra=None) -> np.ndarray:
    """Per draw: the case-weighted mean of inverse-logit eta over the rows."""
    out = np.empty(draws.n)
    w = np.asarray(weights, float) / np.sum(weights)
    for start in range(0, draws.n, _CHUNK):
        part = slice(start, min(draws.n, start + _CHUNK))
        eta = _eta(draws, X, encoded, part, skip)
        if extra is not None:
            eta = eta + extra(part)
        out[part] = _share(draws, eta, part) @ w
    return out


def _distinct_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(rows, inverse)`` of the distinct rows of ``X`` when they are few (a design of
    categorical and count predictors repeats a handful of rows over thousands of
    cells), else None."""
    rows, inverse = np.unique(X, axis=0, return_inverse=True)
    return (rows, inverse.ravel()) if 4 * len(rows) <= len(X) else None


def _expit_in_place(eta: np.ndarray) -> np.ndarray:
    r"""The inverse logit of ``eta``, overwriting it: :math:`(1 + \tanh(\eta/2))/2`, which
    NumPy vectorises for float32 (8x faster than ``scipy.special.expit`` in float64)."""
    eta *= 0.5
    np.tanh(eta, out=eta)
    eta *= 0.5
    eta += 0.5
    return eta


def _average_shares(draws, X, encoded, setting, weights) -> np.ndarray:
    """Per draw and setting (S, K): the ``weights``-average of inverse-logit eta over
    the rows of each setting (``setting[r]``: the setting row ``r`` belongs to, 0..K-1,
    the rows of a setting together and in order, as :func:`_settings` stacks them), all
    settings in one pass over the draws: each chunk's weighted shares summed per
    setting's block of rows.

    The linear predictor and its inverse logit are computed in single precision and
    summed in double: a share is off by less than 1e-6 (float32's rounding of eta, a
    few units of 1e-7 at the log-odds of these data), three orders of magnitude below
    its Monte Carlo error, at a third of the time of double precision throughout. The
    arrays are rows x draws, so that every gather (a row's distinct linear predictor,
    its groups' effects) copies whole rows of draws rather than single numbers."""
    setting = np.asarray(setting)
    K = int(setting[-1]) + 1 if len(setting) else 0
    if np.any(np.diff(setting) < 0) or np.unique(setting).size != K:
        raise ValueError("the rows of each setting must be together, settings 0, 1, ... in order")
    normalised = np.asarray(weights, float) / np.bincount(setting, weights, K)[setting]
    bounds = np.searchsorted(setting, np.arange(K + 1))
    single = draws.single_precision()
    X = np.asarray(X, dtype=np.float32)
    rows, inverse = _distinct_rows(X) or (X, np.arange(len(X)))
    beta = np.ascontiguousarray(single.beta.T)  # (P, S)
    columns = [  # per block and column: that column's effects, levels x draws
        (index, values[:, r].astype(np.float32), np.ascontiguousarray(effects[:, :, r].T))
        for (index, values), effects in zip(encoded, single.effects, strict=True)
        for r in range(values.shape[1])
    ]
    out = np.empty((draws.n, K))
    chunk = max(1, min(_CHUNK, _CHUNK_ELEMENTS // max(1, len(setting))))
    for start in range(0, draws.n, chunk):
        part = slice(start, min(draws.n, start + chunk))
        eta = np.take(rows @ beta[:, part], inverse, axis=0)  # (R, draws)
        for index, values, effects in columns:
            gathered = np.take(effects[:, part], index, axis=0)
            eta += gathered if np.all(values == 1.0) else gathered * values[:, None]
        shares = _share(single, eta, part, fast=True, draws_axis=1)
        for k in range(K):  # each setting's weighted average, summed in double (BLAS)
            rows_k = slice(bounds[k], bounds[k + 1])
            out[part, k] = normalised[rows_k] @ shares[rows_k].astype(float)
    return out


def _collapsed(frame: pd.DataFrame, weights: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The distinct rows of ``frame`` and the summed ``weights`` of each. Rows alike in
    every column have the same linear predictor, so an average over the distinct rows
    with their summed weights is the average over all rows: a margin that sets a
    variable to one value averages over far fewer rows (setting ``n_procedures`` merges
    the cells that differed only in it)."""
    codes = (
        frame.groupby(list(frame.columns), sort=False, observed=True, dropna=False)
        .ngroup()
        .to_numpy()
    )
    first = np.unique(codes, return_index=True)[1]
    summed = np.bincount(codes, weights=np.asarray(weights, float), minlength=len(first))
    return frame.iloc[first].reset_index(drop=True), summed


def _settings(design: FormulaDesign, predictor: str, levels: Sequence):
    """Every cell set to each of ``levels`` of ``predictor`` in turn, collapsed
    (:func:`_collapsed`) and encoded at once: ``(X, encoded, setting, weights)`` with
    ``setting`` the index into ``levels`` of each row. Cells set to one value are alike
    where they agree in every other column, whatever the value, so the cells are
    collapsed once over the other columns and each value set on those rows."""
    cells = cells_frame(design)
    others = cells.drop(columns=predictor)
    if len(others.columns):
        rows, summed = _collapsed(others, design.trials)
    else:  # the predictor is the formula's only variable: one row of all the cases
        rows, summed = pd.DataFrame(index=[0]), np.array([float(np.sum(design.trials))])
    frames = [rows.assign(**{predictor: value})[list(cells.columns)] for value in levels]
    X, encoded = design.encode(pd.concat(frames, ignore_index=True))
    setting = np.repeat(np.arange(len(frames)), len(rows))
    return X, encoded, setting, np.tile(summed, len(frames))


def cells_frame(design: FormulaDesign) -> pd.DataFrame:
    """A copy of the design's cells, to set counterfactual values on."""
    return design.cells.copy()


def default_values(design: FormulaDesign) -> dict[str, list]:
    """Every non-grouping variable of the common terms: categorical ones at each level
    (a case-file category in the schema's order, cooperation low, medium, high; another
    in the model's, reference first), integer counts at their smallest 8 values, other
    numeric ones at five quantiles."""
    values: dict[str, list] = {}
    for column in design.cells.columns:
        if column in design.factors:
            continue
        series = design.cells[column]
        if column in design.orders:
            levels = list(design.orders[column])
            schema = [level for level in CATEGORY_VALUES.get(column, ()) if level in levels]
            values[column] = schema if len(schema) == len(levels) else levels
        elif pd.api.types.is_bool_dtype(series):
            values[column] = [False, True]
        elif pd.api.types.is_integer_dtype(series):
            values[column] = sorted(series.unique().tolist())[:8]
        elif pd.api.types.is_numeric_dtype(series):
            quantiles = np.quantile(series, [0.1, 0.25, 0.5, 0.75, 0.9])
            values[column] = [float(q) for q in quantiles]
        else:
            values[column] = sorted(series.astype(str).unique().tolist())
    return values


def formula_margins(
    result: xr.DataTree,
    values: Mapping[str, Sequence] | None = None,
    *,
    prob: float = HDI_PROB,
    persons: str = "averaged",
) -> pd.DataFrame:
    """Margins table (predictor, value, mean, hdi_lower, hdi_upper) of a formula fit;
    ``values`` maps variables to the values to set (default :func:`default_values`);
    ``persons``: over an integrated person effect, averaged or typical
    (:func:`with_persons`)."""
    design = FormulaDesign.from_result(result)
    draws = with_persons(FitDraws(result, design), persons)
    competing = design.outcome_counts is not None
    stages = (
        (draws, [FitDraws(result, design, o) for o in NONREFERENCE_OUTCOMES]) if competing else None
    )
    values = default_values(design) if values is None else values
    rows = []
    for predictor, levels in values.items():
        if predictor not in design.cells.columns or predictor in design.factors:
            raise ConfigError(
                f"no margins of {predictor!r}: the formula's variables are "
                f"{sorted(set(design.cells.columns) - design.factors)}"
            )
        levels = list(levels)
        if not levels:
            continue
        X, encoded, setting, weights = _settings(design, predictor, levels)
        if not competing:
            shares = _average_shares(draws, X, encoded, setting, weights)
        for k, value in enumerate(levels):
            row = {"predictor": predictor, "value": str(value)}
            if not competing:
                rows.append(row | interval(shares[:, k], prob))
                continue
            at = setting == k
            part = [(index[at], values[at]) for index, values in encoded]
            outcome_shares = average_outcome_shares(stages, X[at], part, weights[at])
            for j, outcome in enumerate(OUTCOMES):
                rows.append({"outcome": outcome} | row | interval(outcome_shares[:, j], prob))
    columns = ["predictor", "value", "mean", "hdi_lower", "hdi_upper"]
    return pd.DataFrame(rows, columns=["outcome", *columns] if competing else columns)


def _factor(design: FormulaDesign, group: str | None) -> str:
    factors = list(dict.fromkeys(b.factor for b in design.blocks))
    if not factors:
        raise ConfigError("this formula has no group terms")
    if group is None:
        return factors[0]
    if group not in factors:
        raise ConfigError(f"unknown group {group!r}; this formula's groups are {factors}")
    return group


def _group_level_variables(design: FormulaDesign, factor: str) -> list[str]:
    """The variables of the common terms constant within the levels of ``factor``."""
    return sorted({v for t in design.common if t.group_level_of == factor for v in t.variables})


def _as_level(design: FormulaDesign, factor: str, level: str) -> pd.DataFrame:
    """Every cell moved to ``level`` of ``factor``, with that level's group-level
    predictors."""
    variables = factor.split(":")
    labels = group_labels(design.cells, factor)
    rows = np.flatnonzero(labels.to_numpy() == str(level))
    if not len(rows):
        raise ConfigError(f"{factor!r} has no level {level!r}")
    frame = cells_frame(design)
    source = design.cells.iloc[rows[0]]
    for column in [*variables, *_group_level_variables(design, factor)]:
        frame[column] = source[column]
    return frame


def formula_contrast(
    result: xr.DataTree, a: str, b: str, *, group: str | None = None, prob: float = HDI_PROB
) -> pd.DataFrame:
    """Level ``a`` vs ``b`` of ``group`` (default: the formula's first group): the
    difference in average predicted share with every cell set to each level in turn,
    and the odds ratio at the first cell's other values. Mean, HDI, P(> 0 or > 1)."""
    design = FormulaDesign.from_result(result)
    factor = _factor(design, group)
    draws = FitDraws(result, design)
    shares, etas = [], []
    for level in (a, b):
        X, encoded = design.encode(_as_level(design, factor, level))
        shares.append(average_share(draws, X, encoded, design.trials))
        first = [(index[:1], values[:1]) for index, values in encoded]
        etas.append(_eta(draws, X[:1], first, slice(None))[:, 0])
    diff = shares[0] - shares[1]
    ratio = np.exp(etas[0] - etas[1])
    return pd.DataFrame(
        [
            {"measure": "share_difference", "group": factor, "a": a, "b": b,
             **interval(diff, prob), "p_positive": float(np.mean(diff > 0))},
            {"measure": "odds_ratio", "group": factor, "a": a, "b": b,
             **interval(ratio, prob), "p_positive": float(np.mean(ratio > 1))},
        ]
    )  # fmt: skip


def formula_group_effects(
    result: xr.DataTree, *, group: str | None = None, prob: float = HDI_PROB
) -> pd.DataFrame:
    r"""Per level of ``group`` (default: the formula's first group factor): its cases
    ``n``, the raw share, the partially pooled share (the level's own cells predicted
    with its effects, case-weighted: :math:`\sum_{c \in j} n_c \operatorname{logit}^{-1}
    \eta_c / \sum_{c \in j} n_c`) and its intercept effect :math:`u_{j}` on the logit
    scale (the block holding ``(1 | group)``; the first block of the factor when it has
    no intercept), each with mean and HDI. Stage 1 (uptake) of the competing family."""
    design = FormulaDesign.from_result(result)
    factor = _factor(design, group)
    b = next(
        (i for i, k in enumerate(design.blocks) if k.factor == factor and "Intercept" in k.columns),
        next(i for i, k in enumerate(design.blocks) if k.factor == factor),
    )
    block = design.blocks[b]
    column = block.columns.index("Intercept") if "Intercept" in block.columns else 0
    draws = FitDraws(result, design)
    X, encoded = design.encode(cells_frame(design))
    successes, trials = design.successes, design.trials
    rows = []
    for j, level in enumerate(block.levels):
        mask = block.index == j
        part = [(index[mask], values[mask]) for index, values in encoded]
        share = average_share(draws, X[mask], part, trials[mask])
        row = {factor: level, "n": int(trials[mask].sum())}
        row["raw_share"] = successes[mask].sum() / trials[mask].sum()
        row |= {f"share_{k}": v for k, v in interval(share, prob).items()}
        effect = draws.effects[b][:, j, column]
        rows.append(row | {f"effect_{k}": v for k, v in interval(effect, prob).items()})
    return pd.DataFrame(rows)


def _covariance_draws(draws: FitDraws, block, rng) -> np.ndarray:
    """One new level's effects per draw, (S, m), from N(0, D Omega D)."""
    sigma = np.stack(
        [draws.posterior[f"{block.column_name(r)}_sigma"].values for r in range(block.width)],
        axis=-1,
    )
    m = block.width
    omega = np.broadcast_to(np.eye(m), (draws.n, m, m)).copy()
    if block.correlated:
        corr = draws.posterior[f"{block.factor}_corr"].transpose("sample", ...).values
        corr = corr.reshape(draws.n, -1)
        k = 0
        for r in range(1, m):
            for c in range(r):
                omega[:, r, c] = omega[:, c, r] = corr[:, k]
                k += 1
    cov = sigma[:, :, None] * omega * sigma[:, None, :]
    L = np.linalg.cholesky(cov + 1e-12 * np.eye(m))
    return np.einsum("sij,sj->si", L, rng.standard_normal((draws.n, m)))


def formula_new_group(
    result: xr.DataTree,
    group_values: Mapping | None = None,
    *,
    new_groups: str,
    group: str | None = None,
    random_seed: int | None = None,
    prob: float = HDI_PROB,
) -> pd.DataFrame:
    """Average predicted share over all cells for a level of ``group`` not in the data.

    ``group_values`` gives its group-level predictors (required when the group has
    any); ``new_groups`` must be named: ``"population"`` (its effects at zero: the
    population-level prediction) or ``"sample"`` (one new level drawn per draw from
    the fitted distribution of the group's effects, correlations included)."""
    if new_groups not in ("population", "sample"):
        raise ConfigError(f"new_groups must be 'population' or 'sample', got {new_groups!r}")
    design = FormulaDesign.from_result(result)
    factor = _factor(design, group)
    needed = _group_level_variables(design, factor)
    missing = [v for v in needed if v not in (group_values or {})]
    if missing:
        raise ConfigError(f"give the new level's group-level predictor(s) {missing}")
    frame = cells_frame(design)
    for name, value in (group_values or {}).items():
        if name not in needed:
            raise ConfigError(f"{name!r} is not a group-level predictor of {factor!r}: {needed}")
        frame[name] = value
    draws = FitDraws(result, design)
    X, encoded = design.encode(frame)
    skip = frozenset(b for b, block in enumerate(design.blocks) if block.factor == factor)
    extra = None
    if new_groups == "sample":
        rng = np.random.default_rng(random_seed)
        new_effects = {b: _covariance_draws(draws, design.blocks[b], rng) for b in sorted(skip)}

        def extra(part):
            return sum(new_effects[b][part] @ encoded[b][1].T for b in new_effects)

    share = average_share(draws, X, encoded, design.trials, skip=skip, extra=extra)
    row = {"group": factor, "new_groups": new_groups, **(group_values or {})}
    return pd.DataFrame([row | interval(share, prob)])


def _in_natural_order(design: FormulaDesign, variables: list[str], codes, levels):
    """``(codes, levels)`` of one variable's values in its natural order: a number's
    ascending (``2`` before ``10``), a categorical's in its level order (cooperation low,
    medium, high); levels of several variables, or of text, stay sorted as text."""
    if len(variables) != 1:
        return codes, levels
    column = design.cells[variables[0]]
    schema = CATEGORY_VALUES.get(variables[0])  # a case-file category: its schema order
    if schema is not None:
        rank = {str(level): k for k, level in enumerate(schema)}
        key = [rank.get(str(level), len(rank)) for level in levels]
    elif pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        key = [float(level) for level in levels]
    else:
        return codes, levels
    order = np.argsort(np.asarray(key), kind="stable")
    position = np.empty(len(order), dtype=int)
    position[order] = np.arange(len(order))
    return position[codes], pd.Index(np.asarray(levels)[order])


def formula_ppc(
    result: xr.DataTree, by: str | None = None, *, random_seed: int = 0, prob: float = HDI_PROB
) -> pd.DataFrame:
    """``by`` level, n, observed_share, replicated mean and HDI, inside; ``by`` is any
    variable or group factor of the formula (default: its first group). With an
    integrated person effect each cell's cases are replicated at its probability
    averaged over persons (the shares' distribution; the persons' likeness within a
    cell, which widens it a little, is left out)."""
    design = FormulaDesign.from_result(result)
    by = by or _factor(design, None)
    variables = by.split(":")
    unknown = [v for v in variables if v not in design.cells.columns]
    if unknown:
        raise ConfigError(f"no variable {unknown[0]!r} in this formula's cells")
    codes, levels = pd.factorize(group_labels(design.cells, by), sort=True)
    codes, levels = _in_natural_order(design, variables, codes, levels)
    indicator = np.zeros((len(codes), len(levels)))
    indicator[np.arange(len(codes)), codes] = 1.0
    n = design.trials @ indicator
    observed = (design.successes @ indicator) / n
    draws = FitDraws(result, design)
    encoded = [(b.index, b.values) for b in design.blocks]
    rng = np.random.default_rng(random_seed)
    replicated = np.empty((draws.n, len(levels)))
    for start in range(0, draws.n, _CHUNK):
        part = slice(start, min(draws.n, start + _CHUNK))
        p = _share(draws, _eta(draws, design.X, encoded, part), part)  # over persons too
        replicated[part] = rng.binomial(design.trials, p) @ indicator / n
    return ppc_table(by, levels, n, observed, replicated, prob)

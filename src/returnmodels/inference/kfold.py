r"""Cross-validation by refitting: K-fold by group (:func:`kfold`) and exact LOO refits of
the cells PSIS cannot estimate (:func:`reloo`).

PSIS-LOO (:mod:`returnmodels.inference.loo`) leaves out one *cell* (the cases sharing
every predictor's value) and keeps its nationality in the fit. The question a new
nationality poses is another one: how well does the model predict all the cases of a
nationality it has never seen? :func:`kfold` answers it. The levels of ``group`` are
split into K folds balanced by their number of cases (:func:`group_folds`); each fold's
cases are left out, the same model is refitted on the others (the same precompiled
engine: no compile) and the held-out cells are predicted with the held-out level's
effects *integrated over the fitted population distribution*.

**The estimator.** For held-out level :math:`j` with cells :math:`c \in j` (counts
:math:`y_c` of :math:`n_c`), posterior draws :math:`\theta_s` (:math:`s = 1..S`) of the fit
without :math:`j`'s fold, and :math:`M` draws :math:`u_{sm} \sim N(0, \Sigma_s)` of a new
level's effects per posterior draw (:math:`\Sigma_s` the fitted covariance of the
group's effects at draw :math:`s`: intercept, and slopes where the model has them):

.. math::

    \widehat{\text{elpd}}_j = \log \frac{1}{SM} \sum_{s=1}^S \sum_{m=1}^M
        \prod_{c \in j} \operatorname{Bin}\!\big(y_c \mid n_c,
        \operatorname{logit}^{-1}(x_c^\top\beta_s + z_c^\top u_{sm})\big),
    \qquad \widehat{\text{elpd}}_\text{kfold} = \sum_j \widehat{\text{elpd}}_j

computed with log-sum-exp. The cells of one level *share* its effect draw :math:`u_{sm}`
(the product is inside the mean): that is the joint predictive density
:math:`p(y_j \mid y_{-k(j)})` of the level's cases, the unit a new nationality is. A mean
per cell (:math:`\sum_c \log \frac{1}{SM}\sum_{s,m} p(y_c \mid \theta_s, u_{sm})`) would
draw a fresh effect for every cell and score the cells as if they came from different
nationalities: too optimistic for a nationality whose cells all sit above the mean.
Group-level predictors stay the held-out level's own (its ``cooperation``). Levels of
any other grouping factor that the training data lack are drawn in the same way; levels
it has keep their fitted effects. The standard error is
:math:`\sqrt{J \operatorname{var}_j(\widehat{\text{elpd}}_j)}` over the :math:`J` levels.
``ess_i`` is each level's effective number of joint draws
(:math:`(\sum w)^2 / \sum w^2` of the weights inside the mean): a small one means the
level's few well-fitting effect draws carry the estimate (raise ``group_draws``).

:func:`reloo` replaces the PSIS estimate of each cell with Pareto k above
:data:`~returnmodels.inference.loo.PARETO_K_GOOD` by the exact one: the model refitted
without that cell's cases, :math:`\log \frac{1}{S}\sum_s p(y_c \mid \theta^{(-c)}_s)` (its
nationality keeps its fitted effect; a nationality whose only cell it was is new and
integrated as above).

The binary family only (registered models and formula fits); the competing-outcomes
family is refused.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats.utils import ELPDData
from scipy.special import logsumexp

from returnmodels.engine.design import FormulaDesign, stack_draws
from returnmodels.engine.log_likelihood import log_binomial_coefficient
from returnmodels.engine.terms import group_labels
from returnmodels.errors import ConfigError
from returnmodels.inference.fit import fit, formula_columns, load_data
from returnmodels.inference.loo import PARETO_K_GOOD, GroupedKFold, cell_table, pointwise_loo

__all__ = [
    "GROUP_DRAWS",
    "HeldOutPrediction",
    "MAX_REFITS",
    "group_folds",
    "heldout_elpd",
    "kfold",
    "reloo",
]

#: Draws of a new level's effects per posterior draw (``group_draws``).
GROUP_DRAWS = 100
#: At most this many exact refits by :func:`reloo` unless ``max_refits`` says more.
MAX_REFITS = 20
_SAMPLING_KEYS = (
    "sampler",
    "draws",
    "tune",
    "chains",
    "random_seed",
    "target_accept",
    "adaptation",
)


# -- folds ------------------------------------------------------------------------------


def group_folds(cases: pd.DataFrame, k: int, group: str = "nationality", random_seed: int = 0):
    """Each level of ``group`` and its fold (a Series level -> 0..k-1), balanced by cases.

    Levels are taken largest first (ties in a seeded random order) and each goes to the
    fold with the fewest cases so far (then the lowest number): every level is in exactly
    one fold, and no fold holds more cases than the lightest one plus the largest level."""
    if group not in cases.columns:
        raise ConfigError(f"no column {group!r} to make folds of; the data have {list(cases)}")
    sizes = cases[group].astype(str).value_counts()
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 2 <= k <= len(sizes):
        raise ConfigError(
            f"k must be a whole number from 2 to the number of {group} levels "
            f"({len(sizes)}), got {k!r}"
        )
    rng = np.random.default_rng(random_seed)
    shuffled = sizes.iloc[rng.permutation(len(sizes))]
    order = shuffled.sort_values(ascending=False, kind="stable")
    load = np.zeros(int(k), dtype=np.int64)
    fold = {}
    for level, n in order.items():
        target = int(np.argmin(load))
        fold[level] = target
        load[target] += n
    return pd.Series(fold, name="fold").rename_axis(group).sort_index()


# -- the held-out density ---------------------------------------------------------------


def _cholesky(sigma: np.ndarray, corr: np.ndarray | None) -> np.ndarray:
    """(S, m, m) Cholesky factors of D Omega D from SDs (S, m) and correlations
    (S, m, m) or None (independent)."""
    m = sigma.shape[1]
    omega = np.broadcast_to(np.eye(m), (len(sigma), m, m)) if corr is None else corr
    cov = sigma[:, :, None] * omega * sigma[:, None, :]
    return np.linalg.cholesky(cov + 1e-12 * np.eye(m))


def _packed_corr(values: np.ndarray, m: int) -> np.ndarray:
    """(S, m, m) correlation matrices from the packed lower triangle (S, m(m-1)/2)."""
    omega = np.broadcast_to(np.eye(m), (len(values), m, m)).copy()
    k = 0
    for r in range(1, m):
        for c in range(r):
            omega[:, r, c] = omega[:, c, r] = values[:, k]
            k += 1
    return omega


class HeldOutPrediction:
    """What the held-out density needs of a trained fit for some cells: ``eta`` (S, C)
    with every effect the fit has (new levels at zero), and ``blocks``, per grouping
    block ``(L, z, labels, new)``: the Cholesky factors (S, m, m) of its effects'
    covariance, the cells' columns (C, m), each cell's level (text) and a mask of the
    cells whose level the fit lacks."""

    def __init__(self, eta, blocks):
        self.eta = eta
        self.blocks = blocks  # [(L, z, labels, new)]


def _formula_prediction(trained: xr.DataTree, cells: pd.DataFrame) -> HeldOutPrediction:
    """A formula fit's linear predictor of ``cells`` (raw values), new levels at zero."""
    design = FormulaDesign.from_result(trained)
    posterior = stack_draws(trained["posterior"].to_dataset())
    n = posterior.sizes["sample"]
    known = cells.copy()
    for column in design.factors:  # any seen level: the columns z do not depend on it
        known[column] = design.cells[column].iloc[0]
    try:
        X, encoded = design.encode(known)
    except ConfigError as error:
        raise ConfigError(f"the held-out cells cannot be predicted by the refit: {error}") from None
    parts = [posterior[t.name].values.reshape(n, -1) for t in design.common]
    eta = np.concatenate(parts, axis=1) @ X.T if parts else np.zeros((n, len(cells)))
    blocks = []
    for block, (_, z) in zip(design.blocks, encoded, strict=True):
        labels = group_labels(cells, block.factor).to_numpy()
        index = pd.Index(block.levels).get_indexer(labels)
        names = [f"{block.column_name(r)}" for r in range(block.width)]
        effects = np.stack([posterior[f"{s}_effect"].values for s in names], axis=-1)
        seen = index >= 0
        eta[:, seen] += np.einsum("scm,cm->sc", effects[:, index[seen], :], z[seen])
        sigma = np.stack([posterior[f"{s}_sigma"].values for s in names], axis=-1)
        corr = None
        if block.correlated:
            packed = posterior[f"{block.factor}_corr"].values.reshape(n, -1)
            corr = _packed_corr(packed, block.width)
        blocks.append((_cholesky(sigma, corr), z, labels, ~seen))
    return HeldOutPrediction(eta, blocks)


def heldout_elpd(
    prediction: HeldOutPrediction,
    successes: np.ndarray,
    trials: np.ndarray,
    units: np.ndarray,
    *,
    group_draws: int = GROUP_DRAWS,
    rng: np.random.Generator,
) -> tuple[pd.Series, pd.Series]:
    """``(elpd, ess)`` per unit (a Series indexed by the unit labels, sorted): the log
    predictive density of the unit's cells jointly, new levels integrated with
    ``group_draws`` effect draws per posterior draw, shared by the unit's cells of the
    same level (the module docstring has the estimator)."""
    units = np.asarray(units).astype(str)
    y, n = np.asarray(successes, float), np.asarray(trials, float)
    constant = log_binomial_coefficient(n, y)
    S = prediction.eta.shape[0]
    elpd, ess = {}, {}
    for unit in sorted(set(units)):
        rows = np.flatnonzero(units == unit)
        new = [(L, z[rows], labels[rows], fresh[rows]) for L, z, labels, fresh in prediction.blocks]
        M = group_draws if any(fresh.any() for *_, fresh in new) else 1
        eta = np.repeat(prediction.eta[:, None, rows], M, axis=1)  # (S, M, C_j)
        for L, z, labels, fresh in new:
            if not fresh.any():
                continue
            levels, at = np.unique(labels[fresh], return_inverse=True)
            eps = rng.standard_normal((S, M, len(levels), L.shape[1]))
            u = np.einsum("sij,smkj->smki", L, eps)  # one new effect per level and draw
            eta[:, :, fresh] += np.einsum("smci,ci->smc", u[:, :, at, :], z[fresh])
        logp = y[rows] * eta - n[rows] * np.logaddexp(0.0, eta) + constant[rows]
        joint = logp.sum(axis=-1).ravel()  # (S M): the unit's cells share each draw
        elpd[unit] = float(logsumexp(joint) - np.log(joint.size))
        w = np.exp(joint - joint.max())
        ess[unit] = float(w.sum() ** 2 / np.sum(w**2))
    return pd.Series(elpd), pd.Series(ess)


# -- the fit's specification, cells and data --------------------------------------------


def _config(result: xr.DataTree) -> dict:
    if "returnmodels_config" not in result.attrs:
        raise ConfigError("not a returnmodels fit: it has no returnmodels_config attribute")
    config = json.loads(result.attrs["returnmodels_config"])
    described = json.loads(result.attrs.get("returnmodels_design", "{}"))
    if described.get("family") == "competing_outcomes":
        raise ConfigError(
            "cross-validation by refitting is for the binary models; the competing-outcomes "
            "family (six outcomes per cell) is not supported"
        )
    return config


def _refit_settings(result: xr.DataTree, config: dict, overrides: dict) -> dict:
    """The fit's own sampler settings (its engine's target_accept where the engine chose
    one), with ``overrides`` (draws, tune, chains) where given."""
    settings = {k: config["sampling"][k] for k in _SAMPLING_KEYS if k in config["sampling"]}
    used = json.loads(result.attrs.get("returnmodels_sampler", "{}"))
    if "target_accept" in used:
        settings["target_accept"] = used["target_accept"]
    return settings | {k: v for k, v in overrides.items() if v is not None}


def _refit(config: dict, data: pd.DataFrame, settings: dict) -> xr.DataTree:
    """The fit's formula (a registered model's as its preset wrote it), reference levels
    and merged priors, refitted on ``data``."""
    common = {"priors": config["priors"], "progressbar": False, **settings}
    return fit(data, formula=config["formula"], reference=config["reference"], **common)


def _checked_data(result: xr.DataTree, config: dict, data) -> pd.DataFrame:
    """``data`` as the fit read it, refused unless it is the fit's data (checksum)."""
    frame, checksum = load_data(data, formula_columns(config["formula"]))
    if checksum != result.attrs.get("returnmodels_data_sha256"):
        raise ConfigError(
            "these data are not the data of this fit (their checksum differs from the fit's "
            "returnmodels_data_sha256): cross-validation refits the model on the fit's own data"
        )
    return frame


def _check_cases(left_out: int, in_cells: int) -> None:
    """The cases left out are the cases of the held-out cells, or the cells were not
    matched to the data (a value written differently)."""
    if left_out != in_cells:
        raise ConfigError(
            f"{left_out:,} cases left out but the held-out cells hold {in_cells:,}: the fit's "
            "cells do not match these data's values"
        )


# -- K-fold -----------------------------------------------------------------------------


def kfold(
    result: xr.DataTree,
    data: pd.DataFrame | str,
    k: int = 10,
    *,
    group: str = "nationality",
    random_seed: int = 0,
    group_draws: int = GROUP_DRAWS,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
) -> GroupedKFold:
    """K-fold cross-validation of ``result`` leaving out whole levels of ``group``.

    ``data`` are the fit's data (the frame or file it was fitted to: checked by its
    checksum). The levels of ``group`` go into ``k`` folds balanced by cases
    (:func:`group_folds`, seeded by ``random_seed``); each fold is left out in turn and the
    same model (registered name or formula, references, priors, sampler settings: the
    fit's stamped configuration; ``draws``/``tune``/``chains`` may be reduced) is refitted
    on the rest, on the precompiled engine. Each held-out level's cells are scored
    jointly with its effects drawn from the refit's population distribution,
    ``group_draws`` draws per posterior draw (the module docstring has the estimator).
    ``group`` must be one of the fit's cell variables."""
    config = _config(result)
    frame = _checked_data(result, config, data)
    cells, key = cell_table(result)
    if group not in key:
        raise ConfigError(
            f"{group!r} is not one of this fit's cell variables {key}: K-fold by {group!r} "
            "needs every cell to belong to one level"
        )
    folds = group_folds(frame, k, group, random_seed)
    settings = _refit_settings(result, config, {"draws": draws, "tune": tune, "chains": chains})
    labels = frame[group].astype(str)
    cell_labels = cells[group].astype(str)
    elpd, ess, passed, timings = [], [], [], {}
    for fold in range(k):
        held = folds.index[folds.to_numpy() == fold]
        started = time.perf_counter()
        trained = _refit(config, frame.loc[~labels.isin(held).to_numpy()], settings)
        timings[f"fold{fold}_fit_s"] = time.perf_counter() - started
        passed.append(bool(json.loads(trained.attrs["returnmodels_verdict"])["passed"]))
        at = cell_labels.isin(held).to_numpy()
        _check_cases(int(labels.isin(held).sum()), int(cells["trials"].to_numpy()[at].sum()))
        try:
            prediction = _formula_prediction(trained, cells.loc[at].reset_index(drop=True))
        except ConfigError as error:
            raise ConfigError(f"fold {fold} ({list(held)[:5]}...): {error}") from None
        values, effective = heldout_elpd(
            prediction, cells["successes"].to_numpy()[at], cells["trials"].to_numpy()[at],
            cell_labels.to_numpy()[at], group_draws=group_draws,
            rng=np.random.default_rng([random_seed, fold]),
        )  # fmt: skip
        elpd.append(values)
        ess.append(effective)
    elpd_i = pd.concat(elpd).sort_index()
    ess_i = pd.concat(ess).reindex(elpd_i.index)
    n_samples = int(settings.get("draws", 1000) * settings.get("chains", 4))
    return GroupedKFold(
        elpd=float(elpd_i.sum()),
        se=float(np.sqrt(len(elpd_i) * np.var(elpd_i.to_numpy()))),
        p=float("nan"),
        n_samples=n_samples,
        n_data_points=len(elpd_i),
        scale="log",
        warning=not all(passed),
        good_k=None,
        elpd_i=xr.DataArray(elpd_i.to_numpy(), dims=group, coords={group: elpd_i.index}),
        n_folds=int(k),
        group=group,
        folds=folds,
        group_draws=int(group_draws),
        ess_i=xr.DataArray(ess_i.to_numpy(), dims=group, coords={group: ess_i.index}),
        fold_passed=tuple(passed),
        timings=timings,
    )


# -- exact refits of the cells PSIS cannot estimate -------------------------------------


def reloo(
    result: xr.DataTree,
    data: pd.DataFrame | str,
    *,
    threshold: float = PARETO_K_GOOD,
    max_refits: int = MAX_REFITS,
    group_draws: int = GROUP_DRAWS,
    random_seed: int = 0,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
) -> ELPDData:
    """PSIS-LOO of ``result`` with every cell of Pareto k above ``threshold`` refitted
    exactly: the model refitted without the cell's cases (``data``: the fit's data,
    checked by checksum) and the cell's ``elpd_i`` replaced by
    :math:`\\log \\frac{1}{S}\\sum_s p(y_c \\mid \\theta^{(-c)}_s)`. Refused (naming the
    count) when more than ``max_refits`` cells are flagged. The refit cells are listed in
    ``elpd_i.attrs["refit_cells"]`` (and their ``pareto_k`` set to 0, as ArviZ's
    ``reloo`` does); ``elpd``, ``se`` and ``p`` are recomputed."""
    config = _config(result)
    loo = pointwise_loo(result)
    k = np.asarray(loo.pareto_k)
    flagged = np.flatnonzero(k > threshold)
    if len(flagged) > max_refits:
        raise ConfigError(
            f"{len(flagged):,} cells have Pareto k > {threshold}, more than max_refits="
            f"{max_refits} exact refits (one fit each); raise max_refits to refit them all, "
            "or use K-fold cross-validation (kfold)"
        )
    if not len(flagged):
        return loo
    frame = _checked_data(result, config, data)
    cells, key = cell_table(result)
    elpd_i = np.asarray(loo.elpd_i, dtype=float).copy()
    settings = _refit_settings(result, config, {"draws": draws, "tune": tune, "chains": chains})
    for cell in flagged:
        values = cells.iloc[cell]
        inside = np.ones(len(frame), dtype=bool)
        for column in key:
            inside &= (frame[column].astype(str) == str(values[column])).to_numpy()
        _check_cases(int(inside.sum()), int(values["trials"]))
        trained = _refit(config, frame.loc[~inside], settings)
        held = cells.iloc[[cell]].reset_index(drop=True)
        value, _ = heldout_elpd(
            _formula_prediction(trained, held),
            held["successes"].to_numpy(),
            held["trials"].to_numpy(),
            np.array(["cell"]), group_draws=group_draws,
            rng=np.random.default_rng([random_seed, int(cell)]),
        )  # fmt: skip
        elpd_i[cell] = float(value.iloc[0])
    new_elpd = float(elpd_i.sum())
    pareto_k = loo.pareto_k.copy()
    pareto_k[flagged] = 0.0
    pointwise = loo.elpd_i.copy(data=elpd_i.astype(loo.elpd_i.dtype))
    pointwise.attrs["refit_cells"] = [int(c) for c in flagged]
    return ELPDData(
        elpd=new_elpd,
        se=float(np.sqrt(len(elpd_i) * np.var(elpd_i))),
        p=float(loo.p + loo.elpd - new_elpd),
        n_samples=loo.n_samples,
        n_data_points=loo.n_data_points,
        scale=loo.scale,
        warning=bool(np.any(np.asarray(pareto_k) > threshold)),
        good_k=loo.good_k,
        elpd_i=pointwise,
        pareto_k=pareto_k,
    )

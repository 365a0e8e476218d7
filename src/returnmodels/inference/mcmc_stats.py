r"""Convergence diagnostics of every parameter at once: ArviZ's numbers as array operations.

``az.summary`` and ``az.rhat``/``az.ess`` compute each diagnostic one parameter at a time
in Python (a rank transform, an FFT and Geyer's truncation loop per parameter and per
diagnostic): half a second for the 130-150 parameters of a fit of the bundled data,
more than the rest of its summary, and the convergence gate pays it again. Here the
same steps (arviz-stats' ``base/diagnostics.py``, Vehtari et al. 2021) run on a
``(parameters, chains, draws)`` array:

* **split chains**: each chain's first and last halves as two chains;
* **rank normalisation**: :math:`z = \Phi^{-1}((r - 3/8) / (S - 3/4 + 1))` of the
  average ranks :math:`r` of a parameter's :math:`S` draws (Blom);
* **R-hat**: :math:`\sqrt{(B/W + M - 1)/M}` of the split chains, the larger of the
  rank-normalised draws' and of their folded :math:`|x - \mathrm{median}|` version;
* **ESS**: :math:`S / \hat\tau` with :math:`\hat\tau = -1 + 2\sum_t \hat\rho_t` over
  Geyer's initial positive sequence of autocorrelation pairs, made monotone (a running
  minimum of the pair sums), plus the first pair's even term past the cut where it is
  positive, and :math:`\hat\tau \ge 1/\log_{10} S`; the bulk ESS of the rank-normalised
  split draws, the tail ESS the smaller of the indicators'
  :math:`I(x \le q_{p})` and :math:`I(x \le q_{1-p})` at ArviZ's interval probability;
* **MCSE** of the mean, :math:`\mathrm{sd}/\sqrt{\mathrm{ESS}_{mean}}`, and of the SD,
  from the ESS of the squared deviations.

The numbers are ArviZ's to floating-point rounding (a test compares every column of
``az.summary`` on fits of several formulas); a parameter with a NaN or too few draws
gets NaN, a constant one (a correlation's diagonal) ArviZ's values for it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from arviz_base import xarray_sel_iter
from arviz_base.labels import BaseLabeller
from scipy import stats
from scipy.fft import next_fast_len
from scipy.special import ndtri

__all__ = ["DIAGNOSTIC_COLUMNS", "STATS_COLUMNS", "diagnostics_table", "stats_table"]

#: The columns of ``az.summary(kind="stats", ci_kind="hdi")`` at 94%, in its order.
STATS_COLUMNS = ("mean", "sd", "hdi94_lb", "hdi94_ub")
#: The columns of ``az.summary(kind="diagnostics")``, in its order.
DIAGNOSTIC_COLUMNS = ("ess_bulk", "ess_tail", "r_hat", "mcse_mean", "mcse_sd")

_MIN_DRAWS = 4


def _split(draws: np.ndarray) -> np.ndarray:
    """(P, C, N) -> (P, 2C, N // 2): first halves of the chains, then last halves."""
    half = draws.shape[-1] // 2
    return np.concatenate([draws[..., :half], draws[..., -half:]], axis=1)


def _z_scale(draws: np.ndarray) -> np.ndarray:
    """Rank-normalised draws, each parameter's draws ranked together."""
    flat = draws.reshape(draws.shape[0], -1)
    ranks = stats.rankdata(flat, method="average", axis=1)
    return ndtri((ranks - 3 / 8) / (flat.shape[1] - 2 * 3 / 8 + 1)).reshape(draws.shape)


def _rhat(draws: np.ndarray) -> np.ndarray:
    n = draws.shape[-1]
    between = n * np.var(draws.mean(axis=-1), axis=-1, ddof=1)
    within = np.var(draws, axis=-1, ddof=1).mean(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def _ess(draws: np.ndarray) -> np.ndarray:
    """ESS of each parameter's (chains, draws) array (arviz-stats' ``_ess``)."""
    P, chains, n = draws.shape
    total = chains * n
    centred = draws - draws.mean(axis=-1, keepdims=True)
    size = next_fast_len(2 * n)
    spectrum = np.fft.rfft(centred, n=size, axis=-1)
    spectrum *= np.conjugate(spectrum)
    acov = np.fft.irfft(spectrum, n=size, axis=-1)[..., :n] / n
    mean_var = acov[:, :, 0].mean(axis=-1) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if chains > 1:
        var_plus = var_plus + np.var(draws.mean(axis=-1), axis=-1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]
    rho[:, 0] = 1.0
    last = max(0, -(-(n - 4) // 2))  # the pairs ArviZ's loop can reach: 0 .. last
    even, odd = rho[:, 0 : 2 * last + 1 : 2], rho[:, 1 : 2 * last + 2 : 2]
    pair = even + odd
    stops = pair <= 0
    cut = np.where(stops.any(axis=1), stops.argmax(axis=1), last)  # first pair not summed
    monotone = np.minimum.accumulate(pair, axis=1)
    summed = np.where(np.arange(pair.shape[1])[None, :] < cut[:, None], monotone, 0.0)
    at_cut = even[np.arange(P), cut]
    kept = (at_cut > 0) | (pair[np.arange(P), cut] >= 0)
    tau = -1.0 + 2.0 * summed.sum(axis=1) + np.where(kept, at_cut, 0.0)
    ess = total / np.maximum(tau, 1.0 / np.log10(total))
    ess[np.isnan(rho).any(axis=1)] = np.nan
    spread = draws.max(axis=(1, 2)) - draws.min(axis=(1, 2))
    ess[spread < np.finfo(float).resolution] = total
    return ess


def _valid(draws: np.ndarray, min_chains: int) -> np.ndarray:
    """Parameters ArviZ computes a diagnostic for: no NaN, enough chains and draws."""
    _, chains, n = draws.shape
    ok = ~np.isnan(draws).any(axis=(1, 2))
    return ok & (chains >= min_chains) & (n >= _MIN_DRAWS)


def _masked(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    return np.where(valid, values, np.nan)


def _ess_tail(draws: np.ndarray, prob: float | None = None) -> np.ndarray:
    """Tail ESS of each parameter of ``draws`` (P, chains, draws): the smaller ESS of
    the indicators below the quantiles ``1 - prob`` and ``prob`` (as ArviZ takes them),
    ``prob`` ArviZ's ``stats.ci_prob`` by default."""
    prob = az.rcParams["stats.ci_prob"] if prob is None else prob
    clean = np.nan_to_num(draws)
    flat = clean.reshape(len(clean), -1)
    per_quantile = []
    for p in sorted((prob, 1 - prob)):
        below = clean <= np.quantile(flat, p, axis=1)[:, None, None]
        per_quantile.append(_ess(_split(below.astype(float))))
    return _masked(np.minimum(*per_quantile), _valid(draws, 1))


def _mcse(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MCSE of the mean and of the SD."""
    valid = _valid(draws, 1)
    clean = np.nan_to_num(draws)
    flat = clean.reshape(len(clean), -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.std(flat, axis=1, ddof=1) / np.sqrt(_ess(_split(clean)))
        deviations = clean - flat.mean(axis=1)[:, None, None]
        squared = deviations**2
        evar = squared.reshape(len(clean), -1).mean(axis=1)
        varvar = ((squared**2).reshape(len(clean), -1).mean(axis=1) - evar**2) / _ess(
            _split(squared)
        )
        sd = np.sqrt(varvar / evar / 4)
    return _masked(mean, valid), _masked(sd, valid)


def stacked_draws(posterior: xr.Dataset) -> tuple[list[str], list[str], np.ndarray]:
    """``(labels, variables, draws (P, chains, draws))``: every element of every
    variable, labelled as ``az.summary`` labels its rows (``cooperation[high]``, ArviZ's
    ``BaseLabeller`` over ``xarray_sel_iter``, in the order of the variable's dims), with
    the name of the variable each row belongs to. The arrays are reshaped, not stacked
    by xarray (8 ms a variable)."""
    chains, draws = posterior.sizes.get("chain", 0), posterior.sizes.get("draw", 0)
    labeller = BaseLabeller()
    labels, variables, blocks = [], [], []
    for name in posterior.data_vars:
        var = posterior[name]
        other = [d for d in var.dims if d not in ("chain", "draw")]
        values = var.transpose("chain", "draw", *other).to_numpy().astype(float)
        blocks.append(np.moveaxis(values.reshape(chains, draws, -1), -1, 0))
        for var_name, sel, isel in xarray_sel_iter(var.to_dataset(), skip_dims={"chain", "draw"}):
            labels.append(labeller.make_label_flat(var_name, sel, isel))
        variables += [str(name)] * blocks[-1].shape[0]
    if not blocks:
        return [], [], np.empty((0, chains, draws))
    return labels, variables, np.concatenate(blocks)


def stats_table(posterior: xr.Dataset, prob: float = 0.94) -> pd.DataFrame:
    r"""``az.summary(kind="stats", ci_kind="hdi", ci_prob=prob)`` of ``posterior`` as
    array operations: one row per parameter element (ArviZ's labels and order), the mean,
    the SD (``ddof=1``) and the highest-density interval ArviZ's ``"nearest"`` way: of
    the :math:`S` sorted draws :math:`x_{(i)}`, the narrowest
    :math:`[x_{(i)}, x_{(i+k)}]` with :math:`k = \min(\lfloor pS \rfloor, S - 1)`.
    A parameter with a NaN draw gets NaN throughout."""
    labels, _, draws = stacked_draws(posterior)
    percent = int(prob * 100)  # as ArviZ names the columns
    columns = ["mean", "sd", f"hdi{percent}_lb", f"hdi{percent}_ub"]
    if not labels:
        return pd.DataFrame(columns=columns)
    unsorted = draws.reshape(len(labels), -1)
    flat = np.sort(unsorted, axis=1)
    size = flat.shape[1]
    k = min(int(np.floor(prob * size)), size - 1)
    start = np.argmin(flat[:, k:] - flat[:, : size - k], axis=1)
    rows = np.arange(len(labels))
    values = np.column_stack(
        [
            unsorted.mean(axis=1),
            unsorted.std(axis=1, ddof=1) if size > 1 else np.full(len(labels), np.nan),
            flat[rows, start],
            flat[rows, start + k],
        ]
    )
    values[np.isnan(flat).any(axis=1)] = np.nan
    return pd.DataFrame(values, columns=columns, index=pd.Index(labels))


#: Diagnostics computed in this process, by the content of a parameter's draws: the
#: convergence gate computes every parameter's after sampling, and the summary the fit's
#: writer makes right after asks for them again (:func:`diagnostics_table`).
_KNOWN: OrderedDict[bytes, np.ndarray] = OrderedDict()
_KNOWN_MAX = 50_000


def _content_keys(draws: np.ndarray, prob: float) -> list[bytes]:
    """A digest of each parameter's draws (values, chains and draws, the tail
    probability): equal keys, equal draws, equal diagnostics."""
    shape = np.asarray([*draws.shape[1:], prob], dtype=np.float64).tobytes()
    return [hashlib.blake2b(row.tobytes() + shape, digest_size=16).digest() for row in draws]


def _diagnostics(draws: np.ndarray, prob: float) -> np.ndarray:
    """(P, 5): :data:`DIAGNOSTIC_COLUMNS` of each parameter of ``draws``."""
    split = _split(np.nan_to_num(draws))
    z = _z_scale(split)  # the bulk R-hat's and the bulk ESS's
    folded = np.abs(split - np.median(split.reshape(len(split), -1), axis=1)[:, None, None])
    mcse_mean, mcse_sd = _mcse(draws)
    r_hat = _masked(np.maximum(_rhat(z), _rhat(_z_scale(folded))), _valid(draws, 2))
    bulk = _masked(_ess(z), _valid(draws, 1))
    return np.column_stack([bulk, _ess_tail(draws, prob), r_hat, mcse_mean, mcse_sd])


def diagnostics_table(posterior: xr.Dataset) -> pd.DataFrame:
    """``az.summary(kind="diagnostics")`` of ``posterior``: one row per parameter element
    (ArviZ's labels and order), :data:`DIAGNOSTIC_COLUMNS`, and the ``variable`` each
    row belongs to. A parameter whose draws were diagnosed before in this process (by
    the gate, before the summary) is not computed again."""
    labels, variables, draws = stacked_draws(posterior)
    if not labels:
        return pd.DataFrame(columns=[*DIAGNOSTIC_COLUMNS, "variable"])
    draws = np.ascontiguousarray(draws)
    prob = float(az.rcParams["stats.ci_prob"])
    keys = _content_keys(draws, prob)
    missing = [i for i, key in enumerate(keys) if key not in _KNOWN]
    if missing:
        for i, row in zip(missing, _diagnostics(draws[missing], prob), strict=True):
            _KNOWN[keys[i]] = row
        while len(_KNOWN) > _KNOWN_MAX:
            _KNOWN.popitem(last=False)
    values = np.stack([_KNOWN[key] for key in keys])
    table = pd.DataFrame(values, columns=list(DIAGNOSTIC_COLUMNS), index=pd.Index(labels))
    return table.assign(variable=variables)

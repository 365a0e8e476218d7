r"""Fit a formula model with one precompiled sampler: the structure enters as data.

Every binomial-logit mixed model that :mod:`returnmodels.models.formula` can describe
shares one log density, written once in PyTensor over a flat parameter vector

.. math::

    \theta = (\beta_{1..P},\ \log\sigma_{1..S},\ \operatorname{atanh} w_{1..R},\ z_{1..Q})

and data arrays that carry the model's structure: the common design matrix, each cell's
group levels and slope values as index and value tables (``Zidx``, ``Zval``), the
Cholesky factors' layout as index pairs, and the priors. The model is, as written by brms and
rstanarm (non-centred):

.. math::

    u_{b\cdot j} = \operatorname{diag}(\sigma_b)\, L_b\, z_{bj}, \quad z \sim \mathcal N(0, I),
    \quad L_b L_b^\top = \Omega_b \sim \operatorname{LKJ}(\eta_b),

with :math:`L_b` built from canonical partial correlations :math:`w = \tanh(\cdot)` as
Stan's ``cholesky_factor_corr`` (its Jacobian and the LKJ density on the Cholesky factor
are one weighted sum of :math:`\log(1 - w^2)` terms, the weights being data). A block's
intercepts that their own data identify well are sampled centred,
:math:`a_j \sim \mathcal N(G_j \beta, \sigma)` with :math:`u_j = a_j - G_j\beta` (the same
model, a shift of Jacobian 1; :func:`returnmodels.models.formula.centred`). A centred
level nested in another (``(1 | region/nationality)``, nesting read from the data) is
centred at its parent level's effect as well, :math:`a_j \sim \mathcal N(G_j\beta +
u_{p(j)}, \sigma)` (hierarchical centring), the parent levels being non-centred; which
level is centred at which is data too (``nest``, ``nest_weight``). Beside crossed
blocks, theta's intercept is the model's plus the crossed blocks' mean effects
(:func:`_shear`; ``shear``, ``shear_weight``, ``shear_column``), again a shift of
Jacobian 1.

Because no size or index is a graph constant, the graph is the same for every formula of
a family: PyTensor compiles it to numba once, numba caches it on disk (``~/.pytensor``),
and so does the nutpie C callback around it (:mod:`returnmodels.inference.compiled`'s
machinery). A new formula, or new data, in a process that has fitted one before
compiles nothing; in a new process it loads the compiled code from the cache. Each
family (binomial, multinomial) has two graphs: the general one, and a lean one without
the machinery of correlated and nested blocks for the designs that have neither
(:func:`needs_general`), as fast per gradient as the registered templates.

A ``(1 | g)`` term integrated out (:mod:`returnmodels.models.integrated`: ``(1 |
person_id)``) adds one SD, the last of sigma, and no effects; the cases then enter as
the units' outcome patterns (``unit_entry``, ``unit_count``) under Gauss-Hermite nodes
and weights (``gh``), all data, in a third graph per family (:func:`_unit_likelihood`)
so that formulas without such a term run exactly the graphs they ran before.

The likelihood's gradient with respect to the linear predictor is written by hand, so
that one pass over the cells computes both the log-likelihood and its gradient (one
exponential and one logarithm a cell); autodiff takes the rest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import xarray as xr
from nutpie import compile_pymc as nutpie_pymc
from pytensor.gradient import disconnected_grad
from scipy.special import roots_hermite

from returnmodels.data.vocabulary import COMPETING_OUTCOMES, OUTCOMES
from returnmodels.errors import ConfigError
from returnmodels.inference.compiled import array_expression, compile_callbacks, library_versions
from returnmodels.inference.log_likelihood import formula_log_likelihood
from returnmodels.inference.log_prior import formula_log_prior
from returnmodels.models.formula import (
    FormulaDesign,
    centred,
    mean_ridge,
    nesting_parent,
    pooled_probabilities,
    prior_of,
)

__all__ = [
    "ENGINE_VERSION",
    "FormulaModel",
    "compile_formula_model",
    "complete_formula_result",
    "crossed_ridge",
    "engine_inputs",
    "has_units",
    "log_density",
    "needs_general",
]

#: Bump when the graph or the callback template changes.
ENGINE_VERSION = 7

_SD_KINDS = {"HalfNormal": 0, "Exponential": 1, "HalfStudentT": 2}

#: The engine's data arrays, in the order the compiled function takes them. M is the
#: number of linear predictors (1 binary, one per non-reference outcome otherwise):
#: every parameter block of theta holds M copies, predictor-major.
INPUTS: tuple[tuple[str, str, int], ...] = (
    ("sizes", "int64", 1),  # P, S, R, Q, n_pairs, M
    ("Xt", "float64", 2),  # (P, C) common columns, transposed: X column-major
    ("coef_prior", "float64", 2),  # (P, 3): nu (inf: Normal), mu, sigma
    ("sd_prior", "float64", 2),  # (S, 3): kind, scale (sigma or 1/lam), nu
    ("counts", "float64", 2),  # (C, M) cases of each linear predictor's category
    ("trials", "float64", 1),  # (C,) cases in all (the reference: the rest)
    ("Zidx", "int64", 2),  # (C, K) index into u
    ("Zval", "float64", 2),  # (C, K) value multiplying it
    ("w_weight", "float64", 1),  # (R,) weight of log(1 - w_r^2) in the log density
    ("diag", "int64", 2),  # (2, .) log L_ss += 1/2 log(1 - w_r^2) for pairs (s, r)
    ("off_w", "int64", 1),  # (E,) the w of off-diagonal Cholesky entry e
    ("shortening", "int64", 2),  # (2, .) log L_e += 1/2 log(1 - w_r^2) for pairs (e, r)
    ("off", "int64", 2),  # (4, T) u[dest] += sigma[sd] L_off[entry] z_eff[src]: rows
    #                        dest, src, entry, sd
    ("noncentred", "float64", 2),  # (M, Q) 1 non-centred, 0 centred
    ("G_index", "int64", 2),  # (2, .) mean[level] += G_value beta[column]: the mean of
    ("G_value", "float64", 1),  # a centred level (its intercept and group predictors)
    ("level_sd", "int64", 1),  # (Q,) the column (SD) of u_q
    ("nest", "int64", 2),  # (2, N) a centred level nested in another, that parent level
    ("nest_weight", "float64", 2),  # (M, N) 1: centred at the parent
    ("pairs", "int64", 2),  # (3, .) omega[pair] += L[left] * L[right], L = (diag, off)
    ("shear", "int64", 1),  # (H,) the effects whose mean the intercept gives up
    ("shear_weight", "float64", 1),  # (H,) 1 / (levels of the effect's block)
    ("shear_column", "float64", 1),  # (P,) 1 at the intercept's column (0s: no shear)
    ("order", "int64", 1),  # the expanded draw: its parameters in the layout's order
    # an intercept integrated out (models.integrated), empty without one; its SD is the
    # last of sigma. Few arrays: the callback passes them all as arguments, and numba
    # cannot compile a call of more than 30 (Python builds it as a list)
    ("gh", "float64", 2),  # (2, K) sqrt(2) x_k and log(w_k / sqrt(pi)): Gauss-Hermite
    ("unit_entry", "int64", 2),  # (3, E) each pattern entry's cell, pattern, 2 y - 1
    ("unit_count", "float64", 1),  # (N_p,) units of each pattern
)


def _prior_lp(v, beta, log_sigma):
    """log p of the coefficients (Student-t, Normal where nu is infinite) and of the SDs
    on the log scale (with its Jacobian); elementwise over a leading dim of M copies."""
    sigma = pt.exp(log_sigma)
    nu, mu, scale = (v["coef_prior"][:, i] for i in range(3))
    normal = -0.5 * pt.sqr((beta - mu) / scale) - pt.log(scale)
    nu_safe = pt.switch(pt.isinf(nu), 1.0, nu)
    student = (
        pt.gammaln((nu_safe + 1) / 2)
        - pt.gammaln(nu_safe / 2)
        - 0.5 * pt.log(nu_safe)
        - pt.log(scale)
        - (nu_safe + 1) / 2 * pt.log1p(pt.sqr((beta - mu) / scale) / nu_safe)
    )
    lp = pt.sum(pt.switch(pt.isinf(nu), normal, student))
    kind, sd_scale, sd_nu = (v["sd_prior"][:, i] for i in range(3))
    nu2 = pt.switch(pt.eq(kind, 2), sd_nu, 1.0)
    half_normal = -0.5 * pt.sqr(sigma / sd_scale) - pt.log(sd_scale)
    exponential = -sigma / sd_scale - pt.log(sd_scale)
    half_student = -(nu2 + 1) / 2 * pt.log1p(pt.sqr(sigma / sd_scale) / nu2) - pt.log(sd_scale)
    sd_lp = pt.switch(
        pt.eq(kind, 0), half_normal, pt.switch(pt.eq(kind, 1), exponential, half_student)
    )
    return lp + pt.sum(sd_lp) + pt.sum(log_sigma)


def _unit_likelihood(v, eta, sigma):
    r"""The log-likelihood of the units' outcome patterns with their intercept integrated
    out (:mod:`returnmodels.models.integrated`), and its gradients with respect to the
    cells' linear predictor and the units' SD :math:`\sigma`, by hand.

    With :math:`t_{ek} = s_e(\eta_{c_e} + \sigma\sqrt2 x_k)`, :math:`s_e = 2y_e - 1`,
    the pattern's log-likelihood at node k is :math:`\ell_{pk} = \log(w_k/\sqrt\pi) +
    \sum_{e \in p} \log\operatorname{logit}^{-1} t_{ek}`, and the log-likelihood
    :math:`\sum_p n_p \operatorname{logsumexp}_k \ell_{pk}`; its gradient with respect to
    :math:`t_{ek}` is :math:`n_p r_{pk} \operatorname{logit}^{-1}(-t_{ek})` with
    :math:`r_{p\cdot} = \operatorname{softmax}_k \ell_{p\cdot}` (the nodes' posterior
    weights), times :math:`s_e` for :math:`\eta` and :math:`s_e\sqrt2 x_k` for
    :math:`\sigma`."""
    cell, pattern = v["unit_entry"][0], v["unit_entry"][1]
    sign, node = pt.cast(v["unit_entry"][2], "float64")[:, None], v["gh"][0][None, :]
    count = v["unit_count"]
    t = sign * (eta[cell][:, None] + sigma * node)  # (E, K)
    small = pt.exp(-pt.abs(t))
    log_expit = -(pt.maximum(-t, 0.0) + pt.log1p(small))
    per = pt.zeros((count.shape[0], node.shape[1]))[pattern].inc(log_expit) + v["gh"][1]
    top = pt.max(per, axis=1, keepdims=True)
    scaled = pt.exp(per - top)
    total = pt.sum(scaled, axis=1, keepdims=True)
    lik = pt.sum(count * (top[:, 0] + pt.log(total[:, 0])))
    expit_minus = pt.switch(t >= 0, small, 1.0) / (1.0 + small)
    d = ((count[:, None] * scaled / total)[pattern] * expit_minus) * sign  # (E, K)
    g_eta = pt.zeros(eta.shape)[cell].inc(pt.sum(d, axis=1))
    return lik, g_eta, pt.sum(d * node)


def _likelihood(v, beta, u, multinomial: bool, unit_sigma=None):
    r"""The cells' log-likelihood and its gradient with respect to the linear predictor,
    in one pass over the cells (autodiff would take a second, recomputing the
    exponentials): binomial, :math:`\sum_c y_c\eta_c - n_c \log(1 + e^{\eta_c})` with
    gradient :math:`y_c - n_c \operatorname{logit}^{-1}\eta_c`, or multinomial against the
    reference, :math:`\sum_{ck} y_{ck}\eta_{ck} - n_c \log(1 + \sum_k e^{\eta_{ck}})` with
    gradient :math:`y_{ck} - n_c\,\mathrm{softmax}_k`; :math:`\log\binom{n}{y}` left out.
    With ``unit_sigma`` (binomial only) the cells' counts are empty and the units'
    patterns (:func:`_unit_likelihood`) hold the cases.
    Returns the log-likelihood and its gradients with respect to beta, u and
    ``unit_sigma`` (0 without)."""
    # X column-major: BLAS's matrix-vector products on 29,454 x 15-17 cells took 18-22%
    # less time than on X row-major (and the same on 1,199 cells)
    X, Zidx, Zval, n = v["Xt"].T, v["Zidx"], v["Zval"], v["trials"]
    g_sigma = 0.0  # no integrated units: the multinomial family has none
    if multinomial:
        C, K = Zidx.shape
        Q, M = u.shape
        at_cells = u[Zidx.ravel()].reshape((C, K, M))
        eta = pt.dot(X, beta.T) + pt.sum(Zval[:, :, None] * at_cells, axis=1)
        top = pt.maximum(pt.max(eta, axis=1), 0.0)
        scaled = pt.exp(eta - top[:, None])
        total = pt.exp(-top) + pt.sum(scaled, axis=1)
        counts = v["counts"]
        lik = pt.sum(counts * eta) - pt.sum(n * (top + pt.log(total)))
        g = counts - (n / total)[:, None] * scaled
        spread = (Zval[:, :, None] * g[:, None, :]).reshape((C * K, M))
        g_u = pt.zeros((Q, M))[Zidx.ravel()].inc(spread)
        g_beta = pt.dot(g.T, X)
    else:
        eta = pt.dot(X, beta) + pt.sum(Zval * u[Zidx], axis=1)
        y = v["counts"][:, 0]
        small = pt.exp(-pt.abs(eta))  # exp(-|eta|): no overflow either side
        lik = pt.sum(y * eta - n * (pt.maximum(eta, 0.0) + pt.log1p(small)))
        g = y - n * pt.switch(eta >= 0, 1.0, small) / (1.0 + small)
        if unit_sigma is not None:
            unit_lik, g_eta, g_sigma = _unit_likelihood(v, eta, unit_sigma)
            lik, g = lik + unit_lik, g + g_eta
        g_u = pt.zeros(u.shape)[Zidx].inc(Zval * g[:, None])
        g_beta = pt.dot(g, X)
    return lik, g_beta, g_u, g_sigma


def _graph(multinomial: bool, general: bool = True, units: bool = False):
    """The log density, its gradient and the expansion, as PyTensor graphs: of the
    binomial family (M = 1, in vectors) or of the multinomial one (any M, the copies as
    columns); the vector form is about a sixth faster per gradient on 29,454 cells.

    ``general=False`` leaves out the machinery of correlated and nested blocks (the
    Cholesky factors, the off-diagonal terms, centring at a parent level), which PyTensor
    runs even on empty arrays, at about 1 us a gather or scatter: for designs that have
    neither (:func:`needs_general`), where its inputs are empty and it adds nothing.
    ``units=True`` adds the likelihood of an integrated intercept's patterns
    (:func:`_unit_likelihood`, binomial only), for the same reason a graph of its own."""
    theta = pt.dvector("theta")
    v = {name: pt.tensor(name, dtype=dtype, shape=(None,) * ndim) for name, dtype, ndim in INPUTS}
    P, S, R, Q, n_pairs, M = (v["sizes"][i] for i in range(6))
    if not multinomial:
        M = 1
    # theta = (beta, log sigma, y, z), each M copies, predictor-major
    b1, b2, b3 = M * P, M * (P + S), M * (P + S + R)
    b4 = M * (P + S + R + Q)
    beta, log_sigma, y, z = theta[:b1], theta[b1:b2], theta[b2:b3], theta[b3:b4]
    if multinomial:  # (Q, M) and the like: one column per linear predictor
        beta = pt.reshape(beta, (M, P))
        log_sigma, y, z = (pt.reshape(t, (M, -1)).T for t in (log_sigma, y, z))
    shape = (lambda n: (n, M)) if multinomial else (lambda n: (n,))
    lp = 0.0

    # Cholesky factors of the correlations from w (Stan's cholesky_factor_corr): column
    # s's diagonal entry is prod sqrt(1 - w^2) over the w's before it in its row, an
    # off-diagonal entry w times the same product over the w's before it. The Jacobians
    # of tanh and of the factor and the LKJ density are one weighted sum of log(1 - w^2)
    if general:
        w = pt.tanh(y)
        log1m_w2 = pt.log1p(-pt.sqr(w))
        w_weight = v["w_weight"][:, None] if multinomial else v["w_weight"]
        lp += pt.sum(w_weight * log1m_w2)
        half = 0.5 * log1m_w2
        log_diag = pt.zeros(shape(S))[v["diag"][0]].inc(half[v["diag"][1]])  # (S[, M])
        E = v["off_w"].shape[0]
        log_off = pt.zeros(shape(E))[v["shortening"][0]].inc(half[v["shortening"][1]])
        L_off = w[v["off_w"]] * pt.exp(log_off)  # (E[, M])

    # group effects: u = scale * z_eff + the off-diagonal terms, scale = sigma L_diag; a
    # non-centred level's z_eff is z, a centred level's z is its value a = mean + u,
    # z_eff = (a - mean) / scale, with mean G beta and, for a level nested in another,
    # that parent level's effect u_p = scale_p z_p (hierarchical centring; a parent
    # level is non-centred and has no G beta of its own). The mean never depends on the
    # level's own z: Jacobian 1 either way
    nc = v["noncentred"].T if multinomial else v["noncentred"][0]
    nest_weight = v["nest_weight"].T if multinomial else v["nest_weight"][0]
    log_scale = (log_sigma + log_diag if general else log_sigma)[v["level_sd"]]
    scale = pt.exp(log_scale)  # (Q[, M])
    G_value = v["G_value"][:, None] if multinomial else v["G_value"]
    level, column = v["G_index"][0], v["G_index"][1]
    mean = pt.zeros(shape(Q))[level].inc(G_value * beta.T[column])
    if general:
        child, parent = v["nest"][0], v["nest"][1]
        mean = pt.inc_subtensor(mean[child], nest_weight * (scale * z)[parent])
    z_eff = nc * z + (1 - nc) * (z - mean) / scale
    sigma = pt.exp(log_sigma)
    u = scale * z_eff
    if general:
        dest, src, entry, sd = (v["off"][i] for i in range(4))
        u = pt.inc_subtensor(u[dest], sigma[sd] * L_off[entry] * z_eff[src])
    lp += pt.sum(-0.5 * pt.sqr(z_eff)) - pt.sum((1 - nc) * log_scale)

    # the intercept beside crossed blocks (engine_inputs' shear): theta holds the
    # intercept plus the mean of their effects, and the model's intercept is that less
    # the mean; a centred level's mean above is taken at theta's value, which is the
    # same model (its a = z - c, see the module docstring)
    if general:
        column = v["shear_column"]
        if multinomial:  # beta (M, P), u (Q, M)
            shear = pt.sum(v["shear_weight"][:, None] * u[v["shear"]], axis=0)
            beta = beta - shear[:, None] * column[None, :]
        else:
            beta = beta - pt.sum(v["shear_weight"] * u[v["shear"]]) * column
    lp += _prior_lp(v, beta, log_sigma.T if multinomial else log_sigma)

    # the likelihood's gradient by hand, the rest's by autodiff
    unit_sigma = sigma[-1] if units and not multinomial else None
    lik, g_beta, g_u, g_sigma = _likelihood(v, beta, u, multinomial, unit_sigma)
    # the units' SD enters as a linear stand-in for its part of the likelihood
    sigma_in = 0.0 if unit_sigma is None else disconnected_grad(g_sigma) * unit_sigma
    if general:  # beta depends on u: the likelihood's part enters as a linear stand-in
        stand_in = pt.sum(disconnected_grad(g_u) * u) + pt.sum(disconnected_grad(g_beta) * beta)
        grad = pt.grad(lp + stand_in + sigma_in, theta)
    else:
        grad = pt.grad(lp + sigma_in, theta, known_grads={u: g_u})
        grad = pt.inc_subtensor(grad[:b1], g_beta.ravel())
    lp = lp + lik

    omega = pt.zeros(shape(n_pairs))
    if general:
        L = pt.concatenate([pt.exp(log_diag), L_off], axis=0)
        pair, left, right = (v["pairs"][i] for i in range(3))
        omega = omega[pair].inc(L[left] * L[right])
    parts = [beta, sigma.T, omega.T, u.T] if multinomial else [beta, sigma, omega, u]
    raw = pt.concatenate([part.ravel() for part in parts])
    return theta, [v[name] for name, _, _ in INPUTS], lp, grad, raw[v["order"]]


_TEMPLATE = '''\
"""nutpie C callbacks of the formula engine (returnmodels.inference.formula_fit)."""
import numba
import numpy as np
from nutpie.compile_pymc import address_as_void_pointer

logp_fn = None
expand_fn = None


def logp(dim, x_, out_, logp_, user_data_):
    try:
        table = numba.carray(user_data_, ({table_size},), np.uint64)
        x = numba.carray(x_, (dim,))
        out = numba.carray(out_, (dim,))
        logp_out = numba.carray(logp_, ())
        logp_val, grad = logp_fn(x{args})
        logp_out[()] = logp_val
        out[...] = grad
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:  # noqa: BLE001
        return 1
    return 0


def expand(dim, expanded, x_, out_, user_data_):
    try:
        table = numba.carray(user_data_, ({table_size},), np.uint64)
        x = numba.carray(x_, (dim,))
        out = numba.carray(out_, (expanded,))
        (values,) = expand_fn(x{args})
        out[...] = values
    except Exception:  # noqa: BLE001
        return -2
    return 0
'''


@dataclass
class _Engine:
    logp_fn: object
    expand_fn: object
    logp_callback: object
    expand_callback: object
    cache_status: str


#: The compiled engines of this process, by family (``binomial``, ``multinomial``) and
#: whether general (:func:`needs_general`).
_ENGINES: dict[tuple[str, bool, bool], _Engine] = {}


def _offsets() -> dict[str, int]:
    offsets, at = {}, 0
    for name, _, ndim in INPUTS:
        offsets[name] = at
        at += 1 + ndim
    return offsets


def _engine(family: str = "binomial", general: bool = True, units: bool = False) -> _Engine:
    """The compiled engine of ``family``, general or not, with an integrated intercept's
    patterns or not (:func:`_graph`): built once per process, loaded from disk when
    cached."""
    key = (family, general, units)
    if key in _ENGINES:
        return _ENGINES[key]
    theta, inputs, lp, grad, expanded = _graph(family == "multinomial", general, units)
    mode = "NUMBA"
    logp_fn = pytensor.function([theta, *inputs], [lp, grad], mode=mode, on_unused_input="ignore")
    expand_fn = pytensor.function([theta, *inputs], [expanded], mode=mode, on_unused_input="ignore")
    offsets = _offsets()
    table_size = sum(1 + ndim for _, _, ndim in INPUTS)
    args = "".join(
        ", " + array_expression(offsets[name], np.empty((0,) * ndim, dtype=dtype))
        for name, dtype, ndim in INPUTS
    )
    source = _TEMPLATE.format(table_size=table_size, args=args)
    # the graph itself is part of the key: numba caches the callbacks with the graph's
    # code linked in, so a changed graph under an unchanged ENGINE_VERSION and source
    # would otherwise run the old graph on the new data arrays
    graph = pytensor.printing.debugprint([lp, grad, expanded], file="str", print_type=True)
    digest = hashlib.sha256(
        (
            f"formula engine {ENGINE_VERSION} {family} {general} {units}\n"
            f"{library_versions()}\n{source}\n{graph}"
        ).encode()
    ).hexdigest()[:32]
    logp_callback, expand_callback, cacheable = compile_callbacks(
        f"formula_engine_{digest}", source, logp_fn, expand_fn, bool(pytensor.config.numba__cache)
    )
    hits = logp_callback.cache_hits + expand_callback.cache_hits
    status = "off" if not cacheable else ("hit" if hits == 2 else "miss")
    _ENGINES[key] = _Engine(logp_fn, expand_fn, logp_callback, expand_callback, status)
    return _ENGINES[key]


def family_of(design: FormulaDesign) -> str:
    """The engine a design is fitted with: ``multinomial`` for a stage with a leading
    outcome dim, else ``binomial``."""
    return "binomial" if design.lead is None else "multinomial"


def crossed_ridge(arrays: dict[str, np.ndarray]) -> bool:
    """Whether a crossed block that gives its mean to the intercept (:func:`_shear`) has
    centred levels, levels its data pin down: their mean is left to their prior, so they
    move together, a correlation a diagonal mass matrix pays for
    (:func:`returnmodels.models.formula.mean_ridge`) and a low-rank one learns."""
    return bool((arrays["noncentred"][:, arrays["shear"]] == 0).any())


def needs_general(arrays: dict[str, np.ndarray]) -> bool:
    """Whether a design's engine inputs (:func:`engine_inputs`) need the general engine:
    a correlated block (w's to sample), a level centred at its parent level, or crossed
    blocks whose mean the intercept takes in (:func:`_shear`)."""
    return bool(arrays["sizes"][2] > 0 or arrays["nest"].shape[1] > 0 or arrays["shear"].size > 0)


# ---------------------------------------------------------------- the structure as data


@dataclass(frozen=True)
class Layout:
    """Where each named parameter sits in the expanded draw: ``(name, slice, shape)``,
    its dims, the coords, and ``order``: the positions in the engine's raw expansion
    (beta, sigma, correlations, effects; each M copies) of the expanded draw."""

    names: list[str]
    slices: list[slice]
    shapes: list[tuple[int, ...]]
    dims: dict[str, tuple[str, ...]]
    coords: dict[str, list[str]]
    n_dim: int
    n_expanded: int
    order: np.ndarray


def _sd_row(spec: dict) -> tuple[float, float, float]:
    kind = _SD_KINDS[spec["dist"]]
    scale = 1.0 / spec["lam"] if spec["dist"] == "Exponential" else spec["sigma"]
    return (float(kind), float(scale), float(spec.get("nu", 1.0)))


def engine_inputs(
    design: FormulaDesign, likelihood_weight: int = 1
) -> tuple[dict[str, np.ndarray], Layout]:
    """The engine's data arrays for ``design``, and the layout of its draws.

    ``likelihood_weight`` (0 or 1) multiplies the log-likelihood, as rstanarm's
    ``prior_PD``: the likelihood is linear in the counts and the trials (its binomial
    or multinomial coefficient left out), so the weight multiplies both arrays, and 0
    leaves the prior alone (the prior predictive check, :mod:`.prior_predictive`) on
    the same compiled graph. Without a likelihood no level is identified by its data,
    so every level is sampled non-centred then."""
    if likelihood_weight not in (0, 1) or isinstance(likelihood_weight, bool):
        raise ConfigError(f"likelihood_weight must be 0 or 1, got {likelihood_weight!r}")
    C, P = design.X.shape
    blocks = design.blocks
    sd_rows, sd_of = [], {}
    for b, block in enumerate(blocks):
        for r in range(block.width):
            sd_of[(b, r)] = len(sd_rows)
            sd_rows.append(
                _sd_row(prior_of(design.priors, f"{design.prefix}{block.column_name(r)}_sigma"))
            )
    unit = design.integrated
    if unit is not None:  # its SD is sampled with the others; it has no levels in u
        if design.lead is not None:
            raise ConfigError("an integrated group term is for the binary family only")
        sd_rows.append(_sd_row(prior_of(design.priors, f"{design.prefix}{unit.sigma_name}")))
    S = len(sd_rows)
    q_of, Q = {}, 0  # q(b, r, j) = start of (b, r) + j
    for b, block in enumerate(blocks):
        for r in range(block.width):
            q_of[(b, r)] = Q
            Q += len(block.levels)
    # Cholesky factors: w's (canonical partial correlations) of correlated blocks; the
    # diagonal entry of every column (s) and the off-diagonal entries (e), each
    # shortened by the w's before it in its row
    cpc, R = {}, 0
    for b, block in enumerate(blocks):
        if block.correlated:
            for r in range(1, block.width):
                for c in range(r):
                    cpc[(b, r, c)] = R
                    R += 1
    diag_s, diag_w, short_e, short_w = [], [], [], []
    w_weight = np.ones(R)  # the tanh Jacobian; + the Cholesky Jacobian and the LKJ
    off_of, off_w = {}, []
    off_dest, off_src, off_entry, off_sd = [], [], [], []
    for b, block in enumerate(blocks):
        if not block.correlated:
            continue
        m, levels = block.width, np.arange(len(block.levels))
        eta = prior_of(design.priors, f"{design.prefix}{block.factor}_corr")["eta"]
        for r in range(1, m):
            shortening = [cpc[(b, r, c)] for c in range(r)]
            diag_s += [sd_of[(b, r)]] * r
            diag_w += shortening
            # log L_rr = 1/2 sum log(1 - w^2): its weight m - r - 1 + 2 (eta - 1)
            w_weight[shortening] += 0.5 * (m - r - 1 + 2.0 * (eta - 1.0))
            for c in range(r):
                off_of[(b, r, c)] = len(off_w)
                short_e += [len(off_w)] * c
                short_w += shortening[:c]
                off_w.append(cpc[(b, r, c)])
                w_weight[shortening[:c]] += 0.5  # the Jacobian of L_rc
                # u[dest] += sigma_r L_rc z_eff[src] for every level
                off_dest.append(q_of[(b, r)] + levels)
                off_src.append(q_of[(b, c)] + levels)
                off_entry.append(np.full(len(levels), off_of[(b, r, c)]))
                off_sd.append(np.full(len(levels), sd_of[(b, r)]))
    M = design.n_linear
    noncentred = np.ones((M, Q))
    G = np.zeros((Q, P))
    level_sd = np.zeros(Q, dtype=np.int64)
    for b, block in enumerate(blocks):
        for r in range(block.width):
            level_sd[q_of[(b, r)] : q_of[(b, r)] + len(block.levels)] = sd_of[(b, r)]
    pooled = pooled_probabilities(design) if blocks and likelihood_weight else None
    masks = [  # (M, J) each
        centred(design, block, pooled)
        if likelihood_weight
        else np.zeros((M, len(block.levels)), dtype=bool)
        for block in blocks
    ]
    # the intercept and group-level predictors are the mean of one block's centred levels:
    # the block whose factor has group-level predictors, else the outermost (a nested
    # factor g:h is a deviation within g), else the one whose levels would move together
    # most were their mean left to their prior (mean_ridge); other blocks' centred levels
    # are centred at zero, and crossed ones give their mean to the intercept (_shear)
    owners = {t.group_level_of for t in design.common}
    candidates = [b for b, mask in enumerate(masks) if mask.any()]

    def preference(b):
        block = blocks[b]
        ratio = mean_ridge(design, block, pooled) if len(candidates) > 1 else 0.0
        return (block.factor in owners, -block.factor.count(":"), ratio)

    shifted = max(candidates, key=preference) if candidates else None
    for b in candidates:
        block = blocks[b]
        columns = _group_level_columns(design, block) if b == shifted else []
        for j in np.flatnonzero(masks[b].any(axis=0)):
            q = q_of[(b, 0)] + j
            noncentred[masks[b][:, j], q] = 0.0
            first = np.flatnonzero(block.index == j)[0]
            G[q, columns] = design.X[first, columns]
    shear, shear_weight, shear_column = _shear(design, q_of, shifted, likelihood_weight)
    # nested levels: a centred one is centred at its parent level's effect, which is
    # sampled non-centred (formula.centred) and so is scale_p z_p
    nest_child, nest_parent, nest_weight = [], [], []
    for b, block in enumerate(blocks):
        nesting = nesting_parent(design, block)
        if nesting is not None and masks[b].any():
            p, parent_level = nesting
            at = np.flatnonzero(masks[b].any(axis=0))
            nest_child.append(q_of[(b, 0)] + at)
            nest_parent.append(q_of[(p, 0)] + parent_level[at])
            nest_weight.append(masks[b][:, at])
    nest_child, nest_parent = _cat(nest_child), _cat(nest_parent)
    nest_weight = np.concatenate(nest_weight, axis=1) if nest_weight else np.zeros((M, 0))
    if not (noncentred[:, nest_parent] == 1).all():
        raise AssertionError("a parent level must be non-centred (formula.centred)")
    # Z tables: every cell's (u index, value) for each block column
    K = sum(block.width for block in blocks)
    Zidx = np.zeros((C, K), dtype=np.int64)
    Zval = np.zeros((C, K))
    k = 0
    for b, block in enumerate(blocks):
        for r in range(block.width):
            Zidx[:, k] = q_of[(b, r)] + block.index
            Zval[:, k] = block.values[:, r]
            k += 1
    # correlations: omega_rc = sum_k L_rk L_ck, L's entries as the engine lays them out
    # (the diagonal of every column, then the off-diagonal entries)

    def entry(b, r, c):
        return sd_of[(b, r)] if r == c else S + off_of[(b, r, c)]

    pair, left, right, pair_labels = [], [], [], {}
    for b, block in enumerate(blocks):
        if not block.correlated:
            continue
        m = block.width
        for r in range(1, m):
            for c in range(r):
                p = sum(len(v) for v in pair_labels.values())
                pair_labels.setdefault(b, []).append(f"{block.columns[c]},{block.columns[r]}")
                for k2 in range(c + 1):
                    pair.append(p)
                    left.append(entry(b, r, k2))
                    right.append(entry(b, c, k2))
    n_pairs = sum(len(v) for v in pair_labels.values())
    G_index = np.array(np.nonzero(G), dtype=np.int64).reshape(2, -1)
    arrays = {
        "sizes": np.array([P, S, R, Q, n_pairs, M], dtype=np.int64),
        "Xt": design.X.T,
        "coef_prior": design.coefficient_priors,
        "sd_prior": np.array(sd_rows, dtype=float).reshape(S, 3),
        # with an integrated intercept the cases are the units' patterns, not the cells'
        "counts": likelihood_weight * (unit is None) * design.linear_counts(),
        "trials": likelihood_weight * (unit is None) * design.trials.astype(float),
        "Zidx": Zidx,
        "Zval": Zval,
        "w_weight": w_weight,
        "diag": np.array([diag_s, diag_w], dtype=np.int64).reshape(2, -1),
        "off_w": np.array(off_w, dtype=np.int64),
        "shortening": np.array([short_e, short_w], dtype=np.int64).reshape(2, -1),
        "off": np.stack([_cat(off_dest), _cat(off_src), _cat(off_entry), _cat(off_sd)]),
        "noncentred": noncentred,
        "G_index": G_index,
        "G_value": G[tuple(G_index)],
        "level_sd": level_sd,
        "nest": np.stack([nest_child, nest_parent]),
        "nest_weight": nest_weight,
        "pairs": np.array([pair, left, right], dtype=np.int64).reshape(3, -1),
        "shear": shear,
        "shear_weight": shear_weight,
        "shear_column": shear_column,
    }
    arrays |= _unit_inputs(unit, likelihood_weight)
    layout = _layout(design, S, R, Q, pair_labels)
    arrays["order"] = layout.order
    arrays = {name: np.ascontiguousarray(arrays[name], dtype=dtype) for name, dtype, _ in INPUTS}
    return arrays, layout


def _unit_inputs(unit, likelihood_weight: int) -> dict[str, np.ndarray]:
    r"""The engine arrays of an integrated intercept (``unit``, or None: all empty; its
    SD is the last column of sigma): the Gauss-Hermite nodes and weights of
    ``unit.nodes`` points (scaled to the normal: :math:`\sqrt2 x_k`,
    :math:`\log(w_k/\sqrt\pi)`), and the patterns. Without a likelihood
    (``likelihood_weight=0``) the patterns are left out: the SD follows its prior."""
    empty = {
        "gh": np.zeros((2, 0)),
        "unit_entry": np.zeros((3, 0), dtype=np.int64),
        "unit_count": np.zeros(0),
    }
    if unit is None or not likelihood_weight:
        return empty
    x, w = roots_hermite(unit.nodes)
    sign = 2 * unit.entry_y.astype(np.int64) - 1
    return {
        "gh": np.stack([np.sqrt(2.0) * x, np.log(w) - 0.5 * np.log(np.pi)]),
        "unit_entry": np.stack([unit.entry_cell, unit.entry_pattern, sign]),
        "unit_count": unit.pattern_count.astype(float),
    }


def has_units(arrays: dict[str, np.ndarray]) -> bool:
    """Whether a design's engine inputs hold an integrated intercept's patterns (the
    graph with :func:`_unit_likelihood`)."""
    return bool(arrays["unit_count"].size > 0)


def _shear(
    design: FormulaDesign, q_of: dict, shifted: int | None, likelihood_weight: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The effects whose mean the sampled intercept takes in, and the intercept's column.

    Beside crossed groups the data identify the intercept plus the mean of each block's
    effects, not each: :math:`\beta_0 + \bar u_b` is fixed while :math:`\beta_0` and
    :math:`\bar u_b` trade off along a ridge that a diagonal mass matrix crosses in tiny
    steps (on 300 persons crossed with 25 items: R-hat 1.05 on the intercept). So the
    engine samples :math:`m = \beta_0 + \sum_b \bar u_b` in the intercept's place, the
    sum over every intercept block but the one whose centred levels are centred at the
    intercept (``shifted``: its levels carry the intercept already), and the model's
    intercept is :math:`\beta_0 = m - \sum_b \bar u_b` (unweighted means over levels);
    the likelihood then sees each block's effects less their mean, whose direction the
    prior alone pins down. The shifted block's centred values are taken less the same
    sum, which cancels in their deviation from the intercept. The map is a shear of
    Jacobian 1, so the model is unchanged (``tests/inference/test_formula_fit.py``
    checks the density against the model at the expanded draw with its Jacobian).
    Only crossed blocks take part (:func:`_crossed_intercepts`): nested levels are
    centred at their parent's effect (hierarchical centring), and a parent's mean taken
    into the intercept tied every centred child to the parent's SD (``(1 |
    region/nationality)`` on the bundled data: 116 divergences and R-hat 1.05 on the
    region SD, against none without). A single group block keeps its intercept as it is
    (the lean engine), and without a likelihood (``likelihood_weight=0``) there is no
    ridge and no shear."""
    P = design.X.shape[1]
    column, start = np.zeros(P), 0
    for term in design.common:
        if term.name == "Intercept":
            column[start] = 1.0
        start += len(term.labels)
    levels, weights = [], []
    intercepts = sum(block.columns[0] == "Intercept" for block in design.blocks)
    if likelihood_weight and column.any() and intercepts > 1:
        crossed = _crossed_intercepts(design)
        for b, block in enumerate(design.blocks):
            if b != shifted and b in crossed:
                J = len(block.levels)
                levels.append(q_of[(b, 0)] + np.arange(J))
                weights.append(np.full(J, 1.0 / J))
    if not levels:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(P)
    return _cat(levels), np.concatenate(weights), column


def _crossed_intercepts(design: FormulaDesign) -> list[int]:
    """The intercept blocks that neither are nested in another block nor have one nested
    in them (:func:`returnmodels.models.formula.nesting_parent`)."""
    parents = {
        nesting[0]
        for block in design.blocks
        if (nesting := nesting_parent(design, block)) is not None
    }
    return [
        b
        for b, block in enumerate(design.blocks)
        if block.columns[0] == "Intercept"
        and b not in parents
        and nesting_parent(design, block) is None
    ]


def _cat(parts) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def _group_level_columns(design: FormulaDesign, block) -> list[int]:
    """The common columns a centred level's mean holds: the intercept and the group-level
    predictors of the block's factor."""
    columns, start = [], 0
    for term in design.common:
        width = len(term.labels)
        if term.name == "Intercept" or term.group_level_of == block.factor:
            columns += list(range(start, start + width))
        start += width
    return columns


def _layout(design: FormulaDesign, S: int, R: int, Q: int, pair_labels) -> Layout:
    """Names, shapes and dims of the draws; a multinomial stage's parameters get its
    prefix and its leading dim (one copy per non-reference outcome)."""
    P, M = design.X.shape[1], design.n_linear
    n_pairs = sum(len(v) for v in pair_labels.values())
    lead = (design.lead,) if design.lead else ()
    coords = {design.lead: list(design.lead_levels)} if design.lead else {}
    names, slices, shapes, dims, order = [], [], [], {}, []
    at = 0

    def add(name, base, width, start, dim=None, labels=None):
        """``name`` holds raw entries ``base + m * width + start + i``, i < len(labels)."""
        nonlocal at
        size = 1 if dim is None else len(labels)
        positions = base + np.arange(M)[:, None] * width + start + np.arange(size)[None, :]
        name = design.prefix + name
        own = () if dim is None else (dim,)
        names.append(name)
        slices.append(slice(at, at + M * size))
        shapes.append(((M,) if lead else ()) + ((size,) if own else ()))
        if lead or own:
            dims[name] = lead + own
        if own:
            coords[dim] = list(labels)
        order.append(positions.ravel())
        at += M * size

    start = 0
    for term in design.common:
        if term.levels is None:
            add(term.name, 0, P, start)
        else:
            add(term.name, 0, P, start, term.dim, term.levels)
        start += len(term.labels)
    s = 0
    for block in design.blocks:
        for r in range(block.width):
            add(f"{block.column_name(r)}_sigma", M * P, S, s)
            s += 1
    if design.integrated is not None:
        add(design.integrated.sigma_name, M * P, S, s)
    p = 0
    for b, block in enumerate(design.blocks):
        if b in pair_labels:
            labels = pair_labels[b]
            base = M * (P + S)
            if len(labels) == 1:
                add(f"{block.factor}_corr", base, n_pairs, p)
            else:
                add(f"{block.factor}_corr", base, n_pairs, p, f"{block.factor}_corr_pair", labels)
            p += len(labels)
    q = 0
    for block in design.blocks:
        for r in range(block.width):
            base = M * (P + S + n_pairs)
            add(f"{block.column_name(r)}_effect", base, Q, q, block.factor, block.levels)
            q += len(block.levels)
    n_dim = M * (P + S + R + Q)
    order_array = np.concatenate(order) if order else np.zeros(0, dtype=np.int64)
    return Layout(names, slices, shapes, dims, coords, n_dim, at, order_array.astype(np.int64))


@dataclass(frozen=True)
class FormulaModel(nutpie_pymc.CompiledPyMCModel):
    """nutpie's compiled model over the formula engine; ``cache_status`` as in
    :mod:`returnmodels.inference.compiled` (``process`` when this process had it) and
    ``graph``, the compiled graph that samples it (``binomial, lean`` and the like);
    ``crossed_ridge``: whether it has crossed levels that their data pin down, whose
    mean the intercept takes in (:func:`crossed_ridge`)."""

    cache_status: str = "off"
    graph: str = ""
    crossed_ridge: bool = False

    def with_data(self, **updates):
        raise NotImplementedError("build a new FormulaModel for new data")


def _initial_point(design: FormulaDesign, layout_n_dim: int, S: int):
    """Uniform(-0.5, 0.5) around the pooled log-odds of each linear predictor's category
    (the intercept) and SDs of 0.5."""
    P, M = design.X.shape[1], design.n_linear
    counts = design.linear_counts().sum(axis=0)
    reference = design.trials.sum() - counts.sum()
    log_odds = np.log((counts + 0.5) / (reference + 0.5))
    labels = design.column_labels()

    def initial(seed):
        rng = np.random.default_rng(seed)
        point = rng.uniform(-0.5, 0.5, size=layout_n_dim)
        if "Intercept" in labels:
            point[np.arange(M) * P + labels.index("Intercept")] += log_odds
        point[M * P : M * (P + S)] += np.log(0.5)
        return point

    return initial


def compile_formula_model(design: FormulaDesign, likelihood_weight: int = 1) -> FormulaModel:
    """The nutpie model of ``design``: the shared engine with this design's data table
    (``likelihood_weight=0``: its prior alone, :func:`engine_inputs`)."""
    family = family_of(design)
    arrays, layout = engine_inputs(design, likelihood_weight)
    general, units = needs_general(arrays), has_units(arrays)
    fresh = (family, general, units) not in _ENGINES
    engine = _engine(family, general, units)
    table = []
    for name, _, _ in INPUTS:
        value = arrays[name]
        value.flags.writeable = False
        table += [value.ctypes.data, *value.shape]
    user_data = np.array(table, dtype=np.uint64)
    sizes = arrays["sizes"]
    S = int(sizes[1])
    shape_info = (layout.names, layout.slices, layout.shapes)
    return FormulaModel(
        dims=layout.dims,
        _n_dim=layout.n_dim,
        _coords=layout.coords,
        _shapes=dict(zip(layout.names, layout.shapes, strict=True)),
        compiled_logp_func=engine.logp_callback,
        compiled_expand_func=engine.expand_callback,
        initial_point_func=_initial_point(design, layout.n_dim, S),
        shared_data=arrays,
        shared_var_keys={},
        user_data=user_data,
        n_expanded=layout.n_expanded,
        shape_info=shape_info,
        logp_func=engine.logp_fn,
        expand_func=engine.expand_fn,
        cache_status=engine.cache_status if fresh else "process",
        graph=f"{family}, {'general' if general else 'lean'}"
        + (f", {design.integrated.factor} integrated" if units else ""),
        crossed_ridge=crossed_ridge(arrays),
    )


def log_density(
    design: FormulaDesign, theta: np.ndarray, likelihood_weight: int = 1
) -> tuple[float, np.ndarray]:
    """The engine's log density and gradient at ``theta`` (for tests and checks)."""
    arrays, _ = engine_inputs(design, likelihood_weight)
    engine = _engine(family_of(design), needs_general(arrays), has_units(arrays))
    value, grad = engine.logp_fn(np.asarray(theta, float), *(arrays[n] for n, _, _ in INPUTS))
    return float(value), np.asarray(grad)


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


def complete_formula_result(
    results: xr.DataTree | list[xr.DataTree], designs: FormulaDesign | tuple[FormulaDesign, ...]
) -> xr.DataTree:
    """posterior and sample_stats, with log_prior, log_likelihood, observed_data and
    constant_data (``log_prior``: :func:`returnmodels.inference.log_prior.formula_log_prior`,
    what ``az.psense_summary`` reads).

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
    pointwise = (
        {}
        if design.integrated is not None
        else {"log_likelihood": xr.merge([formula_log_likelihood(posterior, d) for d in designs])}
    )
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

r"""Fit a formula model with one precompiled sampler: the structure enters as data.

Every binomial-logit mixed model that :mod:`returnmodels.models.formula` can describe
shares one log density, written once in PyTensor over a flat parameter vector

.. math::

    \theta = (\beta_{1..P},\ \log\sigma_{1..S},\ \operatorname{atanh} w_{1..R},\ z_{1..Q})

and data arrays that carry the model's structure: the common design matrix, each cell's
group levels and slope values as index and value tables (``Zidx``, ``Zval``), the
Cholesky factors' layout, and the priors. The model is, as written by brms and
rstanarm (non-centred):

.. math::

    u_{b\cdot j} = \operatorname{diag}(\sigma_b)\, L_b\, z_{bj}, \quad z \sim \mathcal N(0, I),
    \quad L_b L_b^\top = \Omega_b \sim \operatorname{LKJ}(\eta_b),

with :math:`L_b` built from canonical partial correlations :math:`w = \tanh(\cdot)` as
Stan's ``cholesky_factor_corr`` (its Jacobian and the LKJ density on the Cholesky factor
are one weighted sum of :math:`\log(1 - w^2)` terms, the weights being data). Levels of
an intercept-only block that their own data identify well are sampled centred,
:math:`a_j \sim \mathcal N(G_j \beta, \sigma)` with :math:`u_j = a_j - G_j\beta` (the same
model, a shift of Jacobian 1; :func:`returnmodels.models.formula.centred`). A centred
level nested in another (``(1 | region/nationality)``, nesting read from the data) is
centred at its parent level's effect as well, :math:`a_j \sim \mathcal N(G_j\beta +
u_{p(j)}, \sigma)` (hierarchical centring), the parent levels being non-centred; the
parent of every level is data too (``parent``, ``parent_weight``).

Because no size or index is a graph constant, the graph is the same for every formula:
PyTensor compiles it to numba once, numba caches it on disk (``~/.pytensor``), and so
does the nutpie C callback around it (:mod:`returnmodels.inference.compiled`'s
machinery). A new formula, or new data, in a process that has fitted one before
compiles nothing; in a new process it loads the compiled code from the cache.
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
from scipy.special import gammaln

from returnmodels.data.vocabulary import COMPETING_OUTCOMES, OUTCOMES
from returnmodels.inference.compiled import _array_expression, _versions, compile_callbacks
from returnmodels.models.formula import (
    FormulaDesign,
    centred,
    nesting_parent,
    pooled_probabilities,
    prior_of,
)

__all__ = [
    "ENGINE_VERSION",
    "FormulaModel",
    "compile_formula_model",
    "complete_formula_result",
    "engine_inputs",
    "formula_log_likelihood",
    "log_density",
]

#: Bump when the graph or the callback template changes.
ENGINE_VERSION = 4

_SD_KINDS = {"HalfNormal": 0, "Exponential": 1, "HalfStudentT": 2}

#: The engine's data arrays, in the order the compiled function takes them. M is the
#: number of linear predictors (1 binary, one per non-reference outcome otherwise):
#: every parameter block of theta holds M copies, predictor-major.
INPUTS: tuple[tuple[str, str, int], ...] = (
    ("sizes", "int64", 1),  # P, S, R, Q, n_pairs, M
    ("X", "float64", 2),  # (C, P) common columns
    ("coef_prior", "float64", 2),  # (P, 3): nu (inf: Normal), mu, sigma
    ("sd_prior", "float64", 2),  # (S, 3): kind, scale (sigma or 1/lam), nu
    ("counts", "float64", 2),  # (C, M) cases of each linear predictor's category
    ("trials", "float64", 1),  # (C,) cases in all (the reference: the rest)
    ("Zidx", "int64", 2),  # (C, K) index into u
    ("Zval", "float64", 2),  # (C, K) value multiplying it
    ("A", "float64", 2),  # (E, R) which w's shorten Cholesky entry e
    ("w_index", "int64", 1),  # (E,) the w of entry e, R for none (diagonal)
    ("jacobian", "float64", 1),  # (E,) weight of log-scale e in Jacobian + LKJ
    ("dest", "int64", 1),  # (T,) u[dest] += sigma[sd] * L[entry] * z[src]
    ("src", "int64", 1),
    ("entry", "int64", 1),
    ("sd", "int64", 1),
    ("noncentred", "float64", 2),  # (M, Q) 1 non-centred, 0 centred
    ("G", "float64", 2),  # (Q, P) mean of a centred level
    ("level_sd", "int64", 1),  # (Q,) the sigma of u_q
    ("parent", "int64", 1),  # (Q,) a nested level's parent level; itself for none
    ("parent_weight", "float64", 2),  # (M, Q) 1: a centred level centred at its parent
    ("pair", "int64", 1),  # (Tp,) omega[pair] += L[left] * L[right]
    ("left", "int64", 1),
    ("right", "int64", 1),
    ("order", "int64", 1),  # the expanded draw: its parameters in the layout's order
)


def _log1p_sum_exp(eta):
    """log(1 + sum_k exp eta_k) per row, without overflow."""
    top = pt.maximum(pt.max(eta, axis=1), 0.0)
    return top + pt.log(pt.exp(-top) + pt.sum(pt.exp(eta - top[:, None]), axis=1))


def _prior_lp(v, beta, log_sigma, log1m_w2):
    """log p of the coefficients (Student-t, Normal where nu is infinite), of the SDs on
    the log scale (with its Jacobian) and the w's part of the LKJ Jacobian; elementwise
    over a leading dim of M copies."""
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
    return lp + pt.sum(sd_lp) + pt.sum(log_sigma) + pt.sum(log1m_w2)


def _graph(multinomial: bool):
    """The log density, its gradient and the expansion, as PyTensor graphs: of the
    binomial family (M = 1, in vectors) or of the multinomial one (any M, the copies as
    columns); the vector form is about a sixth faster per gradient on 29,454 cells."""
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
    sigma = pt.exp(log_sigma)
    w = pt.tanh(y)
    log1m_w2 = pt.log1p(-pt.sqr(w))
    lp = _prior_lp(v, beta, log_sigma.T if multinomial else log_sigma, log1m_w2)

    # Cholesky factors of the correlations, from w (Stan's cholesky_factor_corr); every
    # gather and scatter below runs along rows with one index vector
    log_scale = 0.5 * pt.dot(v["A"], log1m_w2)  # (E[, M])
    ones = pt.ones((1, M)) if multinomial else pt.ones((1,))
    L = pt.concatenate([w, ones], axis=0)[v["w_index"]] * pt.exp(log_scale)
    jacobian = v["jacobian"][:, None] if multinomial else v["jacobian"]
    lp += pt.sum(jacobian * log_scale)

    # group effects: u = sigma * L z_eff; a non-centred level's z_eff is z, a centred
    # level's z is its value a = mean + u, z_eff = (a - mean) / sigma, with mean G beta
    # and, for a level nested in another, that parent level's effect u_p = sigma_p z_p
    # (hierarchical centring; a parent level is non-centred and has no G beta of its
    # own). The mean never depends on the level's own z: Jacobian 1 either way
    nc = v["noncentred"].T if multinomial else v["noncentred"][0]
    level_sigma = sigma[v["level_sd"]]
    weight = v["parent_weight"].T if multinomial else v["parent_weight"][0]
    mean = pt.dot(v["G"], beta.T) + weight * (level_sigma * z)[v["parent"]]  # (Q[, M])
    z_eff = nc * z + (1 - nc) * (z - mean) / level_sigma
    term = sigma[v["sd"]] * L[v["entry"]] * z_eff[v["src"]]
    u = pt.zeros((Q, M) if multinomial else (Q,))[v["dest"]].inc(term)
    lp += pt.sum(-0.5 * pt.sqr(z_eff)) - pt.sum((1 - nc) * pt.log(level_sigma))

    # the likelihood on the cells: binomial, or multinomial against the reference,
    # sum_k y_ck eta_ck - n_c log(1 + sum_k exp eta_ck); log C(n, y) is left out here
    if multinomial:
        C, K = v["Zidx"].shape
        at_cells = u[v["Zidx"].ravel()].reshape((C, K, M))
        eta = pt.dot(v["X"], beta.T) + pt.sum(v["Zval"][:, :, None] * at_cells, axis=1)
        lp += pt.sum(v["counts"] * eta) - pt.sum(v["trials"] * _log1p_sum_exp(eta))
    else:
        eta = pt.dot(v["X"], beta) + pt.sum(v["Zval"] * u[v["Zidx"]], axis=1)
        lp += pt.sum(v["counts"][:, 0] * eta - v["trials"] * pt.softplus(eta))

    grad = pt.grad(lp, theta)
    omega = pt.zeros((n_pairs, M) if multinomial else (n_pairs,))[v["pair"]].inc(
        L[v["left"]] * L[v["right"]]
    )
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


#: The compiled engines of this process, by family (``binomial``, ``multinomial``).
_ENGINES: dict[str, _Engine] = {}


def _offsets() -> dict[str, int]:
    offsets, at = {}, 0
    for name, _, ndim in INPUTS:
        offsets[name] = at
        at += 1 + ndim
    return offsets


def _engine(family: str = "binomial") -> _Engine:
    """The compiled engine of ``family``: built once per process, loaded from disk when
    cached."""
    if family in _ENGINES:
        return _ENGINES[family]
    theta, inputs, lp, grad, expanded = _graph(multinomial=family == "multinomial")
    mode = "NUMBA"
    logp_fn = pytensor.function([theta, *inputs], [lp, grad], mode=mode, on_unused_input="ignore")
    expand_fn = pytensor.function([theta, *inputs], [expanded], mode=mode, on_unused_input="ignore")
    offsets = _offsets()
    table_size = sum(1 + ndim for _, _, ndim in INPUTS)
    args = "".join(
        ", " + _array_expression(offsets[name], np.empty((0,) * ndim, dtype=dtype))
        for name, dtype, ndim in INPUTS
    )
    source = _TEMPLATE.format(table_size=table_size, args=args)
    # the graph itself is part of the key: numba caches the callbacks with the graph's
    # code linked in, so a changed graph under an unchanged ENGINE_VERSION and source
    # would otherwise run the old graph on the new data arrays
    graph = pytensor.printing.debugprint([lp, grad, expanded], file="str", print_type=True)
    digest = hashlib.sha256(
        f"formula engine {ENGINE_VERSION} {family}\n{_versions()}\n{source}\n{graph}".encode()
    ).hexdigest()[:32]
    logp_callback, expand_callback, cacheable = compile_callbacks(
        f"formula_engine_{digest}", source, logp_fn, expand_fn, bool(pytensor.config.numba__cache)
    )
    hits = logp_callback.cache_hits + expand_callback.cache_hits
    status = "off" if not cacheable else ("hit" if hits == 2 else "miss")
    _ENGINES[family] = _Engine(logp_fn, expand_fn, logp_callback, expand_callback, status)
    return _ENGINES[family]


def family_of(design: FormulaDesign) -> str:
    """The engine a design is fitted with: ``multinomial`` for a stage with a leading
    outcome dim, else ``binomial``."""
    return "binomial" if design.lead is None else "multinomial"


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


def engine_inputs(design: FormulaDesign) -> tuple[dict[str, np.ndarray], Layout]:
    """The engine's data arrays for ``design``, and the layout of its draws."""
    C, P = design.X.shape
    blocks = design.blocks
    sd_rows, sd_of = [], {}
    for b, block in enumerate(blocks):
        for r in range(block.width):
            sd_of[(b, r)] = len(sd_rows)
            sd_rows.append(
                _sd_row(prior_of(design.priors, f"{design.prefix}{block.column_name(r)}_sigma"))
            )
    S = len(sd_rows)
    q_of, Q = {}, 0  # q(b, r, j) = start of (b, r) + j
    for b, block in enumerate(blocks):
        for r in range(block.width):
            q_of[(b, r)] = Q
            Q += len(block.levels)
    # Cholesky entries: diagonals of every block, and the lower triangle of correlated ones
    entries, A_rows, w_index, jacobian = {}, [], [], []
    cpc, R = {}, 0
    for b, block in enumerate(blocks):
        m = block.width
        if block.correlated:
            for r in range(1, m):
                for c in range(r):
                    cpc[(b, r, c)] = R
                    R += 1
    for b, block in enumerate(blocks):
        m = block.width
        eta = (
            prior_of(design.priors, f"{design.prefix}{block.factor}_corr")["eta"]
            if block.correlated
            else 1.0
        )
        for r in range(m):
            for c in range(0 if block.correlated else r, r + 1):
                entries[(b, r, c)] = len(w_index)
                row = np.zeros(R)
                for c2 in range(c):
                    row[cpc[(b, r, c2)]] = 1.0
                A_rows.append(row)
                if c < r:
                    w_index.append(cpc[(b, r, c)])
                    jacobian.append(1.0)
                else:
                    w_index.append(R)  # the diagonal: no w of its own
                    jacobian.append(
                        (m - r - 1 + 2.0 * (eta - 1.0)) if (block.correlated and r > 0) else 0.0
                    )
    dest, src, entry, sd = [], [], [], []
    for b, block in enumerate(blocks):
        J = len(block.levels)
        levels = np.arange(J)
        for r in range(block.width):
            for c in range((0 if block.correlated else r), r + 1):
                dest.append(q_of[(b, r)] + levels)
                src.append(q_of[(b, c)] + levels)
                entry.append(np.full(J, entries[(b, r, c)]))
                sd.append(np.full(J, sd_of[(b, r)]))
    M = design.n_linear
    noncentred = np.ones((M, Q))
    G = np.zeros((Q, P))
    level_sd = np.zeros(Q, dtype=np.int64)
    for b, block in enumerate(blocks):
        for r in range(block.width):
            level_sd[q_of[(b, r)] : q_of[(b, r)] + len(block.levels)] = sd_of[(b, r)]
    pooled = pooled_probabilities(design) if blocks else None
    masks = [centred(design, block, pooled) for block in blocks]  # (M, J) each
    # the intercept and group-level predictors are the mean of one block's centred levels:
    # the block whose factor has group-level predictors, else the outermost (a nested
    # factor g:h is a deviation within g), else the one with most levels; other blocks'
    # centred levels are centred at zero
    owners = {t.group_level_of for t in design.common}
    candidates = [b for b, mask in enumerate(masks) if mask.any()]

    def preference(b):
        block = blocks[b]
        return (block.factor in owners, -block.factor.count(":"), len(block.levels))

    shifted = max(candidates, key=preference) if candidates else None
    for b in candidates:
        block = blocks[b]
        columns = _group_level_columns(design, block) if b == shifted else []
        for j in np.flatnonzero(masks[b].any(axis=0)):
            q = q_of[(b, 0)] + j
            noncentred[masks[b][:, j], q] = 0.0
            first = np.flatnonzero(block.index == j)[0]
            G[q, columns] = design.X[first, columns]
    # nested levels: a centred one is centred at its parent level's effect, which is
    # sampled non-centred (formula.centred) and so is sigma_p z_p
    parent = np.arange(Q, dtype=np.int64)
    parent_weight = np.zeros((M, Q))
    for b, block in enumerate(blocks):
        nesting = nesting_parent(design, block)
        if nesting is not None:
            p, parent_level = nesting
            levels = q_of[(b, 0)] + np.arange(len(block.levels))
            parent[levels] = q_of[(p, 0)] + parent_level
            parent_weight[:, levels] = masks[b]
    if not (noncentred[:, parent[parent_weight.any(axis=0)]] == 1).all():
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
                    left.append(entries[(b, r, k2)])
                    right.append(entries[(b, c, k2)])
    n_pairs = sum(len(v) for v in pair_labels.values())
    E = len(w_index)
    arrays = {
        "sizes": np.array([P, S, R, Q, n_pairs, M], dtype=np.int64),
        "X": design.X,
        "coef_prior": design.coefficient_priors,
        "sd_prior": np.array(sd_rows, dtype=float).reshape(S, 3),
        "counts": design.linear_counts(),
        "trials": design.trials.astype(float),
        "Zidx": Zidx,
        "Zval": Zval,
        "A": np.array(A_rows, dtype=float).reshape(E, R),
        "w_index": np.array(w_index, dtype=np.int64),
        "jacobian": np.array(jacobian, dtype=float),
        "dest": _cat(dest),
        "src": _cat(src),
        "entry": _cat(entry),
        "sd": _cat(sd),
        "noncentred": noncentred,
        "G": G,
        "level_sd": level_sd,
        "parent": parent,
        "parent_weight": parent_weight,
        "pair": np.array(pair, dtype=np.int64),
        "left": np.array(left, dtype=np.int64),
        "right": np.array(right, dtype=np.int64),
    }
    layout = _layout(design, S, R, Q, pair_labels)
    arrays["order"] = layout.order
    arrays = {name: np.ascontiguousarray(arrays[name], dtype=dtype) for name, dtype, _ in INPUTS}
    return arrays, layout


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
    :mod:`returnmodels.inference.compiled` (``process`` when this process had it)."""

    cache_status: str = "off"

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


def compile_formula_model(design: FormulaDesign) -> FormulaModel:
    """The nutpie model of ``design``: the shared engine with this design's data table."""
    family = family_of(design)
    fresh = family not in _ENGINES
    engine = _engine(family)
    arrays, layout = engine_inputs(design)
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
    )


def log_density(design: FormulaDesign, theta: np.ndarray) -> tuple[float, np.ndarray]:
    """The engine's log density and gradient at ``theta`` (for tests and checks)."""
    arrays, _ = engine_inputs(design)
    value, grad = _engine(family_of(design)).logp_fn(
        np.asarray(theta, float), *(arrays[n] for n, _, _ in INPUTS)
    )
    return float(value), np.asarray(grad)


def formula_log_likelihood(
    posterior: xr.Dataset, design: FormulaDesign, chunk: int = 100
) -> xr.Dataset:
    """Pointwise log-likelihood per cell and draw (float32), in NumPy, a chunk of draws
    at a time (memory: chunk x chains x cells x M doubles): binomial, or for a
    multinomial stage the multinomial of the cell's cases over its categories."""
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    M, lead = design.n_linear, (design.lead,) if design.lead else ()

    def values(name):  # (chains, draws, M, ...)
        var = posterior[design.prefix + name].transpose("chain", "draw", *lead, ...).values
        return var.reshape(chains, draws, M, -1)

    parts = [values(t.name) for t in design.common]
    beta = np.concatenate(parts, axis=-1) if parts else np.zeros((chains, draws, M, 0))
    effects = [
        [values(f"{b.column_name(r)}_effect") for r in range(b.width)] for b in design.blocks
    ]
    n, Y = design.trials.astype(float), design.linear_counts()
    reference = n - Y.sum(axis=1)
    constant = gammaln(n + 1.0) - gammaln(Y + 1.0).sum(axis=1) - gammaln(reference + 1.0)
    logp = np.empty((chains, draws, len(n)), dtype=np.float32)
    for start in range(0, draws, chunk):
        part = slice(start, min(draws, start + chunk))
        eta = np.einsum("cdmp,np->cdnm", beta[:, part], design.X)
        for block, block_effects in zip(design.blocks, effects, strict=True):
            for r, effect in enumerate(block_effects):
                at_cell = effect[:, part][..., block.index]  # (chains, d, M, C)
                eta += np.swapaxes(at_cell, -1, -2) * block.values[:, r][:, None]
        top = np.maximum(eta.max(axis=-1), 0.0)
        lse = top + np.log(np.exp(-top) + np.exp(eta - top[..., None]).sum(axis=-1))
        logp[:, part] = (Y * eta).sum(axis=-1) - n * lse + constant
    coords = {
        "chain": posterior["chain"].values,
        "draw": posterior["draw"].values,
        "cell": np.arange(len(n)),
    }
    return xr.Dataset({design.response: (("chain", "draw", "cell"), logp)}, coords=coords)


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
    """posterior and sample_stats, with log_likelihood, observed_data and constant_data.

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
    tree = xr.DataTree.from_dict(
        {
            "posterior": posterior,
            **groups,
            "log_likelihood": xr.merge([formula_log_likelihood(posterior, d) for d in designs]),
            "observed_data": observed,
            "constant_data": cells_dataset(design),
        }
    )
    tree.attrs["returnmodels_design"] = json.dumps(design.describe())
    return tree

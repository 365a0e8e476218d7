"""The arrays the compiled engine reads (:data:`INPUTS`), built from a design by
:func:`engine_inputs`: the structure of a model as data.
"""

from __future__ import annotations

import numpy as np
from scipy.special import roots_hermite

from returnmodels.engine.design import FormulaDesign
from returnmodels.engine.layout import Layout, layout_of
from returnmodels.engine.policy import (
    centring_plan,
    intercept_shear,
    mean_reflection,
    nesting_parent,
)
from returnmodels.engine.priors import prior_of, sd_row
from returnmodels.errors import ConfigError

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
    ("reflection", "float64", 2),  # (4, T) level, block, v, w: a sheared block's centred
    #                                 levels are H z (policy.mean_reflection)
    ("order", "int64", 1),  # the expanded draw: its parameters in the layout's order
    # an intercept integrated out (engine.integrated), empty without one; its SD is the
    # last of sigma. Few arrays: the callback passes them all as arguments, and numba
    # cannot compile a call of more than 30 (Python builds it as a list)
    ("gh", "float64", 2),  # (3, K) sqrt(2) x_k, log(w_k / sqrt(pi)), w_k / sqrt(pi):
    #                         Gauss-Hermite
    ("unit_entry", "int64", 2),  # (4, E) each pattern entry's cell, pattern, 2 y - 1 and
    #                                position in its pattern
    ("unit_count", "float64", 1),  # (N_p,) units of each pattern
)


def family_of(design: FormulaDesign) -> str:
    """The engine a design is fitted with: ``multinomial`` for a stage with a leading
    outcome dim, else ``binomial``."""
    return "binomial" if design.lead is None else "multinomial"


def crossed_ridge(arrays: dict[str, np.ndarray]) -> bool:
    """Whether a crossed block that gives its mean to the intercept (:func:`intercept_shear`) has
    centred levels, levels its data pin down: their mean is left to their prior, so they
    move together, a correlation a diagonal mass matrix pays for
    (:func:`returnmodels.engine.policy.mean_ridge`) unless the engine samples them
    reflected (:func:`reflected`), as it does where two or more are centred."""
    return bool((arrays["noncentred"][:, arrays["shear"]] == 0).any())


def reflected(arrays: dict[str, np.ndarray]) -> bool:
    """Whether the engine samples a sheared block's centred levels reflected
    (:func:`~returnmodels.engine.policy.mean_reflection`): their common direction, the
    ridge of :func:`crossed_ridge`, is then a coordinate of its own, which a diagonal
    mass matrix scales as it scales any other."""
    return bool(arrays["reflection"].shape[1] > 0)


def needs_general(arrays: dict[str, np.ndarray]) -> bool:
    """Whether a design's engine inputs (:func:`engine_inputs`) need the general engine:
    a correlated block (w's to sample), a level centred at its parent level, or crossed
    blocks whose mean the intercept takes in (:func:`intercept_shear`)."""
    return bool(arrays["sizes"][2] > 0 or arrays["nest"].shape[1] > 0 or arrays["shear"].size > 0)


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
                sd_row(prior_of(design.priors, f"{design.prefix}{block.column_name(r)}_sigma"))
            )
    unit = design.integrated
    if unit is not None:  # its SD is sampled with the others; it has no levels in u
        if design.lead is not None:
            raise ConfigError("an integrated group term is for the binary family only")
        sd_rows.append(sd_row(prior_of(design.priors, f"{design.prefix}{unit.sigma_name}")))
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
    masks, shifted = centring_plan(design, likelihood_weight)
    candidates = [b for b, mask in enumerate(masks) if mask.any()]
    for b in candidates:
        block = blocks[b]
        columns = _group_level_columns(design, block) if b == shifted else []
        for j in np.flatnonzero(masks[b].any(axis=0)):
            q = q_of[(b, 0)] + j
            noncentred[masks[b][:, j], q] = 0.0
            first = np.flatnonzero(block.index == j)[0]
            G[q, columns] = design.X[first, columns]
    shear, shear_weight, shear_column = intercept_shear(design, q_of, shifted, likelihood_weight)
    reflection = mean_reflection(design, q_of, shifted, masks, likelihood_weight)
    # nested levels: a centred one is centred at its parent level's effect, which is
    # sampled non-centred (policy.centred) and so is scale_p z_p
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
        raise AssertionError("a parent level must be non-centred (policy.centred)")
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
        "reflection": reflection,
    }
    arrays |= _unit_inputs(unit, likelihood_weight)
    layout = layout_of(design, S, R, Q, pair_labels)
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
        "gh": np.zeros((3, 0)),
        "unit_entry": np.zeros((4, 0), dtype=np.int64),
        "unit_count": np.zeros(0),
    }
    if unit is None or not likelihood_weight:
        return empty
    x, w = roots_hermite(unit.nodes)
    cell, pattern, sign, count = _singles_first(
        unit.entry_cell, unit.entry_pattern, 2 * unit.entry_y.astype(np.int64) - 1,
        unit.pattern_count.astype(float),
    )  # fmt: skip
    position = np.arange(len(pattern)) - np.searchsorted(pattern, pattern)
    return {
        "gh": np.stack([np.sqrt(2.0) * x, np.log(w) - 0.5 * np.log(np.pi), w / np.sqrt(np.pi)]),
        "unit_entry": np.stack([cell, pattern, sign, position]),
        "unit_count": count,
    }


def _singles_first(cell, pattern, sign, count):
    """The patterns renumbered with those of one case first (the engine counts them per
    row of its table, ``engine/graph.py``'s ``_unit_products``), each pattern's entries
    consecutive and in their order: ``(cell, pattern, sign, count)``."""
    several = np.bincount(pattern, minlength=len(count)) > 1
    order = np.argsort(several, kind="stable")  # new number -> old
    renumbered = np.empty_like(order)
    renumbered[order] = np.arange(len(order))
    pattern = renumbered[pattern]
    entries = np.argsort(pattern, kind="stable")
    return cell[entries], pattern[entries], sign[entries], count[order]


def has_units(arrays: dict[str, np.ndarray]) -> bool:
    """Whether a design's engine inputs hold an integrated intercept's patterns (the
    graph with :func:`_unit_likelihood`)."""
    return bool(arrays["unit_count"].size > 0)


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

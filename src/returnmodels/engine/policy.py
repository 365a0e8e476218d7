"""The sampling policy: which group levels the engine samples centred, the pooled
fit and the between-level variance behind that choice, nesting read from the data,
which block's centred levels carry the intercept (the mean ridge) and the shear of the
intercept beside crossed blocks. None of it changes the model, only its geometry.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from returnmodels.engine.design import FormulaDesign
from returnmodels.engine.terms import GroupBlock

#: A group level is sampled centred when its own data give its log-odds a sampling
#: variance of at most 1 / CENTRING_INFORMATION (an SD of 0.5); see ``centred``.
CENTRING_INFORMATION = 4.0


#: The pooled fit's prior SD of every coefficient, and when its Newton steps stop.
_POOLED_PRIOR_SD = 2.5
_POOLED_TOLERANCE = 1e-10
_POOLED_MAX_STEPS = 100


def pooled_probabilities(design: FormulaDesign) -> np.ndarray:
    """(C, M + 1) each cell's probabilities of the reference and of every linear
    predictor's category under the model without group effects: its common terms only,
    at the posterior mode with N(0, 2.5) priors.

    Newton's method on the (M P)-dimensional concave log posterior, its Hessian exact,
    each step halved until the log posterior rises: a handful of steps and a few
    milliseconds. (L-BFGS-B took 190 iterations on ``C(n_procedures) + gender`` of the
    bundled data, and SciPy's L-BFGS-B calls into multithreaded BLAS at every one, which
    cost 0.4-1.5 s on 2 busy cores.)"""
    X, Y = design.X, design.linear_counts()
    n = design.trials.astype(float)
    M, P = Y.shape[1], X.shape[1]
    B = np.zeros((M, P))
    value, gradient, probability = _pooled_log_posterior(B, X, Y, n)
    for _ in range(_POOLED_MAX_STEPS):
        step = np.linalg.solve(_pooled_precision(X, n, probability), gradient.ravel())
        step = step.reshape(M, P)
        size = 1.0
        while True:
            trial = _pooled_log_posterior(B + size * step, X, Y, n)
            if trial[0] >= value or size < 1e-8:
                break
            size /= 2
        B, (value, gradient, probability) = B + size * step, trial
        if np.max(np.abs(size * step)) < _POOLED_TOLERANCE:
            break
    eta = np.column_stack([np.zeros(len(n)), X @ B.T])
    return np.exp(eta - logsumexp(eta, axis=1)[:, None])


def _pooled_log_posterior(B, X, Y, n):
    """The pooled model's log posterior at coefficients ``B`` (M, P), its gradient and
    each cell's probabilities of the M categories."""
    eta = np.column_stack([np.zeros(len(n)), X @ B.T])
    lse = logsumexp(eta, axis=1)
    probability = np.exp(eta[:, 1:] - lse[:, None])
    value = np.sum(Y * eta[:, 1:]) - n @ lse - 0.5 * np.sum(B**2) / _POOLED_PRIOR_SD**2
    gradient = (Y - n[:, None] * probability).T @ X - B / _POOLED_PRIOR_SD**2
    return value, gradient, probability


def _pooled_precision(X, n, probability) -> np.ndarray:
    """(M P, M P) minus the Hessian of :func:`_pooled_log_posterior`: the multinomial's
    Fisher information sum_c n_c (diag(p_c) - p_c p_c') (x) x_c x_c', plus the prior's."""
    M, P = probability.shape[1], X.shape[1]
    precision = np.zeros((M, P, M, P))
    for m in range(M):
        for k in range(m, M):
            w = n * probability[:, m] * ((m == k) - probability[:, k])
            block = X.T @ (w[:, None] * X)
            precision[m, :, k, :] = block
            precision[k, :, m, :] = block.T
    precision = precision.reshape(M * P, M * P)
    return precision + np.eye(M * P) / _POOLED_PRIOR_SD**2


def between_level_variance(design: FormulaDesign, block: GroupBlock, pooled=None) -> np.ndarray:
    r"""(M,) a quick estimate of the variance of the block's intercepts, per linear
    predictor: DerSimonian and Laird's moment estimator on each level's log-odds
    residual against the pooled model (:func:`pooled_probabilities`),

    .. math::

        r_j = \log\frac{O_j + 1/2}{O_{j,\mathrm{ref}} + 1/2}
            - \log\frac{E_j + 1/2}{E_{j,\mathrm{ref}} + 1/2}, \qquad
        \hat\tau^2 = \max\Big(0,\ \frac{Q - (J - 1)}
            {\sum_j w_j - \sum_j w_j^2 / \sum_j w_j}\Big)

    with :math:`O, E` the observed and expected cases, :math:`w_j = 1 / v_j` and
    :math:`Q = \sum_j w_j (r_j - \bar r_w)^2`. A level's share averages over its
    cases, so where case-level predictors vary within levels the estimate is attenuated
    (about 0.75 of a 0.9 SD in the tests), never inflated. It only steers the
    parameterisation
    (:func:`centred`); the model's variance is the posterior's."""
    pooled = pooled_probabilities(design) if pooled is None else pooled
    observed, reference, variance = _level_counts(design, block)
    n = design.trials.astype(float)
    J = len(block.levels)
    expected = np.stack(
        [np.bincount(block.index, weights=n * pooled[:, k], minlength=J)
         for k in range(pooled.shape[1])],
        axis=1,
    )  # fmt: skip
    r = np.log((observed + 0.5) / (reference[:, None] + 0.5)) - np.log(
        (expected[:, 1:] + 0.5) / (expected[:, [0]] + 0.5)
    )
    w = 1.0 / variance
    mean = np.sum(w * r, axis=0) / w.sum(axis=0)
    q = np.sum(w * (r - mean) ** 2, axis=0)
    scale = w.sum(axis=0) - np.sum(w**2, axis=0) / w.sum(axis=0)
    return np.maximum(0.0, (q - (J - 1)) / scale)


def _level_counts(design: FormulaDesign, block: GroupBlock):
    """Per level: (J, M) cases of each linear predictor's category, (J,) of the
    reference, and (J, M) the sampling variance of the empirical log-odds."""
    J = len(block.levels)
    Y = design.linear_counts()
    observed = np.stack(
        [np.bincount(block.index, weights=Y[:, k], minlength=J) for k in range(Y.shape[1])],
        axis=1,
    )
    total = np.bincount(block.index, weights=design.trials.astype(float), minlength=J)
    reference = total - observed.sum(axis=1)
    variance = 1.0 / (observed + 0.5) + 1.0 / (reference[:, None] + 0.5)
    return observed, reference, variance


def nesting_parent(design: FormulaDesign, block: GroupBlock) -> tuple[int, np.ndarray] | None:
    """The block whose levels ``block``'s levels are nested in, and each level's parent
    level; None when there is none.

    Nesting is read from the data, as lme4 reads it from unique labels: an intercept
    block ``P`` is a parent of the intercept block ``block`` when every level of
    ``block`` occurs with exactly one level of ``P`` and ``P`` has fewer levels.
    ``(1 | region/nationality)`` is ``(1 | region) + (1 | region:nationality)``, and
    ``(1 | cooperation) + (1 | nationality)`` is nested in the same way when each
    nationality has one cooperation class. Of several parents (``a/b/c``) the one with
    most levels, the direct parent, is taken.
    """
    if block.columns[0] != "Intercept":
        return None
    J = len(block.levels)
    found = None
    for p, parent in enumerate(design.blocks):
        K = len(parent.levels)
        if parent is block or parent.columns[0] != "Intercept" or K >= J:
            continue
        level = np.full(J, -1)
        level[block.index] = parent.index
        if np.any(level < 0):
            continue
        if np.any(level[block.index] != parent.index):
            continue  # a level that occurs with two parent levels: crossed, not nested
        if found is None or K > len(design.blocks[found[0]].levels):
            found = (p, level)
    return found


def mean_ridge(design: FormulaDesign, block: GroupBlock, pooled=None) -> float:
    r"""How strongly a block's levels would move together if their mean were left to
    their prior: the largest eigenvalue, less 1, of their posterior correlation then,
    about :math:`\sum_j r_j / (J + r_j)` with :math:`r_j = \hat\tau^2 / v_j`
    (:func:`between_level_variance` against :func:`centred`'s sampling variance of
    level :math:`j`), the largest over linear predictors.

    Of crossed blocks with centred levels, one carries the intercept (its levels are
    centred at it) and the others' means are pinned down by their prior alone, with
    variance :math:`\hat\tau^2 / J` beside each level's own :math:`v_j`: a ridge a
    diagonal mass matrix pays for by about this figure (each level its data pin down
    better than :math:`\hat\tau^2 / J` adds about 1). So the block with the largest
    figure carries the intercept
    (:func:`returnmodels.engine.inputs.engine_inputs`): on the bundled data the
    120 nationalities (about 13) rather than the 7 closing years (about 6), on 300
    persons crossed with 25 items the items (14, the persons 2.3)."""
    _, _, variance = _level_counts(design, block)
    ratio = between_level_variance(design, block, pooled)[None, :] / variance
    J = len(block.levels)
    return float(np.max(np.sum(ratio / (J + ratio), axis=0)))


def centred(design: FormulaDesign, block: GroupBlock, pooled=None) -> np.ndarray:
    r"""(M, J) which levels of a block's intercept are sampled centred, per linear
    predictor.

    Level :math:`j`'s empirical log-odds of category :math:`k` against the reference
    has sampling variance about :math:`v_{jk} = 1/(y_{jk} + 1/2) + 1/(y_{j,\mathrm{ref}}
    + 1/2)` (binary: successes against failures). The level is centred when its own data
    pin it down well, :math:`v_{jk} \le 1/` :data:`CENTRING_INFORMATION`, *and* better
    than the spread of the levels does, :math:`v_{jk} \le \hat\tau^2_k`
    (:func:`between_level_variance`): the centred form mixes well when the data dominate
    the prior of a level, the non-centred one when the prior does (Papaspiliopoulos,
    Roberts and Skold 2007). So a variance component near zero is sampled non-centred
    throughout, where the centred form would be a funnel. Slopes, and the intercepts of
    levels with little data, stay non-centred, which is sound however small their
    variance.

    Nested groups (:func:`nesting_parent`): a centred child level is centred at its
    parent level's value (hierarchical centring, Gelfand, Sahu and Carlin 1995;
    :mod:`returnmodels.engine.graph`), so the children's data reach the parent
    through the children's prior, and the parent levels, whose SD rests on a few levels
    and so reaches towards zero, are sampled non-centred. On the bundled data
    ``(1 | region/nationality)`` then passes the gate without a divergence, where a
    centred region (its 1,000s of cases taken for its information) left the region and
    its nationalities on a ridge: R-hat 1.19 on the region SD.
    """
    J = len(block.levels)
    if block.columns[0] != "Intercept":
        return np.zeros((design.n_linear, J), dtype=bool)
    if any(
        (nesting := nesting_parent(design, child)) is not None
        and design.blocks[nesting[0]] is block
        for child in design.blocks
    ):
        return np.zeros((design.n_linear, J), dtype=bool)  # a parent: non-centred
    _, _, variance = _level_counts(design, block)
    tau2 = between_level_variance(design, block, pooled)
    bound = np.minimum(1.0 / CENTRING_INFORMATION, tau2)
    return (variance <= bound[None, :]).T


def intercept_shear(
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
    column = _intercept_column(design)
    levels, weights = [], []
    for b in sheared_blocks(design, shifted, likelihood_weight):
        J = len(design.blocks[b].levels)
        levels.append(q_of[(b, 0)] + np.arange(J))
        weights.append(np.full(J, 1.0 / J))
    if not levels:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(len(column))
    return np.concatenate(levels).astype(np.int64), np.concatenate(weights), column


def _intercept_column(design: FormulaDesign) -> np.ndarray:
    """(P,) 1 at the intercept's column of X, 0 elsewhere (all 0 without an intercept)."""
    column, start = np.zeros(design.X.shape[1]), 0
    for term in design.common:
        if term.name == "Intercept":
            column[start] = 1.0
        start += len(term.labels)
    return column


def sheared_blocks(design: FormulaDesign, shifted: int | None, likelihood_weight: int) -> list[int]:
    """The blocks whose mean effect the intercept takes in (:func:`intercept_shear`):
    the crossed intercept blocks but ``shifted``, where the model has an intercept, a
    likelihood and more than one intercept block."""
    intercepts = sum(block.columns[0] == "Intercept" for block in design.blocks)
    if not (likelihood_weight and _intercept_column(design).any() and intercepts > 1):
        return []
    return [b for b in _crossed_intercepts(design) if b != shifted]


def mean_reflection(
    design: FormulaDesign, q_of: dict, shifted: int | None, masks, likelihood_weight: int
) -> np.ndarray:
    r"""(4, T) the reflection that gives each sheared block's centred levels' common
    direction a coordinate of its own: rows level, block, :math:`v` and :math:`w`.

    A block that gives its mean to the intercept (:func:`intercept_shear`) leaves that
    mean to its prior, while its data pin down each centred level's deviation from it:
    the levels move together, along :math:`\mathbf 1/\sqrt J` (:func:`mean_ridge`: on
    the bundled data the 7 closing years, about 6), a direction a diagonal mass matrix
    can only cross in small steps (13.3 gradients a draw and bulk ESS 390 there). So the
    engine samples :math:`z = H a` in place of the centred values :math:`a` of those
    levels, :math:`H = I - 2vv^\top / v^\top v` with :math:`v = e_1 - \mathbf 1/\sqrt
    J` the Householder reflection that swaps :math:`e_1` and :math:`\mathbf 1/\sqrt J`:
    the first level's coordinate is the levels' mean times :math:`\sqrt J`, and the
    others span the deviations, each close to its own level's. :math:`H` is orthogonal
    and its own inverse, so :math:`a = H z` has Jacobian 1 and the posterior is the
    same; it costs one sum and one update over the levels a gradient
    (``tests/inference/test_formula_fit.py`` checks the density against the model at
    the expanded draw with its Jacobian). A level is reflected when it is centred for
    every linear predictor; a block with fewer than two such levels is left as it is.

    The engine computes :math:`s_g = \sum_{i \in g} v_i z_i` per block and
    :math:`a_i = z_i - w_i s_{g(i)}` with :math:`w_i = 2 v_i / v^\top v`."""
    rows = []
    for g, b in enumerate(sheared_blocks(design, shifted, likelihood_weight)):
        at = np.flatnonzero(masks[b].all(axis=0))
        J = len(at)
        if J < 2:
            continue
        v = np.full(J, -1.0 / np.sqrt(J))
        v[0] += 1.0
        rows.append(np.stack([q_of[(b, 0)] + at, np.full(J, g), v, 2.0 * v / (v @ v)]))
    return np.concatenate(rows, axis=1) if rows else np.zeros((4, 0))


def _crossed_intercepts(design: FormulaDesign) -> list[int]:
    """The intercept blocks that neither are nested in another block nor have one nested
    in them (:func:`returnmodels.engine.policy.nesting_parent`)."""
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


def centring_plan(
    design: FormulaDesign, likelihood_weight: int
) -> tuple[list[np.ndarray], int | None]:
    """Which levels of each block are sampled centred (an (M, J) mask per block,
    :func:`centred`; none without a likelihood, when no level is identified by its data),
    and the block whose centred levels are centred at the intercept and the group-level
    predictors (None when no level is centred)."""
    blocks, M = design.blocks, design.n_linear
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
    # are centred at zero, and crossed ones give their mean to the intercept (intercept_shear)
    owners = {t.group_level_of for t in design.common}
    candidates = [b for b, mask in enumerate(masks) if mask.any()]

    def preference(b):
        block = blocks[b]
        ratio = mean_ridge(design, block, pooled) if len(candidates) > 1 else 0.0
        return (block.factor in owners, -block.factor.count(":"), ratio)

    shifted = max(candidates, key=preference) if candidates else None
    return masks, shifted

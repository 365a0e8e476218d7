r"""Fit a formula model with one precompiled sampler: the structure enters as data.

Every binomial-logit mixed model that :mod:`returnmodels.engine.design` can describe
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
model, a shift of Jacobian 1; :func:`returnmodels.engine.policy.centred`). A centred
level nested in another (``(1 | region/nationality)``, nesting read from the data) is
centred at its parent level's effect as well, :math:`a_j \sim \mathcal N(G_j\beta +
u_{p(j)}, \sigma)` (hierarchical centring), the parent levels being non-centred; which
level is centred at which is data too (``nest``, ``nest_weight``). Beside crossed
blocks, theta's intercept is the model's plus the crossed blocks' mean effects
(:func:`intercept_shear`; ``shear``, ``shear_weight``, ``shear_column``), again a shift of
Jacobian 1, and those blocks' centred levels are sampled reflected, so that their common
direction, which only their prior pins down, is a coordinate of theta
(:func:`~returnmodels.engine.policy.mean_reflection`; ``reflection``): an orthogonal map,
Jacobian 1.

Because no size or index is a graph constant, the graph is the same for every formula of
a family: PyTensor compiles it to numba once, numba caches it on disk (``~/.pytensor``),
and so does the nutpie C callback around it (:mod:`returnmodels.engine.cache`'s
machinery). A new formula, or new data, in a process that has fitted one before
compiles nothing; in a new process it loads the compiled code from the cache. Each
family (binomial, multinomial) has two graphs: the general one, and a lean one without
the machinery of correlated and nested blocks for the designs that have neither
(:func:`needs_general`), as fast per gradient as the registered templates; crossed
designs whose levels are sampled reflected run a variant of the general one with the
reflection (``reflected=True``).

A ``(1 | g)`` term integrated out (:mod:`returnmodels.engine.integrated`: ``(1 |
person_id)``) adds one SD, the last of sigma, and no effects; the cases then enter as
the units' outcome patterns (``unit_entry``, ``unit_count``) under Gauss-Hermite nodes
and weights (``gh``), all data, in a third graph per family (:func:`_unit_likelihood`)
so that formulas without such a term run exactly the graphs they ran before. Its
likelihood and gradients come from one compiled kernel
(:mod:`returnmodels.engine.unit_kernel`: blocks of patterns of one length, their
logistic probabilities at the nodes, products and residuals, a logarithm a pattern, log
space for a pattern that would underflow), tested against the same quadrature written
as PyTensor operations in probability space (:func:`_unit_products`) and in log space
(:func:`_unit_logs`).

The likelihood's gradient with respect to the linear predictor is written by hand, so
that one pass over the cells computes both the log-likelihood and its gradient (one
exponential and one logarithm a cell); autodiff takes the rest.

"""

from __future__ import annotations

import pytensor.tensor as pt
from pytensor.gradient import disconnected_grad

from returnmodels.engine.cell_kernel import binomial_cells
from returnmodels.engine.inputs import INPUTS
from returnmodels.engine.unit_kernel import unit_likelihood


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


#: The limits of the PyTensor product form (:func:`_unit_products`, the reference the
#: kernel is tested against, as the engine's form was before it): the cells' ``|eta| + sigma
#: max|sqrt2 x_k|`` at most this (so that every ``exp`` and logistic probability of the
#: table is a normal double, between e^-700 and 1) ...
PRODUCT_RANGE = 700.0
#: ... every likelihood of a pattern of several cases at least the kernel's
#: ``PRODUCT_FLOOR`` (no product underflowed that counts; the same floor below which the
#: kernel takes the log form) ...
#: and those patterns padded to the longest at most this many times their entries.
PRODUCT_PADDING = 4


def _unit_likelihood(v, eta, sigma):
    r"""The log-likelihood of the units' outcome patterns with their intercept integrated
    out (:mod:`returnmodels.engine.integrated`), and its gradients with respect to the
    cells' linear predictor and the units' SD :math:`\sigma`, by hand: one compiled
    kernel (:mod:`returnmodels.engine.unit_kernel`), which takes the patterns in blocks
    of one length and computes each entry's logistic probabilities at the nodes, the
    block's products and their gradients node by node, in log space for a pattern whose
    likelihood would leave the normal doubles. The same quadrature written as PyTensor
    operations, :func:`_unit_products` (probabilities, padded patterns) and
    :func:`_unit_logs` (log space throughout), is what the kernel is tested against
    (``tests/inference/test_person_products.py``); on the model with every case-level
    predictor their passes over the cells x nodes table cost 23 ms a gradient, the
    kernel's about 1.7 ms (``benchmarks/units.py``)."""
    return unit_likelihood(v, eta, sigma)


def _single_patterns(v):
    """How many patterns are one case (a unit of one case): those patterns come first,
    and their entries (one each) first among the entries (``engine/inputs.py``)."""
    return pt.sum(pt.eq(pt.extra_ops.bincount(v["unit_entry"][1]), 1))


def _unit_products(v, eta, sigma):
    r"""The units' log-likelihood and gradients (:func:`_unit_likelihood`) in probability
    space, and the least likelihood of a pattern of several cases (the caller's check
    that nothing counting underflowed).

    With :math:`b_k = \sqrt2\sigma x_k`, the logistic probabilities of every cell at
    every node come from one exponential a cell and one a node,
    :math:`e^{\eta_c + b_k} = e^{\eta_c} e^{b_k}`, :math:`q_{ck} = 1/(1 + e^{\eta_c}
    e^{b_k})` and :math:`p_{ck} = 1 - q_{ck}` as :math:`e^{\eta_c} e^{b_k} q_{ck}` (no
    cancellation): a table whose rows are (cell, outcome) pairs, :math:`q` a failure's and
    :math:`p` a success's. Every entry of a pattern is a row of it, so a pattern's
    likelihood at node k is a product of rows, :math:`f_{pk} = \prod_{e\in p}
    (p\text{ or }q)_{c_e k}`, :math:`S_p = \sum_k (w_k/\sqrt\pi) f_{pk}` and the
    log-likelihood :math:`\sum_p n_p \log S_p`: a logarithm a pattern. The gradient
    with respect to :math:`\eta_c` is :math:`\sum_{e: c_e = c}\sum_k n_p r_{pk} (y_e -
    p_{ck})` with :math:`r_{pk} = (w_k/\sqrt\pi) f_{pk}/S_p`, gathered per row first
    (:math:`W_{rk}`), and with respect to :math:`\sigma` the same terms times
    :math:`\sqrt2 x_k`.

    A pattern of one case is a row itself: its units are counted per row and the row's
    :math:`S` taken once (the logistic-normal probability of the module docstring),
    with no gather. The patterns of several cases are a padded table of row numbers
    (``position`` the column; padding points at a row of ones)."""
    cell, pattern, sign, position = (v["unit_entry"][i] for i in range(4))
    node, weight, count = v["gh"][0], v["gh"][2], v["unit_count"]
    n_cells, n_nodes, n_patterns = eta.shape[0], node.shape[0], count.shape[0]
    # one exponential a cell and one a node, taken together so that PyTensor's rewrites
    # neither merge exp(a) exp(b) into exp(a + b) nor fuse them into the (C, K) loop
    # (an exponential a cell and node, seven times the time of this table)
    both = pt.exp(pt.concatenate([eta, sigma * node]))
    odds = both[:n_cells][:, None] * both[n_cells:][None, :]  # (C, K), in e^+-700
    q = 1.0 / (1.0 + odds)  # 1 - p
    p = odds * q
    table = pt.concatenate([q, p, pt.ones((1, n_nodes))], axis=0)  # rows c, C + c, pad
    row = cell + n_cells * (sign + 1) // 2  # q's row for a failure, p's for a success
    # patterns of one case, per row (every row's S is a normal double: e^-700 and more)
    singles = _single_patterns(v)
    units = pt.zeros(2 * n_cells)[row[:singles]].inc(count[:singles])
    weighted = table[: 2 * n_cells] * weight[None, :]
    total = pt.sum(weighted, axis=1)
    lik = pt.sum(units * pt.log(total))
    by_row = (units / total)[:, None] * weighted  # n r_rk
    # patterns of several cases, padded to the longest
    several = pattern[singles:] - singles
    padded = pt.full((n_patterns - singles, pt.max(position) + 1), 2 * n_cells, dtype="int64")
    padded = pt.set_subtensor(padded[several, position[singles:]], row[singles:])
    weighted = pt.prod(table[padded], axis=1) * weight[None, :]  # (P - singles, K)
    total = pt.sum(weighted, axis=1)
    lik = lik + pt.sum(count[singles:] * pt.log(total))
    share = (count[singles:] / total)[:, None] * weighted  # n_p r_pk
    by_row = pt.inc_subtensor(by_row[row[singles:]], share[several])
    d = by_row[n_cells:] * q - by_row[:n_cells] * p  # (C, K): successes' 1 - p, failures' -p
    floor = pt.min(pt.concatenate([total, pt.ones((1,))]))  # 1 where every pattern is single
    return lik, pt.sum(d, axis=1), pt.sum(d * node[None, :]), floor


def _unit_logs(v, eta, sigma):
    r"""The units' log-likelihood and gradients (:func:`_unit_likelihood`) in log space,
    finite wherever the log density is: an exponential and a logarithm an entry and node.

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
    gradient :math:`y_c - n_c \operatorname{logit}^{-1}\eta_c` (a compiled kernel whose
    exponential and logarithm vectorise, :mod:`returnmodels.engine.cell_kernel`: about a
    quarter of the PyTensor form's time), or multinomial against the
    reference, :math:`\sum_{ck} y_{ck}\eta_{ck} - n_c \log(1 + \sum_k e^{\eta_{ck}})` with
    gradient :math:`y_{ck} - n_c\,\mathrm{softmax}_k`; :math:`\log\binom{n}{y}` left out.
    With ``unit_sigma`` (binomial only) the cells' counts are empty and the units'
    patterns (:func:`_unit_likelihood`) hold the cases: the cells' binomial terms, zero,
    are not computed.
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
        if unit_sigma is None:  # one compiled pass (engine/cell_kernel.py)
            lik, g = binomial_cells(eta, v["counts"][:, 0], n)
        else:  # the cells' counts are empty (engine/inputs.py): the patterns hold every case
            lik, g, g_sigma = _unit_likelihood(v, eta, unit_sigma)
        g_u = pt.zeros(u.shape)[Zidx].inc(Zval * g[:, None])
        g_beta = pt.dot(g, X)
    return lik, g_beta, g_u, g_sigma


def engine_graph(
    multinomial: bool, general: bool = True, units: bool = False, reflected: bool = False
):
    """The log density, its gradient and the expansion, as PyTensor graphs: of the
    binomial family (M = 1, in vectors) or of the multinomial one (any M, the copies as
    columns); the vector form is about a sixth faster per gradient on 29,454 cells.

    ``general=False`` leaves out the machinery of correlated and nested blocks (the
    Cholesky factors, the off-diagonal terms, centring at a parent level), which PyTensor
    runs even on empty arrays, at about 1 us a gather or scatter: for designs that have
    neither (:func:`needs_general`), where its inputs are empty and it adds nothing.
    ``units=True`` adds the likelihood of an integrated intercept's patterns
    (:func:`_unit_likelihood`, binomial only), for the same reason a graph of its own;
    so does ``reflected=True`` (general only) the reflection of crossed levels
    (``reflection``; :func:`~returnmodels.engine.inputs.reflected`), which the other
    graphs ignore: correlated and nested designs run the graph they ran before it."""
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

    # a sheared block's centred levels are sampled reflected (policy.mean_reflection):
    # their values are a = H z, H = I - 2 v v' / v'v, orthogonal: Jacobian 1
    if general and reflected:
        reflect = v["reflection"]
        flipped, group = pt.cast(reflect[0], "int64"), pt.cast(reflect[1], "int64")
        along, back = reflect[2], reflect[3]
        if multinomial:
            along, back = along[:, None], back[:, None]
        along_z = pt.zeros(shape(Q))[group].inc(along * z[flipped])  # v'z per block
        z = pt.inc_subtensor(z[flipped], -back * along_z[group])

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

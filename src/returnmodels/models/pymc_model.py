r"""The PyMC model of a term table: one model for every formula and registered model.

:func:`pymc_model` writes the model a :class:`~returnmodels.engine.design.FormulaDesign`
describes as a PyMC model, from the term table alone (bambi's backend idea: the
structure is data, the builder one function). It is the model the formula engine
(:mod:`returnmodels.engine.graph`) samples, with the same density on the model's
parameters, the same names, dims and coords, so that everything downstream reads either
posterior; ``--sampler pymc|numpyro`` samples it, and it is the written-out oracle the
engine is tested against. For cells :math:`c`, linear predictors :math:`k = 1..M` (one
for a binary response, one per non-reference outcome of a multinomial stage) and group
blocks :math:`b` with levels :math:`j`:

.. math::

    \beta_{kp} &\sim t_{\nu_p}(\mu_p, s_p) \ \text{(Normal where } \nu_p = \infty),
    \qquad \sigma_{kbr} \sim \text{HalfNormal},\ \text{Exponential or HalfStudentT},\\
    L_{kb} &\sim \operatorname{LKJCorr}(\eta_b) \ \text{(correlated blocks: }
    \Omega_{kb} = L_{kb} L_{kb}^\top \sim \operatorname{LKJ}(\eta_b)),\\
    z_{kbj} &\sim \mathcal N(0, I), \qquad
    u_{kbj} = \operatorname{diag}(\sigma_{kb})\, L_{kb}\, z_{kbj}
    \quad\text{(non-centred)},\\
    \eta_{ck} &= x_c^\top \beta_k + \sum_b z_{cb}^\top u_{kb, j_b(c)},\\
    s_c &\sim \operatorname{Binomial}(n_c, \operatorname{logit}^{-1}\eta_{c1})
    \quad\text{or}\quad
    y_{c\cdot} \sim \operatorname{Multinomial}(n_c, \operatorname{softmax}(0, \eta_{c\cdot})).

The SDs and the correlation matrix are independent a priori, each SD with its own prior
(``prior_of(priors, "<column>_sigma")``), as the engine's density is: its ``_prior_lp``
sums the SDs' priors and its Cholesky part adds the LKJ density of :math:`\Omega` on the
Cholesky factor. ``pm.LKJCorr`` (a Cholesky factor of the correlation, with PyMC's
unconstraining transform) is that density; ``pm.LKJCholeskyCov`` would need one ``sd_dist``
for every column of a block, which a block whose columns have different SD priors does
not have.

Names (those of the engine's posterior): each common term (``Intercept``,
``n_procedures``, ``cooperation`` with dim ``cooperation_level``), ``<column>_sigma``,
``<factor>_corr`` (dim ``<factor>_corr_pair`` when the block has several pairs, labelled
``"<column a>,<column b>"``), ``<column>_effect`` (dim ``<factor>``); a multinomial stage
prefixes them (``competing_``) and leads with its outcome dim. The sampler's own variables
are ``<column>_offset`` (:math:`z`, standard normal) and ``<factor>_corr_cholesky``
(:math:`L`); :func:`engine_names` lists the others. Unlike the engine, every level is
non-centred (as brms writes the model): the same posterior, another geometry.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from returnmodels.data.vocabulary import REFERENCE_OUTCOME
from returnmodels.engine.design import FormulaDesign
from returnmodels.engine.priors import prior_of
from returnmodels.engine.terms import GroupBlock
from returnmodels.errors import ConfigError

__all__ = ["SD_PRIORS", "correlation_pairs", "engine_names", "pymc_model"]

#: The SD priors of the model, as PyMC distributions of a prior's parameters.
SD_PRIORS = {
    "HalfNormal": lambda name, spec, dims: pm.HalfNormal(name, sigma=spec["sigma"], dims=dims),
    "Exponential": lambda name, spec, dims: pm.Exponential(name, lam=spec["lam"], dims=dims),
    "HalfStudentT": lambda name, spec, dims: pm.HalfStudentT(
        name, nu=spec["nu"], sigma=spec["sigma"], dims=dims
    ),
}


def pymc_model(design: FormulaDesign) -> pm.Model:
    """The PyMC model of ``design`` (see the module docstring): a binomial model, or a
    multinomial one for a stage with a leading outcome dim
    (:func:`returnmodels.engine.design.competing_stage`)."""
    lead = (design.lead,) if design.lead else ()
    with pm.Model(coords=_coords(design)) as model:
        beta = _coefficients(design, lead)  # (M, P)
        eta = pt.dot(design.X, beta.T)  # (C, M)
        for block in design.blocks:
            for r, effect in enumerate(_block_effects(design, block, lead)):  # (M, J) each
                eta = eta + block.values[:, r][:, None] * effect.T[block.index]
        _likelihood(design, eta)
    return model


def engine_names(design: FormulaDesign) -> list[str]:
    """The model's variables the engine's posterior holds, in the engine's order: the
    common terms, the SDs, the correlations, the effects (the sampler's own ``_offset``
    and ``_corr_cholesky`` variables left out)."""
    p = design.prefix
    names = [p + term.name for term in design.common]
    names += [f"{p}{b.column_name(r)}_sigma" for b in design.blocks for r in range(b.width)]
    names += [f"{p}{b.factor}_corr" for b in design.blocks if b.correlated]
    names += [f"{p}{b.column_name(r)}_effect" for b in design.blocks for r in range(b.width)]
    return names


def correlation_pairs(block: GroupBlock) -> list[tuple[int, int]]:
    """The (row, column) entries of a block's correlation matrix that ``<factor>_corr``
    holds, in the engine's order: row by row below the diagonal."""
    return [(r, c) for r in range(1, block.width) for c in range(r)]


def _coords(design: FormulaDesign) -> dict[str, list]:
    """Every dim's labels: cells, the leading outcomes, categorical terms' levels, each
    factor's levels and each correlated block's pairs; a factor in two blocks (``(1 | g)
    + (0 + x | g)``) has the same levels in both."""
    coords: dict[str, list] = {"cell": list(range(design.n_cells))}
    if design.lead:
        coords[design.lead] = list(design.lead_levels)
        coords[f"{design.response}_category"] = [REFERENCE_OUTCOME, *design.lead_levels]
    for term in design.common:
        if term.levels is not None:
            coords[term.dim] = list(term.levels)
    for block in design.blocks:
        if coords.setdefault(block.factor, list(block.levels)) != list(block.levels):
            raise ValueError(f"factor {block.factor!r} has different levels in two blocks")
        pairs = correlation_pairs(block)
        if len(pairs) > 1:
            coords[f"{block.factor}_corr_pair"] = [
                f"{block.columns[c]},{block.columns[r]}" for r, c in pairs
            ]
    return coords


def _coefficients(design: FormulaDesign, lead: tuple[str, ...]):
    """One variable per common term with its rows of ``coefficient_priors`` (Normal
    where nu is infinite, else Student-t); the coefficients as an (M, P) tensor."""
    M, parts, start = design.n_linear, [], 0
    for term in design.common:
        width = len(term.labels)
        rows = design.coefficient_priors[start : start + width]
        start += width
        own = () if term.levels is None else (term.dim,)
        values = rows if own else rows[0]  # (width, 3), or one row for a scalar term
        nu, mu, sigma = (values[..., i] for i in range(3))
        name = design.prefix + term.name
        if np.isinf(nu).all():
            var = pm.Normal(name, mu=mu, sigma=sigma, dims=lead + own)
        elif np.isfinite(nu).all():
            var = pm.StudentT(name, nu=nu, mu=mu, sigma=sigma, dims=lead + own)
        else:
            raise ValueError(f"term {term.name!r} mixes Normal and Student-t priors")
        parts.append(pt.reshape(var, (M, width)))
    return pt.concatenate(parts, axis=1) if parts else pt.zeros((M, 0))


def _sd(design: FormulaDesign, name: str, lead: tuple[str, ...]):
    spec = prior_of(design.priors, name)
    if spec["dist"] not in SD_PRIORS:
        raise ConfigError(
            f"prior {name!r}: {spec['dist']} is not a distribution the model has for an SD; "
            f"use one of {list(SD_PRIORS)}"
        )
    return SD_PRIORS[spec["dist"]](name, spec, lead)


def _block_effects(design: FormulaDesign, block: GroupBlock, lead: tuple[str, ...]):
    r"""The block's effects, one (M, J) tensor per column, each a ``<column>_effect``:
    :math:`u_j = \operatorname{diag}(\sigma) L z_j` with :math:`z_j` standard normal."""
    p, M, m = design.prefix, design.n_linear, block.width
    sigma = pt.stack(
        [pt.reshape(_sd(design, f"{p}{block.column_name(r)}_sigma", lead), (M,)) for r in range(m)],
        axis=-1,
    )  # (M, m)
    z = pt.stack(
        [
            pm.Normal(f"{p}{block.column_name(r)}_offset", dims=lead + (block.factor,))
            for r in range(m)
        ],
        axis=-1,
    )  # ([M,] J, m)
    z = pt.reshape(z, (M, len(block.levels), m))
    if block.correlated:
        L = _correlation(design, block, lead)  # (M, m, m)
        z = pt.matmul(z, pt.swapaxes(L, -1, -2))  # z_j L^T: row j is (L z_j)^T
    u = sigma[:, None, :] * z  # (M, J, m)
    effects = []
    for r in range(m):
        effect = u[..., r] if lead else u[0, :, r]
        name = f"{p}{block.column_name(r)}_effect"
        pm.Deterministic(name, effect, dims=lead + (block.factor,))
        effects.append(pt.reshape(effect, (M, len(block.levels))))
    return effects


def _correlation(design: FormulaDesign, block: GroupBlock, lead: tuple[str, ...]):
    """The block's Cholesky factor of the correlation, (M, m, m), with the LKJ(eta) prior
    of ``<factor>_corr``, and the correlations as the deterministic ``<factor>_corr``."""
    p, M, m = design.prefix, design.n_linear, block.width
    eta = prior_of(design.priors, f"{p}{block.factor}_corr")["eta"]
    size = M if lead else None
    L = pm.LKJCorr(f"{p}{block.factor}_corr_cholesky", n=m, eta=eta, size=size)
    L = pt.reshape(L, (M, m, m))
    omega = pt.matmul(L, pt.swapaxes(L, -1, -2))
    pairs = correlation_pairs(block)
    rows, columns = (np.array(side, dtype=np.int64) for side in zip(*pairs, strict=True))
    corr = omega[:, rows, columns]  # (M, pairs)
    own = (f"{block.factor}_corr_pair",) if len(pairs) > 1 else ()
    corr = corr if own else corr[:, 0]
    pm.Deterministic(f"{p}{block.factor}_corr", corr if lead else corr[0], dims=lead + own)
    return L


def _likelihood(design: FormulaDesign, eta) -> None:
    """Binomial on the cells' successes, or multinomial on each cell's categories (the
    reference, then the linear predictors' categories) against the reference."""
    if design.lead is None:
        pm.Binomial(
            design.response,
            n=design.trials,
            logit_p=eta[:, 0],
            observed=design.successes,
            dims="cell",
        )
        return
    counts = design.linear_counts()
    observed = np.column_stack([design.trials - counts.sum(axis=1), counts]).astype(np.int64)
    logits = pt.concatenate([pt.zeros((design.n_cells, 1)), eta], axis=1)
    pm.Multinomial(
        design.response,
        n=design.trials,
        p=pt.special.softmax(logits, axis=1),
        observed=observed,
        dims=("cell", f"{design.response}_category"),
    )

r"""The log prior density of each posterior draw, for power-scaling sensitivity.

ArviZ's ``psense`` and ``psense_summary`` (Kallioinen et al. 2024) power-scale the prior
and the likelihood of a fit by importance sampling, and read the prior from a
``log_prior`` group. A formula fit gets one, as brms writes its ``lprior``: the log
densities of the priors of the *parameters* (coefficients and intercept, group SDs, LKJ
correlations), on the scale the prior is stated on (no Jacobian), not the
:math:`\mathcal N(0, \sigma)` of the group effects (a part of the model's hierarchy that
power-scaling the prior leaves alone). One variable per parameter name, summed over its
levels (and over the non-reference outcomes of a multinomial stage), dims (chain, draw):
``psense`` sums them all.

The densities are normalised (the constants cancel in power-scaling but make the values
checkable): Normal and Student-t of the coefficients, half-normal, exponential and half
Student-t of the SDs, and the LKJ density of each correlation matrix,
:math:`\det(\Omega)^{\eta - 1} / c_m(\eta)` with the normaliser of Lewandowski,
Kurowicka and Joe (2009, eq. 16).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr
from scipy import stats
from scipy.special import betaln

from returnmodels.engine.design import FormulaDesign
from returnmodels.engine.priors import prior_of

__all__ = ["formula_log_prior", "lkj_logpdf", "prior_logpdf"]


def prior_logpdf(spec: Mapping, x: np.ndarray) -> np.ndarray:
    """The log density of a Normal, StudentT, HalfNormal, Exponential or HalfStudentT
    prior ``spec`` (as :data:`returnmodels.engine.priors.FORMULA_PRIORS` writes them)."""
    dist = spec["dist"]
    if dist == "Normal":
        return stats.norm.logpdf(x, spec["mu"], spec["sigma"])
    if dist == "StudentT":
        return stats.t.logpdf(x, spec["nu"], spec["mu"], spec["sigma"])
    if dist == "HalfNormal":
        return stats.halfnorm.logpdf(x, scale=spec["sigma"])
    if dist == "Exponential":
        return stats.expon.logpdf(x, scale=1.0 / spec["lam"])
    if dist == "HalfStudentT":
        positive = np.log(2.0) + stats.t.logpdf(x, spec["nu"], 0.0, spec["sigma"])
        return np.where(np.asarray(x) >= 0, positive, -np.inf)
    raise ValueError(f"no log density for a {dist} prior here")


def lkj_logpdf(omega: np.ndarray, eta: float) -> np.ndarray:
    """log LKJ(eta) density of correlation matrices ``omega`` (..., m, m)."""
    m = omega.shape[-1]
    _, logdet = np.linalg.slogdet(omega)
    k = np.arange(1, m)
    beta = eta + (m - k - 1) / 2.0
    log_c = np.sum((2.0 * eta - 2.0 + m - k) * (m - k)) * np.log(2.0) + np.sum(
        (m - k) * betaln(beta, beta)
    )
    return (eta - 1.0) * logdet - log_c


def _draws(posterior: xr.Dataset, design: FormulaDesign, name: str) -> np.ndarray:
    """Draws of parameter ``name`` as (chains, draws, M, width)."""
    lead = (design.lead,) if design.lead else ()
    var = posterior[design.prefix + name].transpose("chain", "draw", *lead, ...).values
    return var.reshape(var.shape[0], var.shape[1], design.n_linear, -1)


def _correlation_matrices(pairs: np.ndarray, m: int) -> np.ndarray:
    """(..., m, m) from a block's correlations in the engine's pair order: (1,0), (2,0),
    (2,1), ... (:func:`returnmodels.engine.inputs.engine_inputs`)."""
    omega = np.broadcast_to(np.eye(m), (*pairs.shape[:-1], m, m)).copy()
    p = 0
    for r in range(1, m):
        for c in range(r):
            omega[..., r, c] = omega[..., c, r] = pairs[..., p]
            p += 1
    return omega


def _stage_log_prior(posterior: xr.Dataset, design: FormulaDesign) -> dict[str, np.ndarray]:
    """Each parameter's log prior, (chains, draws), for one stage."""
    out, start = {}, 0
    for term in design.common:
        width = len(term.labels)
        nu, mu, sigma = design.coefficient_priors[start : start + width].T
        start += width
        values = _draws(posterior, design, term.name)
        normal = stats.norm.logpdf(values, mu, sigma)
        student = stats.t.logpdf(values, np.where(np.isinf(nu), 1.0, nu), mu, sigma)
        out[design.prefix + term.name] = np.where(np.isinf(nu), normal, student).sum((2, 3))
    sigmas = [f"{b.column_name(r)}_sigma" for b in design.blocks for r in range(b.width)]
    if design.integrated is not None:
        sigmas.append(design.integrated.sigma_name)
    for name in sigmas:
        spec = prior_of(design.priors, design.prefix + name)
        out[design.prefix + name] = prior_logpdf(spec, _draws(posterior, design, name)).sum((2, 3))
    for block in design.blocks:
        if block.correlated:
            name = f"{block.factor}_corr"
            eta = prior_of(design.priors, design.prefix + name)["eta"]
            omega = _correlation_matrices(_draws(posterior, design, name), block.width)
            out[design.prefix + name] = lkj_logpdf(omega, eta).sum(2)
    return out


def formula_log_prior(
    posterior: xr.Dataset, designs: FormulaDesign | tuple[FormulaDesign, ...]
) -> xr.Dataset:
    """The ``log_prior`` group of a formula fit (see the module): one variable per
    parameter with a prior, dims (chain, draw), over every stage's parameters."""
    if isinstance(designs, FormulaDesign):
        designs = (designs,)
    values = {}
    for design in designs:
        values |= _stage_log_prior(posterior, design)
    coords = {"chain": posterior["chain"].values, "draw": posterior["draw"].values}
    return xr.Dataset({name: (("chain", "draw"), v) for name, v in values.items()}, coords=coords)

"""Building blocks shared by the model builders (PyMC); their NumPy mirror for prediction
is :mod:`returnmodels.models.prediction`.

One linear predictor ("block") on the logit scale, for cell :math:`c` of group :math:`j`:

.. math::

    \\eta_c = \\beta_0 + x_c^\\top \\beta + u_j, \\qquad
    u_j = z_j^\\top \\gamma + \\sigma\\, \\epsilon_j, \\quad \\epsilon_j \\sim \\mathcal N(0, 1)

with :math:`x_c` the centred/coded case-level terms and :math:`z_j` the coded group-level
terms (:mod:`returnmodels.models.design`). A block may carry an extra leading dim (the
competing outcomes); every name then gets ``prefix``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from returnmodels.models._common import data
from returnmodels.models.design import Design, Term
from returnmodels.models.priors import make_prior

__all__ = [
    "Block",
    "add_block",
    "binary_counts",
    "centred_groups",
    "group_intercepts",
]


class Block(NamedTuple):
    """One linear predictor: ``eta`` (cells[, E]) and the groups' intercept means
    ``mean`` (groups x E, :math:`\\beta_0 + z_j^\\top\\gamma`)."""

    eta: object
    mean: object


def _coefficients(terms, priors_spec, prefix, lead):
    """One variable per term; returns a (E, K) tensor of all coefficients."""
    blocks = []
    for term in terms:
        dims = lead + ((term.dim,) if term.kind == "categorical" else ())
        var = make_prior(prefix + term.name, priors_spec, dims=dims or None)
        blocks.append(pt.reshape(var, (-1, term.width)))
    return pt.concatenate(blocks, axis=1) if blocks else None


def add_block(
    design: Design,
    priors: dict,
    *,
    prefix: str = "",
    lead: tuple[str, ...] = (),
    group_predictors: bool = True,
    group_effects: bool = True,
    counts: np.ndarray | None = None,
    reference: int = 0,
):
    """Add one linear predictor to the model in context; return its :class:`Block`.

    Prior names read from ``priors``: ``{p}intercept``, ``{p}coefficients``,
    ``{p}group_sigma``, ``{p}group_coefficients`` where ``p`` is ``prefix``. ``counts``
    (cells, m) and ``reference`` are the block's response counts and reference column,
    which decide the groups' parameterisation (:func:`centred_groups`); by default the
    design's failures (reference) and successes.
    """
    g = design.group
    b0 = make_prior(f"{prefix}Intercept_centred", priors[f"{prefix}intercept"], dims=lead or None)
    b0 = pt.reshape(b0, (-1,))
    beta = _coefficients(design.terms, priors[f"{prefix}coefficients"], prefix, lead)
    eta = pt.zeros((len(design.cells), 1))
    if beta is not None:
        eta = eta + pt.dot(data(f"{prefix}case_matrix", design.case_matrix()), beta.T)
    gterms = design.group_terms if group_predictors else ()
    shift = b0 - _centre_shift(design.terms, beta, f"{prefix}case_centres")
    # mu_j = beta_0 + z_j' gamma: the mean of group j's intercept.
    mu = pt.zeros((len(design.groups), 1)) + b0[None, :]
    gamma = _coefficients(gterms, priors.get(f"{prefix}group_coefficients"), prefix, lead)
    if gamma is not None:
        mu = mu + pt.dot(data(f"{prefix}group_matrix", design.group_matrix()), gamma.T)
        shift = shift - _centre_shift(gterms, gamma, f"{prefix}group_centres")
    intercepts = mu
    if group_effects:
        sigma = make_prior(f"{prefix}{g}_sigma", priors[f"{prefix}group_sigma"], dims=lead or None)
        counts = binary_counts(design) if counts is None else counts
        centred = centred_groups(design, counts, reference)
        intercepts = group_intercepts(design, mu, sigma, centred, prefix, lead)
        pm.Deterministic(
            f"{prefix}{g}_effect",
            intercepts - mu if lead else (intercepts - mu)[:, 0],
            dims=(g, *lead),
        )
    pm.Deterministic(f"{prefix}Intercept", shift if lead else shift[0], dims=lead or None)
    eta = eta + intercepts[data("group_index", design.group_index())]
    return Block(eta if lead else eta[:, 0], mu)


#: A group's intercept is sampled centred where its own counts pin it down to a
#: logit-scale SD of 0.5 or less (information 1 / variance >= 4), else non-centred.
CENTRING_INFORMATION = 4.0


def centred_groups(design: Design, counts: np.ndarray, reference: int) -> np.ndarray:
    r"""Which groups get a centred intercept, from the block's response counts per cell.

    ``counts`` (cells, m) holds the cases of each response category, ``reference`` the
    column of the reference category. For group :math:`j` and category :math:`k`, the
    sampling variance of the empirical log-odds against the reference is about
    :math:`v_{jk} = 1/(y_{jk} + 1/2) + 1/(y_{j,\mathrm{ref}} + 1/2)`; the group is centred
    when :math:`\max_k v_{jk} \le 1/` :data:`CENTRING_INFORMATION`. A group with no
    cases in some category is thus always non-centred: only the prior bounds it there.
    """
    index = design.group_index()
    per_group = np.stack(
        [np.bincount(index, weights=counts[:, k], minlength=len(design.groups))
         for k in range(counts.shape[1])],
        axis=1,
    )  # fmt: skip
    others = np.delete(per_group, reference, axis=1)
    variance = 1.0 / (others + 0.5) + 1.0 / (per_group[:, [reference]] + 0.5)
    return CENTRING_INFORMATION * variance.max(axis=1) <= 1.0


def binary_counts(design: Design) -> np.ndarray:
    """(cells, 2) failures and successes: the binary block's response counts."""
    return np.stack([design.trials - design.successes, design.successes], axis=1)


def _add_split_coords(design: Design, centred: np.ndarray, prefix: str = "") -> None:
    """Coords ``{p}<group>_centred`` and ``{p}<group>_noncentred`` (the groups of each
    parameterisation) on the model in context."""
    model = pm.modelcontext(None)
    groups = np.asarray(design.groups, dtype=object)
    g = design.group
    for dim, mask in ((f"{prefix}{g}_centred", centred), (f"{prefix}{g}_noncentred", ~centred)):
        if mask.any() and dim not in model.coords:
            model.add_coord(dim, list(groups[mask]))


def group_intercepts(
    design: Design, mu, sigma, centred, prefix: str = "", lead: tuple[str, ...] = ()
):
    """Group intercepts a_j ~ N(mu_j, sigma), centred where the data are informative.

    Centred groups sample a_j itself (``{p}<group>_intercept``, dim
    ``{p}<group>_centred``); the others a_j = mu_j + sigma * epsilon_j with
    epsilon_j ~ N(0, 1) (``{p}<group>_offset``, dim ``{p}<group>_noncentred``). Both
    give the same model; the centred form avoids the offset-sigma funnel where a group
    has many cases, the non-centred form the sigma-effect funnel where it has few.
    """
    g = design.group
    sigma = pt.reshape(sigma, (-1,))[None, :]
    out = pt.zeros((len(design.groups), mu.shape[1]))
    _add_split_coords(design, centred, prefix)
    where = np.flatnonzero(centred)
    if where.size:
        a = pm.Normal(
            f"{prefix}{g}_intercept",
            mu[where] if lead else mu[where, 0],
            sigma if lead else sigma[0, 0],
            dims=(f"{prefix}{g}_centred", *lead),
        )
        out = pt.set_subtensor(out[where], pt.reshape(a, (where.size, -1)))
    where = np.flatnonzero(~centred)
    if where.size:
        offset = pm.Normal(f"{prefix}{g}_offset", 0.0, 1.0, dims=(f"{prefix}{g}_noncentred", *lead))
        out = pt.set_subtensor(out[where], mu[where] + sigma * pt.reshape(offset, (where.size, -1)))
    return out


def _centre_shift(terms: tuple[Term, ...], coefficients, name: str):
    """sum_k beta_k * centre_k over numeric terms: Intercept = Intercept_centred - shift.

    The centres (data means) enter as the data variable ``name``."""
    centres = (
        np.concatenate([np.full(t.width, t.center if t.kind == "numeric" else 0.0) for t in terms])
        if terms
        else np.zeros(0)
    )
    if coefficients is None or not centres.any():
        return 0.0
    return pt.dot(coefficients, data(name, centres))

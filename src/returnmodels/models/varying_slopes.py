"""``varying_slopes``: ``group_predictors`` with the ``n_procedures`` slope varying by group.

.. math::

    s_c \\sim \\operatorname{Binomial}\\big(n_c,\\ \\operatorname{logit}^{-1}(\\eta_c)\\big),
    \\qquad \\eta_c = \\beta_0 + x_c^\\top\\beta + z_{j}^\\top\\gamma + a_{j} + b_{j}\\,
    \\tilde x_c, \\qquad j = j[c]

    (a_j, b_j)^\\top \\sim N(0, L L^\\top),\\quad
    L L^\\top = \\operatorname{diag}(\\sigma)\\, R\\, \\operatorname{diag}(\\sigma)

with :math:`\\tilde x_c` the centred slope predictor (``ColumnSpec.slope``, by default
``n_procedures``): :math:`a_j` is group :math:`j`'s intercept deviation at the mean of
:math:`\\tilde x`, :math:`b_j` its slope deviation, correlated through :math:`R`.

Priors: as ``group_predictors``, plus :math:`R \\sim \\text{LKJ}(2)` (``slope_lkj``),
:math:`\\sigma_a` from ``group_sigma`` and :math:`\\sigma_b \\sim \\text{HalfNormal}(0.5)`
(``slope_sigma``; same distribution family as ``group_sigma``).

Sampled through the Cholesky factor :math:`L` (lower triangular):
:math:`a_j = L_{00}\\epsilon_{aj}`, :math:`b_j = L_{10}\\epsilon_{aj} + L_{11}\\epsilon_{bj}`
with :math:`\\epsilon \\sim N(0, 1)`. The intercepts are centred where a group's counts
are informative, exactly as in ``group_predictors`` (:math:`\\beta_0 + z_j^\\top\\gamma +
a_j` sampled itself, and :math:`\\epsilon_{aj} = a_j / L_{00}`); the slope deviations are
always non-centred (:math:`\\epsilon_{bj}`), since their SD is small and only a few groups
inform them (centring both made the slope SD stall at R-hat 1.2 on the bundled data).

Parameters: those of ``group_predictors`` plus ``<group>_chol`` (packed Cholesky factor),
``<group>_<slope>_offset`` (:math:`\\epsilon_b`), ``<group>_<slope>_effect``
(:math:`b`), ``<group>_<slope>_sigma``, ``<group>_corr`` (the intercept-slope
correlation).
"""

from __future__ import annotations

import numpy as np
import pymc as pm

from returnmodels.errors import ConfigError
from returnmodels.models._common import BINARY_PRIORS, binomial_likelihood, data, new_model
from returnmodels.models.data import Design
from returnmodels.models.linear import (
    add_block,
    binary_counts,
    centred_groups,
    group_intercepts,
)

NAME = "varying_slopes"
SUMMARY = "random intercepts and n_procedures slopes by nationality, correlated (LKJ)"
DEFAULT_PRIORS = BINARY_PRIORS | {
    "slope_sigma": {"dist": "HalfNormal", "sigma": 0.5},
    "slope_lkj": {"dist": "LKJ", "eta": 2.0},
}


def _slope_term(design: Design):
    slope = design.spec.slope
    if slope is None or slope not in design.spec.predictors:
        raise ConfigError(
            f"varying_slopes needs a case-level slope predictor (ColumnSpec.slope); "
            f"got {slope!r}, predictors are {list(design.spec.predictors)}"
        )
    term = design.term(slope)
    if term.kind != "numeric":
        raise ConfigError(f"the varying slope {slope!r} must be a numeric predictor")
    return term


def _sd_dist(priors: dict):
    a, b = priors["group_sigma"], priors["slope_sigma"]
    if a["dist"] != b["dist"] or set(a) != set(b):
        raise ConfigError("priors group_sigma and slope_sigma must use the same distribution")
    params = {k: [float(a[k]), float(b[k])] for k in a if k != "dist"}
    return getattr(pm, a["dist"]).dist(**params, shape=2)


def build(design: Design, priors: dict) -> pm.Model:
    term = _slope_term(design)
    g = design.group
    with new_model(design) as model:
        block = add_block(design, priors, group_effects=False)
        # An explicit start (unit SDs, no correlation, before nutpie's jitter): PyMC's
        # default draws the SDs in a Python-mode function, which fails with "cannot set
        # WRITEABLE flag" (numpy 2.5) once the log-density rewrites have frozen shared
        # constants of the graph.
        chol, corr, stds = pm.LKJCholeskyCov(
            f"{g}_chol",
            n=2,
            eta=float(priors["slope_lkj"]["eta"]),
            sd_dist=_sd_dist(priors),
            initval=np.array([1.0, 0.0, 1.0]),
        )
        # a_j = L00 e_aj (centred where informative), b_j = L10 e_aj + L11 e_bj.
        centred = centred_groups(design, binary_counts(design), reference=0)
        intercepts = group_intercepts(design, block.mean, chol[0, 0], centred)
        a = pm.Deterministic(f"{g}_effect", intercepts[:, 0] - block.mean[:, 0], dims=g)
        slope_offset = pm.Normal(f"{g}_{term.name}_offset", 0.0, 1.0, dims=g)
        b = pm.Deterministic(
            f"{g}_{term.name}_effect",
            chol[1, 0] / chol[0, 0] * a + chol[1, 1] * slope_offset,
            dims=g,
        )
        pm.Deterministic(f"{g}_sigma", stds[0])
        pm.Deterministic(f"{g}_{term.name}_sigma", stds[1])
        pm.Deterministic(f"{g}_corr", corr[0, 1])
        index = data("group_index", design.group_index())
        x = data(f"{term.name}_values", term.encode(design.cells[term.name])[:, 0])
        binomial_likelihood(design, block.eta + a[index] + b[index] * x)
    return model

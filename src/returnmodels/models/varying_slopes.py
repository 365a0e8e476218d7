"""``varying_slopes``: ``group_predictors`` with the ``n_procedures`` slope varying by group.

.. math::

    s_c \\sim \\operatorname{Binomial}\\big(n_c,\\ \\operatorname{logit}^{-1}(\\eta_c)\\big),
    \\qquad \\eta_c = \\beta_0 + x_c^\\top\\beta + z_{j}^\\top\\gamma + a_{j} + b_{j}\\,
    \\tilde x_c, \\qquad j = j[c]

    (a_j, b_j)^\\top \\sim N(0, \\Sigma),\\quad
    \\Sigma = \\operatorname{diag}(\\sigma)\\, R\\, \\operatorname{diag}(\\sigma)

with :math:`\\tilde x_c` the centred slope predictor (``ColumnSpec.slope``, by default
``n_procedures``): :math:`a_j` is group :math:`j`'s intercept deviation at the mean of
:math:`\\tilde x`, :math:`b_j` its slope deviation, correlated through :math:`R`.

Priors: as ``group_predictors``, plus :math:`R \\sim \\text{LKJ}(2)` (``slope_lkj``),
:math:`\\sigma_a` from ``group_sigma`` and :math:`\\sigma_b \\sim \\text{HalfNormal}(0.5)`
(``slope_sigma``). For two effects the LKJ prior is a prior on the one correlation
:math:`\\rho = R_{01}`: :math:`(\\rho + 1)/2 \\sim \\text{Beta}(\\eta, \\eta)`.

Sampled through the SDs and the correlation, not a Cholesky factor:
:math:`b_j = \\sigma_b\\big(\\rho\\,\\epsilon_{aj} + \\sqrt{1 - \\rho^2}\\,
\\epsilon_{bj}\\big)` with :math:`\\epsilon_{aj} = a_j / \\sigma_a` and
:math:`\\epsilon_{bj} \\sim N(0, 1)`, the same model as ``LKJCholeskyCov``. The slope SD of
the bundled data is near zero (about 0.01), where the packed Cholesky factor
(:math:`L_{10}` and :math:`L_{11}` both shrinking, the correlation left to the prior) made
a funnel: some chains took minutes and the main job's fit failed the gate (bulk ESS 53).
The intercepts are centred where a group's counts are informative, exactly as in
``group_predictors``; the slope deviations are always non-centred (:math:`\\epsilon_{bj}`),
since their SD is small and only a few groups inform them.

Parameters: those of ``group_predictors`` plus ``<group>_<slope>_sigma``
(:math:`\\sigma_b`), ``<group>_corr_unit`` (:math:`(\\rho + 1)/2`), ``<group>_corr``
(:math:`\\rho`), ``<group>_<slope>_offset`` (:math:`\\epsilon_b`) and
``<group>_<slope>_effect`` (:math:`b`).
"""

from __future__ import annotations

import pymc as pm
import pytensor.tensor as pt

from returnmodels.errors import ConfigError
from returnmodels.models._common import BINARY_PRIORS, binomial_likelihood, data, new_model
from returnmodels.models.design import Design
from returnmodels.models.linear import (
    add_block,
    binary_counts,
    centred_groups,
    group_intercepts,
)
from returnmodels.models.priors import make_prior

NAME = "varying_slopes"
SUMMARY = "random intercepts and n_procedures slopes by nationality, correlated (LKJ)"
#: The same model as a formula on case files, with the case file's reference levels
#: (REFERENCE; the formula engine fits it: README, Writing a model).
FORMULA = (
    "assisted ~ n_procedures + C(closing_year) + gender + age_group + family + cooperation"
    " + (1 + n_procedures | nationality)"
)
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


def build(design: Design, priors: dict) -> pm.Model:
    term = _slope_term(design)
    g = design.group
    eta = float(priors["slope_lkj"]["eta"])
    with new_model(design) as model:
        block = add_block(design, priors, group_effects=False)
        sigma_a = make_prior(f"{g}_sigma", priors["group_sigma"])
        sigma_b = make_prior(f"{g}_{term.name}_sigma", priors["slope_sigma"])
        # LKJ(eta) on a 2 x 2 correlation matrix: (rho + 1) / 2 ~ Beta(eta, eta).
        rho = pm.Deterministic(f"{g}_corr", 2.0 * pm.Beta(f"{g}_corr_unit", eta, eta) - 1.0)
        # a_j: centred where informative; b_j | a_j = sigma_b (rho e_aj + sqrt(1-rho^2) e_bj).
        centred = centred_groups(design, binary_counts(design), reference=0)
        intercepts = group_intercepts(design, block.mean, sigma_a, centred)
        a = pm.Deterministic(f"{g}_effect", intercepts[:, 0] - block.mean[:, 0], dims=g)
        slope_offset = pm.Normal(f"{g}_{term.name}_offset", 0.0, 1.0, dims=g)
        b = pm.Deterministic(
            f"{g}_{term.name}_effect",
            sigma_b * (rho * a / sigma_a + pt.sqrt(1.0 - rho**2) * slope_offset),
            dims=g,
        )
        index = data("group_index", design.group_index())
        x = data(f"{term.name}_values", term.encode(design.cells[term.name])[:, 0])
        binomial_likelihood(design, block.eta + a[index] + b[index] * x)
    return model

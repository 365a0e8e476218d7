"""``group_predictors``: varying intercepts explained in part by group-level predictors.

.. math::

    s_c \\sim \\operatorname{Binomial}\\big(n_c,\\ \\operatorname{logit}^{-1}(\\eta_c)\\big),
    \\qquad \\eta_c = \\beta_0 + x_c^\\top\\beta + u_{j[c]},
    \\qquad u_j \\sim N(z_j^\\top\\gamma, \\sigma^2)

Case files: :math:`z_j` is the origin country's ``cooperation`` (reference ``low``), so
:math:`\\gamma` are the cooperation effects and :math:`u_j - z_j^\\top\\gamma` the
nationality's deviation from its cooperation level (``<group>_effect``). This is the model
CALIBRATION.md is checked with. Informative groups are sampled centred,
:math:`a_j = \\beta_0 + u_j \\sim N(\\beta_0 + z_j^\\top\\gamma, \\sigma^2)`
(``<group>_intercept``), the others non-centred (``<group>_offset``): see
``varying_intercepts`` and :func:`returnmodels.models.linear.centred_groups`.

Priors: :math:`\\beta_0 \\sim N(0, 2.5)` (``intercept``), :math:`\\beta \\sim N(0, 2.5)`
(``coefficients``), :math:`\\gamma \\sim N(0, 2.5)` (``group_coefficients``),
:math:`\\sigma \\sim \\text{HalfNormal}(1)` (``group_sigma``).

Parameters: those of ``varying_intercepts`` plus one per group predictor
(``cooperation``, dim ``cooperation_level``).
"""

from __future__ import annotations

import pymc as pm

from returnmodels.models._common import BINARY_PRIORS, binomial_likelihood, new_model
from returnmodels.models.design import Design
from returnmodels.models.linear import add_block

NAME = "group_predictors"
SUMMARY = "random intercepts plus nationality-level predictors (cooperation)"
#: The same model as a formula on case files, with the case file's reference levels
#: (REFERENCE; the formula engine fits it: README, Writing a model).
FORMULA = (
    "assisted ~ n_procedures + C(closing_year) + gender + age_group + family + cooperation"
    " + (1 | nationality)"
)
DEFAULT_PRIORS = dict(BINARY_PRIORS)


def build(design: Design, priors: dict) -> pm.Model:
    with new_model(design) as model:
        eta = add_block(design, priors).eta
        binomial_likelihood(design, eta)
    return model

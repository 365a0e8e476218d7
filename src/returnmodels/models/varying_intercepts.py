"""``varying_intercepts``: group random intercepts and case-level predictors.

.. math::

    s_c \\sim \\operatorname{Binomial}\\big(n_c,\\ \\operatorname{logit}^{-1}(\\eta_c)\\big),
    \\qquad \\eta_c = \\beta_0 + x_c^\\top\\beta + u_{j[c]},
    \\qquad u_j \\sim N(0, \\sigma^2)

Case files: :math:`x_c` holds ``n_procedures`` (linear on the logit scale, centred, one
coefficient), ``closing_year``, ``gender``, ``age_group`` (coded against reference levels
2017, male, 18-29) and ``family``. Group-level predictors are not used.

Priors: :math:`\\beta_0 \\sim N(0, 2.5)` (``intercept``), :math:`\\beta \\sim N(0, 2.5)`
(``coefficients``), :math:`\\sigma \\sim \\text{HalfNormal}(1)` (``group_sigma``).

Parameterisation (:func:`returnmodels.models.linear.centred_groups`): groups whose own
counts pin their intercept down (log-odds SD <= 0.5) are sampled centred,
:math:`a_j = \\beta_0 + u_j \\sim N(\\beta_0, \\sigma^2)`; the others non-centred,
:math:`u_j = \\sigma\\epsilon_j`, :math:`\\epsilon_j \\sim N(0, 1)`. One model either way.

Parameters: ``Intercept_centred``, ``Intercept``, one per predictor, ``<group>_sigma``,
``<group>_intercept`` (:math:`a_j`, dim ``<group>_centred``), ``<group>_offset``
(:math:`\\epsilon_j`, dim ``<group>_noncentred``), ``<group>_effect`` (:math:`u`, dim
``<group>``).
"""

from __future__ import annotations

import pymc as pm

from returnmodels.models._common import BINARY_PRIORS, binomial_likelihood, new_model
from returnmodels.models.design import Design
from returnmodels.models.linear import add_block

NAME = "varying_intercepts"
SUMMARY = "nationality random intercepts with the case-level predictors"
#: The same model as a formula on case files, with the case file's reference levels
#: (REFERENCE; the formula engine fits it: README, Writing a model).
FORMULA = (
    "assisted ~ n_procedures + C(closing_year) + gender + age_group + family + (1 | nationality)"
)
DEFAULT_PRIORS = {k: v for k, v in BINARY_PRIORS.items() if k != "group_coefficients"}


def build(design: Design, priors: dict) -> pm.Model:
    with new_model(design) as model:
        eta = add_block(design, priors, group_predictors=False).eta
        binomial_likelihood(design, eta)
    return model

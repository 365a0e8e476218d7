"""``varying_intercepts``: group random intercepts (non-centred) and case-level predictors.

.. math::

    s_c \\sim \\operatorname{Binomial}\\big(n_c,\\ \\operatorname{logit}^{-1}(\\eta_c)\\big),
    \\qquad \\eta_c = \\beta_0 + x_c^\\top\\beta + u_{j[c]},
    \\qquad u_j = \\sigma\\,\\epsilon_j,\\quad \\epsilon_j \\sim N(0, 1)

Case files: :math:`x_c` holds ``n_procedures`` (linear on the logit scale, centred, one
coefficient), ``closing_year``, ``gender``, ``age_group`` (coded against reference levels
2017, male, 18-29) and ``family``. Group-level predictors are not used.

Priors: :math:`\\beta_0 \\sim N(0, 2.5)` (``intercept``), :math:`\\beta \\sim N(0, 2.5)`
(``coefficients``), :math:`\\sigma \\sim \\text{HalfNormal}(1)` (``group_sigma``).

Parameters: ``Intercept_centred``, ``Intercept``, one per predictor, ``<group>_sigma``,
``<group>_offset`` (:math:`\\epsilon`, dim ``<group>``), ``<group>_effect`` (:math:`u`).
"""

from __future__ import annotations

import pymc as pm

from returnmodels.models._common import BINARY_PRIORS, binomial_likelihood, new_model
from returnmodels.models.data import Design
from returnmodels.models.linear import add_block

NAME = "varying_intercepts"
SUMMARY = "nationality random intercepts with the case-level predictors"
DEFAULT_PRIORS = {k: v for k, v in BINARY_PRIORS.items() if k != "group_coefficients"}


def build(design: Design, priors: dict) -> pm.Model:
    with new_model(design) as model:
        eta, _ = add_block(design, priors, group_predictors=False)
        binomial_likelihood(design, eta)
    return model

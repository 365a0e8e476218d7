"""``pooled``: logistic regression without group effects (the baseline).

Likelihood, for binomial cell :math:`c` (cases sharing every predictor value):

.. math::

    s_c \\sim \\operatorname{Binomial}\\big(n_c,\\ \\operatorname{logit}^{-1}(\\eta_c)\\big),
    \\qquad \\eta_c = \\beta_0 + x_c^\\top\\beta + z_{j[c]}^\\top\\gamma

with :math:`x_c` the case-level predictors (numeric ones centred, categorical ones coded
against a reference level) and :math:`z_j` the group-level predictors, here entering as
plain fixed effects. No group effects: every group shares one intercept.

Priors (names in :data:`DEFAULT_PRIORS`): :math:`\\beta_0 \\sim N(0, 2.5)` (``intercept``,
on the centred scale), :math:`\\beta \\sim N(0, 2.5)` (``coefficients``),
:math:`\\gamma \\sim N(0, 2.5)` (``group_coefficients``).

Parameters: ``Intercept_centred``, ``Intercept``, one per predictor (``n_procedures``;
``gender`` with dim ``gender_level``; ...), one per group predictor (``cooperation``).
"""

from __future__ import annotations

import pymc as pm

from returnmodels.models._common import BINARY_PRIORS, binomial_likelihood, new_model
from returnmodels.models.design import Design
from returnmodels.models.linear import add_block

NAME = "pooled"
SUMMARY = "logistic regression without nationality effects: the baseline"
#: The same model as a formula on case files, with the case file's reference levels
#: (REFERENCE; the formula engine fits it: README, Writing a model).
FORMULA = "assisted ~ n_procedures + C(closing_year) + gender + age_group + family + cooperation"
DEFAULT_PRIORS = {k: v for k, v in BINARY_PRIORS.items() if k != "group_sigma"}


def build(design: Design, priors: dict) -> pm.Model:
    with new_model(design) as model:
        eta = add_block(design, priors, group_effects=False).eta
        binomial_likelihood(design, eta)
    return model

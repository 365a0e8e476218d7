"""``competing_outcomes``: the six case outcomes, in two stages with group effects in each.

For case-file cell :math:`c` with :math:`n_c` cases, of which :math:`s_c` ended in
assisted return and :math:`y_{c,k}` in each other outcome :math:`k`:

.. math::

    s_c \\sim \\operatorname{Binomial}(n_c,\\ p_c), \\qquad
    p_c = \\operatorname{logit}^{-1}(\\eta_c) \\quad \\text{(stage 1: as group_predictors)}

    y_{c,\\cdot} \\sim \\operatorname{Multinomial}\\big(n_c - s_c,\\
        \\operatorname{softmax}(\\eta_{c,\\cdot})\\big), \\qquad
    \\eta_{c,k} = \\beta_{0k} + x_c^\\top\\beta_k + z_j^\\top\\gamma_k + \\sigma_k\\epsilon_{jk}

over the five other outcomes with :math:`\\eta_{c,k} = 0` for the reference
``unsupervised_departure``; :math:`\\epsilon_{jk} \\sim N(0, 1)`. In both stages a group
is sampled centred where its own counts pin down every log-odds of the stage (for stage 2
against the reference outcome; :func:`returnmodels.models.linear.centred_groups`), and
non-centred as written here elsewhere; on the bundled data 73 of 120 nationalities are
centred in stage 1 and 61 in stage 2. This is exactly the
simulator's generative model (:mod:`returnmodels.simulate.truth`), and its product is the
categorical likelihood of the six outcomes with probabilities
:math:`(p_c,\\ (1 - p_c)\\operatorname{softmax}(\\eta_{c,\\cdot}))`, which the summaries
report (outcome shares, margins per outcome).

Priors: stage 1 as ``group_predictors``; stage 2 the same with the ``competing_`` prefix
(``competing_intercept``, ``competing_coefficients``, ``competing_group_sigma``,
``competing_group_coefficients``), independently for each non-reference outcome.

Parameters: stage 1 as ``group_predictors``; stage 2 named ``competing_<name>`` with a
leading dim ``nonreference_outcome``. Observed: ``assisted`` (dim ``cell``) and
``competing`` (dims ``cell``, ``competing_outcome``).

Sampling in stages: the two stages share no parameter and their priors are independent,
so the posterior factorises, :math:`p(\\theta_1, \\theta_2 \\mid y) = p(\\theta_1 \\mid s)
\\, p(\\theta_2 \\mid y_{\\cdot})`. :func:`build_stages` gives the two factors as separate
models, which :func:`returnmodels.inference.fit.fit` samples one after the other and joins draw
by draw (independent draws of independent factors are draws of the joint). Each stage
gets its own mass-matrix adaptation: sampled jointly, the stage-1 intercept and
cooperation effects mixed poorly on the bundled data (bulk ESS 56, R-hat 1.07 at 1000
draws), while stage 1 alone converges as ``group_predictors`` does.
"""

from __future__ import annotations

import pymc as pm
import pytensor.tensor as pt

from returnmodels.data.vocabulary import (
    COMPETING_OUTCOMES,
    NONREFERENCE_OUTCOMES,
    OUTCOMES,
    REFERENCE_OUTCOME,
)
from returnmodels.models._common import (
    BINARY_PRIORS,
    binomial_likelihood,
    multinomial_likelihood,
    new_model,
)
from returnmodels.models.design import CELL_DIM, Design
from returnmodels.models.linear import add_block

NAME = "competing_outcomes"
SUMMARY = "two-stage multinomial model of the six outcomes: what assisted return competes with"
#: The same model as a formula on case files, with the case file's reference levels
#: (REFERENCE; the formula engine fits it in the same two stages: README, Writing a model).
FORMULA = (
    "outcome ~ n_procedures + C(closing_year) + gender + age_group + family + cooperation"
    " + (1 | nationality)"
)
DEFAULT_PRIORS = BINARY_PRIORS | {f"competing_{k}": v for k, v in BINARY_PRIORS.items()}
OUTCOMES_NEEDED = True

REFERENCE = REFERENCE_OUTCOME
COMPETING = COMPETING_OUTCOMES
NONREFERENCE = NONREFERENCE_OUTCOMES


COORDS = {
    "outcome": list(OUTCOMES),
    "competing_outcome": list(COMPETING),
    "nonreference_outcome": list(NONREFERENCE),
}


def build(design: Design, priors: dict) -> pm.Model:
    """The joint model of both stages (log-likelihood, prior and posterior predictive)."""
    with new_model(design, COORDS) as model:
        _uptake(design, priors)
        _competing(design, priors)
    return model


def build_stages(design: Design, priors: dict) -> tuple[pm.Model, pm.Model]:
    """The two factors of the posterior as separate models: uptake, then competing."""
    with new_model(design, COORDS) as uptake:
        _uptake(design, priors)
    with new_model(design, COORDS) as competing:
        _competing(design, priors)
    return uptake, competing


def _uptake(design: Design, priors: dict) -> None:
    eta = add_block(design, priors).eta
    binomial_likelihood(design, eta)


def _competing(design: Design, priors: dict) -> None:
    at = COMPETING.index(REFERENCE)
    counts = design.cells[list(COMPETING)].to_numpy("int64")
    eta2 = add_block(
        design,
        priors,
        prefix="competing_",
        lead=("nonreference_outcome",),
        counts=counts,
        reference=at,
    ).eta
    zeros = pt.zeros((len(design.cells), 1))
    logits = pt.concatenate([eta2[:, :at], zeros, eta2[:, at:]], axis=1)
    multinomial_likelihood("competing", counts, logits, dims=(CELL_DIM, "competing_outcome"))

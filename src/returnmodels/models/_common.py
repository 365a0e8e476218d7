"""What the builders share: default priors, the model shell, data and the likelihoods.

Every array that comes from the data enters a model as ``pm.Data`` (a shared variable),
never as a graph constant: the compiled log density then depends on the model's structure
and sizes only, so its compile cache (:mod:`returnmodels.inference.compiled`) serves another seed,
another notebook and other data of the same shape. The likelihoods add the data-only
normalising constants as precomputed data rather than recomputing three log-gamma
functions per cell at every gradient evaluation.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import gammaln

from returnmodels.models.design import CELL_DIM, Design

__all__ = [
    "BINARY_PRIORS",
    "binomial_likelihood",
    "data",
    "log_binomial_coefficient",
    "multinomial_likelihood",
    "new_model",
]

#: Defaults of every binary model (weakly informative on the logit scale).
BINARY_PRIORS: dict[str, dict] = {
    "intercept": {"dist": "Normal", "mu": 0.0, "sigma": 2.5},
    "coefficients": {"dist": "Normal", "mu": 0.0, "sigma": 2.5},
    "group_sigma": {"dist": "HalfNormal", "sigma": 1.0},
    "group_coefficients": {"dist": "Normal", "mu": 0.0, "sigma": 2.5},
}


def new_model(design: Design, extra_coords: dict | None = None) -> pm.Model:
    """An empty model with the design's coords (and ``extra_coords``)."""
    return pm.Model(coords=design.coords() | (extra_coords or {}))


def data(name: str, values: np.ndarray):
    """``values`` as the shared data variable ``name`` of the model in context (the
    existing one when a builder asks for the same data twice)."""
    values = np.ascontiguousarray(values)
    model = pm.modelcontext(None)
    if name in model.named_vars:
        existing = model[name]
        if not np.array_equal(existing.get_value(), values):
            raise ValueError(f"model data {name!r} already holds different values")
        return existing
    return pm.Data(name, values)


def log_binomial_coefficient(trials: np.ndarray, successes: np.ndarray) -> np.ndarray:
    """log C(n, k) per cell: the data-only term of the binomial log-likelihood."""
    n, k = np.asarray(trials, float), np.asarray(successes, float)
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


def _binomial_logp(value, trials, eta, log_coefficient):
    return log_coefficient + value * eta - trials * pt.log1pexp(eta)


def _binomial_dist(trials, eta, log_coefficient, size):
    return pm.Binomial.dist(n=trials, logit_p=eta, size=size)


def binomial_likelihood(design: Design, eta) -> None:
    r"""successes_c ~ Binomial(trials_c, logit^-1(eta_c)), named after the response.

    .. math::

        \log p(s_c \mid \eta_c) = \log\binom{n_c}{s_c} + s_c\,\eta_c
            - n_c \log\big(1 + e^{\eta_c}\big)

    with :math:`\log\binom{n_c}{s_c}` computed once from the observed counts (data
    ``{prefix}log_binomial_coefficient``): the density is exact at the observed
    successes, which is where sampling and the log-likelihood evaluate it. Draws
    (prior and posterior predictive) come from ``pm.Binomial``.
    """
    n, k = design.trials, design.successes
    log_coefficient = log_binomial_coefficient(n, k)
    pm.CustomDist(
        design.spec.response,
        data("trials", n),
        eta,
        data("log_binomial_coefficient", log_coefficient),
        dist=_binomial_dist,
        logp=_binomial_logp,
        observed=data("successes", k),
        dims=CELL_DIM,
    )


def _multinomial_logp(value, trials, logits, log_coefficient):
    log_p = logits - pt.logsumexp(logits, axis=-1, keepdims=True)
    return log_coefficient + pt.sum(value * log_p, axis=-1)


def _multinomial_dist(trials, logits, log_coefficient, size):
    return pm.Multinomial.dist(n=trials, p=pt.special.softmax(logits, axis=-1), size=size)


def multinomial_likelihood(name: str, counts: np.ndarray, logits, dims: tuple[str, str]) -> None:
    r"""y_c ~ Multinomial(sum_k y_ck, softmax(logits_c)) for the (cells, K) ``counts``.

    .. math::

        \log p(y_c \mid \eta_c) = \log\frac{n_c!}{\prod_k y_{ck}!}
            + \sum_k y_{ck} \big(\eta_{ck} - \log \textstyle\sum_l e^{\eta_{cl}}\big)

    with the multinomial coefficient of the observed counts precomputed as data
    (``{name}_log_multinomial_coefficient``), as in :func:`binomial_likelihood`.
    """
    trials = counts.sum(axis=1)
    log_coefficient = gammaln(trials + 1.0) - gammaln(counts + 1.0).sum(axis=1)
    pm.CustomDist(
        name,
        data(f"{name}_trials", trials),
        logits,
        data(f"{name}_log_multinomial_coefficient", log_coefficient),
        dist=_multinomial_dist,
        logp=_multinomial_logp,
        observed=data(f"{name}_counts", counts),
        ndim_supp=1,
        ndims_params=[0, 1, 0],
        dims=dims,
    )

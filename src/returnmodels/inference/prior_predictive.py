r"""The prior predictive check of any model, on the sampler that fits it.

As rstanarm's ``prior_PD = TRUE``: the engine that samples every fit
(:mod:`returnmodels.engine.graph`) runs with its likelihood weight at 0
(:func:`~returnmodels.engine.inputs.engine_inputs`), on the same compiled graph, so
its draws are draws of the prior

.. math:: \theta \sim p(\theta), \qquad
   \tilde y_c \sim \operatorname{Binomial}\big(n_c, \operatorname{logit}^{-1}\eta_c(\theta)\big)

and each draw gives a replicated data set on the observed cells (their predictors and
numbers of cases). The competing-outcomes family replicates both stages: the cases in
assisted return, then the others by outcome,
:math:`\tilde y_{c\cdot} \sim \operatorname{Multinomial}(n_c - \tilde s_c,
\operatorname{softmax}(0, \eta_{c1}, \dots))`.

:func:`draw_prior` draws the same priors independently, in NumPy, by their definitions
(Normal or Student-t coefficients, half-normal, exponential or half Student-t SDs, LKJ
correlations by the vine method of Lewandowski, Kurowicka and Joe 2009, non-centred
effects :math:`u_j = \operatorname{diag}(\sigma) L z_j`): what simulation-based
calibration draws its true values from, and what the engine's prior draws are tested
against.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, softmax

from returnmodels.data.vocabulary import COMPETING_OUTCOMES, REFERENCE_OUTCOME
from returnmodels.engine.callbacks import compile_formula_model
from returnmodels.engine.design import FormulaDesign
from returnmodels.engine.log_likelihood import stage_linear_predictor, stage_parameters
from returnmodels.engine.priors import prior_of
from returnmodels.engine.result import cells_dataset
from returnmodels.errors import ConfigError
from returnmodels.inference.fit import engine_design, sample_compiled

__all__ = ["draw_prior", "prior_predictive", "replicate", "sample_prior"]

_SAMPLE = ("chain", "draw")


# ---------------------------------------------------------------- the prior in NumPy


def _draw(spec: Mapping, rng: np.random.Generator, size) -> np.ndarray:
    """Draws of one prior as :data:`returnmodels.engine.priors.FORMULA_PRIORS` writes it."""
    dist = spec["dist"]
    if dist == "Normal":
        return rng.normal(spec["mu"], spec["sigma"], size)
    if dist == "StudentT":
        return spec["mu"] + spec["sigma"] * rng.standard_t(spec["nu"], size)
    if dist == "HalfNormal":
        return np.abs(rng.normal(0.0, spec["sigma"], size))
    if dist == "Exponential":
        return rng.exponential(1.0 / spec["lam"], size)
    if dist == "HalfStudentT":
        return np.abs(spec["sigma"] * rng.standard_t(spec["nu"], size))
    raise ConfigError(f"no draws of a {dist} prior")


def lkj_cholesky(m: int, eta: float, rng: np.random.Generator, n: int) -> np.ndarray:
    r"""``n`` Cholesky factors (n, m, m) of LKJ(``eta``) correlation matrices by the vine
    method: the partial correlation of row :math:`r` and column :math:`c < r` given the
    columns before :math:`c` is :math:`2\,\mathrm{Beta}(b_c, b_c) - 1` with
    :math:`b_c = \eta + (m - 2 - c)/2`, and
    :math:`L_{rc} = w_{rc} \prod_{k<c} \sqrt{1 - w_{rk}^2}` (the diagonal: the same
    product over every :math:`k < r`)."""
    L = np.zeros((n, m, m))
    L[:, 0, 0] = 1.0
    for r in range(1, m):
        remaining = np.ones(n)
        for c in range(r):
            b = eta + (m - 2 - c) / 2.0
            w = 2.0 * rng.beta(b, b, n) - 1.0
            L[:, r, c] = w * np.sqrt(remaining)
            remaining = remaining * (1.0 - w**2)
        L[:, r, r] = np.sqrt(remaining)
    return L


def draw_prior(design: FormulaDesign, n: int, rng: np.random.Generator) -> xr.Dataset:
    """``n`` independent draws of a binary design's parameters from its priors, named and
    shaped as a fit's posterior (chain 1, draw n): coefficients, ``<column>_sigma``,
    ``<factor>_corr`` and ``<column>_effect``, and the SD of an integrated intercept
    (``person_id_sigma``); see the module docstring."""
    if design.lead is not None:
        raise ConfigError("draw_prior draws a binary design's parameters (one stage)")
    out: dict[str, xr.DataArray] = {}
    coords = {"chain": [0], "draw": np.arange(n)}

    def add(name, values, dims=(), labels=None):
        own = {dims[0]: list(labels)} if dims else {}
        out[name] = xr.DataArray(
            values.reshape(1, n, *values.shape[1:]), dims=(*_SAMPLE, *dims), coords=coords | own
        )

    column = 0
    for term in design.common:
        width = len(term.labels)
        rows = design.coefficient_priors[column : column + width]
        values = np.stack(
            [
                mu + sigma * (rng.normal(size=n) if np.isinf(nu) else rng.standard_t(nu, n))
                for nu, mu, sigma in rows
            ],
            axis=1,
        )
        if term.levels is None:
            add(term.name, values[:, 0])
        else:
            add(term.name, values, (term.dim,), term.levels)
        column += width
    for block in design.blocks:
        sigmas = np.stack(
            [
                _draw(prior_of(design.priors, f"{block.column_name(r)}_sigma"), rng, n)
                for r in range(block.width)
            ],
            axis=1,
        )  # (n, m)
        for r in range(block.width):
            add(f"{block.column_name(r)}_sigma", sigmas[:, r])
        m, J = block.width, len(block.levels)
        z = rng.normal(size=(n, J, m))
        if block.correlated:
            eta = prior_of(design.priors, f"{block.factor}_corr")["eta"]
            L = lkj_cholesky(m, eta, rng, n)
            effects = np.einsum("nrc,njc->njr", L, z) * sigmas[:, None, :]
            omega = L @ np.swapaxes(L, 1, 2)
            pairs = [(c, r) for r in range(1, m) for c in range(r)]
            values = np.stack([omega[:, r, c] for c, r in pairs], axis=1)
            if len(pairs) == 1:
                add(f"{block.factor}_corr", values[:, 0])
            else:
                labels = [f"{block.columns[c]},{block.columns[r]}" for c, r in pairs]
                add(f"{block.factor}_corr", values, (f"{block.factor}_corr_pair",), labels)
        else:
            effects = z * sigmas[:, None, :]
        for r in range(m):
            add(f"{block.column_name(r)}_effect", effects[:, :, r], (block.factor,), block.levels)
    if design.integrated is not None:  # the SD of the intercept integrated out (persons)
        name = design.integrated.sigma_name
        add(name, _draw(prior_of(design.priors, name), rng, n))
    return xr.Dataset(out)


# ---------------------------------------------------------------- the engine's prior


def sample_prior(
    stages: tuple[FormulaDesign, ...],
    *,
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
    random_seed: int = 0,
    progressbar: bool = False,
) -> xr.DataTree:
    """Draws of the prior from the engine with likelihood weight 0 (nothing compiled
    that a fit has not): ``prior`` (the parameters, named as a fit's posterior) and
    ``sample_stats_prior`` (the sampler's statistics, divergences included)."""
    priors, stats = [], []
    for i, stage in enumerate(stages):
        compiled = compile_formula_model(stage, likelihood_weight=0)
        sampled = sample_compiled(
            compiled, draws=draws, tune=tune, chains=chains, random_seed=int(random_seed) + i,
            progressbar=progressbar,
        )  # fmt: skip
        priors.append(sampled["posterior"].to_dataset())
        stats.append(sampled["sample_stats"].to_dataset())
    stats = [s.drop_vars([k for k, v in s.data_vars.items() if v.dtype == object]) for s in stats]
    groups = {"prior": xr.merge(priors), "sample_stats_prior": stats[0]}
    groups |= {f"sample_stats_prior_stage{i}": s for i, s in enumerate(stats[1:], start=1)}
    return xr.DataTree.from_dict(groups)


def replicate(
    parameters: xr.Dataset, stages: tuple[FormulaDesign, ...], rng: np.random.Generator
) -> xr.Dataset:
    """One replicated data set per draw of ``parameters`` on the stages' cells: the
    response of stage 1 (``assisted`` for case files), and for the competing-outcomes
    family ``competing`` (cell x ``competing_outcome``): the cases not replicated as
    assisted, by outcome (module docstring)."""
    design = stages[0]
    beta, effects = stage_parameters(parameters, design)
    chains, draws = beta.shape[:2]
    everything = slice(0, draws)
    n = design.trials.astype(np.int64)
    p = expit(stage_linear_predictor(design, beta, effects, everything)[..., 0])
    successes = rng.binomial(n, p)
    coords = {"chain": parameters["chain"].values, "draw": parameters["draw"].values}
    coords["cell"] = np.arange(design.n_cells)
    out = {design.response: (("chain", "draw", "cell"), successes)}
    if len(stages) > 1:
        stage = stages[1]
        beta2, effects2 = stage_parameters(parameters, stage)
        eta = stage_linear_predictor(stage, beta2, effects2, everything)  # (ch, d, C, M)
        zero = np.zeros((*eta.shape[:-1], 1))
        probabilities = softmax(np.concatenate([zero, eta], axis=-1), axis=-1)
        left = n[None, None, :] - successes
        counts = rng.multinomial(left, probabilities)  # reference first, then lead levels
        order = [REFERENCE_OUTCOME, *stage.lead_levels]
        at = [order.index(o) for o in COMPETING_OUTCOMES]
        out["competing"] = (("chain", "draw", "cell", "competing_outcome"), counts[..., at])
        coords["competing_outcome"] = list(COMPETING_OUTCOMES)
    return xr.Dataset(out, coords=coords)


def prior_predictive(
    data: pd.DataFrame | str | os.PathLike,
    model: str = "group_predictors",
    *,
    formula: str | None = None,
    reference: Mapping[str, str] | None = None,
    priors: Mapping | None = None,
    columns=None,
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
    random_seed: int = 0,
    progressbar: bool = False,
) -> xr.DataTree:
    """The prior predictive distribution of a registered ``model`` or any ``formula``
    (arguments as :func:`returnmodels.fit`) on the cells of ``data``: ``draws`` per chain
    from the engine with its likelihood weight at 0 (module docstring).

    Groups: ``prior`` (parameters, named as the engine's posterior: ``Intercept`` is the
    log-odds at the case-weighted means of the numeric predictors and the reference
    levels), ``prior_predictive`` (replicated counts per cell), ``observed_data``,
    ``constant_data`` (the cells) and ``sample_stats_prior``. Internal, as a fit: the
    replicated counts are per cell."""
    for name, value in (("draws", draws), ("tune", tune), ("chains", chains)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")
    stages = engine_design(
        data, model, formula=formula, reference=reference, priors=priors, columns=columns
    )
    tree = sample_prior(
        stages,
        draws=int(draws),
        tune=int(tune),
        chains=int(chains),
        random_seed=random_seed,
        progressbar=progressbar,
    )
    rng = np.random.default_rng([int(random_seed), 1])
    tree["prior_predictive"] = replicate(tree["prior"].to_dataset(), stages, rng)
    design = stages[0]
    cell = {"cell": np.arange(design.n_cells)}
    tree["observed_data"] = xr.Dataset({design.response: ("cell", design.successes)}, coords=cell)
    tree["constant_data"] = cells_dataset(design)
    tree.attrs["returnmodels_prior_predictive"] = json.dumps(
        {
            "model": formula or model,
            "reference": design.references,
            "priors": design.priors,
            "draws": int(draws),
            "chains": int(chains),
            "random_seed": int(random_seed),
        },
        default=str,
    )
    return tree

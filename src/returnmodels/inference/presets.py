r"""Registered models on the formula engine, with their registered outputs.

:func:`sample_preset` fits a registered model on the precompiled sampler
(:mod:`returnmodels.inference.formula_fit`, no compile for a new model or new data) and
returns the posterior with the names, dims and derived quantities its PyMC model
(``models/<name>.py``) gives, so that everything downstream reads it as before:

* ``Intercept_centred`` (the engine's intercept, at the centred predictors) and
  ``Intercept`` :math:`= \beta_0 - \sum_k \beta_k \bar x_k` over the numeric terms;
* the parameterisation's own variables, as deterministic functions of the draws:
  ``<group>_intercept`` :math:`a_j = \mu_j + u_j` of the groups the PyMC model samples
  centred (:func:`returnmodels.models.linear.centred_groups`), ``<group>_offset``
  :math:`u_j / \sigma` of the others, with :math:`\mu_j = \beta_0 + z_j^\top\gamma`;
  for ``varying_slopes`` ``<group>_corr_unit`` :math:`(\rho + 1)/2` and
  ``<group>_<slope>_offset`` :math:`(b_j/\sigma_b - \rho\, a_j/\sigma_a)/\sqrt{1-\rho^2}`.
  With them, the PyMC model's log density and pointwise log-likelihood can be evaluated
  at every draw (a test does);
* ``competing_<group>_effect`` with dims ``(<group>, nonreference_outcome)``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from returnmodels.data.vocabulary import COMPETING_OUTCOMES, REFERENCE_OUTCOME
from returnmodels.models.design import Design
from returnmodels.models.formula import FormulaDesign, competing_stage
from returnmodels.models.linear import binary_counts, centred_groups
from returnmodels.models.presets import ENGINE_MODELS

__all__ = ["engine_stages", "registered_posterior"]

_SAMPLE = ("chain", "draw")


def engine_stages(engine_design: FormulaDesign) -> tuple[FormulaDesign, ...]:
    """The designs sampled one after the other: the model, or both competing stages."""
    if engine_design.outcome_counts is None:
        return (engine_design,)
    return engine_design, competing_stage(engine_design)


def _numeric_shift(posterior: xr.Dataset, design: Design, name: str, prefix: str):
    """sum_k beta_k * centre_k over the numeric terms the model uses."""
    terms = list(design.terms)
    if ENGINE_MODELS[name]["group_terms"]:
        terms += list(design.group_terms)
    shift = 0.0
    for term in terms:
        if term.kind == "numeric" and term.center:
            shift = shift + posterior[f"{prefix}{term.name}"] * term.center
    return shift


def _group_mean(posterior: xr.Dataset, design: Design, name: str, prefix: str) -> xr.DataArray:
    """mu_j = Intercept_centred + z_j' gamma, dims (chain, draw, [lead,] group)."""
    g = design.group
    mu = posterior[f"{prefix}Intercept_centred"].expand_dims({g: list(design.groups)}, axis=-1)
    if ENGINE_MODELS[name]["group_terms"] and design.group_terms:
        for term in design.group_terms:
            columns = term.encode(design.group_table[term.name])  # (groups, width)
            coefficient = posterior[f"{prefix}{term.name}"]
            if term.kind == "numeric":
                mu = mu + coefficient * xr.DataArray(columns[:, 0], dims=g)
            else:
                z = xr.DataArray(columns, dims=(g, term.dim), coords={term.dim: list(term.coded)})
                mu = mu + (coefficient * z).sum(term.dim)
    return mu


def _split(
    effect: xr.DataArray, sigma: xr.DataArray, mu: xr.DataArray, centred: np.ndarray, design, p
):
    """``{p}<g>_intercept`` (centred groups) and ``{p}<g>_offset`` (the others)."""
    g = design.group
    groups = np.asarray(design.groups, dtype=object)
    out = {}
    lead = [d for d in effect.dims if d not in (*_SAMPLE, g)]
    if centred.any():
        a = (mu + effect).isel({g: np.flatnonzero(centred)})
        out[f"{p}{g}_intercept"] = (
            a.rename({g: f"{p}{g}_centred"})
            .assign_coords({f"{p}{g}_centred": list(groups[centred])})
            .transpose(*_SAMPLE, f"{p}{g}_centred", *lead)
        )
    if (~centred).any():
        e = (effect / sigma).isel({g: np.flatnonzero(~centred)})
        out[f"{p}{g}_offset"] = (
            e.rename({g: f"{p}{g}_noncentred"})
            .assign_coords({f"{p}{g}_noncentred": list(groups[~centred])})
            .transpose(*_SAMPLE, f"{p}{g}_noncentred", *lead)
        )
    return out


def registered_posterior(posterior: xr.Dataset, design: Design, name: str) -> xr.Dataset:
    """The engine's posterior of registered model ``name`` with its registered outputs
    (see the module docstring)."""
    g = design.group
    use = ENGINE_MODELS[name]
    out = posterior.copy()
    stages = [("", binary_counts(design), 0)]
    if name == "competing_outcomes":
        counts = design.cells[list(COMPETING_OUTCOMES)].to_numpy("int64")
        stages.append(("competing_", counts, COMPETING_OUTCOMES.index(REFERENCE_OUTCOME)))
    for p, counts, reference in stages:
        out = out.rename({f"{p}Intercept": f"{p}Intercept_centred"})
        out[f"{p}Intercept"] = out[f"{p}Intercept_centred"] - _numeric_shift(out, design, name, p)
        if not use["effects"]:
            continue
        effect = out[f"{p}{g}_effect"]
        if p:  # the registered dims: (group, nonreference_outcome)
            effect = effect.transpose(*_SAMPLE, g, ...)
            out[f"{p}{g}_effect"] = effect
        mu = _group_mean(out, design, name, p)
        centred = centred_groups(design, counts, reference)
        out = out.assign(_split(effect, out[f"{p}{g}_sigma"], mu, centred, design, p))
    if use["slope"]:
        slope = design.spec.slope
        rho = out[f"{g}_corr"]
        a, b = out[f"{g}_effect"], out[f"{g}_{slope}_effect"]
        sigma_a, sigma_b = out[f"{g}_sigma"], out[f"{g}_{slope}_sigma"]
        out[f"{g}_corr_unit"] = (rho + 1.0) / 2.0
        offset = (b / sigma_b - rho * a / sigma_a) / np.sqrt(1.0 - rho**2)
        out[f"{g}_{slope}_offset"] = offset.transpose(*_SAMPLE, g)
    return out

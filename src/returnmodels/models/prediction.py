"""The NumPy mirror of the linear predictor, for prediction from posterior draws.

For cell or row :math:`c` of group :math:`j`, from each draw of the posterior:

.. math::

    \\eta_c = \\beta_0 + x_c^\\top \\beta + z_j^\\top \\gamma + u_j
            \\; [+\\, b_j\\, x_{c,\\text{slope}}]

the same :math:`\\eta` as the PyMC blocks of :mod:`returnmodels.models.linear`, computed
with NumPy for any rows, so summaries never build or compile a model (and never import
PyMC). Rows of a group not in the fit are handled explicitly (``new_groups``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.errors import ConfigError
from returnmodels.models.design import Design

__all__ = ["SAMPLE", "encode_rows", "predict_eta", "stack_draws", "stacked"]

SAMPLE = ("chain", "draw")


def stacked(posterior: xr.Dataset, name: str, lead: str | None = None, at=None) -> np.ndarray:
    """Draws of ``name`` as (samples, ...) with chain and draw stacked."""
    var = posterior[name]
    if lead is not None:
        var = var.sel({lead: at})
    if "sample" not in var.dims:
        var = var.stack(sample=SAMPLE)
    return var.transpose("sample", ...).values


def stack_draws(posterior: xr.Dataset) -> xr.Dataset:
    """The posterior with chain and draw flattened into one plain ``sample`` dim."""
    flat = posterior.stack(sample=SAMPLE)
    return flat.drop_vars(["sample", "chain", "draw"]).transpose("sample", ...)


def _beta(posterior, terms, prefix, lead, at) -> np.ndarray:
    blocks = [stacked(posterior, prefix + t.name, lead, at).reshape(-1, t.width) for t in terms]
    return np.concatenate(blocks, axis=1) if blocks else None


def encode_rows(design: Design, frame: pd.DataFrame) -> dict:
    """The design matrices of ``frame``'s rows, encoded once for many draws."""
    slope = design.spec.slope
    return {
        "X": design.case_matrix(frame),
        "Z": design.group_matrix(frame),
        "index": design.group_index(frame),
        "slope": (
            design.term(slope).encode(frame[slope])[:, 0]
            if slope in design.spec.predictors
            else None
        ),
        "groups": frame[design.group].astype(str).to_numpy(),
    }


def predict_eta(
    posterior: xr.Dataset,
    design: Design,
    frame: pd.DataFrame | dict,
    *,
    prefix: str = "",
    lead: str | None = None,
    at=None,
    new_groups: str = "population",
    random_seed: int | None = None,
    draws: slice = slice(None),
) -> np.ndarray:
    """Linear predictor (samples, rows) for ``frame`` (group and predictor columns, or
    its :func:`encode_rows`).

    Rows of a group not in the fit get ``new_groups="population"`` (no group deviation:
    the population-level prediction) or ``"sample"`` (a fresh deviation drawn from the
    fitted group distribution, one per new group and draw).
    """
    rows = encode_rows(design, frame) if isinstance(frame, pd.DataFrame) else frame
    dim = "sample" if "sample" in posterior.dims else "draw"
    post = posterior.isel({dim: draws}) if draws != slice(None) else posterior
    g = design.group
    b0 = stacked(post, f"{prefix}Intercept_centred", lead, at)
    eta = np.repeat(b0[:, None], len(rows["index"]), axis=1)
    beta = _beta(post, design.terms, prefix, lead, at)
    if beta is not None:
        eta += beta @ rows["X"].T
    # Models without group-level predictors (varying_intercepts) sample no gamma.
    fitted_group_terms = tuple(t for t in design.group_terms if prefix + t.name in post)
    gamma = _beta(post, fitted_group_terms, prefix, lead, at)
    if gamma is not None:
        eta += gamma @ rows["Z"].T
    index = rows["index"]
    effect_name = f"{prefix}{g}_effect"
    if effect_name in post:
        effect = stacked(post, effect_name, lead, at)
        eta += np.where(index >= 0, effect[:, np.maximum(index, 0)], 0.0)
        seed = None if random_seed is None else [random_seed, draws.start or 0]
        eta += _new_group_effects(post, design, rows, prefix, lead, at, new_groups, seed)
    slope = f"{g}_{design.spec.slope}_effect"
    if not prefix and slope in post:
        b = stacked(post, slope)[:, np.maximum(index, 0)] * (index >= 0)
        eta += b * rows["slope"]
    return eta


def _new_group_effects(post, design, rows, prefix, lead, at, how, seed) -> np.ndarray:
    index = rows["index"]
    if (index >= 0).all():
        return 0.0
    if how == "population":
        return 0.0
    if how != "sample":
        raise ConfigError(f"new_groups must be 'population' or 'sample', got {how!r}")
    sigma = stacked(post, f"{prefix}{design.group}_sigma", lead, at)
    new = pd.Series(rows["groups"])[index < 0]
    codes, uniques = pd.factorize(new)
    z = np.random.default_rng(seed).standard_normal((len(sigma), len(uniques)))
    out = np.zeros((len(sigma), len(index)))
    out[:, index < 0] = (sigma[:, None] * z)[:, codes]
    return out

"""Priors as data: defaults per model, merged with what the user passes, validated.

A prior is a mapping ``{"dist": <PyMC distribution name>, <parameter>: <number>, ...}``,
for example ``{"dist": "Normal", "mu": 0.0, "sigma": 1.5}``. A model's defaults are a
mapping from prior name to prior; the user's mapping is merged over them
(:func:`merge_priors`): an entry without ``dist`` (or with the same ``dist``) updates the
default's parameters, an entry with another ``dist`` replaces it. Unknown prior names,
distributions and parameters are refused before anything is compiled.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping

import pymc as pm

from returnmodels.errors import ConfigError

__all__ = ["DISTRIBUTIONS", "POSITIVE", "make_prior", "merge_priors", "prior_dist"]

#: Distributions a prior may use, with their parameters.
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "Normal": ("mu", "sigma"),
    "StudentT": ("nu", "mu", "sigma"),
    "Cauchy": ("alpha", "beta"),
    "HalfNormal": ("sigma",),
    "HalfStudentT": ("nu", "sigma"),
    "HalfCauchy": ("beta",),
    "Exponential": ("lam",),
    "Gamma": ("alpha", "beta"),
    "LogNormal": ("mu", "sigma"),
    "LKJ": ("eta",),
}
#: Distributions with positive support: the only ones a scale (``*sigma``) prior may use.
POSITIVE: frozenset[str] = frozenset(
    {"HalfNormal", "HalfStudentT", "HalfCauchy", "Exponential", "Gamma", "LogNormal"}
)


def merge_priors(
    defaults: Mapping[str, Mapping], user: Mapping[str, Mapping] | None = None
) -> dict[str, dict]:
    """``defaults`` updated by ``user`` (user > defaults), validated; a new dict."""
    merged = copy.deepcopy({name: dict(spec) for name, spec in defaults.items()})
    unknown = sorted(set(user or {}) - set(defaults))
    if unknown:
        raise ConfigError(
            f"unknown prior name(s) {unknown}; this model's priors are {sorted(defaults)}"
        )
    for name, spec in (user or {}).items():
        if not isinstance(spec, Mapping):
            raise ConfigError(f"prior {name!r} must be a mapping like {merged[name]}, got {spec!r}")
        spec = dict(spec)
        if spec.get("dist", merged[name]["dist"]) == merged[name]["dist"]:
            merged[name].update(spec)
        else:
            merged[name] = spec
    for name, spec in merged.items():
        _validate(name, spec)
    return merged


def _validate(name: str, spec: dict) -> None:
    dist = spec.get("dist")
    if dist not in DISTRIBUTIONS:
        raise ConfigError(
            f"prior {name!r}: distribution {dist!r} is not one of {sorted(DISTRIBUTIONS)}"
        )
    if (dist == "LKJ") != (name.endswith("lkj")):
        raise ConfigError(f"prior {name!r}: an LKJ prior goes with (only) a correlation prior")
    if name.endswith("sigma") and dist not in POSITIVE:
        raise ConfigError(
            f"prior {name!r} is a scale: use a positive distribution, one of {sorted(POSITIVE)}"
        )
    params = {k: v for k, v in spec.items() if k != "dist"}
    allowed = DISTRIBUTIONS[dist]
    wrong = sorted(set(params) - set(allowed))
    if wrong:
        raise ConfigError(f"prior {name!r}: {dist} takes parameters {list(allowed)}, not {wrong}")
    for key, value in params.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ConfigError(f"prior {name!r}: parameter {key} must be a number, got {value!r}")
        if key != "mu" and value <= 0:
            raise ConfigError(f"prior {name!r}: parameter {key} must be > 0, got {value!r}")


def _params(spec: Mapping) -> dict:
    return {k: float(v) for k, v in spec.items() if k != "dist"}


def make_prior(name: str, spec: Mapping, **kwargs) -> pm.Distribution:
    """Create the model variable ``name`` with prior ``spec`` (inside a model context)."""
    return getattr(pm, spec["dist"])(name, **_params(spec), **kwargs)


def prior_dist(spec: Mapping):
    """The unnamed distribution of ``spec`` (for e.g. ``LKJCholeskyCov(sd_dist=...)``)."""
    return getattr(pm, spec["dist"]).dist(**_params(spec))

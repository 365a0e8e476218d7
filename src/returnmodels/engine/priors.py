"""The priors of a formula model: classes and their defaults, the user's priors
merged over them, and each prior as the row the engine reads.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from returnmodels.errors import ConfigError

#: Prior classes of a formula model and their defaults (weakly informative, logit scale).
#: A prior may also be set for one term by its parameter name (``"n_procedures"``,
#: ``"nationality_sigma"``, ``"nationality_corr"``), merged over its class.
FORMULA_PRIORS: dict[str, dict] = {
    "intercept": {"dist": "Normal", "mu": 0.0, "sigma": 2.5},
    "coefficients": {"dist": "Normal", "mu": 0.0, "sigma": 2.5},
    "sigma": {"dist": "HalfNormal", "sigma": 1.0},
    "corr": {"dist": "LKJ", "eta": 2.0},
}


#: The distributions each prior class may take: those the engine's density and the PyMC
#: model of a term table (:mod:`returnmodels.models.pymc_model`) both have.
CLASS_DISTRIBUTIONS = {
    "intercept": ("Normal", "StudentT"),
    "coefficients": ("Normal", "StudentT"),
    "sigma": ("HalfNormal", "Exponential", "HalfStudentT"),
    "corr": ("LKJ",),
}


_PARAMS = {
    "Normal": ("mu", "sigma"),
    "StudentT": ("nu", "mu", "sigma"),
    "HalfNormal": ("sigma",),
    "Exponential": ("lam",),
    "HalfStudentT": ("nu", "sigma"),
    "LKJ": ("eta",),
}


_SD_KINDS = {"HalfNormal": 0, "Exponential": 1, "HalfStudentT": 2}


def _merge_prior(base: dict, update: Mapping, name: str, allowed: tuple[str, ...]) -> dict:
    if not isinstance(update, Mapping):
        raise ConfigError(f"prior {name!r} must be a mapping like {base}, got {update!r}")
    spec = dict(base) if update.get("dist", base["dist"]) == base["dist"] else {}
    spec.update(update)
    dist = spec.get("dist")
    if dist not in allowed:
        raise ConfigError(f"prior {name!r}: distribution {dist!r} is not one of {list(allowed)}")
    params = {k: v for k, v in spec.items() if k != "dist"}
    if set(params) != set(_PARAMS[dist]):
        raise ConfigError(f"prior {name!r}: {dist} takes parameters {list(_PARAMS[dist])}")
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
            raise ConfigError(f"prior {name!r}: parameter {key} must be a number, got {value!r}")
        if key != "mu" and value <= 0:
            raise ConfigError(f"prior {name!r}: parameter {key} must be > 0, got {value!r}")
    return spec


def merge_formula_priors(user: Mapping | None, term_names: list[str]) -> dict[str, dict]:
    """The prior of every class and term: class defaults, then the user's classes, then
    the user's terms. Unknown names are refused with the list of known ones."""
    user = dict(user or {})
    merged: dict[str, dict] = {}
    for cls, default in FORMULA_PRIORS.items():
        merged[cls] = _merge_prior(default, user.pop(cls, {}), cls, CLASS_DISTRIBUTIONS[cls])
    for name in term_names:
        if name in user:
            cls = prior_class(name)
            merged[name] = _merge_prior(merged[cls], user.pop(name), name, CLASS_DISTRIBUTIONS[cls])
    if user:
        raise ConfigError(
            f"unknown prior name(s) {sorted(user)}; this formula's priors are "
            f"{sorted(FORMULA_PRIORS)} (by class) and {sorted(term_names)} (by term)"
        )
    return merged


def prior_class(name: str) -> str:
    """The prior class of parameter ``name`` (``intercept``, ``coefficients``, ``sigma``,
    ``corr``)."""
    if name.removeprefix("competing_") == "Intercept":
        return "intercept"
    if name.endswith("_sigma"):
        return "sigma"
    if name.endswith("_corr"):
        return "corr"
    return "coefficients"


def prior_of(priors: Mapping[str, dict], name: str) -> dict:
    """The prior of parameter ``name``: its own entry, else its class's."""
    return priors.get(name) or priors[prior_class(name)]


def student_row(spec: Mapping) -> tuple[float, float, float]:
    """(nu, mu, sigma) of a Normal (nu = inf) or StudentT prior."""
    return (float(spec.get("nu", np.inf)), float(spec["mu"]), float(spec["sigma"]))


def sd_row(spec: dict) -> tuple[float, float, float]:
    kind = _SD_KINDS[spec["dist"]]
    scale = 1.0 / spec["lam"] if spec["dist"] == "Exponential" else spec["sigma"]
    return (float(kind), float(scale), float(spec.get("nu", 1.0)))

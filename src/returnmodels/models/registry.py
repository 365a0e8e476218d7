"""The model registry: public names -> builders, defaults and one line on each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import pymc as pm

from returnmodels.errors import ConfigError
from returnmodels.models import (
    MODEL_NAMES,
    competing_outcomes,
    group_predictors,
    pooled,
    varying_intercepts,
    varying_slopes,
)
from returnmodels.models.design import Design

__all__ = ["MODELS", "REFERENCE", "ModelEntry", "get_model", "list_models"]

#: The reference levels of the registered models on case files (as ``CASE_FILE_SPEC``):
#: pass them with a preset's formula to fit the same coding, ``fit(formula=...,
#: reference=REFERENCE)``; closing_year's reference, 2017, is ``C()``'s first level.
REFERENCE: dict[str, str] = {
    "gender": "male",
    "age_group": "18-29",
    "cooperation": "low",
    "family": "False",
}


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: its builder, default priors and what it is for."""

    name: str
    summary: str
    build: Callable[[Design, dict], pm.Model]
    default_priors: dict
    outcomes: bool  # True: needs counts per outcome (the six-outcome model)
    doc: str
    #: Models whose posterior factorises: builds the factors, sampled one by one.
    build_stages: Callable[[Design, dict], tuple[pm.Model, ...]] | None = None
    #: The same model written as a formula (with :data:`REFERENCE`), on case files.
    formula: str = ""

    @classmethod
    def from_module(cls, module: ModuleType) -> ModelEntry:
        return cls(
            name=module.NAME,
            summary=module.SUMMARY,
            build=module.build,
            default_priors=module.DEFAULT_PRIORS,
            outcomes=getattr(module, "OUTCOMES_NEEDED", False),
            doc=module.__doc__ or "",
            build_stages=getattr(module, "build_stages", None),
            formula=module.FORMULA,
        )


#: Registered models, in the order ``returnmodels models`` lists them (:data:`MODEL_NAMES`).
MODELS: dict[str, ModelEntry] = {
    m.NAME: ModelEntry.from_module(m)
    for m in (pooled, varying_intercepts, group_predictors, varying_slopes, competing_outcomes)
}
if tuple(MODELS) != MODEL_NAMES:  # pragma: no cover - a new model registered in one place only
    raise ImportError(f"MODEL_NAMES {MODEL_NAMES} differ from the registry's {tuple(MODELS)}")


def get_model(name: str) -> ModelEntry:
    """The registered model ``name``; a :class:`ConfigError` lists the names otherwise."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {list(MODELS)}")
    return MODELS[name]


def list_models() -> list[tuple[str, str]]:
    """``(name, one line on what it is for)`` for every registered model."""
    return [(entry.name, entry.summary) for entry in MODELS.values()]

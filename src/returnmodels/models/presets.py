r"""The registered models: named formulas, stored as data.

A registered model (a *preset*) is a formula with its reference levels, its priors and
its documentation, nothing more: ``fit(cases, "group_predictors")`` is
``fit(cases, formula=PRESETS["group_predictors"].formula,
reference=PRESETS["group_predictors"].reference, priors=PRESETS["group_predictors"].priors)``
and samples on the one precompiled formula engine like any other formula. The table
:data:`PRESETS` is what ``returnmodels models`` lists.

A preset's ``formula`` is written for case files (:data:`CASE_FILE_SPEC`). For other
columns (``returnmodels fit --successes --trials --group --predictors``, or the main
job's fewer predictors) :func:`preset_call` writes the preset's formula for them: the
case-level predictors, the group-level ones where the preset uses them, and its group
block, with the reference levels the columns give. Its ``priors`` are merged over the
formula engine's defaults (:data:`returnmodels.engine.priors.FORMULA_PRIORS`), by class
(``intercept``, ``coefficients``, ``sigma``, ``corr``) or by parameter name, in which
``{group}`` and ``{slope}`` stand for the grouping column and the varying slope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from returnmodels.data.reading import offending_rows
from returnmodels.errors import ConfigError
from returnmodels.models.columns import CASE_FILE_SPEC, ColumnSpec

__all__ = [
    "PRESETS",
    "Preset",
    "PresetCall",
    "get_preset",
    "list_models",
    "merge_preset_priors",
    "preset_call",
]

_LIKELIHOOD = (
    "s_c ~ Binomial(n_c, logit^-1(eta_c)) over the binomial cells c (cases sharing their group "
    "and every value the formula uses); numeric predictors "
    "centred at their case-weighted mean, so Intercept is the log-odds of an average case "
    "at the reference levels."
)
_DEFAULT_PRIORS = (
    "Priors: the engine's defaults (Normal(0, 2.5) for Intercept and coefficients, "
    "HalfNormal(1) for nationality_sigma)."
)


@dataclass(frozen=True)
class Preset:
    """One registered model: a formula on case files with its reference levels and
    priors, what it is for, and which parts of a column specification it uses (so that
    :func:`preset_call` can write it for other columns)."""

    name: str
    summary: str
    formula: str
    reference: Mapping[str, str]
    doc: str
    #: Priors over the engine's defaults (``{group}``, ``{slope}`` filled in per fit).
    priors: Mapping[str, dict] = field(default_factory=dict)
    #: Group-level predictors (``cooperation``) enter as terms.
    group_terms: bool = True
    #: A varying intercept per group: ``(1 | group)``.
    effects: bool = True
    #: The slope predictor varies by group too: ``(1 + slope | group)``.
    slope: bool = False
    #: The six outcomes (two stages), which only case files have.
    outcomes: bool = False


_CASE_TERMS = "n_procedures + C(closing_year) + gender + age_group + family"
_CASE_REFERENCE = {k: v for k, v in CASE_FILE_SPEC.reference.items() if k != "cooperation"}

#: The registered models, in the order ``returnmodels models`` lists them.
PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="pooled",
            summary="logistic regression without nationality effects: the baseline",
            formula=f"assisted ~ {_CASE_TERMS} + cooperation",
            reference=dict(CASE_FILE_SPEC.reference),
            effects=False,
            doc=(
                "Logistic regression of assisted return on the case-level predictors and "
                "the nationality-level cooperation, with no nationality effects: every "
                f"nationality shares one intercept. {_LIKELIHOOD} Priors: the engine's "
                "defaults (Intercept and coefficients Normal(0, 2.5))."
            ),
        ),
        Preset(
            name="varying_intercepts",
            summary="nationality random intercepts with the case-level predictors",
            formula=f"assisted ~ {_CASE_TERMS} + (1 | nationality)",
            reference=_CASE_REFERENCE,
            group_terms=False,
            doc=(
                "Case-level predictors and a varying intercept per nationality, "
                "u_j ~ N(0, sigma^2); no nationality-level predictor. "
                f"{_LIKELIHOOD} {_DEFAULT_PRIORS}"
            ),
        ),
        Preset(
            name="group_predictors",
            summary="random intercepts plus nationality-level predictors (cooperation)",
            formula=f"assisted ~ {_CASE_TERMS} + cooperation + (1 | nationality)",
            reference=dict(CASE_FILE_SPEC.reference),
            doc=(
                "varying_intercepts plus the nationality-level cooperation (reference low): "
                "nationality_effect is a nationality's deviation from its cooperation "
                "level. The study's model (CALIBRATION.md). "
                f"{_LIKELIHOOD} {_DEFAULT_PRIORS}"
            ),
        ),
        Preset(
            name="varying_slopes",
            summary="random intercepts and n_procedures slopes by nationality, correlated (LKJ)",
            formula=f"assisted ~ {_CASE_TERMS} + cooperation + (1 + n_procedures | nationality)",
            reference=dict(CASE_FILE_SPEC.reference),
            priors={"{group}_{slope}_sigma": {"dist": "HalfNormal", "sigma": 0.5}},
            slope=True,
            doc=(
                "group_predictors with the n_procedures slope varying by nationality too, "
                "intercept and slope deviations correlated, (a_j, b_j) ~ N(0, Sigma), "
                f"Sigma = diag(sigma) R diag(sigma). {_LIKELIHOOD} Priors: the engine's "
                "defaults, with HalfNormal(0.5) for the slope SD "
                "(nationality_n_procedures_sigma) and LKJ(2) for R (nationality_corr)."
            ),
        ),
        Preset(
            name="competing_outcomes",
            summary=(
                "two-stage multinomial model of the six outcomes: what assisted return "
                "competes with"
            ),
            formula=f"outcome ~ {_CASE_TERMS} + cooperation + (1 | nationality)",
            reference=dict(CASE_FILE_SPEC.reference),
            outcomes=True,
            doc=(
                "The six case outcomes in two stages, each with the terms of "
                "group_predictors: stage 1 assisted return against the rest (binomial), "
                "stage 2 the other five outcomes (multinomial against the reference "
                "unsupervised_departure; parameters competing_<name> with leading dim "
                "nonreference_outcome). The stages share no parameter, so they are sampled "
                "one after the other and joined draw by draw. Priors: the engine's "
                "defaults in both stages."
            ),
        ),
    )
}


def get_preset(name: str) -> Preset:
    """The registered model ``name``; a :class:`ConfigError` lists the names otherwise."""
    if name not in PRESETS:
        raise ConfigError(f"unknown model {name!r}; choose one of {list(PRESETS)}")
    return PRESETS[name]


def list_models() -> list[tuple[str, str]]:
    """``(name, one line on what it is for)`` for every registered model."""
    return [(preset.name, preset.summary) for preset in PRESETS.values()]


@dataclass(frozen=True)
class PresetCall:
    """What :func:`returnmodels.fit` fits for a preset: a formula, its reference levels
    and priors (the preset's under the user's)."""

    formula: str
    reference: dict[str, str]
    priors: dict[str, dict]
    #: the cells are split by the group too where the formula has no group term, so
    #: that every preset's LOO observations are the same (group x predictors) cells
    cells_by: tuple[str, ...] = ()


def merge_preset_priors(preset: Mapping[str, dict], user: Mapping | None) -> dict[str, dict]:
    """The user's priors over the preset's, name by name: parameters of the same
    distribution merged, a new ``dist`` replacing the preset's prior whole."""
    merged = {name: dict(spec) for name, spec in preset.items()}
    for name, spec in (user or {}).items():
        if not isinstance(spec, Mapping):
            raise ConfigError(f"prior {name!r} must be a mapping (dist and its parameters)")
        base = merged.get(name, {})
        new_dist = "dist" in spec and spec["dist"] != base.get("dist")
        merged[name] = dict(spec) if new_dist else base | dict(spec)
    return merged


def preset_call(
    name: str, columns: ColumnSpec | None, data: pd.DataFrame, priors: Mapping | None = None
) -> PresetCall:
    """Preset ``name`` written for ``columns`` (default: case files) on ``data`` (the
    checked frame): the formula, the reference levels of the categorical columns it uses
    and the priors (``priors`` over the preset's). Refuses, naming the column: a column
    not in the data, a column named twice, a group-level predictor that varies within a
    group (whether or not the preset uses it), a numeric predictor that holds no
    numbers, a varying slope that is not a numeric case-level predictor, the
    competing-outcomes model without case files."""
    preset = get_preset(name)
    spec = columns or CASE_FILE_SPEC
    _check_columns(preset, spec, data)
    terms = list(spec.predictors) + (list(spec.group_predictors) if preset.group_terms else [])
    written, reference = [], {}
    for column in terms:
        numeric = _is_numeric_term(data[column], column, spec)
        written.append(
            column if numeric or not _stored_as_numbers(data[column]) else f"C({column})"
        )
        if not numeric:
            level = spec.reference.get(column)
            if level is None and pd.api.types.is_bool_dtype(data[column]):
                level = "False"  # a flag's coefficient is the effect of True
            if level is not None:
                reference[column] = str(level)
    if preset.effects:
        slope = f" + {_slope(spec, data)}" if preset.slope else ""
        written.append(f"(1{slope} | {spec.group})")
    formula = f"{_response(preset, spec)} ~ {' + '.join(written) or '1'}"
    fill = {"group": spec.group, "slope": spec.slope or ""}
    base = {key.format(**fill): dict(spec_) for key, spec_ in preset.priors.items()}
    return PresetCall(formula, reference, merge_preset_priors(base, priors), (spec.group,))


def _response(preset: Preset, spec: ColumnSpec) -> str:
    if preset.outcomes:
        return "outcome"
    if spec.successes:
        return f"{spec.successes} | trials({spec.trials})"
    return spec.response


def _stored_as_numbers(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _is_numeric_term(values: pd.Series, column: str, spec: ColumnSpec) -> bool:
    """Numeric (one coefficient, centred): named in ``spec.numeric``, or a float column;
    every other column is categorical (a flag too: its level True against False)."""
    if column in spec.numeric:
        if not _stored_as_numbers(values):
            bad = ~values.map(lambda v: isinstance(v, int | float)).to_numpy(dtype=bool)
            raise ConfigError(
                f"numeric predictor {column!r} holds non-numeric values: "
                f"{offending_rows(values, bad)}; expected numbers"
            )
        return True
    return not isinstance(values.dtype, pd.CategoricalDtype) and pd.api.types.is_float_dtype(values)


def _slope(spec: ColumnSpec, data: pd.DataFrame) -> str:
    slope = spec.slope
    if (
        slope is None
        or slope not in spec.predictors
        or not _is_numeric_term(data[slope], slope, spec)
    ):
        raise ConfigError(
            f"varying_slopes needs a numeric case-level slope predictor "
            f"(ColumnSpec.slope, one of the predictors); got {slope!r}"
        )
    return slope


def _check_columns(preset: Preset, spec: ColumnSpec, data: pd.DataFrame) -> None:
    if preset.outcomes and not spec.is_case_file:
        raise ConfigError("the competing-outcomes model needs the case-file 'outcome' column")
    named = [spec.group, *spec.predictors, *spec.group_predictors]
    named += [c for c in (spec.outcome, spec.successes, spec.trials) if c]
    if spec.is_case_file or preset.outcomes:
        named.append("outcome")
    missing = [c for c in dict.fromkeys(named) if c not in data.columns]
    if missing:
        raise ConfigError(f"column(s) {missing} not in the data; it has {list(data.columns)}")
    overlap = set(spec.predictors) & set(spec.group_predictors)
    if overlap or spec.group in set(spec.predictors) | set(spec.group_predictors):
        raise ConfigError("a column can be the group, a case-level or a group-level predictor once")
    keyed = data[spec.group].astype(str)
    for column in spec.group_predictors:  # checked where the preset leaves them out too
        counts = data[column].groupby(keyed, observed=True).nunique(dropna=False)
        varying = sorted(counts.index[counts > 1])
        if varying:
            raise ConfigError(
                f"group-level predictor {column!r} is not constant within {spec.group!r}: "
                f"it varies in {len(varying)} group(s), e.g. {varying[:5]}"
            )

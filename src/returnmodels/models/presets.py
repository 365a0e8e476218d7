r"""The registered models as term tables of the formula engine.

Each registered model is a formula (``FORMULA`` in its module, :data:`registry.REFERENCE`
for case files) and is fitted on the same precompiled sampler as any formula. Here its
:class:`FormulaDesign` is built straight from the model's :class:`Design` (the cells and
codings of its :class:`ColumnSpec`), so that any column specification works, the
coefficients keep the registered names and dims (``n_procedures``, ``gender`` with dim
``gender_level``, ``nationality_sigma``, ...), and the priors are the model's own:

=====================================  ================================================
registered prior                       engine prior
=====================================  ================================================
``intercept``, ``coefficients``        the ``Intercept``, and each case-level term
``group_coefficients``                 each group-level term (``cooperation``)
``group_sigma``                        ``<group>_sigma``
``slope_sigma``, ``slope_lkj``         ``<group>_<slope>_sigma``, ``<group>_corr``
``competing_<prior>``                  the same for stage 2, ``competing_<name>``
=====================================  ================================================

A ``Cauchy(alpha, beta)`` prior is the engine's ``StudentT(1, alpha, beta)`` and a
``HalfCauchy(beta)`` its ``HalfStudentT(1, beta)`` (the same densities); a ``Gamma`` or
``LogNormal`` is refused, naming the prior and the distributions there are: the formula
engine and the PyMC model of the term table (``--sampler pymc|numpyro``,
:mod:`returnmodels.models.pymc_model`) are one model, so no sampler falls back to another.

The linear predictor is the registered one,
:math:`\eta_c = \beta_0 + x_c^\top\beta + z_{j}^\top\gamma + a_j [+ b_j \tilde x_c]`,
with :math:`x_c` centred and coded as the :class:`Design` codes it and :math:`z_j` the
group-level terms (none in ``varying_intercepts``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from returnmodels.errors import ConfigError
from returnmodels.models.design import Design, Term
from returnmodels.models.formula import (
    CLASS_DISTRIBUTIONS,
    CommonTerm,
    FormulaDesign,
    GroupBlock,
    merge_formula_priors,
    prior_class,
    prior_of,
)

__all__ = ["ENGINE_MODELS", "preset_design", "preset_formula"]

#: How each registered model uses the design: group-level terms as fixed effects, group
#: effects, the varying slope, the competing stage.
ENGINE_MODELS: dict[str, dict[str, bool]] = {
    "pooled": {"group_terms": True, "effects": False, "slope": False},
    "varying_intercepts": {"group_terms": False, "effects": True, "slope": False},
    "group_predictors": {"group_terms": True, "effects": True, "slope": False},
    "varying_slopes": {"group_terms": True, "effects": True, "slope": True},
    "competing_outcomes": {"group_terms": True, "effects": True, "slope": False},
}


def _common_term(term: Term, group_level_of: str | None = None) -> CommonTerm:
    levels = None if term.kind == "numeric" else term.coded
    return CommonTerm(
        name=term.name,
        labels=tuple(term.labels()),
        levels=levels,
        group_level_of=group_level_of,
        variables=(term.name,),
    )


def _engine_priors(name: str, design: Design, priors: Mapping, terms, slope) -> dict:
    """The registered priors by the engine's classes and names (see the module); a prior
    whose distribution the model does not have is refused (:func:`_check_distribution`)."""
    g = design.group
    stages = ("", "competing_") if name == "competing_outcomes" else ("",)
    source: dict[str, str] = {}  # the engine's name: the registered prior's
    for p in stages:
        source[f"{p}Intercept"] = f"{p}intercept"
        for term in terms:
            key = "group_coefficients" if term.group_level_of else "coefficients"
            source[f"{p}{term.name}"] = f"{p}{key}"
        if ENGINE_MODELS[name]["effects"]:
            source[f"{p}{g}_sigma"] = f"{p}group_sigma"
        if slope is not None:
            source[f"{p}{g}_{slope.name}_sigma"] = f"{p}slope_sigma"
            source[f"{p}{g}_corr"] = f"{p}slope_lkj"
    by_name = {}
    for engine_name, registered in source.items():
        spec = _same_as(priors[registered])
        _check_distribution(registered, spec, engine_name)
        by_name[engine_name] = spec
    return merge_formula_priors(by_name, list(by_name))


#: Registered priors that are a distribution the engine has under another name: a Cauchy
#: is a Student-t with one degree of freedom, a half-Cauchy a half Student-t.
_SAME_AS = {
    "Cauchy": lambda s: {"dist": "StudentT", "nu": 1.0, "mu": s["alpha"], "sigma": s["beta"]},
    "HalfCauchy": lambda s: {"dist": "HalfStudentT", "nu": 1.0, "sigma": s["beta"]},
}


def _same_as(spec: Mapping) -> dict:
    """``spec`` as the engine names its distribution (:data:`_SAME_AS`), else itself."""
    return _SAME_AS[spec["dist"]](spec) if spec["dist"] in _SAME_AS else dict(spec)


def _check_distribution(registered: str, spec: Mapping, engine_name: str) -> None:
    """Refuse a prior whose distribution neither the engine nor the PyMC model of the
    term table has, naming it and the distributions there are: every sampler samples
    that one model, so there is nothing to fall back to."""
    allowed = CLASS_DISTRIBUTIONS[prior_class(engine_name)]
    if spec["dist"] not in allowed:
        raise ConfigError(
            f"prior {registered!r} is a {spec['dist']}, which the model does not have for "
            f"{engine_name!r}: use one of {list(allowed)} (every sampler, nutpie, pymc and "
            f"numpyro, samples the same model with the same priors)"
        )


def preset_formula(design: Design, name: str) -> str:
    """Registered model ``name`` on ``design`` written as a formula: its case-level terms
    (``C(x)`` for a categorical term stored as numbers), its group-level terms where the
    model uses them, and its group block. On case files with every predictor this is the
    model's ``FORMULA``; with fewer predictors (the main job's), the formula it is."""
    use = ENGINE_MODELS[name]
    spec = design.spec
    if design.outcomes:
        response = "outcome"
    elif spec.successes:
        response = f"{spec.successes} | trials({spec.trials})"
    else:
        response = spec.response
    terms = list(design.terms) + (list(design.group_terms) if use["group_terms"] else [])
    written = [_written_term(term, design.cells[term.name]) for term in terms]
    if use["effects"]:
        slope = f" + {spec.slope}" if use["slope"] and spec.slope else ""
        written.append(f"(1{slope} | {design.group})")
    return f"{response} ~ {' + '.join(written) or '1'}"


def _written_term(term: Term, values) -> str:
    numbers = np.issubdtype(np.asarray(values).dtype, np.number)
    return f"C({term.name})" if term.kind == "categorical" and numbers else term.name


def preset_design(design: Design, name: str, priors: Mapping, formula: str = "") -> FormulaDesign:
    """The :class:`FormulaDesign` of registered model ``name`` on ``design`` with its
    merged ``priors``. Raises :class:`ConfigError` when a prior is a distribution the
    engine does not have (``HalfCauchy``, ``Gamma``, ...), naming it and the ones it has."""
    use = ENGINE_MODELS[name]
    g = design.group
    index = design.group_index()
    columns = [np.ones((len(design.cells), 1)), design.case_matrix()]
    terms = [_common_term(t) for t in design.terms]
    if use["group_terms"] and design.group_terms:
        columns.append(design.group_matrix()[index])
        terms += [_common_term(t, group_level_of=g) for t in design.group_terms]
    intercept = CommonTerm(name="Intercept", labels=("Intercept",), levels=None)
    common = (intercept, *terms)
    X = np.hstack(columns)
    slope = None
    if use["slope"]:
        slope = design.term(design.spec.slope) if design.spec.slope else None
        if slope is None or slope.kind != "numeric" or slope not in design.terms:
            raise ConfigError(
                f"varying_slopes needs a numeric case-level slope predictor "
                f"(ColumnSpec.slope); got {design.spec.slope!r}"
            )
    blocks = ()
    if use["effects"]:
        values = [np.ones(len(design.cells))]
        if slope is not None:
            values.append(slope.encode(design.cells[slope.name])[:, 0])
        blocks = (
            GroupBlock(
                factor=g,
                levels=tuple(design.groups),
                columns=("Intercept",) + ((slope.name,) if slope is not None else ()),
                index=index,
                values=np.column_stack(values),
            ),
        )
    merged = _engine_priors(name, design, priors, terms, slope)
    rows = [
        _prior_row(prior_of(merged, term.name)) for term in common for _ in term.labels
    ]  # fmt: skip
    outcome_counts = design.counts if design.outcomes else None
    return FormulaDesign(
        formula=formula,
        response=design.spec.response,
        trials_column=None,
        cells=design.cells,
        successes=design.successes,
        trials=design.trials,
        common=common,
        X=X,
        blocks=blocks,
        centres={t.name: t.center for t in design.terms if t.kind == "numeric"},
        references={t.name: t.reference for t in design.terms if t.reference},
        priors=merged,
        coefficient_priors=np.array(rows, dtype=float).reshape(-1, 3),
        factors=frozenset({g}),
        outcome_counts=outcome_counts,
    )


def _prior_row(spec: Mapping) -> tuple[float, float, float]:
    return (float(spec.get("nu", np.inf)), float(spec["mu"]), float(spec["sigma"]))

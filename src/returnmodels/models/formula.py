r"""Models written as lme4/brms formulas: parsed by ``formulae``, turned into a term table.

A formula such as ::

    assisted ~ n_procedures * cooperation + (1 + n_procedures | nationality) + (1 | closing_year)

describes a binomial-logit mixed model on cells :math:`c` (one per observed combination
of the formula's variables, :func:`returnmodels.data.cells.aggregate_cells`):

.. math::

    s_c \sim \operatorname{Binomial}(n_c, \operatorname{logit}^{-1} \eta_c), \qquad
    \eta_c = x_c^\top \beta + \sum_b z_{cb}^\top u_{b, j_b(c)}, \qquad
    u_{bj} \sim \mathcal N(0,\ D_b \Omega_b D_b), \quad D_b = \operatorname{diag}(\sigma_b)

with :math:`x_c` the common (fixed) columns, and for every group block :math:`b` (one
``( ... | g)`` of the formula) its level :math:`j_b(c)` and columns :math:`z_{cb}`
(``1`` and the varying slopes). The columns of one block are correlated
(:math:`\Omega_b \sim \operatorname{LKJ}(\eta)`); separate blocks are independent, so
``(1 | g) + (0 + x | g)`` is the uncorrelated version, and ``(1 | region/nationality)``
is ``(1 | region) + (1 | region:nationality)``.

Parsing, term expansion and coding are ``formulae``'s (the parser bambi uses); this
module adds what a statistician expects of it here:

* the response: a binary column (``assisted`` is derived from a case file's ``outcome``)
  or ``successes | trials(n)`` for aggregated data;
* numeric variables are centred at their case-weighted mean (so the intercept is the
  log-odds of an average case at the reference levels); categorical variables get the
  reference of ``reference`` (``{"cooperation": "low"}``), of ``C(x, Treatment("low"))``,
  or by default their most common level;
* a common column constant within the levels of a group is recorded as a group-level
  predictor of that group (as cooperation is of nationality);
* a bad formula is refused before anything is compiled, naming what is wrong and where.

The result, a :class:`FormulaDesign`, is plain arrays (NumPy, no PyMC): the structure of
the model *as data*, which the precompiled sampler of
:mod:`returnmodels.inference.formula_fit` reads without compiling anything new.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from numbers import Real

import formulae.expr as fexpr
import numpy as np
import pandas as pd
import xarray as xr
from formulae.environment import Environment
from formulae.matrices import DesignMatrices
from formulae.parser import ParseError
from formulae.resolver import Resolver
from formulae.scanner import ScanError
from formulae.terms import Model
from scipy.optimize import minimize
from scipy.special import logsumexp

from returnmodels.data.case_summary import assisted
from returnmodels.data.reading import offending_rows
from returnmodels.data.regions import REGION_COLUMN, with_origin_region
from returnmodels.data.vocabulary import (
    ASSISTED,
    COMPETING_OUTCOMES,
    NONREFERENCE_OUTCOMES,
    OUTCOMES,
    REFERENCE_OUTCOME,
)
from returnmodels.errors import ConfigError
from returnmodels.models.formula_functions import (
    COMPARISONS,
    MAX_TERMS,
    Usage,
    check_calls,
    check_domains,
    describe_character,
    namespace,
    parse_rhs,
    read_raw_and_centre,
    term_bound,
)
from returnmodels.models.formula_functions import position_error as _position_error
from returnmodels.models.integrated import (
    IntegratedTerm,
    integration_reason,
    unit_patterns,
    without_group_term,
)

__all__ = [
    "CENTRING_INFORMATION",
    "CLASS_DISTRIBUTIONS",
    "FORMULA_PRIORS",
    "FormulaDesign",
    "GroupBlock",
    "build_formula_design",
    "competing_stage",
    "group_labels",
    "mean_ridge",
    "nesting_parent",
    "parse_formula",
    "prior_class",
    "prior_of",
    "split_response",
    "stack_draws",
    "stored_positions",
]

#: A group level is sampled centred when its own data give its log-odds a sampling
#: variance of at most 1 / CENTRING_INFORMATION (an SD of 0.5); see ``centred``.
CENTRING_INFORMATION = 4.0

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
#: The binary response derived from a case file's ``outcome``.
ASSISTED_RESPONSE = "assisted"
_RESPONSE = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?:\|\s*trials\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\)\s*)?$"
)
#: A text value that is a number written with a decimal comma ("1,5", "-0,25").
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")
_WHOLE_NUMBER = re.compile(r"^\s*[-+]?\d+\s*$")
#: A group or categorical term needs at least this many cases a level on average.
MIN_CASES_PER_LEVEL = 1.5
#: Columns of the common design this much closer to a combination of the others (as a
#: share of the largest singular value, columns scaled to unit length) are collinear.
_COLLINEAR_TOLERANCE = 1e-9


@dataclass(frozen=True)
class GroupBlock:
    """One ``(columns | factor)`` block: levels, columns, and each cell's level and values.

    ``columns`` are the block's term labels (``"Intercept"``, ``"n_procedures"``, ...);
    ``index[c]`` is cell ``c``'s level, ``values[c, r]`` its value of column ``r``.
    """

    factor: str
    levels: tuple[str, ...]
    columns: tuple[str, ...]
    index: np.ndarray
    values: np.ndarray
    terms: tuple[str, ...] = ()  # formulae's names of its group terms ("1|g", "x|g")

    @property
    def correlated(self) -> bool:
        return len(self.columns) > 1

    @property
    def width(self) -> int:
        return len(self.columns)

    def column_name(self, r: int) -> str:
        """The parameter stem of column ``r``: ``<factor>`` for the intercept, else
        ``<factor>_<column>``."""
        column = self.columns[r]
        return self.factor if column == "Intercept" else f"{self.factor}_{column}"


@dataclass(frozen=True)
class CommonTerm:
    """One common (fixed) term: its parameter name, its columns' labels and level labels."""

    name: str
    labels: tuple[str, ...]
    levels: tuple[str, ...] | None  # None: one column, a scalar parameter
    group_level_of: str | None = None
    variables: tuple[str, ...] = ()  # the data columns it is made of

    @property
    def dim(self) -> str:
        return f"{self.name}_level".replace(",", ";")  # nutpie joins dims with commas


@dataclass(frozen=True)
class FormulaDesign:
    """A formula model's structure and data as arrays (see the module docstring)."""

    formula: str
    response: str
    trials_column: str | None
    cells: pd.DataFrame
    successes: np.ndarray
    trials: np.ndarray
    common: tuple[CommonTerm, ...]
    X: np.ndarray
    blocks: tuple[GroupBlock, ...]
    centres: dict[str, float]
    references: dict[str, str]
    priors: dict[str, dict]
    coefficient_priors: np.ndarray = field(repr=False)  # (P, 3): nu, mu, sigma
    orders: dict[str, list[str]] = field(default_factory=dict)  # coded categoricals
    #: columns that are no common term: the grouping variables of the blocks and the
    #: ``cells_by`` columns (text, never a predictor of a margin or a check)
    factors: frozenset[str] = frozenset()
    matrices: object = field(default=None, repr=False, compare=False)  # formulae's
    #: the competing-outcomes family (``outcome ~ ...`` on a case file): each cell's
    #: cases per outcome, (C, 6) in ``OUTCOMES`` order; None for a binary response
    outcome_counts: np.ndarray | None = field(default=None, repr=False)
    #: a multinomial stage (:func:`competing_stage`): the parameter-name prefix, the
    #: leading dim of its parameters and its labels (the non-reference outcomes)
    prefix: str = ""
    lead: str | None = None
    lead_levels: tuple[str, ...] = ()
    #: the variables used inside a call, and the coded frame's column holding their raw
    #: values, which the calls read (``C(x)`` reads the coded column where it is coded)
    raw_columns: dict[str, str] = field(default_factory=dict)
    #: each centred call's case-weighted mean (a list for poly's columns)
    call_centres: dict[str, object] = field(default_factory=dict)
    #: a ``(1 | g)`` term integrated out of the likelihood, not sampled
    #: (:mod:`returnmodels.models.integrated`); the cells are those of the formula
    #: without it
    integrated: IntegratedTerm | None = field(default=None, repr=False)
    #: columns the cells are split by beyond the formula's variables (a preset without
    #: group effects keeps its group's cells: see :func:`build_formula_design`)
    cells_by: tuple[str, ...] = ()

    @property
    def n_linear(self) -> int:
        """M, the number of linear predictors: 1 (binary), one per non-reference
        outcome in a multinomial stage."""
        return len(self.lead_levels) if self.lead else 1

    def linear_counts(self) -> np.ndarray:
        """(C, M) cases of each linear predictor's category: the successes of a binary
        model, each non-reference outcome's cases in a multinomial stage (the reference
        category holds ``trials`` minus their sum)."""
        if self.lead is None:
            return self.successes[:, None].astype(float)
        at = [OUTCOMES.index(o) for o in self.lead_levels]
        return self.outcome_counts[:, at].astype(float)

    def code(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (rows or cells, original values) coded as the model was: numeric
        variables centred, categorical ones in the model's level order, factors as text,
        and the raw columns the calls read (their centring is the calls' own). Levels the
        model has not seen are refused, naming the column."""
        coded = frame.copy()
        for column, centre in self.centres.items():
            coded[column] = frame[column].to_numpy(dtype=float) - centre
        for column, order in self.orders.items():
            text = frame[column].astype(str).to_numpy(dtype=object)  # fast to iterate
            unknown = sorted(set(text) - set(order))
            if unknown:
                raise ConfigError(f"{column!r}: level(s) {unknown[:5]} are not in the model")
            coded[column] = pd.Categorical(text, categories=order, ordered=True)
        for column in self.factors:
            if column in self.cells_by and column not in frame:
                continue  # a cells_by column enters no term: rows need not hold it
            coded[column] = frame[column].astype(str).to_numpy(dtype=object)
        for column, raw in self.raw_columns.items():
            coded[raw] = frame[column]
        return coded

    def encode(self, frame: pd.DataFrame) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """The common columns of ``frame`` and, per block, each row's level index and
        column values: the model's linear predictor for other rows (margins, contrasts).
        Every block level must be one of the model's."""
        coded = self.code(frame)
        coded[self.response] = 0.0
        X = np.asarray(self.matrices.common.evaluate_new_data(coded).design_matrix, float)
        if not self.blocks:
            return X, []
        group = self.matrices.group.evaluate_new_data(coded)
        out = []
        for block in self.blocks:
            labels = group_labels(frame, block.factor).to_numpy(dtype=object)
            unknown = sorted(set(labels) - set(block.levels))
            if unknown:
                raise ConfigError(f"{block.factor!r}: level(s) {unknown[:5]} are not in the model")
            index = pd.Categorical(labels, categories=block.levels).codes.astype(np.int64)
            values = []
            for name in block.terms:
                values += _term_columns(group, name, labels)[1]
            out.append((index, np.column_stack(values).astype(float)))
        return X, out

    @classmethod
    def from_result(cls, result) -> FormulaDesign:
        """Rebuild the design of a formula fit from the result alone: its cells
        (``constant_data``), counts (``observed_data``) and configuration."""
        config = json.loads(result.attrs["returnmodels_config"])
        described = json.loads(result.attrs["returnmodels_design"])
        response = described["response"]
        cells = result["constant_data"].to_dataset().to_dataframe().reset_index(drop=True)
        trials = cells.pop("trials").to_numpy()
        observed = result["observed_data"].to_dataset()
        successes = observed[response].to_numpy()
        formula = config["formula"]
        integrated = described.get("integrated")
        if integrated:  # its units are not in the cells: the design without it
            formula = without_group_term(formula, integrated["factor"])
        rhs = formula.split("~", 1)[1]
        frame = cells.assign(rm_successes=successes, rm_trials=trials)
        for column, order in described.get("orders", {}).items():
            if column in frame and not _is_numeric(frame[column]):  # stored as text:
                frame[column] = pd.Categorical(  # the level order the fit had
                    frame[column].astype(str), categories=order, ordered=True
                )
        priors = config["priors"]
        design = build_formula_design(
            frame,
            f"rm_successes | trials(rm_trials) ~ {rhs}",
            reference=config.get("reference") or None,
            priors={
                k: v
                for k, v in priors.items()
                if not k.startswith("competing_")
                and not (integrated and k == f"{integrated['factor']}_sigma")
            },
            cells_by=described.get("cells_by", ()),
        )
        outcome_counts = None
        if described.get("family") == "competing_outcomes":  # stage 1, with stage 2's counts
            others = observed["competing"].transpose("cell", "competing_outcome")
            by_outcome = dict(zip(others["competing_outcome"].values, others.values.T, strict=True))
            by_outcome[ASSISTED] = successes
            stored = np.column_stack([by_outcome[o] for o in OUTCOMES]).astype(np.int64)
            outcome_counts = stored[stored_positions(cells, design.cells)]
        return replace(
            design,
            formula=config["formula"],
            response=response,
            priors=priors,
            outcome_counts=outcome_counts,
        )

    @property
    def n_cells(self) -> int:
        return len(self.trials)

    def column_labels(self) -> list[str]:
        return [label for term in self.common for label in term.labels]

    def describe(self) -> dict:
        """What the result records of the design (JSON-ready)."""
        return {
            "formula": self.formula,
            "family": "binomial" if self.outcome_counts is None else "competing_outcomes",
            "response": self.response,
            "trials": self.trials_column,
            "common": [
                {"name": t.name, "labels": list(t.labels), "group_level_of": t.group_level_of}
                for t in self.common
            ],
            "groups": [
                {"factor": b.factor, "columns": list(b.columns), "n_levels": len(b.levels)}
                for b in self.blocks
            ],
            "centres": self.centres,
            "call_centres": self.call_centres,
            "references": self.references,
            "integrated": None if self.integrated is None else self.integrated.describe(),
            "orders": self.orders,
            "cells_by": list(self.cells_by),
        }


# ---------------------------------------------------------------- parsing and checking


def stack_draws(posterior: xr.Dataset) -> xr.Dataset:
    """The posterior with chain and draw flattened into one plain ``sample`` dim."""
    flat = posterior.stack(sample=("chain", "draw"))
    return flat.drop_vars(["sample", "chain", "draw"]).transpose("sample", ...)


def split_response(formula: str) -> tuple[str, str | None, str]:
    """``(response, trials column or None, the terms)`` of ``formula``."""
    if formula.count("~") != 1:
        raise ConfigError(
            f"formula {formula!r} needs exactly one '~' between the response and the terms, "
            "as in 'assisted ~ n_procedures + (1 | nationality)'"
        )
    lhs, rhs = formula.split("~")
    match = _RESPONSE.match(lhs)
    if not match:
        raise ConfigError(
            f"formula {formula!r}: the response {lhs.strip()!r} must be one column "
            "(binary) or 'successes | trials(n)' for aggregated counts"
        )
    if not rhs.strip():
        raise ConfigError(f"formula {formula!r} has no terms after '~' (write '~ 1' for none)")
    return match.group(1), match.group(2), rhs


def _blocks(node):
    """The ``|`` nodes of a parsed formula, and any ``|`` that is not in parentheses."""
    if isinstance(node, fexpr.Grouping):
        inner = node.expression
        if isinstance(inner, fexpr.Binary) and inner.operator.lexeme == "|":
            yield "block", inner
            return
        yield from _blocks(inner)
    elif isinstance(node, fexpr.Binary):
        if node.operator.lexeme == "|":
            yield "bare", node
            return
        yield from _blocks(node.left)
        yield from _blocks(node.right)


@dataclass(frozen=True)
class _Parsed:
    """A formula read and checked: its response, trials column, formulae's model
    description, the group terms of each ``( ... | g)`` and how it uses its columns."""

    response: str
    trials: str | None
    description: object
    blocks: list[list[str]]
    usage: Usage


def parse_formula(formula: str):
    """``(response, trials, model description, block factors)`` of ``formula``.

    ``block factors`` lists, for each ``( ... | g)`` of the formula, the group terms'
    names it expands to (``["1|g", "x|g"]``): the columns that are correlated.
    Syntax errors, and every call that is not one of the allowed functions
    (:data:`~returnmodels.models.formula_functions.FUNCTIONS`), are refused naming the
    position, before anything is evaluated.
    """
    parsed = _parse(formula)
    return parsed.response, parsed.trials, parsed.description, parsed.blocks


def _parse(formula: str) -> _Parsed:
    if not isinstance(formula, str) or not formula.strip():
        raise ConfigError(f"formula must be a non-empty string, got {formula!r}")
    response, trials, rhs = split_response(formula)
    text = f"{response} ~ {rhs}"
    shift = formula.index("~") + 1 - (len(response) + 3)  # text position -> formula's
    tokens, parser, tree = _syntax_tree(formula, text, shift)
    doubled = re.search(r"\+\s*\+", formula)
    if doubled:
        raise _position_error(formula, "two '+' in a row", doubled.group(0))
    usage = check_calls(tree, formula, shift)  # before anything is evaluated
    bound = term_bound(tree)
    if bound > MAX_TERMS:
        raise _too_many_terms(formula, f"expands to more than {MAX_TERMS} terms ({bound} counted)")
    blocks = []
    for kind, node in _blocks(tree):
        if kind == "bare":
            raise _position_error(
                formula, "a group term must be in parentheses, as in '(1 | g)'", "|"
            )
        resolved = Resolver(node).resolve()
        terms = resolved.terms if hasattr(resolved, "terms") else [resolved]
        blocks.append([term.name for term in terms])
    try:
        description = Resolver(tree).resolve()
    except Exception as error:  # noqa: BLE001 - formulae's own message, with the formula
        raise ConfigError(f"formula {formula!r}: {error}") from None
    if not isinstance(description, Model):
        description = Model(description)
    n_terms = len(description.common_terms) + len(description.group_terms)
    if n_terms > MAX_TERMS:
        raise _too_many_terms(formula, f"has {n_terms} terms")
    if n_terms == 0:
        raise ConfigError(
            f"formula {formula!r} has no terms: no intercept and nothing else to estimate "
            f"(write '{response} ~ 1' for the intercept alone)"
        )
    return _Parsed(response, trials, description, blocks, usage)


def _syntax_tree(formula: str, text: str, shift: int):
    """formulae's tokens, parser and tree of ``text``; syntax errors named by position."""
    try:
        tokens, parser, tree = parse_rhs(text)
    except ScanError as error:
        at = getattr(error, "position", None)
        if at is None:
            raise ConfigError(f"formula {formula!r}: {error}") from None
        char = formula[at + shift]
        what = f"unsupported character {describe_character(char)}"
        raise _position_error(formula, what, at=at + shift) from None
    except ParseError as error:
        token = getattr(error, "token", None)
        at = getattr(token, "position", None)
        found = re.search(r"parse '(.*)'", str(error))
        lexeme = found.group(1) if found else token.lexeme if at is not None else ""
        what = f"unexpected {lexeme!r}" if lexeme else "the formula ends too early"
        if lexeme == "|":
            what += " (write '(1 + x | g)' for correlated terms; '||' is not supported)"
        if lexeme == ".":
            what += " (a formula names columns and calls functions; it has no attributes)"
        at = None if at is None or token.lexeme != lexeme else at + shift
        raise _position_error(formula, what, lexeme, at) from None
    except RecursionError:
        raise ConfigError(f"formula {formula!r} is nested too deeply to read") from None
    if parser.current < len(tokens) - 1:  # formulae stops at what it cannot read
        token = tokens[parser.current]
        what = f"unexpected {token.lexeme!r}"
        if token.lexeme == "|":
            what = "a group term must be in parentheses, as in '(1 | g)'"
        if token.kind in COMPARISONS:
            what = f"a comparison {token.lexeme!r} outside I(...): write I(x {token.lexeme} 3)"
        at = getattr(token, "position", None)
        raise _position_error(formula, what, token.lexeme, None if at is None else at + shift)
    return tokens, parser, tree


def _too_many_terms(formula: str, how_many: str) -> ConfigError:
    return ConfigError(
        f"formula {formula!r} {how_many}; at most {MAX_TERMS} terms (common and group "
        "terms, after expanding '*', '/' and '**') are supported: more than the data of a "
        "return programme can identify. Combine levels, or drop terms"
    )


def _check_columns(formula: str, names: set[str], data: pd.DataFrame) -> None:
    for name in sorted(names):
        if name in data.columns:
            continue
        known = [str(c) for c in data.columns]
        if "nationality" in data.columns:
            known.append(REGION_COLUMN)  # derived where a formula names it
        if "outcome" in data.columns and ASSISTED_RESPONSE not in known:
            known.append(ASSISTED_RESPONSE)  # derived from a case file's outcome
        near = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise _position_error(formula, f"unknown column {name!r} (not in the data{hint})", name)


# ---------------------------------------------------------------- priors


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


def _student_row(spec: Mapping) -> tuple[float, float, float]:
    """(nu, mu, sigma) of a Normal (nu = inf) or StudentT prior."""
    return (float(spec.get("nu", np.inf)), float(spec["mu"]), float(spec["sigma"]))


# ---------------------------------------------------------------- the design


def _case_weighted_mean(values: pd.Series, weights: np.ndarray) -> float:
    return float(np.average(values.to_numpy(dtype=float), weights=weights))


def _most_common(values: pd.Series, weights: np.ndarray) -> str:
    totals = pd.Series(weights, index=values.astype(str).to_numpy()).groupby(level=0).sum()
    return str(totals.sort_values(ascending=False, kind="stable").index[0])


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _prepare(
    data: pd.DataFrame, response: str, trials: str | None, formula: str, variables: set[str]
) -> pd.DataFrame:
    frame = data
    if response not in frame.columns and response == ASSISTED_RESPONSE and "outcome" in frame:
        frame = frame.assign(assisted=assisted(frame).to_numpy())
    if REGION_COLUMN in variables and REGION_COLUMN not in frame.columns:
        frame = with_origin_region(frame)  # derived from nationality, as assisted is
    _check_columns(formula, {response} | ({trials} if trials else set()), frame)
    y = frame[response]
    if trials is None and _is_outcome_column(y):
        return frame  # the competing-outcomes family
    if trials is None:
        values = pd.unique(y.dropna())
        if y.isna().any() or not set(np.asarray(values, dtype=object).tolist()) <= {0, 1}:
            shown = sorted(map(str, values))[:5]
            binary = [not pd.isna(v) and v in (0, 1) for v in y.to_numpy(dtype=object)]
            raise ConfigError(
                f"formula {formula!r}: the response {response!r} must be binary (0/1 or "
                f"true/false) with no missing values; it holds {shown}: "
                f"{offending_rows(y, ~np.array(binary, dtype=bool))}. For counts write "
                f"'{response} | trials(n)'"
            )
        return frame
    n = frame[trials]
    for name, col in ((response, y), (trials, n)):
        if not pd.api.types.is_numeric_dtype(col) or col.isna().any() or (col % 1 != 0).any():
            whole = [isinstance(v, Real) and float(v).is_integer() for v in col.to_numpy(object)]
            raise ConfigError(
                f"formula {formula!r}: {name!r} must hold whole counts: "
                f"{offending_rows(col, ~np.array(whole, dtype=bool)) or f'it holds {col.dtype}'}"
            )
    bad = (y < 0) | (n < 1) | (y > n)
    if bad.any():
        raise ConfigError(
            f"formula {formula!r}: {response!r} must lie in 0..{trials!r} with {trials!r} >= 1; "
            f"it does not in {offending_rows({response: y, trials: n}, bad)}"
        )
    return frame


def _missing_rows(values: pd.Series) -> str:
    return offending_rows(values, values.isna())


def _is_outcome_column(y: pd.Series) -> bool:
    """A case file's ``outcome`` (text, every value one of ``OUTCOMES``): the response of
    the competing-outcomes family. Text with other values is refused, naming them."""
    if _is_numeric(y) or pd.api.types.is_bool_dtype(y) or y.name != "outcome":
        return False
    values = set(y.dropna().astype(str).unique())
    if not values & set(OUTCOMES):
        return False
    unknown = sorted(values - set(OUTCOMES))
    if unknown or y.isna().any():
        shown = unknown[:5] or ["missing values"]
        raise ConfigError(
            f"the response 'outcome' (the competing-outcomes family) must hold only the "
            f"case file's outcomes {list(OUTCOMES)}; it also holds {shown}: "
            f"{offending_rows(y, ~y.astype(object).isin(OUTCOMES).to_numpy(dtype=bool))}"
        )
    return True


def competing_stage(design: FormulaDesign) -> FormulaDesign:
    r"""Stage 2 of the competing-outcomes family: the cases not in assisted return, by
    outcome, as a multinomial logit against ``unsupervised_departure``.

    .. math::

        y_{c\cdot} \sim \operatorname{Multinomial}\big(n_c - s_c,\
        \operatorname{softmax}(0, \eta_{c1}, \dots, \eta_{c4})\big), \qquad
        \eta_{ck} = x_c^\top\beta_k + \sum_b z_{cb}^\top u_{bk, j_b(c)}

    with every term, variance and correlation of the formula once per non-reference
    outcome :math:`k` (dim ``nonreference_outcome``), named ``competing_<name>``. Stage 1,
    ``design`` itself, is the binary model of ``assisted`` on the same cells; the two
    share no parameter, so their posteriors are sampled apart and joined.
    """
    if design.outcome_counts is None:
        raise ConfigError("competing_stage needs a design of 'outcome ~ ...' on a case file")
    counts = design.outcome_counts
    trials = counts[:, [OUTCOMES.index(o) for o in COMPETING_OUTCOMES]].sum(axis=1)
    rows = [
        _student_row(prior_of(design.priors, f"competing_{term.name}"))
        for term in design.common
        for _ in term.labels
    ]
    return replace(
        design,
        coefficient_priors=np.array(rows, dtype=float).reshape(-1, 3),
        response="competing",
        successes=trials - counts[:, OUTCOMES.index(REFERENCE_OUTCOME)],
        trials=trials,
        prefix="competing_",
        lead="nonreference_outcome",
        lead_levels=NONREFERENCE_OUTCOMES,
    )


def stored_positions(stored: pd.DataFrame, cells: pd.DataFrame) -> np.ndarray:
    """For each row of ``cells`` (a design rebuilt from a result), the position of the
    same cell in ``stored`` (the result's ``constant_data``, in the order of its
    log-likelihood and observed data): rebuilding may order the cells otherwise, so
    they are matched by their values in every column of ``cells``."""
    key = list(cells.columns)
    position = pd.Series(
        np.arange(len(stored)), index=pd.MultiIndex.from_frame(stored[key].astype(str))
    )
    return position.loc[pd.MultiIndex.from_frame(cells[key].astype(str))].to_numpy()


def build_formula_design(
    data: pd.DataFrame,
    formula: str,
    *,
    reference: Mapping[str, str] | None = None,
    priors: Mapping | None = None,
    integrate: tuple[str, ...] | list[str] = (),
    cells_by: Sequence[str] = (),
) -> FormulaDesign:
    """The :class:`FormulaDesign` of ``formula`` on ``data`` (rows or aggregated counts).

    A ``(1 | g)`` term whose factor ``integrate`` names, or whose levels are many and
    small (:func:`returnmodels.models.integrated.integration_reason`), is integrated out
    of the likelihood (:mod:`returnmodels.models.integrated`): the design is the
    formula's without it, its cases collapsed into outcome patterns
    (``design.integrated``), and the reason recorded. Such a term needs one row a case
    and the binary family; the competing outcomes and aggregated counts are refused.
    """
    parsed = _parse(formula)
    marked = set(integrate)
    term = _integrated_factor(formula, parsed, data, marked)
    if term is None:
        return _build_design(data, formula, reference=reference, priors=priors, cells_by=cells_by)
    factor, reason = term
    reduced = without_group_term(formula, factor)
    design = _build_design(
        data,
        reduced,
        reference=reference,
        priors=priors,
        extra_names=[f"{factor}_sigma"],
        cells_by=cells_by,
    )
    frame = _prepare(data, parsed.response, None, formula, set(design.cells.columns))
    rows = frame[list(design.cells.columns)]
    cell = stored_positions(design.cells, rows) if len(design.cells.columns) else 0
    cell = np.broadcast_to(cell, (len(frame),))
    y = frame[parsed.response].astype(float).to_numpy()
    units = frame[factor].astype(str).to_numpy()
    entry_cell, entry_y, entry_pattern, pattern_count = unit_patterns(cell, y, units)
    integrated = IntegratedTerm(
        factor=factor,
        reason=reason,
        n_levels=len(pd.unique(units)),
        entry_cell=entry_cell,
        entry_y=entry_y,
        entry_pattern=entry_pattern,
        pattern_count=pattern_count,
    )
    return replace(design, formula=formula, integrated=integrated)


def _integrated_factor(formula, parsed, data, marked: set[str]) -> tuple[str, str] | None:
    """The factor of the formula's group term to integrate out and why, or None; a
    marked factor that cannot be integrated, a second such term, and such a term with
    aggregated counts or the competing outcomes are refused."""
    found = []
    for names in parsed.blocks:
        factors = {name.split("|", 1)[1] for name in names}
        columns = [name.split("|", 1)[0] for name in names]
        factor = next(iter(factors))
        if len(factors) != 1 or factor not in data.columns:
            if factor in marked:
                _check_columns(formula, {factor}, data)  # refused: nearest name
            continue
        totals = pd.Series(1, index=data.index).groupby(data[factor].astype(str).to_numpy()).sum()
        reason = integration_reason(factor, columns, totals, factor in marked)
        if factor in marked and reason is None:
            raise _position_error(
                formula,
                f"{factor!r} is marked to integrate out, but only an intercept of a plain "
                f"factor can be, written '(1 | {factor})' alone",
                factor.split(":")[-1],
            )
        if reason is not None:
            found.append((factor, reason))
    unknown = sorted(marked - {f for f, _ in found})
    if unknown:
        raise ConfigError(
            f"integrate names {unknown}, which is not the factor of a '(1 | g)' term of "
            f"formula {formula!r}"
        )
    if not found:
        return None
    if len(found) > 1:
        raise ConfigError(
            f"formula {formula!r}: one group term can be integrated out, not "
            f"{[f for f, _ in found]}; sample the others"
        )
    factor, reason = found[0]
    competing = parsed.response == "outcome" and "outcome" in data
    if parsed.trials is not None or (competing and _is_outcome_column(data["outcome"])):
        raise ConfigError(
            f"formula {formula!r}: '(1 | {factor})' is integrated out ({reason}), which "
            "the engine does for a binary response with one row a case, not yet for "
            "aggregated counts (trials) or the competing outcomes ('outcome ~ ...'); "
            f"fit 'assisted ~ ...' on the case rows"
        )
    totals = pd.Series(1, index=data.index).groupby(data[factor].astype(str).to_numpy()).sum()
    if (totals == 1).all():
        raise _position_error(
            formula,
            f"the group {factor!r} has a level for every case ({len(totals)} levels of one "
            "case each): its SD cannot be told apart from the binomial noise",
            factor,
        )
    return found[0]


def _build_design(
    data: pd.DataFrame,
    formula: str,
    *,
    reference: Mapping[str, str] | None = None,
    priors: Mapping | None = None,
    extra_names: list[str] | None = None,
    cells_by: Sequence[str] = (),
) -> FormulaDesign:
    """The :class:`FormulaDesign` of ``formula`` on ``data`` (rows or aggregated counts):
    :func:`build_formula_design` without an integrated term (``extra_names``: its
    parameters, whose priors the user may give).

    The cells are the observed combinations of the formula's variables and of the
    columns ``cells_by`` (which enter no term): a preset without group effects names its
    group there, so that its cells, and so its LOO observations, are those of the
    presets with them (cases of one group and the same predictor values). The
    posterior is the same either way: the binomial likelihood of the cases depends
    only on their totals per combination of the terms' values.

    Refuses, naming what and where: syntax it cannot parse, a function that is not one of
    the allowed ones, an unknown column (with the nearest name), a response that is
    neither binary nor counts, numbers written with decimal commas, a reference level the
    data do not have or a reference for a column that has none (numeric, a grouping
    factor, unused), a transform outside its domain (the first data row), a term or group
    with a level for every case, a common column that does not vary, collinear common
    terms, a group with one level, and a varying slope that does not vary within any level
    of its group.

    Numeric variables standing alone are centred at their case-weighted mean before
    formulae codes them (so ``x * cooperation`` is the effect of x at the average case);
    a call reads its columns' raw values and its result is centred as a column of the
    design (``I(x >= 3)`` is the step at 3 of x as recorded).
    """
    parsed = _parse(formula)
    response, trials, description, usage = (
        parsed.response, parsed.trials, parsed.description, parsed.usage
    )  # fmt: skip
    names = {v for v in description.var_names if v} - {response}
    frame = _prepare(data, response, trials, formula, names)
    _check_columns(formula, names, frame)
    factors = {v for term in description.group_terms for v in term.factor.var_names}
    used = sorted(names)
    extra = _cells_by_columns(cells_by, used, frame)
    factors |= set(extra)
    reference = dict(reference or {})
    _check_decimal_commas(frame, [c for c in used if c not in factors])
    _check_references(formula, reference, usage, frame, factors, used)
    weights_rows = frame[trials].to_numpy(float) if trials else np.ones(len(frame))

    # cells: one per observed combination of the formula's variables
    competing = trials is None and _is_outcome_column(frame[response])
    if competing:  # the cases of each outcome; stage 1's successes are assisted returns
        text = frame[response].astype(str)
        counted = {f"_o{k}": (text == o).to_numpy(float) for k, o in enumerate(OUTCOMES)}
        y = pd.Series(counted[f"_o{OUTCOMES.index(ASSISTED)}"], index=frame.index)
    else:
        counted = {}
        y = frame[response].astype(float)
    sums = ["_s", "_n", *counted]
    keys = used + extra
    columns = {c: frame[c] for c in keys} | {"_s": y, "_n": weights_rows} | counted
    grouped = (
        pd.DataFrame(columns)
        .groupby(keys, observed=True, sort=True, dropna=False)[sums]
        .sum()
        .reset_index()
        if keys
        else pd.DataFrame({k: [np.sum(v)] for k, v in columns.items()})
    )
    nulls = [c for c in keys if grouped[c].isna().any()]
    if nulls:
        raise ConfigError(
            f"formula {formula!r}: missing values in column(s) {nulls}; expected a value in "
            f"every row: column {nulls[0]!r}, {_missing_rows(frame[nulls[0]])}"
        )
    successes = grouped.pop("_s").to_numpy().astype(np.int64)
    n = grouped.pop("_n").to_numpy().astype(np.int64)
    outcome_counts = (
        np.column_stack([grouped.pop(k).to_numpy() for k in counted]).astype(np.int64)
        if competing
        else None
    )
    cells = grouped
    if competing:
        response = ASSISTED_RESPONSE
    check_domains(description, frame, formula, Environment([namespace(weights_rows)]))
    categorical = [
        c
        for c in used
        if c not in factors
        and (not _is_numeric(cells[c]) or c in usage.categorical or c in reference)
    ]
    _check_levels_have_cases(formula, cells, n, parsed.blocks, categorical)

    coded, centres, references, orders, aliases = _code(cells, n, used, usage, reference, factors)
    coded[parsed.response] = 0.0  # formulae evaluates the response as written
    centred_calls = read_raw_and_centre(
        description, aliases, set(orders) | factors, n.astype(float)
    )
    try:
        matrices = DesignMatrices(description, coded, Environment([namespace(n)]))
    except ConfigError:
        raise
    except Exception as error:  # noqa: BLE001 - formulae's own message, with the formula
        raise ConfigError(f"formula {formula!r}: {error}") from None
    call_centres = {call.label: np.asarray(call.centre).tolist() for call in centred_calls}

    common_terms, X = _common(matrices, cells, formula, aliases)
    _check_collinear(formula, X, common_terms)
    blocks = _group_blocks(matrices, parsed.blocks, cells, coded, formula)
    common_terms = _mark_group_level(common_terms, X, blocks)
    term_names = [t.name for t in common_terms] + _group_parameter_names(blocks)
    term_names += list(extra_names or [])
    if competing:  # stage 2's parameters, by the same names with its prefix
        term_names += [f"competing_{name}" for name in term_names]
    merged = merge_formula_priors(priors, term_names)
    rows = [_student_row(prior_of(merged, term.name)) for term in common_terms for _ in term.labels]
    return FormulaDesign(
        formula=formula,
        response=response,
        trials_column=trials,
        cells=cells,
        successes=successes,
        trials=n,
        common=tuple(common_terms),
        X=X,
        blocks=tuple(blocks),
        centres=centres,
        references=references,
        priors=merged,
        coefficient_priors=np.array(rows, dtype=float).reshape(-1, 3),
        orders=orders,
        factors=frozenset(factors),
        matrices=matrices,
        outcome_counts=outcome_counts,
        raw_columns=aliases,
        call_centres=call_centres,
        cells_by=tuple(extra),
    )


def _cells_by_columns(cells_by: Sequence[str], used: list[str], frame: pd.DataFrame) -> list[str]:
    """The ``cells_by`` columns the formula does not use already, each once; a column
    not in the data is refused, naming it."""
    if isinstance(cells_by, str):
        cells_by = [cells_by]
    missing = [c for c in cells_by if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"cells_by column(s) {missing} not in the data; it has {list(frame.columns)}"
        )
    return [c for c in dict.fromkeys(cells_by) if c not in used]


def _levels_in_order(values: pd.Series) -> list[str]:
    """The levels present in ``values`` as text, in their natural order: a categorical
    column's own order (cooperation low, medium, high; age groups youngest first),
    numbers ascending, other text alphabetically."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.astype(str).unique())
        return [str(level) for level in values.cat.categories if str(level) in present]
    if _is_numeric(values):
        return [str(v) for v in sorted(values.unique())]
    return sorted(values.astype(str).unique())


def _code(cells, n, used, usage: Usage, reference: dict, factors: set):
    """``(coded cells, centres, references, orders, raw-column names)``: how formulae
    sees each variable. Grouping factors as text; numeric variables that stand alone
    centred at their case-weighted mean; categorical ones in their natural level order
    (:func:`_levels_in_order`), the reference first (``reference``, else the most common
    level), except those formulae
    orders itself (``C(x)`` without a reference, ``C(x, Treatment(level))``). A variable
    used inside a call also gets a raw column (``"<name> (raw)"``) that the call reads
    (``C(x)`` reads the coded column where the model orders x's levels itself)."""
    coded = cells.copy()
    centres, references, orders, aliases = {}, {}, {}, {}
    for column in used:
        values = cells[column]
        if column in factors:  # grouping variables: levels as text, never centred
            coded[column] = values.astype(str).to_numpy(dtype=object)
        elif _is_numeric(values) and column not in reference:
            if column in usage.bare:
                centre = _case_weighted_mean(values, n)
                centres[column] = centre
                coded[column] = values.to_numpy(dtype=float) - centre
        elif column in usage.categorical and column not in reference:
            pass  # C(x) without a reference: formulae's levels, in their natural order
        elif column not in usage.treatment:
            text = values.astype(str)
            levels = _levels_in_order(values)
            ref = str(reference.get(column, _most_common(values, n)))
            if ref not in levels:
                raise ConfigError(
                    f"reference level {ref!r} of {column!r} is not in the data; "
                    f"its levels are {levels[:10]}"
                )
            references[column] = ref
            order = [ref, *[level for level in levels if level != ref]]
            orders[column] = order
            coded[column] = pd.Categorical(text, categories=order, ordered=True)
        if column in usage.in_calls:
            aliases[column] = _raw_name(column)
            coded[aliases[column]] = values
    return coded, centres, references, orders, aliases


def _raw_name(column: str) -> str:
    """The column of the coded frame a call reads for ``column`` (no formula can name it)."""
    return f"{column} (raw)"


def _check_decimal_commas(frame: pd.DataFrame, columns: list[str]) -> None:
    """Refuse a text column whose every value is a number, some with a decimal comma
    ("1,5"): read as text it would silently become a categorical of one level a value."""
    for column in columns:
        series = frame[column]
        if _is_numeric(series) or pd.api.types.is_bool_dtype(series):
            continue
        values = pd.Series(pd.unique(series.dropna())).astype(str)  # each value once
        if values.empty:
            continue
        comma = values.str.match(_DECIMAL_COMMA)
        if comma.any() and (comma | values.str.match(_WHOLE_NUMBER)).all():
            raise ConfigError(
                f"column {column!r} holds numbers written with a decimal comma (such as "
                f"{values[comma].iloc[0]!r}), so it was read as text and would become a "
                "categorical with a level per value; write decimal points (1.5) in the "
                "data, or convert the column to numbers before fitting"
            )


def _check_references(formula, reference: dict, usage: Usage, frame, factors, used) -> None:
    """A reference is given for a categorical variable of the formula, once: not for an
    unused column, a grouping factor, a numeric variable (unless only inside ``C()``),
    or against the formula's own ``C(x, Treatment(level))``; a Treatment level must be
    one of the data's."""
    unknown = sorted(set(reference) - set(used))
    if unknown:
        raise ConfigError(f"reference given for {unknown}, which the formula does not use")
    for column, level in reference.items():
        if column in factors:
            raise ConfigError(
                f"reference given for {column!r}, a grouping factor of the formula: a "
                "group's levels are effects around its mean and have no reference level"
            )
        as_number = usage.bare | (usage.in_calls - usage.categorical)
        if _is_numeric(frame[column]) and column in as_number:
            raise ConfigError(
                f"{column} is numeric in this formula; write C({column}) to treat it as categorical"
            )
        if column in usage.treatment and str(usage.treatment[column]) != str(level):
            raise ConfigError(
                f"reference {str(level)!r} for {column!r} conflicts with the formula's "
                f"C({column}, Treatment({usage.treatment[column]!r})): give the reference once"
            )
    for column, level in usage.treatment.items():
        values = frame[column]
        levels = pd.unique(values.dropna()).tolist()
        levels = sorted(levels) if _is_numeric(values) else sorted(levels, key=str)
        if pd.api.types.is_bool_dtype(values):
            found = isinstance(level, bool) and level in levels  # Treatment(True)
        elif _is_numeric(values):
            found = isinstance(level, int | float) and not isinstance(level, bool)
            found = found and level in levels
        else:
            found = isinstance(level, str) and level in {str(v) for v in levels}
        if not found:
            raise _position_error(
                formula,
                f"reference level {level!r} of {column!r} is not in the data; its levels "
                f"are {levels[:10]}",
                "Treatment(",
            )


def _check_levels_have_cases(formula, cells, n, blocks, categorical) -> None:
    """Refuse a group, or a categorical term, with (nearly) a level for every case: the
    variance of one effect per case cannot be told from the binomial noise (its SD
    follows its prior) and one coefficient per case is not identified. Nearly: fewer
    than :data:`MIN_CASES_PER_LEVEL` cases a level on average (as ``case_id``), where
    also formulae's one-hot coding of the levels outgrows memory. ``(1 | person_id)``
    does not get here: its levels are many and small, so it is integrated out
    (:mod:`returnmodels.models.integrated`)."""
    factors = dict.fromkeys(name.split("|", 1)[1] for names in blocks for name in names)
    for factor in factors:
        totals = _cases_per_level(group_labels(cells, factor), n)
        if _too_few_cases(totals):
            raise _position_error(
                formula,
                f"the group {factor!r} has {_level_counts_text(totals)}: its SD "
                + (
                    "cannot be told apart from the binomial noise and would only follow its prior"
                    if (totals == 1).all()
                    else "rests on the few levels of several cases and mostly follows its prior"
                )
                + "; group by a variable with several cases a level",
                factor.split(":")[-1],
            )
    for column in categorical:
        totals = _cases_per_level(cells[column].astype(str), n)
        if _too_few_cases(totals):
            raise _position_error(
                formula,
                f"the term {column!r} has {_level_counts_text(totals)}: a coefficient per "
                "level of about one case is not identified",
                column,
            )


def _cases_per_level(labels: pd.Series, n: np.ndarray) -> pd.Series:
    return pd.Series(n).groupby(labels.to_numpy()).sum()


def _too_few_cases(totals: pd.Series) -> bool:
    return len(totals) > 1 and totals.mean() < MIN_CASES_PER_LEVEL


def _level_counts_text(totals: pd.Series) -> str:
    if (totals == 1).all():
        return f"a level for every case ({len(totals)} levels of one case each)"
    single = float(np.mean(totals == 1))
    return (
        f"nearly a level for every case ({len(totals)} levels for {int(totals.sum())} "
        f"cases, {single:.0%} of the levels one case)"
    )


def _check_collinear(formula: str, X: np.ndarray, terms) -> None:
    """Refuse common columns that are an exact combination of each other (a column and
    a copy, two categoricals that split the cases the same way), naming the terms."""
    if X.shape[1] < 2:
        return
    norms = np.linalg.norm(X, axis=0)
    scaled = X / np.where(norms > 0, norms, 1.0)
    R = np.linalg.qr(scaled, mode="r")
    _, s, vt = np.linalg.svd(R, full_matrices=True)
    rank = int(np.sum(s > _COLLINEAR_TOLERANCE * s[0]))
    if rank == X.shape[1]:
        return
    owner = [term.name for term in terms for _ in term.labels]
    involved = np.flatnonzero((np.abs(vt[rank:]) > 1e-6).any(axis=0))
    names = list(dict.fromkeys(owner[j] for j in involved))
    if len(names) > 2 and "Intercept" in names:
        names.remove("Intercept")
    shown = " and ".join(repr(name) for name in names)
    raise _position_error(
        formula,
        f"the terms {shown} are collinear in the data: the columns of one are an exact "
        "combination of the others' (a copy, or categoricals that split the cases the "
        "same way), so their coefficients are not identified; drop one",
        _lexeme_of(formula, names[-1]),
    )


def _lexeme_of(formula: str, term: str) -> str:
    """Where the caret goes for a term: the term as written, else its first variable."""
    return term if term in formula else term.split(":")[0].split("(")[-1]


def _level_label(term_name: str, label: str) -> str:
    inner = re.fullmatch(re.escape(term_name) + r"\[(.*)\]", label)
    return inner.group(1) if inner else label


def _common(matrices, cells: pd.DataFrame, formula: str, aliases: Mapping[str, str]):
    common = matrices.common
    if common is None:
        return [], np.zeros((len(cells), 0))
    X = np.asarray(common.design_matrix, dtype=float)
    terms = []
    for name, term in common.terms.items():
        block = X[:, common.slices[name]]
        if name != "Intercept" and np.all(np.ptp(block, axis=0) == 0):
            raise _position_error(
                formula,
                f"the term {name!r} is constant in the data (nothing to estimate)",
                _lexeme_of(formula, name),
            )
        labels = tuple(term.labels)
        levels = (
            None
            if len(labels) == 1 and labels[0] == name
            else tuple(_level_label(name, label) for label in labels)
        )
        columns = {raw: column for column, raw in aliases.items()}
        named = getattr(term, "var_names", ())  # a call reads its raw columns
        variables = tuple(sorted({columns.get(v, v) for v in named if v}))
        terms.append(CommonTerm(name=name, labels=labels, levels=levels, variables=variables))
    return terms, X


def _group_blocks(matrices, block_terms, cells, coded, formula) -> list[GroupBlock]:
    group = matrices.group
    if group is None:
        return []
    blocks, seen = [], set()
    for names in block_terms:
        by_factor: dict[str, list[str]] = {}
        for name in names:
            factor = name.split("|", 1)[1]
            by_factor.setdefault(factor, []).append(name)
        for factor, term_names in by_factor.items():
            variables = factor.split(":")
            labels = group_labels(cells, factor)
            levels = tuple(sorted(labels.unique()))
            if len(levels) < 2:
                raise _position_error(
                    formula,
                    f"the group {factor!r} has only one level ({levels[0]!r}) in the "
                    "data: a variance needs at least two",
                    variables[-1],
                )
            index = pd.Categorical(labels, categories=levels).codes.astype(np.int64)
            columns, values = [], []
            for name in term_names:
                term_columns, term_values = _term_columns(group, name, labels)
                columns += term_columns
                values += term_values
            for label, column in zip(columns, values, strict=True):
                key = (factor, label)
                if key in seen:
                    raise _position_error(formula, f"{label!r} varies by {factor!r} twice", factor)
                seen.add(key)
                if label != "Intercept" and _constant_within(column, index, len(levels)):
                    raise _position_error(
                        formula,
                        f"the slope of {label!r} cannot vary by {factor!r}: it is constant "
                        f"within every level of {factor!r} (use it as a group-level predictor)",
                        label.split("[")[0].split("(")[-1],
                    )
            blocks.append(
                GroupBlock(
                    factor=factor,
                    levels=levels,
                    columns=tuple(columns),
                    index=index,
                    values=np.column_stack(values).astype(float),
                    terms=tuple(term_names),
                )
            )
    return blocks


def group_labels(frame: pd.DataFrame, factor: str) -> pd.Series:
    """Each row's level of ``factor`` (``a:b`` for a nested factor), as text."""
    variables = factor.split(":")
    labels = frame[variables[0]].astype(str)
    for v in variables[1:]:
        labels = labels + ":" + frame[v].astype(str)
    return labels


def _term_columns(group, name: str, labels) -> tuple[list[str], list[np.ndarray]]:
    """The column labels of group term ``name`` and each row's values of them, read from
    formulae's matrix at the row's own level."""
    term = group.terms[name]
    Z = group[name].tocsr()
    order = {g: i for i, g in enumerate(term.groups)}
    width = Z.shape[1] // len(term.groups)
    position = np.array([order[g] for g in labels], dtype=np.int64) * width
    columns, values = [], []
    for r in range(width):
        values.append(np.asarray(Z[np.arange(len(labels)), position + r]).ravel())
        label = term.labels[r].split("|", 1)[0]
        columns.append("Intercept" if label == "1" else label)
    return columns, values


def _constant_within(column: np.ndarray, index: np.ndarray, n_levels: int) -> bool:
    low = np.full(n_levels, np.inf)
    high = np.full(n_levels, -np.inf)
    np.minimum.at(low, index, column)
    np.maximum.at(high, index, column)
    return bool(np.all(high - low == 0))


def _mark_group_level(terms, X, blocks):
    marked, start = [], 0
    for term in terms:
        width = len(term.labels)
        owner = None
        if term.name != "Intercept":
            for block in blocks:
                if all(
                    _constant_within(X[:, start + k], block.index, len(block.levels))
                    for k in range(width)
                ):
                    owner = block.factor
                    break
        marked.append(replace(term, group_level_of=owner))
        start += width
    return marked


def _group_parameter_names(blocks) -> list[str]:
    names = []
    for block in blocks:
        names += [f"{block.column_name(r)}_sigma" for r in range(block.width)]
        if block.correlated:
            names.append(f"{block.factor}_corr")
    return names


def pooled_probabilities(design: FormulaDesign) -> np.ndarray:
    """(C, M + 1) each cell's probabilities of the reference and of every linear
    predictor's category under the model without group effects: its common terms only,
    at the posterior mode with N(0, 2.5) priors (L-BFGS, a few milliseconds)."""
    X, Y = design.X, design.linear_counts()
    n = design.trials.astype(float)
    M, P = Y.shape[1], X.shape[1]

    def negative(flat):
        B = flat.reshape(M, P)
        eta = np.column_stack([np.zeros(len(n)), X @ B.T])
        lse = logsumexp(eta, axis=1)
        value = np.sum(Y * eta[:, 1:]) - n @ lse - 0.5 * np.sum(B**2) / 2.5**2
        prob = np.exp(eta - lse[:, None])
        grad = (Y - n[:, None] * prob[:, 1:]).T @ X - B / 2.5**2
        return -value, -grad.ravel()

    fitted = minimize(negative, np.zeros(M * P), jac=True, method="L-BFGS-B")
    eta = np.column_stack([np.zeros(len(n)), X @ fitted.x.reshape(M, P).T])
    return np.exp(eta - logsumexp(eta, axis=1)[:, None])


def between_level_variance(design: FormulaDesign, block: GroupBlock, pooled=None) -> np.ndarray:
    r"""(M,) a quick estimate of the variance of the block's intercepts, per linear
    predictor: DerSimonian and Laird's moment estimator on each level's log-odds
    residual against the pooled model (:func:`pooled_probabilities`),

    .. math::

        r_j = \log\frac{O_j + 1/2}{O_{j,\mathrm{ref}} + 1/2}
            - \log\frac{E_j + 1/2}{E_{j,\mathrm{ref}} + 1/2}, \qquad
        \hat\tau^2 = \max\Big(0,\ \frac{Q - (J - 1)}
            {\sum_j w_j - \sum_j w_j^2 / \sum_j w_j}\Big)

    with :math:`O, E` the observed and expected cases, :math:`w_j = 1 / v_j` and
    :math:`Q = \sum_j w_j (r_j - \bar r_w)^2`. A level's share averages over its
    cases, so where case-level predictors vary within levels the estimate is attenuated
    (about 0.75 of a 0.9 SD in the tests), never inflated. It only steers the
    parameterisation
    (:func:`centred`); the model's variance is the posterior's."""
    pooled = pooled_probabilities(design) if pooled is None else pooled
    observed, reference, variance = _level_counts(design, block)
    n = design.trials.astype(float)
    J = len(block.levels)
    expected = np.stack(
        [np.bincount(block.index, weights=n * pooled[:, k], minlength=J)
         for k in range(pooled.shape[1])],
        axis=1,
    )  # fmt: skip
    r = np.log((observed + 0.5) / (reference[:, None] + 0.5)) - np.log(
        (expected[:, 1:] + 0.5) / (expected[:, [0]] + 0.5)
    )
    w = 1.0 / variance
    mean = np.sum(w * r, axis=0) / w.sum(axis=0)
    q = np.sum(w * (r - mean) ** 2, axis=0)
    scale = w.sum(axis=0) - np.sum(w**2, axis=0) / w.sum(axis=0)
    return np.maximum(0.0, (q - (J - 1)) / scale)


def _level_counts(design: FormulaDesign, block: GroupBlock):
    """Per level: (J, M) cases of each linear predictor's category, (J,) of the
    reference, and (J, M) the sampling variance of the empirical log-odds."""
    J = len(block.levels)
    Y = design.linear_counts()
    observed = np.stack(
        [np.bincount(block.index, weights=Y[:, k], minlength=J) for k in range(Y.shape[1])],
        axis=1,
    )
    total = np.bincount(block.index, weights=design.trials.astype(float), minlength=J)
    reference = total - observed.sum(axis=1)
    variance = 1.0 / (observed + 0.5) + 1.0 / (reference[:, None] + 0.5)
    return observed, reference, variance


def nesting_parent(design: FormulaDesign, block: GroupBlock) -> tuple[int, np.ndarray] | None:
    """The block whose levels ``block``'s levels are nested in, and each level's parent
    level; None when there is none.

    Nesting is read from the data, as lme4 reads it from unique labels: an intercept
    block ``P`` is a parent of the intercept block ``block`` when every level of
    ``block`` occurs with exactly one level of ``P`` and ``P`` has fewer levels.
    ``(1 | region/nationality)`` is ``(1 | region) + (1 | region:nationality)``, and
    ``(1 | cooperation) + (1 | nationality)`` is nested in the same way when each
    nationality has one cooperation class. Of several parents (``a/b/c``) the one with
    most levels, the direct parent, is taken.
    """
    if block.columns[0] != "Intercept":
        return None
    J = len(block.levels)
    found = None
    for p, parent in enumerate(design.blocks):
        K = len(parent.levels)
        if parent is block or parent.columns[0] != "Intercept" or K >= J:
            continue
        level = np.full(J, -1)
        level[block.index] = parent.index
        if np.any(level < 0):
            continue
        if np.any(level[block.index] != parent.index):
            continue  # a level that occurs with two parent levels: crossed, not nested
        if found is None or K > len(design.blocks[found[0]].levels):
            found = (p, level)
    return found


def mean_ridge(design: FormulaDesign, block: GroupBlock, pooled=None) -> float:
    r"""How strongly a block's levels would move together if their mean were left to
    their prior: the largest eigenvalue, less 1, of their posterior correlation then,
    about :math:`\sum_j r_j / (J + r_j)` with :math:`r_j = \hat\tau^2 / v_j`
    (:func:`between_level_variance` against :func:`centred`'s sampling variance of
    level :math:`j`), the largest over linear predictors.

    Of crossed blocks with centred levels, one carries the intercept (its levels are
    centred at it) and the others' means are pinned down by their prior alone, with
    variance :math:`\hat\tau^2 / J` beside each level's own :math:`v_j`: a ridge a
    diagonal mass matrix pays for by about this figure (each level its data pin down
    better than :math:`\hat\tau^2 / J` adds about 1). So the block with the largest
    figure carries the intercept
    (:func:`returnmodels.inference.formula_fit.engine_inputs`): on the bundled data the
    120 nationalities (about 13) rather than the 7 closing years (about 6), on 300
    persons crossed with 25 items the items (14, the persons 2.3)."""
    _, _, variance = _level_counts(design, block)
    ratio = between_level_variance(design, block, pooled)[None, :] / variance
    J = len(block.levels)
    return float(np.max(np.sum(ratio / (J + ratio), axis=0)))


def centred(design: FormulaDesign, block: GroupBlock, pooled=None) -> np.ndarray:
    r"""(M, J) which levels of a block's intercept are sampled centred, per linear
    predictor.

    Level :math:`j`'s empirical log-odds of category :math:`k` against the reference
    has sampling variance about :math:`v_{jk} = 1/(y_{jk} + 1/2) + 1/(y_{j,\mathrm{ref}}
    + 1/2)` (binary: successes against failures). The level is centred when its own data
    pin it down well, :math:`v_{jk} \le 1/` :data:`CENTRING_INFORMATION`, *and* better
    than the spread of the levels does, :math:`v_{jk} \le \hat\tau^2_k`
    (:func:`between_level_variance`): the centred form mixes well when the data dominate
    the prior of a level, the non-centred one when the prior does (Papaspiliopoulos,
    Roberts and Skold 2007). So a variance component near zero is sampled non-centred
    throughout, where the centred form would be a funnel. Slopes, and the intercepts of
    levels with little data, stay non-centred, which is sound however small their
    variance.

    Nested groups (:func:`nesting_parent`): a centred child level is centred at its
    parent level's value (hierarchical centring, Gelfand, Sahu and Carlin 1995;
    :mod:`returnmodels.inference.formula_fit`), so the children's data reach the parent
    through the children's prior, and the parent levels, whose SD rests on a few levels
    and so reaches towards zero, are sampled non-centred. On the bundled data
    ``(1 | region/nationality)`` then passes the gate without a divergence, where a
    centred region (its 1,000s of cases taken for its information) left the region and
    its nationalities on a ridge: R-hat 1.19 on the region SD.
    """
    J = len(block.levels)
    if block.columns[0] != "Intercept":
        return np.zeros((design.n_linear, J), dtype=bool)
    if any(
        (nesting := nesting_parent(design, child)) is not None
        and design.blocks[nesting[0]] is block
        for child in design.blocks
    ):
        return np.zeros((design.n_linear, J), dtype=bool)  # a parent: non-centred
    _, _, variance = _level_counts(design, block)
    tau2 = between_level_variance(design, block, pooled)
    bound = np.minimum(1.0 / CENTRING_INFORMATION, tau2)
    return (variance <= bound[None, :]).T

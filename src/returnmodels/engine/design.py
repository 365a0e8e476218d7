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
:mod:`returnmodels.engine.graph` reads without compiling anything new.

"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import xarray as xr
from formulae.environment import Environment
from formulae.matrices import DesignMatrices

from returnmodels.data.vocabulary import (
    ASSISTED,
    COMPETING_OUTCOMES,
    NONREFERENCE_OUTCOMES,
    OUTCOMES,
    REFERENCE_OUTCOME,
)
from returnmodels.engine.checks import (
    check_collinear,
    check_decimal_commas,
    check_levels_have_cases,
    check_references,
    is_numeric,
    is_outcome_column,
    missing_rows,
    prepared_frame,
)
from returnmodels.engine.coding import cells_by_columns, code_cells
from returnmodels.engine.functions import (
    check_domains,
    namespace,
    position_error,
    read_raw_and_centre,
)
from returnmodels.engine.integrated import (
    IntegratedTerm,
    integration_reason,
    unit_patterns,
    without_group_term,
)
from returnmodels.engine.parse import ASSISTED_RESPONSE, check_columns, parsed_formula
from returnmodels.engine.priors import merge_formula_priors, prior_of, student_row
from returnmodels.engine.terms import (
    CommonTerm,
    GroupBlock,
    group_labels,
    group_parameter_names,
    group_term_columns,
    mark_group_level,
    read_common_terms,
    read_group_blocks,
)
from returnmodels.errors import ConfigError


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
    #: (:mod:`returnmodels.engine.integrated`); the cells are those of the formula
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
                values += group_term_columns(group, name, labels)[1]
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
            if column in frame and not is_numeric(frame[column]):  # stored as text:
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


def stack_draws(posterior: xr.Dataset) -> xr.Dataset:
    """The posterior with chain and draw flattened into one plain ``sample`` dim."""
    flat = posterior.stack(sample=("chain", "draw"))
    return flat.drop_vars(["sample", "chain", "draw"]).transpose("sample", ...)


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
        student_row(prior_of(design.priors, f"competing_{term.name}"))
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
    small (:func:`returnmodels.engine.integrated.integration_reason`), is integrated out
    of the likelihood (:mod:`returnmodels.engine.integrated`): the design is the
    formula's without it, its cases collapsed into outcome patterns
    (``design.integrated``), and the reason recorded. Such a term needs one row a case
    and the binary family; the competing outcomes and aggregated counts are refused.
    """
    parsed = parsed_formula(formula)
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
    frame = prepared_frame(data, parsed.response, None, formula, set(design.cells.columns))
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


def _cases_per_level(column: pd.Series) -> pd.Series:
    """How many cases each level of a group factor has (levels as text)."""
    return column.astype(str).value_counts(sort=False)


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
                check_columns(formula, {factor}, data)  # refused: nearest name
            continue
        totals = _cases_per_level(data[factor])
        reason = integration_reason(factor, columns, totals, factor in marked)
        if factor in marked and reason is None:
            raise position_error(
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
    if parsed.trials is not None or (competing and is_outcome_column(data["outcome"])):
        raise ConfigError(
            f"formula {formula!r}: '(1 | {factor})' is integrated out ({reason}), which "
            "the engine does for a binary response with one row a case, not yet for "
            "aggregated counts (trials) or the competing outcomes ('outcome ~ ...'); "
            f"fit 'assisted ~ ...' on the case rows"
        )
    totals = _cases_per_level(data[factor])
    if (totals == 1).all():
        raise position_error(
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
    parsed = parsed_formula(formula)
    response, trials, description, usage = (
        parsed.response, parsed.trials, parsed.description, parsed.usage
    )  # fmt: skip
    names = {v for v in description.var_names if v} - {response}
    frame = prepared_frame(data, response, trials, formula, names)
    check_columns(formula, names, frame)
    factors = {v for term in description.group_terms for v in term.factor.var_names}
    used = sorted(names)
    extra = cells_by_columns(cells_by, used, frame)
    factors |= set(extra)
    reference = dict(reference or {})
    check_decimal_commas(frame, [c for c in used if c not in factors])
    check_references(formula, reference, usage, frame, factors, used)
    weights_rows = frame[trials].to_numpy(float) if trials else np.ones(len(frame))

    # cells: one per observed combination of the formula's variables
    competing = trials is None and is_outcome_column(frame[response])
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
            f"every row: column {nulls[0]!r}, {missing_rows(frame[nulls[0]])}"
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
        and (not is_numeric(cells[c]) or c in usage.categorical or c in reference)
    ]
    check_levels_have_cases(formula, cells, n, parsed.blocks, categorical)

    coded, centres, references, orders, aliases = code_cells(
        cells, n, used, usage, reference, factors
    )
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

    common_terms, X = read_common_terms(matrices, cells, formula, aliases)
    check_collinear(formula, X, common_terms)
    blocks = read_group_blocks(matrices, parsed.blocks, cells, coded, formula)
    common_terms = mark_group_level(common_terms, X, blocks)
    term_names = [t.name for t in common_terms] + group_parameter_names(blocks)
    term_names += list(extra_names or [])
    if competing:  # stage 2's parameters, by the same names with its prefix
        term_names += [f"competing_{name}" for name in term_names]
    merged = merge_formula_priors(priors, term_names)
    rows = [student_row(prior_of(merged, term.name)) for term in common_terms for _ in term.labels]
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

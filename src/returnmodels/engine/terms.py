"""The term table of a design: the common terms and the group blocks read from
formulae's matrices, each cell's level and values, and the group-level predictors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from returnmodels.engine.functions import position_error


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


def lexeme_of(formula: str, term: str) -> str:
    """Where the caret goes for a term: the term as written, else its first variable."""
    return term if term in formula else term.split(":")[0].split("(")[-1]


def _level_label(term_name: str, label: str) -> str:
    inner = re.fullmatch(re.escape(term_name) + r"\[(.*)\]", label)
    return inner.group(1) if inner else label


def read_common_terms(matrices, cells: pd.DataFrame, formula: str, aliases: Mapping[str, str]):
    common = matrices.common
    if common is None:
        return [], np.zeros((len(cells), 0))
    X = np.asarray(common.design_matrix, dtype=float)
    terms = []
    for name, term in common.terms.items():
        block = X[:, common.slices[name]]
        if name != "Intercept" and np.all(np.ptp(block, axis=0) == 0):
            raise position_error(
                formula,
                f"the term {name!r} is constant in the data (nothing to estimate)",
                lexeme_of(formula, name),
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


def read_group_blocks(matrices, block_terms, cells, coded, formula) -> list[GroupBlock]:
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
                raise position_error(
                    formula,
                    f"the group {factor!r} has only one level ({levels[0]!r}) in the "
                    "data: a variance needs at least two",
                    variables[-1],
                )
            index = pd.Categorical(labels, categories=levels).codes.astype(np.int64)
            columns, values = [], []
            for name in term_names:
                term_columns, term_values = group_term_columns(group, name, labels)
                columns += term_columns
                values += term_values
            for label, column in zip(columns, values, strict=True):
                key = (factor, label)
                if key in seen:
                    raise position_error(formula, f"{label!r} varies by {factor!r} twice", factor)
                seen.add(key)
                if label != "Intercept" and _constant_within(column, index, len(levels)):
                    raise position_error(
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


def group_term_columns(group, name: str, labels) -> tuple[list[str], list[np.ndarray]]:
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


def mark_group_level(terms, X, blocks):
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


def group_parameter_names(blocks) -> list[str]:
    names = []
    for block in blocks:
        names += [f"{block.column_name(r)}_sigma" for r in range(block.width)]
        if block.correlated:
            names.append(f"{block.factor}_corr")
    return names

r"""What every published quantity of a fit rests on: the cases behind each parameter.

A posterior quantity is as disclosive as the cases it rests on. The effect of a level
with three cases is monotone in its number of assisted returns, so its draws give that
number back as surely as a count would; a slope carried by the one case whose value
differs from everybody else's gives back that case's outcome. Disclosure control of a
fit therefore needs, for every coefficient, effect and level that can be published, the
cases behind it, read from the *design* (its columns, blocks and levels), never from
the names of parameters:

* a **common column** :math:`x_k` rests on the cases whose value of it differs from its
  most common value (the case-weighted mode): for a dummy of a rare level, the level's
  cases; for the dummy of a common level, the rest (the reference, when it is small);
  for an interaction column, its cell; for a numeric variable, every case off its mode;
* the **intercept** is the log-odds at the reference level of every categorical term,
  so it rests on the smallest of those reference levels as well as on all cases;
* a **level of a group block** rests on its own cases and, for a varying slope, on the
  cases of the level off the level's most common value of the slope's column; a factor
  used in several blocks is counted per block and the strictest is kept, never summed;
* a **value of a categorical variable** (a margin at that value, a predictive check by
  it) rests on the cases with that value;
* everything else (SDs, correlations, population-level averages) rests on all cases.

For a set of cases the *counts behind it* are its number of cases and, for every
category of the response (assisted return or not; in the competing-outcomes family,
each of the six outcomes), the cases with and without it. The set may be published when
every non-zero count is at least ``min_cases`` (and zeros too with ``suppress_zeros``):
the share rule of :mod:`returnmodels.disclosure.control`, applied to what a parameter
rests on. :func:`support_table` stores, per key, the smallest count and the smallest
non-zero count, so that the rules can be applied later by any reader of the fit
(:mod:`returnmodels.disclosure.posterior`), whatever ``min_cases`` they use.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np
import pandas as pd

from returnmodels.engine.design import FormulaDesign
from returnmodels.engine.terms import group_labels

__all__ = [
    "SUPPORT_COLUMNS",
    "stage_prefixes",
    "support_table",
]

#: The columns of a support table: ``kind`` (``whole``, ``variable``, ``dim``,
#: ``column``), the ``key`` (a variable, a dim or a data column), the ``label`` (a
#: coordinate or a value; empty for ``whole`` and ``variable``), the number of cases
#: and the smallest and smallest non-zero count behind it.
SUPPORT_COLUMNS = ("kind", "key", "label", "n", "smallest", "smallest_nonzero")


def stage_prefixes(design: FormulaDesign) -> tuple[str, ...]:
    """The parameter-name prefixes of a fit of ``design``: its stages."""
    return ("",) if design.outcome_counts is None else ("", "competing_")


def _category_counts(design: FormulaDesign) -> np.ndarray:
    """(C, q) per cell the cases with and without each category of the response."""
    n = design.trials.astype(np.int64)
    if design.outcome_counts is None:
        with_outcome = design.successes.astype(np.int64)[:, None]
    else:
        with_outcome = design.outcome_counts.astype(np.int64)
    return np.hstack([with_outcome, n[:, None] - with_outcome])


class _Counter:
    """The counts behind any set of cells (a boolean mask over the cells)."""

    def __init__(self, design: FormulaDesign):
        self.n = design.trials.astype(np.int64)
        self.categories = _category_counts(design)

    def __call__(self, mask: np.ndarray) -> tuple[int, int, int]:
        """``(n, smallest, smallest_nonzero)`` of the cells in ``mask``."""
        n = int(self.n[mask].sum())
        counts = np.append(self.categories[mask].sum(axis=0), n)
        positive = counts[counts > 0]
        smallest_nonzero = int(positive.min()) if len(positive) else 0
        return n, int(counts.min()), smallest_nonzero


def _off_mode(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """True for the cells whose value differs from the case-weighted most common one."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    rounded = np.round(values.astype(float), 12)
    labels, codes = np.unique(rounded, return_inverse=True)
    mode = labels[np.argmax(np.bincount(codes, weights=weights))]
    return rounded != mode


def _strictest(rows: Iterable[tuple[int, int, int]]) -> tuple[int, int, int]:
    rows = list(rows)
    nonzero = [r[2] for r in rows if r[2] > 0]
    return (
        min(r[0] for r in rows),
        min(r[1] for r in rows),
        min(nonzero) if nonzero else 0,
    )


def _categorical_columns(design: FormulaDesign) -> list[str]:
    """Data columns of the formula that enter as categories: coded categoricals, text
    and booleans, group factors, and a single variable of a term with levels
    (``C(n_procedures)``)."""
    columns = set(design.orders) | set(design.factors)
    for column in design.cells.columns:
        series = design.cells[column]
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            columns.add(column)
    for term in design.common:
        if term.levels is not None and len(term.variables) == 1:
            columns.add(term.variables[0])
    return [c for c in design.cells.columns if c in columns]


class _Cells:
    """The cells of the data a common coefficient is a contrast of.

    With treatment coding a coefficient compares cells of the cross-classification of
    the categorical variables of its term and of every term that contains it: the
    interaction ``a[i]:b[j]`` is (i, j) - (i, ref) - (ref, j) + (ref, ref), and with it
    in the model the main effect ``a[i]`` is (i, ref_b) - (ref, ref_b). Each of those
    cells (of the interaction, as the rules say) must rest on enough cases; the
    reference level of a variable is where its main effect's dummies are all zero.
    """

    def __init__(self, design: FormulaDesign, count: _Counter):
        self.design = design
        self.count = count
        self.categorical = set(_categorical_columns(design)) - set(design.factors)
        self.text = {c: design.cells[c].astype(str).to_numpy() for c in self.categorical}
        self.reference = self._references()

    def _references(self) -> dict[str, str]:
        found, start = {}, 0
        for term in self.design.common:
            width = len(term.labels)
            block = self.design.X[:, start : start + width]
            start += width
            if len(term.variables) == 1 and term.variables[0] in self.categorical and width:
                at = np.all(block == 0, axis=1)
                values = set(self.text[term.variables[0]][at])
                if len(values) == 1:
                    found[term.variables[0]] = values.pop()
        return found

    def contrasted(self, term, off: np.ndarray) -> list[tuple[int, int, int]]:
        """The counts of every cell a coefficient of ``term`` (its column non-zero on
        ``off``) is a contrast of."""
        own = [v for v in term.variables if v in self.categorical]
        wider = {
            v
            for other in self.design.common
            if set(term.variables) < set(other.variables)
            for v in other.variables
            if v in self.categorical and v not in own
        }
        choices = []
        for v in own:
            values = set(self.text[v][off])
            if len(values) != 1:
                return []
            options = {values.pop()}
            if v in self.reference:
                options.add(self.reference[v])
            choices.append([(v, value) for value in sorted(options)])
        choices += [[(v, self.reference[v])] for v in sorted(wider) if v in self.reference]
        if not choices:
            return []
        supports = []
        for combination in itertools.product(*choices):
            mask = np.ones(self.design.n_cells, dtype=bool)
            for v, value in combination:
                mask &= self.text[v] == value
            if mask.any():
                supports.append(self.count(mask))
        return supports


def _variance_rows(block, count: _Counter, weights, prefixes) -> list[tuple]:
    """A block's SDs and correlations: the SD of a varying slope rests on the cases off
    the mode of the slope's column (for a slope of a rare category, that category's
    cases), a correlation on the strictest of its two columns."""
    columns = [count(np.ones(len(weights), dtype=bool))]
    columns += [count(_off_mode(block.values[:, r], weights)) for r in range(1, block.width)]
    rows = []
    for p in prefixes:
        for r in range(1, block.width):
            rows.append(("variable", f"{p}{block.column_name(r)}_sigma", "", *columns[r]))
            rows.append(("variable", f"{p}{block.column_name(r)}_effect", "", *columns[r]))
        if block.width == 2:
            rows.append(("variable", f"{p}{block.factor}_corr", "", *columns[1]))
    if block.width > 2:  # the correlations' dim: one label per pair, as the engine names it
        for r in range(1, block.width):
            for c in range(r):
                label = f"{block.columns[c]},{block.columns[r]}"
                support = _strictest([columns[c], columns[r]])
                rows.append(("dim", f"{block.factor}_corr_pair", label, *support))
    return rows


def support_table(design: FormulaDesign, *, prefixes: tuple[str, ...] = ("",)) -> pd.DataFrame:
    """The counts behind every quantity of a fit of ``design`` (module docstring).

    ``prefixes``: the parameter-name prefixes of its stages (``("", "competing_")`` for
    the competing-outcomes family).
    """
    count = _Counter(design)
    everything = np.ones(design.n_cells, dtype=bool)
    whole = count(everything)
    rows = [("whole", "", "", *whole)]
    weights = design.trials.astype(float)

    cells = _Cells(design, count)
    references = []
    start = 0
    for term in design.common:
        width = len(term.labels)
        block = design.X[:, start : start + width]
        start += width
        supports = [
            _strictest([count(off), *cells.contrasted(term, off)])
            for off in (_off_mode(block[:, k], weights) for k in range(width))
        ]
        if term.levels is None:
            if term.name != "Intercept":
                rows += [("variable", p + term.name, "", *supports[0]) for p in prefixes]
            continue
        for level, support in zip(term.levels, supports, strict=True):
            rows.append(("dim", term.dim, str(level), *support))
        # every dummy at zero: the term's reference level
        references.append(count(np.all(block == 0, axis=1)) if width else whole)
    rows += [("variable", p + "Intercept", "", *_strictest([whole, *references])) for p in prefixes]

    by_dim: dict[str, dict[str, list]] = {}
    for block in design.blocks:
        levels = by_dim.setdefault(block.factor, {})
        for j, level in enumerate(block.levels):
            at = block.index == j
            supports = [count(at)]
            for r in range(1, block.width):
                off = np.zeros(design.n_cells, dtype=bool)
                off[at] = _off_mode(block.values[at, r], weights[at])
                supports.append(count(off))
            levels.setdefault(str(level), []).extend(supports)
    for dim, levels in by_dim.items():
        rows += [("dim", dim, level, *_strictest(s)) for level, s in levels.items()]
    for block in design.blocks:
        rows += _variance_rows(block, count, weights, prefixes)

    for column in _categorical_columns(design):
        labels = group_labels(design.cells, column).to_numpy()
        for value in sorted(set(labels)):
            rows.append(("column", column, value, *count(labels == value)))

    table = pd.DataFrame(rows, columns=list(SUPPORT_COLUMNS))
    return table.astype({"n": "int64", "smallest": "int64", "smallest_nonzero": "int64"})

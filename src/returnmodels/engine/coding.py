"""How formulae sees each variable of the cells: grouping factors as text, numeric
variables centred at their case-weighted mean, categorical ones in their level order
with the reference first, and the raw columns the calls read.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from returnmodels.engine.checks import is_numeric
from returnmodels.engine.functions import Usage
from returnmodels.errors import ConfigError


def _case_weighted_mean(values: pd.Series, weights: np.ndarray) -> float:
    return float(np.average(values.to_numpy(dtype=float), weights=weights))


def _most_common(values: pd.Series, weights: np.ndarray) -> str:
    totals = pd.Series(weights, index=values.astype(str).to_numpy()).groupby(level=0).sum()
    return str(totals.sort_values(ascending=False, kind="stable").index[0])


def cells_by_columns(cells_by: Sequence[str], used: list[str], frame: pd.DataFrame) -> list[str]:
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
    if is_numeric(values):
        return [str(v) for v in sorted(values.unique())]
    return sorted(values.astype(str).unique())


def code_cells(cells, n, used, usage: Usage, reference: dict, factors: set):
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
        elif is_numeric(values) and column not in reference:
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

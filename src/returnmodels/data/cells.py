"""Collapse case rows into binomial cells for the uptake models.

For cases :math:`i` in cell :math:`c` (one unique combination of the grouping column
and the model's predictors) every case has the same success probability
:math:`p_c`, so

.. math::

    \\prod_{i \\in c} p_c^{y_i} (1 - p_c)^{1 - y_i}
    = p_c^{s_c} (1 - p_c)^{n_c - s_c},
    \\qquad n_c = |c|,\\; s_c = \\sum_{i \\in c} y_i,

which is the binomial likelihood of :math:`(s_c, n_c)` up to the constant
:math:`\\binom{n_c}{s_c}`. Fits on cells and on rows therefore give the same
posterior, at the cost of the number of cells instead of the number of rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from returnmodels.data.case_summary import assisted
from returnmodels.data.reading import offending_rows
from returnmodels.errors import ConfigError

__all__ = ["CELL_COLUMNS", "aggregate_cells"]

#: The default cell: nationality and every case-level predictor of the uptake models.
CELL_COLUMNS: tuple[str, ...] = (
    "nationality",
    "cooperation",
    "closing_year",
    "n_procedures",
    "gender",
    "age_group",
    "family",
)


def aggregate_cells(
    cases: pd.DataFrame,
    by: Sequence[str] = CELL_COLUMNS,
    *,
    success: pd.Series | str | None = None,
) -> pd.DataFrame:
    """One row per observed combination of ``by``, with ``n_cases`` and ``n_assisted``.

    ``success`` is the binary outcome: a boolean Series aligned with ``cases``, the
    name of a boolean column, or ``None`` for the contract's derived
    ``outcome == "assisted_return"``. Cells are sorted by ``by``; categorical columns
    keep their dtype; combinations without cases are not listed. The input is not
    modified.
    """
    by = list(by)
    missing = [column for column in by if column not in cases.columns]
    if missing:
        raise ConfigError(f"cannot aggregate by {missing}: no such column in the cases")
    if not by:
        raise ConfigError("aggregate_cells needs at least one column to group by")
    outcome = _success(cases, success)
    nulls = [column for column in by if cases[column].isna().any()]
    if nulls:
        first = cases[nulls[0]]
        raise ConfigError(
            f"cannot aggregate: missing values in {nulls}; expected a value in every row: "
            f"column {nulls[0]!r}, {offending_rows(first, first.isna())}"
        )
    counts = (
        pd.DataFrame({column: cases[column] for column in by} | {"_success": outcome})
        .groupby(by, observed=True, sort=True)["_success"]
        .agg(n_cases="size", n_assisted="sum")
        .reset_index()
    )
    return counts.astype({"n_cases": "int64", "n_assisted": "int64"})


def _success(cases: pd.DataFrame, success: pd.Series | str | None) -> pd.Series:
    if success is None:
        if "outcome" not in cases.columns:
            raise ConfigError("cases have no 'outcome' column to derive assisted return from")
        return assisted(cases).astype("int64")
    if isinstance(success, str):
        if success not in cases.columns:
            raise ConfigError(f"success column {success!r} is not in the cases")
        success = cases[success]
    if len(success) != len(cases):
        raise ConfigError(f"success has {len(success)} values for {len(cases)} cases")
    if not success.isin([True, False]).all():
        binary = [not pd.isna(v) and v in (0, 1) for v in success.to_numpy(dtype=object)]
        what = "success" if success.name is None else f"success column {success.name!r}"
        raise ConfigError(
            f"{what} must be a boolean (or 0/1) value for every case: "
            f"{offending_rows(success, ~np.array(binary, dtype=bool))}"
        )
    return success.astype("int64").set_axis(cases.index)

"""The typed case-file contract, declared with pandera.

:func:`returnmodels.data.validation.validate_cases` reads what users bring (text from CSV,
typed Parquet) without coercing anything and reports every problem with the file's row
numbers; the frame it returns is then checked against :data:`CASE_SCHEMA`, the
declarative statement of what every downstream function may rely on. Use it in your own
pipelines too::

    from returnmodels.data.contract import CASE_SCHEMA
    CASE_SCHEMA.validate(frame, lazy=True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from returnmodels.data.vocabulary import (
    BOOLEAN_COLUMNS,
    CATEGORY_VALUES,
    NATIONALITY_PATTERN,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
)

__all__ = ["CASE_SCHEMA"]

_INTEGER_CHECKS = {
    "closing_year": [pa.Check.in_range(1900, 2100)],
    "n_procedures": [pa.Check.ge(1)],
    "case_days": [pa.Check.ge(0)],
}


def _column(name: str) -> pa.Column:
    required = name in REQUIRED_COLUMNS
    if name in CATEGORY_VALUES:
        dtype = pd.CategoricalDtype(list(CATEGORY_VALUES[name]), ordered=True)
        return pa.Column(dtype, required=required)
    if name in _INTEGER_CHECKS:
        return pa.Column(np.int64, _INTEGER_CHECKS[name], required=required)
    if name in BOOLEAN_COLUMNS:
        return pa.Column(bool, required=required)
    checks = [pa.Check.str_length(min_value=1)]
    if name in ("case_id", "person_id"):
        checks.append(pa.Check.str_contains(r"\S"))  # not only white space
    if name == "nationality":
        checks.append(pa.Check.str_matches(NATIONALITY_PATTERN))
    return pa.Column(pd.StringDtype(), checks, unique=name == "case_id", required=required)


#: Every contract column with its dtype and rules; extra columns are allowed.
CASE_SCHEMA = pa.DataFrameSchema(
    {name: _column(name) for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS},
    checks=[
        pa.Check(
            lambda frame: frame.groupby("nationality")["cooperation"].nunique() <= 1,
            error="cooperation must be constant within a nationality",
        )
    ],
    strict=False,
    name="returnmodels case file",
)

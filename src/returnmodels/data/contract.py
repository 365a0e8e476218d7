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
    INTEGER_COLUMNS,
    NATIONALITY_PATTERN,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
)

__all__ = ["CASE_DTYPES", "CASE_SCHEMA", "EXPECTED", "YEAR_RANGE"]

#: A plausible ``closing_year``, inclusive at both ends.
YEAR_RANGE: tuple[int, int] = (1900, 2100)


STRING = pd.StringDtype()


BOUNDS = {
    "closing_year": YEAR_RANGE,
    "n_procedures": (1, np.iinfo(np.int64).max),
    "case_days": (0, np.iinfo(np.int64).max),
}


INTEGER_TEXT = r"-?[0-9]{1,18}"


TRUE_TEXT, FALSE_TEXT = ("true", "1"), ("false", "0")


IDENTIFIER_COLUMNS = ("case_id", "person_id")


def _dtype(column: str) -> object:
    if column in CATEGORY_VALUES:
        return pd.CategoricalDtype(list(CATEGORY_VALUES[column]), ordered=True)
    if column in INTEGER_COLUMNS:
        return np.dtype(np.int64)
    return np.dtype(bool) if column in BOOLEAN_COLUMNS else STRING


#: The dtype of each contract column in the frame :func:`validate_cases` returns.
CASE_DTYPES: dict[str, object] = {c: _dtype(c) for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}


EXPECTED: dict[str, str] = {
    "case_id": "a non-empty identifier, unique in the file",
    "person_id": "a non-empty identifier",
    "nationality": "three upper-case letters (ISO 3166-1 alpha-3, e.g. 'IRQ'; 'XXX' unknown)",
    "closing_year": f"an integer year from {YEAR_RANGE[0]} to {YEAR_RANGE[1]}",
    "n_procedures": "an integer >= 1",
    "case_days": "an integer >= 0",
    **dict.fromkeys(BOOLEAN_COLUMNS, "a boolean: true or false (any case), or 1 or 0"),
    **{c: "one of " + ", ".join(map(repr, v)) for c, v in CATEGORY_VALUES.items()},
}

_INTEGER_CHECKS = {
    "closing_year": [pa.Check.in_range(*YEAR_RANGE)],
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

"""The stored (Arrow) types of a Parquet file's contract columns: refused when they are
not the contract's, naming both, before any value is read (nothing is converted).
"""

from __future__ import annotations

import pyarrow as pa

from returnmodels.data.contract import IDENTIFIER_COLUMNS
from returnmodels.data.reading import (
    Problem,
)
from returnmodels.data.vocabulary import (
    BOOLEAN_COLUMNS,
    CATEGORY_VALUES,
    INTEGER_COLUMNS,
)

__all__ = ["_STORED_EXPECTED", "stored_type_problems"]

#: What a Parquet column of each contract type must be stored as.
_STORED_EXPECTED = {
    "integer": "type integer (a Parquet integer type, e.g. int64)",
    "boolean": "type boolean (a Parquet boolean, or integers 0/1)",
    "identifier": "type string (a Parquet string, or an integer type)",
    "string": "type string (a Parquet string, or a dictionary of strings)",
    "category": "type category (a Parquet string, or a dictionary of strings)",
}


def stored_type_problems(stored: pa.Schema | None, present: list[str]) -> list[Problem]:
    """One problem per contract column whose stored Arrow type is not the contract's."""
    if stored is None:
        return []
    problems = []
    for name in present:
        if stored.names.count(name) != 1:  # repeated names are a structure problem
            continue
        arrow = stored.field(name).type
        if not _stored_type_ok(name, arrow):
            problems.append(_stored_type_problem(name, arrow))
    return problems


def _contract_type(name: str) -> str:
    """The contract's type of a column, with identifiers apart (they may be integers)."""
    if name in INTEGER_COLUMNS:
        return "integer"
    if name in BOOLEAN_COLUMNS:
        return "boolean"
    if name in CATEGORY_VALUES:
        return "category"
    return "identifier" if name in IDENTIFIER_COLUMNS else "string"


def _stored_type_ok(name: str, arrow: pa.DataType) -> bool:
    """Whether a column stored as ``arrow`` is read as it is (an all-null column always is)."""
    kind = _contract_type(name)
    if pa.types.is_null(arrow):  # every value missing: the value checks say so
        return True
    if pa.types.is_dictionary(arrow) and kind in ("identifier", "string", "category"):
        arrow = arrow.value_type
    if kind == "integer":
        return pa.types.is_integer(arrow)
    if kind == "boolean":
        return pa.types.is_boolean(arrow) or pa.types.is_integer(arrow)
    return _is_arrow_text(arrow) or (kind == "identifier" and pa.types.is_integer(arrow))


def _is_arrow_text(arrow: pa.DataType) -> bool:
    """``string``, ``large_string`` or ``string_view``."""
    types = pa.types
    return types.is_string(arrow) or types.is_large_string(arrow) or types.is_string_view(arrow)


def _stored_type_problem(name: str, arrow: pa.DataType) -> Problem:
    """The column, the type expected and the type found (floats: even when whole)."""
    kind = _contract_type(name)
    note = f"found type {_arrow_name(arrow)}"
    if kind == "integer" and pa.types.is_floating(arrow):
        note += ", refused even where the values are whole"
    return Problem(
        name, (), None, _STORED_EXPECTED[kind], f"{note}; Parquet types are not converted"
    )


def _arrow_name(arrow: pa.DataType) -> str:
    """``string``, ``string (large_string)``, ``float (double)``, or Arrow's own name."""
    if pa.types.is_string(arrow):
        return "string"
    if _is_arrow_text(arrow):
        return f"string ({arrow})"
    return f"float ({arrow})" if pa.types.is_floating(arrow) else str(arrow)

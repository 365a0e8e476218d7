"""The case-file contract: column names, types and allowed values.

One row per closed return case. This module holds the vocabulary only; loading and
validation live in :mod:`returnmodels.data.validation`. See ``data/README.md`` for the
datasheet and ``DATA_SCHEMA.md`` in the shared project folder for the contract text.
"""

from __future__ import annotations

__all__ = [
    "AGE_GROUPS",
    "BOOLEAN_COLUMNS",
    "COOPERATION_LEVELS",
    "GENDERS",
    "INTEGER_COLUMNS",
    "NATIONALITY_PATTERN",
    "OPTIONAL_COLUMNS",
    "OUTCOMES",
    "REQUIRED_COLUMNS",
    "CATEGORY_VALUES",
    "ASSISTED",
    "COMPETING_OUTCOMES",
    "NONREFERENCE_OUTCOMES",
    "REFERENCE_OUTCOME",
]

#: The six ways a case can close, in the order used everywhere (dims, tables, figures).
OUTCOMES: tuple[str, ...] = (
    "assisted_return",
    "independent_return",
    "forced_return",
    "unsupervised_departure",
    "legal_stay",
    "other",
)
#: The outcome of the binary uptake models: ``assisted = (outcome == ASSISTED)``.
ASSISTED = "assisted_return"
#: The outcomes a case closes with when not by assisted return (the competing outcomes),
#: and the reference among them of the multinomial stage.
COMPETING_OUTCOMES: tuple[str, ...] = tuple(o for o in OUTCOMES if o != ASSISTED)
REFERENCE_OUTCOME = "unsupervised_departure"
NONREFERENCE_OUTCOMES: tuple[str, ...] = tuple(
    o for o in COMPETING_OUTCOMES if o != REFERENCE_OUTCOME
)

GENDERS: tuple[str, ...] = ("female", "male", "unknown")
AGE_GROUPS: tuple[str, ...] = ("0-17", "18-29", "30-44", "45-64", "65+")
COOPERATION_LEVELS: tuple[str, ...] = ("low", "medium", "high")

#: ISO 3166-1 alpha-3, upper case; ``XXA`` (stateless) and ``XXX`` (unknown) match too.
NATIONALITY_PATTERN = r"^[A-Z]{3}$"

REQUIRED_COLUMNS: tuple[str, ...] = (
    "case_id",
    "person_id",
    "nationality",
    "closing_year",
    "outcome",
    "n_procedures",
    "gender",
    "age_group",
    "family",
    "cooperation",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("detention", "case_days")

#: Closed sets of allowed values, by column (ordered: the order is the level order).
CATEGORY_VALUES: dict[str, tuple[str, ...]] = {
    "outcome": OUTCOMES,
    "gender": GENDERS,
    "age_group": AGE_GROUPS,
    "cooperation": COOPERATION_LEVELS,
}
INTEGER_COLUMNS: tuple[str, ...] = ("closing_year", "n_procedures", "case_days")
BOOLEAN_COLUMNS: tuple[str, ...] = ("family", "detention")

"""Which columns of the data a model reads, and how the data are read and checked.

:class:`ColumnSpec` names the columns (outcome or successes/trials, the grouping column,
case-level and group-level predictors, which are numeric, reference levels, the varying
slope); with none named it is the case-file default (:data:`CASE_FILE_SPEC`, whose
``reference`` is the one table of the case files' reference levels). A preset
(:mod:`returnmodels.models.presets`) writes its formula from a specification;
:func:`read_data` and :func:`check_data` read and check the data for one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pandas as pd

from returnmodels.data.tables import check_table, read_other_table
from returnmodels.data.validation import load_cases, validate_cases
from returnmodels.errors import ConfigError

__all__ = ["CASE_FILE_SPEC", "ColumnSpec", "check_data", "column_spec", "read_data"]


@dataclass(frozen=True)
class ColumnSpec:
    """Which columns a model uses, and how.

    ``outcome``: a binary (bool or 0/1) column; or ``successes`` and ``trials`` for data
    already aggregated; with neither, the case-file outcome ``outcome == 'assisted_return'``
    (named ``assisted``). ``numeric``: predictors with one coefficient (float and bool
    columns are numeric anyway; every other column is categorical). ``reference``: the
    reference level of categorical predictors (default: the most common level).
    ``slope``: the predictor whose slope varies by group in ``varying_slopes``.
    """

    outcome: str | None = None
    successes: str | None = None
    trials: str | None = None
    group: str = "nationality"
    predictors: tuple[str, ...] = ()
    group_predictors: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    reference: Mapping[str, str] = field(default_factory=dict)
    slope: str | None = None

    @property
    def response(self) -> str:
        """The name of the observed variable (and of the log-likelihood)."""
        return self.successes or self.outcome or "assisted"

    @property
    def is_case_file(self) -> bool:
        return self.outcome is None and self.successes is None

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()} | {
            "reference": dict(self.reference)
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> ColumnSpec:
        tuples = ("predictors", "group_predictors", "numeric")
        return cls(**{k: (tuple(v) if k in tuples else v) for k, v in data.items()})


#: The case-file default: every model's predictors, cooperation at nationality level.
CASE_FILE_SPEC = ColumnSpec(
    group="nationality",
    predictors=("n_procedures", "closing_year", "gender", "age_group", "family"),
    group_predictors=("cooperation",),
    numeric=("n_procedures",),
    reference={
        "closing_year": "2017",
        "gender": "male",
        "age_group": "18-29",
        "family": "False",
        "cooperation": "low",
    },
    slope="n_procedures",
)


def column_spec(
    *,
    outcome: str | None = None,
    successes: str | None = None,
    trials: str | None = None,
    group: str | None = None,
    predictors: Sequence[str] | None = None,
    group_predictors: Sequence[str] | None = None,
    numeric: Sequence[str] | None = None,
    reference: Mapping[str, object] | None = None,
    slope: str | None = None,
) -> ColumnSpec:
    """A :class:`ColumnSpec` from the columns a user names.

    With no outcome and no group named, the case-file default (:data:`CASE_FILE_SPEC`),
    with any predictors given replacing the default ones. Once the outcome (or successes
    and trials) or the group is named, the data are generic: the group is required and
    predictors not named are none.
    """
    if (successes is None) != (trials is None):
        raise ConfigError("name both successes and trials (aggregated data), or neither")
    if outcome is not None and successes is not None:
        raise ConfigError("name either a binary outcome column or successes and trials, not both")
    generic = any(v is not None for v in (outcome, successes, group))
    if generic and group is None:
        raise ConfigError("name the grouping column (--group) for data other than case files")
    base = ColumnSpec(group=group) if generic else CASE_FILE_SPEC
    changes: dict = {"outcome": outcome, "successes": successes, "trials": trials}
    for key, value in (
        ("predictors", predictors),
        ("group_predictors", group_predictors),
        ("numeric", numeric),
    ):
        if value is not None:
            changes[key] = tuple(value)
    if reference is not None:
        changes["reference"] = {k: str(v) for k, v in reference.items()}
    if slope is not None:
        changes["slope"] = slope
    return replace(base, **changes)


def read_data(path: str | Path, spec: ColumnSpec) -> pd.DataFrame:
    """Load data for ``spec``: a case file is validated against the contract
    (:func:`returnmodels.data.validation.load_cases`); any other table is read by the same
    strict reader and its numbers converted explicitly
    (:func:`returnmodels.data.tables.read_other_table`)."""
    if spec.is_case_file:
        return load_cases(path)
    return read_other_table(path)


def check_data(frame: pd.DataFrame, spec: ColumnSpec) -> pd.DataFrame:
    """A frame given for ``spec``, checked as a file would be: case files against the
    contract (:func:`returnmodels.data.validation.validate_cases`: the typed frame it
    returns, rows counted from 1), other tables by
    :func:`returnmodels.data.tables.check_table`."""
    if spec.is_case_file:
        return validate_cases(frame)
    return check_table(frame)

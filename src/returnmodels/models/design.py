"""From validated data to a model's design: the column specification, cells and coords.

This is the one place where data become model inputs, in a stable order:

* :class:`ColumnSpec` names the columns a model uses (outcome or successes/trials, the
  grouping column, case-level and group-level predictors). With no column named it is
  the case-file default (:data:`CASE_FILE_SPEC`).
* :func:`build_design` aggregates case rows into binomial cells
  (:func:`returnmodels.data.cells.aggregate_cells`; the likelihood is unchanged), checks
  that group-level predictors are constant within a group, and codes each predictor as a
  :class:`Term`: numeric predictors are centred at their case-weighted mean (one
  coefficient), categorical ones get one coefficient per non-reference level.
* A :class:`Design` travels with a fit (``constant_data`` plus an attribute), so
  summaries rebuild it from the result alone (:meth:`Design.from_result`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.data.cells import aggregate_cells
from returnmodels.data.reading import MAX_ROWS_SHOWN, offending_rows
from returnmodels.data.tables import check_table, read_other_table
from returnmodels.data.validation import load_cases, validate_cases
from returnmodels.data.vocabulary import OUTCOMES
from returnmodels.errors import ConfigError

__all__ = [
    "CASE_FILE_SPEC",
    "ColumnSpec",
    "Design",
    "Term",
    "build_design",
    "check_data",
    "column_spec",
    "read_data",
]

CELL_DIM = "cell"
TRIALS, SUCCESSES = "_trials", "_successes"


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


@dataclass(frozen=True)
class Term:
    """One predictor as the model sees it: centred numeric, or coded categorical."""

    name: str
    kind: str  # "numeric" or "categorical"
    levels: tuple[str, ...] = ()
    reference: str | None = None
    center: float = 0.0

    @property
    def dim(self) -> str:
        return f"{self.name}_level"

    @property
    def coded(self) -> tuple[str, ...]:
        """The levels with a coefficient (all but the reference)."""
        return tuple(level for level in self.levels if level != self.reference)

    @property
    def width(self) -> int:
        return 1 if self.kind == "numeric" else len(self.coded)

    def encode(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """Columns of the design matrix for ``values``, shape ``(n, width)``."""
        if self.kind == "numeric":
            return (np.asarray(values, dtype=float) - self.center)[:, None]
        text = _as_text(pd.Series(values))
        unknown = sorted(set(text) - set(self.levels))
        if unknown:
            raise ConfigError(
                f"{self.name} has level(s) {unknown[:5]} not in the fitted levels {self.levels}"
            )
        return (text.to_numpy()[:, None] == np.array(self.coded)[None, :]).astype(float)

    def labels(self) -> list[str]:
        """Parameter labels, ArviZ style: ``n_procedures``, ``gender[female]``."""
        if self.kind == "numeric":
            return [self.name]
        return [f"{self.name}[{level}]" for level in self.coded]


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).map(str).astype(object)


@dataclass
class Design:
    """Cells, groups and coded terms of one model fit (see the module docstring)."""

    spec: ColumnSpec
    cells: pd.DataFrame
    groups: tuple[str, ...]
    terms: tuple[Term, ...]
    group_terms: tuple[Term, ...]
    group_table: pd.DataFrame
    outcomes: tuple[str, ...] = ()

    @property
    def group(self) -> str:
        return self.spec.group

    @property
    def trials(self) -> np.ndarray:
        return self.cells[TRIALS].to_numpy(np.int64)

    @property
    def successes(self) -> np.ndarray:
        return self.cells[SUCCESSES].to_numpy(np.int64)

    @property
    def counts(self) -> np.ndarray:
        """Cases per outcome per cell (competing outcomes only), shape (cells, outcomes)."""
        return self.cells[list(self.outcomes)].to_numpy(np.int64)

    def term(self, name: str) -> Term:
        for term in self.terms + self.group_terms:
            if term.name == name:
                return term
        raise ConfigError(f"{name!r} is not a predictor of this model")

    def coords(self) -> dict[str, list]:
        coords: dict[str, list] = {
            CELL_DIM: list(range(len(self.cells))),
            self.group: list(self.groups),
        }
        for term in self.terms + self.group_terms:
            if term.kind == "categorical":
                coords[term.dim] = list(term.coded)
        return coords

    def case_matrix(self, frame: pd.DataFrame | None = None) -> np.ndarray:
        """Centred/coded case-level design matrix, shape (rows, sum of term widths)."""
        frame = self.cells if frame is None else frame
        return _stack([t.encode(frame[t.name]) for t in self.terms], len(frame))

    def group_matrix(self, table: pd.DataFrame | None = None) -> np.ndarray:
        """Group-level design matrix, shape (groups, sum of group term widths)."""
        table = self.group_table if table is None else table
        return _stack([t.encode(table[t.name]) for t in self.group_terms], len(table))

    def group_index(self, frame: pd.DataFrame | None = None) -> np.ndarray:
        """Position of each row's group in :attr:`groups`; -1 for a group not in the fit."""
        frame = self.cells if frame is None else frame
        lookup = {g: i for i, g in enumerate(self.groups)}
        return _as_text(frame[self.group]).map(lambda g: lookup.get(g, -1)).to_numpy(np.int64)

    def to_dataset(self) -> xr.Dataset:
        """Cells and group table as ``constant_data``; the codings as an attribute."""
        columns = _cell_columns(self.spec, self.terms + self.group_terms, self.outcomes)
        data = {
            _store_name(c): ((CELL_DIM,), _storable(self.cells[c])) for c in dict.fromkeys(columns)
        }
        for term in self.group_terms:
            data[f"{self.group}_{term.name}"] = (
                (self.group,),
                _storable(self.group_table[term.name]),
            )
        coords = {CELL_DIM: np.arange(len(self.cells)), self.group: list(self.groups)}
        attrs = {"design": json.dumps(self.describe())}
        return xr.Dataset(data, coords=coords, attrs=attrs)

    def describe(self) -> dict:
        return {
            "spec": self.spec.to_dict(),
            "terms": [asdict(t) for t in self.terms],
            "group_terms": [asdict(t) for t in self.group_terms],
            "outcomes": list(self.outcomes),
        }

    @classmethod
    def from_result(cls, result) -> Design:
        """Rebuild the design stored in a fit's ``constant_data``."""
        data = result["constant_data"].to_dataset()
        meta = json.loads(data.attrs["design"])
        spec = ColumnSpec.from_dict(meta["spec"])
        terms = tuple(Term(**{**t, "levels": tuple(t["levels"])}) for t in meta["terms"])
        gterms = tuple(Term(**{**t, "levels": tuple(t["levels"])}) for t in meta["group_terms"])
        outcomes = tuple(meta["outcomes"])
        columns = _cell_columns(spec, terms + gterms, outcomes)
        cells = pd.DataFrame({name: data[_store_name(name)].values for name in columns})
        groups = tuple(str(g) for g in data[spec.group].values)
        table = pd.DataFrame(
            {spec.group: list(groups)}
            | {t.name: data[f"{spec.group}_{t.name}"].values for t in gterms}
        )
        return cls(spec, cells, groups, terms, gterms, table, outcomes)


def _cell_columns(spec: ColumnSpec, terms: tuple[Term, ...], outcomes: tuple[str, ...]) -> list:
    names = [spec.group, *(t.name for t in terms), TRIALS, SUCCESSES, *outcomes]
    return list(dict.fromkeys(names))


def _store_name(column: str) -> str:
    return {TRIALS: "cell_trials", SUCCESSES: "cell_successes"}.get(column, f"cell_{column}")


def _storable(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.to_numpy()
    return _as_text(values).to_numpy().astype(str)


def _stack(blocks: list[np.ndarray], rows: int) -> np.ndarray:
    return np.hstack(blocks) if blocks else np.zeros((rows, 0))


# -- building --------------------------------------------------------------------------


def build_design(data: pd.DataFrame, spec: ColumnSpec, *, outcomes: bool = False) -> Design:
    """Cells, groups and terms for ``spec``; ``outcomes=True`` adds counts per outcome."""
    _check_columns(data, spec, outcomes)
    cells = _cells(data, spec, outcomes)
    groups = tuple(str(g) for g in sorted(cells[spec.group].dropna().unique()))  # 2 < 10
    if len(groups) < 2:
        raise ConfigError(
            f"group column {spec.group!r} has a single level ({', '.join(groups) or 'none'}): "
            "group effects need at least two levels"
        )
    cells[spec.group] = _as_text(cells[spec.group])
    table = _group_table(data, spec, groups)
    weights = cells[TRIALS].to_numpy(float)
    terms = tuple(_term(data, cells, name, spec, weights) for name in spec.predictors)
    group_weights = cells.groupby(spec.group)[TRIALS].sum().reindex(list(groups)).to_numpy(float)
    gterms = tuple(_term(data, table, n, spec, group_weights) for n in spec.group_predictors)
    used = OUTCOMES if outcomes else ()
    return Design(spec, cells, groups, terms, gterms, table, tuple(used))


def _check_columns(data: pd.DataFrame, spec: ColumnSpec, outcomes: bool) -> None:
    named = [spec.group, *spec.predictors, *spec.group_predictors]
    named += [c for c in (spec.outcome, spec.successes, spec.trials) if c]
    if spec.is_case_file or outcomes:
        named.append("outcome")
    missing = [c for c in dict.fromkeys(named) if c not in data.columns]
    if missing:
        raise ConfigError(f"column(s) {missing} not in the data; it has {list(data.columns)}")
    overlap = set(spec.predictors) & set(spec.group_predictors)
    if overlap or spec.group in set(spec.predictors) | set(spec.group_predictors):
        raise ConfigError("a column can be the group, a case-level or a group-level predictor once")
    if outcomes and not spec.is_case_file:
        raise ConfigError("the competing-outcomes model needs the case-file 'outcome' column")
    if outcomes and set(data["outcome"].astype(object).unique()) - set(OUTCOMES):
        unknown = ~data["outcome"].astype(object).isin(OUTCOMES).to_numpy(dtype=bool)
        raise ConfigError(
            f"'outcome' must take values in {list(OUTCOMES)}: "
            f"{offending_rows(data['outcome'], unknown)}"
        )


def _cells(data: pd.DataFrame, spec: ColumnSpec, outcomes: bool) -> pd.DataFrame:
    by = [spec.group, *spec.predictors, *spec.group_predictors]
    if spec.successes is not None:
        frame = data[[*by, spec.successes, spec.trials]].copy()
        _check_counts(frame, spec)
        cells = frame.groupby(by, observed=True, sort=True)[[spec.successes, spec.trials]].sum()
        cells = cells.reset_index().rename(columns={spec.successes: SUCCESSES, spec.trials: TRIALS})
    else:
        success = spec.outcome if spec.outcome is not None else None
        cells = aggregate_cells(data, by, success=success)
        cells = cells.rename(columns={"n_cases": TRIALS, "n_assisted": SUCCESSES})
    if outcomes:
        counts = (
            data.assign(_outcome=data["outcome"].astype(object))
            .groupby([*by, "_outcome"], observed=True, sort=True)
            .size()
            .unstack("_outcome", fill_value=0)
            .reindex(columns=list(OUTCOMES), fill_value=0)
            .reset_index(drop=True)
        )
        cells = pd.concat([cells, counts.astype("int64")], axis=1)
    return cells


def _check_counts(frame: pd.DataFrame, spec: ColumnSpec) -> None:
    s, n = frame[spec.successes], frame[spec.trials]
    for column in (s, n):
        integers = pd.api.types.is_integer_dtype(column)
        if not integers or column.isna().any() or (column < 0).any():
            counts = [_is_count(v) for v in column.to_numpy(dtype=object)]
            raise ConfigError(
                f"{column.name!r} must hold whole numbers >= 0 (an integer column): "
                f"{offending_rows(column, ~np.array(counts, dtype=bool))}"
            )
    over = np.flatnonzero((s > n).to_numpy(dtype=bool, na_value=False))
    if over.size:
        raise ConfigError(_exceeds_message(s, n, over))


def _is_count(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= 0


def _exceeds_message(successes: pd.Series, trials: pd.Series, over: np.ndarray) -> str:
    """Both columns, and the rows (1 = the first data row) where successes exceed trials.

    Rows are counted and cut as :func:`returnmodels.data.validation.validate_cases` counts and
    cuts them: the first :data:`~returnmodels.data.reading.MAX_ROWS_SHOWN`, here with their
    values, then how many more.
    """
    s, n = successes.name, trials.name
    shown = ", ".join(
        f"row {i + 1} ({s} {successes.iloc[i]} > {n} {trials.iloc[i]})"
        for i in over[:MAX_ROWS_SHOWN]
    )
    more = f" and {over.size - MAX_ROWS_SHOWN} more" if over.size > MAX_ROWS_SHOWN else ""
    count = f"{over.size} row{'s' if over.size > 1 else ''}"
    return (
        f"successes column {s!r} exceeds trials column {n!r} in {count}: {shown}{more}; "
        f"expected {s} <= {n} in every row"
    )


def _group_table(data: pd.DataFrame, spec: ColumnSpec, groups: tuple[str, ...]) -> pd.DataFrame:
    table = pd.DataFrame({spec.group: list(groups)})
    keyed = data.assign(_group=_as_text(data[spec.group]))
    for name in spec.group_predictors:
        counts = keyed.groupby("_group", observed=True)[name].nunique(dropna=False)
        varying = sorted(counts.index[counts > 1])
        if varying:
            raise ConfigError(
                f"group-level predictor {name!r} is not constant within {spec.group!r}: "
                f"it varies in {len(varying)} group(s), e.g. {varying[:5]}"
            )
        first = keyed.groupby("_group", observed=True)[name].first()
        table[name] = first.reindex(list(groups)).to_numpy()
    return table


def _term(
    data: pd.DataFrame, frame: pd.DataFrame, name: str, spec: ColumnSpec, weights: np.ndarray
) -> Term:
    column = data[name]
    numeric = name in spec.numeric or (
        not isinstance(column.dtype, pd.CategoricalDtype)
        and (pd.api.types.is_float_dtype(column) or pd.api.types.is_bool_dtype(column))
    )
    if numeric:
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            numbers = [isinstance(v, Real) for v in column.to_numpy(dtype=object)]
            raise ConfigError(
                f"numeric predictor {name!r} holds non-numeric values: "
                f"{offending_rows(column, ~np.array(numbers, dtype=bool))}; expected numbers"
            )
        values = frame[name].to_numpy(float)
        return Term(name, "numeric", center=float(np.average(values, weights=weights)))
    if isinstance(column.dtype, pd.CategoricalDtype):
        present = set(_as_text(column).unique())
        levels = tuple(str(c) for c in column.cat.categories if str(c) in present)
    else:
        levels = tuple(str(v) for v in sorted(column.dropna().unique()))
    if len(levels) < 2:
        raise ConfigError(f"categorical predictor {name!r} has a single level {levels}")
    reference = spec.reference.get(name)
    if reference is None:
        totals = pd.Series(weights, index=_as_text(frame[name]).to_numpy()).groupby(level=0).sum()
        reference = max(levels, key=lambda level: (totals.get(level, 0.0), -levels.index(level)))
    elif str(reference) not in levels:
        raise ConfigError(f"reference level {reference!r} of {name!r} is not one of {levels}")
    return Term(name, "categorical", levels, str(reference))

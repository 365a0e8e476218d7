"""The data checks of a design: a response that is binary, counts or a case file's
outcome; decimal commas; references; levels with too few cases; collinear columns.
Each refusal names what is wrong and where.
"""

from __future__ import annotations

import re
from numbers import Real

import numpy as np
import pandas as pd

from returnmodels.data.case_summary import assisted
from returnmodels.data.reading import offending_rows
from returnmodels.data.regions import REGION_COLUMN, with_origin_region
from returnmodels.data.vocabulary import (
    OUTCOMES,
)
from returnmodels.engine.functions import Usage, position_error
from returnmodels.engine.parse import ASSISTED_RESPONSE, check_columns
from returnmodels.engine.terms import group_labels, lexeme_of
from returnmodels.errors import ConfigError

#: A text value that is a number written with a decimal comma ("1,5", "-0,25").
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")


_WHOLE_NUMBER = re.compile(r"^\s*[-+]?\d+\s*$")


#: A group or categorical term needs at least this many cases a level on average.
MIN_CASES_PER_LEVEL = 1.5


#: Columns of the common design this much closer to a combination of the others (as a
#: share of the largest singular value, columns scaled to unit length) are collinear.
_COLLINEAR_TOLERANCE = 1e-9


def is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def prepared_frame(
    data: pd.DataFrame, response: str, trials: str | None, formula: str, variables: set[str]
) -> pd.DataFrame:
    frame = data
    if response not in frame.columns and response == ASSISTED_RESPONSE and "outcome" in frame:
        frame = frame.assign(assisted=assisted(frame).to_numpy())
    if REGION_COLUMN in variables and REGION_COLUMN not in frame.columns:
        frame = with_origin_region(frame)  # derived from nationality, as assisted is
    check_columns(formula, {response} | ({trials} if trials else set()), frame)
    y = frame[response]
    if trials is None and is_outcome_column(y):
        return frame  # the competing-outcomes family
    if trials is None:
        values = pd.unique(y.dropna())
        if y.isna().any() or not set(np.asarray(values, dtype=object).tolist()) <= {0, 1}:
            shown = sorted(map(str, values))[:5]
            binary = [not pd.isna(v) and v in (0, 1) for v in y.to_numpy(dtype=object)]
            raise ConfigError(
                f"formula {formula!r}: the response {response!r} must be binary (0/1 or "
                f"true/false) with no missing values; it holds {shown}: "
                f"{offending_rows(y, ~np.array(binary, dtype=bool))}. For counts write "
                f"'{response} | trials(n)'"
            )
        return frame
    n = frame[trials]
    for name, col in ((response, y), (trials, n)):
        if not pd.api.types.is_numeric_dtype(col) or col.isna().any() or (col % 1 != 0).any():
            whole = [isinstance(v, Real) and float(v).is_integer() for v in col.to_numpy(object)]
            raise ConfigError(
                f"formula {formula!r}: {name!r} must hold whole counts: "
                f"{offending_rows(col, ~np.array(whole, dtype=bool)) or f'it holds {col.dtype}'}"
            )
    bad = (y < 0) | (n < 1) | (y > n)
    if bad.any():
        raise ConfigError(
            f"formula {formula!r}: {response!r} must lie in 0..{trials!r} with {trials!r} >= 1; "
            f"it does not in {offending_rows({response: y, trials: n}, bad)}"
        )
    return frame


def missing_rows(values: pd.Series) -> str:
    return offending_rows(values, values.isna())


def is_outcome_column(y: pd.Series) -> bool:
    """A case file's ``outcome`` (text, every value one of ``OUTCOMES``): the response of
    the competing-outcomes family. Text with other values is refused, naming them."""
    if is_numeric(y) or pd.api.types.is_bool_dtype(y) or y.name != "outcome":
        return False
    values = set(y.dropna().astype(str).unique())
    if not values & set(OUTCOMES):
        return False
    unknown = sorted(values - set(OUTCOMES))
    if unknown or y.isna().any():
        shown = unknown[:5] or ["missing values"]
        raise ConfigError(
            f"the response 'outcome' (the competing-outcomes family) must hold only the "
            f"case file's outcomes {list(OUTCOMES)}; it also holds {shown}: "
            f"{offending_rows(y, ~y.astype(object).isin(OUTCOMES).to_numpy(dtype=bool))}"
        )
    return True


def check_decimal_commas(frame: pd.DataFrame, columns: list[str]) -> None:
    """Refuse a text column whose every value is a number, some with a decimal comma
    ("1,5"): read as text it would silently become a categorical of one level a value."""
    for column in columns:
        series = frame[column]
        if is_numeric(series) or pd.api.types.is_bool_dtype(series):
            continue
        values = pd.Series(pd.unique(series.dropna())).astype(str)  # each value once
        if values.empty:
            continue
        comma = values.str.match(_DECIMAL_COMMA)
        if comma.any() and (comma | values.str.match(_WHOLE_NUMBER)).all():
            raise ConfigError(
                f"column {column!r} holds numbers written with a decimal comma (such as "
                f"{values[comma].iloc[0]!r}), so it was read as text and would become a "
                "categorical with a level per value; write decimal points (1.5) in the "
                "data, or convert the column to numbers before fitting"
            )


def check_references(formula, reference: dict, usage: Usage, frame, factors, used) -> None:
    """A reference is given for a categorical variable of the formula, once: not for an
    unused column, a grouping factor, a numeric variable (unless only inside ``C()``),
    or against the formula's own ``C(x, Treatment(level))``; a Treatment level must be
    one of the data's."""
    unknown = sorted(set(reference) - set(used))
    if unknown:
        raise ConfigError(f"reference given for {unknown}, which the formula does not use")
    for column, level in reference.items():
        if column in factors:
            raise ConfigError(
                f"reference given for {column!r}, a grouping factor of the formula: a "
                "group's levels are effects around its mean and have no reference level"
            )
        as_number = usage.bare | (usage.in_calls - usage.categorical)
        if is_numeric(frame[column]) and column in as_number:
            raise ConfigError(
                f"{column} is numeric in this formula; write C({column}) to treat it as categorical"
            )
        if column in usage.treatment and str(usage.treatment[column]) != str(level):
            raise ConfigError(
                f"reference {str(level)!r} for {column!r} conflicts with the formula's "
                f"C({column}, Treatment({usage.treatment[column]!r})): give the reference once"
            )
    for column, level in usage.treatment.items():
        values = frame[column]
        levels = pd.unique(values.dropna()).tolist()
        levels = sorted(levels) if is_numeric(values) else sorted(levels, key=str)
        if pd.api.types.is_bool_dtype(values):
            found = isinstance(level, bool) and level in levels  # Treatment(True)
        elif is_numeric(values):
            found = isinstance(level, int | float) and not isinstance(level, bool)
            found = found and level in levels
        else:
            found = isinstance(level, str) and level in {str(v) for v in levels}
        if not found:
            raise position_error(
                formula,
                f"reference level {level!r} of {column!r} is not in the data; its levels "
                f"are {levels[:10]}",
                "Treatment(",
            )


def check_levels_have_cases(formula, cells, n, blocks, categorical) -> None:
    """Refuse a group, or a categorical term, with (nearly) a level for every case: the
    variance of one effect per case cannot be told from the binomial noise (its SD
    follows its prior) and one coefficient per case is not identified. Nearly: fewer
    than :data:`MIN_CASES_PER_LEVEL` cases a level on average (as ``case_id``), where
    also formulae's one-hot coding of the levels outgrows memory. ``(1 | person_id)``
    does not get here: its levels are many and small, so it is integrated out
    (:mod:`returnmodels.engine.integrated`)."""
    factors = dict.fromkeys(name.split("|", 1)[1] for names in blocks for name in names)
    for factor in factors:
        totals = _cases_per_level(group_labels(cells, factor), n)
        if _too_few_cases(totals):
            raise position_error(
                formula,
                f"the group {factor!r} has {_level_counts_text(totals)}: its SD "
                + (
                    "cannot be told apart from the binomial noise and would only follow its prior"
                    if (totals == 1).all()
                    else "rests on the few levels of several cases and mostly follows its prior"
                )
                + "; group by a variable with several cases a level",
                factor.split(":")[-1],
            )
    for column in categorical:
        totals = _cases_per_level(cells[column].astype(str), n)
        if _too_few_cases(totals):
            raise position_error(
                formula,
                f"the term {column!r} has {_level_counts_text(totals)}: a coefficient per "
                "level of about one case is not identified",
                column,
            )


def _cases_per_level(labels: pd.Series, n: np.ndarray) -> pd.Series:
    return pd.Series(n).groupby(labels.to_numpy()).sum()


def _too_few_cases(totals: pd.Series) -> bool:
    return len(totals) > 1 and totals.mean() < MIN_CASES_PER_LEVEL


def _level_counts_text(totals: pd.Series) -> str:
    if (totals == 1).all():
        return f"a level for every case ({len(totals)} levels of one case each)"
    single = float(np.mean(totals == 1))
    return (
        f"nearly a level for every case ({len(totals)} levels for {int(totals.sum())} "
        f"cases, {single:.0%} of the levels one case)"
    )


def check_collinear(formula: str, X: np.ndarray, terms) -> None:
    """Refuse common columns that are an exact combination of each other (a column and
    a copy, two categoricals that split the cases the same way), naming the terms."""
    if X.shape[1] < 2:
        return
    norms = np.linalg.norm(X, axis=0)
    scaled = X / np.where(norms > 0, norms, 1.0)
    R = np.linalg.qr(scaled, mode="r")
    _, s, vt = np.linalg.svd(R, full_matrices=True)
    rank = int(np.sum(s > _COLLINEAR_TOLERANCE * s[0]))
    if rank == X.shape[1]:
        return
    owner = [term.name for term in terms for _ in term.labels]
    involved = np.flatnonzero((np.abs(vt[rank:]) > 1e-6).any(axis=0))
    names = list(dict.fromkeys(owner[j] for j in involved))
    if len(names) > 2 and "Intercept" in names:
        names.remove("Intercept")
    shown = " and ".join(repr(name) for name in names)
    raise position_error(
        formula,
        f"the terms {shown} are collinear in the data: the columns of one are an exact "
        "combination of the others' (a copy, or categoricals that split the cases the "
        "same way), so their coefficients are not identified; drop one",
        lexeme_of(formula, names[-1]),
    )

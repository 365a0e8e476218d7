"""Disclosure control at the output boundary: count tables, shares and per-group results.

Every function here is pure (inputs are never modified), returns a frame marked as
controlled (:func:`~returnmodels.disclosure.is_controlled`), and shows a suppressed value
as NaN. The rules, with ``m = rules.min_cases`` and ``b = rules.rounding_base``:

- a count is *publishable* when it is at least ``m``, or zero (unless
  ``rules.suppress_zeros``); published counts are rounded to a multiple of ``b``;
- :func:`control_counts`: cells and totals that are not publishable are suppressed, then
  secondary suppression (:mod:`~returnmodels.disclosure.suppression`) until no suppressed
  cell can be recovered from the rest of the table and its totals; totals are computed
  from the exact cells and rounded on their own (so rounded cells need not add up);
- :func:`control_shares`: a share ``k / n`` is published only when the successes ``k`` and
  the failures ``n - k`` are both publishable counts (either one can disclose: 11 of 12
  says that exactly one person did not; 0% and 100% follow the zero rule), and it is
  computed from the rounded counts, so that it cannot give the exact counts back;
- :func:`control_groups`: groups (nationalities) with fewer than ``m`` cases are pooled
  into an "other" group or withheld; when the pool would itself be below ``m`` the next
  smallest groups join it until it is not, so that no withheld group can be recovered
  from an overall total by subtraction.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from returnmodels.disclosure.marker import mark_controlled
from returnmodels.disclosure.rules import DEFAULT_RULES, DisclosureRules, publishable, round_counts
from returnmodels.disclosure.suppression import protect_line, protect_table
from returnmodels.errors import ConfigError

__all__ = ["control_counts", "control_groups", "control_shares", "pool_small_groups"]


def control_counts(
    table: pd.DataFrame | pd.Series,
    rules: DisclosureRules = DEFAULT_RULES,
    *,
    total_label: str = "total",
) -> pd.DataFrame:
    """A count table (crosstab) with totals, small cells suppressed and counts rounded.

    ``table`` holds counts only, labels in its index and columns, without totals: a
    ``total_label`` row and column are added (only a total row for a one-column table,
    only a total column for a one-row table). Missing cells (NaN) stay NaN, count as 0
    in the totals and are never used to hide another cell. Every value column, totals
    included, is a count column of the result.
    """
    frame = table.to_frame() if isinstance(table, pd.Series) else table
    counts = _count_matrix(frame, "table")
    if total_label in frame.index or total_label in frame.columns:
        raise ConfigError(
            f"the table already has a {total_label!r} row or column: pass it without totals"
        )
    rows, columns = counts.shape
    full, known = _with_totals(counts)
    primary = known & ~publishable(full, rules)
    if columns == 1 or rows == 1:  # one line: drop the duplicate totals of single cells
        keep = (slice(None), slice(0, 1)) if columns == 1 else (slice(-1, None), slice(None))
        full, known, primary = full[keep], known[keep], primary[keep]
        hidden = protect_line(full.ravel(), primary.ravel(), known.ravel())
        hidden = hidden.reshape(full.shape)
    else:
        hidden = protect_table(full, primary, known)
    published = np.where(hidden | ~known, np.nan, round_counts(full, rules.rounding_base))
    result = _labelled(published, frame, total_label, rows, columns)
    return mark_controlled(result, rules, count_columns=list(result.columns))


def _with_totals(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``(R+1, C+1)`` table with totals in the last row and column, and where known."""
    filled = np.nan_to_num(counts, nan=0.0)
    rows, columns = counts.shape
    full = np.zeros((rows + 1, columns + 1))
    full[:rows, :columns] = filled
    full[:rows, columns] = filled.sum(axis=1)
    full[rows, :columns] = filled.sum(axis=0)
    full[rows, columns] = filled.sum()
    known = np.ones_like(full, dtype=bool)
    known[:rows, :columns] = ~np.isnan(counts)
    return full, known


def _labelled(values, frame, total_label, rows, columns) -> pd.DataFrame:
    index = list(frame.index) + ([total_label] if columns == 1 or rows > 1 else [])
    names = list(frame.columns) + ([total_label] if rows == 1 or columns > 1 else [])
    if rows == 1 and columns == 1:
        names = list(frame.columns)
    result = pd.DataFrame(values, index=pd.Index(index, name=frame.index.name), columns=names)
    result.columns.name = frame.columns.name
    return result


def control_shares(
    frame: pd.DataFrame,
    numerator: str,
    denominator: str,
    rules: DisclosureRules = DEFAULT_RULES,
    *,
    share: str = "share",
    flag: str = "suppressed",
) -> pd.DataFrame:
    """Row-wise shares ``numerator / denominator`` with the two counts behind them.

    A row's share and numerator are published only when ``numerator`` and
    ``denominator - numerator`` are both publishable and the denominator is positive;
    the denominator is published when it is publishable on its own. Counts are rounded;
    the share is the ratio of the rounded counts. ``flag`` is True where the share is
    suppressed. Rows are independent: if totals over rows are published too, control
    the crosstab with :func:`control_counts` instead.
    """
    for name in (share, flag):
        if name in frame.columns and name not in (numerator, denominator):
            raise ConfigError(f"the frame already has a column {name!r}: choose another name")
    k = _count_column(frame, numerator)
    n = _count_column(frame, denominator)
    over = np.flatnonzero(k > n)
    if over.size:
        row = over[0]
        raise ConfigError(
            f"{numerator!r} exceeds {denominator!r} in row {row + 1}: {k[row]:g} > {n[row]:g}"
        )
    k_rounded = round_counts(k, rules.rounding_base)
    n_rounded = round_counts(n, rules.rounding_base)
    shown = publishable(k, rules) & publishable(n - k, rules) & (n > 0) & (n_rounded > 0)
    result = frame.copy()
    result[numerator] = np.where(shown, k_rounded, np.nan)
    result[denominator] = np.where(publishable(n, rules), n_rounded, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        result[share] = np.where(shown, k_rounded / n_rounded, np.nan)
    result[flag] = ~shown
    return mark_controlled(result, rules, count_columns=[numerator, denominator])


def pool_small_groups(
    frame: pd.DataFrame,
    group: str,
    n_column: str,
    rules: DisclosureRules = DEFAULT_RULES,
) -> list:
    """The groups to pool (or withhold), smallest first.

    A group is small when its cases (``n_column`` summed over its rows) are not
    publishable. If the small groups together are not publishable either, the next
    smallest groups are added until they are; if even all groups together are not, all
    groups are returned.
    """
    sizes = _group_sizes(frame, group, n_column)
    pooled = [label for label, size in sizes.items() if not publishable([size], rules)[0]]
    others = [label for label in sizes.index if label not in pooled]
    while pooled and not publishable([sizes[pooled].sum()], rules)[0] and others:
        pooled.append(others.pop(0))
    return pooled


def _group_sizes(frame: pd.DataFrame, group: str, n_column: str) -> pd.Series:
    if group not in frame.columns:
        raise ConfigError(f"no group column {group!r}: the columns are {list(frame.columns)}")
    if frame[group].isna().any():
        raise ConfigError(f"the group column {group!r} has missing values")
    n = pd.Series(_count_column(frame, n_column), index=frame.index)
    sizes = n.groupby(frame[group], sort=False).sum()
    return sizes.iloc[np.lexsort((np.arange(len(sizes)), sizes.to_numpy()))]


def control_groups(
    frame: pd.DataFrame,
    group: str,
    n_column: str,
    rules: DisclosureRules = DEFAULT_RULES,
    *,
    pool: bool = True,
    other_label: Hashable = "other",
    count_columns: Sequence[str] = (),
    keys: Sequence[str] = (),
) -> pd.DataFrame:
    """Per-group results shown only for groups with at least ``min_cases`` cases.

    The groups of :func:`pool_small_groups` are withheld (``pool=False``) or pooled into
    rows labelled ``other_label`` (one per combination of ``keys``, e.g. ``closing_year``)
    whose ``n_column`` and ``count_columns`` are the sums and whose other columns
    (estimates, which cannot be summed) are NaN. Then every count that is not
    publishable is suppressed and the rest rounded. Use ``pool=False`` for model
    estimates per nationality: an "other" estimate would need its own fit.
    """
    counts = [n_column, *count_columns]
    for name in [*counts, *keys]:
        if name not in frame.columns:
            raise ConfigError(f"no column {name!r}: the columns are {list(frame.columns)}")
    pooled = pool_small_groups(frame, group, n_column, rules)
    if pool and pooled and other_label in set(frame[group]):
        raise ConfigError(
            f"{other_label!r} is already a value of {group!r}: pass another other_label"
        )
    small = frame[group].isin(pooled)
    kept = frame.loc[~small]
    if pool and pooled and len(pooled) < frame[group].nunique():
        kept = pd.concat([kept, _pooled_rows(frame.loc[small], group, counts, keys, other_label)])
    result = kept.reset_index(drop=True)
    for name in counts:
        values = _count_column(result, name)
        result[name] = np.where(
            publishable(values, rules), round_counts(values, rules.rounding_base), np.nan
        )
    return mark_controlled(result, rules, count_columns=counts)


def _pooled_rows(small, group, counts, keys, other_label) -> pd.DataFrame:
    if keys:
        sums = small.groupby(list(keys), sort=True, observed=True)[counts].sum().reset_index()
    else:
        sums = small[counts].sum().to_frame().T
    sums[group] = other_label
    return sums.reindex(columns=small.columns)


def _count_matrix(frame: pd.DataFrame, what: str) -> np.ndarray:
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ConfigError(f"the {what} is empty: there is nothing to control")
    return np.column_stack([_count_column(frame, c) for c in frame.columns])


def _count_column(frame: pd.DataFrame, column: Hashable) -> np.ndarray:
    """The column as float counts; anything but whole numbers >= 0 (or NaN) is refused."""
    if column not in frame.columns:
        raise ConfigError(f"no column {column!r}: the columns are {list(frame.columns)}")
    series = frame[column]
    if isinstance(series, pd.DataFrame):
        raise ConfigError(f"column name {column!r} is not unique")
    if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
        raise ConfigError(f"column {column!r} must hold counts (numbers), not {series.dtype}")
    values = series.astype(float).to_numpy()
    bad = np.flatnonzero(~np.isnan(values) & ((values < 0) | (values != np.round(values))))
    if bad.size:
        raise ConfigError(
            f"column {column!r} must hold whole numbers >= 0 (counts); "
            f"row {bad[0] + 1} has {values[bad[0]]:g}"
        )
    return values

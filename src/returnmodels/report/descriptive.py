"""Descriptive tables of the case data, disclosure-controlled at the output boundary.

Every table here is derived from case rows, so every one goes through
:mod:`returnmodels.disclosure` before it is returned: counts are suppressed below the
threshold and rounded, shares are published only when the cases behind them (those
with and without the outcome) are both publishable, and nationalities below the
threshold are pooled as ``"other"``. The results are marked as controlled, ready for
:func:`returnmodels.disclosure.write_controlled_csv`.
"""

from __future__ import annotations

import pandas as pd

from returnmodels.data.case_summary import assisted as assisted_of
from returnmodels.data.vocabulary import OUTCOMES
from returnmodels.disclosure import (
    DEFAULT_RULES,
    DisclosureRules,
    control_counts,
    control_shares,
    mark_controlled,
    pool_small_groups,
)

__all__ = [
    "PROCEDURE_TOP_CODE",
    "assisted_share_by",
    "outcome_counts_by",
    "outcome_shares",
    "with_pooled_groups",
]

#: ``n_procedures`` is shown as 1, 2, ..., 7 and "8+" in descriptive tables.
PROCEDURE_TOP_CODE = 8


def _grouping(cases: pd.DataFrame, by: str) -> pd.Series:
    """The column to tabulate by, with ``n_procedures`` top-coded at 8+."""
    if by == "n_procedures":
        top = cases[by].clip(upper=PROCEDURE_TOP_CODE)
        labels = [str(k) for k in range(1, PROCEDURE_TOP_CODE)] + [f"{PROCEDURE_TOP_CODE}+"]
        return pd.Categorical.from_codes(top - 1, categories=labels, ordered=True)
    return cases[by]


def with_pooled_groups(
    cases: pd.DataFrame, group: str = "nationality", rules: DisclosureRules = DEFAULT_RULES
) -> pd.DataFrame:
    """A copy of ``cases`` with the groups below the threshold relabelled ``"other"``."""
    sizes = cases.groupby(group, observed=True).size().rename("n").reset_index()
    small = pool_small_groups(sizes, group, "n", rules)
    labels = cases[group].astype(object).where(~cases[group].isin(small), "other")
    return cases.assign(**{group: labels})


def outcome_counts_by(
    cases: pd.DataFrame, by: str, rules: DisclosureRules = DEFAULT_RULES
) -> pd.DataFrame:
    """Controlled counts of the six outcomes (columns, with ``total``) by ``by`` (rows).

    For ``by="nationality"`` nationalities below the threshold are pooled as
    ``"other"`` first.
    """
    if by == "nationality":
        cases = with_pooled_groups(cases, by, rules)
    table = pd.crosstab(_grouping(cases, by), cases["outcome"]).reindex(
        columns=list(OUTCOMES), fill_value=0
    )
    table.index.name, table.columns.name = by, None
    return control_counts(table, rules)


def outcome_shares(counts: pd.DataFrame) -> pd.DataFrame:
    """Each outcome's share of the row total, from a controlled count table.

    Shares are ratios of the published (rounded) counts; a suppressed count gives a
    suppressed (NaN) share. The ``total`` column stays as the count behind each row.
    """
    rules = DisclosureRules.from_dict(counts.attrs["disclosure_controlled"])
    shares = counts[list(OUTCOMES)].div(counts["total"], axis=0).round(4)
    shares["total"] = counts["total"]
    return mark_controlled(shares, rules, count_columns=["total"])


def assisted_share_by(
    cases: pd.DataFrame, by: str, rules: DisclosureRules = DEFAULT_RULES
) -> pd.DataFrame:
    """Controlled share of cases ending in assisted return, one row per value of ``by``.

    Columns: ``by``, ``n_assisted``, ``n_cases``, ``share`` and ``suppressed``.
    """
    if by == "nationality":
        cases = with_pooled_groups(cases, by, rules)
    assisted = assisted_of(cases).astype("int64")
    counts = (
        assisted.groupby(_grouping(cases, by), observed=True)
        .agg(n_assisted="sum", n_cases="size")
        .rename_axis(by)
        .reset_index()
    )
    return control_shares(counts, "n_assisted", "n_cases", rules)

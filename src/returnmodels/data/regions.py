"""The region of origin of a nationality: the UN M49 geographic regions.

``region`` is derived from ``nationality`` as ``assisted`` is from ``outcome``: never
stored in a case file, added where a model names it and the data do not have it
(``assisted ~ n_procedures + (1 | region/nationality)``). A ``region`` column of the
data's own (from a nationality table of the user's) is kept as it is.

The table (``m49_regions.csv``, shipped with the package) gives every ISO 3166-1
alpha-3 code its M49 intermediate region where M49 has one (``Western Africa``,
``South America``), else its sub-region (``Northern Africa``, ``Western Asia``): the
22 regions of the inhabited world (and Antarctica), and ``stateless or unknown`` for
``XXA`` and ``XXX``.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd

from returnmodels.errors import ConfigError

__all__ = ["REGION_COLUMN", "origin_regions", "with_origin_region"]

#: The derived column's name.
REGION_COLUMN = "region"


@cache
def _table() -> pd.Series:
    with resources.files("returnmodels.data").joinpath("m49_regions.csv").open() as handle:
        table = pd.read_csv(handle, comment="#", dtype=str, keep_default_na=False)
    return table.set_index("nationality")["region"]


def origin_regions() -> pd.DataFrame:
    """The table: one row per nationality code, columns ``nationality`` and ``region``."""
    return _table().rename_axis("nationality").reset_index()


def with_origin_region(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``region`` column derived from its ``nationality`` (a copy; a
    frame that has ``region`` already is returned as it is).

    A nationality code the table does not know is refused, naming it and how many rows
    hold it, rather than given a region of its own: the user adds a ``region`` column.
    """
    if REGION_COLUMN in frame.columns:
        return frame
    if "nationality" not in frame.columns:
        raise ConfigError(
            "the column 'region' is derived from 'nationality' (UN M49 regions), and the "
            "data have neither"
        )
    codes = frame["nationality"].astype(str)
    region = codes.map(_table())
    unknown = codes[region.isna()]
    if len(unknown):
        counts = unknown.value_counts()
        shown = ", ".join(f"{code!r} ({n} rows)" for code, n in counts.head(5).items())
        raise ConfigError(
            f"the column 'region' is derived from 'nationality' through the UN M49 table, "
            f"which has no region for {shown}"
            f"{' and more' if len(counts) > 5 else ''}; add a 'region' column to the data"
        )
    return frame.assign(**{REGION_COLUMN: pd.Categorical(region.to_numpy())})

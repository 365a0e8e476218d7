"""The name of a nationality code, in English or Dutch, for readers of tables and figures.

Case files hold ISO 3166-1 alpha-3 codes (``NGA``, ``IRQ``; ``XXA`` stateless, ``XXX``
unknown). A reader of a report knows countries by name, so figures and tables show
``Nigeria (NGA)``. The names come from ``country_names.csv``, shipped with the package
and made once from pycountry's data by :mod:`returnmodels.data.make_country_names`
(no runtime dependency). A code the table does not know is shown as it is.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd

__all__ = ["NAME_LANGUAGES", "country_name", "country_names", "named_code"]

#: The languages of the table's names.
NAME_LANGUAGES: tuple[str, ...] = ("en", "nl")


@cache
def _table() -> pd.DataFrame:
    with resources.files("returnmodels.data").joinpath("country_names.csv").open() as handle:
        table = pd.read_csv(handle, comment="#", dtype=str, keep_default_na=False)
    return table.set_index("nationality")


def country_names() -> pd.DataFrame:
    """The table: one row per code, columns ``nationality``, ``en`` and ``nl``."""
    return _table().reset_index()


def country_name(code: object, language: str = "en") -> str | None:
    """The country of ``code`` in ``language`` (``"en"`` or ``"nl"``), or ``None`` for a
    code the table does not know."""
    if language not in NAME_LANGUAGES:
        raise ValueError(f"language {language!r}: choose one of {', '.join(NAME_LANGUAGES)}")
    table = _table()
    key = str(code)
    return table.at[key, language] if key in table.index else None


def named_code(code: object, language: str = "en") -> str:
    """``Nigeria (NGA)``: the name with the code beside it; an unknown code as it is."""
    name = country_name(code, language)
    return str(code) if name is None else f"{name} ({code})"

"""Make ``country_names.csv``: the English and Dutch name of every nationality code.

Run once, by hand, when the table should change; the package reads the CSV it writes
(:mod:`returnmodels.data.country_names`) and never needs pycountry::

    pip download pycountry --no-deps -d /tmp/pycountry
    python -m returnmodels.data.make_country_names /tmp/pycountry/pycountry-*.whl

The names come from pycountry's copy of the Debian iso-codes data: its ISO 3166-1 table
(``databases/iso3166-1.json``) and its Dutch translations (the gettext catalogue
``locales/nl/LC_MESSAGES/iso3166-1.mo``), read from the wheel (or an unpacked
pycountry folder) with the standard library. A country's short name is used where
iso-codes has one (``Iran``, ``South Korea``, not ``Iran, Islamic Republic of``), in
English and, through the same catalogue, in Dutch; a few names that iso-codes keeps in
their inverted official form are written as a reader knows them (:data:`READERS_NAMES`).
The codes ISO 3166-1 lacks that a case file may hold are added by hand (:data:`EXTRA`).
"""

from __future__ import annotations

import argparse
import csv
import gettext
import io
import json
import zipfile
from pathlib import Path

__all__ = ["EXTRA", "READERS_NAMES", "country_rows", "main"]

#: Names a reader knows better than iso-codes' (whose short names keep the inverted
#: official form for these): ``code: (English, Dutch)``.
READERS_NAMES: dict[str, tuple[str, str]] = {
    "COD": ("DR Congo", "DR Congo"),
    "FSM": ("Micronesia", "Micronesia"),
    "PSE": ("Palestine", "Palestina"),
    "RUS": ("Russia", "Rusland"),
    "VAT": ("Vatican City", "Vaticaanstad"),
    "VGB": ("British Virgin Islands", "Britse Maagdeneilanden"),
    "VIR": ("US Virgin Islands", "Amerikaanse Maagdeneilanden"),
}
#: Codes outside ISO 3166-1 that case files use: ``(code, English, Dutch)``.
EXTRA: tuple[tuple[str, str, str], ...] = (
    ("XKX", "Kosovo", "Kosovo"),  # the code the EU and ICAO use until ISO assigns one
    ("XXA", "stateless", "staatloos"),  # ICAO 9303
    ("XXX", "unknown", "onbekend"),  # ICAO 9303: nationality unspecified
)
_TABLE = "pycountry/databases/iso3166-1.json"
_DUTCH = "pycountry/locales/nl/LC_MESSAGES/iso3166-1.mo"
_HEADER = (
    "# Country names by nationality code (ISO 3166-1 alpha-3), in English (en) and Dutch\n"
    "# (nl): the short names of the Debian iso-codes data and their Dutch translation,\n"
    "# as shipped in pycountry {version}; a few names as readers know them (DR Congo,\n"
    "# Russia, Palestine, ...) and XKX, XXA and XXX added by hand.\n"
    "# Made by python -m returnmodels.data.make_country_names; do not edit by hand.\n"
)


def _read(source: Path, member: str) -> bytes:
    """A file of pycountry, from its wheel or from an unpacked copy."""
    if source.is_file():
        with zipfile.ZipFile(source) as wheel:
            return wheel.read(member)
    return (source.parent / member if source.name == "pycountry" else source / member).read_bytes()


def _version(source: Path) -> str:
    """pycountry's version, from the wheel's name (``pycountry-26.2.16-py3-...``)."""
    parts = source.name.split("-")
    return parts[1] if source.is_file() and len(parts) > 1 else "(unpacked)"


def country_rows(source: Path) -> list[tuple[str, str, str]]:
    """``(code, English, Dutch)`` for every ISO 3166-1 country and :data:`EXTRA`, sorted."""
    countries = json.loads(_read(source, _TABLE))["3166-1"]
    dutch = gettext.GNUTranslations(io.BytesIO(_read(source, _DUTCH)))
    rows = []
    for country in countries:
        english = country.get("common_name", country["name"])
        names = READERS_NAMES.get(country["alpha_3"], (english, dutch.gettext(english)))
        rows.append((country["alpha_3"], *names))
    return sorted(rows + list(EXTRA))


def main(argv: list[str] | None = None) -> Path:
    """Write ``country_names.csv`` beside this module (or ``--out``) and return its path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pycountry", type=Path, help="pycountry's wheel or unpacked folder")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("country_names.csv"))
    arguments = parser.parse_args(argv)
    with open(arguments.out, "w", encoding="utf-8", newline="") as handle:
        handle.write(_HEADER.format(version=_version(arguments.pycountry)))
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["nationality", "en", "nl"])
        writer.writerows(country_rows(arguments.pycountry))
    return arguments.out


if __name__ == "__main__":
    print(main())

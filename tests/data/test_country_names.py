"""Country names beside nationality codes: the shipped table, its loader, and the script
that makes the table from pycountry's data (here a small stand-in wheel)."""

from __future__ import annotations

import json
import struct
import zipfile

import pytest

from returnmodels.data.country_names import country_name, country_names, named_code
from returnmodels.data.make_country_names import country_rows, main
from returnmodels.data.regions import origin_regions

#: Codes of the region table that are no longer (or never were) countries of ISO 3166-1
#: and that no case file of today holds: Channel Islands, parts of Tanzania, the USSR.
HISTORICAL = {"CHI", "EAT", "EAZ", "SUN"}


def test_the_table_names_every_nationality_in_english_and_dutch():
    table = country_names()
    assert table["nationality"].is_unique and table["nationality"].str.fullmatch("[A-Z]{3}").all()
    assert (table["en"] != "").all() and (table["nl"] != "").all()
    assert set(origin_regions()["nationality"]) - HISTORICAL <= set(table["nationality"])
    assert country_name("IRQ") == "Iraq" and country_name("IRQ", "nl") == "Irak"
    assert country_name("SYR", "nl") == "Syrië" and country_name("IRN") == "Iran"
    assert country_name("XXA") == "stateless" and country_name("XXX", "nl") == "onbekend"


def test_a_code_is_shown_with_its_name_and_an_unknown_one_as_it_is():
    assert named_code("NGA") == "Nigeria (NGA)"
    assert named_code("DEU", "nl") == "Duitsland (DEU)"
    assert named_code("ZZZ") == "ZZZ" and country_name("ZZZ") is None
    with pytest.raises(ValueError, match="choose one of en, nl"):
        country_name("NGA", "fr")


def _mo(catalogue: dict[str, str]) -> bytes:
    """A gettext ``.mo`` file of ``catalogue`` (the format ``msgfmt`` writes)."""
    keys = sorted(catalogue)
    originals = [k.encode() for k in keys]
    translations = [catalogue[k].encode() for k in keys]
    start = 7 * 4 + 16 * len(keys)
    table, data = [], b""
    for strings in (originals, translations):
        offsets = []
        for s in strings:
            offsets += [len(s), start + len(data)]
            data += s + b"\0"
        table.append(struct.pack(f"{2 * len(keys)}I", *offsets))
    header = struct.pack("7I", 0x950412DE, 0, len(keys), 28, 28 + 8 * len(keys), 0, 0)
    return header + table[0] + table[1] + data


def test_the_script_takes_short_names_and_their_dutch_from_a_pycountry_wheel(tmp_path):
    countries = [
        {"alpha_3": "IRN", "name": "Iran, Islamic Republic of", "common_name": "Iran"},
        {"alpha_3": "IRQ", "name": "Iraq"},
        {"alpha_3": "RUS", "name": "Russian Federation"},
    ]
    wheel = tmp_path / "pycountry-1.2.3-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pycountry/databases/iso3166-1.json", json.dumps({"3166-1": countries}))
        archive.writestr(
            "pycountry/locales/nl/LC_MESSAGES/iso3166-1.mo", _mo({"Iran": "Iran", "Iraq": "Irak"})
        )
    rows = country_rows(wheel)
    assert ("IRN", "Iran", "Iran") in rows and ("IRQ", "Iraq", "Irak") in rows
    assert ("RUS", "Russia", "Rusland") in rows  # as readers know it
    assert ("XXA", "stateless", "staatloos") in rows  # not in ISO 3166-1
    written = main([str(wheel), "--out", str(tmp_path / "names.csv")]).read_text(encoding="utf-8")
    assert "pycountry 1.2.3" in written and "IRQ,Iraq,Irak\n" in written

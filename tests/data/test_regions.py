"""The region of origin, derived from nationality (UN M49) where a formula names it."""

from __future__ import annotations

import pandas as pd
import pytest

from returnmodels.data.regions import origin_regions, with_origin_region
from returnmodels.engine.design import build_formula_design
from returnmodels.errors import ConfigError


def test_the_table_gives_every_code_one_m49_region():
    table = origin_regions()
    assert table["nationality"].is_unique and table["nationality"].str.fullmatch("[A-Z]{3}").all()
    regions = dict(zip(table["nationality"], table["region"], strict=True))
    assert regions["NGA"] == "Western Africa" and regions["IRQ"] == "Western Asia"
    assert regions["AFG"] == "Southern Asia" and regions["MAR"] == "Northern Africa"
    assert regions["XXA"] == regions["XXX"] == "stateless or unknown"


def test_region_is_derived_kept_or_refused():
    frame = pd.DataFrame({"nationality": ["NGA", "SYR", "NGA"], "y": [1, 0, 1]})
    derived = with_origin_region(frame)
    assert list(derived["region"]) == ["Western Africa", "Western Asia", "Western Africa"]
    assert "region" not in frame.columns  # a copy
    own = frame.assign(region=["a", "b", "a"])
    assert with_origin_region(own) is own  # the data's own column wins
    with pytest.raises(ConfigError, match=r"no region for 'ZZZ' \(2 rows\).*add a 'region'"):
        with_origin_region(pd.DataFrame({"nationality": ["ZZZ", "ZZZ", "NGA"]}))


def test_a_formula_that_names_region_gets_it():
    rows = pd.DataFrame(
        {
            "nationality": ["NGA", "GHA", "SYR", "IRQ"] * 10,
            "y": [1, 0] * 20,
        }
    )
    design = build_formula_design(rows, "y ~ (1 | region/nationality)")
    assert [b.factor for b in design.blocks] == ["region", "region:nationality"]
    assert design.blocks[0].levels == ("Western Africa", "Western Asia")
    with pytest.raises(ConfigError, match="unknown column 'regoin'.*did you mean 'region'"):
        build_formula_design(rows, "y ~ (1 | regoin/nationality)")
    with pytest.raises(ConfigError, match="unknown column 'regio'"):
        build_formula_design(rows, "y ~ (1 | regio)")

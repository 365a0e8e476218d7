"""The formulas of the README's "Writing a model" section run as written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import readme_formulas
from returnmodels.inference.fit import fit

BUNDLED = Path(__file__).resolve().parents[2] / "data" / "cases.parquet"


def test_the_readme_shows_at_least_five_formulas():
    formulas = readme_formulas()
    assert len(formulas) >= 5
    assert any("(1 + n_procedures | nationality)" in f for f in formulas)
    assert any("/" in f for f in formulas) and any("*" in f for f in formulas)


@pytest.mark.sampling
@pytest.mark.parametrize("formula", readme_formulas())
def test_readme_formula_fits_as_written(formula):
    result = fit(BUNDLED, formula=formula, draws=100, tune=100, chains=2, random_seed=1)
    assert json.loads(result.attrs["returnmodels_config"])["formula"] == formula
    assert "Intercept" in result["posterior"]
    assert (
        result["log_likelihood"]["assisted"].sizes["cell"] == result["observed_data"].sizes["cell"]
    )

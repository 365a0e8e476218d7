"""Shared fixtures: fits are expensive, so each is made once per session.

``TUNE = DRAWS = 100`` for smoke fits (they check shapes, names and plumbing, not
convergence); the bundled-data fit used by calibration and recovery tests samples for
real (:data:`FULL_DRAWS`) and must pass the convergence gate.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "cases.parquet"
TRUTH = ROOT / "data" / "cases.truth.json"
CBPP = ROOT / "tests" / "fixtures" / "cbpp.csv"

TUNE = DRAWS = 100
CHAINS = 2
FULL_DRAWS = 1000
SEED = 20251


def readme_formulas() -> list[str]:
    """The formulas of the README's "Writing a model" block, one a line."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- formulas:.*?-->\s*```text\n(.*?)```", text, re.S)
    assert block, "README lost its formula block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


@pytest.fixture(scope="session")
def small_cases():
    import returnmodels as rm

    return rm.simulate_cases(n_cases=3000, random_seed=7).cases


@pytest.fixture(scope="session")
def smoke_fits(small_cases):
    """Tiny fits of every registered model on 3,000 simulated cases (built lazily)."""
    from returnmodels.inference.fit import fit

    cache: dict = {}

    def get(name: str):
        if name not in cache:
            cache[name] = fit(
                small_cases, name, draws=DRAWS, tune=TUNE, chains=CHAINS, random_seed=SEED
            )
        return cache[name]

    return get


@pytest.fixture(scope="session")
def bundled_fit():
    """``group_predictors`` on the bundled case files: the calibration model."""
    from returnmodels.inference.fit import fit

    return fit(
        BUNDLED, "group_predictors", draws=FULL_DRAWS, tune=FULL_DRAWS, chains=4, random_seed=SEED
    )


@pytest.fixture(scope="session")
def cbpp_spec():
    from returnmodels.models import column_spec

    return column_spec(successes="incidence", trials="size", group="herd", predictors=["period"])


@pytest.fixture(scope="session")
def report_inputs(tmp_path_factory):
    """A fit folder and a report folder as notebooks 02 and 04 write them (the page
    tests share it; see ``tests/report_pages.py``). Here, not in ``tests/report/``: a
    second ``conftest`` module would shadow this one for ``from conftest import ...``."""
    from report_pages import build_report_inputs

    return build_report_inputs(tmp_path_factory.mktemp("page"))

"""The main job: what ``returnmodels run`` refreshes on the bundled data.

For now: validate the case file and write its summary (cases, persons, nationalities,
years, outcome shares) and the outcome mix by closing year. The job grows as the
models and notebooks land; the command stays the same.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from returnmodels.files import sha256_file, write_json, write_table
from returnmodels.schema import OUTCOMES
from returnmodels.validation import load_cases, summarise_cases

__all__ = ["DEFAULT_DATA", "DEFAULT_RESULTS", "run_main_job", "outcome_mix_by_year"]

DEFAULT_DATA = "data/cases.parquet"
DEFAULT_RESULTS = "results"


def run_main_job(data: str | Path = DEFAULT_DATA, out: str | Path = DEFAULT_RESULTS) -> list[Path]:
    """Validate ``data`` and write the data summary into ``out/data-summary``."""
    cases = load_cases(data)
    folder = Path(out) / "data-summary"
    folder.mkdir(parents=True, exist_ok=True)
    summary = summarise_cases(cases) | {"data": str(data), "data_sha256": sha256_file(data)}
    return [
        write_json(summary, folder / "summary.json"),
        write_table(outcome_mix_by_year(cases), folder / "outcome_mix_by_year.csv"),
    ]


def outcome_mix_by_year(cases: pd.DataFrame) -> pd.DataFrame:
    """Cases per closing year and the share of each outcome among them."""
    counts = pd.crosstab(cases["closing_year"], cases["outcome"]).reindex(
        columns=list(OUTCOMES), fill_value=0
    )
    shares = counts.div(counts.sum(axis=1), axis=0).round(4)
    return shares.assign(n_cases=counts.sum(axis=1)).reset_index()

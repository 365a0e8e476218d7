"""Defaults that do not depend on the working directory (:mod:`returnmodels.paths`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from returnmodels import paths
from returnmodels.errors import ConfigError
from returnmodels.report import notebook

ROOT = Path(__file__).resolve().parents[1]


def test_bundled_files_are_found_through_the_package(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert paths.project_root() == ROOT
    assert paths.bundled_cases() == ROOT / "data" / "cases.parquet"
    assert paths.bundled_departures() == ROOT / "data" / "dtv_departures_by_year.csv"


def test_a_missing_bundled_file_says_how_to_pass_it():
    with pytest.raises(ConfigError, match="pass its path explicitly"):
        paths.bundled_file("no-such-file.parquet")


def test_outputs_default_to_the_projects_results_never_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(paths.RESULTS_ENV, raising=False)
    assert paths.results_root() == ROOT / "results"
    assert paths.run_output(None, "explore") == ROOT / "results" / "explore"
    assert paths.run_output(tmp_path / "mine", "explore") == tmp_path / "mine"
    monkeypatch.setenv(paths.RESULTS_ENV, str(tmp_path / "elsewhere"))
    assert paths.run_output(None, "report") == tmp_path / "elsewhere" / "report"


def test_a_missing_fit_names_the_run_to_do_first(tmp_path):
    with pytest.raises(ConfigError) as raised:
        notebook.load_fit(tmp_path, "group_predictors")
    line = str(raised.value)
    assert "\n" not in line and "run fit-group_predictors first" in line
    assert str(tmp_path / "fit-group_predictors") in line
    with pytest.raises(ConfigError, match="2 fits needed, 0 found"):
        notebook.read_fits(tmp_path, ["pooled", "varying_intercepts"], at_least=2)

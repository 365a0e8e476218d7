"""Defaults that do not depend on the working directory (:mod:`returnmodels.paths`)."""

from __future__ import annotations

import re
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


# -- the bundled case file with no argument; a missing one names the working directory ---


def test_load_cases_without_a_path_reads_the_bundled_file_from_anywhere(monkeypatch, tmp_path):
    import returnmodels as rm

    monkeypatch.chdir(tmp_path)  # as JupyterLab's notebooks/: the project is elsewhere
    cases = rm.load_cases()
    assert len(cases) == 118_000 and "outcome" in cases


def test_a_missing_relative_path_names_the_working_directory_and_the_fix(monkeypatch, tmp_path):
    import returnmodels as rm
    from returnmodels.data.reading import DataFileError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataFileError) as raised:
        rm.load_cases("data/cases.parquet")
    message = str(raised.value)
    assert message.startswith("data/cases.parquet: no such file in ")
    assert f"{tmp_path} (the working directory)" in message
    assert "rm.load_cases() with no argument reads the bundled" in message
    with pytest.raises(DataFileError) as raised:  # an absolute path needs no folder
        rm.load_cases(tmp_path / "absent.csv")
    assert "working directory" not in str(raised.value)


# -- a formula fit's folder ------------------------------------------------------------

INTERACTION = "assisted ~ n_procedures * cooperation + (1 | nationality)"


def test_a_formula_run_name_is_readable_stable_and_its_own():
    name = paths.formula_run_name(INTERACTION)
    assert re.fullmatch(
        r"fit-formula-assisted-n_procedures-cooperation-nationality-[0-9a-f]{8}", name
    )
    # spacing does not change the formula; the same call gives the same name
    assert paths.formula_run_name("assisted~n_procedures*cooperation+(1|nationality)") == name
    # what the slug cannot tell apart, the hash does: an operator, a reference level
    additive = paths.formula_run_name(INTERACTION.replace("*", "+"))
    assert additive != name and additive.rsplit("-", 1)[0] == name.rsplit("-", 1)[0]
    low = paths.formula_run_name(INTERACTION, {"cooperation": "low"})
    assert low not in (name, paths.formula_run_name(INTERACTION, {"cooperation": "high"}))
    both = {"cooperation": "low", "gender": "male"}
    assert paths.formula_run_name(INTERACTION, both) == paths.formula_run_name(
        INTERACTION, dict(reversed(both.items()))
    )
    assert paths.formula_run_name(INTERACTION, {}) == name  # no references, given or not
    # a quoted level's spaces count; a long formula keeps whole names, a bounded slug
    quoted = 'y ~ C(x, Treatment("a b"))'
    assert paths.formula_run_name(quoted) != paths.formula_run_name(quoted.replace(" b", "b"))
    long = "assisted ~ " + " + ".join(f"predictor_{i}" for i in range(30))
    slug = paths.formula_run_name(long).removeprefix("fit-formula-").rsplit("-", 1)[0]
    assert len(slug) <= 48 and all(
        w == "assisted" or w.startswith("predictor_") for w in slug.split("-")
    )


def test_notebook_02_folder_of_a_model_or_a_formula(tmp_path):
    assert notebook.fit_run("pooled") == "fit-pooled"
    assert notebook.fit_run("pooled", INTERACTION, {"cooperation": "low"}) == (
        paths.formula_run_name(INTERACTION, {"cooperation": "low"})
    )
    assert notebook.fit_folder(tmp_path, "pooled") == tmp_path / "fit-pooled"
    assert notebook.fit_folder(tmp_path, INTERACTION) == tmp_path / paths.formula_run_name(
        INTERACTION
    )
    with pytest.raises(ConfigError) as raised:
        notebook.load_fit(tmp_path, INTERACTION)
    line = str(raised.value)
    assert paths.formula_run_name(INTERACTION) in line and "-p formula" in line


def test_the_readmes_formula_folder_is_the_one_notebook_02_writes():
    name = paths.formula_run_name(INTERACTION, {"cooperation": "low"})
    assert f"`{name}`" in (ROOT / "README.md").read_text()

"""The output boundary: one controlled writer, internal posteriors, the release step and
an audit that reads every kind of file (issue: a folder the audit calls clean must be
safe to take out of a secure environment, whoever wrote it)."""

from __future__ import annotations

import json
import shutil

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from returnmodels import cli
from returnmodels.disclosure import (
    DEFAULT_RULES,
    DisclosureError,
    DisclosureRules,
    mark_controlled,
)
from returnmodels.disclosure.audit import RELEASE_MANIFEST, audit_results
from returnmodels.disclosure.figure import read_png_marker
from returnmodels.disclosure.posterior import (
    CELL_DIMS,
    INTERNAL_GROUPS,
    published_labels,
    released_posterior,
    support_of,
)
from returnmodels.disclosure.release import release_results
from returnmodels.errors import ConfigError
from returnmodels.report.notebook import FIT_FILES, withheld_groups, write_fit_run
from returnmodels.report.run_folder import RunFolder

CASE_ROWS = pd.DataFrame(
    {
        "case_id": ["C000001", "C000002"],
        "nationality": ["IRQ", "NGA"],
        "closing_year": [2019, 2020],
        "outcome": ["assisted_return", "legal_stay"],
        "gender": ["male", "female"],
        "age_group": ["18-29", "30-44"],
    }
)


def findings_of(folder) -> set[tuple[str, str]]:
    return {(f.source, f.rule) for f in audit_results(folder).findings}


def axes():
    return plt.subplots(figsize=(2, 2))[1]


# -- the writer, without a fit -----------------------------------------------------------


def test_json_with_a_small_count_is_refused_and_nothing_written(tmp_path):
    folder = RunFolder(tmp_path)
    with pytest.raises(DisclosureError, match=r"n_cases.*small-count"):
        folder.json({"by": {"IRQ": {"n_cases": 3}}}, "counts.json")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("n", "clean"), [(5, False), (10, True), (15, True), (12, False)])
def test_json_count_at_below_and_above_the_threshold(tmp_path, n, clean):
    folder = RunFolder(tmp_path)
    if clean:
        folder.json({"n_cases": n}, "x.json")
        assert audit_results(tmp_path).clean
    else:
        with pytest.raises(DisclosureError):
            folder.json({"n_cases": n}, "x.json")


def test_json_and_text_with_identifiers_are_refused(tmp_path):
    folder = RunFolder(tmp_path)
    with pytest.raises(DisclosureError, match="identifier-value"):
        folder.json({"error": "KeyError: 'C000123'"}, "manifest.json")
    with pytest.raises(DisclosureError, match="identifier-value|case-level-rows"):
        folder.text(CASE_ROWS.to_string(), "run.log")
    assert not list(tmp_path.iterdir())


def test_figure_carries_its_mark_and_is_shown_with_the_files_bytes(tmp_path):
    folder = RunFolder(tmp_path)
    table = pd.DataFrame({"predictor": ["x"], "mean": [0.2]})
    folder.table(mark_population(table), "margins.csv")
    drawn = axes()
    shown = folder.figure(drawn, "margins.png", sources=["margins.csv"])
    assert shown._repr_png_() == (tmp_path / "margins.png").read_bytes()
    marker = read_png_marker(tmp_path / "margins.png")
    assert marker["basis"] == "tables" and set(marker["sources"]) == {"margins.csv"}
    assert marker["rules"] == DEFAULT_RULES.to_dict()
    assert audit_results(tmp_path).clean
    # closed: the inline backend shows nothing unmarked (other tests' figures aside)
    assert drawn.figure.number not in plt.get_fignums()


def mark_population(frame):
    return mark_controlled(frame, DEFAULT_RULES)


def test_figure_needs_a_controlled_source_or_a_declared_basis(tmp_path):
    folder = RunFolder(tmp_path)
    with pytest.raises(DisclosureError, match="not a controlled table"):
        folder.figure(axes(), "x.png", sources=["missing.csv"])
    with pytest.raises(ConfigError, match="basis"):
        folder.figure(axes(), "x.png", basis="whatever")
    assert not (tmp_path / "x.png").exists()


def test_a_figure_whose_source_changed_or_that_has_no_mark_is_refused(tmp_path):
    folder = RunFolder(tmp_path)
    folder.table(mark_population(pd.DataFrame({"mean": [0.2]})), "t.csv")
    folder.figure(axes(), "ok.png", sources=["t.csv"])
    axes().get_figure().savefig(tmp_path / "plain.png")
    (tmp_path / "t.csv").write_text("mean\n0.3\n")
    found = findings_of(tmp_path)
    assert ("plain.png", "figure-unmarked") in found
    assert ("ok.png", "figure-source") in found


def test_an_unknown_kind_of_file_is_refused(tmp_path):
    CASE_ROWS.drop(columns="case_id").to_parquet(tmp_path / "rows.parquet")
    (tmp_path / "notes").write_text("x")
    found = findings_of(tmp_path)
    assert ("rows.parquet", "unchecked-file-type") in found
    assert ("notes", "unchecked-file-type") in found
    assert cli.main(["audit", str(tmp_path)]) == 1


# -- a fit's folder: internal, then released ---------------------------------------------


@pytest.fixture(scope="module")
def fit_result(smoke_fits):
    return smoke_fits("group_predictors")


@pytest.fixture
def analysis(tmp_path, fit_result):
    folder = tmp_path / "results" / "fit-group_predictors"
    write_fit_run(fit_result, folder)
    return tmp_path / "results"


@pytest.mark.sampling
def test_the_fit_folder_is_internal_only_through_its_posterior(analysis):
    found = findings_of(analysis)
    assert found == {("fit-group_predictors/posterior.nc", "internal-file")}
    names = {p.name for p in (analysis / "fit-group_predictors").iterdir()}
    assert set(FIT_FILES) <= names
    assert names - set(FIT_FILES) == {"summary.csv.disclosure.json", "margins.csv.disclosure.json"}


@pytest.mark.sampling
def test_released_posterior_holds_no_data_no_cells_and_no_withheld_group(fit_result):
    rules = DisclosureRules()
    withheld = set(withheld_groups(fit_result, rules))
    support = support_of(fit_result)
    sizes = support[(support["kind"] == "dim") & (support["key"] == "nationality")]
    assert withheld and set(sizes.loc[sizes["n"] < rules.min_cases, "label"]) <= withheld
    released = released_posterior(fit_result, rules)
    assert not set(released.children) & set(INTERNAL_GROUPS)
    published = published_labels(support, rules, "dim")["nationality"]
    assert not published & set(sizes.loc[sizes["n"] < rules.min_cases, "label"])
    for node in released.subtree:
        for name, var in node.dataset.variables.items():
            assert not set(var.dims) & set(CELL_DIMS), (node.path, name)
        for dim in node.dataset.dims:
            if dim in node.dataset.coords and node.dataset[dim].dtype.kind in "OUS":
                labels = set(node.dataset[dim].values.astype(str))
                assert not labels & withheld, (node.path, dim, labels & withheld)
    effect = released["posterior"]["nationality_effect"]
    assert set(effect["nationality"].values.astype(str)) == published
    original = fit_result["posterior"]["nationality_effect"].sel(nationality=sorted(published))
    np.testing.assert_array_equal(effect.sel(nationality=sorted(published)).values, original.values)


@pytest.mark.sampling
def test_release_copies_what_passes_and_withholds_every_planted_disclosive_file(analysis, tmp_path):
    plant_disclosive_files(analysis / "planted")
    out = tmp_path / "release"
    assert cli.main(["release", str(analysis), "--out", str(out)]) == 1
    manifest = json.loads((out / RELEASE_MANIFEST).read_text())
    withheld = manifest["withheld"]
    expected = {
        "planted/cells.csv": "small-count",
        "planted/counts.json": "small-count",
        "planted/posterior_copy.nc": None,  # released in its controlled form instead
        "planted/case_rows.ipynb": "case-level-rows",
        "planted/run.log": "identifier-value",
        "planted/plain.png": "figure-unmarked",
        "planted/rows.parquet": "unchecked-file-type",
    }
    for name, rule in expected.items():
        if rule is None:
            assert name not in withheld and name in manifest["files"]
        else:
            assert any(rule in reason for reason in withheld[name]), (name, withheld.get(name))
    assert "C000001" not in (out / RELEASE_MANIFEST).read_text()  # reasons hold no values
    assert "fit-group_predictors/posterior.nc" in manifest["files"]
    assert manifest["files"]["fit-group_predictors/posterior.nc"]["kind"] == "NetCDF"
    assert audit_results(out).clean
    assert cli.main(["audit", str(out)]) == 0


def plant_disclosive_files(folder):
    """One disclosive file of every kind the audit reads."""
    folder.mkdir(parents=True)
    pd.DataFrame({"nationality": ["IRQ", "NGA"], "n_cases": [3, 40]}).to_csv(
        folder / "cells.csv", index=False
    )
    (folder / "counts.json").write_text(json.dumps({"IRQ": {"n_cases": 3}}))
    shutil.copy(
        folder.parent / "fit-group_predictors" / "posterior.nc", folder / "posterior_copy.nc"
    )
    printed = {
        "output_type": "stream",
        "name": "stdout",
        "text": CASE_ROWS.drop(columns="case_id").to_string(),
    }
    cells = [{"cell_type": "code", "source": "x", "metadata": {}, "outputs": [printed]}]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (folder / "case_rows.ipynb").write_text(json.dumps(notebook))
    (folder / "run.log").write_text("KeyError: case C000001 not found\n")
    axes().get_figure().savefig(folder / "plain.png")
    plt.close("all")
    CASE_ROWS.to_parquet(folder / "rows.parquet")


@pytest.mark.sampling
def test_planted_files_in_a_release_folder_are_caught_with_file_and_reason(analysis, tmp_path):
    out = tmp_path / "release"
    release_results(analysis, out)
    assert audit_results(out).clean
    shutil.copy(analysis / "fit-group_predictors" / "posterior.nc", out / "data.nc")
    (out / "note.txt").write_text(CASE_ROWS.to_string())
    with open(out / "fit-group_predictors" / "summary.csv", "a") as handle:
        handle.write("x,1\n")
    report = audit_results(out)
    found = {(f.source, f.rule) for f in report.findings}
    assert ("data.nc", "internal-file") in found
    assert ("data.nc", "release-manifest") in found  # not listed in the manifest
    assert ("note.txt", "identifier-value") in found or ("note.txt", "case-level-rows") in found
    assert ("fit-group_predictors/summary.csv", "marker-mismatch") in found
    assert ("fit-group_predictors/summary.csv", "release-manifest") in found
    text = report.format()
    assert "data.nc: groups: data groups constant_data" in text
    assert "returnmodels release" in text


@pytest.mark.sampling
def test_release_refuses_a_folder_inside_the_results_and_an_existing_one(analysis, tmp_path):
    assert cli.main(["release", str(analysis), "--out", str(analysis / "release")]) == 2
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert cli.main(["release", str(analysis), "--out", str(tmp_path / "full")]) == 2


def test_netcdf_posterior_without_data_groups_but_without_a_mark_is_internal(tmp_path):
    tree = xr.DataTree.from_dict(
        {"/posterior": xr.Dataset({"b": (("chain", "draw"), np.zeros((1, 3)))})}
    )
    tree.to_netcdf(tmp_path / "p.nc", engine="h5netcdf")
    assert findings_of(tmp_path) == {("p.nc", "internal-file")}

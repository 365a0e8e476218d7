"""``returnmodels fit`` and notebook 02 write the same folder, controlled the same way."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import returnmodels as rm
from returnmodels import cli
from returnmodels.disclosure.audit import audit_results
from returnmodels.files import write_table
from returnmodels.report.notebook import FIT_FILES

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "02_fit_model.ipynb"
SETTINGS = {"model": "pooled", "draws": 100, "tune": 100, "chains": 2, "seed": 5}
#: Byte-identical whoever wrote them (the manifest differs in timings and the data path).
SAME_BYTES = [name for name in FIT_FILES if name not in ("posterior.nc", "fit_manifest.json")]


@pytest.fixture(scope="module")
def both_folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("fit-folders")
    data = write_table(rm.simulate_cases(n_cases=2000, random_seed=3).cases, base / "cases.parquet")
    by_cli = base / "cli"
    argv = ["fit", "--data", str(data), "--model", SETTINGS["model"], "--out", str(by_cli)]
    argv += ["--predictors", "n_procedures", "--seed", str(SETTINGS["seed"])]
    argv += [f"--{k}={SETTINGS[k]}" for k in ("draws", "tune", "chains")]
    assert cli.main(argv) == 0
    by_notebook = base / "notebook"
    parameters = SETTINGS | {"data": str(data), "out": str(by_notebook)}
    command = [
        str(Path(sys.executable).parent / "papermill"),
        str(NOTEBOOK),
        str(base / "02.ipynb"),
    ]
    command += ["-y", json.dumps(parameters | {"predictors": ["n_procedures"]})]
    done = subprocess.run(command, cwd=base, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return by_cli, by_notebook


@pytest.mark.sampling
def test_cli_and_notebook_write_the_same_files(both_folders):
    by_cli, by_notebook = both_folders
    names = sorted(p.name for p in by_cli.iterdir())
    assert names == sorted(p.name for p in by_notebook.iterdir())
    assert set(FIT_FILES) <= set(names)
    for name in SAME_BYTES + ["summary.csv.disclosure.json", "margins.csv.disclosure.json"]:
        assert (by_cli / name).read_bytes() == (by_notebook / name).read_bytes(), name


@pytest.mark.sampling
def test_cli_and_notebook_manifests_agree_but_for_timings_and_the_path(both_folders):
    by_cli, by_notebook = both_folders
    manifests = [json.loads((f / "fit_manifest.json").read_text()) for f in both_folders]
    for manifest in manifests:
        manifest.pop("timings")
        manifest["data"].pop("path")
        manifest["files"].pop("posterior.nc")  # its attributes hold the timings
    assert manifests[0] == manifests[1]
    assert manifests[0]["disclosure"] == {
        "min_cases": 10,
        "rounding_base": 5,
        "suppress_zeros": False,
    }


@pytest.mark.sampling
def test_cli_and_notebook_posteriors_hold_the_same_draws(both_folders):
    trees = [xr.open_datatree(f / "posterior.nc", engine="h5netcdf") for f in both_folders]
    assert set(trees[0].children) == set(trees[1].children)
    for name, var in trees[0]["posterior"].data_vars.items():
        np.testing.assert_array_equal(var.values, trees[1]["posterior"][name].values)
    assert trees[0].attrs["returnmodels_data_sha256"] == trees[1].attrs["returnmodels_data_sha256"]


@pytest.mark.sampling
def test_both_folders_are_controlled_the_same_way(both_folders):
    for folder in both_folders:
        findings = {(f.source, f.rule) for f in audit_results(folder).findings}
        assert findings == {("posterior.nc", "internal-file")}, folder

"""Sampling, result identity, save/load, the gate and the CLI (tiny draws)."""

from __future__ import annotations

import json
import subprocess
import sys

import nutpie
import pytest
import xarray as xr
from threadpoolctl import threadpool_info, threadpool_limits

from conftest import CBPP, CHAINS, DRAWS, SEED, TUNE
from returnmodels.cli import main
from returnmodels.errors import ConfigError
from returnmodels.inference.diagnostics import check_convergence, verdict_of
from returnmodels.inference.fit import fit
from returnmodels.inference.results import load_result, save_result, write_netcdf
from returnmodels.models.presets import PRESETS
from returnmodels.report.notebook import FIT_FILES

NAMES = ["pooled", "varying_intercepts", "group_predictors", "varying_slopes", "competing_outcomes"]


@pytest.mark.sampling
@pytest.mark.parametrize("name", NAMES)
def test_every_model_samples_with_documented_groups_and_dims(smoke_fits, name):
    result = smoke_fits(name)
    assert {"posterior", "sample_stats", "log_likelihood", "observed_data", "constant_data"} <= set(
        result.children
    )
    posterior = result["posterior"]
    assert posterior.sizes["chain"] == CHAINS and posterior.sizes["draw"] == DRAWS
    assert posterior["gender"].dims == ("chain", "draw", "gender_level")
    assert result["log_likelihood"]["assisted"].dims == ("chain", "draw", "cell")
    if name != "pooled":
        assert posterior["nationality_effect"].dims == ("chain", "draw", "nationality")
    assert result.attrs["returnmodels_model"] == name
    config = json.loads(result.attrs["returnmodels_config"])
    assert config["sampling"]["sampler"] == "nutpie" and config["sampling"]["random_seed"] == SEED
    assert set(verdict_of(result)) >= {
        "passed",
        "r_hat_max",
        "ess_bulk_min",
        "divergences",
        "bfmi_min",
    }


@pytest.mark.sampling
@pytest.mark.parametrize("name", ["group_predictors", "varying_slopes"])
def test_a_registered_model_is_its_preset_formula(smoke_fits, small_cases, name):
    """fit(data, name) is fit(data, formula=..., reference=..., priors=...) of the preset:
    the same formula recorded, the same draws at the same seed, one result contract."""
    import numpy as np

    preset = PRESETS[name]
    by_name = smoke_fits(name)
    priors = {
        k.format(group="nationality", slope="n_procedures"): v for k, v in preset.priors.items()
    }
    by_formula = fit(
        small_cases, formula=preset.formula, reference=preset.reference, priors=priors,
        draws=DRAWS, tune=TUNE, chains=CHAINS, random_seed=SEED,
    )  # fmt: skip
    named, written = (json.loads(r.attrs["returnmodels_config"]) for r in (by_name, by_formula))
    assert named["formula"] == preset.formula and named["model"] == name
    assert named["priors"] == written["priors"] and named["reference"] == written["reference"]
    assert by_name.attrs["returnmodels_design"] == by_formula.attrs["returnmodels_design"]
    for var in by_formula["posterior"].data_vars:
        np.testing.assert_array_equal(by_name["posterior"][var], by_formula["posterior"][var])
    assert set(by_name["constant_data"].data_vars) == set(by_formula["constant_data"].data_vars)


@pytest.mark.sampling
def test_save_load_round_trip_and_identity_check(smoke_fits, tmp_path):
    result = smoke_fits("group_predictors")
    path = save_result(result, tmp_path / "posterior.nc")
    loaded = load_result(path, model="group_predictors")
    assert loaded.attrs["returnmodels_config_hash"] == result.attrs["returnmodels_config_hash"]
    assert float(loaded["posterior"]["nationality_sigma"].mean()) == pytest.approx(
        float(result["posterior"]["nationality_sigma"].mean())
    )
    with pytest.raises(ConfigError, match="not 'pooled'"):
        load_result(path, model="pooled")
    with pytest.raises(ConfigError, match="configuration hash"):
        load_result(path, config_hash_="0" * 64)


@pytest.mark.sampling
def test_write_netcdf_writes_what_to_netcdf_writes_without_asking_dask(smoke_fits, tmp_path):
    """The saved file is identical, group for group and variable for variable (values,
    dtypes, attributes), to xarray's own ``to_netcdf(engine="netcdf4")``; and writing it
    in a fresh process imports no ``dask.distributed`` (what ``to_netcdf`` costs)."""
    result = smoke_fits("group_predictors")
    ours, theirs = tmp_path / "ours.nc", tmp_path / "theirs.nc"
    write_netcdf(result, ours)
    result.to_netcdf(theirs, engine="netcdf4")
    read = [xr.open_datatree(p, engine="h5netcdf").load() for p in (ours, theirs)]
    xr.testing.assert_identical(read[0], read[1])
    xr.testing.assert_identical(read[0], result)
    for group in read[0].groups:
        for name, var in read[0][group].variables.items():
            assert var.encoding.get("dtype") == read[1][group][name].encoding.get("dtype")
    script = (
        "import sys, xarray as xr; from returnmodels.inference.results import write_netcdf;"
        f"write_netcdf(xr.open_datatree({str(theirs)!r}, engine='h5netcdf').load(),"
        f" {str(tmp_path / 'again.nc')!r}); print('dask.distributed' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.sampling
def test_gate_flags_a_starved_fit(small_cases):
    starved = fit(small_cases, "group_predictors", draws=15, tune=15, chains=2, random_seed=1)
    verdict = check_convergence(starved)
    assert not verdict.passed and verdict.failures
    assert not verdict_of(starved)["passed"]


def test_configuration_is_checked_before_sampling(small_cases):
    with pytest.raises(ConfigError, match="sampler"):
        fit(small_cases, "pooled", sampler="gibbs")
    with pytest.raises(ConfigError, match="draws"):
        fit(small_cases, "pooled", draws=0)
    with pytest.raises(ConfigError, match="unknown prior"):
        fit(small_cases, "pooled", priors={"nationality_sigma": {"sigma": 1}})
    with pytest.raises(ConfigError, match="adaptation 'dense'.*auto"):
        fit(small_cases, "pooled", adaptation="dense")


@pytest.mark.sampling
def test_chains_sample_with_one_blas_thread_and_blas_is_free_again_after(small_cases, monkeypatch):
    """nutpie's chains run on threads of their own; inside its call BLAS is held to one
    thread (a split product waits on the chains' cores), and after it BLAS has its
    threads back."""

    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    seen = []
    sample = nutpie.sample
    monkeypatch.setattr(
        nutpie, "sample", lambda *a, **k: seen.append(blas_threads()) or sample(*a, **k)
    )
    with threadpool_limits(limits=2, user_api="blas"):  # two, whatever the machine
        fit(small_cases, formula="assisted ~ n_procedures + (1 | nationality)", draws=20,
            tune=20, chains=2, random_seed=SEED)  # fmt: skip
        assert seen == [{1}]
        assert blas_threads() == {2}


@pytest.mark.sampling
def test_auto_adaptation_is_low_rank_for_small_models_and_diagonal_above(
    smoke_fits, small_cases, monkeypatch
):
    import returnmodels.inference.fit as fitting

    details = json.loads(smoke_fits("competing_outcomes").attrs["returnmodels_sampler"])
    # stage 1 (about 140 parameters) low-rank, stage 2 (about 500) diagonal
    assert details["stage0_n_dim"] <= fitting.LOW_RANK_MAX_DIM < details["stage1_n_dim"]
    assert (details["stage0_adaptation"], details["stage1_adaptation"]) == ("low_rank", "diag")
    monkeypatch.setattr(fitting, "LOW_RANK_MAX_DIM", 1)
    cases = small_cases.iloc[1:]  # data no other test fits: a model new to this process
    small = fit(cases, "pooled", draws=DRAWS, tune=TUNE, chains=CHAINS, random_seed=SEED)
    assert json.loads(small.attrs["returnmodels_sampler"])["adaptation"] == "diag"
    forced = fit(cases, "pooled", draws=DRAWS, tune=TUNE, chains=CHAINS, adaptation="low_rank")
    assert json.loads(forced.attrs["returnmodels_sampler"])["adaptation"] == "low_rank"
    # a model new to this process is fitted on the engine the other fits compiled or
    # loaded: nothing is compiled for it
    for result in (small, forced):
        details = json.loads(result.attrs["returnmodels_sampler"])
        assert details["engine"].startswith("formula engine")
        assert details["compile_cache"] == "process"


def test_cli_models_lists_every_model(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in NAMES)
    assert "(1 | person_id)" in out and "README: Persons with repeated cases" in out


@pytest.mark.sampling
def test_cli_fit_cbpp_writes_the_whole_folder(tmp_path, capsys):
    out = tmp_path / "cbpp"
    argv = ["fit", "--data", str(CBPP), "--successes", "incidence", "--trials", "size"]
    argv += ["--group", "herd", "--predictors", "period", "--model", "varying_intercepts"]
    argv += ["--out", str(out), "--draws", str(DRAWS), "--tune", str(TUNE), "--chains", "2"]
    assert main(argv) == 0
    markers = ["summary.csv.disclosure.json", "margins.csv.disclosure.json"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*FIT_FILES, *markers])
    assert "CONVERGENCE" in capsys.readouterr().out
    summary = (out / "summary.csv").read_text()
    # the preset's formula for these columns: C(period), named as the formula writes it
    assert "herd_sigma" in summary and "C(period)[3]" in summary and "hdi94_lb" in summary
    assert "C(period)[4]" not in summary  # 7 cases with the outcome: fewer than min_cases
    margins = (out / "margins.csv").read_text().splitlines()[0]
    assert margins == "convergence,predictor,value,mean,hdi_lower,hdi_upper"
    manifest = json.loads((out / "fit_manifest.json").read_text())
    assert manifest["seed"] == 20251 and manifest["versions"]["nutpie"]
    assert main(argv) == 2  # the folder exists: refused, nothing overwritten
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_refuses_a_varying_group_predictor(tmp_path, capsys):
    argv = ["fit", "--data", str(CBPP), "--successes", "incidence", "--trials", "size"]
    argv += ["--group", "herd", "--group-predictors", "period", "--model", "group_predictors"]
    assert main(argv + ["--out", str(tmp_path / "x")]) == 2
    assert "not constant within 'herd'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.sampling
def test_competing_outcomes_samples_its_stages_separately_and_the_gate_reads_both(smoke_fits):
    from returnmodels.inference.diagnostics import check_convergence

    result = smoke_fits("competing_outcomes")
    assert {"sample_stats", "sample_stats_stage1"} <= set(result.children)
    posterior = result["posterior"]
    assert "nationality_sigma" in posterior and "competing_nationality_sigma" in posterior
    stage0 = int(result["sample_stats"]["diverging"].sum())
    flagged = result.copy()
    stats = flagged["sample_stats_stage1"].to_dataset()
    stats["diverging"] = stats["diverging"] | True  # every stage-2 draw divergent
    flagged["sample_stats_stage1"] = stats
    after = check_convergence(flagged)
    assert after.divergences == stage0 + stats["diverging"].size
    assert not after.passed

"""returnmodels.inference.compiled: nutpie's C callbacks, cached on disk, data read at run time."""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys

import numpy as np
import pytest

from returnmodels.inference.compiled import compile_for_nutpie
from returnmodels.inference.fit import build_model


def _evaluate(compiled, x: np.ndarray) -> tuple[int, float, np.ndarray]:
    """Call the compiled log-density callback as nutpie does: (status, logp, gradient)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    grad, logp = np.zeros(compiled.n_dim), np.zeros(())
    pointer = ctypes.POINTER(ctypes.c_double)
    status = compiled.compiled_logp_func.ctypes(
        compiled.n_dim,
        x.ctypes.data_as(pointer),
        grad.ctypes.data_as(pointer),
        logp.ctypes.data_as(pointer),
        ctypes.c_void_p(compiled.user_data.ctypes.data),
    )
    return status, float(logp), grad


def _pymc_logp_and_gradient(model, compiled, x: np.ndarray) -> tuple[float, np.ndarray]:
    names, slices, shapes = compiled.shape_info
    point = {
        name: x[where].reshape(shape)
        for name, where, shape in zip(names, slices, shapes, strict=True)
        if where.stop <= compiled.n_dim
    }
    dlogp = model.compile_dlogp(vars=model.free_RVs)(point)
    return float(model.compile_logp()(point)), np.asarray(dlogp)


def _flip_outcomes(cases, count: int):
    """The same cases with ``count`` assisted returns of the largest group closed otherwise:
    the same cells (same shape), other successes."""
    largest = cases["nationality"].value_counts().index[0]
    rows = cases.index[(cases["nationality"] == largest) & (cases["outcome"] == "assisted_return")]
    changed = cases.copy()
    changed.loc[rows[:count], "outcome"] = "unsupervised_departure"
    return changed


@pytest.fixture(scope="module")
def compiled_small(small_cases):
    model, design, _ = build_model(small_cases, "group_predictors")
    return model, compile_for_nutpie(model)


@pytest.mark.sampling
def test_callbacks_give_pymcs_log_density_and_gradient(compiled_small):
    model, compiled = compiled_small
    rng = np.random.default_rng(1)
    for seed in range(3):
        x = compiled.initial_point_func(seed) + rng.normal(0, 0.2, compiled.n_dim)
        status, logp, grad = _evaluate(compiled, x)
        expected_logp, expected_grad = _pymc_logp_and_gradient(model, compiled, x)
        assert status == 0
        assert logp == pytest.approx(expected_logp, rel=1e-10)
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-8, atol=1e-8)


@pytest.mark.sampling
def test_draws_are_nutpies_own(compiled_small):
    """Same seed, same draws as nutpie.compile_pymc_model's callbacks."""
    import nutpie

    model, compiled = compiled_small
    reference = nutpie.compile_pymc_model(model, backend="numba")
    settings = {"draws": 30, "tune": 30, "chains": 2, "cores": 1, "seed": 5}
    ours = nutpie.sample(compiled, progress_bar=False, **settings)["posterior"]
    theirs = nutpie.sample(reference, progress_bar=False, **settings)["posterior"]
    assert set(ours.data_vars) == set(theirs.data_vars)
    for name in ours.data_vars:
        np.testing.assert_array_equal(ours[name].values, theirs[name].values, err_msg=name)


@pytest.mark.sampling
def test_other_data_of_the_same_shape_reuse_the_callbacks(small_cases, compiled_small):
    """The cached callbacks read the new data: a stale copy of the old data would give
    the first model's log density."""
    first_model, first = compiled_small
    model, design, _ = build_model(_flip_outcomes(small_cases, 5), "group_predictors")
    second = compile_for_nutpie(model)
    assert second.cache_status == "hit"
    assert second.compiled_logp_func.address != 0
    x = second.initial_point_func(3)
    _, logp, grad = _evaluate(second, x)
    expected_logp, expected_grad = _pymc_logp_and_gradient(model, second, x)
    assert logp == pytest.approx(expected_logp, rel=1e-10)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-8, atol=1e-8)
    assert abs(logp - _pymc_logp_and_gradient(first_model, first, x)[0]) > 1.0


@pytest.mark.sampling
def test_a_new_process_loads_the_callbacks_from_disk(small_cases, compiled_small, tmp_path):
    path = tmp_path / "cases.parquet"
    small_cases.to_parquet(path)
    script = (
        "import json, sys; from returnmodels.inference.compiled import compile_for_nutpie;"
        "from returnmodels.inference.fit import build_model;"
        "from returnmodels.data.validation import load_cases;"
        f"m = build_model(load_cases({str(path)!r}), 'group_predictors')[0];"
        "print(json.dumps(compile_for_nutpie(m).cache_status))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == "hit"


@pytest.mark.sampling
def test_without_numba_cache_the_callbacks_are_compiled_uncached(small_cases):
    import pytensor

    model, _, _ = build_model(small_cases, "pooled")
    with pytensor.config.change_flags(numba__cache=False):
        compiled = compile_for_nutpie(model)
    assert compiled.cache_status == "off"
    x = compiled.initial_point_func(0)
    status, logp, _ = _evaluate(compiled, x)
    assert status == 0
    assert logp == pytest.approx(_pymc_logp_and_gradient(model, compiled, x)[0], rel=1e-10)


def test_swapping_data_is_refused(compiled_small):
    with pytest.raises(NotImplementedError, match="cannot swap its data"):
        compiled_small[1].with_data(trials=np.ones(3))


@pytest.mark.sampling
def test_an_unwritable_cache_folder_compiles_uncached(small_cases, monkeypatch, tmp_path):
    import returnmodels.inference.compiled as compiled_module

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setattr(compiled_module, "callback_cache_dir", lambda: blocked / "returnmodels")
    model, _, _ = build_model(small_cases, "pooled")
    compiled = compile_for_nutpie(model)
    assert compiled.cache_status == "off"
    assert _evaluate(compiled, compiled.initial_point_func(0))[0] == 0

"""returnmodels.engine.cache: nutpie's C callbacks, cached on disk, data read at run time.

A toy model (log density -sum(w x^2) / 2 with data w, expansion w x) written as the formula
engine writes its own: the callbacks read the data from the address table they are given,
so one compiled module serves any data, and numba's machine code is loaded from disk in a
later process.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from returnmodels.engine import cache as compiled_module
from returnmodels.engine.cache import array_expression, compile_callbacks

_DATA = array_expression(0, np.empty(0))
SOURCE = f'''\
"""The toy model's callbacks (tests/inference/test_compiled.py)."""
import numba
import numpy as np
from nutpie.compile_pymc import address_as_void_pointer

logp_fn = None
expand_fn = None


def logp(dim, x_, out_, logp_, user_data_):
    table = numba.carray(user_data_, (2,), np.uint64)
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (dim,))
    logp_out = numba.carray(logp_, ())
    logp_val, grad = logp_fn(x, {_DATA})
    logp_out[()] = logp_val
    out[...] = grad
    return 0


def expand(dim, expanded, x_, out_, user_data_):
    table = numba.carray(user_data_, (2,), np.uint64)
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (expanded,))
    (values,) = expand_fn(x, {_DATA})
    out[...] = values
    return 0
'''
#: One module name per source and library versions, as the engine names its own.
NAME = (
    "toy_" + hashlib.sha256((SOURCE + compiled_module.library_versions()).encode()).hexdigest()[:16]
)
_DOUBLE = ctypes.POINTER(ctypes.c_double)


def toy_functions():
    """The toy model's PyTensor functions (numba mode): (logp, gradient) and expansion."""
    import pytensor
    import pytensor.tensor as pt

    x, w = pt.dvector("x"), pt.dvector("w")
    lp = -0.5 * pt.sum(w * x**2)
    logp_fn = pytensor.function([x, w], [lp, pytensor.grad(lp, x)], mode="NUMBA")
    expand_fn = pytensor.function([x, w], [w * x], mode="NUMBA")
    return logp_fn, expand_fn


def call(logp_callback, expand_callback, x: np.ndarray, w: np.ndarray):
    """Both callbacks called as nutpie calls them, with ``w`` in the data table:
    (logp status, logp, gradient, expand status, expansion)."""
    x, w = np.ascontiguousarray(x, float), np.ascontiguousarray(w, float)
    table = np.array([w.ctypes.data, len(w)], dtype=np.uint64)
    grad, logp, out = np.zeros(len(x)), np.zeros(()), np.zeros(len(x))
    user = ctypes.c_void_p(table.ctypes.data)
    status = logp_callback.ctypes(
        len(x), x.ctypes.data_as(_DOUBLE), grad.ctypes.data_as(_DOUBLE),
        logp.ctypes.data_as(_DOUBLE), user,
    )  # fmt: skip
    expanded = expand_callback.ctypes(
        len(x), len(x), x.ctypes.data_as(_DOUBLE), out.ctypes.data_as(_DOUBLE), user
    )
    return status, float(logp), grad, expanded, out


def _check_values(logp_callback, expand_callback) -> None:
    x = np.array([0.5, -1.0, 2.0])
    for w in (np.array([1.0, 2.0, 3.0]), np.array([4.0, 0.5, 0.25])):  # data at call time
        status, logp, grad, expanded, out = call(logp_callback, expand_callback, x, w)
        assert (status, expanded) == (0, 0)
        assert logp == pytest.approx(-0.5 * np.sum(w * x**2), rel=1e-12)
        np.testing.assert_allclose(grad, -w * x, rtol=1e-12)
        np.testing.assert_allclose(out, w * x, rtol=1e-12)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "returnmodels"
    monkeypatch.setattr(compiled_module, "callback_cache_dir", lambda: folder)
    return folder


@pytest.mark.sampling
def test_callbacks_read_the_data_they_are_given_and_load_from_disk_later(cache_dir):
    """Compiled once and stored; a new process loads both callbacks from the disk cache
    (numba's cache hits) and they compute the same values for other data."""
    logp_callback, expand_callback, cacheable = compile_callbacks(
        NAME, SOURCE, *toy_functions(), True
    )
    assert cacheable and (cache_dir / f"{NAME}.py").read_text() == SOURCE
    _check_values(logp_callback, expand_callback)
    script = (
        "import json, pathlib, sys; sys.path.insert(0, sys.argv[2]);"
        "from test_compiled import NAME, SOURCE, _check_values, toy_functions;"
        "import returnmodels.engine.cache as c;"
        "c.callback_cache_dir = lambda: pathlib.Path(sys.argv[1]);"
        "lp, ex, ok = c.compile_callbacks(NAME, SOURCE, *toy_functions(), True);"
        "_check_values(lp, ex);"
        "print(json.dumps([ok, lp.cache_hits + ex.cache_hits]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(cache_dir), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [True, 2]


@pytest.mark.sampling
def test_without_numba_cache_the_callbacks_are_compiled_uncached(cache_dir):
    logp_callback, expand_callback, cacheable = compile_callbacks(
        NAME + "_off", SOURCE, *toy_functions(), False
    )
    assert not cacheable and not cache_dir.exists()
    _check_values(logp_callback, expand_callback)


@pytest.mark.sampling
def test_an_unwritable_cache_folder_compiles_uncached(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setattr(compiled_module, "callback_cache_dir", lambda: blocked / "returnmodels")
    logp_callback, expand_callback, cacheable = compile_callbacks(
        NAME + "_blocked", SOURCE, *toy_functions(), True
    )
    assert not cacheable
    _check_values(logp_callback, expand_callback)

"""nutpie's C callbacks for the formula engine, with numba's machine code cached on disk.

nutpie (0.16) calls a model's log density and gradient, and the function that expands a
draw into every traced variable, through two C callbacks that numba compiles from
PyTensor's numba functions of the two graphs. ``nutpie.compile_pymc_model`` compiles them
again in every process: they close over the data arrays, which numba cannot cache.

Here the two callbacks are written out as a small Python module (its source given by
the caller: :mod:`returnmodels.engine.graph` writes the engine's) and numba
caches their machine code next to it. The data are not part of the module: they reach
the callbacks at run time through a table of addresses and shapes
(:func:`array_expression` reads one array from it), so a later fit of other data, in any
process, loads the callbacks instead of compiling them.

The modules and numba's cache files live in ``<pytensor base_compiledir>/returnmodels``
(by default ``~/.pytensor``), next to PyTensor's own numba cache. When ``numba__cache``
is off or the cache folder cannot be written, the callbacks are compiled without
caching.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import numba
import numpy as np
import nutpie
import pytensor

__all__ = [
    "array_expression",
    "callback_cache_dir",
    "compile_callbacks",
    "library_versions",
]


def callback_cache_dir() -> Path:
    """Where the generated callback modules and their numba cache files live."""
    return Path(pytensor.config.base_compiledir) / "returnmodels"


def array_expression(offset: int, value: np.ndarray) -> str:
    """Numba source reading one data array from the table at ``offset``."""
    shape = ", ".join(f"int(table[{offset + 1 + i}])" for i in range(value.ndim))
    shape = f"({shape},)" if value.ndim == 1 else f"({shape})"
    return f"numba.carray(address_as_void_pointer(table[{offset}]), {shape}, np.{value.dtype.name})"


def _write_module(path: Path, source: str) -> None:
    """Write ``source`` to ``path`` whole (a rename), unless it is there already."""
    if path.exists() and path.read_text() == source:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "w") as out:
        out.write(source)
    os.replace(tmp, path)


def _load_module(path: Path, name: str, register: bool = True):
    """Import the module at ``path``; ``register`` keeps it (once) in ``sys.modules``,
    which only a module whose file stays (the cached one) may be."""
    if register and name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if register:
        sys.modules[name] = module
    return module


def library_versions() -> str:
    """The versions of the libraries compiled code depends on, for cache keys."""
    return f"numba {numba.__version__} nutpie {nutpie.__version__} pytensor {pytensor.__version__}"


#: The C signatures nutpie calls: logp(dim, x, grad, logp, user data) and
#: expand(dim, expanded, x, out, user data).
LOGP_SIGNATURE = numba.types.int64(
    numba.types.uint64,
    numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double),
    numba.types.voidptr,
)
EXPAND_SIGNATURE = numba.types.int64(
    numba.types.uint64,
    numba.types.uint64,
    numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double),
    numba.types.voidptr,
)


def compile_callbacks(name: str, source: str, logp_pt, expand_pt, cacheable: bool):
    """``(logp, expand, cacheable)``: the callbacks of the module ``source`` (with its
    ``logp_fn`` and ``expand_fn`` set to the two PyTensor functions' numba code), cached
    on disk as ``<callback_cache_dir>/<name>.py`` when ``cacheable`` and the folder can
    be written, else compiled from a temporary module."""
    path = callback_cache_dir() / f"{name}.py"
    if cacheable:
        try:
            _write_module(path, source)
        except OSError:  # a cache folder that cannot be written: compile uncached
            cacheable = False
    if cacheable:
        module = _load_module(path, f"returnmodels_{name}")
    else:
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / f"{name}.py"
            _write_module(path, source)
            module = _load_module(path, f"returnmodels_{name}", register=False)
    module.logp_fn = logp_pt.vm.jit_fn
    module.expand_fn = expand_pt.vm.jit_fn
    logp_callback = numba.cfunc(LOGP_SIGNATURE, cache=cacheable)(module.logp)
    expand_callback = numba.cfunc(EXPAND_SIGNATURE, cache=cacheable)(module.expand)
    return logp_callback, expand_callback, cacheable

"""Compile a PyMC model for nutpie, with its C callbacks cached on disk across processes.

nutpie (0.16) calls a model's log density and gradient, and the function that expands a
draw into every traced variable, through two C callbacks that numba compiles from
PyTensor's numba functions of the two graphs. ``nutpie.compile_pymc_model`` compiles them
again in every process: they close over the data arrays, which numba cannot cache. That
was 6-20 s of every fit's compile on the bundled data (``benchmarks/README.md``).

Here the two callbacks are written out as a small Python module per pair of graphs and
numba caches their machine code next to it. The module's name is a hash of PyTensor's own
cache keys of the two graphs (which cover each graph's operations, static shapes and
constants) plus the layout of the data and the versions of numba, nutpie and PyTensor.
The data are not part of the key: every data array is a shared variable
(:func:`returnmodels.models._common.data`), and reaches the callbacks at run time through
a table of addresses and shapes. A later fit of the same model structure, in any process
(another seed, another notebook of the batch, other data of the same shape), loads the
callbacks instead of compiling them; a different structure gets its own module.

The modules and numba's cache files live in ``<pytensor base_compiledir>/returnmodels``
(by default ``~/.pytensor``), next to PyTensor's own numba cache. When PyTensor gives no
cache key for a graph (it found something it cannot cache), ``numba__cache`` is off
or the cache folder cannot be written, the callbacks are compiled as nutpie does, without
caching.

This builds nutpie's own ``CompiledPyMCModel`` from nutpie's graph functions
(``nutpie.compile_pymc._make_functions``), so the sampler sees exactly what
``compile_pymc_model`` would give it, except the data table: ``with_data`` is not
supported.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import nutpie
import pytensor
from nutpie import compile_pymc as nutpie_pymc
from pymc.initial_point import make_initial_point_fn
from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

__all__ = [
    "CACHE_LAYOUT_VERSION",
    "CachedCallbacksModel",
    "array_expression",
    "callback_cache_dir",
    "compile_callbacks",
    "compile_for_nutpie",
    "library_versions",
]

#: Bump when the generated module changes, so old cache entries are not reused.
CACHE_LAYOUT_VERSION = 1

_TEMPLATE = '''\
"""nutpie C callbacks for one compiled model structure (returnmodels.inference.compiled)."""
import numba
import numpy as np
from nutpie.compile_pymc import address_as_void_pointer

# Set by returnmodels.inference.compiled before numba compiles the callbacks;
# a cache hit never reads them.
logp_fn = None
expand_fn = None


def logp(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
        table = numba.carray(user_data_, ({table_size},), np.uint64)
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_dim},))
        logp_out = numba.carray(logp_, ())
        logp_val, grad = logp_fn(x{logp_args})
        logp_out[()] = logp_val
        out[...] = grad
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:  # noqa: BLE001
        return 1
    return 0


def expand(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    try:
        table = numba.carray(user_data_, ({table_size},), np.uint64)
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_expanded},))
        (values,) = expand_fn(x{expand_args})
        out[...] = values
    except Exception:  # noqa: BLE001
        return -2
    return 0
'''


def callback_cache_dir() -> Path:
    """Where the generated callback modules and their numba cache files live."""
    return Path(pytensor.config.base_compiledir) / "returnmodels"


def _graph_key(function) -> str | None:
    """PyTensor's numba cache key of a compiled function's graph, if it has one."""
    jit_fn = getattr(function.vm, "jit_fn", None)
    return CACHED_SRC_FUNCTIONS.get(getattr(jit_fn, "py_func", None))


def array_expression(offset: int, value: np.ndarray) -> str:
    """Numba source reading one data array from the table at ``offset``."""
    shape = ", ".join(f"int(table[{offset + 1 + i}])" for i in range(value.ndim))
    shape = f"({shape},)" if value.ndim == 1 else f"({shape})"
    return f"numba.carray(address_as_void_pointer(table[{offset}]), {shape}, np.{value.dtype.name})"


def _data_table(shared: list, values: dict) -> tuple[np.ndarray, dict]:
    """The table (address, shape...) of every data array, and each array's offset."""
    table, offsets = [], {}
    for var in shared:
        value = values[var]
        offsets[var] = len(table)
        table += [value.ctypes.data, *value.shape]
    return np.array(table or [0], dtype=np.uint64), offsets


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


def compile_for_nutpie(model):
    """``nutpie.compile_pymc_model(model, backend="numba")``, with cached C callbacks.

    Returns a :class:`CachedCallbacksModel` (nutpie's ``CompiledPyMCModel``) whose
    ``cache_status`` says whether the callbacks came from the disk cache.
    """
    # As compile_pymc_model's defaults: support points, jittered.
    initial_point = make_initial_point_fn(
        model=model,
        default_strategy="support_point",
        jitter_rvs=set(model.free_RVs),
        return_transformed=True,
    )
    (n_dim, n_expanded, logp_pt, expand_pt, initial_point_fn, shape_info, reparameterized) = (
        nutpie_pymc._make_functions(
            model,
            mode="NUMBA",
            compute_grad=True,
            join_expanded=True,
            pymc_initial_point_fn=nutpie_pymc._wrap_with_lock(initial_point),
        )
    )
    shared = list(dict.fromkeys([*logp_pt.get_shared(), *expand_pt.get_shared()]))
    values = {}
    for var in shared:
        value = np.array(var.get_value(), order="C", copy=True)
        value.flags.writeable = False
        values[var] = value
    table, offsets = _data_table(shared, values)

    def arguments(function) -> str:
        return "".join(
            f", {array_expression(offsets[var], values[var])}" for var in function.get_shared()
        )

    source = _TEMPLATE.format(
        n_dim=n_dim,
        n_expanded=n_expanded,
        table_size=len(table),
        logp_args=arguments(logp_pt),
        expand_args=arguments(expand_pt),
    )
    graph_keys = (_graph_key(logp_pt), _graph_key(expand_pt))
    cacheable = bool(pytensor.config.numba__cache) and None not in graph_keys
    digest = hashlib.sha256(
        "\n".join(
            [f"layout {CACHE_LAYOUT_VERSION}", library_versions(), *map(str, graph_keys), source]
        ).encode()
    ).hexdigest()[:40]
    logp_callback, expand_callback, cacheable = compile_callbacks(
        f"nutpie_callbacks_{digest}", source, logp_pt, expand_pt, cacheable
    )
    hits = logp_callback.cache_hits + expand_callback.cache_hits
    dims, coords = nutpie_pymc._prepare_dims_and_coords(model, shape_info, reparameterized)
    return CachedCallbacksModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_callback,
        compiled_expand_func=expand_callback,
        initial_point_func=initial_point_fn,
        shared_data={str(i): values[var] for i, var in enumerate(shared)},
        shared_var_keys={var: str(i) for i, var in enumerate(shared)},
        user_data=table,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_pt,
        expand_func=expand_pt,
        reparameterized_names=reparameterized,
        cache_status="off" if not cacheable else ("hit" if hits == 2 else "miss"),
    )


@dataclass(frozen=True)
class CachedCallbacksModel(nutpie_pymc.CompiledPyMCModel):
    """nutpie's compiled model whose callbacks read the data from an address table.

    ``cache_status``: ``"hit"`` (callbacks loaded from disk), ``"miss"`` (compiled and
    stored) or ``"off"`` (compiled, not cacheable).
    """

    cache_status: str = "off"

    def with_data(self, **updates):
        raise NotImplementedError(
            "a model from returnmodels.inference.compiled.compile_for_nutpie cannot swap its data; "
            "build and compile the model with the new data instead"
        )

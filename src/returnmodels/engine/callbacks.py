"""The engine compiled: PyTensor's numba functions of each graph wrapped in nutpie's C
callbacks (cached on disk by :mod:`returnmodels.engine.cache`), once per process and
family, and a design's nutpie model over them (:class:`FormulaModel`).
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass

import numpy as np
import pytensor
from nutpie import compile_pymc as nutpie_pymc

from returnmodels.engine import cell_kernel, unit_kernel
from returnmodels.engine.cache import array_expression, compile_callbacks, library_versions
from returnmodels.engine.design import FormulaDesign
from returnmodels.engine.graph import engine_graph
from returnmodels.engine.inputs import (
    INPUTS,
    crossed_ridge,
    engine_inputs,
    family_of,
    has_units,
    needs_general,
    reflected,
)

#: Bump when the graph or the callback template changes (the units' kernel is keyed by
#: its own source as well).
ENGINE_VERSION = 12


#: The callbacks' module source. Its text is part of the cache key (with ENGINE_VERSION
#: and the graph), so it keeps the words it was written with, the engine's old module
#: name included: a new text would only recompile every cached engine.
_TEMPLATE = '''\
"""nutpie C callbacks of the formula engine (returnmodels.inference.formula_fit)."""
import numba
import numpy as np
from nutpie.compile_pymc import address_as_void_pointer

logp_fn = None
expand_fn = None


def logp(dim, x_, out_, logp_, user_data_):
    try:
        table = numba.carray(user_data_, ({table_size},), np.uint64)
        x = numba.carray(x_, (dim,))
        out = numba.carray(out_, (dim,))
        logp_out = numba.carray(logp_, ())
        logp_val, grad = logp_fn(x{args})
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
    try:
        table = numba.carray(user_data_, ({table_size},), np.uint64)
        x = numba.carray(x_, (dim,))
        out = numba.carray(out_, (expanded,))
        (values,) = expand_fn(x{args})
        out[...] = values
    except Exception:  # noqa: BLE001
        return -2
    return 0
'''


@dataclass
class CompiledEngine:
    logp_fn: object
    expand_fn: object
    logp_callback: object
    expand_callback: object
    cache_status: str


#: The compiled engines of this process, by family (``binomial``, ``multinomial``) and
#: whether general (:func:`needs_general`).
_ENGINES: dict[tuple[str, bool, bool], CompiledEngine] = {}


def _offsets() -> dict[str, int]:
    offsets, at = {}, 0
    for name, _, ndim in INPUTS:
        offsets[name] = at
        at += 1 + ndim
    return offsets


def compiled_engine(
    family: str = "binomial", general: bool = True, units: bool = False, reflected: bool = False
) -> CompiledEngine:
    """The compiled engine of ``family``, general or not, with an integrated intercept's
    patterns or not, with reflected crossed levels or not (:func:`engine_graph`): built
    once per process, loaded from disk when cached."""
    key = (family, general, units, reflected)
    if key in _ENGINES:
        return _ENGINES[key]
    theta, inputs, lp, grad, expanded = engine_graph(
        family == "multinomial", general, units, reflected
    )
    mode = "NUMBA"
    logp_fn = pytensor.function([theta, *inputs], [lp, grad], mode=mode, on_unused_input="ignore")
    expand_fn = pytensor.function([theta, *inputs], [expanded], mode=mode, on_unused_input="ignore")
    offsets = _offsets()
    table_size = sum(1 + ndim for _, _, ndim in INPUTS)
    args = "".join(
        ", " + array_expression(offsets[name], np.empty((0,) * ndim, dtype=dtype))
        for name, dtype, ndim in INPUTS
    )
    source = _TEMPLATE.format(table_size=table_size, args=args)
    # the graph itself is part of the key: numba caches the callbacks with the graph's
    # code linked in, so a changed graph under an unchanged ENGINE_VERSION and source
    # would otherwise run the old graph on the new data arrays; so are the kernels, whose
    # code the graph's text (an Op's name) does not show
    graph = pytensor.printing.debugprint([lp, grad, expanded], file="str", print_type=True)
    kernel = inspect.getsource(cell_kernel) + (inspect.getsource(unit_kernel) if units else "")
    digest = hashlib.sha256(
        (
            f"formula engine {ENGINE_VERSION} {family} {general} {units} {reflected}\n"
            f"{library_versions()}\n{source}\n{graph}\n{kernel}"
        ).encode()
    ).hexdigest()[:32]
    logp_callback, expand_callback, cacheable = compile_callbacks(
        f"formula_engine_{digest}", source, logp_fn, expand_fn, bool(pytensor.config.numba__cache)
    )
    hits = logp_callback.cache_hits + expand_callback.cache_hits
    status = "off" if not cacheable else ("hit" if hits == 2 else "miss")
    _ENGINES[key] = CompiledEngine(logp_fn, expand_fn, logp_callback, expand_callback, status)
    return _ENGINES[key]


@dataclass(frozen=True)
class FormulaModel(nutpie_pymc.CompiledPyMCModel):
    """nutpie's compiled model over the formula engine; ``cache_status`` as in
    :mod:`returnmodels.engine.cache` (``process`` when this process had it) and
    ``graph``, the compiled graph that samples it (``binomial, lean`` and the like);
    ``crossed_ridge``: whether it has crossed levels that their data pin down, whose
    mean the intercept takes in (:func:`crossed_ridge`); ``reflected``: whether the
    engine samples those levels reflected, their common direction a coordinate of its
    own (:func:`reflected`)."""

    cache_status: str = "off"
    graph: str = ""
    crossed_ridge: bool = False
    reflected: bool = False

    def with_data(self, **updates):
        raise NotImplementedError("build a new FormulaModel for new data")


def _initial_point(design: FormulaDesign, layout_n_dim: int, S: int):
    """Uniform(-0.5, 0.5) around the pooled log-odds of each linear predictor's category
    (the intercept) and SDs of 0.5."""
    P, M = design.X.shape[1], design.n_linear
    counts = design.linear_counts().sum(axis=0)
    reference = design.trials.sum() - counts.sum()
    log_odds = np.log((counts + 0.5) / (reference + 0.5))
    labels = design.column_labels()

    def initial(seed):
        rng = np.random.default_rng(seed)
        point = rng.uniform(-0.5, 0.5, size=layout_n_dim)
        if "Intercept" in labels:
            point[np.arange(M) * P + labels.index("Intercept")] += log_odds
        point[M * P : M * (P + S)] += np.log(0.5)
        return point

    return initial


def compile_formula_model(design: FormulaDesign, likelihood_weight: int = 1) -> FormulaModel:
    """The nutpie model of ``design``: the shared engine with this design's data table
    (``likelihood_weight=0``: its prior alone, :func:`engine_inputs`)."""
    family = family_of(design)
    arrays, layout = engine_inputs(design, likelihood_weight)
    general, units, flipped = needs_general(arrays), has_units(arrays), reflected(arrays)
    fresh = (family, general, units, flipped) not in _ENGINES
    engine = compiled_engine(family, general, units, flipped)
    table = []
    for name, _, _ in INPUTS:
        value = arrays[name]
        value.flags.writeable = False
        table += [value.ctypes.data, *value.shape]
    user_data = np.array(table, dtype=np.uint64)
    sizes = arrays["sizes"]
    S = int(sizes[1])
    shape_info = (layout.names, layout.slices, layout.shapes)
    return FormulaModel(
        dims=layout.dims,
        _n_dim=layout.n_dim,
        _coords=layout.coords,
        _shapes=dict(zip(layout.names, layout.shapes, strict=True)),
        compiled_logp_func=engine.logp_callback,
        compiled_expand_func=engine.expand_callback,
        initial_point_func=_initial_point(design, layout.n_dim, S),
        shared_data=arrays,
        shared_var_keys={},
        user_data=user_data,
        n_expanded=layout.n_expanded,
        shape_info=shape_info,
        logp_func=engine.logp_fn,
        expand_func=engine.expand_fn,
        cache_status=engine.cache_status if fresh else "process",
        graph=f"{family}, {'general' if general else 'lean'}"
        + (f", {design.integrated.factor} integrated" if units else "")
        + (", reflected" if flipped else ""),
        crossed_ridge=crossed_ridge(arrays),
        reflected=flipped,
    )


def log_density(
    design: FormulaDesign, theta: np.ndarray, likelihood_weight: int = 1
) -> tuple[float, np.ndarray]:
    """The engine's log density and gradient at ``theta`` (for tests and checks)."""
    arrays, _ = engine_inputs(design, likelihood_weight)
    engine = compiled_engine(
        family_of(design), needs_general(arrays), has_units(arrays), reflected(arrays)
    )
    value, grad = engine.logp_fn(np.asarray(theta, float), *(arrays[n] for n, _, _ in INPUTS))
    return float(value), np.asarray(grad)

"""Fit a registered model: validate, build, sample, stamp, judge.

:func:`fit` is the one call behind ``returnmodels fit``. Configuration is checked before
any compilation. Every model, formula or registered, is a term table
(:class:`~returnmodels.engine.design.FormulaDesign`) and one model whatever the sampler
(:data:`SAMPLERS`): nutpie, the default, samples it on the precompiled formula engine
(nothing compiled); ``pymc`` and ``numpyro`` sample the PyMC model generated from the
same term table (:mod:`returnmodels.models.pymc_model`, the same density, names and dims;
compiled per model). A prior neither has is refused, naming it; no sampler falls back to
another model. nutpie's mass-matrix adaptation is chosen by the model's dimension
(``adaptation="auto"``): nutpie's low-rank modified adaptation up to
:data:`LOW_RANK_MAX_DIM` unconstrained parameters, its diagonal one above, because
low-rank's warm-up cost grows steeply with the dimension (the measurements behind the
threshold: ``benchmarks/README.md``), and with its covariances regularised by
:data:`LOW_RANK_GAMMA`, without which its updates cost up to ten times the gradients on
some formulas. A model whose crossed levels the engine samples reflected
(:func:`returnmodels.engine.policy.mean_reflection`: the direction in which they move
together is a coordinate of its own) gets the diagonal one at any dimension: the
correlation low-rank would learn is gone, and its updates cost about a quarter of the
sampling (the crossed closing years on the bundled data: 7.4-7.8 gradients a draw on
either, 9.3-9.7 CPU s against 12.3-12.5, min bulk ESS 1,922-2,488). The
choice is recorded in ``returnmodels_sampler``. The sampler is always named explicitly,
so results never depend on what happens to be installed.

The engine's graphs are compiled once per environment: PyTensor caches their numba
functions and :mod:`returnmodels.engine.cache` nutpie's C callbacks under
``pytensor.config.base_compiledir`` (by default ``~/.pytensor``); ``compile_cache`` in
``returnmodels_sampler`` says which served a fit (``process``, ``hit``, ``miss`` or
``off``). The pointwise log-likelihood of the binary models is
computed in NumPy from the posterior (the same values as ``pm.compute_log_likelihood``,
without a compile).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import nutpie
import pandas as pd
import pymc as pm
import xarray as xr
from threadpoolctl import threadpool_limits

from returnmodels.disclosure.posterior import SUPPORT_GROUP, support_dataset
from returnmodels.engine.callbacks import ENGINE_VERSION, compile_formula_model
from returnmodels.engine.design import FormulaDesign, build_formula_design, competing_stage
from returnmodels.engine.parse import split_response
from returnmodels.engine.policy import nesting_parent
from returnmodels.engine.result import complete_formula_result
from returnmodels.errors import ConfigError
from returnmodels.inference.diagnostics import check_convergence
from returnmodels.inference.results import stamp
from returnmodels.models.columns import CASE_FILE_SPEC, ColumnSpec, check_data, read_data
from returnmodels.models.presets import PRESETS, preset_call
from returnmodels.models.pymc_model import engine_names, pymc_model
from returnmodels.models.support import stage_prefixes, support_table

__all__ = [
    "ADAPTATIONS",
    "DEFAULT_SAMPLING",
    "LOW_RANK_GAMMA",
    "LOW_RANK_MAX_DIM",
    "MAX_SEED",
    "SAMPLERS",
    "auto_adaptation",
    "check_sampling",
    "engine_design",
    "engine_stages",
    "fit",
    "formula_columns",
    "load_data",
    "sample_compiled",
]

#: Sampler settings used when the caller gives none.
DEFAULT_SAMPLING: dict = {
    "sampler": "nutpie",
    "draws": 1000,
    "tune": 1000,
    "chains": 4,
    "random_seed": 20251,
    "target_accept": 0.8,
    "adaptation": "auto",
}

#: nutpie mass-matrix adaptations; ``auto`` picks ``low_rank`` up to this many
#: unconstrained parameters and ``diag`` above (:func:`auto_adaptation`).
ADAPTATIONS = ("auto", "low_rank", "diag")
LOW_RANK_MAX_DIM = 200
#: nutpie's ``mass_matrix_gamma`` for low-rank adaptation (its default 1e-5): the
#: regularisation of the draw and gradient covariances whose eigenvectors the mass
#: matrix keeps. At 1e-5 the warm-up's updates (every 20 draws) cost 10 s a chain on
#: ``assisted ~ C(n_procedures) + gender + (1 | nationality)`` (143 parameters, about
#: 1 s of gradients) and 8 s on the crossed closing years; at 0.1 about 1 s, with the
#: same or larger ESS (``benchmarks/README.md``, "Exploration").
LOW_RANK_GAMMA = 0.1
#: target_accept of a formula model with a correlated group block or nested groups,
#: unless one is given: smaller steps for the curved geometry of a slope SD, or of the
#: SD of a few parent levels, near zero (rstanarm's glmer default is 0.95; on the
#: bundled data 0.9 passes the gate where 0.8 does not).
CORRELATED_TARGET_ACCEPT = 0.9

#: The largest seed: nutpie's seed is an unsigned 64-bit integer. A model sampled in
#: stages gives stage ``i`` the seed ``random_seed + i``, wrapped below 2**64.
MAX_SEED = 2**64 - 1


def auto_adaptation(compiled) -> str:
    """The mass-matrix adaptation ``auto`` picks for a compiled model: diagonal where the
    engine samples crossed levels reflected (``compiled.reflected``, see the module),
    else low-rank up to :data:`LOW_RANK_MAX_DIM` parameters and diagonal above."""
    if getattr(compiled, "reflected", False):
        return "diag"
    return "low_rank" if compiled.n_dim <= LOW_RANK_MAX_DIM else "diag"


def _run_nutpie(compiled, settings: dict, cache: str) -> xr.DataTree:
    """nutpie on a compiled model, its adaptation chosen by :func:`auto_adaptation`
    (``auto``); the adaptation, dimension and compile cache go into
    ``settings["details"]``."""
    adaptation = settings["adaptation"]
    if adaptation == "auto":
        adaptation = auto_adaptation(compiled)
    settings["details"] |= {
        "adaptation": adaptation,
        "n_dim": int(compiled.n_dim),
        "compile_cache": cache,
    }
    low_rank = {"mass_matrix_gamma": LOW_RANK_GAMMA} if adaptation == "low_rank" else {}
    # nutpie runs the chains on threads of its own, one a core; a BLAS that also splits
    # each of their matrix-vector products over every core (OpenBLAS does above about
    # 100,000 elements: the every-predictor model's 29,454 cells x 17 columns) makes its
    # threads wait on each other whenever anything else runs: 0.52 ms a product against
    # 0.12 ms single-threaded at load 1.5 on 2 cores, 4.4 ms against 0.32 beside one busy
    # process, 0.07 against 0.12 only when the machine is idle (benchmarks/blas_threads.py);
    # a fit of that model took 87 to 602 s with the load
    with threadpool_limits(limits=1, user_api="blas"):
        return nutpie.sample(
            compiled,
            draws=settings["draws"],
            tune=settings["tune"],
            chains=settings["chains"],
            cores=settings["cores"],
            seed=settings["random_seed"],
            adaptation=adaptation,
            target_accept=settings["target_accept"],
            save_warmup=False,
            progress_bar=settings["progressbar"],
            **low_rank,
        )


def sample_compiled(
    compiled,
    *,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int,
    target_accept: float = DEFAULT_SAMPLING["target_accept"],
    progressbar: bool = False,
) -> xr.DataTree:
    """nutpie on a compiled engine model with :func:`fit`'s rules (the adaptation by
    :func:`auto_adaptation`, one core per chain): for checks that sample many small models (the
    prior predictive, simulation-based calibration)."""
    settings = DEFAULT_SAMPLING | {
        "draws": draws, "tune": tune, "chains": chains, "random_seed": random_seed,
        "target_accept": target_accept, "cores": min(chains, os.cpu_count() or 1),
        "progressbar": progressbar, "details": {},
    }  # fmt: skip
    return _run_nutpie(compiled, settings, compiled.cache_status)


def _sample_pm(nuts_sampler: str) -> Callable:
    """PyMC's ``pm.sample`` with ``nuts_sampler`` (``pymc`` or ``numpyro``), keeping the
    variables ``var_names``."""

    def sample(model: pm.Model, settings: dict, var_names: list[str]) -> xr.DataTree:
        return pm.sample(
            draws=settings["draws"],
            tune=settings["tune"],
            chains=settings["chains"],
            cores=settings["cores"],
            random_seed=settings["random_seed"],
            nuts_sampler=nuts_sampler,
            target_accept=settings["target_accept"],
            progressbar=settings["progressbar"],
            compute_convergence_checks=False,
            var_names=var_names,
            model=model,
        )

    return sample


#: The samplers by name: ``nutpie`` on the precompiled engine, ``pymc`` and ``numpyro``
#: (PyMC's and NumPyro's NUTS) on the PyMC model of the same term table.
SAMPLERS: tuple[str, ...] = ("nutpie", "pymc", "numpyro")


def _sampling(overrides: Mapping) -> dict:
    settings = DEFAULT_SAMPLING | {k: v for k, v in overrides.items() if v is not None}
    if settings["sampler"] not in SAMPLERS:
        raise ConfigError(
            f"unknown sampler {settings['sampler']!r}; choose one of {list(SAMPLERS)}"
        )
    for key in ("draws", "tune", "chains"):
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConfigError(f"{key} must be a whole number >= 1, got {value!r}")
        settings[key] = int(value)
    seed = settings["random_seed"]
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not 0 <= seed <= MAX_SEED
    ):
        raise ConfigError(
            f"random_seed must be a whole number from 0 to {MAX_SEED} (2**64 - 1, "
            f"nutpie's unsigned 64-bit seed), got {seed!r}"
        )
    settings["random_seed"] = int(seed)
    if not 0.5 <= float(settings["target_accept"]) < 1:
        raise ConfigError(f"target_accept must be in [0.5, 1), got {settings['target_accept']!r}")
    if settings["adaptation"] not in ADAPTATIONS:
        raise ConfigError(
            f"unknown adaptation {settings['adaptation']!r}; choose one of {list(ADAPTATIONS)}"
        )
    return settings


def check_sampling(overrides: Mapping) -> dict:
    """The sampler settings :func:`fit` would use (defaults, then ``overrides``), or a
    :class:`~returnmodels.errors.ConfigError` naming the first bad one: for a caller that
    checks its options before it reads anything (``returnmodels fit``)."""
    return _sampling(overrides)


def _data_checksum(data: pd.DataFrame) -> str:
    """SHA-256 of the validated frame (column names and values), however it was given:
    a file and the frame read from it get the same checksum."""
    hashed = pd.util.hash_pandas_object(data, index=False).to_numpy()
    columns = json.dumps([str(c) for c in data.columns]).encode()
    return hashlib.sha256(columns + hashed.tobytes()).hexdigest()


def _load(data: pd.DataFrame | str | os.PathLike, spec: ColumnSpec) -> tuple[pd.DataFrame, str]:
    """The data and their checksum. A frame gets the checks a file gets
    (:func:`returnmodels.models.columns.check_data`: case files the whole contract, rows
    counted from 1); a path is read by :func:`returnmodels.models.columns.read_data`."""
    frame = check_data(data, spec) if isinstance(data, pd.DataFrame) else read_data(data, spec)
    return frame, _data_checksum(frame)


def formula_columns(formula: str) -> ColumnSpec:
    """The columns a formula's data are checked as: a case file for its responses
    (``assisted``, ``outcome``), any other table else."""
    response = split_response(formula)[0]
    return CASE_FILE_SPEC if response in ("assisted", "outcome") else ColumnSpec(outcome=response)


def load_data(
    data: pd.DataFrame | str | os.PathLike, columns: ColumnSpec
) -> tuple[pd.DataFrame, str]:
    """``data`` checked as :func:`fit` checks them for ``columns``, and the checksum it
    stamps (``returnmodels_data_sha256``): to tell whether they are a fit's data."""
    return _load(data, columns)


def _stage_seed(seed: int, stage: int) -> int:
    """The seed of stage ``stage`` of a model sampled in stages (within 0..MAX_SEED)."""
    return (seed + stage) % (MAX_SEED + 1)


#: ``0`` turns the default progress bar off (batch workers set it for their notebooks).
PROGRESS_ENV = "RETURNMODELS_PROGRESS"


def show_progress(progressbar: bool | None = None) -> bool:
    """``progressbar`` if given; by default (``None``) on in a Jupyter kernel or on a
    terminal, off in a batch worker (``RETURNMODELS_PROGRESS=0``) and anywhere else."""
    if progressbar is not None:
        return bool(progressbar)
    setting = os.environ.get(PROGRESS_ENV, "").strip()
    if setting:
        return setting not in ("0", "false", "no", "off")
    return "ipykernel" in sys.modules or sys.stderr.isatty()


def fit(
    data: pd.DataFrame | str | os.PathLike,
    model: str = "group_predictors",
    *,
    columns: ColumnSpec | None = None,
    priors: Mapping | None = None,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    random_seed: int | None = None,
    sampler: str | None = None,
    target_accept: float | None = None,
    adaptation: str | None = None,
    cores: int | None = None,
    progressbar: bool | None = None,
    formula: str | None = None,
    reference: Mapping[str, str] | None = None,
    integrate: Sequence[str] = (),
) -> xr.DataTree:
    """Fit registered ``model`` or ``formula`` to ``data`` (a frame, or a file path);
    return the DataTree.

    A registered model is a named formula (:data:`returnmodels.models.presets.PRESETS`):
    ``fit(data, "group_predictors")`` fits the formula, reference levels and priors its
    preset writes for ``columns`` (:func:`returnmodels.models.presets.preset_call`), on
    the same path and with the same result contract as any formula; the result records
    the model's name and the formula fitted.

    A frame gets the checks its file would: case files (the default columns, or a
    formula whose response is ``assisted`` or ``outcome``) the whole contract, with rows
    counted 1..n; other tables :func:`returnmodels.data.tables.check_table`. Sampler
    settings are checked first (``random_seed`` from 0 to :data:`MAX_SEED`), then the
    data, all before anything is sampled.

    ``columns`` names the columns (:func:`returnmodels.models.column_spec`; default: case
    files); ``priors`` override the model's defaults by class or parameter name. Unset
    sampler settings come from :data:`DEFAULT_SAMPLING`. The result holds posterior,
    sample_stats, log_prior (what ``az.psense_summary`` reads), log_likelihood, observed_data and
    constant_data groups; its attributes hold the model name, merged configuration and
    its hash, the data checksum, the package version, timings and the convergence verdict
    (``returnmodels_verdict``).

    ``formula`` (lme4/brms syntax, :mod:`returnmodels.engine.design`) fits that model
    instead of a registered one, on the precompiled formula engine
    (:mod:`returnmodels.engine.graph`: no compile for a new formula), or with
    ``sampler="pymc"|"numpyro"`` as the PyMC model of its term table
    (:mod:`returnmodels.models.pymc_model`: the same model, compiled); a case
    file's ``outcome ~ ...`` is the competing-outcomes family, sampled in two stages
    (uptake, then the other outcomes: :func:`returnmodels.engine.design.competing_stage`);
    ``reference`` sets categorical reference levels (``{"cooperation": "low"}``) and
    ``priors`` take the formula's classes (``intercept``, ``coefficients``, ``sigma``,
    ``corr``) and parameter names. A second positional argument holding ``~`` is a
    formula: ``fit(cases, "assisted ~ n_procedures + (1 | nationality)")``.

    ``integrate`` names the factors of ``(1 | g)`` terms to integrate out of the
    likelihood instead of sampling one effect per level (:mod:`returnmodels.engine.integrated`:
    Gauss-Hermite quadrature, exact to its error); a term whose levels are many and small
    (``(1 | person_id)`` on case files) is integrated without being named. The result
    records which term was integrated and why.
    """
    settings = _sampling(
        {
            "draws": draws, "tune": tune, "chains": chains, "random_seed": random_seed,
            "sampler": sampler, "target_accept": target_accept, "adaptation": adaptation,
        }
    )  # fmt: skip
    started = time.perf_counter()
    model, formula, columns = _what_is_fitted(model, formula, reference, columns)
    frame, checksum = _load(data, columns)
    design = _design(frame, model, formula, reference, priors, columns, integrate)
    curved = any(block.correlated for block in design.blocks) or any(
        nesting_parent(design, block) is not None for block in design.blocks
    )
    if target_accept is None and curved:
        settings["target_accept"] = CORRELATED_TARGET_ACCEPT
    config = {
        "model": model,
        "formula": design.formula,
        "reference": design.references,
        "priors": design.priors,
        "sampling": settings,
    } | ({"integrate": sorted(integrate)} if integrate else {})
    run = settings | {"cores": cores or min(settings["chains"], os.cpu_count() or 1)}
    run |= {"progressbar": show_progress(progressbar), "timings": {}, "details": {}}
    built = time.perf_counter()
    stages = engine_stages(design)
    sampled_trees = _sample_stages(stages, run)
    sampled = time.perf_counter()
    result = complete_formula_result(sampled_trees, stages)
    result[SUPPORT_GROUP] = support_dataset(support_table(design, prefixes=stage_prefixes(design)))
    stamp(result, model, config, checksum)
    timings = {
        "build_s": built - started,
        "compile_and_sample_s": sampled - built,
        **run["timings"],
        "log_likelihood_s": time.perf_counter() - sampled,
    }
    result.attrs["returnmodels_timings"] = json.dumps(timings)
    result.attrs["returnmodels_sampler"] = json.dumps({"sampler": run["sampler"], **run["details"]})
    result.attrs["returnmodels_verdict"] = json.dumps(check_convergence(result).to_dict())
    return result


def engine_design(
    data: pd.DataFrame | str | os.PathLike,
    model: str = "group_predictors",
    *,
    formula: str | None = None,
    reference: Mapping[str, str] | None = None,
    priors: Mapping | None = None,
    columns: ColumnSpec | None = None,
    integrate: Sequence[str] = (),
) -> tuple[FormulaDesign, ...]:
    """The term tables the engine samples for ``model`` or ``formula`` on ``data`` (one,
    or both stages of the competing-outcomes family), every check of :func:`fit` made,
    nothing sampled: what the prior predictive check and simulation-based calibration
    run the engine on."""
    model, formula, columns = _what_is_fitted(model, formula, reference, columns)
    frame, _ = _load(data, columns)
    return engine_stages(_design(frame, model, formula, reference, priors, columns, integrate))


def engine_stages(design: FormulaDesign) -> tuple[FormulaDesign, ...]:
    """The designs sampled one after the other: the model, or both competing stages."""
    if design.outcome_counts is None:
        return (design,)
    return design, competing_stage(design)


def _what_is_fitted(model, formula, reference, columns) -> tuple[str, str | None, ColumnSpec]:
    """``(model, formula, columns)``: a formula as given (model ``"formula"``, its
    columns from its response), or registered model ``model`` (formula ``None``, columns
    default case files), checked before any data are read."""
    model, formula = _model_or_formula(model, formula)
    if formula is not None:
        return "formula", formula, columns or formula_columns(formula)
    if model not in PRESETS:
        raise ConfigError(f"unknown model {model!r}; choose one of {list(PRESETS)}")
    if reference is not None:
        raise ConfigError("reference levels are set with a formula; give formula=...")
    return model, None, columns or CASE_FILE_SPEC


def _design(frame, model, formula, reference, priors, columns, integrate=()) -> FormulaDesign:
    """The term table of ``formula``, or of registered model ``model`` as the formula its
    preset writes for ``columns`` (:func:`returnmodels.models.presets.preset_call`),
    its cells split by the group whether or not the formula has a group term;
    ``integrate``: factors of ``(1 | g)`` terms to integrate out."""
    if isinstance(integrate, str):
        integrate = [integrate]
    if formula is not None:
        return build_formula_design(
            frame, formula, reference=reference, priors=priors, integrate=list(integrate)
        )
    call = preset_call(model, columns, frame, priors)
    return build_formula_design(
        frame,
        call.formula,
        reference=call.reference,
        priors=call.priors,
        cells_by=call.cells_by,
        integrate=list(integrate),
    )


def _model_or_formula(model: str, formula: str | None) -> tuple[str, str | None]:
    """``(model, formula)`` with a formula given in ``model``'s place (it holds ``~``)
    moved to ``formula``; both a formula there and ``formula=`` are refused."""
    if not isinstance(model, str) or "~" not in model:
        return model, formula
    if formula is not None:
        raise ConfigError(
            f"two formulas given: {model!r} in the model's place and formula={formula!r}; give one"
        )
    return "formula", model


def _sample_on_engine(stages, run: dict) -> list[xr.DataTree]:
    """nutpie on the formula engine, stage by stage: the competing-outcomes family is
    uptake, then the other outcomes (independent factors of the posterior, each with its
    own adaptation and seed ``random_seed + i``, joined draw by draw afterwards)."""
    sampled = []
    for i, stage in enumerate(stages):
        settings = run | {
            "random_seed": _stage_seed(run["random_seed"], i),
            "timings": {},
            "details": {},
        }
        started = time.perf_counter()
        compiled = compile_formula_model(stage)
        settings["timings"]["compile_s"] = time.perf_counter() - started
        settings["details"]["engine"] = f"formula engine {ENGINE_VERSION} ({compiled.graph})"
        sampled.append(_run_nutpie(compiled, settings, compiled.cache_status))
        prefix = "" if len(stages) == 1 else f"stage{i}_"
        run["timings"] |= {f"{prefix}{k}": v for k, v in settings["timings"].items()}
        run["details"] |= {f"{prefix}{k}": v for k, v in settings["details"].items()}
    return sampled


def _sample_stages(stages, run: dict) -> list[xr.DataTree]:
    """The stages sampled by ``run["sampler"]``: nutpie on the precompiled engine, or
    PyMC's or NumPyro's NUTS on the PyMC model of each stage's term table."""
    if run["sampler"] == "nutpie":
        return _sample_on_engine(stages, run)
    integrated = [s.integrated.factor for s in stages if s.integrated is not None]
    if integrated:
        raise ConfigError(
            f"'(1 | {integrated[0]})' is integrated out by quadrature on the engine "
            f"(sampler 'nutpie'); the {run['sampler']!r} sampler's PyMC model has no such "
            "term: fit it with the default sampler"
        )
    return _sample_pymc_model(stages, run)


def _sample_pymc_model(stages, run: dict) -> list[xr.DataTree]:
    """``run["sampler"]`` (``pymc`` or ``numpyro``) on the PyMC model of each stage
    (:func:`returnmodels.models.pymc_model.pymc_model`: the engine's model, names and
    dims, every level non-centred), stage ``i`` with seed ``random_seed + i``; the
    posterior keeps the engine's variables (:func:`engine_names`), so the rest of a fit
    reads it as an engine fit's. PyTensor (or JAX) compiles each model: a new formula
    or new data cost a compile here, where the engine compiles nothing."""
    sampled = []
    for i, stage in enumerate(stages):
        settings = run | {"random_seed": _stage_seed(run["random_seed"], i)}
        started = time.perf_counter()
        model = pymc_model(stage)
        tree = _sample_pm(run["sampler"])(model, settings, engine_names(stage))
        stats = tree["sample_stats"].to_dataset()
        stats = stats.drop_vars([k for k, v in stats.data_vars.items() if v.dtype == object])
        posterior = tree["posterior"].to_dataset()
        sampled.append(xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats}))
        prefix = "" if len(stages) == 1 else f"stage{i}_"
        run["timings"][f"{prefix}compile_and_sample_s"] = time.perf_counter() - started
        run["details"] |= {
            f"{prefix}model": "PyMC model of the term table (returnmodels.models.pymc_model)",
            f"{prefix}n_dim": int(sum(v.size for v in model.initial_point().values())),
        }
    return sampled

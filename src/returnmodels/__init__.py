"""returnmodels: hierarchical Bayesian models of assisted-return uptake.

The public API, one call each from Python::

    import returnmodels as rm
    cases = rm.load_cases()      # the bundled case file, read and validated (or a path)
    cells = rm.aggregate_cells(cases, ["n_procedures", "cooperation"])
    sim = rm.simulate_cases(n_cases=10_000, random_seed=1)  # data and true parameters
    result = rm.fit(cases, "assisted ~ n_procedures + (1 | nationality)")
    rm.summary(result)                              # formula, priors, verdict, estimates
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("returnmodels")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from returnmodels.data.cells import aggregate_cells
from returnmodels.data.regions import origin_regions
from returnmodels.data.validation import (
    ContractError,
    format_summary,
    load_cases,
    summarise_cases,
    validate_cases,
)
from returnmodels.errors import ConfigError, ReturnModelsError
from returnmodels.simulate import SimulatedCases, simulate_cases

__all__ = [
    "__version__",
    "ConfigError",
    "ContractError",
    "ReturnModelsError",
    "SimulatedCases",
    "aggregate_cells",
    "format_summary",
    "load_cases",
    "origin_regions",
    "simulate_cases",
    "summarise_cases",
    "validate_cases",
]

# -- the model library, imported on first use (PyMC is heavy) ---------------------------
_LAZY: dict[str, str] = {
    "fit": "returnmodels.inference.fit",
    "column_spec": "returnmodels.models",
    "list_models": "returnmodels.models.presets",
    "get_preset": "returnmodels.models.presets",
    "PRESETS": "returnmodels.models.presets",
    "ColumnSpec": "returnmodels.models",
    "check_convergence": "returnmodels.inference.diagnostics",
    "save_result": "returnmodels.inference.results",
    "load_result": "returnmodels.inference.results",
    "write_fit_folder": "returnmodels.report.notebook",
    "RunFolder": "returnmodels.report.run_folder",
    "release_results": "returnmodels.disclosure.release",
    "audit_results": "returnmodels.disclosure.audit",
    "summary": "returnmodels.summaries",
    "parameter_summary": "returnmodels.summaries",
    "odds_ratios": "returnmodels.summaries",
    "margins": "returnmodels.summaries",
    "comparisons": "returnmodels.summaries",
    "persons_comparison": "returnmodels.summaries",
    "plot_margins": "returnmodels.report.model_figures",
    "plot_ppc": "returnmodels.report.model_figures",
    "plot_caterpillar": "returnmodels.report.model_figures",
    "prior_predictive": "returnmodels.inference.prior_predictive",
    "prior_predictive_shares": "returnmodels.inference.model_checks",
    "run_sbc": "returnmodels.inference.model_checks",
    "group_effects": "returnmodels.summaries",
    "contrast": "returnmodels.summaries",
    "predict_new_group": "returnmodels.summaries",
    "ppc_shares": "returnmodels.summaries",
    "compare_models": "returnmodels.summaries",
    "loo_table": "returnmodels.summaries",
    "kfold": "returnmodels.inference.kfold",
    "reloo": "returnmodels.inference.kfold",
}
__all__ += list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'returnmodels' has no attribute {name!r}")

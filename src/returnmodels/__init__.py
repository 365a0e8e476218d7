"""returnmodels: hierarchical Bayesian models of assisted-return uptake.

The public API, one call each from Python::

    import returnmodels as rm
    cases = rm.load_cases("data/cases.parquet")     # read and validate the contract
    cells = rm.aggregate_cells(cases, ["n_procedures", "cooperation"])
    sim = rm.simulate_cases(n_cases=10_000, random_seed=1)  # data and true parameters
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("returnmodels")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from returnmodels.aggregate import aggregate_cells
from returnmodels.errors import ConfigError, ReturnModelsError
from returnmodels.simulate import SimulatedCases, simulate_cases
from returnmodels.validation import (
    ContractError,
    format_summary,
    load_cases,
    summarise_cases,
    validate_cases,
)

__all__ = [
    "__version__",
    "ConfigError",
    "ContractError",
    "ReturnModelsError",
    "SimulatedCases",
    "aggregate_cells",
    "format_summary",
    "load_cases",
    "simulate_cases",
    "summarise_cases",
    "validate_cases",
]

"""Synthetic DT&V-style case files from a known, calibrated generative model."""

from returnmodels.simulate.generator import (
    DEFAULT_N_CASES,
    DEFAULT_PERSON_SIGMA,
    DEFAULT_SEED,
    SimulatedCases,
    simulate_cases,
    truth_path_for,
    write_simulation,
)
from returnmodels.simulate.truth import LogitEffects, TrueParameters

__all__ = [
    "DEFAULT_N_CASES",
    "DEFAULT_PERSON_SIGMA",
    "DEFAULT_SEED",
    "LogitEffects",
    "SimulatedCases",
    "TrueParameters",
    "simulate_cases",
    "truth_path_for",
    "write_simulation",
]

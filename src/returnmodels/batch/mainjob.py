"""The main job: the batch ``returnmodels run`` executes when given none.

The main job is ``notebooks/main.yaml`` of the source tree: explore the bundled data,
fit every registered model, compare, report, check and draw the public figures, each
step one parameterised notebook. This module only says where that batch and the
default results folder are.
"""

from __future__ import annotations

from pathlib import Path

from returnmodels.errors import ConfigError

__all__ = ["DEFAULT_BATCH", "DEFAULT_RESULTS", "default_batch"]

DEFAULT_BATCH = "notebooks/main.yaml"
DEFAULT_RESULTS = "results"


def default_batch() -> Path:
    """``notebooks/main.yaml`` under the working directory, else in this source tree."""
    candidates = [Path(DEFAULT_BATCH), Path(__file__).resolve().parents[2] / DEFAULT_BATCH]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"no batch given and no {DEFAULT_BATCH} found (looked in "
        f"{[str(c) for c in candidates]}); run from the project folder or name a batch file"
    )

"""Where the bundled data are and where results go, whatever the working directory.

Notebooks run from JupyterLab (working directory ``notebooks/``), from the repository
root (``papermill notebooks/01_explore_cases.ipynb out.ipynb``), from anywhere else, or
by ``returnmodels run`` (a staging folder): their defaults must not depend on it. So a
notebook's ``data = None`` means the bundled synthetic case file, found through the
package's location, and ``out = None`` means ``<results>/<run>``, where ``<results>`` is
:func:`results_root`. Nothing is ever written into the working directory by default.

The project is the folder holding ``pyproject.toml`` above the package (an editable
install or a source checkout: the bundled files live in its ``data/``); for a package
installed elsewhere, the working directory's ``results/`` and an explicit ``data`` path.
"""

from __future__ import annotations

import os
from pathlib import Path

from returnmodels.errors import ConfigError

__all__ = [
    "RESULTS_ENV",
    "bundled_cases",
    "bundled_departures",
    "bundled_file",
    "project_root",
    "results_root",
    "run_output",
]

#: Environment variable that moves the default results folder (e.g. in a test).
RESULTS_ENV = "RETURNMODELS_RESULTS"

_PACKAGE = Path(__file__).resolve().parent


def project_root() -> Path | None:
    """The source checkout holding this package (``src/returnmodels`` below a folder with
    ``pyproject.toml``), or ``None`` when the package is installed elsewhere."""
    candidate = _PACKAGE.parents[1]
    return candidate if (candidate / "pyproject.toml").is_file() else None


def bundled_file(name: str) -> Path:
    """``data/<name>`` of the project, refused with the way out when it is not there."""
    root = project_root()
    path = None if root is None else root / "data" / name
    if path is None or not path.is_file():
        where = (
            "the package is installed outside a source checkout"
            if root is None
            else (f"{path} is missing")
        )
        raise ConfigError(
            f"the bundled file data/{name} is not available ({where}): pass its path "
            "explicitly (notebook parameter `data`, or `-p data PATH` to papermill)"
        )
    return path


def bundled_cases() -> Path:
    """The bundled synthetic case file, ``data/cases.parquet``."""
    return bundled_file("cases.parquet")


def bundled_departures() -> Path:
    """The published DT&V departures by year, ``data/dtv_departures_by_year.csv``."""
    return bundled_file("dtv_departures_by_year.csv")


def results_root() -> Path:
    """The default results folder: ``$RETURNMODELS_RESULTS`` if set, else the project's
    ``results/``, else ``results/`` of the working directory (installed package)."""
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV]).resolve()
    root = project_root()
    return (root if root is not None else Path.cwd().resolve()) / "results"


def run_output(out: str | os.PathLike | None, run: str) -> Path:
    """A notebook's output folder: ``out`` when given (``returnmodels run`` always gives
    it), else ``<results_root()>/<run>``, the folder the main job gives that run."""
    return Path(out) if out is not None else results_root() / run

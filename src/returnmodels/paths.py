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

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from returnmodels.errors import ConfigError

__all__ = [
    "RESULTS_ENV",
    "bundled_cases",
    "bundled_departures",
    "bundled_file",
    "formula_run_name",
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


#: The longest slug of a formula in its run's name (the hash tells the rest apart).
_SLUG_LENGTH = 48
#: Text a formula run's name keeps as it is; anything else is a hyphen.
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")
#: Quoted text (a ``Treatment("...")`` level), whose spaces count.
_QUOTED = re.compile(r"(\"[^\"]*\"|'[^']*')")


def formula_run_name(formula: str, reference: Mapping[str, str] | None = None) -> str:
    """The run (results folder) of a formula fit: ``fit-formula-<slug>-<hash>``.

    The slug is the formula's names in order, joined by hyphens, whole names up to 48
    characters (``assisted-n_procedures-cooperation-nationality``), so the folder says
    what it holds; the hash, 8 hexadecimal digits of SHA-256 over the formula without
    its spaces and the reference levels, tells apart formulas the slug does not (``a*b``
    and ``a+b``) and the same formula with other references. The same formula and
    references give the same name wherever and whenever it is run, so a rerun writes
    into its own folder and never into another formula's.
    """
    canonical = "".join(
        part if _QUOTED.fullmatch(part) else re.sub(r"\s+", "", part)
        for part in _QUOTED.split(formula)
    )
    levels = {str(k): str(v) for k, v in (reference or {}).items()}
    key = json.dumps([canonical, sorted(levels.items())], separators=(",", ":"))
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
    return f"fit-formula-{_slug(formula)}-{digest}"


def _slug(formula: str) -> str:
    """The formula's names and numbers other than ``1``, hyphen-joined, whole names up
    to :data:`_SLUG_LENGTH` characters."""
    words = [w for w in _UNSAFE.split(formula) if w.strip("_") and w != "1"]
    slug = ""
    for word in words:
        longer = f"{slug}-{word}" if slug else word
        if len(longer) > _SLUG_LENGTH:
            break
        slug = longer
    return slug or (words[0][:_SLUG_LENGTH] if words else "formula")

"""The versions every result and manifest records: one list, one function."""

from __future__ import annotations

import platform
from functools import cache
from importlib.metadata import PackageNotFoundError, version

__all__ = ["PACKAGES", "package_versions"]

#: Packages whose versions every fit manifest and run manifest records (a change of any
#: of them reruns a batch run).
PACKAGES: tuple[str, ...] = (
    "returnmodels",
    "pymc",
    "pytensor",
    "nutpie",
    "arviz",
    "numpy",
    "pandas",
    "xarray",
    "numpyro",
    "papermill",
    "nbclient",
    "ipykernel",
)


@cache
def package_versions() -> dict[str, str | None]:
    """Python's version and the installed version of each of :data:`PACKAGES` (None if
    not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions

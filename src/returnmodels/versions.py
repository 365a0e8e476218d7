"""The versions every result and manifest records: the packages' and the code's commit."""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["PACKAGES", "git_commit", "package_versions"]

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


def git_commit(folder: Path) -> tuple[str | None, bool | None]:
    """The commit checked out at ``folder`` and whether tracked files differ from it
    (``(None, None)`` outside a git checkout or without git)."""
    try:
        commit = _git(folder, "rev-parse", "HEAD")
        dirty = bool(_git(folder, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit, dirty


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=folder, capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()

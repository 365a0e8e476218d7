"""Packaging: one source of dependencies, a locked install, README and CI in agreement."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: Extras in pyproject.toml and the conda package that provides each.
EXTRA_PACKAGES = {
    ("arviz", "h5netcdf"): "h5netcdf",
    ("arviz", "matplotlib"): "matplotlib",
    ("dask", "distributed"): "distributed",
}


def _conda_dependencies() -> dict[str, str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {}
    for entry in environment["dependencies"]:
        if isinstance(entry, str) and entry != "pip":
            name, spec = re.match(r"^([A-Za-z0-9_.-]+)\s*(.*)$", entry).groups()
            conda[name.lower()] = str(SpecifierSet(spec.replace(" ", "")))
    return conda


def test_environment_yml_mirrors_pyproject():
    conda = _conda_dependencies()
    expected = {"python": str(SpecifierSet(PYPROJECT["project"]["requires-python"]))}
    for line in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(line)
        expected[requirement.name.lower()] = str(requirement.specifier)
        for extra in requirement.extras:
            package = EXTRA_PACKAGES[(requirement.name, extra)]
            expected.setdefault(package, conda.get(package, ""))
    # matplotlib is both a direct dependency and arviz's extra: the direct bound wins.
    differ = {k: (conda[k], v) for k, v in expected.items() if k in conda and conda[k] != v}
    assert conda == expected, (
        "environment.yml and pyproject.toml disagree:\n"
        f"only in environment.yml: {sorted(set(conda) - set(expected))}\n"
        f"only in pyproject.toml: {sorted(set(expected) - set(conda))}\n"
        f"different bounds (environment.yml, pyproject.toml): {differ}"
    )


def _locked() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = Version(version)
    return pins


def test_lock_pins_every_dependency_within_its_bounds():
    pins = _locked()
    optional = PYPROJECT["project"]["optional-dependencies"]
    lines = PYPROJECT["project"]["dependencies"] + [r for group in optional.values() for r in group]
    for line in lines:
        requirement = Requirement(line)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in requirements.lock"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} vs {line}"


def test_python_is_312_or_newer_everywhere():
    assert PYPROJECT["project"]["requires-python"] == ">=3.12"
    version = (ROOT / ".python-version").read_text().strip()
    assert Version(version) >= Version("3.12")


def _readme_code(heading: str, language: str) -> str:
    """The first ``language`` code block under the README's ``## heading``."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return re.search(rf"```{language}\n(.*?)```", section, re.S).group(1)


def _quick_start_commands() -> list[str]:
    block = _readme_code("Quick start", "bash")
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_quick_start_has_two_commands_and_ci_runs_the_test_one():
    main, test = _quick_start_commands()
    assert main == "./tasks main"
    assert test == "./tasks test"
    ci = [
        line.strip()
        for line in (ROOT / ".ci/run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert test in ci, f"{test!r} is not a line of .ci/run: {ci}"


def test_readme_python_example_runs(monkeypatch):
    """From notebooks/, the working directory of a notebook in JupyterLab."""
    code = _readme_code("From Python", "python")
    monkeypatch.chdir(ROOT / "notebooks")
    exec(compile(code, "README.md", "exec"), {})


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("data/private/extract.parquet", True),
        ("data/private/notes.txt", True),
        ("extract.csv", True),
        ("notebooks/cases.csv", True),
        ("data/real_cases.parquet", True),
        ("results/run/summary.csv", True),
        ("data/cases.parquet", False),
        ("data/dtv_departures_by_year.csv", False),
    ],
)
def test_gitignore_keeps_case_level_data_out(path, ignored):
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", path], cwd=ROOT, check=False
    )
    assert (result.returncode == 0) == ignored, f"{path} ignored={not ignored}"


@pytest.mark.sampling
def test_readme_model_example_runs(tmp_path, monkeypatch):
    code = _readme_code("The models", "python")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "fit.nc").is_file()


def _tasks_copy(tmp_path: Path) -> Path:
    """``tasks`` with the project files its setup hashes, an up-to-date fake ``.venv``
    (this Python, the stamp ``setup`` writes) and a ``jupyter`` that prints its arguments."""
    for name in ("tasks", "pyproject.toml", "requirements.lock"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    (tmp_path / "tasks").chmod(0o755)
    bin_ = tmp_path / ".venv" / "bin"
    bin_.mkdir(parents=True)
    (bin_ / "python").symlink_to(sys.executable)
    (bin_ / "jupyter").write_text('#!/bin/sh\necho "jupyter $*"\n')
    (bin_ / "jupyter").chmod(0o755)
    stamp = subprocess.run(
        "cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1; "
        ".venv/bin/python -c 'import sys; print(sys.version)'",
        shell=True, cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (tmp_path / ".venv" / ".returnmodels-stamp").write_text(stamp)
    return tmp_path / "tasks"


def test_tasks_lab_passes_its_arguments_on_and_allows_root(tmp_path):
    tasks = _tasks_copy(tmp_path)
    done = subprocess.run(
        [str(tasks), "lab", "--no-browser", "--port", "8899"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    root = " --allow-root" if os.getuid() == 0 else ""
    assert done.stdout.strip() == f"jupyter lab notebooks/{root} --no-browser --port 8899"
    given = subprocess.run(
        [str(tasks), "lab", "--allow-root"], capture_output=True, text=True, timeout=60
    )
    assert given.stdout.strip() == "jupyter lab notebooks/ --allow-root"  # not twice

"""Reading and validating a batch file, before anything runs.

A batch is a YAML mapping::

    root: ..                      # optional; relative paths below are resolved against it
    defaults: {data: data/cases.parquet, seed: 1}   # optional; parameters of every run
    runs:
      - name: explore             # required; letters, digits, '.', '_', '-'
        notebook: notebooks/01_explore_cases.ipynb   # required
        parameters: {seed: 2}     # optional; merged over the defaults
        after: [other-run]        # optional; runs that must finish first

``defaults`` go to every run whose notebook defines them (a default that no notebook
defines is an error); a run's own ``parameters`` must all be defined by its notebook.
``root`` is relative to the batch file's own folder (default: that folder), so a batch
means the same thing from whichever working directory it is started. A string
parameter that names an existing file or folder under ``root`` is replaced by its
absolute path; one that looks like a path (contains ``/`` or ends in a data-file
suffix) but does not exist is an error. Every problem is a :class:`ConfigError` that
names the file, the run, the key, the value and what is allowed; nothing is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import papermill
import yaml

from returnmodels.errors import ConfigError

__all__ = ["Batch", "RunSpec", "load_batch", "notebook_parameters", "INJECTED", "RESERVED"]

TOP_KEYS = ("root", "defaults", "runs")
RUN_KEYS = ("name", "notebook", "parameters", "after")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: Parameters the runner sets itself: the run's own output folder and the results folder.
RESERVED: tuple[str, ...] = ("out", "results")
#: Parameters the runner injects when the notebook defines them (``smoke`` only with --smoke).
INJECTED: tuple[str, ...] = (*RESERVED, "smoke")
PATH_SUFFIXES = (".parquet", ".csv", ".json", ".nc", ".yaml", ".yml", ".txt", ".ipynb", ".zarr")


@dataclass(frozen=True)
class RunSpec:
    """One notebook run: its name, notebook, merged parameters and dependencies."""

    name: str
    notebook: Path
    parameters: dict[str, Any]
    after: tuple[str, ...] = ()
    #: Names the notebook's ``parameters`` cell defines.
    accepts: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Batch:
    """A validated batch: its file, root folder and runs in file order."""

    path: Path
    root: Path
    runs: tuple[RunSpec, ...]

    def run(self, name: str) -> RunSpec:
        return next(r for r in self.runs if r.name == name)


def load_batch(path: str | Path, *, smoke: bool = False) -> Batch:
    """Read and validate the batch file at ``path``; raise :class:`ConfigError` if invalid.

    With ``smoke``, every notebook must define a ``smoke`` parameter, since a notebook that
    ignores it would run at full cost.
    """
    path = Path(path).resolve()
    where = str(path)
    if not path.is_file():
        raise ConfigError(f"batch file {where!r} does not exist")
    document = _read_yaml(path)
    _check_keys(document, TOP_KEYS, where)
    root = (path.parent / str(document.get("root", "."))).resolve()
    if not root.is_dir():
        raise ConfigError(f"{where}: key 'root': folder {str(root)!r} does not exist")
    defaults = _mapping(document.get("defaults", {}), f"{where}: key 'defaults'")
    entries = document.get("runs")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}: key 'runs' must be a non-empty list of runs")
    runs = [_run(entry, i, defaults, root, where, smoke) for i, entry in enumerate(entries)]
    for key, value in defaults.items():
        if not any(key in run.accepts for run in runs):
            raise ConfigError(
                f"{where}: key 'defaults': parameter {key!r} = {value!r} is defined in the "
                "parameters cell of no notebook of this batch"
            )
    _check_names_and_after(runs, where)
    return Batch(path=path, root=root, runs=tuple(runs))


def notebook_parameters(notebook: Path) -> frozenset[str]:
    """Names assigned in the notebook's cell tagged ``parameters`` (papermill's inspector)."""
    try:
        nbformat.read(notebook, as_version=4)
    except Exception as error:  # nbformat raises several kinds for a broken file
        raise ConfigError(f"{notebook}: not a readable notebook: {error}") from None
    return frozenset(papermill.inspect_notebook(str(notebook)))


def _read_yaml(path: Path) -> dict:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: a batch file must be a mapping with keys {list(TOP_KEYS)}")
    return document


def _check_keys(document: dict, allowed: tuple[str, ...], where: str) -> None:
    unknown = [k for k in document if k not in allowed]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; allowed keys are {list(allowed)}")


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"{where} must be a mapping of parameter names to values, not {value!r}")
    reserved = [k for k in value if k in RESERVED]
    if reserved:
        raise ConfigError(
            f"{where}: parameter {reserved[0]!r} is set by the runner (the run's output "
            f"folder / the results folder); remove it"
        )
    return dict(value)


def _run(entry: Any, i: int, defaults: dict, root: Path, where: str, smoke: bool) -> RunSpec:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: run #{i + 1} must be a mapping with keys {list(RUN_KEYS)}")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ConfigError(
            f"{where}: run #{i + 1}: key 'name' = {name!r}; a name is required, made of "
            "letters, digits, '.', '_' and '-', starting with a letter or digit"
        )
    here = f"{where}: run {name!r}"
    _check_keys(entry, RUN_KEYS, here)
    notebook = (root / str(entry.get("notebook", ""))).resolve()
    if "notebook" not in entry or notebook.suffix != ".ipynb" or not notebook.is_file():
        raise ConfigError(
            f"{here}: key 'notebook' = {entry.get('notebook')!r}: no such .ipynb file "
            f"(paths are relative to {str(root)!r})"
        )
    accepts = notebook_parameters(notebook)
    own = _mapping(entry.get("parameters", {}), f"{here}: key 'parameters'")
    parameters = {k: v for k, v in defaults.items() if k in accepts} | own
    for key, value in own.items():
        if key not in accepts:
            raise ConfigError(
                f"{here}: parameter {key!r} = {value!r} is not defined in the parameters cell "
                f"of {notebook.name}; it defines {sorted(accepts)}"
            )
    if smoke and "smoke" not in accepts:
        raise ConfigError(
            f"{here}: --smoke asks every notebook for smoke=True, but {notebook.name} "
            f"defines no 'smoke' parameter; it defines {sorted(accepts)}"
        )
    parameters = {k: _resolve(v, k, root, here) for k, v in parameters.items()}
    after = entry.get("after", [])
    if isinstance(after, str):
        after = [after]
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        raise ConfigError(f"{here}: key 'after' = {after!r} must be a list of run names")
    return RunSpec(name, notebook, parameters, tuple(after), accepts)


def _resolve(value: Any, key: str, root: Path, here: str) -> Any:
    """Absolute path for a string naming an existing path under ``root``; else unchanged."""
    if not isinstance(value, str) or not value:
        return value
    candidate = (root / value).resolve()
    if candidate.exists():
        return str(candidate)
    if "/" in value or value.endswith(PATH_SUFFIXES):
        raise ConfigError(
            f"{here}: parameter {key!r} = {value!r} looks like a path, but "
            f"{str(candidate)!r} does not exist (paths are relative to {str(root)!r})"
        )
    return value


def _check_names_and_after(runs: list[RunSpec], where: str) -> None:
    seen: set[str] = set()
    for run in runs:
        if run.name in seen:
            raise ConfigError(f"{where}: run name {run.name!r} is used twice; names must be unique")
        seen.add(run.name)
    for run in runs:
        for name in run.after:
            if name not in seen or name == run.name:
                raise ConfigError(
                    f"{where}: run {run.name!r}: key 'after' = {name!r} is not another run "
                    f"of this batch; runs are {sorted(seen - {run.name})}"
                )
    _check_acyclic(runs, where)


def _check_acyclic(runs: list[RunSpec], where: str) -> None:
    after = {r.name: r.after for r in runs}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise ConfigError(f"{where}: key 'after' makes a cycle: {cycle}")
        state[name] = 1
        for upstream in after[name]:
            visit(upstream, [*path, name])
        state[name] = 2

    for name in after:
        visit(name, [])

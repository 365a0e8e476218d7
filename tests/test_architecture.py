"""The layout of ARCHITECTURE.md, kept: imports flow data -> engine -> models -> inference ->
summaries -> report -> batch/cli and never back, no import loops, module-level imports,
and PyMC only where a model is built."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "returnmodels"

#: The pipeline, in order: a module may import its own step and earlier ones only.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "files", "paths", "versions"),
    ("data",),
    ("simulate",),
    ("disclosure",),
    ("engine",),
    ("models",),
    ("inference",),
    ("summaries",),
    ("report",),
    ("batch",),
    ("cli", "__main__"),
)
#: Imported inside functions on purpose: heavy, and needed by one path only (HTML
#: export, a Dask cluster, a notebook worker started without the stack, the batch runner
#: for `returnmodels run` only, the public API's lazy attributes).
LAZY_ALLOWED = frozenset(
    {"nbformat", "nbconvert", "distributed", "papermill", "traitlets.config", "importlib"}
    | {"jupyter_client.kernelspec", "returnmodels.batch"}
)


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[str, bool, int]]:
    """``(imported module, inside a function, line)`` for every import of ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            inside |= {id(sub) for sub in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in inside, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            targets = [n for n in names if _is_module(n)] or [node.module]
            found += [(target, id(node) in inside, node.lineno) for target in targets]
    return found


def _is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (SRC / relative).with_suffix(".py").is_file() or (SRC / relative).is_dir()


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {
    name: sorted({m for m, _, _ in imports_of(path) if m.startswith("returnmodels.")} - {name})
    for name, path in MODULES.items()
}


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) == 1:
        return None  # the package root: the public API, lazily
    for index, names in enumerate(LAYERS):
        if parts[1] in names:
            return index
    raise AssertionError(f"{module}: in no layer of LAYERS (add it, and to ARCHITECTURE.md)")


def test_every_module_lies_in_a_layer():
    for name in MODULES:
        layer_of(name)


def test_imports_never_climb_back_up_the_pipeline():
    climbs = []
    for name, targets in GRAPH.items():
        own = layer_of(name)
        for target in targets:
            if own is not None and target != "returnmodels" and layer_of(target) > own:
                climbs.append(f"{name} imports {target}")
    assert not climbs, "\n".join(climbs)


def test_no_import_loops():
    """No module reaches itself through the graph (strongly connected components)."""
    index, low, stack, on_stack, loops, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH.get(node, []):
            target = _owning_module(target)
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for name in GRAPH:
        if name not in index:
            visit(name)
    # A package's __init__ re-exporting its own modules is not a loop between steps.
    real = [c for c in loops if len({m.split(".")[1] for m in c if "." in m}) > 1 or _mutual(c)]
    assert not real, real


def _owning_module(name: str) -> str:
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _mutual(component: list[str]) -> bool:
    """Two modules of one package importing each other (not via their __init__)."""
    members = [m for m in component if not MODULES[m].name == "__init__.py"]
    return any(
        b in GRAPH[a] and a in GRAPH[b] for i, a in enumerate(members) for b in members[i + 1 :]
    )


def test_imports_are_at_module_level():
    inside = [
        f"{name}:{line} imports {target}"
        for name, path in MODULES.items()
        for target, in_function, line in imports_of(path)
        if in_function and target not in LAZY_ALLOWED and name != "returnmodels"
    ]
    assert not inside, "\n".join(inside)


@pytest.mark.parametrize(
    "module",
    [
        "returnmodels.models",
        "returnmodels.models.columns",
        "returnmodels.engine.parse",
        "returnmodels.engine.design",
        "returnmodels.engine.policy",
        "returnmodels.engine.log_likelihood",
        "returnmodels.engine.log_prior",
        "returnmodels.engine.result",
        "returnmodels.models.presets",
        "returnmodels.summaries",
        "returnmodels.inference.diagnostics",
        "returnmodels.inference.results",
        "returnmodels.disclosure.release",
        "returnmodels.data.validation",
    ],
)
def test_imports_without_pymc(module):
    """The model description (columns, formulas, presets) and every summary work on
    saved results in an environment where PyMC (and PyTensor) cannot even be imported."""
    code = (
        f"import sys; sys.modules['pymc'] = None; sys.modules['pytensor'] = None; import {module}"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]

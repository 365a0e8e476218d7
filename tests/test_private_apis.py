"""The libraries' private and internal APIs returnmodels builds on are still where it
uses them, and the package's own modules import no private name from each other.

nutpie, PyTensor and formulae are pinned below their next minor version in
``pyproject.toml`` because of these; when an upgrade moves one, this test fails first,
naming what moved and which module to update (rather than a fit failing deep inside a
compile)."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "returnmodels"

#: (module, attribute, what returnmodels needs of it, the module that uses it)
PRIVATE_APIS = [
    ("nutpie.compile_pymc", "address_as_void_pointer", None, "engine/callbacks.py"),
    ("formulae.environment", "Environment", None, "engine/design.py"),
    ("formulae.matrices", "DesignMatrices", None, "engine/design.py"),
    ("formulae.parser", "ParseError", None, "engine/parse.py"),
    ("formulae.parser", "Parser", None, "engine/functions.py"),
    ("formulae.resolver", "Resolver", None, "engine/parse.py"),
    ("formulae.scanner", "ScanError", None, "engine/parse.py"),
    ("formulae.scanner", "Scanner", None, "engine/functions.py"),
    ("formulae.terms", "Model", None, "engine/parse.py"),
    ("formulae.terms", "Call", None, "engine/functions.py"),
    ("formulae.terms", "Term", None, "engine/functions.py"),
    ("formulae.terms.call_resolver", "LazyCall", None, "engine/functions.py"),
    ("formulae.terms.call_resolver", "LazyOperator", None, "engine/functions.py"),
    ("formulae.terms.call_resolver", "LazyValue", None, "engine/functions.py"),
    ("formulae.terms.call_resolver", "LazyVariable", None, "engine/functions.py"),
    ("pytensor.link.numba.dispatch.basic", "numba_njit", None,
     "engine/unit_kernel.py, engine/cell_kernel.py"),
    ("pytensor.link.numba.dispatch.basic", "register_funcify_default_op_cache_key", None,
     "engine/unit_kernel.py, engine/cell_kernel.py"),
]  # fmt: skip

#: The fields of nutpie's compiled-model dataclass that the engine's model fills in.
COMPILED_MODEL_FIELDS = {
    "dims", "compiled_logp_func", "compiled_expand_func", "initial_point_func",
    "shared_data", "shared_var_keys", "user_data", "n_expanded", "shape_info", "logp_func",
    "expand_func", "_n_dim", "_shapes", "_coords",
}  # fmt: skip


@pytest.mark.parametrize(
    "module, name, parameters, user", PRIVATE_APIS, ids=[f"{m}.{n}" for m, n, *_ in PRIVATE_APIS]
)
def test_a_private_api_is_still_where_returnmodels_uses_it(module, name, parameters, user):
    library = importlib.import_module(module.split(".")[0])
    where = f"{module}.{name} ({library.__name__} {library.__version__})"
    hint = f"update src/returnmodels/{user} and the upper bound in pyproject.toml"
    found = getattr(importlib.import_module(module), name, None)
    assert found is not None, f"{where} is gone: {hint}"
    if parameters is not None:
        have = set(inspect.signature(found).parameters)
        assert parameters <= have, f"{where} lost parameter(s) {parameters - have}: {hint}"


def test_nutpies_compiled_model_still_has_the_fields_the_engine_fills():
    from nutpie.compile_pymc import CompiledPyMCModel

    fields = {f.name for f in dataclasses.fields(CompiledPyMCModel)}
    missing = COMPILED_MODEL_FIELDS - fields
    assert not missing, (
        f"nutpie's CompiledPyMCModel lost {missing}: update engine/callbacks.py "
        "(FormulaModel) and the upper bound in pyproject.toml"
    )


def test_the_upper_bounds_are_declared():
    text = (ROOT / "pyproject.toml").read_text()
    for requirement in ('"pytensor>=3.0,<3.4"', '"nutpie>=0.16,<0.17"', '"formulae>=0.6,<0.7"'):
        assert requirement in text, requirement


def test_no_module_imports_a_private_name_of_another_returnmodels_module():
    offences = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("returnmodels"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private and node.module != "returnmodels":
                    offences.append(f"{path.relative_to(SRC)}: {node.module} {private}")
    assert not offences, "private names imported across modules:\n" + "\n".join(offences)

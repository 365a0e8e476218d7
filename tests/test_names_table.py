"""ARCHITECTURE.md's table of dims and names is what fits carry: every README formula and
every preset is fitted (tiny draws) and each variable of its posterior and data groups
must match a row of the table, with the row's dims; every row must be met by some fit
(no documented name that no code makes)."""

from __future__ import annotations

from pathlib import Path

import pytest

import returnmodels as rm
from conftest import readme_formulas
from returnmodels.engine.design import FormulaDesign
from returnmodels.models.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "ARCHITECTURE.md"
SAMPLE = ("chain", "draw")


def table_rows() -> list[str]:
    """The first cell of every row of ARCHITECTURE's "Dims and names" table."""
    section = ARCHITECTURE.read_text().split("## Dims and names", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [row.split("|")[1].strip() for row in rows[1:] if not set(row) <= set("|- ")]


#: How a test reads each row of the table: the name it documents -> which variables it
#: covers, given the fit's design (the checks below). Keys are the table's cells as
#: written: a row added to or changed in the table fails here until the test knows it.
ROWS = {
    "`Intercept`": "intercept",
    "`<term>` (`n_procedures`)": "numeric",
    "`<term>` (`gender`, `family`, `C(closing_year)`)": "categorical",
    "`<group>_sigma`, `<group>_<slope>_sigma`": "sigma",
    "`<group>_corr`": "corr",
    "`<group>_effect`, `<group>_<slope>_effect`": "effect",
    "`competing_<name>`": "competing",
    "`log_likelihood/<response>`, `log_likelihood/competing`": "log_likelihood",
    "`constant_data/<column>`, `constant_data/trials`": "constant_data",
    "`observed_data/<response>`, `observed_data/competing`": "observed_data",
    "": "draws",
}


def test_the_test_knows_every_row_of_the_table():
    assert table_rows() == list(ROWS), "ARCHITECTURE's names table changed: update ROWS"


def _kind(name: str, dims: tuple[str, ...], design: FormulaDesign) -> str:
    """The table row ``name`` (with ``dims`` past chain and draw) belongs to, or a
    message saying why it belongs to none."""
    numeric = {t.name for t in design.common if not _levels(t)}
    categorical = {t.name for t in design.common if _levels(t)}
    factors = {b.factor for b in design.blocks}
    if name == "Intercept":
        return "intercept" if dims == () else f"Intercept with dims {dims}"
    if name in numeric:
        return "numeric" if dims == () else f"numeric {name} with dims {dims}"
    if name in categorical:
        wanted = (f"{name}_level",)
        return "categorical" if dims == wanted else f"{name}: dims {dims}, not {wanted}"
    if name.endswith("_sigma") and any(name.startswith(f"{f}_") for f in factors):
        return "sigma" if dims == () else f"{name} with dims {dims}"
    if name.endswith("_corr") and name[: -len("_corr")] in factors:
        return "corr" if dims in ((), (f"{name}_pair",)) else f"{name} with dims {dims}"
    if name.endswith("_effect"):
        owner = [f for f in factors if name.startswith(f"{f}_")]
        if owner and dims == (owner[0],):
            return "effect"
        return f"{name}: dims {dims}, not one of the groups {sorted(factors)}"
    return f"{name!r} is in no row of the table"


def _levels(term) -> bool:
    return any("[" in label for label in term.labels)


def _fits():
    cases = rm.simulate_cases(n_cases=4000, random_seed=5).cases
    tiny = {"draws": 20, "tune": 30, "chains": 2, "progressbar": False, "random_seed": 1}
    for formula in readme_formulas():
        yield formula, rm.fit(cases, formula=formula, **tiny)
    for name in PRESETS:
        yield name, rm.fit(cases, name, **tiny)


@pytest.mark.sampling
def test_every_fit_carries_the_names_and_dims_of_the_table():
    met: set[str] = set()
    problems: list[str] = []
    for label, result in _fits():
        design = FormulaDesign.from_result(result)
        for name, var in result["posterior"].data_vars.items():
            dims = tuple(d for d in var.dims if d not in SAMPLE)
            assert var.dims[:2] == SAMPLE, (label, name, var.dims)
            if name.startswith("competing_"):
                if dims[:1] != ("nonreference_outcome",):
                    problems.append(f"{label}: {name} dims {dims}")
                    continue
                met.add("competing")
                name, dims = name[len("competing_") :], dims[1:]
            kind = _kind(name, dims, design)
            if kind in ROWS.values():
                met.add(kind)
            else:
                problems.append(f"{label}: {kind}")
        met.add("draws")
        for group, kind in (
            ("log_likelihood", "log_likelihood"),
            ("constant_data", "constant_data"),
            ("observed_data", "observed_data"),
        ):
            for name, var in result[group].data_vars.items():
                wanted = ("chain", "draw", "cell") if group == "log_likelihood" else ("cell",)
                if var.dims[: len(wanted)] != wanted:
                    problems.append(f"{label}: {group}/{name} dims {var.dims}")
                met.add(kind)
    assert not problems, "\n".join(problems)
    assert met == set(ROWS.values()), f"rows no fit made: {set(ROWS.values()) - met}"

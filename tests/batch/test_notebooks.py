"""The committed notebooks: thin, parameterised, output-free, and runnable as a batch.

Static checks read every notebook with ``ast``; the batch test runs the whole main job
with ``--smoke`` once (module-scoped) and audits what it wrote.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BATCH = ROOT / "notebooks" / "main.yaml"
#: The study model with persons, in the folder notebook 02 gives its formula.
PERSONS_RUN = "fit-formula-assisted-n_procedures-cooperation-nationality-ae0aba95"
EXPECTED_RUNS = {
    "explore",
    "fit-pooled",
    "fit-varying_intercepts",
    "fit-group_predictors",
    "fit-varying_slopes",
    "fit-competing_outcomes",
    "fit-formula-crossed-year",
    PERSONS_RUN,
    "compare",
    "report",
    "report-nl",
    "checks",
    "public-figures",
}


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _code(cell) -> ast.Module:
    return ast.parse(cell.source)


@pytest.fixture(params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def notebook(request):
    return request.param, _read(request.param)


def test_notebooks_exist():
    names = {p.stem.split("_")[0] for p in NOTEBOOKS}
    assert {"01", "02", "03", "04", "05", "06"} <= names


def test_no_outputs_or_execution_counts(notebook):
    path, book = notebook
    for i, cell in enumerate(book.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"


def test_every_cell_has_a_unique_id():
    """nbformat 4.5's cell ids: without them nbformat warns on every read (the batch
    runner's log) and will refuse the notebook."""
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        ids = [cell.get("id") for cell in cells]
        assert None not in ids, f"{path.name}: cell {ids.index(None)} has no id"
        assert len(set(ids)) == len(ids), f"{path.name}: repeated cell ids"


def test_opens_with_markdown(notebook):
    path, book = notebook
    assert book.cells[0].cell_type == "markdown", f"{path.name} must open with markdown"
    assert len(book.cells[0].source) > 100, f"{path.name}: the opening paragraph is missing"


def test_one_parameters_cell_of_literals(notebook):
    path, book = notebook
    tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged parameters"
    names = set()
    for statement in _code(tagged[0]).body:
        assert isinstance(statement, ast.Assign), (
            f"{path.name}: parameters cell holds {ast.dump(statement)[:60]}"
        )
        ast.literal_eval(statement.value)  # raises on anything but a literal
        names |= {t.id for t in statement.targets}
    assert "smoke" in names and "out" in names, f"{path.name}: needs smoke and out"


def test_defines_no_function_or_class(notebook):
    path, book = notebook
    for i, cell in enumerate(book.cells):
        if cell.cell_type != "code":
            continue
        for node in ast.walk(_code(cell)):
            assert not isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
            ), f"{path.name} cell {i} defines {type(node).__name__}: move it to the library"


def test_batch_lists_every_run():
    from returnmodels.batch import load_batch

    batch = load_batch(BATCH, smoke=True)
    assert {run.name for run in batch.runs} == EXPECTED_RUNS
    assert set(batch.run("compare").after) >= {"fit-group_predictors", "fit-pooled"}
    assert set(batch.run("report").after) == {
        "fit-group_predictors",
        "fit-competing_outcomes",
        PERSONS_RUN,
    }


# -- running them ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    """The main batch run once with --smoke; (exit status, results folder, output)."""
    out = tmp_path_factory.mktemp("smoke") / "results"
    command = [
        str(Path(sys.executable).parent / "returnmodels"),
        "run",
        "--smoke",
        "--out",
        str(out),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    return done.returncode, out, done.stdout + done.stderr


@pytest.mark.sampling
def test_smoke_batch_runs_every_notebook(smoke_results):
    code, out, output = smoke_results
    manifests = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/manifest.json")}
    failed = {
        n: (m["error"] or {}).get("message") for n, m in manifests.items() if m["status"] != "ok"
    }
    assert set(manifests) == EXPECTED_RUNS, output[-3000:]
    assert not failed, failed
    assert code == 0, output[-3000:]
    for name in EXPECTED_RUNS:
        if name.startswith("fit-"):
            assert manifests[name]["verdict"] in ("PASS", "FAIL")
            assert (out / name / "posterior.nc").is_file()
    assert (out / "compare" / "loo_comparison.csv").is_file()
    # the batch file's formula reached notebook 02 and the engine
    formula_fit = json.loads((out / "fit-formula-crossed-year" / "fit_manifest.json").read_text())
    assert formula_fit["model"] == "formula"
    assert "(1 | closing_year)" in formula_fit["config"]["formula"]
    summary = (out / "fit-formula-crossed-year" / "summary.csv").read_text()
    assert "closing_year_sigma" in summary and "nationality_sigma" in summary
    # the person model: no effect per person anywhere, its comparison in both reports
    persons = (out / PERSONS_RUN / "summary.csv").read_text()
    assert "person_id_sigma" in persons and "person_id_effect" not in persons
    for report, title in (("report", "Persons with repeated cases"),
                          ("report-nl", "Personen met meerdere zaken")):  # fmt: skip
        table = (out / report / "persons.csv").read_text()
        assert table.startswith("quantity,") and "person_sd" in table
        html = (out / report / "report.html").read_text()
        assert f"<h2>{title}</h2>" in html
    # the person SD by its reader's label in the parameters table (a failing verdict's
    # details name parameters as the sampler does)
    english = (out / "report" / "report.html").read_text()
    assert "<td>SD of the person effects (log-odds)</td>" in english
    assert "<td>person_id_sigma</td>" not in english


FITS = {name for name in EXPECTED_RUNS if name.startswith("fit-")}


@pytest.mark.sampling
def test_smoke_batch_is_internal_only_through_its_posteriors(smoke_results):
    """The analysis folder holds internal posteriors (and the runner's lock), nothing else
    the audit refuses; each run's manifest says the same of its own folder."""
    from returnmodels.disclosure.audit import audit_results

    _, out, _ = smoke_results
    found = {(f.source, f.rule) for f in audit_results(out).findings}
    internal = {(f"{name}/posterior.nc", "internal-file") for name in FITS}
    assert found == internal | {(".lock", "unchecked-file-type")}
    for name in EXPECTED_RUNS:
        check = json.loads((out / name / "manifest.json").read_text())["disclosure"]
        assert check["findings"] == [], (name, check)
        assert check["internal"] == (["posterior.nc"] if name in FITS else []), name


@pytest.mark.sampling
def test_smoke_batch_released_passes_the_audit(smoke_results, tmp_path):
    """The main job's own results, released, are clean; every posterior is released
    without its data groups."""
    from returnmodels.cli import main

    _, out, _ = smoke_results
    release = tmp_path / "release"
    assert main(["release", str(out), "--out", str(release)]) == 0
    assert main(["audit", str(release)]) == 0
    manifest = json.loads((release / "release_manifest.json").read_text())
    assert manifest["withheld"] == {} and manifest["skipped"] == [".lock"]
    for name in FITS:
        assert manifest["files"][f"{name}/posterior.nc"]["kind"] == "NetCDF"


@pytest.mark.sampling
def test_every_saved_figure_is_shown_in_its_notebook(smoke_results):
    """Each executed notebook shows (image/png output) as many figures as it saved."""
    _, out, _ = smoke_results
    for name in EXPECTED_RUNS:
        folder = out / name
        executed = _read(next(folder.glob("*.ipynb")))
        shown = sum(
            "image/png" in output.get("data", {})
            for cell in executed.cells
            if cell.cell_type == "code"
            for output in cell.outputs
        )
        saved = len(list(folder.glob("*.png")))
        assert shown >= saved > 0 or saved == shown == 0, (name, shown, saved)


@pytest.mark.sampling
def test_no_executed_notebook_shows_a_warning_wall(smoke_results):
    """No executed notebook of the smoke batch prints a Python warning (ArviZ's Pareto-k
    walls among them): what matters is said in one line by returnmodels instead."""
    _, out, _ = smoke_results
    shown = {}
    for name in EXPECTED_RUNS:
        executed = _read(next((out / name).glob("*.ipynb")))
        texts = [
            output.get("text", "")
            for cell in executed.cells
            if cell.cell_type == "code"
            for output in cell.outputs
            if output.get("output_type") == "stream"
        ]
        warnings = [m.group(0) for t in texts for m in re.finditer(r"\w+Warning: .*", t)]
        if warnings:
            shown[name] = warnings[:3]
    assert not shown, shown


def test_defaults_find_the_data_and_write_into_results_from_any_directory(tmp_path):
    """01 with its defaults under plain papermill from an unrelated working directory:
    the bundled data are found through the package, the outputs go to
    ``<results>/explore`` (here moved by ``RETURNMODELS_RESULTS``), nothing lands in the
    working directory but the executed notebook papermill was asked for."""
    cwd, results = tmp_path / "elsewhere", tmp_path / "results"
    cwd.mkdir()
    command = [
        str(Path(sys.executable).parent / "papermill"),
        str(ROOT / "notebooks" / "01_explore_cases.ipynb"),
        "executed.ipynb",
    ]
    env = os.environ | {"RETURNMODELS_RESULTS": str(results)}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in cwd.iterdir()) == ["executed.ipynb"]
    written = {p.name for p in (results / "explore").iterdir()}
    assert {"outcome_counts_by_year.csv", "outcome_shares_by_year.png"} <= written
    from returnmodels.disclosure.audit import audit_results

    assert not audit_results(results / "explore").findings


def test_every_notebook_defaults_to_bundled_data_and_the_results_folder(notebook):
    """No default path is relative to the working directory: ``data``, ``departures``,
    ``results`` and ``out`` default to ``None`` (resolved by the library)."""
    path, book = notebook
    tagged = next(c for c in book.cells if "parameters" in c.metadata.get("tags", []))
    defaults = {t.id: ast.literal_eval(s.value) for s in _code(tagged).body for t in s.targets}
    for name in ("data", "departures", "results", "out"):
        if name in defaults:
            assert defaults[name] is None, f"{path.name}: {name} = {defaults[name]!r}"


@pytest.mark.sampling
def test_plain_papermill_with_parameters(tmp_path):
    """A notebook runs with plain papermill from notebooks/, defaults relative to it."""
    source = ROOT / "notebooks" / "06_public_figures.ipynb"
    executed = tmp_path / "06.ipynb"
    command = [
        str(Path(sys.executable).parent / "papermill"),
        str(source),
        str(executed),
        "-p", "smoke", "True",
        "-p", "first_year", "2015",
        "-p", "out", str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=source.parent, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    departures = (tmp_path / "departures.csv").read_text().splitlines()
    assert departures[1].startswith("2015")
    assert json.loads((tmp_path / "diagnostics.json").read_text())["verdict"] in ("PASS", "FAIL")


@pytest.mark.sampling
def test_notebook_02_writes_each_formula_into_a_folder_of_its_own(tmp_path):
    """A formula with reference levels, run from notebooks/ as JupyterLab runs it and
    without ``out``: its fit lands in ``<results>/<formula_run_name(...)>`` with the
    references it was given, and ``fit_folder`` finds it."""
    from returnmodels.paths import formula_run_name
    from returnmodels.report import notebook

    formula = "assisted ~ n_procedures * cooperation + (1 | nationality)"
    results = tmp_path / "results"
    command = [
        str(Path(sys.executable).parent / "papermill"),
        str(ROOT / "notebooks" / "02_fit_model.ipynb"),
        str(tmp_path / "02.ipynb"),
        "-p", "smoke", "True",
        "-p", "formula", formula,
        "-y", "reference: {cooperation: low}",
    ]  # fmt: skip
    env = os.environ | {"RETURNMODELS_RESULTS": str(results)}
    done = subprocess.run(
        command, cwd=ROOT / "notebooks", env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    folder = results / formula_run_name(formula, {"cooperation": "low"})
    assert [p.name for p in results.iterdir()] == [folder.name]
    assert folder == notebook.fit_folder(results, formula, {"cooperation": "low"})
    manifest = json.loads((folder / "fit_manifest.json").read_text())
    assert manifest["config"]["formula"] == formula
    assert manifest["config"]["reference"] == {"cooperation": "low"}


def test_the_report_reads_the_person_fit_the_main_job_writes():
    """Notebook 04's study model, ``model``, is the formula with persons, fitted by a run
    of the main job named as the folder notebook 02 gives that formula (where
    ``load_fit`` looks for it); ``independent``, beside it, is a run of the main job too."""
    import yaml

    from returnmodels.report.notebook import fit_folder

    book = _read(ROOT / "notebooks" / "04_report.ipynb")
    parameters = next(c for c in book.cells if "parameters" in c.metadata.get("tags", []))
    values = {s.targets[0].id: ast.literal_eval(s.value) for s in _code(parameters).body}
    persons, independent = values["model"], values["independent"]
    assert "(1 | person_id)" in persons
    runs = {r["name"]: r for r in yaml.safe_load(BATCH.read_text())["runs"]}
    name = fit_folder(None, persons).name
    assert runs[name]["parameters"]["formula"] == persons
    for report in ("report", "report-nl"):
        assert {name, f"fit-{independent}"} <= set(runs[report]["after"])

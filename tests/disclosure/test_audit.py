"""``returnmodels audit``: a clean results folder passes; each planted breach (CSV,
notebook output, HTML table, case rows, missing or stale marker) fails, named."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from returnmodels import cli
from returnmodels.disclosure import (
    DEFAULT_RULES,
    DisclosureRules,
    control_counts,
    control_groups,
    control_shares,
    mark_controlled,
    marker_path,
    write_controlled_csv,
)
from returnmodels.disclosure.audit import audit_results
from returnmodels.disclosure.extract import html_tables, text_tables
from returnmodels.errors import ConfigError
from returnmodels.report.run_folder import RunFolder

TABLE = pd.DataFrame(
    {"assisted": [3, 40, 15], "forced": [40, 30, 12], "legal": [50, 25, 60]},
    index=pd.Index(["IRQ", "NGA", "SYR"], name="nationality"),
)
RAW_ROWS = pd.DataFrame(
    {
        "case_id": ["C000001", "C000002"],
        "person_id": ["P000001", "P000002"],
        "nationality": ["IRQ", "NGA"],
        "closing_year": [2019, 2020],
        "outcome": ["assisted_return", "legal_stay"],
        "gender": ["male", "female"],
    }
)


def notebook(*outputs: dict) -> str:
    cells = [{"cell_type": "code", "source": "x", "metadata": {}, "outputs": list(outputs)}]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def shown(frame: pd.DataFrame) -> dict:
    """A notebook display of ``frame``, as Jupyter stores it."""
    data = {"text/html": frame.to_html(), "text/plain": str(frame)}
    return {"output_type": "execute_result", "data": data, "metadata": {}, "execution_count": 1}


def printed(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


@pytest.fixture
def results(tmp_path):
    """A clean results folder: controlled CSVs, an executed notebook, an HTML report."""
    root = tmp_path / "results"
    (root / "run-1").mkdir(parents=True)
    counts = control_counts(TABLE)
    write_controlled_csv(counts, root / "run-1" / "outcomes.csv")
    frame = pd.DataFrame({"nationality": ["IRQ", "NGA"], "k": [30, 3], "n": [80, 70]})
    write_controlled_csv(control_shares(frame, "k", "n"), root / "run-1" / "shares.csv")
    estimates = pd.DataFrame(
        {"nationality": ["IRQ", "XYZ"], "n_cases": [400, 4], "mean": [0.2, 0.9]}
    )
    write_controlled_csv(
        control_groups(estimates, "nationality", "n_cases", pool=False),
        root / "run-1" / "margins.csv",
    )
    summary = pd.DataFrame({"parameter": ["b0"], "mean": [0.12], "hdi_3%": [0.07], "n_chains": [4]})
    write_controlled_csv(mark_controlled(summary, DEFAULT_RULES), root / "run-1" / "summary.csv")
    (root / "run-1" / "report.ipynb").write_text(
        notebook(shown(counts), printed("sampling done\n"), shown(summary))
    )
    (root / "run-1" / "report.html").write_text(counts.to_html())
    RunFolder(root / "run-1").figure(_axes(), "figure.png", basis="population")
    return root


def _axes():
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(2, 2))[1]


def test_clean_folder_passes(results, capsys):
    assert cli.main(["audit", str(results)]) == 0
    out = capsys.readouterr().out
    assert "is clean under min_cases=10, rounding_base=5" in out
    assert "checked: 4 CSV, 1 notebook, 1 HTML, 1 figure" in out


def rules_of(report):
    return [(f.source, f.rule) for f in report.findings]


def test_uncontrolled_csv_fails(results):
    TABLE.to_csv(results / "run-1" / "raw.csv")
    report = audit_results(results)
    assert not report.clean
    assert ("run-1/raw.csv", "uncontrolled-output") in rules_of(report)
    small = [f for f in report.findings if f.rule == "small-count"]
    assert [(f.location, f.value) for f in small] == [("row 1, column 'assisted'", "3")]
    unrounded = [f for f in report.findings if f.rule == "unrounded-count"]
    assert [(f.location, f.value) for f in unrounded] == [("row 3, column 'forced'", "12")]


def test_csv_edited_after_control_fails(results):
    path = results / "run-1" / "outcomes.csv"
    path.write_text(path.read_text().replace("IRQ,,,50,95", "IRQ,3,,50,95"))
    findings = audit_results(results).findings
    assert [(f.rule, f.location, f.value) for f in findings] == [
        ("marker-mismatch", "file", findings[0].value),
        ("small-count", "row 1, column 'assisted'", "3"),
    ]


def test_marker_with_weaker_rules_fails(results):
    write_controlled_csv(control_counts(TABLE, DisclosureRules(min_cases=3)), results / "weak.csv")
    report = audit_results(results)
    assert ("weak.csv", "weaker-rules") in rules_of(report)
    assert audit_results(results, DisclosureRules(min_cases=3)).clean


def test_invalid_marker_fails(results):
    marker_path(results / "run-1" / "shares.csv").write_text("{not json")
    assert ("run-1/shares.csv", "marker-invalid") in rules_of(audit_results(results))


def test_notebook_html_table_with_a_small_count_fails(results):
    (results / "bad.ipynb").write_text(notebook(printed("hi\n"), shown(TABLE)))
    findings = [f for f in audit_results(results).findings if f.source == "bad.ipynb"]
    assert [(f.location, f.value, f.rule) for f in findings] == [
        ("cell 1, output 2, table 1, row 1, column 'assisted'", "3", "small-count"),
        ("cell 1, output 2, table 1, row 3, column 'forced'", "12", "unrounded-count"),
    ]


def test_notebook_printing_case_rows_fails(results):
    (results / "rows.ipynb").write_text(notebook(printed(RAW_ROWS.to_string())))
    report = audit_results(results)
    found = {rule for source, rule in rules_of(report) if source == "rows.ipynb"}
    assert {"identifier-column", "identifier-value", "case-level-rows"} <= found


def test_identifiers_in_a_traceback_fail(results):
    error = {
        "output_type": "error",
        "ename": "KeyError",
        "evalue": "x",
        "traceback": ["KeyError: 'C000123'"],
    }
    (results / "error.ipynb").write_text(notebook(error))
    finding = next(f for f in audit_results(results).findings if f.source == "error.ipynb")
    assert (finding.location, finding.value, finding.rule) == (
        "cell 1, output 1, text",
        "C000123 (1 matches)",
        "identifier-value",
    )


def test_crosstab_with_suppressed_cells_is_still_read_as_counts(tmp_path):
    (tmp_path / "t.html").write_text(TABLE.astype(float).replace(40, float("nan")).to_html())
    found = [(f.location, f.rule) for f in audit_results(tmp_path).findings]
    assert ("table 1, row 1, column 'assisted'", "small-count") in found


def test_html_table_with_a_small_count_fails(results):
    (results / "page.html").write_text("<h1>Uptake</h1>" + TABLE.to_html())
    assert ("page.html", "small-count") in rules_of(audit_results(results))


def test_case_level_csv_fails_even_when_exempt(results):
    (results / "scratch").mkdir()
    RAW_ROWS.to_csv(results / "scratch" / "rows.csv", index=False)
    found = rules_of(audit_results(results, exempt=["scratch"]))
    assert ("scratch/rows.csv", "uncontrolled-output") not in found
    assert ("scratch/rows.csv", "identifier-column") in found
    assert ("scratch/rows.csv", "case-level-rows") in found


def test_exempt_folder_needs_no_marker(results):
    (results / "diagnostics").mkdir()
    pd.DataFrame({"parameter": ["b0"], "r_hat": [1.01], "ess_bulk": [812.4]}).to_csv(
        results / "diagnostics" / "summary.csv", index=False
    )
    assert not audit_results(results).clean
    assert audit_results(results, exempt=["diagnostics"]).clean


def test_unreadable_notebook_fails(results):
    (results / "broken.ipynb").write_text("{")
    assert ("broken.ipynb", "unreadable") in rules_of(audit_results(results))


@pytest.mark.parametrize(("value", "clean"), [(5, False), (10, True), (15, True)])
def test_audit_threshold_at_below_and_above(tmp_path, value, clean):
    (tmp_path / "t.html").write_text(pd.DataFrame({"n_cases": [value, 100]}).to_html())
    assert audit_results(tmp_path).clean == clean


def test_audit_threshold_is_the_rounded_minimum(tmp_path):
    (tmp_path / "t.html").write_text(pd.DataFrame({"n": [5, 100]}).to_html())
    assert audit_results(tmp_path, DisclosureRules(min_cases=7)).clean  # 7..9 round to 5 or 10
    assert not audit_results(tmp_path, DisclosureRules(min_cases=8)).clean


@pytest.mark.parametrize(("value", "clean"), [(0, True), (1, False)])
def test_audit_zero_rule(tmp_path, value, clean):
    (tmp_path / "t.html").write_text(pd.DataFrame({"n": [value, 100]}).to_html())
    assert audit_results(tmp_path).clean == clean
    assert not audit_results(tmp_path, DisclosureRules(suppress_zeros=True)).clean


def test_estimates_are_not_counts(tmp_path):
    summary = pd.DataFrame({"mean": [0.19, 3.0], "hdi_3%": [0.1, 2.0], "n_eff": [4.0, 7.0]})
    (tmp_path / "s.html").write_text(summary.to_html())
    assert audit_results(tmp_path).clean


def test_cli_options_and_exit_codes(results, tmp_path, capsys):
    (results / "t.html").write_text(pd.DataFrame({"n": [12, 100]}).to_html())
    assert cli.main(["audit", str(results)]) == 1
    out = capsys.readouterr().out
    assert "t.html: table 1, row 1, column 'n': 12: unrounded-count" in out
    assert "1 findings in 1 files" in out
    capsys.readouterr()
    assert cli.main(["audit", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["audit", str(results), "--min-cases", "0"]) == 2
    assert "min_cases=0 is not allowed" in capsys.readouterr().err
    assert cli.main(["audit", str(results), "--id-pattern", "("]) == 2


def test_cli_rounding_base_option(tmp_path):
    (tmp_path / "t.html").write_text(pd.DataFrame({"n": [12, 100]}).to_html())
    assert cli.main(["audit", str(tmp_path)]) == 1
    assert cli.main(["audit", str(tmp_path), "--rounding-base", "1"]) == 0
    assert cli.main(["audit", str(tmp_path), "--rounding-base", "1", "--min-cases", "13"]) == 1


def test_empty_csv_and_empty_folder_are_clean(tmp_path):
    assert audit_results(tmp_path).clean
    (tmp_path / "empty.csv").write_text("")
    write_controlled_csv(control_counts(pd.Series([20, 30])), tmp_path / "t.csv")
    assert rules_of(audit_results(tmp_path)) == [("empty.csv", "uncontrolled-output")]


def test_bad_id_pattern_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not a regular expression"):
        audit_results(tmp_path, id_pattern="(")


# --- table readers -----------------------------------------------------------------------


def test_html_tables_read_pandas_and_styler_output():
    for html in (TABLE.to_html(), TABLE.style.to_html()):
        (frame,) = html_tables(html)
        assert list(frame.columns) == ["nationality", "assisted", "forced", "legal"]
        assert frame.iloc[0].tolist() == ["IRQ", "3", "40", "50"]


def test_text_tables_read_printed_frames():
    (frame,) = text_tables("some log line\n" + str(TABLE) + "\n\nthe end")
    assert list(frame.columns) == ["", "assisted", "forced", "legal"]
    assert frame.iloc[2].tolist() == ["SYR", "15", "12", "60"]


@pytest.mark.parametrize(
    ("values", "clean"),
    [(["1.237", "35"], False), (["1.240", "35"], True), (["1.237", "0.125"], True)],
)
def test_dutch_thousands_points_are_read_as_counts(tmp_path, values, clean):
    """A Dutch report writes 1.237 for 1,237 cases: read as a count (unrounded here);
    a column of decimals (0.125) keeps its meaning."""
    (tmp_path / "t.html").write_text(pd.DataFrame({"n": values}).to_html())
    assert audit_results(tmp_path).clean == clean

"""The audit refuses a file that quotes an error message (rule ``error-message``): a
notebook's un-withheld error output or a traceback in its streams, an HTML page with a
traceback or an un-withheld error block, a JSON ``error`` object that quotes its message,
a log with a traceback; the withheld forms pass, and ``error.log`` is internal."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell, new_notebook, new_output

from returnmodels import cli
from returnmodels.disclosure.audit import audit_results
from returnmodels.disclosure.error_text import (
    ERROR_LOG,
    WITHHELD,
    document_error_findings,
    html_error_findings,
    is_withheld,
    quotes_error,
    text_error_findings,
)

#: A planted data value: no finding may repeat it.
PLANTED = "ZZQ"
TRACEBACK = [
    "\x1b[31m---------------------------------------------------------------------------\x1b[39m",
    "\x1b[31mValueError\x1b[39m                                Traceback (most recent call last)",
    "\x1b[36mCell\x1b[39m \x1b[32mIn[4], line 1\x1b[39m\n----> 1 check(cases)\n",
    f"\x1b[31mValueError\x1b[39m: column 'nationality', row 3: found '{PLANTED}'",
]
QUOTED = new_output("error", ename="ValueError", evalue=f"found '{PLANTED}'", traceback=TRACEBACK)
WITHHELD_ERROR = new_output(
    "error", ename="ValueError", evalue=WITHHELD, traceback=[f"ValueError: {WITHHELD}"]
)
STDERR_TRACEBACK = new_output(
    "stream",
    name="stderr",
    text=f"Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: '{PLANTED}'\n",
)


def notebook(*outputs) -> nbformat.NotebookNode:
    return new_notebook(cells=[new_code_cell("check(cases)", outputs=list(outputs))])


def audited(tmp_path, name: str, content: str) -> list[tuple[str, str, str]]:
    """(location, value, rule) of every finding of one file, checked that none quotes."""
    (tmp_path / name).write_text(content, encoding="utf-8")
    findings = audit_results(tmp_path).findings
    assert not any(PLANTED in str(finding) for finding in findings)
    return [(f.location, f.value, f.rule) for f in findings]


def test_a_notebook_error_output_must_be_withheld(tmp_path):
    assert audited(tmp_path, "a.ipynb", nbformat.writes(notebook(QUOTED))) == [
        ("cell 1, output 1, error", "error output not withheld", "error-message")
    ]
    assert audited(tmp_path, "a.ipynb", nbformat.writes(notebook(WITHHELD_ERROR))) == []


def test_a_withheld_message_with_anything_added_is_refused(tmp_path):
    added = new_output("error", ename="E", evalue=f"{WITHHELD} {PLANTED}", traceback=[])
    assert audited(tmp_path, "a.ipynb", nbformat.writes(notebook(added))) == [
        ("cell 1, output 1, error", "error output not withheld", "error-message")
    ]
    assert not is_withheld(f"ValueError: {WITHHELD} ({PLANTED})")
    assert is_withheld(f"ValueError: {WITHHELD}") and is_withheld(WITHHELD) and is_withheld("")


@pytest.mark.parametrize(
    ("name", "text", "refused"),
    [
        ("stderr", STDERR_TRACEBACK["text"], True),
        ("stdout", STDERR_TRACEBACK["text"], True),  # traceback.print_exc(file=sys.stdout)
        ("stderr", f"ContractError: column 'nationality': found '{PLANTED}'\n", True),
        ("stdout", "ValueError: printed as a result, not an error\n", False),
        ("stderr", "model.py:3: UserWarning: 12 divergences\n", False),
        ("stderr", f"{WITHHELD}\n", False),
    ],
)
def test_streams_holding_a_traceback_or_an_error_on_stderr_are_refused(
    tmp_path, name, text, refused
):
    output = new_output("stream", name=name, text=text)
    expected = [("cell 1, output 1, " + name, "error message", "error-message")]
    assert audited(tmp_path, "a.ipynb", nbformat.writes(notebook(output))) == (
        expected if refused else []
    )


@pytest.mark.parametrize("template", ["lab", "classic"])
def test_html_exports_of_notebooks_quoting_an_error_are_refused(tmp_path, template):
    exporter = HTMLExporter(template_name=template)
    quoted, _ = exporter.from_notebook_node(notebook(QUOTED))
    assert audited(tmp_path, "a.html", quoted) == [
        ("error block 1", "error message", "error-message")
    ]
    stderr, _ = exporter.from_notebook_node(notebook(STDERR_TRACEBACK))
    assert audited(tmp_path, "a.html", stderr) == [
        ("error block 1", "error message", "error-message")
    ]
    withheld, _ = exporter.from_notebook_node(notebook(WITHHELD_ERROR))
    assert audited(tmp_path, "a.html", withheld) == []


def test_html_pages_with_a_traceback_or_an_error_div_are_refused():
    page = f"<p>Traceback (most recent call last):<br>KeyError: '{PLANTED}'</p>"
    assert [(f.location, f.rule) for f in html_error_findings(page, "p.html")] == [
        ("text", "error-message")
    ]
    index = '<div class="error">ValueError in cell [4]: found &#x27;ZZQ&#x27;</div>'
    assert [f.location for f in html_error_findings(index, "index.html")] == ["error block 1"]
    safe = f'<div class="error">ValueError in cell [4]: {WITHHELD}</div>'
    assert html_error_findings(safe, "index.html") == []
    style = "<style>/* Traceback (most recent call last) */</style><p>fine</p>"
    assert html_error_findings(style, "p.html") == []


def test_json_error_objects_must_withhold_their_message(tmp_path):
    quoted = {"error": {"name": "ValueError", "message": f"found '{PLANTED}'", "cell": 4}}
    assert audited(tmp_path, "manifest.json", json.dumps(quoted)) == [
        ("$.error.message", "error message", "error-message")
    ]
    nested = {"runs": [{"error": {"traceback": [f"KeyError: '{PLANTED}'"]}}]}
    assert [f.location for f in document_error_findings(nested, "m.json")] == [
        "$.runs[0].error.traceback"
    ]
    assert [f.location for f in document_error_findings({"error": "E: x"}, "m.json")] == ["$.error"]
    withheld = {"error": {"name": "ValueError", "message": WITHHELD, "cell": 4}}
    assert audited(tmp_path, "manifest.json", json.dumps(withheld)) == []
    assert document_error_findings({"error": None, "status": "ok"}, "m.json") == []


def test_a_traceback_in_any_json_string_is_refused():
    document = {"log": 'started\nTraceback (most recent call last):\n  File "x.py", line 2\n'}
    assert [(f.location, f.rule) for f in document_error_findings(document, "m.json")] == [
        ("$.log", "error-message")
    ]


def test_a_log_with_a_traceback_is_refused_and_named_by_line(tmp_path):
    log = f'kernel started\nTraceback (most recent call last):\n  File "a.py", line 1\n{PLANTED}\n'
    assert audited(tmp_path, "run.log", log) == [("line 2", "traceback", "error-message")]
    assert audited(tmp_path, "run.log", "kernel started\nUserWarning: slow\n") == []
    ipython = "\x1b[36mFile \x1b[39m/src/reading.py:88, in read_cases(path)\n"
    assert [f.location for f in text_error_findings(ipython, "notes.txt")] == ["line 1"]


def test_quotes_error_reads_through_colours_and_the_withheld_sentence():
    assert quotes_error("\x1b[31mValueError\x1b[39m: found it")
    assert quotes_error("returnmodels.errors.ConfigError: level(s) ['ABC'] are not in the model")
    assert not quotes_error(f"ValueError: {WITHHELD}")
    assert not quotes_error("x.py:3: FutureWarning: deprecated")


def test_the_error_log_is_internal_and_the_cli_says_what_to_do(tmp_path, capsys):
    (tmp_path / "run-1").mkdir()
    (tmp_path / "run-1" / ERROR_LOG).write_text(f"Traceback (most recent call last):\n{PLANTED}\n")
    (tmp_path / "run-1" / "a.ipynb").write_text(nbformat.writes(notebook(QUOTED)))
    assert cli.main(["audit", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"run-1/{ERROR_LOG}: file: a failed run's full error messages: internal-file" in out
    assert "run-1/a.ipynb: cell 1, output 1, error: error output not withheld: error-message" in out
    assert "an error message or traceback, which may quote the data" in out
    assert PLANTED not in out

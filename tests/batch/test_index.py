"""``index.html`` leads with results: the headline margins against the study's, each
run's verdict and key figure, then the links."""

from __future__ import annotations

import io
import re

import pandas as pd

from returnmodels.batch.index import write_index
from returnmodels.batch.progress import Progress
from returnmodels.disclosure import DEFAULT_RULES, mark_controlled
from returnmodels.report.notebook import margin_targets
from returnmodels.report.run_folder import RunFolder

MARGINS = pd.DataFrame(
    {
        "convergence": "PASS",
        "predictor": ["n_procedures"] * 3 + ["cooperation"] * 2,
        "value": ["1", "3", "6", "low", "high"],
        "mean": [0.201, 0.093, 0.021, 0.052, 0.108],
        "hdi_lower": [0.184, 0.085, 0.017, 0.041, 0.097],
        "hdi_upper": [0.226, 0.108, 0.026, 0.064, 0.121],
    }
)


def _results(tmp_path, *, report: bool):
    out = tmp_path / "results"
    fit = RunFolder(out / "fit-group_predictors")
    fit.table(mark_controlled(MARGINS, DEFAULT_RULES), "margins.csv")
    fit.figure(pd.Series([1, 2]).plot(), "rank.png", basis="diagnostics")
    if report:
        folder = RunFolder(out / "report")
        folder.table(
            margin_targets(mark_controlled(MARGINS, DEFAULT_RULES)), "margins_with_targets.csv"
        )
        folder.figure(pd.Series([1, 2]).plot(), "margins_n_procedures.png", basis="diagnostics")
        (out / "report" / "report.html").write_text("<html></html>", encoding="utf-8")
    progress = Progress(["fit-group_predictors", "report"], stream=io.StringIO())
    progress.set("fit-group_predictors", "done", manifest={"verdict": "PASS"})
    progress.set("report", "done" if report else "queued", manifest={})
    return out, progress


def test_index_leads_with_the_headline_against_the_study(tmp_path):
    out, progress = _results(tmp_path, report=True)
    page = write_index(out, progress, tmp_path / "main.yaml", smoke=False).read_text()
    assert page.index("Headline") < page.index("<h2>Runs</h2>")
    assert "19.0%" in page and "20.1% (18.4% to 22.6%)" in page  # study's figure and the model's
    assert "11.0%" in page and "extensive" in page  # cooperation in words
    assert '<a href="report/report.html">the report</a>' in page
    assert "convergence PASS" in page


def test_each_run_shows_its_verdict_and_a_thumbnail_of_its_key_figure(tmp_path):
    out, progress = _results(tmp_path, report=True)
    page = write_index(out, progress, tmp_path / "main.yaml", smoke=False).read_text()
    thumbnails = re.findall(r'<img class="thumb" src="([^"]+)"', page)
    assert thumbnails == ["fit-group_predictors/rank.png", "report/margins_n_procedures.png"]
    assert all((out / src).is_file() for src in thumbnails)  # relative to the index


def test_without_a_report_the_headline_reads_the_main_fit(tmp_path):
    out, progress = _results(tmp_path, report=False)
    page = write_index(out, progress, tmp_path / "main.yaml", smoke=True).read_text()
    assert "fit-group_predictors/margins.csv" in page and "19.0%" in page
    assert "Smoke run" in page and "report.html" not in page


def test_before_any_fit_the_index_says_so(tmp_path):
    progress = Progress(["explore"], stream=io.StringIO())
    (tmp_path / "results").mkdir()
    page = write_index(tmp_path / "results", progress, tmp_path / "b.yaml", smoke=False)
    assert "No fit yet" in page.read_text()

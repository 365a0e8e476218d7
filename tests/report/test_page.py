"""``report.html``: no code, numbers for publication, labels and captions in the chosen
language, the verdicts, rules and provenance, and a clean audit (fake fits, no sampler)."""

from __future__ import annotations

import re
from html import escape

import pytest

from fakes import fake_fit
from returnmodels.disclosure.audit import audit_results
from returnmodels.report import model_figures, notebook
from returnmodels.report.labels import label, parameter_label, text
from returnmodels.report.page import difference, interval, percent, write_report
from returnmodels.report.run_folder import RunFolder
from returnmodels.summaries import margins as margins_of
from returnmodels.summaries import parameter_summary, with_verdict

SIZES = {"IRQ": 400, "NGA": 300, "AFG": 120, "SYR": 60, "ERI": 5}
MODEL = "varying_intercepts"


@pytest.fixture(scope="module")
def report_inputs(tmp_path_factory):
    """A fit folder and a report folder as notebooks 02 and 04 write them."""
    base = tmp_path_factory.mktemp("page")
    result = fake_fit(SIZES)
    fit_dir = base / f"fit-{MODEL}"
    fit_folder = RunFolder(fit_dir)
    summary = parameter_summary(result).rename_axis("parameter")
    fit_folder.table(notebook.controlled_summary(summary, result), "summary.csv")
    margins = notebook.controlled_margins(with_verdict(margins_of(result), result), result)
    fit_folder.table(margins, "margins.csv")
    notebook.write_verdict(result, fit_folder)
    fit_folder.json({"data": {"sha256": "0" * 64}}, "fit_manifest.json")
    folder = RunFolder(base / "report")
    margins, _ = notebook.read_fit_tables(fit_dir)
    folder.table(notebook.margin_targets(margins), "margins_with_targets.csv")
    effects = folder.table(notebook.controlled_group_effects(result), "nationality_effects.csv")
    folder.figure(
        model_figures.plot_caterpillar(result, effects),
        "caterpillar.png",
        sources=["nationality_effects.csv"],
    )
    folder.table(notebook.controlled_contrast(result, "NGA", "IRQ"), "contrast_NGA_IRQ.csv")
    return folder, {MODEL: fit_dir, "competing_outcomes": base / "fit-competing_outcomes"}


def _page(report_inputs, language: str) -> str:
    folder, fits = report_inputs
    path = write_report(
        folder,
        fits,
        model=MODEL,
        competing="competing_outcomes",
        contrast=("NGA", "IRQ"),
        language=language,
        name=f"report-{language}.html",
    )
    return path.read_text(encoding="utf-8")


def test_numbers_are_formatted_for_publication():
    assert percent(0.18955812144986772) == "19.0%"
    assert percent(0.18955812144986772, "nl") == "19,0%"
    assert interval(0.19, 0.172, 0.209) == "19.0% (17.2–20.9%)"
    assert difference(-0.048, -0.095, -0.005) == "−4.8 pp (−9.5 to −0.5)"
    assert parameter_label("cooperation[high]") == f"{label('cooperation')}: extensive"
    assert parameter_label("nationality_sigma", "nl").startswith("SD van")


def test_report_has_no_code_and_no_raw_floats(report_inputs):
    html = _page(report_inputs, "en")
    assert "<pre" not in html and "<code" not in html and "import " not in html
    assert "<script" not in html
    assert not re.search(r"\d\.\d{5,}", html), "an unformatted float"
    assert re.search(r"\d+\.\d% \(\d+\.\d–\d+\.\d%\)", html), "no percentage with its interval"
    words = re.sub(r"data:image/png;base64,[^\"]+", "", html)
    assert not re.search(r"\bnan\b", words, re.IGNORECASE), "a missing value printed as NaN"


def test_report_holds_verdicts_figures_captions_rules_and_provenance(report_inputs):
    html = _page(report_inputs, "en")
    assert text("verdict_pass") in html  # the fake fit passes
    assert text("no_fit", model="competing_outcomes") in html  # and the missing one says so
    images = re.findall(r'<img src="data:image/png;base64,', html)
    captions = re.findall(r"<figcaption>", html)
    assert len(images) == len(captions) >= 1
    assert "at least 10 cases" in html and "base 5" in html
    assert "data (sha256)" in html and "pymc" in html
    assert label("nationality_sigma") in html  # parameters by their labels
    assert "19.0%" in html  # the study's published figure beside the model's


def test_language_switch_changes_labels_and_captions(report_inputs):
    english, dutch = _page(report_inputs, "en"), _page(report_inputs, "nl")
    assert '<html lang="nl">' in dutch
    for key in ("title", "caption_caterpillar", "section_disclosure", "section_provenance"):
        assert escape(text(key, "nl")) in dutch and escape(text(key, "nl")) not in english, key
        assert escape(text(key, "en")) in english
    assert label("n_procedures", "nl") in dutch
    assert "19,0%" in dutch and "19.0%" in english


def test_report_passes_the_audit(report_inputs):
    folder, _ = report_inputs
    _page(report_inputs, "en")
    _page(report_inputs, "nl")
    report = audit_results(folder.path)
    assert not report.findings, report.findings


def test_an_unknown_language_is_refused(report_inputs):
    with pytest.raises(ValueError, match="choose one of en, nl"):
        _page(report_inputs, "fr")

"""``report.html``: no code, numbers for publication, labels and captions in the chosen
language, the verdicts, rules and provenance, and a clean audit (fake fits, no sampler).
What makes it trustworthy to a reader (data source, checksums, marks, Dutch) is
checked in ``test_report_trust.py``."""

from __future__ import annotations

import re
from html import escape

import pytest

from report_pages import write_page
from returnmodels.disclosure.audit import audit_results
from returnmodels.report.labels import label, parameter_label, text
from returnmodels.report.page import difference, interval, percent, ratio


def test_numbers_are_formatted_for_publication():
    assert percent(0.18955812144986772) == "19.0%"
    assert percent(0.18955812144986772, "nl") == "19,0%"
    assert interval(0.19, 0.172, 0.209) == "19.0% (17.2% to 20.9%)"
    assert interval(0.19, 0.172, 0.209, "nl") == "19,0% (17,2% tot 20,9%)"
    assert difference(-0.048, -0.095, -0.005) == "−4.8 (−9.5 to −0.5)"
    assert ratio(0.509, 0.149, 0.794, "nl") == "0,509 (0,149 tot 0,794)"
    assert ratio(0.6253, 0.6191, 0.6314) == "0.625 (0.619 to 0.631)"  # narrow: a digit more
    assert ratio(2.06, 1.33, 3.37) == "2.06 (1.33 to 3.37)"
    assert parameter_label("cooperation[high]") == f"{label('cooperation')}: extensive"
    assert parameter_label("nationality_sigma", "nl").startswith("SD van")


def test_report_has_no_code_and_no_raw_floats(report_inputs):
    html = write_page(report_inputs, "en")
    assert "<pre" not in html and "<code" not in html and "import " not in html
    assert "<script" not in html
    assert not re.search(r"\d\.\d{5,}", html), "an unformatted float"
    assert re.search(r"\d+\.\d% \(\d+\.\d% to \d+\.\d%\)", html), "no share with its interval"
    words = re.sub(r"data:image/png;base64,[^\"]+", "", html)
    assert not re.search(r"\bnan\b", words, re.IGNORECASE), "a missing value printed as NaN"


def test_report_holds_verdicts_figures_captions_rules_and_provenance(report_inputs):
    html = write_page(report_inputs, "en")
    assert text("verdict_pass") in html  # the fake fit passes
    assert text("no_fit", model="competing_outcomes") in html  # and the missing one says so
    images = re.findall(r'<img src="data:image/png;base64,', html)
    captions = re.findall(r"<figcaption>", html)
    assert len(images) == len(captions) >= 1
    assert "at least 10 cases" in html and "base 5" in html
    assert "pymc" in html and "fit-varying_intercepts" in html
    assert label("nationality_sigma") in html  # parameters by their labels
    assert "19.0%" in html  # the study's published figure beside the model's


def test_language_switch_changes_labels_and_captions(report_inputs):
    english, dutch = write_page(report_inputs, "en"), write_page(report_inputs, "nl")
    assert '<html lang="nl">' in dutch
    for key in ("title", "caption_caterpillar", "section_disclosure", "section_provenance"):
        assert escape(text(key, "nl")) in dutch and escape(text(key, "nl")) not in english, key
        assert escape(text(key, "en")) in english
    assert label("n_procedures", "nl") in dutch
    assert "19,0%" in dutch and "19.0%" in english


def test_report_passes_the_audit(report_inputs):
    write_page(report_inputs, "en")
    write_page(report_inputs, "nl")
    report = audit_results(report_inputs.folder.path)
    assert not report.findings, report.findings


def test_an_unknown_language_is_refused(report_inputs):
    with pytest.raises(ValueError, match="choose one of en, nl"):
        write_page(report_inputs, "fr")

"""A report a reader can trust, in both languages: it says where the data come from and
that the bundled set is synthetic, shows the data file's own SHA-256, writes every
number in one style in the reader's language (figures too), never shows a bare 0% of a
named group, marks what was withheld and says why, names models and countries as a
reader knows them, and leaves no English title in the Dutch report."""

from __future__ import annotations

import html as html_text
import re
import shutil

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from report_pages import MODEL, ZERO, write_page
from returnmodels.disclosure.extract import html_tables
from returnmodels.files import sha256_file
from returnmodels.paths import bundled_cases
from returnmodels.report import model_figures, style
from returnmodels.report.labels import entries, model_label, text
from returnmodels.report.page import ratio

#: The one interval style: ``estimate (lower to upper)``, each a number or a share.
_NUMBER = r"(?:[<>] )?−?[\d.,]+%?"
INTERVAL = re.compile(rf"^{_NUMBER} \({_NUMBER} (?:to|tot) {_NUMBER}\)$")
#: A number as each language writes it: thousands separated, one decimal mark.
NUMBER = {
    "en": re.compile(r"^\d{1,3}(,\d{3})*(\.\d+)?$"),
    "nl": re.compile(r"^\d{1,3}(\.\d{3})*(,\d+)?$"),
}


def _visible(page: str) -> str:
    """The page's text as a reader sees it: no style sheet, images or tags, entities
    resolved."""
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.DOTALL)
    page = re.sub(r"data:image/png;base64,[^\"]+", "", page)
    return html_text.unescape(re.sub(r"<[^>]+>", " ", page))


def _tables(page: str) -> list[pd.DataFrame]:
    """The page's tables but the last (provenance: versions, dates and a commit)."""
    return html_tables(page)[:-1]


def _cells(page: str) -> list[str]:
    return [str(v) for table in _tables(page) for v in table.to_numpy().ravel()]


def _english_only() -> list[str]:
    """Pieces (between placeholders) of every English label and text whose Dutch differs."""
    english, dutch = entries("en"), entries("nl")
    pieces = set()
    for key, template in english.items():
        if template == dutch[key]:
            continue
        for piece in re.split(r"\{[^}]*\}", template):
            piece = piece.strip(" .,:;()*")
            if len(piece) >= 8 and piece not in " ".join(dutch.values()):
                pieces.add(piece)
    return sorted(pieces)


# -- where the data come from ----------------------------------------------------------


@pytest.mark.parametrize("language, word", [("en", "synthetic"), ("nl", "synthetisch")])
def test_the_bundled_data_are_said_to_be_synthetic_at_the_top(report_inputs, language, word):
    page = write_page(report_inputs, language, bundled_cases())
    banner = page.index('class="synthetic"')
    assert banner < page.index("<h2>"), "the synthetic banner is not above the first section"
    assert word in _visible(page).lower()
    assert "cases.parquet" in page


def test_a_copy_of_the_bundled_file_is_known_by_its_checksum(report_inputs, tmp_path):
    copy = tmp_path / "copy" / "my_cases.parquet"
    copy.parent.mkdir()
    shutil.copyfile(bundled_cases(), copy)
    assert 'class="synthetic"' in write_page(report_inputs, "en", copy)


def test_other_data_get_no_synthetic_banner(report_inputs, tmp_path):
    other = tmp_path / "other" / "dtv_extract.csv"
    other.parent.mkdir()
    other.write_text("nationality,outcome\nNGA,legal_stay\n", encoding="utf-8")
    for language, word in (("en", "synthetic"), ("nl", "synthetisch")):
        page = write_page(report_inputs, language, other)
        assert 'class="synthetic"' not in page and word not in _visible(page).lower()
        assert "dtv_extract.csv" in page  # the data are still named


def test_a_simulated_file_and_a_smoke_run_are_synthetic_too(report_inputs, tmp_path):
    simulated = tmp_path / "sim" / "mine.csv"
    simulated.parent.mkdir()
    simulated.write_text("nationality\nNGA\n", encoding="utf-8")
    (tmp_path / "sim" / "mine.truth.json").write_text("{}", encoding="utf-8")
    page = write_page(report_inputs, "en", simulated)
    assert 'class="synthetic"' in page and "mine.truth.json" in page
    smoke = write_page(report_inputs, "nl", smoke=True)
    assert 'class="synthetic"' in smoke and "gesimuleerd in de rookproef" in smoke


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_checksum_shown_is_the_data_files_own(report_inputs, language):
    page = write_page(report_inputs, language, bundled_cases())
    provenance = html_tables(page)[-1]
    row = provenance[provenance.iloc[:, 0].str.contains("cases.parquet")]
    assert len(row) == 1, provenance
    assert row.iloc[0, 0] == text("data_sha256", language, name="cases.parquet")
    assert row.iloc[0, 1] == sha256_file(bundled_cases())  # as sha256sum prints it
    assert "0" * 64 not in page  # not the hash of the loaded frame the fit recorded


# -- numbers: one style, in the reader's language -------------------------------------


def test_numbers_in_each_language():
    assert style.count_label(118_000) == "118,000"
    assert style.count_label(118_000, "nl") == "118.000"
    assert style.percent_text(0.0) == "< 0.1%" and style.percent_text(0.0004, "nl") == "< 0,1%"
    assert style.percent_text(0.9999) == "> 99.9%"
    assert style.number_text(-1234.56, 2, "nl") == "−1.234,56"


@pytest.mark.parametrize("language", ["en", "nl"])
def test_tables_write_numbers_in_one_style_and_the_language(report_inputs, language):
    page = write_page(report_inputs, language, bundled_cases())
    cells = _cells(page)
    intervals = [c for c in cells if "(" in c and re.match(r"^[<>−\d]", c)]
    assert len(intervals) >= 10
    assert all(INTERVAL.match(c) for c in intervals), [
        c for c in intervals if not INTERVAL.match(c)
    ]
    assert not re.search(r"\d\s?–\s?−?\d", _visible(page)), "an interval with a dash"
    numbers = [n for c in cells for n in re.findall(r"\d[\d.,]*\d|\d", c)]
    wrong = [n for n in numbers if not NUMBER[language].match(n)]
    assert not wrong, wrong
    assert ("1,235" if language == "en" else "1.235") in cells  # IRQ's cases
    assert not re.search(r"\b0[.,]0%", _visible(page)), "a share of 0.0%"


def test_odds_ratios_stand_beside_the_log_odds(report_inputs):
    page = write_page(report_inputs, "en")
    summary = pd.read_csv(report_inputs.fits[MODEL] / "summary.csv").set_index("parameter")
    table = next(t for t in html_tables(page) if text("odds_ratio") in t.columns)
    row = table[table.iloc[:, 0] == "number of return procedures"].iloc[0]
    bounds = summary.loc["n_procedures", ["mean", "hdi94_lb", "hdi94_ub"]].to_numpy(float)
    assert row[text("odds_ratio")] == ratio(*np.exp(bounds))
    intercept = table[table.iloc[:, 0] == "intercept at the mean predictors (log-odds)"].iloc[0]
    assert intercept[text("odds_ratio")] == ""  # an intercept's exponent is no odds ratio


# -- what the rules withheld, marked and explained ------------------------------------


def test_withheld_groups_and_a_zero_share_are_marked_and_explained(report_inputs):
    page = write_page(report_inputs, "en")
    nationalities = next(t for t in html_tables(page) if text("raw_share") in t.columns)
    zero = nationalities[nationalities.iloc[:, 0].str.endswith(f"({ZERO})")].iloc[0]
    assert zero[text("raw_share")] == "withheld"  # never a bare 0% of a named group
    found = re.search(r"(\d) of 6 nationalities withheld: fewer than 10 cases", page)
    assert found and int(found[1]) >= 1, "the table does not say how many were left out"
    disclosure = page[page.index(text("section_disclosure")) :]
    assert re.search(r"<li>Figure \d, Table \d: \d of 6 nationalities withheld", disclosure)
    assert "0% or 100%" in disclosure  # and why a zero is withheld


def test_figures_mark_what_they_leave_out(report_inputs):
    effects = pd.read_csv(report_inputs.folder.path / "nationality_effects.csv")
    effects.attrs = {}  # read back: the default rules
    ax = model_figures.plot_caterpillar(report_inputs.result, effects)
    rows = [t.get_text() for t in ax.get_yticklabels()]
    footnote = ax.figure.get_supxlabel()
    plt.close(ax.figure)
    assert any(r.startswith("Syria (SYR)") and r.endswith("*") for r in rows), rows
    assert "* raw share withheld" in footnote
    assert re.search(r"\d of 6 nationalities withheld", footnote)


# -- readers' names ---------------------------------------------------------------------


def test_figures_name_the_model_for_readers_and_keep_the_verdict_out_of_the_title(
    report_inputs,
):
    effects = pd.read_csv(report_inputs.folder.path / "nationality_effects.csv")
    ax = model_figures.plot_caterpillar(report_inputs.result, effects)
    title, footnote = ax.get_title(), ax.figure.get_supxlabel()
    plt.close(ax.figure)
    assert MODEL not in title and "PASS" not in title and "convergence" not in title
    assert footnote.startswith(text("figure_pass", model=model_label(MODEL)))
    assert "passed the convergence checks" in footnote


def test_countries_are_named_beside_their_codes_and_the_contrast_gives_cooperation(
    report_inputs,
):
    english, dutch = write_page(report_inputs, "en"), write_page(report_inputs, "nl")
    assert "Iraq (IRQ)" in english and "Irak (IRQ)" in dutch
    groups = next(
        t for t in html_tables(english) if "origin country's cooperation" in " ".join(t.columns)
    )
    levels = dict(zip(groups.iloc[:, 0], groups.iloc[:, 1], strict=True))
    assert levels == {"Nigeria (NGA)": "little", "Iraq (IRQ)": "extensive"}
    assert "kans dat Nigeria (NGA) het hoogste aandeel heeft" in dutch


# -- the Dutch report -------------------------------------------------------------------


def test_no_english_title_or_caption_is_left_in_the_dutch_report(report_inputs):
    dutch = _visible(write_page(report_inputs, "nl", bundled_cases()))
    left = [piece for piece in _english_only() if piece in dutch]
    assert not left, left
    for word in ("Statistische beveiliging", "Verantwoording", "voorspeld aandeel", "procentpunt"):
        assert word in dutch, word
    for word in ("Onthullingscontrole", "Herkomst", "marge", " pp "):
        assert word not in dutch, word


def _figure_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [
        ax.get_title(),
        ax.get_xlabel(),
        ax.get_ylabel(),
        ax.figure.get_supxlabel(),
        *[t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()],
        *([t.get_text() for t in legend.get_texts()] if legend else []),
    ]


def test_dutch_figures_have_dutch_titles_and_decimal_commas(report_inputs):
    result, folder = report_inputs.result, report_inputs.folder.path
    effects = pd.read_csv(folder / "nationality_effects.csv")
    margins = pd.read_csv(folder / "margins_with_targets.csv", dtype={"value": str})
    drawn = {
        "title_caterpillar": model_figures.plot_caterpillar(result, effects, language="nl"),
        "title_margins_n_procedures": model_figures.plot_margins(
            result, margins, "n_procedures", language="nl"
        ),
        "title_ppc": model_figures.plot_ppc(
            result, pd.read_csv(folder / "ppc_n_procedures.csv"), language="nl"
        ),
        "title_competing_cooperation": model_figures.plot_outcome_margins(
            pd.DataFrame(
                {
                    "predictor": "cooperation",
                    "value": ["low", "high"],
                    "outcome": "assisted_return",
                    "mean": [0.05, 0.11],
                    "hdi_lower": [0.04, 0.1],
                    "hdi_upper": [0.06, 0.125],
                }
            ),
            "cooperation",
            {"passed": False},
            language="nl",
        ),
    }
    english = _english_only()
    for key, ax in drawn.items():
        ax.figure.canvas.draw()
        texts = _figure_texts(ax)
        plt.close(ax.figure)
        assert texts[0] == text(key, "nl", by="aantal terugkeerprocedures"), texts[0]
        left = [p for p in english if any(p in t for t in texts)]
        assert not left, (key, left)
        ticks = [t for t in texts if t.endswith("%")]
        assert ticks and all(NUMBER["nl"].match(t.rstrip("%")) for t in ticks), (key, ticks)
        assert any("," in t for t in ticks) or key == "title_competing_cooperation", ticks
    assert "n=1.235" in " ".join(_figure_texts(drawn["title_caterpillar"]))

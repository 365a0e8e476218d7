"""The report's persons section: the study model with persons beside it without, as a
reader reads it in either language (from ``persons.csv``, as notebook 04 writes it)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from returnmodels.report import page

ROWS = [
    ["person_sd", "person_id", "", None, None, None, 1.0881, 0.9957, 1.1873, None],
    ["coefficient", "n_procedures", "", -0.4685, -0.481, -0.4554, -0.5233, -0.5413, -0.5059, 1.34],
    ["margin", "cooperation", "low", 0.0499, 0.0345, 0.0646, 0.0492, 0.0344, 0.0642, 0.99],
]
COLUMNS = ["quantity", "predictor", "value", "without_mean", "without_lower", "without_upper",
           "with_mean", "with_lower", "with_upper", "width_ratio"]  # fmt: skip


def _cells(tmp_path, language: str) -> list[list[str]]:
    pd.DataFrame(ROWS, columns=COLUMNS).to_csv(tmp_path / page.PERSONS, index=False)
    rules = {"min_cases": 10, "rounding_base": 5, "suppress_zeros": False}
    shown = page._Page(language, rules)
    page._persons(shown, tmp_path, None, "assisted ~ x + (1 | person_id)")
    html = "\n".join(shown.parts)
    assert "assisted ~ x + (1 | person_id)" in html  # the formula, named in the text
    rows = re.findall(r"<tr>(.*?)</tr>", html.split("<tbody>")[1])
    return [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>.*?</td>", r)] for r in rows]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", [
            ["SD of the person effects (log-odds)", "–", "1.088 (0.996 to 1.187)", "–"],
            ["coefficient of number of return procedures (log-odds per step)",
             "−0.469 (−0.481 to −0.455)", "−0.523 (−0.541 to −0.506)", "1.34"],
            ["predicted share, origin country&#x27;s cooperation with forced return = little",
             "5.0% (3.5% to 6.5%)", "4.9% (3.4% to 6.4%)", "0.99"],
        ]),
        ("nl", [
            ["SD van de persoonseffecten (log-odds)", "–", "1,088 (0,996 tot 1,187)", "–"],
            ["coëfficiënt van aantal terugkeerprocedures (log-odds per stap)",
             "−0,469 (−0,481 tot −0,455)", "−0,523 (−0,541 tot −0,506)", "1,34"],
            ["voorspeld aandeel, medewerking herkomstland aan gedwongen terugkeer = weinig",
             "5,0% (3,5% tot 6,5%)", "4,9% (3,4% tot 6,4%)", "0,99"],
        ]),
    ],
)  # fmt: skip
def test_each_row_reads_in_the_readers_language(tmp_path, language, expected):
    assert _cells(tmp_path, language) == expected


def test_no_section_without_its_table(tmp_path):
    shown = page._Page("en", {"min_cases": 10, "rounding_base": 5, "suppress_zeros": False})
    page._persons(shown, tmp_path, None, "m")
    assert shown.parts == []

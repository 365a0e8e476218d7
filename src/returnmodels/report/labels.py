"""Words a reader sees, in English (default) and Dutch: parameter, predictor, value and
outcome labels, column headers, section titles and captions.

The WODC publishes in Dutch with an English summary, so every label of the report
(:mod:`~returnmodels.report.page`) and of its figures comes from here::

    label("n_procedures", "nl")        # 'aantal terugkeerprocedures'
    parameter_label("cooperation[low]")  # 'cooperation: low (vs high)'
    text("caption_margins_n_procedures", "nl", model="group_predictors")

An unknown key falls back to English, then to the key itself (a raw name is never
hidden, only made readable where a label exists).
"""

from __future__ import annotations

import re

__all__ = ["LANGUAGES", "label", "parameter_label", "text", "value_label"]

#: The report's languages; the first is the default.
LANGUAGES: tuple[str, ...] = ("en", "nl")

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        # predictors and columns
        "n_procedures": "number of return procedures",
        "cooperation": "origin country's cooperation with forced return",
        "nationality": "nationality",
        "closing_year": "closing year",
        "gender": "gender",
        "age_group": "age group",
        "family": "family",
        "year": "year",
        # parameters
        "Intercept": "intercept (log-odds)",
        "Intercept_centred": "intercept at the mean predictors (log-odds)",
        "nationality_sigma": "SD of the nationality effects (log-odds)",
        "nationality_n_procedures_sigma": "SD of the nationality slopes of procedures",
        "nationality_corr": "correlation of nationality intercepts and slopes",
        # values
        "high": "extensive",
        "medium": "medium",
        "low": "little",
        # outcomes
        "assisted_return": "assisted return",
        "independent_return": "independent return",
        "forced_return": "forced return",
        "unsupervised_departure": "unsupervised departure",
        "legal_stay": "legal stay",
        "other": "other",
    },
    "nl": {
        "n_procedures": "aantal terugkeerprocedures",
        "cooperation": "medewerking herkomstland aan gedwongen terugkeer",
        "nationality": "nationaliteit",
        "closing_year": "jaar van afsluiting",
        "gender": "geslacht",
        "age_group": "leeftijdsgroep",
        "family": "gezin",
        "year": "jaar",
        "Intercept": "intercept (log-odds)",
        "Intercept_centred": "intercept bij gemiddelde predictoren (log-odds)",
        "nationality_sigma": "SD van de nationaliteitseffecten (log-odds)",
        "nationality_n_procedures_sigma": "SD van de nationaliteitshellingen van procedures",
        "nationality_corr": "correlatie van nationaliteitsintercepten en -hellingen",
        "high": "veel",
        "medium": "gemiddeld",
        "low": "weinig",
        "assisted_return": "begeleide terugkeer",
        "independent_return": "zelfstandig vertrek",
        "forced_return": "gedwongen terugkeer",
        "unsupervised_departure": "vertrek zonder toezicht",
        "legal_stay": "legaal verblijf",
        "other": "overig",
    },
}

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Assisted return: the study's figures from the fitted models",
        "lead": (
            "Predicted shares of cases ending in assisted return, from the Bayesian "
            "hierarchical model {model}, beside the figures the study published. "
            "Percentages with their 94% credible interval."
        ),
        "smoke": "Smoke run: tiny data and draws, to check that everything runs. "
        "These numbers mean nothing.",
        "section_verdicts": "Convergence of the fits used",
        "section_headline": "The study's figures and the model's",
        "section_margins": "Predictive margins",
        "section_nationalities": "Nationalities",
        "section_contrast": "Contrast of two nationalities",
        "section_ppc": "Posterior predictive checks",
        "section_competing": "All outcomes (competing-outcomes model)",
        "section_parameters": "Population-level parameters",
        "section_disclosure": "Disclosure control",
        "section_provenance": "Provenance",
        "verdict_pass": "passed the convergence checks",
        "verdict_fail": "FAILED the convergence checks: do not use its numbers",
        "verdict_missing": "not fitted",
        "model": "model",
        "verdict": "convergence",
        "details": "details",
        "predictor": "predictor",
        "value": "value",
        "estimate": "model (94% interval)",
        "study": "study",
        "parameter": "parameter",
        "posterior": "posterior mean (94% interval)",
        "cases": "cases",
        "contrast": "difference in assisted-return share",
        "probability": "probability that the difference is positive",
        "inside": "observed share inside the replicated 94% interval",
        "figure": "Figure",
        "table": "Table",
        "caption_margins_n_procedures": (
            "Predicted share ending in assisted return by number of return procedures "
            "(points: model, lines: 94% interval; diamonds: the study's published figures)."
        ),
        "caption_margins_cooperation": (
            "Predicted share ending in assisted return by the origin country's cooperation "
            "with forced return (diamonds: the study's published figures)."
        ),
        "caption_caterpillar": (
            "Nationalities: partially pooled share (points, 94% interval) against the raw "
            "share of their cases (crosses); largest nationalities, cases rounded."
        ),
        "caption_ppc_nationality": (
            "Posterior predictive check by nationality: observed share (crosses) against "
            "the share replicated from the model (94% interval); largest nationalities."
        ),
        "caption_ppc_n_procedures": (
            "Posterior predictive check by number of return procedures: observed share "
            "against the replicated 94% interval."
        ),
        "caption_competing_n_procedures": (
            "Predicted outcome mix by number of return procedures (competing-outcomes "
            "model, 94% intervals)."
        ),
        "caption_competing_cooperation": (
            "Predicted outcome mix by the origin country's cooperation with forced return "
            "(competing-outcomes model, 94% intervals)."
        ),
        "caption_headline": (
            "The study's published model-predicted shares and the fitted model's, "
            "with 94% credible intervals."
        ),
        "caption_contrast": "{a} against {b}: difference in the predicted assisted-return share.",
        "caption_parameters": "Posterior of the population-level parameters (log-odds scale).",
        "disclosure_text": (
            "Every number and figure in this report was made under these rules: at least "
            "{min_cases} cases behind every published count or share; counts rounded to "
            "base {rounding_base}; every estimate (a coefficient, a nationality's effect, "
            "a predicted share) rests on at least {min_cases} cases, and on at least "
            "{min_cases} with and {min_cases} without the outcome, or is left out of every "
            "table and figure; no case rows."
        ),
        "data_sha256": "data (sha256)",
        "commit": "git commit",
        "versions": "package versions",
        "made": "made",
        "no_fit": "no fit of {model}: run fit-{model} first",
        "nationalities_shown": "largest {top} of {count} nationalities",
        "share_assisted": "share ending in assisted return",
        "predicted_share": "predicted share (margin)",
        "observed": "observed",
        "replicated": "replicated 94% interval",
        "model_pooled": "model (partially pooled, 94% interval)",
        "raw_share": "raw share",
        "study_figure": "study's published figure",
        "figure_pass": "convergence PASS",
        "figure_fail": "convergence FAIL - do not use",
        "figure_failed": "CONVERGENCE FAILED",
    },
    "nl": {
        "title": "Begeleide terugkeer: de cijfers van de studie uit de geschatte modellen",
        "lead": (
            "Voorspelde aandelen zaken die eindigen in begeleide terugkeer, uit het "
            "bayesiaanse hiërarchische model {model}, naast de cijfers die de studie "
            "publiceerde. Percentages met hun 94%-geloofwaardigheidsinterval."
        ),
        "smoke": "Rookproef: kleine data en weinig trekkingen, alleen om te controleren "
        "dat alles draait. Deze cijfers betekenen niets.",
        "section_verdicts": "Convergentie van de gebruikte modellen",
        "section_headline": "De cijfers van de studie en van het model",
        "section_margins": "Voorspelde marges",
        "section_nationalities": "Nationaliteiten",
        "section_contrast": "Contrast tussen twee nationaliteiten",
        "section_ppc": "Posterieure predictieve controles",
        "section_competing": "Alle uitkomsten (model met concurrerende uitkomsten)",
        "section_parameters": "Parameters op populatieniveau",
        "section_disclosure": "Onthullingscontrole",
        "section_provenance": "Herkomst",
        "verdict_pass": "voldoet aan de convergentiecontroles",
        "verdict_fail": "VOLDOET NIET aan de convergentiecontroles: gebruik deze cijfers niet",
        "verdict_missing": "niet geschat",
        "model": "model",
        "verdict": "convergentie",
        "details": "details",
        "predictor": "predictor",
        "value": "waarde",
        "estimate": "model (94%-interval)",
        "study": "studie",
        "parameter": "parameter",
        "posterior": "posterieur gemiddelde (94%-interval)",
        "cases": "zaken",
        "contrast": "verschil in aandeel begeleide terugkeer",
        "probability": "kans dat het verschil positief is",
        "inside": "waargenomen aandeel binnen het gerepliceerde 94%-interval",
        "figure": "Figuur",
        "table": "Tabel",
        "caption_margins_n_procedures": (
            "Voorspeld aandeel begeleide terugkeer naar aantal terugkeerprocedures "
            "(punten: model, lijnen: 94%-interval; ruiten: de gepubliceerde cijfers van de "
            "studie)."
        ),
        "caption_margins_cooperation": (
            "Voorspeld aandeel begeleide terugkeer naar de medewerking van het herkomstland "
            "aan gedwongen terugkeer (ruiten: de gepubliceerde cijfers van de studie)."
        ),
        "caption_caterpillar": (
            "Nationaliteiten: partieel gepoold aandeel (punten, 94%-interval) tegenover het "
            "ruwe aandeel van hun zaken (kruisjes); grootste nationaliteiten, aantallen "
            "afgerond."
        ),
        "caption_ppc_nationality": (
            "Posterieure predictieve controle naar nationaliteit: waargenomen aandeel "
            "(kruisjes) tegenover het door het model gerepliceerde aandeel (94%-interval); "
            "grootste nationaliteiten."
        ),
        "caption_ppc_n_procedures": (
            "Posterieure predictieve controle naar aantal terugkeerprocedures: waargenomen "
            "aandeel tegenover het gerepliceerde 94%-interval."
        ),
        "caption_competing_n_procedures": (
            "Voorspelde verdeling over de uitkomsten naar aantal terugkeerprocedures (model "
            "met concurrerende uitkomsten, 94%-intervallen)."
        ),
        "caption_competing_cooperation": (
            "Voorspelde verdeling over de uitkomsten naar de medewerking van het herkomstland "
            "(model met concurrerende uitkomsten, 94%-intervallen)."
        ),
        "caption_headline": (
            "De door de studie gepubliceerde voorspelde aandelen en die van het geschatte "
            "model, met 94%-geloofwaardigheidsintervallen."
        ),
        "caption_contrast": "{a} tegenover {b}: verschil in voorspeld aandeel begeleide terugkeer.",
        "caption_parameters": "Posterieure verdeling van de parameters op populatieniveau "
        "(log-odds).",
        "disclosure_text": (
            "Alle cijfers en figuren in dit rapport zijn gemaakt onder deze regels: ten minste "
            "{min_cases} zaken achter elk gepubliceerd aantal of aandeel; aantallen "
            "afgerond op veelvouden van {rounding_base}; elke schatting (een coëfficiënt, "
            "het effect van een nationaliteit, een voorspeld aandeel) rust op ten minste "
            "{min_cases} zaken, en op ten minste {min_cases} met en {min_cases} zonder de "
            "uitkomst, of ontbreekt in elke tabel en figuur; geen zaakregels."
        ),
        "data_sha256": "data (sha256)",
        "commit": "git-commit",
        "versions": "pakketversies",
        "made": "gemaakt",
        "no_fit": "geen schatting van {model}: voer eerst fit-{model} uit",
        "nationalities_shown": "grootste {top} van {count} nationaliteiten",
        "share_assisted": "aandeel begeleide terugkeer",
        "predicted_share": "voorspeld aandeel (marge)",
        "observed": "waargenomen",
        "replicated": "gerepliceerd 94%-interval",
        "model_pooled": "model (partieel gepoold, 94%-interval)",
        "raw_share": "ruw aandeel",
        "study_figure": "gepubliceerd cijfer van de studie",
        "figure_pass": "convergentie OK",
        "figure_fail": "convergentie NIET OK - niet gebruiken",
        "figure_failed": "CONVERGENTIE MISLUKT",
    },
}


def _check(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r}: choose one of {', '.join(LANGUAGES)}")
    return language


def label(name: str, language: str = "en") -> str:
    """The reader's label of a column, predictor, value or parameter name."""
    language = _check(language)
    return _LABELS[language].get(name, _LABELS["en"].get(name, name))


def value_label(predictor: str, value: object, language: str = "en") -> str:
    """A predictor's value as a reader reads it: cooperation levels in words, the
    others as they are (``3``, ``2019``)."""
    if predictor == "cooperation":
        return label(str(value), language)
    return str(value)


_INDEXED = re.compile(r"^(?P<name>[^\[]+)\[(?P<index>.*)\]$")


def parameter_label(name: str, language: str = "en") -> str:
    """``cooperation[low]`` -> ``origin country's cooperation ...: little``; a plain name
    through :func:`label`."""
    found = _INDEXED.match(name)
    if not found:
        return label(name, language)
    index = ", ".join(
        value_label(found["name"], part.strip(), language) for part in found["index"].split(",")
    )
    return f"{label(found['name'], language)}: {index}"


def text(key: str, language: str = "en", **fields: object) -> str:
    """A sentence (title, caption, header) in ``language``, with ``fields`` filled in."""
    language = _check(language)
    template = _TEXTS[language].get(key, _TEXTS["en"].get(key, key))
    return template.format(**fields)

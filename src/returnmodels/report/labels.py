"""Words a reader sees, in English (default) and Dutch: parameter, predictor, value and
outcome labels, column headers, section titles and captions.

The WODC publishes in Dutch with an English summary, so every label of the report
(:mod:`~returnmodels.report.page`) and of its figures comes from here::

    label("n_procedures", "nl")        # 'aantal terugkeerprocedures'
    parameter_label("cooperation[low]")  # 'cooperation: low (vs high)'
    text("caption_margins_n_procedures", "nl")
    model_label("group_predictors")    # 'Study model without persons: nationality ...'

An unknown key falls back to English, then to the key itself (a raw name is never
hidden, only made readable where a label exists).
"""

from __future__ import annotations

import re

__all__ = [
    "LANGUAGES",
    "entries",
    "label",
    "model_label",
    "parameter_label",
    "text",
    "value_label",
]

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
        "Intercept": "intercept at the mean predictors (log-odds)",
        "nationality_sigma": "SD of the nationality effects (log-odds)",
        "person_id_sigma": "SD of the person effects (log-odds)",
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
        "Intercept": "intercept bij gemiddelde predictoren (log-odds)",
        "nationality_sigma": "SD van de nationaliteitseffecten (log-odds)",
        "person_id_sigma": "SD van de persoonseffecten (log-odds)",
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
            "hierarchical model “{model}”, beside the figures the study published. "
            "Percentages with their 94% credible interval, written as estimate (lower to "
            "upper)."
        ),
        "smoke": "Smoke run: tiny data and draws, to check that everything runs. "
        "These numbers mean nothing.",
        # where the data come from
        "synthetic_heading": "Synthetic data",
        "synthetic_bundled": (
            "The case file {name} is the synthetic data set that comes with returnmodels: "
            "simulated from a model calibrated to the study's published figures. These "
            "are not the DT&V's case files, and no number in this report describes a "
            "real person."
        ),
        "synthetic_simulated": (
            "The case file {name} was simulated by returnmodels (its truth file {truth} "
            "lies beside it). These are not the DT&V's case files, and no number in this "
            "report describes a real person."
        ),
        "synthetic_smoke": (
            "This smoke run simulated its own {n} cases. These are not the DT&V's case "
            "files, and no number in this report describes a real person."
        ),
        "data_file": ("Data: the case file {name}; its SHA-256 checksum is under Provenance."),
        "data_unknown": "Data: the report was not told which case file the fits read.",
        # sections
        "section_verdicts": "Convergence of the fits used",
        "section_headline": "The study's figures and the model's",
        "section_margins": "Predicted shares",
        "section_nationalities": "Nationalities",
        "section_contrast": "Contrast of two nationalities",
        "section_ppc": "Posterior predictive checks",
        "section_competing": "All outcomes (competing-outcomes model)",
        "section_persons": "Persons with repeated cases",
        "section_parameters": "Population-level parameters",
        "section_disclosure": "Disclosure control",
        "section_provenance": "Provenance",
        # verdicts
        "verdict_pass": "passed the convergence checks",
        "verdict_fail": "FAILED the convergence checks: do not use its numbers",
        "verdict_missing": "not fitted",
        "model": "model",
        "verdict": "convergence",
        "details": "details",
        "checks_all": "R-hat, ESS, divergences, E-BFMI",
        # models, as a reader knows them
        "model_name_pooled": "Pooled model: no nationality effects",
        "model_name_varying_intercepts": "Nationality random intercepts",
        "model_name_group_predictors": (
            "Study model without persons: nationality random intercepts with cooperation"
        ),
        "model_name_varying_slopes": (
            "Nationality random intercepts and slopes of the number of procedures"
        ),
        "model_name_competing_outcomes": "Competing-outcomes model: all six outcomes",
        "model_name_formula": "Formula model: {formula}",
        # table headers
        "predictor": "predictor",
        "value": "value",
        "estimate": "model (94% interval)",
        "study": "study",
        "parameter": "parameter",
        "posterior": "posterior mean, log-odds (94% interval)",
        "odds_ratio": "odds ratio (94% interval)",
        "cases": "cases",
        "cases_rounded": "cases (rounded)",
        "measure": "measure",
        "contrast": "difference in predicted share, percentage points (94% interval)",
        "contrast_odds_ratio": "odds ratio of the nationality intercepts (94% interval)",
        "probability": "probability that {a} has the higher share",
        "predicted_share_interval": "predicted share (94% interval)",
        "inside": "observed share inside the replicated 94% interval",
        "figure": "Figure",
        "table": "Table",
        # captions
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
        "persons_text": (
            "One person can have several case files (a new return procedure is a new case), "
            "so cases of one person are not independent. The study model (the formula "
            "{formula}) has a person effect, integrated out of the likelihood: its "
            "coefficients compare cases of one person, and its predicted shares are "
            "averaged over persons. Beside it, the same model without the person effect, "
            "which treats every case as a different person: its shares estimate the same "
            "shares of cases, its coefficients are averaged over persons. What ignoring "
            "persons costs: intervals that are too narrow where persons repeat (the ratio "
            "of the widths in the last column), and only the population-averaged "
            "procedures slope, which mixes differences between persons with what changes "
            "in one person as they go through procedures; the person model's slope "
            "compares cases of one person, and is steeper."
        ),
        "caption_persons": (
            "The study model with a person effect and the same model without it: the SD "
            "of the persons' effects, the coefficient of the number of procedures "
            "(without persons averaged over persons, with persons for one person) and the "
            "predicted shares "
            "(averaged over persons in both), with 94% intervals."
        ),
        "persons_quantity": "quantity",
        "persons_without": "without persons (94% interval)",
        "persons_with": "with persons (94% interval)",
        "persons_width": "interval width, with / without",
        "persons_sd": "SD of the person effects (log-odds)",
        "persons_coefficient": "coefficient of {predictor} (log-odds per step)",
        "persons_margin": "predicted share, {predictor} = {value}",
        "caption_contrast_groups": (
            "{a} and {b}: each nationality's cooperation with forced return and its "
            "partially pooled predicted share."
        ),
        "caption_contrast": (
            "{a} against {b}: every case predicted as if of each nationality in turn, "
            "with its cooperation."
        ),
        "caption_parameters": (
            "Posterior of the population-level parameters: log-odds, and for each "
            "coefficient its odds ratio (the exponent of the log-odds and of its bounds)."
        ),
        "verdict_caption": "{model} — {verdict}.",
        # figures
        "title_margins_n_procedures": "Assisted return by number of return procedures",
        "title_margins_cooperation": "Assisted return by the origin country's cooperation",
        "title_caterpillar": "Assisted return by nationality: model and raw share",
        "title_ppc": "Model check by {by}: observed and replicated shares",
        "title_competing_n_procedures": "All outcomes by number of return procedures",
        "title_competing_cooperation": "All outcomes by the origin country's cooperation",
        "figure_pass": "{model} — passed the convergence checks",
        "figure_fail": "{model} — FAILED the convergence checks, do not use",
        "figure_failed": "CONVERGENCE FAILED",
        "withheld": "withheld",
        "withheld_levels": (
            "{count} of {total} {levels} withheld: fewer than {min_cases} cases with or "
            "without the outcome"
        ),
        "levels_nationality": "nationalities",
        "levels_n_procedures": "numbers of procedures",
        "levels_other": "values of {label}",
        "withheld_share": (
            "* {share} withheld: fewer than {min_cases} cases with or without the outcome "
            "(a 0% or 100% share included)"
        ),
        # disclosure and provenance
        "disclosure_text": (
            "Every number and figure in this report was made under these rules: at least "
            "{min_cases} cases behind every published count or share; counts rounded to "
            "base {rounding_base}; every estimate (a coefficient, a nationality's effect, "
            "a predicted share) rests on at least {min_cases} cases, and on at least "
            "{min_cases} with and {min_cases} without the outcome, or is left out of every "
            "table and figure; no case rows."
        ),
        "disclosure_marks": (
            "How to read the tables and figures. “Withheld” (in a figure: *) stands "
            "where a share rests on fewer than {min_cases} cases with the outcome or "
            "fewer than {min_cases} without it; a share of 0% or 100% of a named group is "
            "withheld too, as it would say that no one, or everyone, in that group had the "
            "outcome. Counts are rounded to multiples of {rounding_base}, so they need not "
            "add up, and shares are computed from the rounded counts. Groups whose "
            "estimates may not be published are left out altogether; each figure says how "
            "many, and so does the list below."
        ),
        "data_sha256": "data file {name}: SHA-256 of the file (as sha256sum prints it)",
        "data_of_fit": "{model}: fitted on {name}, SHA-256 of the file",
        "data_missing": "{model}: fitted on {name}, which is no longer there",
        "data_smoke": "data: {n} cases simulated in the smoke run (no file)",
        "fit_folders": "fit folders",
        "commit": "git commit",
        "local_changes": "(+ local changes)",
        "versions": "package versions",
        "made": "made",
        "no_fit": "no fit of {model}: run fit-{model} first",
        "nationalities_shown": "largest {top} of {count} nationalities",
        "share_assisted": "share ending in assisted return",
        "predicted_share": "predicted share",
        "observed": "observed",
        "observed_share": "observed share",
        "replicated": "replicated 94% interval",
        "model_pooled": "model (partially pooled, 94% interval)",
        "raw_share": "raw share",
        "study_figure": "study's published figure",
    },
    "nl": {
        "title": "Begeleide terugkeer: de cijfers van de studie uit de geschatte modellen",
        "lead": (
            "Voorspelde aandelen zaken die eindigen in begeleide terugkeer, uit het "
            "bayesiaanse hiërarchische model ‘{model}’, naast de cijfers die de studie "
            "publiceerde. Percentages met hun 94%-geloofwaardigheidsinterval, geschreven "
            "als schatting (ondergrens tot bovengrens)."
        ),
        "smoke": "Rookproef: kleine data en weinig trekkingen, alleen om te controleren "
        "dat alles draait. Deze cijfers betekenen niets.",
        "synthetic_heading": "Synthetische gegevens",
        "synthetic_bundled": (
            "Het zakenbestand {name} is de synthetische dataset die met returnmodels wordt "
            "meegeleverd: gesimuleerd uit een model dat is gekalibreerd op de gepubliceerde "
            "cijfers van de studie. Dit zijn niet de dossiers van de DT&V, en geen cijfer "
            "in dit rapport beschrijft een echt persoon."
        ),
        "synthetic_simulated": (
            "Het zakenbestand {name} is gesimuleerd door returnmodels (het bestand met de "
            "ware parameters, {truth}, staat ernaast). Dit zijn niet de dossiers van de "
            "DT&V, en geen cijfer in dit rapport beschrijft een echt persoon."
        ),
        "synthetic_smoke": (
            "Deze rookproef simuleerde zelf {n} zaken. Dit zijn niet de dossiers van de "
            "DT&V, en geen cijfer in dit rapport beschrijft een echt persoon."
        ),
        "data_file": (
            "Gegevens: het zakenbestand {name}; de SHA-256-controlesom staat onder Verantwoording."
        ),
        "data_unknown": "Gegevens: het rapport weet niet welk zakenbestand de modellen lazen.",
        "section_verdicts": "Convergentie van de gebruikte modellen",
        "section_headline": "De cijfers van de studie en van het model",
        "section_margins": "Voorspelde aandelen",
        "section_nationalities": "Nationaliteiten",
        "section_contrast": "Contrast tussen twee nationaliteiten",
        "section_ppc": "Posterieure predictieve controles",
        "section_competing": "Alle uitkomsten (model met concurrerende uitkomsten)",
        "section_persons": "Personen met meerdere zaken",
        "section_parameters": "Parameters op populatieniveau",
        "section_disclosure": "Statistische beveiliging",
        "section_provenance": "Verantwoording",
        "verdict_pass": "voldoet aan de convergentiecontroles",
        "verdict_fail": "VOLDOET NIET aan de convergentiecontroles: gebruik deze cijfers niet",
        "verdict_missing": "niet geschat",
        "model": "model",
        "verdict": "convergentie",
        "details": "details",
        "checks_all": "R-hat, ESS, divergenties, E-BFMI",
        "model_name_pooled": "Gepoold model: zonder nationaliteitseffecten",
        "model_name_varying_intercepts": "Random intercepts per nationaliteit",
        "model_name_group_predictors": (
            "Studiemodel zonder personen: random intercepts per nationaliteit, met medewerking"
        ),
        "model_name_varying_slopes": (
            "Random intercepts en hellingen van het aantal procedures per nationaliteit"
        ),
        "model_name_competing_outcomes": "Model met concurrerende uitkomsten: alle zes",
        "model_name_formula": "Formulemodel: {formula}",
        "predictor": "predictor",
        "value": "waarde",
        "estimate": "model (94%-interval)",
        "study": "studie",
        "parameter": "parameter",
        "posterior": "posterieur gemiddelde, log-odds (94%-interval)",
        "odds_ratio": "odds ratio (94%-interval)",
        "cases": "zaken",
        "cases_rounded": "zaken (afgerond)",
        "measure": "maat",
        "contrast": "verschil in voorspeld aandeel, procentpunt (94%-interval)",
        "contrast_odds_ratio": "odds ratio van de nationaliteitsintercepten (94%-interval)",
        "probability": "kans dat {a} het hoogste aandeel heeft",
        "predicted_share_interval": "voorspeld aandeel (94%-interval)",
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
        "persons_text": (
            "Eén persoon kan meerdere zaken hebben (een nieuwe terugkeerprocedure is een "
            "nieuwe zaak), dus de zaken van één persoon zijn niet onafhankelijk. Het "
            "studiemodel (de formule {formula}) heeft een persoonseffect, geïntegreerd uit "
            "de aannemelijkheid: de coëfficiënten vergelijken zaken van één persoon, en de "
            "voorspelde aandelen zijn gemiddeld over personen. Ernaast hetzelfde model "
            "zonder persoonseffect, dat elke zaak als een andere persoon behandelt: de "
            "aandelen schatten dezelfde aandelen van zaken, de coëfficiënten zijn "
            "gemiddeld over personen. Wat het negeren van personen kost: te smalle "
            "intervallen waar personen terugkomen (de verhouding van de breedtes in de "
            "laatste kolom), en alleen de over personen gemiddelde helling van het aantal "
            "procedures, die verschillen tussen personen vermengt met wat er in één "
            "persoon verandert naarmate hij meer procedures doorloopt; de helling van het "
            "model met personen vergelijkt zaken van één persoon, en is steiler."
        ),
        "caption_persons": (
            "Het studiemodel met een persoonseffect en hetzelfde model zonder: de SD van "
            "de persoonseffecten, de coëfficiënt van het aantal procedures (zonder personen "
            "gemiddeld over personen, met personen voor één persoon) en de voorspelde "
            "aandelen (in beide gemiddeld over personen), met 94%-intervallen."
        ),
        "persons_quantity": "grootheid",
        "persons_without": "zonder personen (94%-interval)",
        "persons_with": "met personen (94%-interval)",
        "persons_width": "intervalbreedte, met / zonder",
        "persons_sd": "SD van de persoonseffecten (log-odds)",
        "persons_coefficient": "coëfficiënt van {predictor} (log-odds per stap)",
        "persons_margin": "voorspeld aandeel, {predictor} = {value}",
        "caption_contrast_groups": (
            "{a} en {b}: de medewerking van elk land aan gedwongen terugkeer en het "
            "partieel gepoolde voorspelde aandeel."
        ),
        "caption_contrast": (
            "{a} tegenover {b}: elke zaak voorspeld alsof die beurtelings van elke "
            "nationaliteit was, met de bijbehorende medewerking."
        ),
        "caption_parameters": (
            "Posterieure verdeling van de parameters op populatieniveau: log-odds, en voor "
            "elke coëfficiënt de odds ratio (de exponent van de log-odds en de grenzen)."
        ),
        "verdict_caption": "{model} — {verdict}.",
        "title_margins_n_procedures": "Begeleide terugkeer naar aantal terugkeerprocedures",
        "title_margins_cooperation": "Begeleide terugkeer naar medewerking van het herkomstland",
        "title_caterpillar": "Begeleide terugkeer naar nationaliteit: model en ruw aandeel",
        "title_ppc": "Modelcontrole naar {by}: waargenomen en gerepliceerde aandelen",
        "title_competing_n_procedures": "Alle uitkomsten naar aantal terugkeerprocedures",
        "title_competing_cooperation": "Alle uitkomsten naar medewerking van het herkomstland",
        "figure_pass": "{model} — voldoet aan de convergentiecontroles",
        "figure_fail": "{model} — VOLDOET NIET aan de convergentiecontroles, niet gebruiken",
        "figure_failed": "CONVERGENTIE MISLUKT",
        "withheld": "afgeschermd",
        "withheld_levels": (
            "{count} van {total} {levels} afgeschermd: minder dan {min_cases} zaken met of "
            "zonder de uitkomst"
        ),
        "levels_nationality": "nationaliteiten",
        "levels_n_procedures": "aantallen procedures",
        "levels_other": "waarden van {label}",
        "withheld_share": (
            "* {share} afgeschermd: minder dan {min_cases} zaken met of zonder de uitkomst "
            "(ook een aandeel van 0% of 100%)"
        ),
        "disclosure_text": (
            "Alle cijfers en figuren in dit rapport zijn gemaakt onder deze regels: ten minste "
            "{min_cases} zaken achter elk gepubliceerd aantal of aandeel; aantallen "
            "afgerond op veelvouden van {rounding_base}; elke schatting (een coëfficiënt, "
            "het effect van een nationaliteit, een voorspeld aandeel) rust op ten minste "
            "{min_cases} zaken, en op ten minste {min_cases} met en {min_cases} zonder de "
            "uitkomst, of ontbreekt in elke tabel en figuur; geen zaakregels."
        ),
        "disclosure_marks": (
            "Zo leest u de tabellen en figuren. „Afgeschermd” (in een figuur: *) staat "
            "waar een aandeel rust op minder dan {min_cases} zaken met de uitkomst of "
            "minder dan {min_cases} zonder; een aandeel van 0% of 100% van een benoemde "
            "groep is ook afgeschermd, omdat het zou zeggen dat niemand, of iedereen, in die "
            "groep de uitkomst had. Aantallen zijn afgerond op veelvouden van "
            "{rounding_base}, zodat ze niet hoeven op te tellen, en aandelen zijn berekend "
            "uit de afgeronde aantallen. Groepen waarvan geen schatting gepubliceerd mag "
            "worden, ontbreken helemaal; elke figuur zegt hoeveel, en de lijst hieronder ook."
        ),
        "data_sha256": (
            "gegevensbestand {name}: SHA-256 van het bestand (zoals sha256sum die toont)"
        ),
        "data_of_fit": "{model}: geschat op {name}, SHA-256 van het bestand",
        "data_missing": "{model}: geschat op {name}, dat er niet meer is",
        "data_smoke": "gegevens: {n} zaken gesimuleerd in de rookproef (geen bestand)",
        "fit_folders": "mappen van de modellen",
        "commit": "git-commit",
        "local_changes": "(+ lokale wijzigingen)",
        "versions": "pakketversies",
        "made": "gemaakt",
        "no_fit": "geen schatting van {model}: voer eerst fit-{model} uit",
        "nationalities_shown": "grootste {top} van {count} nationaliteiten",
        "share_assisted": "aandeel begeleide terugkeer",
        "predicted_share": "voorspeld aandeel",
        "observed": "waargenomen",
        "observed_share": "waargenomen aandeel",
        "replicated": "gerepliceerd 94%-interval",
        "model_pooled": "model (partieel gepoold, 94%-interval)",
        "raw_share": "ruw aandeel",
        "study_figure": "gepubliceerd cijfer van de studie",
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


def model_label(model: str, language: str = "en", formula: str | None = None) -> str:
    """A model as a reader knows it (``Study model: nationality random intercepts with
    cooperation`` for ``group_predictors``); a formula fit by its formula; a name without
    a label as it is."""
    if model == "formula" and formula:
        return text("model_name_formula", language, formula=formula)
    key = f"model_name_{model}"
    return text(key, language) if key in _TEXTS["en"] else model


def entries(language: str = "en") -> dict[str, str]:
    """Every label and text template in ``language`` by key (a copy): what a check that
    nothing of one language is left in a page of the other compares against."""
    language = _check(language)
    return {**_LABELS[language], **_TEXTS[language]}

"""The release boundary, tested as an attacker would: fit small, release, then try to
recover a count under ``min_cases`` or a single case's values from the release alone.

For each class of leak found in review (fixed effects of small levels, interactions and
competing outcomes with single-case cells, a factor in two blocks, factors sharing
labels, slopes with brackets in their names, a fit on a tiny file, differencing) and for
formulas drawn at random over the case file's columns, a fit is written as the CLI
writes it (:func:`write_fit_folder`), released (:func:`release_results`), and the
release is read back as an attacker reads it: every row of every released table and
every coordinate of the released posterior is tied to the cases it is about, and the
*true data* say whether those cases are fewer than ``min_cases``, or fewer than
``min_cases`` with or without an outcome (then the release gives the count away, as a
group's effect is monotone in its successes). The attacker's reading is written here
with pandas on the case rows, independently of the package's support table.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import returnmodels as rm
from returnmodels.data.vocabulary import OUTCOMES
from returnmodels.disclosure import DEFAULT_RULES
from returnmodels.disclosure.audit import audit_results
from returnmodels.disclosure.marker import mark_controlled, write_controlled_csv
from returnmodels.disclosure.release import release_results
from returnmodels.engine.design import build_formula_design
from returnmodels.errors import ConfigError
from returnmodels.report.notebook import write_fit_folder

pytestmark = pytest.mark.sampling

MIN = DEFAULT_RULES.min_cases
SAMPLING = {"draws": 40, "tune": 40, "chains": 2, "random_seed": 987, "progressbar": False}

#: A formula per class of leak found in review.
CLASSES = {
    "nationality as a common term": "assisted ~ n_procedures + nationality",
    "procedures as categories": "assisted ~ C(n_procedures) + (1 | nationality)",
    "interaction with nationality": "assisted ~ n_procedures + n_procedures:nationality",
    "competing outcomes by nationality": "outcome ~ nationality",
    "a factor in two blocks": (
        "assisted ~ n_procedures + (1 | nationality) + (0 + family | nationality)"
    ),
    "factors sharing labels": "assisted ~ 1 + (1 | procedures_text) + (1 | days_text)",
    "a slope with brackets": "assisted ~ gender + (1 + gender | nationality)",
    "a categorical interaction": "assisted ~ gender * age_group + (1 | closing_year)",
}


def attack_cases(random_seed: int = 11) -> pd.DataFrame:
    """Simulated case files (small: many nationalities with 1-9 cases) with a planted
    nationality of 3 cases and one of a single case, and two text columns that share
    labels (``"18"`` is a rare number of procedures and a common number of days)."""
    cases = rm.simulate_cases(n_cases=1500, random_seed=random_seed).cases.copy()
    planted = cases.iloc[:4].copy()
    planted["nationality"] = ["ZZA", "ZZA", "ZZA", "ZZB"]
    planted["cooperation"] = "high"
    planted["n_procedures"] = [2, 18, 18, 7]
    planted["case_id"] = [f"C9{i:05d}" for i in range(4)]
    planted["person_id"] = [f"P9{i:05d}" for i in range(4)]
    cases = pd.concat([cases, planted], ignore_index=True)
    cases["procedures_text"] = cases["n_procedures"].astype(str)
    cases["days_text"] = (np.arange(len(cases)) % 20 + 10).astype(str)
    return cases


#: The attacked case file, made once (the random formulas are drawn against it).
ATTACK_CASES = attack_cases()


@pytest.fixture(scope="module")
def cases():
    return ATTACK_CASES


# -- the attacker ---------------------------------------------------------------------


def _outcome_counts(rows: pd.DataFrame) -> list[int]:
    """n, and the cases with and without each outcome of the family."""
    n = len(rows)
    counts = [n]
    for outcome in OUTCOMES:
        k = int((rows["outcome"] == outcome).sum())
        counts += [k, n - k]
    return counts


def _discloses(rows: pd.DataFrame, family: str) -> bool:
    """Whether a published estimate about these case rows gives away a count under
    ``MIN``: some non-zero count among them is smaller (zeros describe nobody)."""
    if family == "binomial":
        k = int((rows["outcome"] == "assisted_return").sum())
        counts = [len(rows), k, len(rows) - k]
    else:
        counts = _outcome_counts(rows)
    return any(0 < c < MIN for c in counts)


_VARIABLE = re.compile(r"^C\((\w+)")


def _column_of(name: str) -> str:
    """The data column of a term or factor name: ``C(n_procedures)`` is n_procedures."""
    found = _VARIABLE.match(name)
    return found.group(1) if found else name


def _rows_at(cases: pd.DataFrame, factor: str, label: str) -> pd.DataFrame | None:
    """The case rows at ``label`` of ``factor`` (``a:b`` nested), None if not a factor."""
    columns = [_column_of(part) for part in factor.split(":")]
    if not all(c in cases.columns for c in columns):
        return None
    values = label.split(":")
    if len(values) != len(columns):
        return None
    mask = np.ones(len(cases), dtype=bool)
    for column, value in zip(columns, values, strict=True):
        mask &= cases[column].astype(str).to_numpy() == value
    return cases[mask]


def _numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _rows_of_level(cases: pd.DataFrame, term: str, level: str) -> pd.DataFrame | None:
    """The case rows a coefficient ``term[level]`` is about: ``nationality[AFG]``,
    ``n_procedures:nationality[AFG]``, ``gender[female]:age_group[30-44]``."""
    pieces = re.findall(r"(\w+|C\(\w+\))\[([^\]]*)\]", level)
    if pieces:  # a categorical interaction's full label
        mask = np.ones(len(cases), dtype=bool)
        for name, value in pieces:
            mask &= cases[_column_of(name)].astype(str).to_numpy() == value
        return cases[mask]
    categorical = [
        _column_of(part)
        for part in term.split(":")
        if _column_of(part) in cases.columns
        and (not _numeric(cases[_column_of(part)]) or part.startswith("C("))
    ]
    if len(categorical) == 1:
        return cases[cases[categorical[0]].astype(str) == level]
    return None


def recoveries(release, cases: pd.DataFrame) -> list[str]:
    """Everything in the release folder that gives a small count away."""
    found = []
    for posterior_path in sorted(release.rglob("posterior.nc")):
        with xr.open_datatree(posterior_path, engine="h5netcdf") as tree:
            config = json.loads(tree.attrs["returnmodels_config"])
            family = "competing" if config["formula"].startswith("outcome") else "binomial"
            found += _posterior_recoveries(tree, cases, family)
            found += _differencing(tree, cases)
        folder = posterior_path.parent
        if (folder / "summary.csv").is_file() and (folder / "summary.csv").stat().st_size:
            summary = pd.read_csv(folder / "summary.csv")
            for label in summary["parameter"].astype(str):
                found += _label_recovery(label, cases, family, "summary.csv")
        if (folder / "margins.csv").is_file() and (folder / "margins.csv").stat().st_size:
            margins = pd.read_csv(folder / "margins.csv", dtype={"value": str})
            for predictor, value in zip(margins["predictor"], margins["value"], strict=True):
                column = _column_of(str(predictor))
                if not _numeric(cases[column]) or f"C({column})" in config["formula"]:
                    rows = cases[cases[column].astype(str) == str(value)]
                    if _discloses(rows, family):
                        found.append(f"margins.csv: {predictor}={value} ({len(rows)} cases)")
    return found


def _posterior_recoveries(tree, cases, family) -> list[str]:
    found = []
    posterior = tree["posterior"].to_dataset()
    for name, var in posterior.data_vars.items():
        for dim in var.dims:
            if dim in ("chain", "draw") or dim.endswith("_corr_pair"):
                continue
            for label in posterior[dim].values.astype(str):
                term = dim.removesuffix("_level")
                rows = (
                    _rows_of_level(cases, term, label)
                    if dim.endswith("_level")
                    else _rows_at(cases, dim, label)
                )
                if rows is not None and _discloses(rows, family):
                    found.append(f"posterior.nc: {name}[{label}] ({len(rows)} cases)")
    if posterior.data_vars and _discloses(cases, family):
        found.append(f"posterior.nc: a fit of {len(cases)} cases")
    return found


def _label_recovery(label: str, cases, family, source) -> list[str]:
    """The case rows a summary row is about: every ``column[value]`` its label names
    (``gender[female]``, in a coefficient, an SD or a correlation's name), and the
    levels of its coordinates (``nationality_effect[AFG]``)."""
    subsets, named = [], np.ones(len(cases), dtype=bool)
    for column in cases.columns:
        if _numeric(cases[column]) and f"C({column})" not in label:
            continue
        for value in cases[column].astype(str).unique():
            if f"{column}[{value}]" in label or f"C({column})[{value}]" in label:
                named &= cases[column].astype(str).to_numpy() == value
    if not named.all():  # the cases every column[value] of the label names
        subsets.append(("named", cases[named]))
    found = re.fullmatch(r"(.+?)\[(.*)\]", label)
    if found:
        name, coordinates = found.groups()
        for coordinate in coordinates.split(", "):
            rows = _rows_of_level(cases, name, coordinate)
            if rows is None:
                factor = re.sub(r"_(\w+?_)?(effect|intercept|offset)$", "", name)
                rows = _rows_at(cases, factor.removeprefix("competing_"), coordinate)
            if rows is not None:
                subsets.append((coordinate, rows))
    if not subsets:
        subsets.append(("all cases", cases))
    return [
        f"{source}: {label} ({what}: {len(rows)} cases)"
        for what, rows in subsets
        if _discloses(rows, family)
    ]


def _differencing(tree, cases) -> list[str]:
    """Exact means of predictors and the exact number of cases allow differencing two
    releases that differ by one person."""
    found = []
    numbers = []
    for key, text in tree.attrs.items():
        try:
            value = json.loads(text)
        except (TypeError, ValueError):
            continue
        numbers += [(key, n) for n in _numbers(value)]
    exact_means = {
        column: cases[column].mean()
        for column in ("n_procedures", "closing_year")
        if column in cases.columns
    }
    for key, number in numbers:
        if number == len(cases):
            found.append(f"posterior.nc: attribute {key} holds the exact number of cases")
        for column, mean in exact_means.items():
            if abs(number - mean) < 1e-9 and number != round(number, 1):
                found.append(f"posterior.nc: attribute {key} holds the exact mean of {column}")
    return found


def _numbers(value):
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield float(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)


# -- fitting, releasing, attacking ------------------------------------------------------


def fit_and_release(cases, formula: str, tmp_path, name: str):
    result = rm.fit(cases, formula=formula, **SAMPLING)
    analysis = tmp_path / f"analysis-{name}"
    write_fit_folder(result, analysis / "fit")
    release = tmp_path / f"release-{name}"
    release_results(analysis, release)
    assert audit_results(release).clean
    return release


@pytest.mark.parametrize("leak", list(CLASSES))
def test_no_small_count_can_be_recovered_from_a_release(cases, tmp_path, leak):
    release = fit_and_release(cases, CLASSES[leak], tmp_path, "class")
    found = recoveries(release, cases)
    assert not found, f"{leak}: the release gives away\n  " + "\n  ".join(found[:10])


def test_the_attacker_finds_what_an_uncontrolled_release_gives_away(cases, tmp_path):
    """The attacker is not blind: the internal posterior (all levels) is caught."""
    result = rm.fit(cases, formula=CLASSES["nationality as a common term"], **SAMPLING)
    folder = tmp_path / "internal"
    folder.mkdir()
    rm.save_result(result, folder / "posterior.nc")
    found = recoveries(tmp_path / "internal", cases)
    assert any("nationality[ZZA]" in f for f in found)
    assert any("nationality[ZZB]" in f for f in found)


def test_a_fit_on_a_tiny_file_releases_nothing_of_it(cases, tmp_path):
    tiny = cases[cases["nationality"] == "ZZA"].reset_index(drop=True)
    release = fit_and_release(tiny, "assisted ~ 1", tmp_path, "tiny")
    posterior = xr.open_datatree(release / "fit" / "posterior.nc", engine="h5netcdf")
    assert not posterior["posterior"].to_dataset().data_vars
    assert pd.read_csv(release / "fit" / "summary.csv").empty
    assert not recoveries(release, tiny)


def random_formulas(n: int, random_seed: int) -> list[str]:
    """Formulas drawn over the case file's columns: common categorical and numeric
    terms, interactions, group terms (intercepts and slopes), both families."""
    rng = np.random.default_rng(random_seed)
    common = ["n_procedures", "gender", "age_group", "family", "cooperation",
              "C(n_procedures)", "nationality", "closing_year"]  # fmt: skip
    groups = ["(1 | nationality)", "(1 | closing_year)", "(1 | age_group)",
              "(1 + n_procedures | nationality)", "(1 | gender:nationality)"]  # fmt: skip
    formulas = []
    while len(formulas) < n:
        terms = list(rng.choice(common, size=rng.integers(1, 3), replace=False))
        if rng.random() < 0.5:
            a, b = rng.choice(common[:5], size=2, replace=False)
            terms.append(f"{a}:{b}")
        terms += list(rng.choice(groups, size=rng.integers(0, 3), replace=False))
        response = "outcome" if rng.random() < 0.25 else "assisted"
        formula = f"{response} ~ " + " + ".join(terms)
        try:  # only formulas the package fits: a refusal (collinear terms) is no test
            build_formula_design(ATTACK_CASES, formula)
        except ConfigError:
            continue
        formulas.append(formula)
    return formulas


@pytest.mark.parametrize("formula", random_formulas(6, random_seed=2026))
def test_random_formulas_release_no_small_count(cases, tmp_path, formula):
    release = fit_and_release(cases, formula, tmp_path, "random")
    found = recoveries(release, cases)
    assert not found, f"{formula}: the release gives away\n  " + "\n  ".join(found[:10])


def _plant_row(path, row: dict) -> None:
    """Add ``row`` to the CSV at ``path`` and re-mark it, as a hand edit would."""
    table = pd.read_csv(path, dtype={"value": str})
    table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    path.unlink()
    write_controlled_csv(mark_controlled(table, DEFAULT_RULES), path)


def test_a_hand_edited_table_is_caught_against_its_fit(cases, tmp_path):
    """The audit and the release check a fit folder's tables against the fit, not
    against their marker: a re-marked summary row or margin of a 3-case level is
    caught (small-support) and withheld."""
    result = rm.fit(cases, formula=CLASSES["nationality as a common term"], **SAMPLING)
    analysis = tmp_path / "analysis"
    write_fit_folder(result, analysis / "fit")
    _plant_row(analysis / "fit" / "summary.csv", {"parameter": "nationality[ZZA]", "mean": 0.1})
    _plant_row(
        analysis / "fit" / "margins.csv",
        {"predictor": "nationality", "value": "ZZA", "mean": 0.5},
    )
    findings = {(f.source, f.rule) for f in audit_results(analysis).findings}
    assert {("fit/summary.csv", "small-support"), ("fit/margins.csv", "small-support")} <= findings
    release = tmp_path / "release"
    report = release_results(analysis, release)
    assert {"fit/summary.csv", "fit/margins.csv"} <= set(report.withheld)
    assert audit_results(release).clean and not recoveries(release, cases)


def test_a_release_table_may_hold_only_what_its_released_posterior_holds(cases, tmp_path):
    release = fit_and_release(cases, CLASSES["procedures as categories"], tmp_path, "edit")
    _plant_row(release / "fit" / "summary.csv", {"parameter": "C(n_procedures)[18]", "mean": 1})
    (release / "release_manifest.json").unlink()  # only the table check is under test
    findings = {(f.source, f.rule) for f in audit_results(release).findings}
    assert ("fit/summary.csv", "small-support") in findings


def _solved_means(posterior: xr.Dataset, numeric: list[str]) -> list[np.ndarray]:
    """What an attacker solves from the draws: for every pair of scalar variables
    (u, v), the c in u - v = sum_k beta_k c_k, when it holds exactly at every draw."""
    scalars = [n for n, v in posterior.data_vars.items() if set(v.dims) <= {"chain", "draw"}]
    X = np.column_stack([posterior[k].values.ravel() for k in numeric])
    solved = []
    for u in scalars:
        for v in scalars:
            if u == v:
                continue
            d = (posterior[u] - posterior[v]).values.ravel()
            c, *_ = np.linalg.lstsq(X, d, rcond=None)
            if np.allclose(X @ c, d, atol=1e-9):
                solved.append(c)
    return solved


def test_a_preset_fit_does_not_give_the_predictors_means_back(tmp_path):
    """An intercept at x = 0 beside one at the mean predictors would give the
    predictors' exact means back, draw by draw (their difference is sum_k beta_k
    mean_k): differencing two releases would then give one person's values. Every fit,
    a preset's too, has one Intercept, at the case-weighted means, so no pair of its
    scalars solves for the means, in the internal posterior or in the release.
    (4,000 cases: enough for the intercepts themselves to be publishable.)"""
    cases = rm.simulate_cases(n_cases=4000, random_seed=11).cases
    result = rm.fit(cases, "group_predictors", **SAMPLING)
    numeric = ["n_procedures", "family[True]"]
    posterior = result["posterior"].to_dataset()
    flags = posterior["family"].sel(family_level="True").drop_vars("family_level")
    posterior = posterior.assign({"family[True]": flags})
    means = np.array([cases["n_procedures"].mean(), cases["family"].astype(float).mean()])
    assert not any(
        np.allclose(np.abs(c), means, atol=1e-6) for c in _solved_means(posterior, numeric)
    )
    analysis = tmp_path / "analysis"
    write_fit_folder(result, analysis / "fit")
    release = tmp_path / "release"
    release_results(analysis, release)
    with xr.open_datatree(release / "fit" / "posterior.nc", engine="h5netcdf") as tree:
        released = tree["posterior"].to_dataset()
    assert sum(name.endswith("Intercept") for name in released.data_vars) <= 1

"""Draw synthetic case files from the known two-stage model (see :mod:`.truth`).

The story, in order of drawing:

1. **Persons.** Each person has a nationality (rank-profile sizes), gender, age group,
   family status, a number of return procedures *before* the window, and one to three
   cases closed inside 2017-2023. Their cases carry ``n_procedures`` = prior + 1, prior
   + 2, ..., in increasing closing year, so ``n_procedures`` has the long tail of
   repeated procedures (about 31% first procedures, 5-6% with eight or more).
2. **Nationality effects.** Standard-normal offsets ``z_j`` for uptake and for each
   competing outcome; two are anchored (NGA well below the mean, IRQ above) so that,
   as in the study, Nigerians take up assisted return less than Iraqis although
   Nigeria cooperates extensively with forced return.
3. **Calibration** of the free coefficients to the published figures on these very
   cases (:mod:`.calibrate`).
4. **Outcomes**: assisted return or not, then one of the five other outcomes.
5. **Optional columns**: detention (mostly forced returns) and case duration in days.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from returnmodels.data.vocabulary import AGE_GROUPS, COOPERATION_LEVELS, GENDERS, OUTCOMES
from returnmodels.errors import ConfigError
from returnmodels.files import write_json, write_table
from returnmodels.simulate import profile
from returnmodels.simulate.calibrate import calibrate_competing, calibrate_uptake
from returnmodels.simulate.report import truth_document
from returnmodels.simulate.truth import (
    COMPETING_OUTCOMES,
    LogitEffects,
    SimulatedCases,
    TrueParameters,
)

__all__ = [
    "DEFAULT_N_CASES",
    "DEFAULT_PERSON_SIGMA",
    "DEFAULT_SEED",
    "SimulatedCases",
    "simulate_cases",
    "truth_path_for",
    "write_simulation",
]

DEFAULT_N_CASES = 118_000
DEFAULT_SEED = 20251201
#: SD of the person frailty on the uptake logit in the bundled data: persons differ, and
#: a person's cases share it (17,330 of the 96,768 persons have two or three cases).
#: A person 1 SD above the typical one has e (2.7) times their odds: differences between
#: persons of the size of those between nationalities (SD 0.8), so that the multi-case
#: persons identify it and a model that ignores persons shows what that costs (intervals
#: too narrow, a procedures slope attenuated towards 0).
DEFAULT_PERSON_SIGMA = 1.0

#: Prior procedures before the window: 0 with this probability, else 1 + NegBin.
FIRST_PROCEDURE_PROBABILITY = 0.36
PRIOR_PROCEDURES_NB = (3.0, 0.56)  # (n, p) of numpy's negative binomial
#: Uptake offsets of the anchored nationalities (standard-normal scale).
ANCHORED_UPTAKE_OFFSETS = {"NGA": -0.75, "IRQ": 0.5}


def simulate_cases(
    n_cases: int = DEFAULT_N_CASES,
    random_seed: int = DEFAULT_SEED,
    person_sigma: float = DEFAULT_PERSON_SIGMA,
) -> SimulatedCases:
    """Draw ``n_cases`` case files in the contract, with the true parameters.

    The same ``(n_cases, random_seed, person_sigma)`` always gives the same cases and
    truth. ``person_sigma``: SD of a person frailty on the uptake logit (persons with
    several cases share it; :mod:`.truth`), recorded in the truth; the calibration then
    matches the published figures population-averaged over it. Its draws come from a
    stream of their own, so every other draw is the same as without it. The defaults
    (:data:`DEFAULT_PERSON_SIGMA` among them) give the bundled data; ``person_sigma=0``
    gives cases independent given their predictors and nationality, as the models
    without ``(1 | person_id)`` assume.
    """
    _check_arguments(n_cases, random_seed)
    if not (np.isfinite(person_sigma) and person_sigma >= 0):
        raise ConfigError(f"person_sigma must be a number >= 0, got {person_sigma!r}")
    rng = np.random.default_rng(random_seed)
    truth = _draw_truth(rng)
    truth.uptake.person_sigma = float(person_sigma)
    covariates = _draw_cases(rng, n_cases)
    truth.uptake = calibrate_uptake(truth.uptake, covariates)
    truth = calibrate_competing(truth, covariates)
    frailty = _draw_frailty(random_seed, covariates) if person_sigma > 0 else None
    outcome = _draw_outcomes(rng, truth, covariates, frailty)
    cases = _finish(rng, covariates, outcome)
    return SimulatedCases(cases=cases, truth=truth, seed=random_seed)


def _check_arguments(n_cases: int, random_seed: int) -> None:
    if isinstance(n_cases, bool) or not isinstance(n_cases, int | np.integer) or n_cases < 100:
        raise ConfigError(f"n_cases must be an integer >= 100, got {n_cases!r}")
    if isinstance(random_seed, bool) or not isinstance(random_seed, int | np.integer):
        raise ConfigError(f"random_seed must be an integer, got {random_seed!r}")
    if random_seed < 0:
        raise ConfigError(f"random_seed must be >= 0, got {random_seed!r}")


def _draw_persons(rng: np.random.Generator, n_cases: int) -> pd.DataFrame:
    window = np.asarray(profile.WINDOW_CASES_PER_PERSON)
    n_persons = int(n_cases / (window @ np.arange(1, len(window) + 1)) * 1.1) + 10
    cases_each = rng.choice(np.arange(1, len(window) + 1), size=n_persons, p=window)
    total = np.cumsum(cases_each)
    n_persons = int(np.searchsorted(total, n_cases) + 1)
    cases_each = cases_each[:n_persons]
    cases_each[-1] -= total[n_persons - 1] - n_cases
    codes = np.array([code for code, _ in profile.NATIONALITIES])
    age = rng.choice(AGE_GROUPS, size=n_persons, p=_shares(profile.AGE_GROUP_SHARES))
    family_share = pd.Series(age).map(profile.FAMILY_SHARE).to_numpy(float)
    nationality = rng.choice(codes, size=n_persons, p=profile.nationality_weights())
    return pd.DataFrame(
        {
            "person": np.arange(n_persons),
            "nationality": nationality,
            "gender": rng.choice(GENDERS, size=n_persons, p=_shares(profile.GENDER_SHARES)),
            "age_group": age,
            "family": rng.random(n_persons) < family_share,
            "prior_procedures": _draw_prior_procedures(rng, n_persons),
            "cases": cases_each,
        }
    )


def _draw_prior_procedures(rng: np.random.Generator, n_persons: int) -> np.ndarray:
    """Return procedures before the window: none, or 1 + negative binomial.

    The negative binomial (mean about 2.4) spreads histories evenly over two to seven
    procedures, with a tail beyond: with one to three cases per person inside the
    window this gives about 30% first procedures and 5-6% with eight or more, the
    shape under which the study's procedure margins and a 10% overall uptake hold
    together (CALIBRATION.md).
    """
    extra = 1 + rng.negative_binomial(*PRIOR_PROCEDURES_NB, size=n_persons)
    return np.where(rng.random(n_persons) < FIRST_PROCEDURE_PROBABILITY, 0, extra)


def _shares(shares: dict[str, float]) -> np.ndarray:
    """Probabilities in the schema's level order."""
    order = GENDERS if set(shares) == set(GENDERS) else AGE_GROUPS
    return np.array([shares[level] for level in order])


def _draw_cases(rng: np.random.Generator, n_cases: int) -> pd.DataFrame:
    persons = _draw_persons(rng, n_cases)
    cases = persons.loc[persons.index.repeat(persons["cases"])].reset_index(drop=True)
    order_within = cases.groupby("person").cumcount().to_numpy()
    cases["n_procedures"] = cases["prior_procedures"].to_numpy() + order_within + 1
    years = np.array(sorted(profile.CASES_PER_YEAR))
    weights = np.array([profile.CASES_PER_YEAR[y] for y in years])
    drawn = rng.choice(years, size=len(cases), p=weights / weights.sum())
    # Sort each person's years so that later procedures close later.
    cases["closing_year"] = _sorted_within(drawn, cases["person"].to_numpy())
    cooperation = dict(profile.NATIONALITIES)
    cases["cooperation"] = cases["nationality"].map(cooperation)
    return cases.drop(columns=["prior_procedures", "cases"])


def _sorted_within(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``values`` sorted within each run of equal, contiguous ``groups``."""
    order = np.lexsort((values, groups))
    return values[order]


def _fixed_effects(
    rng: np.random.Generator, sigma: float, codes: list[str], **coefficients
) -> LogitEffects:
    """Effects with the given coefficients, zero where unnamed, and fresh offsets z_j."""
    years = sorted(profile.CASES_PER_YEAR)
    return LogitEffects(
        intercept=0.0,
        n_procedures=coefficients.get("n_procedures", 0.0),
        family=coefficients.get("family", 0.0),
        closing_year=dict.fromkeys(years, 0.0),
        gender={g: coefficients.get("gender", {}).get(g, 0.0) for g in GENDERS},
        age_group={a: coefficients.get("age_group", {}).get(a, 0.0) for a in AGE_GROUPS},
        cooperation={
            c: coefficients.get("cooperation", {}).get(c, 0.0) for c in COOPERATION_LEVELS
        },
        nationality_sigma=sigma,
        nationality_offset=dict(
            zip(codes, np.round(rng.standard_normal(len(codes)), 4).tolist(), strict=True)
        ),
    )


def _draw_truth(rng: np.random.Generator) -> TrueParameters:
    """Fixed coefficients (documented choices) and nationality offsets.

    Intercepts, the procedures slope and the cooperation and year effects of uptake,
    and the intercepts and year effects of the competing outcomes, are left to the
    calibration.
    """
    codes = [code for code, _ in profile.NATIONALITIES]
    uptake = _fixed_effects(
        rng, 0.8, codes,
        family=0.35,
        gender={"female": 0.20, "unknown": -0.30},
        age_group={"0-17": 0.15, "30-44": 0.10, "45-64": 0.05, "65+": -0.20},
    )  # fmt: skip
    uptake.nationality_offset = _centred_within_cooperation(
        uptake.nationality_offset | ANCHORED_UPTAKE_OFFSETS
    )
    competing = {
        "independent_return": _fixed_effects(
            rng, 0.5, codes, n_procedures=-0.10, family=0.20,
            gender={"female": 0.10}, age_group={"45-64": 0.20, "65+": 0.40},
            cooperation={"medium": 0.20, "high": 0.30},
        ),
        "forced_return": _fixed_effects(
            rng, 0.6, codes, n_procedures=0.10, family=-0.60,
            gender={"female": -0.40}, age_group={"0-17": -0.80},
            cooperation={"medium": 0.70, "high": 1.30},
        ),
        "legal_stay": _fixed_effects(
            rng, 0.6, codes, n_procedures=-0.15, family=0.70,
            gender={"female": 0.30}, age_group={"0-17": 0.60, "65+": 0.50},
            cooperation={"medium": -0.30, "high": -0.60},
        ),
        "other": _fixed_effects(rng, 0.4, codes, n_procedures=0.05),
    }  # fmt: skip
    return TrueParameters(uptake=uptake, competing=competing)


def _centred_within_cooperation(offset: dict[str, float]) -> dict[str, float]:
    """Offsets minus their caseload-weighted mean within each cooperation level.

    A few large nationalities carry most cases; centring keeps one large draw from
    standing in for the cooperation effect, so that the cooperation coefficients, not
    the luck of the draw, carry the contrast between cooperation levels.
    """
    codes = [code for code, _ in profile.NATIONALITIES]
    frame = pd.DataFrame(
        {
            "z": [offset[c] for c in codes],
            "weight": profile.nationality_weights(),
            "level": [level for _, level in profile.NATIONALITIES],
        },
        index=codes,
    )
    weighted = (frame["z"] * frame["weight"]).groupby(frame["level"]).sum()
    mean = weighted / frame["weight"].groupby(frame["level"]).sum()
    centred = frame["z"] - frame["level"].map(mean)
    return {code: round(float(z), 4) for code, z in centred.items()}


#: The frailty's own stream: ``default_rng([seed, PERSON_STREAM])``.
PERSON_STREAM = 24


def _draw_frailty(random_seed: int, cases: pd.DataFrame) -> np.ndarray:
    """Each case's person frailty :math:`v_p \\sim N(0, 1)`, one draw per person."""
    persons = cases["person"].to_numpy()
    draws = np.random.default_rng([random_seed, PERSON_STREAM]).standard_normal(persons.max() + 1)
    return draws[persons]


def _draw_outcomes(
    rng: np.random.Generator,
    truth: TrueParameters,
    cases: pd.DataFrame,
    frailty: np.ndarray | None = None,
) -> np.ndarray:
    """Stage 1 (assisted or not, given the person's frailty), then stage 2 among the
    others, by inverse CDF."""
    assisted = rng.random(len(cases)) < truth.uptake_probability(cases, frailty)
    cumulative = np.cumsum(truth.competing_probabilities(cases), axis=1)
    uniform = rng.random(len(cases))[:, None]
    index = np.minimum((uniform > cumulative).sum(axis=1), len(COMPETING_OUTCOMES) - 1)
    competing = np.asarray(COMPETING_OUTCOMES)[index]
    return np.where(assisted, OUTCOMES[0], competing)


#: Mean case duration in days by outcome (gamma, shape 2).
_MEAN_CASE_DAYS = {
    "assisted_return": 150, "independent_return": 200, "forced_return": 120,
    "unsupervised_departure": 260, "legal_stay": 400, "other": 180,
}  # fmt: skip
#: Probability of immigration detention during the case, by outcome.
_DETENTION = {"forced_return": 0.60}
_DETENTION_OTHERWISE = 0.06


def _finish(rng: np.random.Generator, covariates: pd.DataFrame, outcome: np.ndarray):
    """Add outcome and optional columns, shuffle, and number cases and persons."""
    n = len(covariates)
    detention_rate = pd.Series(outcome).map(_DETENTION).fillna(_DETENTION_OTHERWISE)
    mean_days = pd.Series(outcome).map(_MEAN_CASE_DAYS).to_numpy(float)
    frame = covariates.assign(
        outcome=outcome,
        detention=rng.random(n) < detention_rate.to_numpy(),
        case_days=np.floor(rng.gamma(2.0, mean_days / 2.0)).astype(np.int64),
        shuffle=rng.random(n),
    )
    person_labels = rng.permutation(frame["person"].max() + 1)
    frame = frame.sort_values(["closing_year", "shuffle"], kind="stable").reset_index(drop=True)
    width = len(str(n))
    return pd.DataFrame(
        {
            "case_id": [f"C{i:0{width}d}" for i in range(1, n + 1)],
            "person_id": [f"P{i:0{width}d}" for i in person_labels[frame["person"]] + 1],
            "nationality": frame["nationality"].to_numpy(),
            "closing_year": frame["closing_year"].to_numpy(np.int64),
            "outcome": pd.Categorical(frame["outcome"], categories=OUTCOMES, ordered=True),
            "n_procedures": frame["n_procedures"].to_numpy(np.int64),
            "gender": pd.Categorical(frame["gender"], categories=GENDERS, ordered=True),
            "age_group": pd.Categorical(frame["age_group"], categories=AGE_GROUPS, ordered=True),
            "family": frame["family"].to_numpy(bool),
            "cooperation": pd.Categorical(
                frame["cooperation"], categories=COOPERATION_LEVELS, ordered=True
            ),
            "detention": frame["detention"].to_numpy(bool),
            "case_days": frame["case_days"].to_numpy(np.int64),
        }
    )


def write_simulation(simulation: SimulatedCases, out: str | Path) -> tuple[Path, Path]:
    """Write the cases to ``out`` (.csv or .parquet) and the truth beside it.

    The truth goes to ``<stem>.truth.json`` in the same folder. Both files appear whole
    or not at all. Returns the two paths.
    """
    out = Path(out)
    truth_path = truth_path_for(out)
    write_table(simulation.cases, out)
    write_json(truth_document(simulation), truth_path)
    return out, truth_path


def truth_path_for(cases_path: str | Path) -> Path:
    """Where the truth file of a synthetic case file lives."""
    cases_path = Path(cases_path)
    return cases_path.with_name(cases_path.name.split(".")[0] + ".truth.json")

"""Solve the free coefficients of the generative model so the published figures hold.

The generator draws the covariates and nationality effects first, then calls
:func:`calibrate_uptake` and :func:`calibrate_competing`, which choose the remaining
coefficients so that the *expected* figures on those very cases match the targets of
:mod:`returnmodels.simulate.targets`. The solution is rounded to 4 decimals, so that
tiny floating-point differences between machines cannot change the drawn data.

Uptake (stage 1): least squares over 10 coefficients (intercept, procedures slope,
cooperation medium and high, six year effects) on 12 figures: the five predictive
margins and the assisted share of each closing year. With a person frailty the
figures are population-averaged over it (the logistic-normal mean), so the published
shares hold for the cases while the coefficients are conditional on the person.

Competing outcomes (stage 2): per closing year, an iterative proportional fit of the
four non-reference logits so that each outcome's expected share of the year's cases
matches DT&V's departure split of that year and the fixed legal-stay / other shares.

Both work on the part of the linear predictor that the free coefficients do not touch,
computed once, so each evaluation is a few vector operations.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from scipy.special import softmax

from returnmodels.data.vocabulary import COOPERATION_LEVELS
from returnmodels.simulate.targets import (
    COOPERATION_MARGINS,
    PROCEDURE_MARGINS,
    outcome_shares_by_year,
)
from returnmodels.simulate.truth import (
    COMPETING_OUTCOMES,
    REFERENCE_OUTCOME,
    LogitEffects,
    TrueParameters,
    logistic_normal_mean,
)

__all__ = ["calibrate_uptake", "calibrate_competing", "uptake_figures"]

_DECIMALS = 4
_CALIBRATION_ROWS = 200_000
_MARGIN_WEIGHT = 3.0


def uptake_figures(effects: LogitEffects, cases: pd.DataFrame) -> dict[str, float]:
    """Expected uptake figures on ``cases`` under ``effects``: margins and year shares,
    population-averaged over the person frailty (as a share of cases is)."""
    figures = {}
    for value in PROCEDURE_MARGINS:
        figures[f"n_procedures={value}"] = _margin(effects, cases, "n_procedures", value)
    for level in COOPERATION_MARGINS:
        figures[f"cooperation={level}"] = _margin(effects, cases, "cooperation", level)
    probability = logistic_normal_mean(effects.linear_predictor(cases), effects.person_sigma)
    by_year = pd.Series(probability).groupby(cases["closing_year"].to_numpy()).mean()
    figures.update({f"closing_year={year}": float(s) for year, s in by_year.items()})
    return figures


def _margin(effects: LogitEffects, cases: pd.DataFrame, column: str, value) -> float:
    counterfactual = cases.assign(**{column: value})
    eta = effects.linear_predictor(counterfactual)
    return float(logistic_normal_mean(eta, effects.person_sigma).mean())


def calibrate_uptake(effects: LogitEffects, cases: pd.DataFrame) -> LogitEffects:
    """Return ``effects`` with intercept, slope, cooperation and year effects solved."""
    cases = cases.iloc[:_CALIBRATION_ROWS]
    years = sorted(effects.closing_year)
    free_zero = replace(
        effects,
        intercept=0.0,
        n_procedures=0.0,
        closing_year=dict.fromkeys(years, 0.0),
        cooperation=dict.fromkeys(COOPERATION_LEVELS, 0.0),
    )
    fixed = free_zero.linear_predictor(cases)
    extra = cases["n_procedures"].to_numpy(float) - 1.0
    coop = _codes(cases["cooperation"], COOPERATION_LEVELS)
    year = _codes(cases["closing_year"], years)
    by_year = outcome_shares_by_year()
    targets = np.array(
        list(PROCEDURE_MARGINS.values())
        + list(COOPERATION_MARGINS.values())
        + [by_year[y]["assisted_return"] for y in years]
    )

    def share(eta: np.ndarray) -> np.ndarray:  # population-averaged over the frailty
        return logistic_normal_mean(eta, effects.person_sigma)

    def figures(x: np.ndarray) -> np.ndarray:
        coop_effect = np.array([0.0, x[2], x[3]])
        year_effect = np.concatenate([[0.0], x[4:]])
        base = fixed + x[0] + year_effect[year]
        procedures = [
            share(base + coop_effect[coop] + x[1] * (k - 1)).mean() for k in PROCEDURE_MARGINS
        ]
        cooperation = [
            share(base + coop_effect[COOPERATION_LEVELS.index(level)] + x[1] * extra).mean()
            for level in COOPERATION_MARGINS
        ]
        observed = share(base + coop_effect[coop] + x[1] * extra)
        shares = np.bincount(year, observed, len(years)) / np.bincount(year, minlength=len(years))
        return np.concatenate([procedures, cooperation, shares])

    # The five margins are the study's headline figures (tolerance 1.5 points); the
    # year shares a softer shape (3 points): weigh the margins more.
    weights = np.array([_MARGIN_WEIGHT] * 5 + [1.0] * len(years))
    start = np.array([-1.5, -0.5, 0.5, 1.0] + [0.0] * (len(years) - 1))
    x = np.round(least_squares(lambda x: weights * (figures(x) - targets), start).x, _DECIMALS)
    return replace(
        effects,
        intercept=float(x[0]),
        n_procedures=float(x[1]),
        cooperation=dict(zip(COOPERATION_LEVELS, [0.0, float(x[2]), float(x[3])], strict=True)),
        closing_year={years[0]: 0.0} | {y: float(v) for y, v in zip(years[1:], x[4:], strict=True)},
    )


def calibrate_competing(
    truth: TrueParameters, cases: pd.DataFrame, iterations: int = 100
) -> TrueParameters:
    """Return ``truth`` with each competing outcome's intercept and year effects solved."""
    cases = cases.iloc[:_CALIBRATION_ROWS]
    not_assisted = 1.0 - truth.uptake_probability(cases)
    years = sorted(truth.uptake.closing_year)
    year = _codes(cases["closing_year"], years)
    targets = outcome_shares_by_year()
    target = np.array([[targets[y][o] for o in COMPETING_OUTCOMES] for y in years])
    reference = COMPETING_OUTCOMES.index(REFERENCE_OUTCOME)
    fixed = np.column_stack(
        [
            np.zeros(len(cases))
            if outcome == REFERENCE_OUTCOME
            else replace(
                truth.competing[outcome], intercept=0.0, closing_year=dict.fromkeys(years, 0.0)
            ).linear_predictor(cases)
            for outcome in COMPETING_OUTCOMES
        ]
    )
    logits = np.zeros((len(years), len(COMPETING_OUTCOMES)))  # year x outcome
    for _ in range(iterations):
        probability = softmax(fixed + logits[year], axis=1) * not_assisted[:, None]
        expected = np.stack([probability[year == y].mean(axis=0) for y in range(len(years))])
        step = np.log(target / expected)
        logits += step - step[:, [reference]]
    logits = np.round(logits, _DECIMALS)
    competing = {
        outcome: replace(
            effects,
            intercept=float(logits[0, COMPETING_OUTCOMES.index(outcome)]),
            closing_year={
                y: round(float(v - logits[0, COMPETING_OUTCOMES.index(outcome)]), _DECIMALS)
                for y, v in zip(years, logits[:, COMPETING_OUTCOMES.index(outcome)], strict=True)
            },
        )
        for outcome, effects in truth.competing.items()
    }
    return TrueParameters(truth.uptake, competing)


def _codes(values: pd.Series, levels) -> np.ndarray:
    """Position of each value in ``levels``."""
    return pd.Categorical(values.to_numpy(object), categories=list(levels)).codes.astype(np.int64)

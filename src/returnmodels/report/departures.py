"""DT&V's published departure figures through the generic random-intercept model.

The verified share of demonstrable departures in year :math:`t`,

.. math:: k_t \\sim \\operatorname{Binomial}(n_t, \\operatorname{logit}^{-1}(\\beta_0 + u_t)),
          \\qquad u_t \\sim N(0, \\sigma^2),

with :math:`k_t` = ``zelfstandig_vertrek`` (verified independent or assisted departure)
and :math:`n_t` = ``zelfstandig_vertrek + gedwongen_vertrek`` (plus forced), is the
``varying_intercepts`` model with ``column_spec(successes=..., trials=..., group="year")``
and no predictors. :data:`ML_REFERENCE` is the maximum-likelihood fit of the same model
(lme4 ``glmer(cbind(zelfstandig, gedwongen) ~ 1 + (1 | year))``, ``data/SOURCES.md``).
Its intercept is the mean of the ten yearly log-odds of 2014-2023, so the comparison
uses 2014 too: that row lacks only the unsupervised count, which this model does not use.

The same share in case files (assisted + independent over assisted + independent +
forced, by closing year) is disclosure-controlled (:func:`synthetic_verified_share`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit

from returnmodels.disclosure import DEFAULT_RULES, DisclosureRules, control_shares, mark_controlled
from returnmodels.inference.fit import fit
from returnmodels.models import column_spec
from returnmodels.paths import bundled_departures
from returnmodels.report import style
from returnmodels.summaries import group_effects
from returnmodels.summaries._draws import interval

__all__ = [
    "ML_REFERENCE",
    "SUCCESSES",
    "TRIALS",
    "compare_with_ml",
    "departure_spec",
    "fit_departures",
    "load_departures",
    "plot_verified_shares",
    "synthetic_verified_share",
    "year_shares",
]

SUCCESSES = "zelfstandig_vertrek"
TRIALS = "aantoonbaar_vertrek"  # demonstrable departures: verified + forced
#: lme4 glmer fit of the same model to 2014-2023 (data/SOURCES.md).
ML_REFERENCE: dict[str, float] = {
    "intercept": 0.4265,
    "intercept_se": 0.0817,
    "share": 0.605,
    "year_sd": 0.257,
}
#: Published counts are rounded to tens by DT&V: safe under the default rules.
_PUBLIC_RULES = DisclosureRules(min_cases=10, rounding_base=5)


def load_departures(
    path: str | os.PathLike | None = None, first_year: int = 2014, last_year: int = 2023
) -> pd.DataFrame:
    """The DT&V table (``None``: the bundled one) for ``first_year..last_year`` with
    ``aantoonbaar_vertrek`` (verified + forced departures) and the verified share; marked
    controlled (public, aggregate figures, published rounded to tens)."""
    table = pd.read_csv(bundled_departures() if path is None else Path(path))
    table = table[table["year"].between(first_year, last_year)].reset_index(drop=True)
    table[TRIALS] = table[SUCCESSES] + table["gedwongen_vertrek"]
    table["verified_share"] = table[SUCCESSES] / table[TRIALS]
    columns = ["year", "period", SUCCESSES, "gedwongen_vertrek", TRIALS, "verified_share"]
    counts = [SUCCESSES, "gedwongen_vertrek", TRIALS]
    return mark_controlled(table[columns], _PUBLIC_RULES, count_columns=counts)


def departure_spec():
    """The column specification: successes, trials, group ``year``, no predictors."""

    return column_spec(successes=SUCCESSES, trials=TRIALS, group="year")


def fit_departures(table: pd.DataFrame, **sampling) -> xr.DataTree:
    """Fit ``varying_intercepts`` to the yearly table; ``sampling`` goes to
    :func:`returnmodels.fit` (draws, tune, chains, random_seed, sampler)."""

    data = pd.DataFrame(table).astype({SUCCESSES: "int64", TRIALS: "int64"})
    return fit(data, "varying_intercepts", columns=departure_spec(), **sampling)


def compare_with_ml(result: xr.DataTree) -> pd.DataFrame:
    """Posterior mean, SD and 94% HDI of the intercept, its share and the year SD beside
    the maximum-likelihood estimates; marked controlled (no counts)."""

    posterior = result["posterior"]
    intercept = posterior["Intercept"].to_numpy().reshape(-1)
    sigma = posterior["year_sigma"].to_numpy().reshape(-1)
    rows = []
    for name, draws, ml, se in (
        ("intercept (logit)", intercept, ML_REFERENCE["intercept"], ML_REFERENCE["intercept_se"]),
        ("share = expit(intercept)", expit(intercept), ML_REFERENCE["share"], np.nan),
        ("year SD (logit)", sigma, ML_REFERENCE["year_sd"], np.nan),
    ):
        summary = interval(draws)
        rows.append(
            {
                "parameter": name,
                "posterior_mean": summary["mean"],
                "posterior_sd": float(np.std(draws)),
                "hdi_lower": summary["hdi_lower"],
                "hdi_upper": summary["hdi_upper"],
                "ml_estimate": ml,
                "ml_se": se,
            }
        )
    return mark_controlled(pd.DataFrame(rows), _PUBLIC_RULES)


def year_shares(result: xr.DataTree, table: pd.DataFrame) -> pd.DataFrame:
    """Per year: the published share beside the partially pooled posterior share."""

    effects = group_effects(result).rename(columns={"share_mean": "posterior_share"})
    effects["year"] = effects["year"].astype(int)
    merged = table[["year", TRIALS, "verified_share"]].merge(
        effects[["year", "posterior_share", "share_hdi_lower", "share_hdi_upper"]], on="year"
    )
    return mark_controlled(merged, _PUBLIC_RULES, count_columns=[TRIALS])


def synthetic_verified_share(
    cases: pd.DataFrame, rules: DisclosureRules = DEFAULT_RULES
) -> pd.DataFrame:
    """Case files by closing year: (assisted + independent) / (assisted + independent +
    forced), controlled with :func:`~returnmodels.disclosure.control_shares`."""
    outcome = cases["outcome"].astype(str)
    verified = outcome.isin(["assisted_return", "independent_return"])
    demonstrable = verified | (outcome == "forced_return")
    counts = (
        pd.DataFrame(
            {
                "closing_year": cases["closing_year"].astype(int),
                "n_verified": verified.astype("int64"),
                "n_demonstrable": demonstrable.astype("int64"),
            }
        )
        .groupby("closing_year", sort=True)
        .sum()
        .reset_index()
    )
    return control_shares(counts, "n_verified", "n_demonstrable", rules, share="verified_share")


def plot_verified_shares(shares: pd.DataFrame, synthetic: pd.DataFrame | None = None, ax=None):
    """Published yearly shares, the model's partially pooled shares (94% HDI), the ML
    overall share, and (if given) the synthetic case files' share by closing year."""

    ax = ax or style.subplots("wide")[1]
    years = shares["year"].to_numpy()
    ax.axhline(
        ML_REFERENCE["share"],
        color=style.COLOURS["reference"],
        linestyle="--",
        label=f"ML overall share {ML_REFERENCE['share']:.3f} (glmer)",
    )
    model = style.COLOURS["model"]
    ax.vlines(years + 0.08, shares["share_hdi_lower"], shares["share_hdi_upper"], color=model)
    ax.plot(
        years + 0.08,
        shares["posterior_share"],
        "o",
        color=model,
        label="model: partially pooled share (94% HDI)",
    )
    ax.plot(
        years - 0.08,
        shares["verified_share"],
        "x",
        color=style.COLOURS["study"],
        ms=7,
        label="DT&V published share",
    )
    if synthetic is not None:
        shown = synthetic.dropna(subset=["verified_share"])
        ax.plot(
            shown["closing_year"],
            shown["verified_share"],
            "s",
            color=style.COLOURS["synthetic"],
            alpha=0.7,
            label="synthetic case files (controlled)",
        )
    ax.set(
        xlabel="year",
        ylabel="verified share of demonstrable departures",
        title="Verified (independent or assisted) share of demonstrable departures",
    )
    ax.set_xticks(years)
    style.percent_axis(ax.yaxis)
    ax.legend(loc="best")
    return ax

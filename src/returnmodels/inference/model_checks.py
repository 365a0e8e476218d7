"""Model checks beyond convergence: prior predictive checks and simulation-based calibration.

* :func:`prior_predictive_shares`: the overall assisted-return share each prior draw
  implies for the observed cells (``pm.sample_prior_predictive`` on a registered model):
  do the priors put their mass on plausible shares, or pile it up near 0% and 100%?
* Simulation-based calibration (Talts et al. 2018): draw parameters from the prior,
  simulate data, fit, and record the rank of each true value among (thinned) posterior
  draws. If the sampler and model are right, each parameter's ranks are uniform on
  ``0..L``. :func:`run_sbc` does this for a small varying-intercepts model,
  :math:`s_c \\sim \\operatorname{Binomial}(n, \\operatorname{logit}^{-1}(\\beta_0 +
  \\beta x_c + \\sigma \\epsilon_{j[c]}))`, compiled once by nutpie and re-used with new
  data in every replication; :func:`rank_statistic` and :func:`uniformity_test`
  (chi-square on binned ranks and Kolmogorov-Smirnov on fractional ranks) are generic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import nutpie
import pandas as pd
import pymc as pm
import seaborn as sns
from scipy import stats
from scipy.special import expit

from returnmodels.data.case_summary import assisted
from returnmodels.disclosure import DEFAULT_RULES, control_shares, mark_controlled
from returnmodels.inference.fit import build_model

__all__ = [
    "SBC_PRIORS",
    "SBCResult",
    "observed_share",
    "plot_prior_shares",
    "prior_share_summary",
    "plot_rank_histograms",
    "prior_predictive_shares",
    "rank_statistic",
    "run_sbc",
    "uniformity_test",
]


# -- prior predictive ------------------------------------------------------------------


def prior_predictive_shares(
    data: pd.DataFrame,
    model: str = "group_predictors",
    *,
    columns=None,
    priors: dict | None = None,
    draws: int = 500,
    random_seed: int = 0,
) -> pd.Series:
    """Per prior draw, the overall share of cases ending in assisted return that the
    model implies for the cells of ``data`` (case files; ``columns`` as for
    :func:`returnmodels.fit`); a Series indexed by draw."""

    pm_model, design, _ = build_model(data, model, columns=columns, priors=priors)
    with pm_model:
        prior = pm.sample_prior_predictive(draws=draws, random_seed=random_seed)
    simulated = prior["prior_predictive"][design.spec.response].to_numpy().reshape(draws, -1)
    shares = simulated.sum(axis=1) / design.trials.sum()
    return pd.Series(shares, index=pd.RangeIndex(draws, name="draw"), name="share")


def plot_prior_shares(shares: pd.Series, observed: float | None = None, ax=None):
    """Histogram of prior predictive shares, with the observed share as a line."""

    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    sns.histplot(shares, bins=40, binrange=(0, 1), ax=ax, color="C0")
    if observed is not None and np.isfinite(observed):
        ax.axvline(observed, color="C3", label=f"observed share {observed:.3f}")
        ax.legend(fontsize="small")
    ax.set(
        xlabel="overall share ending in assisted return (prior predictive)",
        ylabel="prior draws",
        title="Prior predictive check",
    )
    return ax


# -- simulation-based calibration ------------------------------------------------------


def rank_statistic(draws: np.ndarray, truth: float) -> int:
    """The number of posterior draws below the true value (0..len(draws))."""
    return int(np.sum(np.asarray(draws) < truth))


def uniformity_test(ranks: np.ndarray, n_draws: int, bins: int | None = None) -> dict:
    """Are ``ranks`` (each in ``0..n_draws``) uniform? Chi-square on ``bins`` equal bins
    (default: about five replications per bin, 2 to 20 bins) and Kolmogorov-Smirnov on
    the fractional ranks ``(r + 0.5) / (n_draws + 1)``; small p-values reject."""
    ranks = np.asarray(ranks, dtype=float)
    bins = bins or int(np.clip(len(ranks) // 5, 2, 20))
    counts, _ = np.histogram(ranks, bins=bins, range=(0, n_draws + 1))
    chi2 = stats.chisquare(counts)
    ks = stats.kstest((ranks + 0.5) / (n_draws + 1), "uniform")
    return {
        "bins": bins,
        "chi2": float(chi2.statistic),
        "chi2_p": float(chi2.pvalue),
        "ks": float(ks.statistic),
        "ks_p": float(ks.pvalue),
    }


#: The SBC model's priors; parameters are drawn from exactly these.
SBC_PRIORS: dict[str, dict] = {
    "Intercept": {"dist": "Normal", "mu": -1.5, "sigma": 1.0},
    "x": {"dist": "Normal", "mu": 0.0, "sigma": 1.0},
    "group_sigma": {"dist": "HalfNormal", "sigma": 1.0},
}


@dataclass
class SBCResult:
    """Ranks (one row per replication, one column per parameter), with ``n_draws`` the
    number of posterior draws each rank is taken among, and per-replication
    divergences."""

    ranks: pd.DataFrame
    n_draws: int
    divergences: list[int] = field(default_factory=list)

    def tests(self) -> pd.DataFrame:
        """:func:`uniformity_test` per parameter."""
        rows = {name: uniformity_test(self.ranks[name], self.n_draws) for name in self.ranks}
        return pd.DataFrame(rows).T.rename_axis("parameter")


def _sbc_model(n_groups: int, cells_per_group: int, trials: int):

    group = np.repeat(np.arange(n_groups), cells_per_group)
    x = np.tile(np.linspace(-1, 1, cells_per_group), n_groups)
    p = {k: {a: b for a, b in v.items() if a != "dist"} for k, v in SBC_PRIORS.items()}
    with pm.Model(coords={"group": range(n_groups), "cell": range(len(group))}) as model:
        observed = pm.Data("observed", np.zeros(len(group), dtype="int64"), dims="cell")
        intercept = pm.Normal("Intercept", **p["Intercept"])
        slope = pm.Normal("x", **p["x"])
        sigma = pm.HalfNormal("group_sigma", **p["group_sigma"])
        offset = pm.Normal("group_offset", 0, 1, dims="group")
        eta = intercept + slope * x + sigma * offset[group]
        pm.Binomial("y", n=trials, logit_p=eta, observed=observed, dims="cell")
    return model, group, x


def _simulate(rng, group, x, n_groups, trials) -> tuple[dict, np.ndarray]:
    p = SBC_PRIORS
    truth = {
        "Intercept": rng.normal(p["Intercept"]["mu"], p["Intercept"]["sigma"]),
        "x": rng.normal(p["x"]["mu"], p["x"]["sigma"]),
        "group_sigma": abs(rng.normal(0, p["group_sigma"]["sigma"])),
    }
    offsets = rng.normal(size=n_groups)
    eta = truth["Intercept"] + truth["x"] * x + truth["group_sigma"] * offsets[group]
    return truth, rng.binomial(trials, expit(eta))


def run_sbc(
    n_replications: int = 30,
    *,
    n_groups: int = 8,
    cells_per_group: int = 4,
    trials: int = 30,
    draws: int = 300,
    tune: int = 300,
    chains: int = 2,
    n_rank_draws: int = 99,
    random_seed: int = 0,
) -> SBCResult:
    """SBC of the small varying-intercepts model (module docstring): ``n_replications``
    data sets drawn from :data:`SBC_PRIORS`, each fitted with nutpie (compiled once),
    ranks taken among ``n_rank_draws`` evenly thinned posterior draws."""

    model, group, x = _sbc_model(n_groups, cells_per_group, trials)
    compiled = nutpie.compile_pymc_model(model, backend="numba")
    rng = np.random.default_rng(random_seed)
    rows, divergences = [], []
    for _ in range(n_replications):
        truth, y = _simulate(rng, group, x, n_groups, trials)
        fitted = nutpie.sample(
            compiled.with_data(observed=y),
            draws=draws,
            tune=tune,
            chains=chains,
            cores=1,
            seed=int(rng.integers(2**31)),
            progress_bar=False,
        )
        posterior = fitted["posterior"]
        keep = np.linspace(0, chains * draws - 1, n_rank_draws).round().astype(int)
        rows.append(
            {
                name: rank_statistic(posterior[name].to_numpy().reshape(-1)[keep], value)
                for name, value in truth.items()
            }
        )
        divergences.append(int(fitted["sample_stats"]["diverging"].sum()))
    return SBCResult(pd.DataFrame(rows).rename_axis("replication"), n_rank_draws, divergences)


def plot_rank_histograms(result: SBCResult, tests: pd.DataFrame | None = None):
    """One rank histogram per parameter, with the band a uniform histogram stays within
    99% of the time (binomial per bin) and the p-values in the titles."""

    tests = result.tests() if tests is None else tests
    names = list(result.ranks.columns)
    figure, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        bins = int(tests.loc[name, "bins"])
        n = len(result.ranks)
        low, high = stats.binom.ppf([0.005, 0.995], n, 1 / bins)
        ax.axhspan(low, high, color="0.85", label="99% band if uniform")
        ax.hist(
            result.ranks[name],
            bins=bins,
            range=(0, result.n_draws + 1),
            color="C0",
            edgecolor="white",
        )
        ax.set(
            title=f"{name}\nchi2 p={tests.loc[name, 'chi2_p']:.2f}, "
            f"KS p={tests.loc[name, 'ks_p']:.2f}",
            xlabel=f"rank (0..{result.n_draws})",
        )
        ax.title.set_fontsize(9)
    axes[0][0].set_ylabel("replications")
    axes[0][0].legend(fontsize="x-small")
    return axes[0][0]


def observed_share(cases: pd.DataFrame, rules=None) -> float:
    """The overall share of cases ending in assisted return, as published under
    ``rules`` (:func:`~returnmodels.disclosure.control_shares`; NaN if suppressed)."""

    frame = pd.DataFrame(
        {
            "n_assisted": [int(assisted(cases).sum())],
            "n_cases": [len(cases)],
        }
    )
    return float(control_shares(frame, "n_assisted", "n_cases", rules or DEFAULT_RULES)["share"][0])


def prior_share_summary(shares: pd.Series, rules=None) -> pd.DataFrame:
    """Quantiles of the prior predictive shares and the fraction of prior draws that put
    the overall share below 1% or above 99%; marked controlled (no counts)."""

    quantiles = shares.quantile([0.03, 0.25, 0.5, 0.75, 0.97])
    rows = {f"quantile_{q:.2f}": v for q, v in quantiles.items()}
    rows |= {
        "fraction_below_0.01": float((shares < 0.01).mean()),
        "fraction_above_0.99": float((shares > 0.99).mean()),
    }
    table = pd.DataFrame({"statistic": list(rows), "value": list(rows.values())})
    return mark_controlled(table, rules or DEFAULT_RULES)

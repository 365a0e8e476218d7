r"""Model checks beyond convergence: prior predictive checks and simulation-based calibration.

Both run on the sampler that fits every model, the formula engine
(:mod:`returnmodels.engine.graph`), for any formula and every registered model:

* :func:`prior_predictive_shares`: the overall assisted-return share each prior draw
  implies for the observed cells (:func:`~returnmodels.inference.prior_predictive.prior_predictive`:
  the engine with its likelihood weight at 0, as rstanarm's ``prior_PD``): do the priors
  put their mass on plausible shares, or pile it up near 0% and 100%?
* Simulation-based calibration (Talts et al. 2018): draw parameters from the prior
  (independently of the engine, :func:`~returnmodels.inference.prior_predictive.draw_prior`),
  simulate the cells' responses, fit them with the engine as :func:`returnmodels.fit`
  does (same adaptation and target acceptance rules), and record the rank of each true
  value among (thinned) posterior draws. If the engine's density, gradient, Cholesky
  layout and centring are right, each parameter's ranks are uniform on ``0..L``.
  :func:`run_sbc` does this for any binary formula (and stage 1 of the competing-outcomes
  family) on the cells of a data set; :func:`rank_statistic` and :func:`uniformity_test`
  (chi-square on binned ranks and Kolmogorov-Smirnov on fractional ranks) are generic.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import xarray as xr
from scipy import stats
from scipy.special import expit

from returnmodels.data.case_summary import assisted
from returnmodels.disclosure import DEFAULT_RULES, control_shares, mark_controlled
from returnmodels.engine.callbacks import compile_formula_model
from returnmodels.engine.design import FormulaDesign
from returnmodels.engine.integrated import unit_patterns
from returnmodels.engine.log_likelihood import stage_linear_predictor, stage_parameters
from returnmodels.errors import ConfigError
from returnmodels.inference.fit import CORRELATED_TARGET_ACCEPT, engine_design, sample_compiled
from returnmodels.inference.prior_predictive import draw_prior, prior_predictive

__all__ = [
    "SBCResult",
    "observed_share",
    "plot_prior_shares",
    "prior_share_summary",
    "plot_rank_histograms",
    "prior_predictive_shares",
    "rank_statistic",
    "run_sbc",
    "scalar_parameters",
    "uniformity_test",
]


# -- prior predictive ------------------------------------------------------------------


def prior_predictive_shares(
    data: pd.DataFrame,
    model: str = "group_predictors",
    *,
    formula: str | None = None,
    reference: dict | None = None,
    columns=None,
    priors: dict | None = None,
    draws: int = 500,
    random_seed: int = 0,
) -> pd.Series:
    """Per prior draw, the overall share of cases ending in assisted return that
    registered ``model`` or ``formula`` implies for the cells of ``data`` (arguments as
    :func:`returnmodels.fit`); ``draws`` draws of the engine's prior (two chains); a
    Series indexed by draw."""
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 1:
        raise ConfigError(f"draws must be a whole number >= 1, got {draws!r}")
    per_chain = -(-int(draws) // 2)
    tree = prior_predictive(
        data, model, formula=formula, reference=reference, priors=priors, columns=columns,
        draws=per_chain, tune=max(per_chain, 300), chains=2, random_seed=random_seed,
    )  # fmt: skip
    response = next(iter(tree["observed_data"].data_vars))
    simulated = tree["prior_predictive"][response].to_numpy()
    simulated = simulated.reshape(-1, simulated.shape[-1])[:draws]
    shares = simulated.sum(axis=1) / tree["constant_data"]["trials"].to_numpy().sum()
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

    def long_ranks(self) -> pd.DataFrame:
        """The ranks one row per replication and parameter (columns replication,
        parameter, rank): parameters as values, not as column names, so that a name
        such as ``n_procedures`` is not read as a count column."""
        ranks = self.ranks.rename_axis(columns="parameter").stack().rename("rank")
        return ranks.reset_index()[["replication", "parameter", "rank"]]


def scalar_parameters(draws: xr.Dataset, include_effects: bool = False) -> dict[str, np.ndarray]:
    """Every scalar of a binary design's draws, flattened over (chain, draw): each
    coefficient (``cooperation[high]``), SD and correlation, and with
    ``include_effects`` every group effect (``nationality_effect[SYR]``)."""
    out = {}
    for name, var in draws.data_vars.items():
        if name.endswith("_effect") and not include_effects:
            continue
        values = var.stack(sample=("chain", "draw")).transpose("sample", ...)
        other = [d for d in values.dims if d != "sample"]
        if not other:
            out[name] = values.to_numpy()
            continue
        (dim,) = other
        for label in values[dim].to_numpy():
            out[f"{name}[{label}]"] = values.sel({dim: label}).to_numpy()
    return out


def _simulated(design: FormulaDesign, truth: xr.Dataset, rng) -> FormulaDesign:
    """``design`` with its responses drawn from the model at ``truth`` (one draw). With
    an integrated intercept (persons) every unit of every outcome pattern keeps its
    cells, gets its own effect :math:`v \\sim N(0, \\sigma^2)` at the true SD and its
    cases' outcomes drawn given it; the new outcomes are collapsed into patterns again."""
    beta, effects = stage_parameters(truth, design)
    eta = stage_linear_predictor(design, beta, effects, slice(0, 1))[0, 0, :, 0]
    term = design.integrated
    if term is None:
        return replace(design, successes=rng.binomial(design.trials.astype(np.int64), expit(eta)))
    sigma = float(truth[term.sigma_name].values.ravel()[0])
    counts = np.asarray(term.pattern_count, dtype=np.int64)
    entries = np.split(np.asarray(term.entry_cell), np.flatnonzero(np.diff(term.entry_pattern)) + 1)
    cells = np.concatenate([np.tile(c, n) for c, n in zip(entries, counts, strict=True)])
    first_unit = np.concatenate([[0], np.cumsum(counts)[:-1]])  # of each pattern
    units = np.concatenate(
        [
            start + np.repeat(np.arange(n), len(c))
            for c, n, start in zip(entries, counts, first_unit, strict=True)
        ]
    )
    person = rng.normal(0.0, sigma, units.max() + 1)
    y = rng.random(len(cells)) < expit(eta[cells] + person[units])
    entry_cell, entry_y, entry_pattern, pattern_count = unit_patterns(cells, y, units)
    simulated = replace(
        term,
        entry_cell=entry_cell,
        entry_y=entry_y,
        entry_pattern=entry_pattern,
        pattern_count=pattern_count,
    )
    successes = np.bincount(cells, weights=y, minlength=design.n_cells).astype(np.int64)
    return replace(design, integrated=simulated, successes=successes)


def run_sbc(
    data: pd.DataFrame,
    model: str = "group_predictors",
    n_replications: int = 30,
    *,
    formula: str | None = None,
    reference: dict | None = None,
    priors: dict | None = None,
    columns=None,
    draws: int = 300,
    tune: int = 300,
    chains: int = 2,
    n_rank_draws: int = 99,
    parameters: list[str] | None = None,
    random_seed: int = 0,
) -> SBCResult:
    """SBC of registered ``model`` or ``formula`` on the engine (module docstring), on
    the cells of ``data`` (their predictors and numbers of cases; the responses are
    simulated): ``n_replications`` true values drawn from the priors, each data set
    fitted with ``chains`` x ``draws`` after ``tune``, ranks among ``n_rank_draws``
    evenly thinned draws. ``parameters`` (default: every coefficient, SD and
    correlation, :func:`scalar_parameters`) names what is ranked. The competing-outcomes
    family is calibrated on its stage 1 (uptake): the stages share no parameter."""
    design = engine_design(
        data, model, formula=formula, reference=reference, priors=priors, columns=columns
    )[0]
    if n_rank_draws >= chains * draws:
        raise ConfigError(f"n_rank_draws ({n_rank_draws}) must be below chains x draws")
    rng = np.random.default_rng(random_seed)
    curved = any(block.correlated for block in design.blocks)
    rows, divergences = [], []
    for _ in range(n_replications):
        truth = draw_prior(design, 1, rng)
        compiled = compile_formula_model(_simulated(design, truth, rng))
        fitted = sample_compiled(
            compiled, draws=draws, tune=tune, chains=chains, random_seed=int(rng.integers(2**31)),
            target_accept=CORRELATED_TARGET_ACCEPT if curved else 0.8,
        )  # fmt: skip
        true_values = {k: float(v[0]) for k, v in scalar_parameters(truth, True).items()}
        posterior = scalar_parameters(fitted["posterior"].to_dataset(), True)
        names = parameters or list(scalar_parameters(truth))
        unknown = sorted(set(names) - set(true_values))
        if unknown:
            raise ConfigError(f"unknown SBC parameter(s) {unknown}; known: {sorted(true_values)}")
        keep = np.linspace(0, chains * draws - 1, n_rank_draws).round().astype(int)
        rows.append({n: rank_statistic(posterior[n][keep], true_values[n]) for n in names})
        divergences.append(int(fitted["sample_stats"]["diverging"].sum()))
    return SBCResult(pd.DataFrame(rows).rename_axis("replication"), n_rank_draws, divergences)


def plot_rank_histograms(result: SBCResult, tests: pd.DataFrame | None = None):
    """One rank histogram per parameter, with the band a uniform histogram stays within
    99% of the time (binomial per bin) and the p-values in the titles."""

    tests = result.tests() if tests is None else tests
    names = list(result.ranks.columns)
    columns = min(len(names), 4)
    rows = -(-len(names) // columns)
    _, grid = plt.subplots(
        rows, columns, figsize=(3.6 * columns, 3 * rows), squeeze=False, layout="constrained"
    )
    axes = grid.ravel()
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    for ax, name in zip(axes, names, strict=False):
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
    for row in grid:
        row[0].set_ylabel("replications")
    axes[0].legend(fontsize="x-small")
    return axes[0]


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

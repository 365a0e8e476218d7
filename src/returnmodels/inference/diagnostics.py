"""The convergence gate: every fit gets a pass/fail verdict with its figures.

Thresholds (:data:`THRESHOLDS`), checked over every sampled and derived parameter
that is not per cell:

* rank-normalised split R-hat <= 1.01 (Vehtari et al. 2021);
* bulk ESS >= 400 and tail ESS >= 400 (100 per chain with 4 chains);
* no divergent transitions;
* E-BFMI >= 0.3 in every chain.

A failing verdict is shown wherever the fit is: ``diagnostics.json``, the summary
tables (:func:`verdict_line`), plots and notebooks. It is never dropped. A
:class:`Verdict` prints as one line with its figures (``str(verdict)``,
``verdict.line``); ``verdict.label`` is ``PASS`` or ``FAIL`` alone, what tables and
files compare against.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.errors import ConfigError
from returnmodels.inference.mcmc_stats import diagnostics_table

__all__ = [
    "THRESHOLDS",
    "VERDICT_ATTR",
    "Verdict",
    "check_convergence",
    "verdict_label",
    "verdict_advice",
    "verdict_figures",
    "verdict_line",
    "verdict_of",
]

#: The attribute of a fit's DataTree that holds its verdict (JSON).
VERDICT_ATTR = "returnmodels_verdict"

#: The gate's thresholds.
THRESHOLDS: dict[str, float] = {
    "r_hat_max": 1.01,
    "ess_bulk_min": 400,
    "ess_tail_min": 400,
    "divergences_max": 0,
    "bfmi_min": 0.3,
}


@dataclass(repr=False)
class Verdict:
    """``passed`` and the figures behind it; ``failures`` says what failed, in words.

    It prints as one line (``str``, ``repr``, :attr:`line`): ``PASS`` or ``FAIL`` with
    every figure, and for a failure what failed; :attr:`label` is ``PASS`` or ``FAIL``
    alone."""

    passed: bool
    r_hat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    divergences: int
    bfmi_min: float
    worst: dict[str, str]
    failures: list[str] = field(default_factory=list)
    thresholds: dict[str, float] = field(default_factory=lambda: dict(THRESHOLDS))
    #: What to try when it fails, one line per failure kind (:func:`advice_for`).
    advice: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, verdict: Mapping) -> Verdict:
        """The verdict a result stores (:func:`verdict_of`); fields an older result
        lacks (``thresholds``, ``advice``) take their defaults."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in verdict.items() if k in known})

    @property
    def label(self) -> str:
        """``PASS`` or ``FAIL``, without the figures (:attr:`line` has them)."""
        return "PASS" if self.passed else "FAIL"

    @property
    def line(self) -> str:
        """``PASS: max R-hat 1.004, ...`` or ``FAIL: <the figures>; failed: <what>``."""
        figures = verdict_figures(self)
        if self.passed:
            return f"PASS: {figures}"
        return f"FAIL: {figures}; failed: {'; '.join(self.failures)}"

    def __str__(self) -> str:
        return f"convergence {self.line}"

    __repr__ = __str__


def _gated(posterior: xr.Dataset) -> xr.Dataset:
    keep = [name for name, var in posterior.data_vars.items() if "cell" not in var.dims]
    return posterior[keep]


def _extreme(table: pd.DataFrame, column: str, worst: str) -> tuple[float, str]:
    """The worst finite value of ``column`` over every parameter element, and the
    variable it belongs to (the first such variable on a tie)."""
    values = table[column].to_numpy(float)
    finite = np.isfinite(values)
    if not finite.any():
        return float("nan"), ""
    if worst == "max":
        at = int(np.argmax(np.where(finite, values, -np.inf)))
    else:
        at = int(np.argmin(np.where(finite, values, np.inf)))
    return float(values[at]), str(table["variable"].iloc[at])


def check_convergence(result: xr.DataTree, thresholds: dict | None = None) -> Verdict:
    """R-hat, bulk and tail ESS, divergences and E-BFMI against ``thresholds``."""
    limits = THRESHOLDS | (thresholds or {})
    posterior = _gated(result["posterior"].to_dataset())
    table = diagnostics_table(posterior)  # az.rhat and az.ess, every parameter at once
    r_hat, r_name = _extreme(table, "r_hat", "max")
    bulk, b_name = _extreme(table, "ess_bulk", "min")
    tail, t_name = _extreme(table, "ess_tail", "min")
    divergences, bfmi = 0, np.inf
    for group in _sampler_groups(result):  # one per separately sampled stage
        stats = result[group].to_dataset()
        divergences += int(stats["diverging"].sum()) if "diverging" in stats else 0
        bfmi = min(bfmi, _bfmi(stats))
    failures = []
    chains = posterior.sizes.get("chain", 0)
    if chains < 2:  # ArviZ gives NaN: R-hat compares chains
        failures.append(
            f"{chains} chain: R-hat is undefined (it compares chains); sample 2 or more "
            "chains (chains=4, --chains 4)"
        )
    elif not r_hat <= limits["r_hat_max"]:
        failures.append(f"R-hat {r_hat:.3f} > {limits['r_hat_max']} ({r_name})")
    if not bulk >= limits["ess_bulk_min"]:
        failures.append(f"bulk ESS {bulk:.0f} < {limits['ess_bulk_min']} ({b_name})")
    if not tail >= limits["ess_tail_min"]:
        failures.append(f"tail ESS {tail:.0f} < {limits['ess_tail_min']} ({t_name})")
    if divergences > limits["divergences_max"]:
        failures.append(f"{divergences} divergent transitions")
    if not bfmi >= limits["bfmi_min"]:
        failures.append(f"E-BFMI {bfmi:.2f} < {limits['bfmi_min']}")
    worst = {"r_hat": r_name, "ess_bulk": b_name, "ess_tail": t_name}
    advice = advice_for(failures, worst, divergences, posterior)
    return Verdict(
        not failures, r_hat, bulk, tail, divergences, bfmi, worst, failures, dict(limits), advice
    )


def advice_for(failures: list[str], worst: dict, divergences: int, posterior) -> list[str]:
    """What to try for each kind of failure, naming the parameter that failed worst."""
    advice = []
    if divergences:
        scales = [n for n in posterior.data_vars if n.endswith("_sigma")]
        small = [
            n for n in scales if posterior[n].size and int(np.prod(posterior[n].shape[2:])) == 1
        ]
        advice.append(
            "divergences: raise target_accept (0.95, --target-accept 0.95); if a group has "
            "few levels, give its SD a tighter prior (priors={'<group>_sigma': {'sigma': 0.5}})"
            + (f"; SDs here: {', '.join(small[:6])}" if small else "")
        )
    if any(f.startswith(("R-hat", "bulk ESS", "tail ESS")) for f in failures):
        name = worst.get("ess_bulk") or worst.get("r_hat")
        advice.append(
            f"R-hat/ESS ({name}): run longer (draws and tune 2000); a variance component "
            "near zero (a slope SD) mixes slowly: drop that varying term or give it a "
            "tighter prior; adaptation='low_rank' helps correlated parameters"
        )
    if any(f.startswith("E-BFMI") for f in failures):
        advice.append(
            "E-BFMI: the sampler cannot move the scale parameters; a tighter prior on the "
            "group SDs, or fewer varying terms, usually helps"
        )
    return advice


def _sampler_groups(result: xr.DataTree) -> list[str]:
    """``sample_stats``, and ``sample_stats_<stage>`` of models sampled in stages."""
    return sorted(name for name in result.children if name.startswith("sample_stats"))


def _bfmi(stats: xr.Dataset) -> float:
    """Smallest E-BFMI over chains (NaN without energy), by ArviZ."""
    if "energy" not in stats:
        return float("nan")
    per_chain = az.bfmi(xr.DataTree.from_dict({"sample_stats": stats}))["energy"]
    return float(np.min(np.asarray(per_chain)))


def verdict_figures(verdict: Mapping | Verdict) -> str:
    """The gate's figures in words: ``max R-hat 1.004, min bulk ESS 812, ...``."""
    v = verdict.to_dict() if isinstance(verdict, Verdict) else verdict
    return (
        f"max R-hat {v['r_hat_max']:.3f}, min bulk ESS {v['ess_bulk_min']:.0f}, "
        f"min tail ESS {v['ess_tail_min']:.0f}, {v['divergences']} divergences, "
        f"min E-BFMI {v['bfmi_min']:.2f}"
    )


def verdict_line(verdict: dict | Verdict) -> str:
    """One line for tables, plots and notebooks: ``CONVERGENCE: PASS (...)``."""
    v = verdict.to_dict() if isinstance(verdict, Verdict) else verdict
    figures = verdict_figures(v)
    if v["passed"]:
        return f"CONVERGENCE: PASS ({figures})"
    return f"CONVERGENCE: FAIL - do not use these estimates ({'; '.join(v['failures'])})"


def verdict_advice(verdict: dict | Verdict) -> str:
    """What to try, for a failing verdict (empty for a passing one or an old result)."""
    v = verdict.to_dict() if isinstance(verdict, Verdict) else verdict
    advice = v.get("advice") or []
    return "" if v["passed"] or not advice else "what to try:\n  " + "\n  ".join(advice)


def verdict_of(result: xr.DataTree) -> dict:
    """The convergence verdict stored on a fit (:data:`VERDICT_ATTR`)."""
    try:
        return json.loads(result.attrs[VERDICT_ATTR])
    except KeyError:
        raise ConfigError(f"not a returnmodels result: attribute {VERDICT_ATTR} missing") from None


def verdict_label(verdict: Mapping) -> str:
    """``PASS`` or ``FAIL``: how every table, file and figure names a verdict."""
    return "PASS" if verdict["passed"] else "FAIL"

"""Group (nationality) effects: partially pooled shares, contrasts, unseen groups.

* :func:`group_effects`: per group, the raw share (successes / trials) beside the
  model's partially pooled share (the group's cases, predicted with its own effect:
  shrunk towards what its predictors imply) and the group effect on the logit scale.
* :func:`contrast`: group ``a`` versus group ``b``, counterfactually: every case gets
  group ``a`` (with its group-level predictors), then ``b``; the difference of the
  average predicted shares per draw, and the odds ratio of the two group intercepts.
* :func:`predict_new_group`: a group not in the data, by an explicit choice:
  ``"population"`` (no group deviation) or ``"sample"`` (a new deviation drawn from the
  fitted group distribution, which widens the interval honestly).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.errors import ConfigError
from returnmodels.models.design import Design
from returnmodels.models.prediction import predict_eta, stacked
from returnmodels.summaries._draws import HDI_PROB, interval, posterior_of, weighted_mean
from returnmodels.summaries.formula import (
    formula_contrast,
    formula_group_effects,
    formula_new_group,
    is_formula_fit,
)

__all__ = ["contrast", "group_effects", "predict_new_group"]


def group_effects(
    result: xr.DataTree, *, group: str | None = None, prob: float = HDI_PROB
) -> pd.DataFrame:
    """One row per group: group, n, raw_share, share (mean, hdi), effect (mean, hdi).
    A formula fit takes any of its group factors as ``group`` (default: its first;
    :func:`~returnmodels.summaries.formula.formula_group_effects`)."""
    if is_formula_fit(result):
        return formula_group_effects(result, group=group, prob=prob)
    design = Design.from_result(result)
    if group not in (None, design.group):
        raise ConfigError(f"unknown group {group!r}; this model's group is {design.group!r}")
    posterior = posterior_of(result)
    g = design.group
    effect_name = f"{g}_effect"
    if effect_name not in posterior:
        raise ConfigError(f"model {result.attrs.get('returnmodels_model')!r} has no {g} effects")
    effects = stacked(posterior, effect_name)
    index = design.group_index()
    rows = []
    for j, group in enumerate(design.groups):
        mask = index == j
        cells = design.cells[mask]
        trials = design.trials[mask]
        share = weighted_mean(posterior, design, cells, trials)[:, 0]
        row = {
            g: group,
            "n": int(trials.sum()),
            "raw_share": design.successes[mask].sum() / trials.sum(),
        }
        row |= {f"share_{k}": v for k, v in interval(share, prob).items()}
        row |= {f"effect_{k}": v for k, v in interval(effects[:, j], prob).items()}
        rows.append(row)
    return pd.DataFrame(rows)


def _as_group(design: Design, group: str) -> pd.DataFrame:
    if group not in design.groups:
        raise ConfigError(f"{design.group} {group!r} is not in the fitted data")
    frame = design.cells.copy()
    frame[design.group] = group
    row = design.group_table.set_index(design.group).loc[group]
    for term in design.group_terms:
        frame[term.name] = row[term.name]
    return frame


def contrast(
    result: xr.DataTree, a: str, b: str, *, group: str | None = None, prob: float = HDI_PROB
) -> pd.DataFrame:
    """Group ``a`` vs ``b``: difference in average predicted share (0-1 scale, all cases
    set to each group in turn) and the odds ratio of their group intercepts (group
    predictors included). One row per measure, with mean, HDI and P(> 0 or > 1).
    A formula fit takes any of its group factors as ``group`` (default: its first)."""
    if is_formula_fit(result):
        return formula_contrast(result, a, b, group=group, prob=prob)
    design = Design.from_result(result)
    posterior = posterior_of(result)
    share = [
        weighted_mean(posterior, design, _as_group(design, x), design.trials)[:, 0] for x in (a, b)
    ]
    diff = share[0] - share[1]
    intercepts = []
    for x in (a, b):
        frame = _as_group(design, x).iloc[:1].copy()
        for term in design.terms:  # same case-level values for both: they cancel
            frame[term.name] = design.cells[term.name].iloc[0]
        intercepts.append(predict_eta(posterior, design, frame)[:, 0])
    ratio = np.exp(intercepts[0] - intercepts[1])
    return pd.DataFrame(
        [
            {
                "measure": "share_difference",
                "a": a,
                "b": b,
                **interval(diff, prob),
                "p_positive": float(np.mean(diff > 0)),
            },
            {
                "measure": "odds_ratio",
                "a": a,
                "b": b,
                **interval(ratio, prob),
                "p_positive": float(np.mean(ratio > 1)),
            },
        ]
    )


def predict_new_group(
    result: xr.DataTree,
    group_values: dict | None = None,
    *,
    new_groups: str,
    group: str | None = None,
    random_seed: int | None = None,
    prob: float = HDI_PROB,
) -> pd.DataFrame:
    """Average predicted share over all cases for a group not in the data.

    ``group_values`` gives its group-level predictors (e.g. ``{"cooperation": "high"}``;
    required when the model has any). ``new_groups`` must be named: ``"population"`` or
    ``"sample"`` (see the module docstring). A formula fit takes any of its group
    factors as ``group``.
    """
    if is_formula_fit(result):
        return formula_new_group(
            result, group_values, new_groups=new_groups, group=group,
            random_seed=random_seed, prob=prob,
        )  # fmt: skip
    if new_groups not in ("population", "sample"):
        raise ConfigError(f"new_groups must be 'population' or 'sample', got {new_groups!r}")
    design = Design.from_result(result)
    frame = design.cells.copy()
    frame[design.group] = "__new__"
    missing = [t.name for t in design.group_terms if t.name not in (group_values or {})]
    if missing:
        raise ConfigError(f"give the new group's group-level predictor(s) {missing}")
    for name, value in (group_values or {}).items():
        design.term(name)
        frame[name] = value
    draws = weighted_mean(
        posterior_of(result),
        design,
        frame,
        design.trials,
        new_groups=new_groups,
        random_seed=random_seed,
    )
    return pd.DataFrame(
        [{"new_groups": new_groups, **(group_values or {}), **interval(draws[:, 0], prob)}]
    )

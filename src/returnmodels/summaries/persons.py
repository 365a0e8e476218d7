r"""What ignoring persons costs: a fit with an integrated person effect beside the same
model fitted as if every case were a different person.

With a person effect :math:`v_i \sim N(0, \tau^2)` the model is

.. math::

    \Pr(y_{ij} = 1 \mid v_i) = \operatorname{logit}^{-1}(\eta_{ij} + v_i),

so its coefficients are *conditional*: they compare cases of one person (or of persons
alike in :math:`v`). The share of cases at a setting, what the study publishes, is the
average over persons, :math:`\int \operatorname{logit}^{-1}(\eta + v)\,\phi(v/\tau)/\tau
\,dv`; a model without persons estimates that average directly, and its coefficients are
the *population-averaged* ones, closer to 0 (for a logistic model by about
:math:`1/\sqrt{1 + 0.346\,\tau^2}`; Zeger, Liang and Albert 1988). The two models
should agree on the shares; they differ in

* the coefficients' scale: the person model's procedures slope is steeper, and it is
  the one that separates selection (persons who stay long being different persons)
  from change within a person;
* the intervals: cases of one person share :math:`v_i`, so 118,000 cases carry less
  information than 118,000 persons would; the model without persons treats them as
  independent and its intervals are too narrow wherever persons repeat.

:func:`persons_comparison` sets the two side by side: the person SD, the procedures
coefficient of each (conditional and population-averaged), and the margins of each
(population-averaged, so comparable) with the ratio of their interval widths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.engine.design import FormulaDesign
from returnmodels.errors import ConfigError
from returnmodels.summaries._draws import HDI_PROB, interval
from returnmodels.summaries.formula import integrated_factor
from returnmodels.summaries.margins import margins

__all__ = ["DEFAULT_SETTINGS", "persons_comparison"]

#: The study's settings: its headline margins.
DEFAULT_SETTINGS: dict[str, list] = {
    "n_procedures": [1, 3, 6],
    "cooperation": ["low", "medium", "high"],
}

_COLUMNS = [
    "quantity",
    "predictor",
    "value",
    "without_mean",
    "without_lower",
    "without_upper",
    "with_mean",
    "with_lower",
    "with_upper",
    "width_ratio",
]


def persons_comparison(
    with_persons: xr.DataTree,
    without_persons: xr.DataTree,
    settings: Mapping[str, Sequence] | None = None,
    *,
    slope: str = "n_procedures",
    prob: float = HDI_PROB,
) -> pd.DataFrame:
    """One row per quantity, the fit without persons beside the fit with them (mean and
    ``prob`` HDI of each) and ``width_ratio``, the width of the interval with persons
    over that without:

    * ``person_sd``: the person SD (with persons only);
    * ``coefficient``: ``slope``'s coefficient, population-averaged without persons and
      conditional on the person with them (module docstring: not the same quantity);
    * ``margin``: the share of cases at each of ``settings`` (default
      :data:`DEFAULT_SETTINGS`, the variables of both formulas only), averaged over
      persons in the person fit, so the two estimate the same share.

    ``with_persons`` must integrate a person effect and ``without_persons`` not."""
    factor = integrated_factor(with_persons)
    if factor is None:
        raise ConfigError("with_persons has no integrated (1 | person) term")
    if integrated_factor(without_persons) is not None:
        raise ConfigError("without_persons integrates a person effect too")
    sigma = with_persons["posterior"][f"{factor}_sigma"].values.ravel()
    rows = [_row("person_sd", factor, "", None, interval(sigma, prob))]
    if slope in with_persons["posterior"] and slope in without_persons["posterior"]:
        without, with_ = (
            interval(fit["posterior"][slope].values.ravel(), prob)
            for fit in (without_persons, with_persons)
        )
        rows.append(_row("coefficient", slope, "", without, with_))
    settings = _shared_settings(with_persons, without_persons, settings)
    if settings:
        averaged = margins(with_persons, settings, prob=prob).set_index(["predictor", "value"])
        independent = margins(without_persons, settings, prob=prob).set_index(
            ["predictor", "value"]
        )
        for (predictor, value), row in independent.iterrows():
            rows.append(_row("margin", predictor, value, row, averaged.loc[(predictor, value)]))
    return pd.DataFrame(rows, columns=_COLUMNS)


def _row(quantity: str, predictor: str, value, without, with_) -> dict:
    """One row of the table from the two fits' summaries (``mean``, ``hdi_lower``,
    ``hdi_upper``; ``without`` None where the fit without persons has no such quantity)."""
    found = {"quantity": quantity, "predictor": predictor, "value": value}
    for side, summary in (("without", without), ("with", with_)):
        for key, column in (("mean", "mean"), ("lower", "hdi_lower"), ("upper", "hdi_upper")):
            found[f"{side}_{key}"] = np.nan if summary is None else float(summary[column])
    found["width_ratio"] = (found["with_upper"] - found["with_lower"]) / (
        found["without_upper"] - found["without_lower"]
    )
    return found


def _shared_settings(with_persons, without_persons, settings) -> dict:
    """``settings`` (default :data:`DEFAULT_SETTINGS`) kept to the variables both fits'
    formulas have."""
    wanted = DEFAULT_SETTINGS if settings is None else settings
    fits = (with_persons, without_persons)
    columns = [set(FormulaDesign.from_result(fit).cells.columns) for fit in fits]
    return {k: list(v) for k, v in wanted.items() if all(k in c for c in columns)}

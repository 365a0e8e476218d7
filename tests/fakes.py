"""Fake fits: DataTrees shaped like a fit, with draws made up, that need no sampler.

:func:`fake_fit` builds the term table of real cells (the formula the
``varying_intercepts`` preset writes for them) and a posterior of its shape
(``Intercept``, ``n_procedures``, ``nationality_effect``, ``nationality_sigma``) from a
seeded RNG, with the attributes a fit carries. Summaries and report functions read it like a fit.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr

from returnmodels.disclosure.posterior import SUPPORT_GROUP, support_dataset
from returnmodels.engine.design import build_formula_design
from returnmodels.engine.result import cells_dataset
from returnmodels.inference.results import stamp
from returnmodels.models import column_spec
from returnmodels.models.presets import preset_call
from returnmodels.models.support import support_table

CHAINS, DRAWS = 2, 50
PASSED = {
    "passed": True,
    "r_hat_max": 1.0,
    "ess_bulk_min": 1000.0,
    "ess_tail_min": 1000.0,
    "divergences": 0,
    "bfmi_min": 1.0,
    "worst": {},
    "failures": [],
}


def fake_cases(sizes: dict[str, int], *, random_seed: int = 0) -> pd.DataFrame:
    """Case rows, ``sizes[nationality]`` of each, with procedures 1-4 and a share of
    about 30% assisted return (exactly the first 30% of each nationality's rows)."""
    rng = np.random.default_rng(random_seed)
    rows = []
    for nationality, n in sizes.items():
        assisted = np.arange(n) < round(0.3 * n)
        for i in range(n):
            rows.append(
                {
                    "nationality": nationality,
                    "n_procedures": int(rng.integers(1, 5)),
                    "outcome": "assisted_return" if assisted[i] else "legal_stay",
                    "cooperation": "high" if nationality < "M" else "low",
                }
            )
    return pd.DataFrame(rows)


def fake_formula_rows(rng: np.random.Generator, n: int = 500) -> pd.DataFrame:
    """Rows for fake formula fits: a 0/1 ``y``, ``x`` from 1 to 4, eight groups ``g`` and
    their group-level ``coop`` (``low`` in g0-g3, ``high`` in g4-g7), drawn from ``rng``."""
    g = rng.integers(0, 8, n)
    return pd.DataFrame(
        {
            "y": rng.integers(0, 2, n),
            "x": rng.integers(1, 5, n),
            "g": [f"g{i}" for i in g],
            "coop": np.where(g < 4, "low", "high"),
        }
    )


def fake_formula_fit(design, formula: str, posterior: xr.Dataset) -> xr.DataTree:
    """A formula fit of ``design`` (:func:`build_formula_design` of ``formula``) with the
    made-up ``posterior``: the groups and attributes summaries read."""
    config = {"model": "formula", "formula": formula, "reference": design.references,
              "priors": design.priors, "sampling": {}}  # fmt: skip
    tree = xr.DataTree.from_dict(
        {
            "posterior": posterior,
            "observed_data": xr.Dataset({design.response: ("cell", design.successes)}),
            "constant_data": cells_dataset(design),
        }
    )
    tree.attrs |= {
        "returnmodels_model": "formula",
        "returnmodels_config": json.dumps(config),
        "returnmodels_design": json.dumps(design.describe()),
    }
    return tree


def fake_fit(sizes: dict[str, int], *, random_seed: int = 0) -> xr.DataTree:
    """A fake ``varying_intercepts`` fit of :func:`fake_cases` with ``n_procedures`` as
    its one predictor (module docstring): the formula its preset writes, made-up draws."""
    cases = fake_cases(sizes, random_seed=random_seed)
    spec = column_spec(predictors=["n_procedures"], group_predictors=[])
    call = preset_call("varying_intercepts", spec, cases)
    design = build_formula_design(cases, call.formula, reference=call.reference, priors=call.priors)
    rng = np.random.default_rng(random_seed)
    groups = list(design.blocks[0].levels)
    shape = (CHAINS, DRAWS)
    posterior = xr.Dataset(
        {
            "Intercept": (("chain", "draw"), rng.normal(-0.85, 0.05, shape)),
            "n_procedures": (("chain", "draw"), rng.normal(-0.1, 0.02, shape)),
            "nationality_sigma": (("chain", "draw"), np.abs(rng.normal(0.5, 0.05, shape))),
            "nationality_effect": (
                ("chain", "draw", "nationality"),
                rng.normal(0.0, 0.3, (*shape, len(groups))),
            ),
        },
        coords={"chain": np.arange(CHAINS), "draw": np.arange(DRAWS), "nationality": groups},
    )
    tree = xr.DataTree.from_dict(
        {
            "posterior": posterior,
            "observed_data": xr.Dataset({design.response: ("cell", design.successes)}),
            "constant_data": cells_dataset(design),
        }
    )
    tree[SUPPORT_GROUP] = support_dataset(support_table(design))
    config = {"model": "varying_intercepts", "formula": call.formula,
              "reference": design.references, "priors": design.priors,
              "sampling": {"random_seed": random_seed}}  # fmt: skip
    stamp(tree, "varying_intercepts", config, "0" * 64)
    tree.attrs["returnmodels_design"] = json.dumps(design.describe())
    tree.attrs["returnmodels_verdict"] = json.dumps(PASSED)
    return tree

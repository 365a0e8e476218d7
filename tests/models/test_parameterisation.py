"""Mixed centred / non-centred group effects: which groups, and that it is one model.

The centred and non-centred forms are a change of variables, a_j = mu_j + sigma eps_j,
so at matching points the log densities differ by exactly the Jacobian
sum_j log sigma (per outcome in the competing stage; sigma = L00 in ``varying_slopes``).
"""

from __future__ import annotations

import numpy as np
import pytest

import returnmodels.models.linear as linear
from returnmodels.inference.fit import build_model
from returnmodels.models.design import Design


def _design(groups: list[str], successes: list[int], trials: list[int]) -> Design:
    import pandas as pd

    from returnmodels.models import column_spec
    from returnmodels.models.design import build_design

    frame = pd.DataFrame({"g": groups, "s": successes, "n": trials, "x": 0.0})
    spec = column_spec(successes="s", trials="n", group="g", predictors=["x"], numeric=["x"])
    return build_design(frame, spec)


def test_groups_are_centred_only_where_their_own_counts_are_informative():
    design = _design(
        ["big", "big", "none", "small", "rare"], [300, 200, 0, 2, 3], [2000, 1000, 900, 6, 2000]
    )
    counts = linear.binary_counts(design)
    centred = dict(zip(design.groups, linear.centred_groups(design, counts, 0), strict=True))
    # big: 500 of 3000, variance 1/500 + 1/2500; none: no successes at all, only the prior
    # bounds it; small: 6 cases; rare: 3 successes, variance about 0.29 > 0.25.
    assert centred == {"big": True, "none": False, "small": False, "rare": False}


def test_competing_stage_centres_on_the_least_informative_outcome():
    design = _design(["a", "b"], [1, 1], [2, 2])  # one cell per group
    counts = np.array([[100, 80, 60], [400, 0, 300]])  # b: no cases of outcome 1
    centred = linear.centred_groups(design, counts, reference=2)
    assert centred.tolist() == [True, False]


def _points(small_cases, name: str, monkeypatch):
    """The same state in the all-non-centred and the all-centred model."""
    monkeypatch.setattr(linear, "CENTRING_INFORMATION", np.inf)
    plain, design, _ = build_model(small_cases, name)
    monkeypatch.setattr(linear, "CENTRING_INFORMATION", 1e-9)
    centred, _, _ = build_model(small_cases, name)
    rng = np.random.default_rng(3)
    point = {k: rng.normal(scale=0.3, size=np.shape(v)) for k, v in plain.initial_point().items()}
    return plain, centred, design, point


def _evaluate(model, name: str, point) -> np.ndarray:
    names = [v.name for v in model.value_vars]
    [output] = model.replace_rvs_by_values([model[name]])
    function = model.compile_fn(output, inputs=model.value_vars, on_unused_input="ignore")
    return function({k: point[k] for k in names})


def _log_density(model, point) -> float:
    return float(model.compile_logp()(point))


@pytest.mark.parametrize("name", ["group_predictors", "competing_outcomes", "varying_slopes"])
def test_centred_and_non_centred_forms_are_one_model(small_cases, name, monkeypatch):
    plain, centred, design, point = _points(small_cases, name, monkeypatch)
    prefixes = ["", "competing_"] if name == "competing_outcomes" else [""]
    state = {k: v for k, v in point.items() if not k.endswith("nationality_offset")}
    jacobian = 0.0
    z = design.group_matrix()  # cooperation medium, high
    for p in prefixes:
        u = _evaluate(plain, f"{p}nationality_effect", point)
        b0 = np.asarray(point[f"{p}Intercept_centred"])
        gamma = np.asarray(point[f"{p}cooperation"])  # (levels,) or (outcomes, levels)
        mean = b0 + z @ gamma.T  # (groups,) or (groups, outcomes)
        state[f"{p}nationality_intercept"] = mean + u
        sigma = _evaluate(plain, f"{p}nationality_sigma", point)
        jacobian += len(design.groups) * np.sum(np.log(sigma))
    assert set(state) == {v.name for v in centred.value_vars}
    assert _log_density(centred, state) == pytest.approx(
        _log_density(plain, point) - jacobian, rel=1e-10
    )
    # and the reported deviations are the same numbers
    names = [f"{p}nationality_effect" for p in prefixes]
    names += ["nationality_n_procedures_effect"] if name == "varying_slopes" else []
    for effect in names:
        np.testing.assert_allclose(
            _evaluate(centred, effect, state), _evaluate(plain, effect, point), rtol=1e-10
        )

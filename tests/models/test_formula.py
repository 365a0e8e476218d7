"""Formulas into term tables: coding, group blocks, and every refusal with its place."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from returnmodels.engine.design import build_formula_design
from returnmodels.engine.parse import parse_formula
from returnmodels.engine.policy import between_level_variance, centred
from returnmodels.errors import ConfigError
from returnmodels.models import column_spec
from returnmodels.models.presets import PRESETS, merge_preset_priors, preset_call


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 400
    region = rng.choice(["north", "south", "east"], n)
    frame = pd.DataFrame(
        {
            "y": rng.integers(0, 2, n),
            "x": rng.normal(2.0, 1.0, n),
            "k": rng.integers(1, 4, n),
            "c": rng.choice(["a", "b", "c"], n, p=[0.2, 0.5, 0.3]),
            "g": [f"{r}-{i}" for r, i in zip(region, rng.integers(0, 4, n), strict=True)],
            "region": region,
            "year": rng.integers(2018, 2022, n),
        }
    )
    frame["coop"] = frame["g"].map(lambda g: "high" if g.endswith(("0", "1")) else "low")
    return frame


def test_numeric_centred_at_case_weighted_mean_and_reference_most_common(rows):
    design = build_formula_design(rows, "y ~ x + c + (1 | g)")
    assert design.centres["x"] == pytest.approx(rows["x"].mean())
    assert design.references == {"c": "b"}  # the most common level
    labels = design.column_labels()
    assert labels == ["Intercept", "x", "c[a]", "c[c]"]
    # the coded column is x minus its mean, cell by cell
    x_column = design.X[:, labels.index("x")]
    assert np.allclose(x_column, design.cells["x"] - rows["x"].mean())
    assert design.successes.sum() == rows["y"].sum() and design.trials.sum() == len(rows)


def test_reference_by_mapping_and_by_treatment(rows):
    by_map = build_formula_design(rows, "y ~ c + (1 | g)", reference={"c": "c"})
    assert [t.levels for t in by_map.common][1] == ("a", "b")
    by_call = build_formula_design(rows, "y ~ C(c, Treatment('a')) + (1 | g)")
    assert [t.levels for t in by_call.common][1] == ("b", "c")
    numeric = build_formula_design(rows, "y ~ C(k) + (1 | g)")
    assert numeric.common[1].levels == ("2", "3")
    with pytest.raises(ConfigError, match="reference level 'z' of 'c' is not in the data"):
        build_formula_design(rows, "y ~ c + (1 | g)", reference={"c": "z"})


def test_interaction_columns_use_the_centred_numeric(rows):
    design = build_formula_design(rows, "y ~ x * c + (1 | g)")
    labels = design.column_labels()
    assert "x:c[a]" in labels and "x:c[c]" in labels
    col = design.X[:, labels.index("x:c[a]")]
    expected = (design.cells["x"] - design.centres["x"]) * (design.cells["c"] == "a")
    assert np.allclose(col, expected)


def test_blocks_correlated_crossed_nested(rows):
    design = build_formula_design(rows, "y ~ x + (1 + x | g) + (1 | year) + (1 | region/g)")
    blocks = {(b.factor, b.columns) for b in design.blocks}
    assert blocks == {
        ("g", ("Intercept", "x")),
        ("year", ("Intercept",)),
        ("region", ("Intercept",)),
        ("region:g", ("Intercept",)),
    }
    slope = next(b for b in design.blocks if b.factor == "g")
    assert slope.correlated and len(slope.levels) == rows["g"].nunique()
    # each cell's level and slope value are its own
    levels = np.asarray(slope.levels)[slope.index]
    assert (levels == design.cells["g"].to_numpy()).all()
    assert np.allclose(slope.values[:, 1], design.cells["x"] - design.centres["x"])
    uncorrelated = build_formula_design(rows, "y ~ x + (1 | g) + (0 + x | g)")
    assert [b.width for b in uncorrelated.blocks] == [1, 1]


def test_group_level_predictor_recognised(rows):
    design = build_formula_design(rows, "y ~ x + coop + (1 | g)")
    owners = {t.name: t.group_level_of for t in design.common}
    assert owners == {"Intercept": None, "x": None, "coop": "g"}


def test_counts_response(rows):
    cells = rows.groupby(["g", "c"]).agg(s=("y", "sum"), n=("y", "size")).reset_index()
    design = build_formula_design(cells, "s | trials(n) ~ c + (1 | g)")
    assert design.trials.sum() == len(rows) and design.successes.sum() == rows["y"].sum()
    bad = cells.assign(s=cells["n"] + 1)
    with pytest.raises(ConfigError, match="must lie in 0..'n'"):
        build_formula_design(bad, "s | trials(n) ~ c + (1 | g)")


def test_case_file_assisted_is_derived(small_cases):
    bundled_cases = small_cases
    design = build_formula_design(bundled_cases, "assisted ~ n_procedures + (1 | nationality)")
    expected = (bundled_cases["outcome"] == "assisted_return").sum()
    assert design.successes.sum() == expected
    assert design.n_cells == bundled_cases.groupby(["nationality", "n_procedures"]).ngroups


def test_centring_only_for_well_identified_intercepts(rows):
    rng = np.random.default_rng(8)
    year_effect = rows["year"].map({2018: -1.0, 2019: 0.0, 2020: 1.0, 2021: 2.0})
    frame = rows.assign(
        tiny=[f"t{i // 4}" for i in range(len(rows))],  # 4 cases a level
        y=(rng.random(len(rows)) < 1 / (1 + np.exp(-year_effect))).astype(int),
    )
    design = build_formula_design(frame, "y ~ x + (1 + x | tiny) + (1 | year)")
    tiny, year = design.blocks
    # 4 cases: log-odds variance >= 1/2.5 + 1/2.5 > 1/4, never centred
    assert not centred(design, tiny).any()
    assert centred(design, year).all()  # about 100 cases a year, years far apart
    slope_only = build_formula_design(frame, "y ~ x + (0 + x | year)")
    assert not centred(slope_only, slope_only.blocks[0]).any()
    # the same 100 cases a year, but years that do not differ: a variance near zero is
    # sampled non-centred (the centred form would be a funnel there)
    flat = build_formula_design(rows, "y ~ x + (1 | year)")
    assert not centred(flat, flat.blocks[0]).any()


@pytest.mark.parametrize("sd", [0.0, 0.8])
def test_between_level_variance_recovers_the_spread_of_the_levels(sd):
    rng = np.random.default_rng(11)
    groups, per_group = 60, 400
    g = np.repeat(np.arange(groups), per_group)
    x = rng.normal(size=g.size)
    effect = sd * rng.normal(size=groups)
    eta = -0.5 + 0.7 * x + effect[g]
    frame = pd.DataFrame(
        {"y": (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(int), "x": x,
         "g": [f"g{i}" for i in g]}
    )  # fmt: skip
    design = build_formula_design(frame, "y ~ x + (1 | g)")
    (tau2,) = between_level_variance(design, design.blocks[0])
    # against the SD of the drawn effects: near zero found near zero; a real spread found,
    # attenuated (a level's share averages over x) but never inflated
    if sd == 0:
        assert np.sqrt(tau2) < 0.1
    else:
        assert 0.6 * effect.std() < np.sqrt(tau2) < 1.1 * effect.std()


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        (
            "y ~ xx + (1 | g)",
            r"unknown column 'xx' \(not in the data; did you mean 'x'\?\) at position 5",
        ),
        ("y ~ x + (1 | gg)", r"unknown column 'gg'"),
        ("y ~ x + $z", r"unsupported character '\$' at position 9"),
        ("y ~ x +", r"the formula ends too early"),
        ("y ~ x + (1 || g)", r"'\|\|' is not supported"),
        ("y ~ x + + c", r"two '\+' in a row at position 7"),
        ("y ~ x + 1 | g", r"a group term must be in parentheses"),
        ("y ~ x + f(x)", r"unknown function 'f'"),
        ("y x", r"exactly one '~'"),
        ("x ~ c + (1 | g)", r"the response 'x' must be binary"),
        ("y ~ c + (1 | one)", r"the group 'one' has only one level \('a'\)"),
        ("y ~ flat + (1 | g)", r"the term 'flat' is constant"),
        ("y ~ x + (1 + coop | g)", r"the slope of 'coop\[low\]' cannot vary by 'g'"),
        ("y ~ x + (1 | g) + (1 | g)", r"'Intercept' varies by 'g' twice"),
    ],
)
def test_bad_formulas_refused_naming_what_and_where(rows, formula, message):
    frame = rows.assign(one="a", flat=1.0)
    with pytest.raises(ConfigError, match=message):
        build_formula_design(frame, formula)


def test_parse_records_which_terms_are_one_block():
    _, trials, _, blocks = parse_formula("y ~ x + (1 + x | g) + (1 | r/g)")
    assert trials is None
    assert blocks == [["1|g", "x|g"], ["1|r", "1|r:g"]]


def test_priors_by_class_and_term(rows):
    design = build_formula_design(
        rows,
        "y ~ x + c + (1 + x | g)",
        priors={"coefficients": {"sigma": 1.0}, "x": {"sigma": 0.1}, "g_corr": {"eta": 4.0}},
    )
    nu, mu, sigma = design.coefficient_priors.T
    assert list(sigma) == [2.5, 0.1, 1.0, 1.0] and np.isinf(nu).all() and (mu == 0).all()
    assert design.priors["g_corr"] == {"dist": "LKJ", "eta": 4.0}
    with pytest.raises(ConfigError, match=r"unknown prior name\(s\) \['zz'\]"):
        build_formula_design(rows, "y ~ x + (1 | g)", priors={"zz": {"sigma": 1.0}})
    with pytest.raises(ConfigError, match="distribution 'Cauchy' is not one of"):
        build_formula_design(rows, "y ~ x + (1 | g)", priors={"g_sigma": {"dist": "Cauchy"}})


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_preset_writes_its_formula_for_case_files(small_cases, name):
    """preset_call with the case-file columns gives the preset's own formula and
    reference levels (the table is the one description); the design builds from them."""
    preset = PRESETS[name]
    call = preset_call(name, None, small_cases)
    assert call.formula == preset.formula
    assert call.reference == {k: v for k, v in preset.reference.items() if k in call.formula}
    design = build_formula_design(small_cases, call.formula, reference=call.reference)
    assert design.references == call.reference


def test_a_preset_writes_its_formula_for_other_columns(small_cases):
    """The generic-columns interface writes a formula: the main job's one predictor, the
    group-level one where the preset uses it, counts as successes | trials(n)."""
    spec = column_spec(predictors=["n_procedures"])
    assert preset_call("group_predictors", spec, small_cases).formula == (
        "assisted ~ n_procedures + cooperation + (1 | nationality)"
    )
    assert preset_call("varying_intercepts", spec, small_cases).formula == (
        "assisted ~ n_procedures + (1 | nationality)"
    )
    counts = pd.DataFrame({"s": [1, 2, 3, 4], "n": [5, 5, 6, 6], "g": list("aabb"),
                           "x": [0.1, 0.2, 0.3, 0.4], "z": ["u", "v", "u", "v"]})  # fmt: skip
    generic = column_spec(successes="s", trials="n", group="g", predictors=["x", "z"])
    call = preset_call("varying_slopes", replace(generic, slope="x"), counts)
    assert call.formula == "s | trials(n) ~ x + z + (1 + x | g)"
    assert call.priors == {"g_x_sigma": {"dist": "HalfNormal", "sigma": 0.5}}
    with pytest.raises(ConfigError, match="numeric case-level slope"):
        preset_call("varying_slopes", replace(generic, slope="z"), counts)
    with pytest.raises(ConfigError, match="needs the case-file 'outcome'"):
        preset_call("competing_outcomes", generic, counts)


def test_cells_by_splits_the_cells_without_a_term(rows):
    """cells_by adds a column to the cells, not to the model: the cells are those of the
    formula with that column as a group, the common terms and counts unchanged."""
    plain = build_formula_design(rows, "y ~ k + coop")
    split = build_formula_design(rows, "y ~ k + coop", cells_by=["g", "g"])
    grouped = build_formula_design(rows, "y ~ k + coop + (1 | g)")

    def table(design):
        counts = design.cells[["g", "k"]].assign(n=design.trials, s=design.successes)
        return counts.sort_values(["g", "k"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(table(split), table(grouped))
    assert split.column_labels() == plain.column_labels() and not split.blocks
    assert split.n_cells > plain.n_cells and split.successes.sum() == plain.successes.sum()
    assert "g" in split.factors and split.describe()["cells_by"] == ["g"]
    assert build_formula_design(rows, "y ~ x + (1 | g)", cells_by=["g"]).cells_by == ()
    with pytest.raises(ConfigError, match=r"cells_by column\(s\) \['h'\] not in the data"):
        build_formula_design(rows, "y ~ x", cells_by=["h"])


def test_every_preset_has_the_cells_of_group_and_predictors(small_cases):
    """Every preset's cells are nationality x its predictors, pooled (no nationality
    term) included, so that PSIS-LOO compares presets cell by cell."""
    cells = {}
    for name in ("pooled", "varying_intercepts", "group_predictors", "varying_slopes"):
        call = preset_call(name, None, small_cases)
        assert call.cells_by == ("nationality",)
        design = build_formula_design(
            small_cases, call.formula, reference=call.reference, cells_by=call.cells_by
        )
        key = sorted(set(design.cells.columns) - {"cooperation"})
        table = design.cells[key].astype(str).assign(n=design.trials)
        cells[name] = table.sort_values(key).reset_index(drop=True)
    assert all(table.equals(cells["group_predictors"]) for table in cells.values())


def test_preset_priors_merge_under_the_users():
    preset = {"g_x_sigma": {"dist": "HalfNormal", "sigma": 0.5}}
    assert merge_preset_priors(preset, {"g_x_sigma": {"sigma": 0.3}}) == {
        "g_x_sigma": {"dist": "HalfNormal", "sigma": 0.3}
    }
    replaced = merge_preset_priors(preset, {"g_x_sigma": {"dist": "Exponential", "lam": 2.0}})
    assert replaced == {"g_x_sigma": {"dist": "Exponential", "lam": 2.0}}


def test_categorical_levels_keep_their_natural_order_and_a_saved_result_rebuilds_it():
    """Case-file categoricals (cooperation low < medium < high, age groups youngest
    first) keep their own order after the reference, not the alphabet's; the result
    records it, so a design rebuilt from saved cells (stored as text) has the same
    columns in the same order."""
    import returnmodels as rm
    from returnmodels.engine.result import cells_dataset

    cases = rm.simulate_cases(n_cases=2000, random_seed=3).cases
    design = build_formula_design(
        cases.assign(y=(cases["outcome"] == "assisted_return").astype(int)),
        "y ~ cooperation + age_group + (1 | nationality)",
        reference={"cooperation": "low"},
    )
    assert design.orders["cooperation"] == ["low", "medium", "high"]
    assert design.orders["age_group"][1:] == [
        a for a in ["0-17", "18-29", "30-44", "45-64", "65+"] if a != design.orders["age_group"][0]
    ]
    assert design.column_labels()[1:3] == ["cooperation[medium]", "cooperation[high]"]
    described = design.describe()
    assert described["orders"]["cooperation"] == ["low", "medium", "high"]
    stored = cells_dataset(design).to_dataframe().reset_index(drop=True)
    assert not isinstance(stored["cooperation"].dtype, pd.CategoricalDtype)  # text on disk

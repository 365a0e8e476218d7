"""A formula is data, not code, and never fits silently wrong (no sampling here).

Only the documented functions are evaluated, in a namespace of their own; transforms
see a column's raw values and are centred afterwards; references, unidentifiable terms
and awkward input are refused before anything is sampled, naming what and where.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest

from returnmodels.cli import main
from returnmodels.engine.design import build_formula_design
from returnmodels.engine.functions import FUNCTIONS, MAX_TERMS, namespace
from returnmodels.errors import ConfigError
from returnmodels.simulate import simulate_cases, write_simulation


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 600
    frame = pd.DataFrame(
        {
            "y": rng.integers(0, 2, n),
            "x": rng.gamma(2.0, 1.5, n) + 0.1,  # positive; centred it is half negative
            "k": rng.integers(1, 6, n),
            "c": rng.choice(["a", "b", "c"], n, p=[0.2, 0.5, 0.3]),
            "g": rng.choice([f"g{i}" for i in range(12)], n),
        }
    )
    return frame


def _caret_under(message: str, text: str) -> bool:
    """The caret of a position message stands under the first ``text`` of its line."""
    lines = message.splitlines()
    shown, pointer = lines[-2], lines[-1]
    return pointer.index("^") == shown.index(text)


# ---------------------------------------------------------------- a formula is data


@pytest.mark.parametrize(
    ("rhs", "function"),
    [
        ("x + I(np.save('{path}', x))", "np.save"),
        ("x + open('{path}', 'w')", "open"),
        ("x + np.savetxt('{path}', x)", "np.savetxt"),
        ("x + eval('1')", "eval"),
    ],
)
def test_a_call_that_would_write_a_file_is_refused_and_writes_nothing(
    rows, tmp_path, rhs, function
):
    """np and pd are this module's globals (formulae would find them in the caller's
    namespace); the formula is refused naming the function, the file never appears."""
    path = tmp_path / "written"
    formula = "y ~ " + rhs.format(path=path)
    with pytest.raises(ConfigError, match=f"unknown function '{function}'") as refused:
        build_formula_design(rows, formula)
    assert _caret_under(str(refused.value), function)
    assert not list(tmp_path.iterdir())


def test_attribute_access_is_not_formula_syntax(rows, tmp_path):
    path = tmp_path / "written"
    formula = f"y ~ x + I(pd.DataFrame(x).to_csv('{path}'))"
    with pytest.raises(ConfigError, match="unexpected '.'.*it has no attributes") as refused:
        build_formula_design(rows, formula)
    assert _caret_under(str(refused.value), ".to_csv")
    assert not path.exists()


def test_an_import_is_not_even_a_name(rows, tmp_path):
    path = tmp_path / "touched"
    formula = f"y ~ x + __import__('os').system('touch {path}')"
    with pytest.raises(ConfigError, match="unsupported character '_' at position 9"):
        build_formula_design(rows, formula)
    assert not path.exists()


@pytest.mark.parametrize(
    ("rhs", "message", "at"),
    [
        ("np.log(x)", r"unknown function 'np.log' \(write log\(\.\.\.\)\)", "np.log"),
        ("bs(x, 3)", "unknown function 'bs'", "bs"),
        ("T(c)", "unknown function 'T'", "T("),
        ("offset(x)", r"offset\(\) is not supported", "offset"),
        ("Treatment(c)", r"goes inside C\(\.\.\.\)", "Treatment"),
        ("C(c, Sum)", r"the second argument of C\(\) can only be Treatment", "Sum"),
        ("C(c, levels=c)", "a keyword argument 'levels='", "levels"),
        ("poly(x, degree=2)", "a keyword argument 'degree='", "degree"),
        ("poly(x, 9)", "the degree of poly", "9"),
        ("I(x > 'a')", "the text 'a' inside I", "'a'"),
        ("I(log(x))", r"functions cannot be nested", "log"),
        ("log(x > 1)", r"'>' inside log\(\)", ">"),
        ("I(x:k)", r"':' inside I\(\)", ":"),
        ("x > 1", r"a comparison '>' outside I\(\.\.\.\)", ">"),
        ("2 + x", "the number 2 outside a function", "2"),
        ("(1 | C(g))", "a group factor must be a column", "C(g)"),
    ],
)
def test_only_the_documented_functions_are_allowed(rows, rhs, message, at):
    formula = f"y ~ {rhs}"
    with pytest.raises(ConfigError, match=message) as refused:
        build_formula_design(rows, formula)
    assert _caret_under(str(refused.value), at)


def test_the_namespace_holds_only_the_transforms():
    """What the calls are evaluated with: the transforms, nothing of any caller."""
    assert set(namespace(np.ones(3))) == {"log", "exp", "sqrt", "rm_scale", "rm_center"}
    assert set(FUNCTIONS) == {"C", "I", "log", "exp", "sqrt", "scale", "center", "poly"}


# ---------------------------------------------------------------- transforms, raw


def _weighted_centre(values, design) -> float:
    return float(np.average(values, weights=design.trials))


def test_a_step_is_taken_on_the_raw_column_then_centred(rows):
    design = build_formula_design(rows, "y ~ I(k >= 3) + k")
    step = (design.cells["k"] >= 3).astype(float)
    labels = design.column_labels()
    centre = _weighted_centre(step, design)
    assert centre == pytest.approx((rows["k"] >= 3).mean())
    assert np.allclose(design.X[:, labels.index("I(k >= 3)")], step - centre)
    # k itself keeps its centring
    assert np.allclose(design.X[:, labels.index("k")], design.cells["k"] - rows["k"].mean())
    # new rows: the raw values and the model's centres
    new = pd.DataFrame({"k": [1, 2, 3, 5], "y": 0})
    X, _ = design.encode(new)
    assert np.allclose(X[:, labels.index("I(k >= 3)")], [-centre, -centre, 1 - centre, 1 - centre])
    assert np.allclose(X[:, labels.index("k")], new["k"] - rows["k"].mean())


def test_log_of_a_positive_column_never_sees_a_negative_value(rows):
    assert (rows["x"] - rows["x"].mean()).min() < 0  # what the old centring fed log
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log of a negative number warns
        design = build_formula_design(rows, "y ~ x + log(x) + log(x):c + (1 + log(x) | g)")
    labels = design.column_labels()
    logged = np.log(design.cells["x"].to_numpy())
    centre = _weighted_centre(logged, design)
    assert centre == pytest.approx(np.log(rows["x"]).mean())
    assert design.call_centres["log(x)"] == pytest.approx(centre)
    assert np.allclose(design.X[:, labels.index("log(x)")], logged - centre)
    assert np.allclose(design.X[:, labels.index("x")], design.cells["x"] - rows["x"].mean())
    in_a = (design.cells["c"] == "a").to_numpy()
    assert np.allclose(design.X[:, labels.index("log(x):c[a]")], (logged - centre) * in_a)
    (block,) = design.blocks
    assert np.allclose(block.values[:, block.columns.index("log(x)")], logged - centre)
    new = pd.DataFrame({"x": [0.5, 20.0], "c": ["a", "b"], "g": ["g0", "g1"], "y": 0})
    X, encoded = design.encode(new)
    assert np.allclose(X[:, labels.index("log(x)")], np.log([0.5, 20.0]) - centre)
    assert np.allclose(encoded[0][1][:, 1], np.log([0.5, 20.0]) - centre)
    with pytest.raises(ConfigError, match=r"log\(\) needs values > 0.*row 2"):
        design.encode(new.assign(x=[1.0, 0.0]))


@pytest.mark.parametrize(
    ("rhs", "bad", "words"),
    [
        ("log(x)", 0.0, ["log(x) needs x to be > 0", "it is 0 at data row 5", "log(x + 1)"]),
        ("log(x)", -2.0, ["log(x) needs x to be > 0", "it is -2 at data row 5"]),
        ("sqrt(x)", -1.0, ["sqrt(x) needs x to be >= 0", "it is -1 at data row 5"]),
        ("exp(x)", 800.0, ["exp(x) needs x to be small enough", "data row 5"]),
    ],
)
def test_a_transform_outside_its_domain_is_refused_at_its_first_data_row(rows, rhs, bad, words):
    frame = rows.copy()
    frame.loc[4, "x"] = bad
    frame.loc[9, "x"] = bad
    with pytest.raises(ConfigError) as refused:
        build_formula_design(frame, f"y ~ {rhs}")
    message = str(refused.value)
    for word in [*words, "(2 data row(s) in all)"]:
        assert word in message, message


def test_scale_and_poly_are_case_weighted_and_encode_as_fitted(rows):
    design = build_formula_design(rows, "y ~ scale(x) + poly(k, 2) + c")
    labels = design.column_labels()
    scaled = design.X[:, labels.index("scale(x)")]
    assert _weighted_centre(scaled, design) == pytest.approx(0, abs=1e-12)
    assert _weighted_centre(scaled**2, design) == pytest.approx(1)
    assert np.allclose(scaled * rows["x"].std(ddof=0), design.cells["x"] - rows["x"].mean())
    for r in range(2):
        column = design.X[:, labels.index(f"poly(k, 2)[{r}]")]
        assert _weighted_centre(column, design) == pytest.approx(0, abs=1e-12)
    X, _ = design.encode(design.cells)
    assert np.allclose(X, design.X)
    term = next(t for t in design.common if t.name == "poly(k, 2)")
    assert "," not in term.dim  # nutpie splits dims at commas
    assert term.variables == ("k",)


def test_a_call_reads_numbers_and_true_false_but_not_categories(rows):
    frame = rows.assign(flag=rows["k"] > 3)
    design = build_formula_design(frame, "y ~ I(flag) + x")
    share = (frame["k"] > 3).mean()
    assert np.allclose(design.X[:, 1], design.cells["flag"] - share)
    treated = build_formula_design(frame, "y ~ C(flag, Treatment(True)) + x")
    assert treated.common[1].levels == ("False",)
    with pytest.raises(ConfigError, match="log\\(c\\) needs numbers, but 'c' is categorical"):
        build_formula_design(frame, "y ~ log(c)")
    with pytest.raises(ConfigError, match="reference level 'True' of 'flag' is not in the data"):
        build_formula_design(frame, "y ~ C(flag, Treatment('True'))")


def test_numbers_in_a_call_cannot_grow_without_bound(rows):
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="overflows"):
        build_formula_design(rows, "y ~ x + I(10 ** 10 ** 10 ** 10 ** 10 ** 10)")
    assert time.perf_counter() - started < 5


# ---------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("formula", "reference", "message"),
    [
        ("y ~ k + c", {"k": "1"},
         "k is numeric in this formula; write C(k) to treat it as categorical"),
        ("y ~ I(k > 2) + c", {"k": "1"}, "k is numeric in this formula"),
        ("y ~ x + (1 | g)", {"g": "g1"}, "reference given for 'g', a grouping factor"),
        ("y ~ x + c", {"zz": "a"}, "reference given for ['zz'], which the formula does not use"),
        ("y ~ C(c, Treatment('a'))", {"c": "b"},
         "conflicts with the formula's C(c, Treatment('a'))"),
        ("y ~ C(c, Treatment('z'))", None, "reference level 'z' of 'c' is not in the data"),
        ("y ~ C(k, Treatment('2'))", None, "reference level '2' of 'k' is not in the data"),
    ],
)  # fmt: skip
def test_a_reference_must_fit_the_column(rows, formula, reference, message):
    with pytest.raises(ConfigError) as refused:
        build_formula_design(rows, formula, reference=reference)
    assert message in str(refused.value)


def test_references_that_fit_are_taken(rows):
    by_categories = build_formula_design(rows, "y ~ C(k) + x", reference={"k": "3"})
    assert by_categories.common[1].levels == ("1", "2", "4", "5")
    agreeing = build_formula_design(rows, "y ~ C(c, Treatment('c'))", reference={"c": "c"})
    assert agreeing.common[1].levels == ("a", "b")
    numeric = build_formula_design(rows, "y ~ C(k, Treatment(4))")
    assert numeric.common[1].levels == ("1", "2", "3", "5")
    high = build_formula_design(rows, "y ~ C(c, Treatment('b')) + x")
    assert "," not in high.common[1].dim
    X, _ = high.encode(high.cells)
    assert np.allclose(X, high.X)


@pytest.fixture(scope="module")
def case_csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("formula-safety")
    path, _ = write_simulation(simulate_cases(n_cases=500, random_seed=3), folder / "cases.csv")
    return path


@pytest.mark.parametrize(
    ("references", "words"),
    [
        (["cooperation=low", "cooperation=high"],
         ["'cooperation' is given twice", "'cooperation=low'", "'cooperation=high'"]),
        (["n_procedures=1"],
         ["n_procedures is numeric in this formula; write C(n_procedures) to treat it as "
          "categorical"]),
        (["nationality=MAR"], ["'nationality', a grouping factor"]),
    ],
)  # fmt: skip
def test_the_cli_refuses_a_bad_reference_before_writing(
    case_csv, tmp_path, capsys, references, words
):
    out = tmp_path / "out"
    argv = ["fit", "--data", str(case_csv), "--out", str(out), "--formula",
            "assisted ~ n_procedures + cooperation + (1 | nationality)"]  # fmt: skip
    for pair in references:
        argv += ["--reference", pair]
    assert main(argv) == 2
    error = capsys.readouterr().err
    for word in words:
        assert word in error, error
    assert not out.exists()


# ---------------------------------------------------------------- unidentifiable


def test_a_level_for_every_case_is_refused(rows):
    frame = rows.assign(case=[f"c{i}" for i in range(len(rows))])
    with pytest.raises(ConfigError, match=r"the group 'case' has a level for every case \(600"):
        build_formula_design(frame, "y ~ x + (1 | case)")
    with pytest.raises(ConfigError, match=r"the term 'case' has a level for every case \(600"):
        build_formula_design(frame, "y ~ x + case")
    mostly = rows.assign(person=[f"p{i}" if i < 500 else f"q{i % 20}" for i in range(len(rows))])
    # many small levels (>= 500): integrated out by quadrature (engine.integrated)
    integrated = build_formula_design(mostly, "y ~ x + (1 | person)").integrated
    assert integrated is not None and integrated.factor == "person"
    few = rows.iloc[:330].assign(person=[f"p{i}" if i < 300 else f"q{i % 5}" for i in range(330)])
    with pytest.raises(ConfigError, match="its SD rests on the few levels of several cases"):
        build_formula_design(few, "y ~ x + (1 | person)")  # too few levels to integrate
    with pytest.raises(
        ConfigError,
        match=r"the term 'person' has nearly a level for every case \(520 levels for 600 "
        r"cases, 96% of the levels one case\)",
    ):
        build_formula_design(mostly, "y ~ x + person")
    # two cases a level is a group (weakly identified, not refused)
    pairs = rows.assign(pair=[f"p{i // 2}" for i in range(len(rows))])
    assert build_formula_design(pairs, "y ~ x + (1 | pair)").blocks[0].levels


@pytest.mark.parametrize(
    ("formula", "terms"),
    [
        ("y ~ x + x_copy + c", "'x' and 'x_copy'"),
        ("y ~ x + c + c_again", "'c' and 'c_again'"),
        ("y ~ k + I(2 * k - 1)", "'k' and 'I(2 * k - 1)'"),
    ],
)
def test_collinear_terms_are_refused_by_name(rows, formula, terms):
    frame = rows.assign(x_copy=rows["x"], c_again=rows["c"].map({"a": "A", "b": "B", "c": "C"}))
    with pytest.raises(ConfigError, match="are collinear in the data") as refused:
        build_formula_design(frame, formula)
    assert f"the terms {terms} are collinear" in str(refused.value)


@pytest.mark.parametrize("formula", ["y ~ 0", "y ~ -1", "y ~ 0 + 1 - 1"])
def test_a_formula_with_nothing_to_estimate_is_refused(rows, formula):
    with pytest.raises(ConfigError, match="has no terms: no intercept and nothing else"):
        build_formula_design(rows, formula)


def test_very_many_terms_are_refused_with_the_limit():
    frame = pd.DataFrame({f"x{i}": np.arange(10.0) * (i + 1) for i in range(500)})
    frame["y"] = np.arange(10) % 2
    formula = "y ~ " + " + ".join(f"x{i}" for i in range(500))
    with pytest.raises(ConfigError, match=rf"more than {MAX_TERMS} terms \(500 counted\); at most"):
        build_formula_design(frame, formula)
    started = time.perf_counter()
    products = "y ~ " + " * ".join(f"x{i}" for i in range(30))  # 2**30 terms to formulae
    with pytest.raises(ConfigError, match=f"at most {MAX_TERMS} terms"):
        build_formula_design(frame, products)
    assert time.perf_counter() - started < 5
    with pytest.raises(ConfigError, match="nested too deeply"):
        build_formula_design(frame, "y ~ " + "(" * 5000 + "x1" + ")" * 5000)


# ---------------------------------------------------------------- messages


def test_a_misspelt_case_file_response_suggests_assisted(small_cases):
    with pytest.raises(ConfigError, match=r"unknown column 'assist' .*did you mean 'assisted'"):
        build_formula_design(small_cases, "assist ~ 1")


@pytest.mark.parametrize(
    ("char", "name"), [("\u00a0", "NO-BREAK SPACE"), ("\u200b", "ZERO WIDTH SPACE")]
)
def test_an_invisible_character_is_shown_where_it_is(rows, char, name):
    formula = f"y ~ x +{char}c"
    with pytest.raises(ConfigError) as refused:
        build_formula_design(rows, formula)
    message = str(refused.value)
    code = f"\\u{ord(char):04x}"
    assert f"(U+{ord(char):04X} {name}) at position 8" in message
    assert f"y ~ x +{code}c" in message and char not in message
    assert _caret_under(message, code)


def test_numbers_with_decimal_commas_are_refused(rows):
    frame = rows.assign(dose=np.where(rows.index % 3 == 0, "1,5", "2"))  # 2 is whole
    with pytest.raises(
        ConfigError,
        match=r"column 'dose' holds numbers written with a decimal comma \(such as '1,5'\)"
        r".*decimal points",
    ):
        build_formula_design(frame, "y ~ dose")
    text = rows.assign(pair=np.where(rows.index % 2, "a,b", "c,d"))  # text with commas
    assert build_formula_design(text, "y ~ pair").common[1].levels

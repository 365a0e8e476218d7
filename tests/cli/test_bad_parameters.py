"""Every user-facing entry point refuses bad input clearly, early and without side effects.

Each case names an entry point (CLI command, batch file, Python API) and a bad value; the
refusal must name the parameter and the offending value (and, where there is a closed
set, what is allowed), come before any sampling, print no traceback, and leave the output
folder unwritten.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from returnmodels.cli import main
from returnmodels.errors import ReturnModelsError
from returnmodels.simulate import simulate_cases, write_simulation

ROOT = Path(__file__).resolve().parents[2]
CBPP = ROOT / "tests" / "fixtures" / "cbpp.csv"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad-parameters")
    cases, _ = write_simulation(simulate_cases(n_cases=500, random_seed=3), folder / "cases.csv")
    broken = folder / "broken.csv"
    text = cases.read_text().splitlines()
    text[3] = text[3].replace(",male,", ",Male,")
    broken.write_text("\n".join(text) + "\n")
    herds = pd.read_csv(CBPP)
    too_many = folder / "too_many.csv"
    herds.assign(incidence=herds["size"] + 1).to_csv(too_many, index=False)
    one_group = folder / "one_group.csv"
    herds.assign(herd=1).to_csv(one_group, index=False)
    varying = folder / "varying.csv"
    herds.assign(altitude=range(len(herds))).to_csv(varying, index=False)
    not_yaml = folder / "not_yaml.yaml"
    not_yaml.write_text("runs: [unclosed\n")
    unknown_notebook = folder / "unknown_notebook.yaml"
    unknown_notebook.write_text("runs:\n  - name: a\n    notebook: nowhere.ipynb\n")
    unknown_parameter = folder / "unknown_parameter.yaml"
    unknown_parameter.write_text(
        f"root: {ROOT}\nruns:\n  - name: a\n    notebook: notebooks/01_explore_cases.ipynb\n"
        "    parameters: {no_such_parameter: 1}\n"
    )
    a_file = folder / "a_file.txt"
    a_file.write_text("not a folder")
    return {
        "folder": folder, "cases": cases, "broken": broken, "too_many": too_many,
        "one_group": one_group, "varying": varying, "not_yaml": not_yaml,
        "unknown_notebook": unknown_notebook, "unknown_parameter": unknown_parameter,
        "a_file": a_file,
    }  # fmt: skip


def _fit(data_key: str = "cases", *extra: str) -> list[str]:
    return ["fit", "--data", f"{{{data_key}}}", "--model", "varying_intercepts", *extra]


def _herds(data_key: str, *extra: str) -> list[str]:
    return [
        "fit", "--data", f"{{{data_key}}}", "--model", "varying_intercepts",
        "--successes", "incidence", "--trials", "size", "--group", "herd", *extra,
    ]  # fmt: skip


#: (id, argv with {placeholders}, words the message must contain)
CLI_CASES = [
    ("unknown model", ["fit", "--data", "{cases}", "--model", "nope"], ["nope", "pooled"]),
    ("zero draws", _fit("cases", "--draws", "0"), ["draws", "0"]),
    ("negative draws", _fit("cases", "--draws", "-5"), ["draws", "-5"]),
    ("zero chains", _fit("cases", "--chains", "0"), ["chains", "0"]),
    ("non-integer draws", _fit("cases", "--draws", "many"), ["draws", "many"]),
    ("non-integer seed", _fit("cases", "--seed", "1.5"), ["seed", "1.5"]),
    ("negative seed", _fit("cases", "--seed", "-1"), ["seed", "-1"]),
    ("unknown sampler", _fit("cases", "--sampler", "gibbs"), ["sampler", "gibbs", "nutpie"]),
    ("target_accept above 1", _fit("cases", "--target-accept", "1.5"), ["target_accept", "1.5"]),
    ("missing data file", _fit("missing"), ["--data: data file '", "missing.csv' does not exist"]),
    ("missing data file, other data", _herds("missing"),
     ["--data: data file '", "missing.csv' does not exist"]),
    ("data is a folder", _fit("folder"), ["--data: '", "bad-parameters", "is a folder"]),
    ("data failing the contract", _fit("broken"), ["gender", "Male", "male"]),
    ("unknown predictor", _fit("cases", "--predictors", "n_procedures,shoe_size"), ["shoe_size"]),
    ("successes above trials", _herds("too_many"),
     ["'incidence' must lie in 0..'size' with 'size' >= 1; it does not in data row 1 "
      "(incidence 15, size 14), data row 2 (incidence 13, size 12), ",
      "data row 5 (incidence 23, size 22) and 51 more"]),
    ("single-level group", _herds("one_group"), ["herd", "level"]),
    ("group predictor varying in group", _herds("varying", "--group-predictors", "altitude"),
     ["altitude", "herd"]),
    ("successes without trials",
     ["fit", "--data", "{cases}", "--model", "pooled", "--successes", "x"], ["trials"]),
    ("unwritable output folder",
     ["fit", "--data", "{cases}", "--model", "pooled", "--out", "{a_file}/sub"], ["a_file.txt"]),
    ("too few simulated cases", ["simulate", "--out", "{folder}/s.csv", "--n-cases", "5"],
     ["n_cases", "5"]),
    ("negative simulation seed", ["simulate", "--out", "{folder}/s.csv", "--seed", "-2"],
     ["random_seed", "-2"]),
    ("simulation to an unknown format", ["simulate", "--out", "{folder}/s.txt"], [".txt"]),
    ("validate a missing file", ["validate", "{missing}"], ["missing.csv"]),
    ("aggregate by a missing column",
     ["aggregate", "{cases}", "--out", "{folder}/cells.csv", "--by", "nationality,nope"],
     ["nope"]),
    ("batch that is not YAML", ["run", "{not_yaml}", "--out", "{folder}/r1"], ["not_yaml.yaml"]),
    ("batch naming an unknown notebook", ["run", "{unknown_notebook}", "--out", "{folder}/r2"],
     ["nowhere.ipynb"]),
    ("batch with an unknown notebook parameter",
     ["run", "{unknown_parameter}", "--out", "{folder}/r3"], ["no_such_parameter"]),
    ("audit a missing folder", ["audit", "{folder}/no_results"], ["no_results"]),
    ("audit with min_cases 0", ["audit", "{folder}", "--min-cases", "0"], ["min_cases", "0"]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "argv", "words"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_refuses_bad_input(case, argv, words, data, capsys):
    places = {k: str(v) for k, v in data.items()} | {"missing": str(data["folder"] / "missing.csv")}
    argv = [arg.format(**places) for arg in argv]
    if argv[0] == "fit" and "--out" not in argv:
        argv += ["--out", str(data["folder"] / f"out-{case.replace(' ', '-')}")]
    before = set(data["folder"].rglob("*"))
    with pytest.raises(SystemExit) if _argparse_case(case) else _no_exit():
        code = main(argv)
        assert code == 2, f"{case}: exit status {code}"
    error = capsys.readouterr().err
    assert "Traceback" not in error
    for word in words:
        assert word in error, f"{case}: {word!r} not in message:\n{error}"
    assert set(data["folder"].rglob("*")) == before, f"{case}: something was written"


def _argparse_case(case: str) -> bool:
    """Cases that argparse itself refuses (type and choice errors): exit 2 via SystemExit."""
    return case in {"unknown model", "non-integer draws", "non-integer seed", "unknown sampler"}


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_one_refusal_through_the_real_command_has_no_traceback(data):
    done = subprocess.run(
        [sys.executable, "-m", "returnmodels", "fit", "--data", str(data["cases"]),
         "--model", "varying_intercepts", "--draws", "0", "--out", str(data["folder"] / "x")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "draws" in done.stderr


# --- the Python API -------------------------------------------------------------------


def test_api_unknown_model_lists_the_models(data):
    from returnmodels.inference.fit import fit

    with pytest.raises(ReturnModelsError, match="nope.*pooled"):
        fit(data["cases"], "nope")


def test_api_unknown_prior_is_refused_with_the_known_names(data):
    from returnmodels.inference.fit import fit

    with pytest.raises(ReturnModelsError, match="no_such_prior"):
        fit(data["cases"], "varying_intercepts", priors={"no_such_prior": {"sigma": 1}})


def test_api_successes_above_trials_lists_the_rows_and_values():
    """A preset on counts is the formula it writes for them: refused before anything is
    sampled, naming the rows and their values."""
    from returnmodels.inference.fit import fit
    from returnmodels.models import column_spec

    frame = pd.DataFrame(
        {"g": ["a", "a", "b", "b", "c"], "k": [1, 5, 2, 9, 0], "n": [3, 4, 2, 8, 1]}
    )
    spec = column_spec(successes="k", trials="n", group="g")
    with pytest.raises(ReturnModelsError) as caught:
        fit(frame, "varying_intercepts", columns=spec)
    assert str(caught.value) == (
        "formula 'k | trials(n) ~ (1 | g)': 'k' must lie in 0..'n' with 'n' >= 1; "
        "it does not in data row 2 (k 5, n 4), data row 4 (k 9, n 8)"
    )


def test_api_bad_disclosure_rules():
    from returnmodels.disclosure import DisclosureRules

    with pytest.raises(ReturnModelsError, match="min_cases"):
        DisclosureRules(min_cases=-1)
    with pytest.raises(ReturnModelsError, match="rounding_base"):
        DisclosureRules(rounding_base=0)

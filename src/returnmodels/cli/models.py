"""``returnmodels models``: list the registered models (the preset table), one line each."""

from __future__ import annotations

import argparse

from returnmodels.engine.priors import FORMULA_PRIORS
from returnmodels.models.columns import CASE_FILE_SPEC
from returnmodels.models.presets import PRESETS, get_preset, list_models


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the models, one line on what each is for",
        description="List the registered models; with a NAME, show its documentation.",
    )
    parser.add_argument("name", nargs="?", help="show this model's formula, references and priors")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.name:
        preset = get_preset(args.name)
        print(preset.doc)
        print(f"\nformula (case files): {preset.formula}")
        references = ", ".join(f"{k}={v}" for k, v in preset.reference.items())
        print(f"reference levels: {references or 'none'}")
        print("priors (the engine's defaults by class, then the model's own):")
        fill = {"group": CASE_FILE_SPEC.group, "slope": CASE_FILE_SPEC.slope}
        for name, prior in {**FORMULA_PRIORS, **preset.priors}.items():
            print(f"  {name.format(**fill)}: {prior}")
        print(
            "\nfitted as that formula on the precompiled formula engine (nothing compiled); "
            "--successes/--trials/--group/--predictors write it for other columns"
        )
        return 0
    width = max(len(name) for name in PRESETS)
    for name, summary in list_models():
        print(f"{name:<{width}}  {summary}")
        print(f"{'':<{width}}  formula: {PRESETS[name].formula}")
    print(
        "\nEach is a named formula, fitted on the precompiled formula engine (nothing "
        "compiled); any other model is written as a formula: returnmodels fit --formula "
        "'...' (README: Writing a model).\n"
        "Persons with several cases: add (1 | person_id) to the formula of a binary one; "
        "the person effect is integrated out of the likelihood by Gauss-Hermite quadrature, "
        "one SD person_id_sigma and no effect per person, margins averaged over persons, "
        "LOO leaving out a person (README: Persons with repeated cases)."
    )
    return 0

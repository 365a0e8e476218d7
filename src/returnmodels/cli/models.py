"""``returnmodels models``: list the registered models, one line each."""

from __future__ import annotations

import argparse

from returnmodels.models.registry import get_model, list_models


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the models, one line on what each is for",
        description="List the registered models; with a NAME, show its documentation.",
    )
    parser.add_argument("name", nargs="?", help="show this model's likelihood and priors")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.name:
        entry = get_model(args.name)
        print(entry.doc.strip())
        print(f"\nas a formula: {entry.formula}")
        print("fitted on the precompiled formula engine (nothing compiled); the PyMC model")
        print("above is its written-out reference; --sampler pymc|numpyro samples the PyMC")
        print("model of the same term table (returnmodels.models.pymc_model)")
        print("\ndefault priors:")
        for name, prior in entry.default_priors.items():
            print(f"  {name}: {prior}")
        return 0
    width = max(len(name) for name, _ in list_models())
    for name, summary in list_models():
        print(f"{name:<{width}}  {summary}")
        print(f"{'':<{width}}  formula: {get_model(name).formula}")
    print(
        "\nEach is fitted on the precompiled formula engine (nothing compiled); any other "
        "model is written as a formula: returnmodels fit --formula '...' (README: Writing a model)."
    )
    return 0

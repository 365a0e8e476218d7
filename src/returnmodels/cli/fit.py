"""``returnmodels fit``: fit a registered model or a formula and write its output folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from returnmodels.disclosure import DEFAULT_RULES, DisclosureRules
from returnmodels.errors import ConfigError
from returnmodels.files import check_new_folder
from returnmodels.inference.diagnostics import verdict_advice, verdict_line, verdict_of
from returnmodels.inference.fit import (
    ADAPTATIONS,
    DEFAULT_SAMPLING,
    MAX_SEED,
    SAMPLERS,
    check_sampling,
    fit,
)
from returnmodels.models import MODEL_NAMES, column_spec
from returnmodels.report.notebook import write_fit_folder


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [c.strip() for c in text.split(",") if c.strip()]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fit",
        help="fit a model; write its controlled folder (posterior, summary, margins, ...)",
        description=(
            "Fit a registered model (see `returnmodels models`) and write into --out, "
            "through the same controlled writer as notebook 02: posterior.nc (internal: "
            "with its data groups), summary.csv and margins.csv (disclosure-controlled, "
            "with markers), diagnostics.json, rank.png, trace.png, fit_manifest.json. "
            "The folder appears whole or not at all. Without column options the data "
            "are case files; name --outcome (or --successes and --trials) and --group "
            "for other grouped data. Exit status 3 with --strict when the convergence "
            "gate fails."
        ),
    )
    parser.add_argument("--data", required=True, metavar="PATH", help="data file (.csv/.parquet)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", choices=list(MODEL_NAMES), metavar="NAME")
    which.add_argument(
        "--formula",
        metavar="FORMULA",
        help="an lme4/brms formula, e.g. 'assisted ~ n_procedures + (1 | nationality)' "
        "(README: Writing a model)",
    )
    parser.add_argument(
        "--reference",
        action="append",
        metavar="COLUMN=LEVEL",
        help="reference level of a categorical predictor in a formula (repeatable)",
    )
    parser.add_argument(
        "--integrate",
        action="append",
        metavar="COLUMN",
        default=[],
        help="integrate the formula's (1 | COLUMN) term out of the likelihood by "
        "quadrature instead of sampling an effect per level (repeatable; (1 | person_id) "
        "on case files is integrated without it)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="new output folder")
    d = DEFAULT_SAMPLING
    parser.add_argument("--draws", type=int, default=d["draws"])
    parser.add_argument("--tune", type=int, default=d["tune"])
    parser.add_argument("--chains", type=int, default=d["chains"])
    parser.add_argument(
        "--seed",
        type=int,
        default=d["random_seed"],
        help="random seed, 0 to 2**64 - 1 (default: %(default)s)",
    )
    parser.add_argument(
        "--sampler",
        default=d["sampler"],
        choices=list(SAMPLERS),
        help="nutpie on the precompiled engine, or PyMC's/NumPyro's NUTS on the PyMC "
        "model of the same term table, compiled per model (default: %(default)s)",
    )
    parser.add_argument(
        "--target-accept",
        type=float,
        default=None,
        help=f"NUTS target acceptance (default {d['target_accept']}; "
        "0.9 for a formula with a correlated (1 + x | g) block)",
    )
    parser.add_argument(
        "--adaptation",
        default=d["adaptation"],
        choices=list(ADAPTATIONS),
        help="nutpie mass-matrix adaptation (auto: low_rank for small models, else diag)",
    )
    parser.add_argument("--outcome", help="binary outcome column (bool or 0/1)")
    parser.add_argument("--successes", help="successes column (aggregated data)")
    parser.add_argument("--trials", help="trials column (aggregated data)")
    parser.add_argument("--group", help="grouping column (random effects)")
    parser.add_argument("--predictors", help="comma-separated case-level predictors")
    parser.add_argument("--group-predictors", help="comma-separated group-level predictors")
    parser.add_argument("--numeric", help="comma-separated predictors to treat as numeric")
    parser.add_argument("--slope", help="numeric predictor whose slope varies (varying_slopes)")
    parser.add_argument("--priors", metavar="JSON", help="JSON file of prior overrides")
    parser.add_argument(
        "--min-cases",
        type=int,
        default=DEFAULT_RULES.min_cases,
        help="disclosure: groups with fewer cases are left out of summary.csv "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--rounding-base",
        type=int,
        default=DEFAULT_RULES.rounding_base,
        help="disclosure: published counts are rounded to this (default: %(default)s)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 3 if the gate fails")
    parser.set_defaults(func=run)


def _priors(path: str | None) -> dict | None:
    if path is None:
        return None
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"cannot read priors from {path!r}: {error}") from None


def _check_data(path: str) -> None:
    """Refuse a ``--data`` path that is missing or a folder, naming the option and the path."""
    if Path(path).is_dir():
        raise ConfigError(f"--data: {path!r} is a folder, not a data file")
    if not Path(path).exists():
        raise ConfigError(f"--data: data file {path!r} does not exist")


def _references(pairs: list[str] | None) -> dict[str, str] | None:
    """``--reference COLUMN=LEVEL`` (repeatable) as a mapping; a column given twice is
    refused (which one was meant is not for the parser to guess)."""
    if not pairs:
        return None
    references, given = {}, {}
    for pair in pairs:
        column, sep, level = pair.partition("=")
        column, level = column.strip(), level.strip()
        if not sep or not column or not level:
            raise ConfigError(f"--reference: {pair!r} is not COLUMN=LEVEL")
        if column in references:
            raise ConfigError(
                f"--reference: {column!r} is given twice ({given[column]!r} and {pair!r}); "
                "give each column's reference once"
            )
        references[column], given[column] = level, pair
    return references


def _run_formula(args: argparse.Namespace, out: Path, rules: DisclosureRules) -> int:
    column_options = ("outcome", "successes", "trials", "group", "predictors",
                      "group_predictors", "numeric", "slope")  # fmt: skip
    given = [f"--{o.replace('_', '-')}" for o in column_options if getattr(args, o)]
    if given:
        raise ConfigError(f"{', '.join(given)}: with --formula the formula names the columns")
    result = fit(
        args.data,
        formula=args.formula,
        reference=_references(args.reference),
        priors=_priors(args.priors),
        integrate=args.integrate,
        **_sampling(args),
    )
    return _write(result, args, out, rules, f"fit of {args.formula}")


def _sampling(args: argparse.Namespace) -> dict:
    """The sampler options of ``fit``, as :func:`returnmodels.fit` takes them."""
    return {
        "draws": args.draws,
        "tune": args.tune,
        "chains": args.chains,
        "random_seed": args.seed,
        "sampler": args.sampler,
        "target_accept": args.target_accept,
        "adaptation": args.adaptation,
    }


def _write(result, args: argparse.Namespace, out: Path, rules: DisclosureRules, what: str) -> int:
    """Write the fit folder; print the verdict (and what to try); the exit status."""
    write_fit_folder(result, out, data_path=args.data, rules=rules)
    verdict = verdict_of(result)
    print(f"wrote {out}/: {what}\n{verdict_line(verdict)}")
    if verdict_advice(verdict):
        print(verdict_advice(verdict))
    return 3 if args.strict and not verdict["passed"] else 0


def _check_sampling(args: argparse.Namespace) -> None:
    """The sampler options, checked before the data are read or the folder is made."""
    if not 0 <= args.seed <= MAX_SEED:
        raise ConfigError(
            f"--seed must be a whole number from 0 to {MAX_SEED} (2**64 - 1: the sampler's "
            f"unsigned 64-bit seed), got {args.seed}"
        )
    check_sampling(_sampling(args))


def run(args: argparse.Namespace) -> int:
    _check_sampling(args)
    _check_data(args.data)
    out = check_new_folder(args.out)  # makes and removes a probe folder: nothing is left
    rules = DisclosureRules(min_cases=args.min_cases, rounding_base=args.rounding_base)
    if args.formula is not None:
        return _run_formula(args, out, rules)
    if args.reference:
        raise ConfigError("--reference goes with --formula")
    spec = column_spec(
        outcome=args.outcome,
        successes=args.successes,
        trials=args.trials,
        group=args.group,
        predictors=_names(args.predictors),
        group_predictors=_names(args.group_predictors),
        numeric=_names(args.numeric),
        slope=args.slope,
    )
    result = fit(
        args.data, args.model, columns=spec, priors=_priors(args.priors), **_sampling(args)
    )
    return _write(result, args, out, rules, f"{args.model} fit")

"""Formula text to parsed terms: the response, formulae's model description, the
group terms of each ``( ... | g)`` and how the formula uses its columns; syntax and
calls refused by position before anything is evaluated.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import formulae.expr as fexpr
import pandas as pd
from formulae.parser import ParseError
from formulae.resolver import Resolver
from formulae.scanner import ScanError
from formulae.terms import Model

from returnmodels.data.regions import REGION_COLUMN
from returnmodels.engine.functions import (
    COMPARISONS,
    MAX_TERMS,
    Usage,
    check_calls,
    describe_character,
    parse_rhs,
    position_error,
    term_bound,
)
from returnmodels.errors import ConfigError

#: The binary response derived from a case file's ``outcome``.
ASSISTED_RESPONSE = "assisted"


_RESPONSE = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?:\|\s*trials\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\)\s*)?$"
)


def split_response(formula: str) -> tuple[str, str | None, str]:
    """``(response, trials column or None, the terms)`` of ``formula``."""
    if formula.count("~") != 1:
        raise ConfigError(
            f"formula {formula!r} needs exactly one '~' between the response and the terms, "
            "as in 'assisted ~ n_procedures + (1 | nationality)'"
        )
    lhs, rhs = formula.split("~")
    match = _RESPONSE.match(lhs)
    if not match:
        raise ConfigError(
            f"formula {formula!r}: the response {lhs.strip()!r} must be one column "
            "(binary) or 'successes | trials(n)' for aggregated counts"
        )
    if not rhs.strip():
        raise ConfigError(f"formula {formula!r} has no terms after '~' (write '~ 1' for none)")
    return match.group(1), match.group(2), rhs


def _blocks(node):
    """The ``|`` nodes of a parsed formula, and any ``|`` that is not in parentheses."""
    if isinstance(node, fexpr.Grouping):
        inner = node.expression
        if isinstance(inner, fexpr.Binary) and inner.operator.lexeme == "|":
            yield "block", inner
            return
        yield from _blocks(inner)
    elif isinstance(node, fexpr.Binary):
        if node.operator.lexeme == "|":
            yield "bare", node
            return
        yield from _blocks(node.left)
        yield from _blocks(node.right)


@dataclass(frozen=True)
class ParsedFormula:
    """A formula read and checked: its response, trials column, formulae's model
    description, the group terms of each ``( ... | g)`` and how it uses its columns."""

    response: str
    trials: str | None
    description: object
    blocks: list[list[str]]
    usage: Usage


def parse_formula(formula: str):
    """``(response, trials, model description, block factors)`` of ``formula``.

    ``block factors`` lists, for each ``( ... | g)`` of the formula, the group terms'
    names it expands to (``["1|g", "x|g"]``): the columns that are correlated.
    Syntax errors, and every call that is not one of the allowed functions
    (:data:`~returnmodels.engine.functions.FUNCTIONS`), are refused naming the
    position, before anything is evaluated.
    """
    parsed = parsed_formula(formula)
    return parsed.response, parsed.trials, parsed.description, parsed.blocks


def parsed_formula(formula: str) -> ParsedFormula:
    if not isinstance(formula, str) or not formula.strip():
        raise ConfigError(f"formula must be a non-empty string, got {formula!r}")
    response, trials, rhs = split_response(formula)
    text = f"{response} ~ {rhs}"
    shift = formula.index("~") + 1 - (len(response) + 3)  # text position -> formula's
    tokens, parser, tree = _syntax_tree(formula, text, shift)
    doubled = re.search(r"\+\s*\+", formula)
    if doubled:
        raise position_error(formula, "two '+' in a row", doubled.group(0))
    usage = check_calls(tree, formula, shift)  # before anything is evaluated
    bound = term_bound(tree)
    if bound > MAX_TERMS:
        raise _too_many_terms(formula, f"expands to more than {MAX_TERMS} terms ({bound} counted)")
    blocks = []
    for kind, node in _blocks(tree):
        if kind == "bare":
            raise position_error(
                formula, "a group term must be in parentheses, as in '(1 | g)'", "|"
            )
        resolved = Resolver(node).resolve()
        terms = resolved.terms if hasattr(resolved, "terms") else [resolved]
        blocks.append([term.name for term in terms])
    try:
        description = Resolver(tree).resolve()
    except Exception as error:  # noqa: BLE001 - formulae's own message, with the formula
        raise ConfigError(f"formula {formula!r}: {error}") from None
    if not isinstance(description, Model):
        description = Model(description)
    n_terms = len(description.common_terms) + len(description.group_terms)
    if n_terms > MAX_TERMS:
        raise _too_many_terms(formula, f"has {n_terms} terms")
    if n_terms == 0:
        raise ConfigError(
            f"formula {formula!r} has no terms: no intercept and nothing else to estimate "
            f"(write '{response} ~ 1' for the intercept alone)"
        )
    return ParsedFormula(response, trials, description, blocks, usage)


def _syntax_tree(formula: str, text: str, shift: int):
    """formulae's tokens, parser and tree of ``text``; syntax errors named by position."""
    try:
        tokens, parser, tree = parse_rhs(text)
    except ScanError as error:
        at = getattr(error, "position", None)
        if at is None:
            raise ConfigError(f"formula {formula!r}: {error}") from None
        char = formula[at + shift]
        what = f"unsupported character {describe_character(char)}"
        raise position_error(formula, what, at=at + shift) from None
    except ParseError as error:
        token = getattr(error, "token", None)
        at = getattr(token, "position", None)
        found = re.search(r"parse '(.*)'", str(error))
        lexeme = found.group(1) if found else token.lexeme if at is not None else ""
        what = f"unexpected {lexeme!r}" if lexeme else "the formula ends too early"
        if lexeme == "|":
            what += " (write '(1 + x | g)' for correlated terms; '||' is not supported)"
        if lexeme == ".":
            what += " (a formula names columns and calls functions; it has no attributes)"
        at = None if at is None or token.lexeme != lexeme else at + shift
        raise position_error(formula, what, lexeme, at) from None
    except RecursionError:
        raise ConfigError(f"formula {formula!r} is nested too deeply to read") from None
    if parser.current < len(tokens) - 1:  # formulae stops at what it cannot read
        token = tokens[parser.current]
        what = f"unexpected {token.lexeme!r}"
        if token.lexeme == "|":
            what = "a group term must be in parentheses, as in '(1 | g)'"
        if token.kind in COMPARISONS:
            what = f"a comparison {token.lexeme!r} outside I(...): write I(x {token.lexeme} 3)"
        at = getattr(token, "position", None)
        raise position_error(formula, what, token.lexeme, None if at is None else at + shift)
    return tokens, parser, tree


def _too_many_terms(formula: str, how_many: str) -> ConfigError:
    return ConfigError(
        f"formula {formula!r} {how_many}; at most {MAX_TERMS} terms (common and group "
        "terms, after expanding '*', '/' and '**') are supported: more than the data of a "
        "return programme can identify. Combine levels, or drop terms"
    )


def check_columns(formula: str, names: set[str], data: pd.DataFrame) -> None:
    for name in sorted(names):
        if name in data.columns:
            continue
        known = [str(c) for c in data.columns]
        if "nationality" in data.columns:
            known.append(REGION_COLUMN)  # derived where a formula names it
        if "outcome" in data.columns and ASSISTED_RESPONSE not in known:
            known.append(ASSISTED_RESPONSE)  # derived from a case file's outcome
        near = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise position_error(formula, f"unknown column {name!r} (not in the data{hint})", name)

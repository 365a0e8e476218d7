"""What a formula may call, checked on its parsed tree before anything is evaluated.

A formula is data, not code: it reaches the package from the command line, batch files
and notebook parameters, and ``formulae`` would evaluate any call in it in the caller's
namespace (``np.save(...)``, ``pd.read_csv(...)``). Here

* :func:`parse_rhs` scans and parses a formula with each token's position, and
  :func:`check_calls` walks the tree: only the functions of :data:`FUNCTIONS` may be
  called, with columns, numbers and arithmetic inside; anything else is refused, naming
  the function and its position, before a value is computed;
* :func:`namespace` is the only namespace the allowed functions are evaluated in (the
  caller's globals are never reachable), and :func:`read_raw_and_centre` makes every call
  read its columns' *raw* values and centres its result at its case-weighted mean, so a
  transform means what it says (``log(x)`` of the column, not of the centred column) and
  new rows go the same way (margins, :meth:`FormulaDesign.encode`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from math import comb

import numpy as np
import pandas as pd
from formulae import expr as fexpr
from formulae.parser import Parser
from formulae.scanner import Scanner
from formulae.terms import Call as CallTerm
from formulae.terms import Term
from formulae.terms.call_resolver import LazyCall, LazyOperator, LazyValue, LazyVariable
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from returnmodels.errors import ConfigError

__all__ = [
    "COMPARISONS",
    "FUNCTIONS",
    "MAX_TERMS",
    "Usage",
    "check_calls",
    "check_domains",
    "namespace",
    "parse_rhs",
    "position_error",
    "read_raw_and_centre",
    "term_bound",
]

#: The functions a formula may call (README, Writing a model), and what each does.
FUNCTIONS: dict[str, str] = {
    "C": "C(x) or C(x, Treatment(level)): x as categorical",
    "I": "I(expression): columns, numbers, + - * / ** and comparisons",
    "log": "log(x): natural log, x > 0",
    "exp": "exp(x)",
    "sqrt": "sqrt(x): x >= 0",
    "scale": "scale(x): x over its case-weighted SD",
    "center": "center(x): x (centred at its case-weighted mean, as every numeric term)",
    "poly": "poly(x, degree): orthogonal polynomial of degree 1 to 5",
}
#: Functions formulae knows that are refused, with the reason.
_REFUSED = {
    "offset": "offset() is not supported: the sampler has no term with a coefficient fixed "
    "at 1 (write the column as a term to estimate its coefficient)",
    "Treatment": 'Treatment(...) goes inside C(...), as in C(x, Treatment("level"))',
}
#: At most this many terms (common and group terms after expansion): a model of uptake
#: with more is not one the data can identify, and formulae's expansion of products of
#: sums grows exponentially before anything else could refuse it.
MAX_TERMS = 100
_MAX_DEGREE = 5
_ARITHMETIC = {"PLUS", "MINUS", "STAR", "SLASH", "STAR_STAR"}
COMPARISONS = {"EQUAL_EQUAL", "BANG_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL"}
_FORMULA_OPERATORS = {"PLUS", "MINUS", "STAR", "SLASH", "COLON", "STAR_STAR"}
#: Internal names of our own stateful transforms (formulae's own ``scale`` and
#: ``center`` would take precedence over the namespace, unweighted, over cells).
_OWN = {"scale": "rm_scale", "center": "rm_center"}


# ---------------------------------------------------------------- positions and messages


def _shown(char: str) -> str:
    """A character as the message shows it: itself, or ``\\u00a0`` when invisible."""
    return char if char == " " or char.isprintable() else f"\\u{ord(char):04x}"


def position_error(formula: str, what: str, lexeme: str = "", at: int | None = None) -> ConfigError:
    """A :class:`ConfigError` naming ``what`` and its position, with a caret under it.

    ``at`` is the 0-based position in ``formula`` (else the first ``lexeme``). Invisible
    characters (a no-break space, a zero-width space) are shown as ``\\u00a0`` so the line
    and its caret read the same as the formula."""
    if at is None:
        at = formula.find(lexeme) if lexeme else len(formula)
        at = len(formula) if at < 0 else at
    shown = [_shown(c) for c in formula]
    pointer = " " * sum(len(s) for s in shown[:at]) + "^"
    return ConfigError(f"formula: {what} at position {at + 1}:\n  {''.join(shown)}\n  {pointer}")


def describe_character(char: str) -> str:
    """``'$'``, or ``'\\xa0' (U+00A0 NO-BREAK SPACE)`` for one that cannot be seen."""
    if char.isprintable() and not char.isspace():
        return repr(char)
    name = unicodedata.name(char, "")
    return f"{char!r} (U+{ord(char):04X}{' ' + name if name else ''})"


class _Scanner(Scanner):
    """formulae's scanner, recording each token's position in the text."""

    def add_token(self, kind, literal=None):
        super().add_token(kind, literal)
        self.tokens[-1].position = self.start


class _Parser(Parser):
    """formulae's parser, recording each primary node's position (its first token's)."""

    def primary(self):
        token = self.peek()
        node = super().primary()
        if getattr(node, "position", None) is None:
            node.position = getattr(token, "position", None)
        return node


def parse_rhs(text: str):
    """``(tokens, parser, tree)`` of ``text`` (``response ~ terms``), positions recorded.
    Raises formulae's ScanError and ParseError, with ``position`` (of the bad character)
    and ``token`` (where the parser stopped) added."""
    scanner = _Scanner(text)
    try:
        tokens = scanner.scan()
    except Exception as error:
        error.position = scanner.start
        raise
    parser = _Parser(tokens)
    try:
        tree = parser.parse()
    except Exception as error:
        error.token = parser.peek()  # where the parser stopped
        raise
    return tokens, parser, tree


# ---------------------------------------------------------------- the tree check


@dataclass
class Usage:
    """How a formula uses its columns: as themselves (``bare``), inside a call
    (``in_calls``), as ``C(x)`` (``categorical``), and ``C(x, Treatment(level))``."""

    bare: set[str] = field(default_factory=set)
    in_calls: set[str] = field(default_factory=set)
    categorical: set[str] = field(default_factory=set)
    treatment: dict[str, object] = field(default_factory=dict)


class _Check:
    """One walk over a parsed formula (see :func:`check_calls`)."""

    def __init__(self, formula: str, shift: int):
        self.formula = formula
        self.shift = shift
        self.usage = Usage()

    def refuse(self, what: str, node) -> ConfigError:
        position = _position_of(node)
        at = None if position is None else position + self.shift
        return position_error(self.formula, what, at=at)

    # the formula's own operators, outside any call
    def terms(self, node) -> None:
        if isinstance(node, fexpr.Grouping):
            inner = node.expression
            if isinstance(inner, fexpr.Binary) and inner.operator.kind == "PIPE":
                self.terms(inner.left)
                self.factor(inner.right)
            else:
                self.terms(inner)
        elif isinstance(node, fexpr.Binary):
            kind = node.operator.kind
            if kind in COMPARISONS:
                raise self.refuse(
                    f"a comparison {node.operator.lexeme!r} outside I(...): write it as "
                    f"I(x {node.operator.lexeme} 3)",
                    node.operator,
                )
            if kind not in _FORMULA_OPERATORS | {"PIPE"}:
                raise self.refuse(f"unexpected {node.operator.lexeme!r}", node.operator)
            if kind == "STAR_STAR":  # (a + b)**2: all interactions up to order 2
                self.terms(node.left)
                power = node.right
                if not (
                    isinstance(power, fexpr.Literal)
                    and _is_number(power.value)
                    and float(power.value).is_integer()
                    and power.value >= 1
                ):
                    raise self.refuse("'**' between terms takes a whole number", node.operator)
                return
            self.terms(node.left)
            self.terms(node.right)
        elif isinstance(node, fexpr.Unary):
            self.terms(node.right)
        elif isinstance(node, fexpr.Variable | fexpr.QuotedName):
            self.usage.bare.add(_column_name(node))
        elif isinstance(node, fexpr.Literal):
            if _is_number(node.value) and node.value in (0, 1):
                return
            raise self.refuse(
                f"{_literal_text(node)} outside a function: only 0 and 1 (the intercept) "
                "may stand alone",
                node,
            )
        elif isinstance(node, fexpr.Call):
            self.call(node)
        else:  # Assign
            raise self.refuse("'=' is not part of a formula", node)

    def factor(self, node) -> None:
        """The right of ``|``: columns, ``a:b`` and ``a/b``."""
        if isinstance(node, fexpr.Grouping):
            self.factor(node.expression)
        elif isinstance(node, fexpr.Binary) and node.operator.kind in ("COLON", "SLASH"):
            self.factor(node.left)
            self.factor(node.right)
        elif isinstance(node, fexpr.Variable | fexpr.QuotedName) and not _subscripted(node):
            return
        else:
            raise self.refuse("a group factor must be a column (or a:b, a/b)", node)

    # calls
    def call(self, node) -> None:
        name = self.callee(node)
        for arg in node.args:
            if isinstance(arg, fexpr.Assign):
                keyword = arg.name.name.lexeme
                raise self.refuse(
                    f"a keyword argument '{keyword}=' in {name}(): formula functions take "
                    "positional arguments only",
                    arg.name,
                )
        if name == "C":
            self.categorical(node)
        elif name == "poly":
            self.poly(node)
        else:
            if len(node.args) != 1:
                raise self.refuse(f"{name}() takes one argument, got {len(node.args)}", node.callee)
            self.inside(node.args[0], name, comparisons=name == "I")

    def callee(self, node) -> str:
        callee = node.callee
        if not isinstance(callee, fexpr.Variable) or _subscripted(callee):
            raise self.refuse("only a function's name can be called", node)
        name = callee.name.lexeme
        if name in FUNCTIONS:
            return name
        if name in _REFUSED:
            raise self.refuse(_REFUSED[name], callee)
        hint = ""
        tail = name.rsplit(".", 1)[-1]
        if "." in name and tail in FUNCTIONS:
            hint = f" (write {tail}(...))"
        raise self.refuse(
            f"unknown function {name!r}{hint}: a formula may call only {', '.join(FUNCTIONS)}",
            callee,
        )

    def categorical(self, node) -> None:
        args = node.args
        if not 1 <= len(args) <= 2:
            raise self.refuse(
                f"C() takes a column and Treatment(level), got {len(args)} arguments", node.callee
            )
        column = args[0]
        if not isinstance(column, fexpr.Variable | fexpr.QuotedName) or _subscripted(column):
            raise self.refuse("C() takes a column, as in C(n_procedures)", column)
        name = _column_name(column)
        self.usage.in_calls.add(name)
        self.usage.categorical.add(name)
        if len(args) == 1:
            return
        contrast = args[1]
        if not (
            isinstance(contrast, fexpr.Call)
            and isinstance(contrast.callee, fexpr.Variable)
            and contrast.callee.name.lexeme == "Treatment"
        ):
            where = contrast.callee if isinstance(contrast, fexpr.Call) else contrast
            raise self.refuse('the second argument of C() can only be Treatment("level")', where)
        levels = contrast.args
        if len(levels) != 1 or not (
            isinstance(levels[0], fexpr.Literal)
            and isinstance(levels[0].value, str | int | float)  # bool too: Treatment(True)
        ):
            raise self.refuse(
                'Treatment() takes one level, as in Treatment("low")', contrast.callee
            )
        self.usage.treatment[name] = levels[0].value

    def poly(self, node) -> None:
        args = node.args
        if not 1 <= len(args) <= 2:
            raise self.refuse(
                f"poly() takes a column and a degree, got {len(args)} arguments", node.callee
            )
        self.inside(args[0], "poly", comparisons=False)
        if len(args) == 2:
            degree = args[1]
            if not (
                isinstance(degree, fexpr.Literal)
                and _is_number(degree.value)
                and float(degree.value).is_integer()
                and 1 <= degree.value <= _MAX_DEGREE
            ):
                raise self.refuse(
                    f"the degree of poly() must be a whole number from 1 to {_MAX_DEGREE}", degree
                )

    def inside(self, node, name: str, *, comparisons: bool) -> None:
        """The inside of a call: columns, numbers, arithmetic (and comparisons in I)."""
        if isinstance(node, fexpr.Grouping):
            self.inside(node.expression, name, comparisons=comparisons)
        elif isinstance(node, fexpr.Binary):
            kind = node.operator.kind
            if kind not in _ARITHMETIC and not (comparisons and kind in COMPARISONS):
                allowed = "+ - * / ** ( )" + (" and comparisons" if comparisons else "")
                raise self.refuse(
                    f"{node.operator.lexeme!r} inside {name}(): only columns, numbers and "
                    f"{allowed}",
                    node.operator,
                )
            self.inside(node.left, name, comparisons=comparisons)
            self.inside(node.right, name, comparisons=comparisons)
        elif isinstance(node, fexpr.Unary):
            self.inside(node.right, name, comparisons=comparisons)
        elif isinstance(node, fexpr.Variable | fexpr.QuotedName):
            if _subscripted(node):
                raise self.refuse(f"a subscript inside {name}(): write the column alone", node)
            self.usage.in_calls.add(_column_name(node))
        elif isinstance(node, fexpr.Literal):
            if not _is_number(node.value):
                raise self.refuse(
                    f"{_literal_text(node)} inside {name}(): only columns and numbers (text "
                    'is allowed only as the level of C(x, Treatment("level")))',
                    node,
                )
        elif isinstance(node, fexpr.Call):
            callee = self.callee(node)  # refuses what is not allowed, naming it
            raise self.refuse(
                f"{callee}() inside {name}(): functions cannot be nested; write each as its "
                "own term",
                node.callee,
            )
        else:
            raise self.refuse(f"'=' inside {name}()", node)


def check_calls(tree, formula: str, shift: int) -> Usage:
    """Refuse every call of the parsed ``tree`` (``response ~ terms``) that is not one of
    :data:`FUNCTIONS` used as documented, naming it and its position (``shift`` maps a
    position in the parsed text to one in ``formula``). Returns how the columns are used."""
    check = _Check(formula, shift)
    rhs = tree.right if isinstance(tree, fexpr.Binary) and tree.operator.kind == "TILDE" else tree
    check.terms(rhs)
    return check.usage


def term_bound(node) -> int:
    """An upper bound of the terms ``node`` expands to (exact for distinct columns), so a
    product of sums too large for formulae is refused before formulae expands it."""
    if isinstance(node, fexpr.Grouping):
        inner = node.expression
        if isinstance(inner, fexpr.Binary) and inner.operator.kind == "PIPE":
            return (term_bound(inner.left) + 1) * term_bound(inner.right)
        return term_bound(inner)
    if isinstance(node, fexpr.Binary):
        kind = node.operator.kind
        left, right = term_bound(node.left), term_bound(node.right)
        if kind == "TILDE":
            return right
        if kind == "MINUS":
            return left
        if kind == "COLON":
            return left * right
        if kind == "STAR":
            return left + right + left * right
        if kind == "SLASH":
            return left + left * right
        if kind == "STAR_STAR" and isinstance(node.right, fexpr.Literal):
            power = int(node.right.value) if _is_number(node.right.value) else 1
            return _interactions_up_to(left, power)
        return left + right
    if isinstance(node, fexpr.Unary):
        return term_bound(node.right)
    if isinstance(node, fexpr.Literal) and _is_number(node.value) and node.value in (0, 1):
        return 0
    return 1


def _interactions_up_to(n: int, power: int) -> int:
    """The terms of ``(a + b + ...)**power`` with ``n`` terms inside: every product of
    up to ``power`` of them (counted only until the count passes :data:`MAX_TERMS`)."""
    total = 0
    for k in range(1, min(power, n) + 1):
        total += comb(n, k)
        if total > MAX_TERMS:
            break
    return total


def _position_of(node):
    if isinstance(node, fexpr.Call):
        return _position_of(node.callee)
    if isinstance(node, fexpr.Binary):
        return _position_of(node.left)
    if isinstance(node, fexpr.Assign):
        return _position_of(node.name)
    if isinstance(node, fexpr.Unary):
        return getattr(node.operator, "position", None)
    return getattr(node, "position", None)


def _column_name(node) -> str:
    if isinstance(node, fexpr.QuotedName):
        return node.expression.lexeme[1:-1]
    return node.name.lexeme


def _subscripted(node) -> bool:
    return isinstance(node, fexpr.Variable) and node.level is not None


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _literal_text(node) -> str:
    value = node.value
    if isinstance(value, str):
        return f"the text {value!r}"
    if _is_number(value):
        return f"the number {value!r}"
    return f"{value!r}"


# ---------------------------------------------------------------- evaluation


def _values(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _first_bad(bad: np.ndarray) -> str:
    rows = np.flatnonzero(bad)
    more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
    return f"row {rows[0] + 1}{more}"


def _log(x):
    values = _values(x)
    if np.any(values <= 0):
        raise ConfigError(
            f"log() needs values > 0; the rows given have one at {_first_bad(values <= 0)}"
        )
    return np.log(values)


def _sqrt(x):
    values = _values(x)
    if np.any(values < 0):
        raise ConfigError(
            f"sqrt() needs values >= 0; the rows given have one at {_first_bad(values < 0)}"
        )
    return np.sqrt(values)


def _exp(x):
    with np.errstate(over="ignore"):
        values = np.exp(_values(x))
    if not np.all(np.isfinite(values)):
        raise ConfigError(
            f"exp() overflows at {_first_bad(~np.isfinite(values))} of the rows given"
        )
    return values


def _identity(x):
    return _values(x)


def _weighted_scale(weights: np.ndarray):
    """A factory of formulae's stateful-transform kind: ``scale(x)`` divides by the
    case-weighted SD of x, remembered from the first (the model's) evaluation."""

    class WeightedScale:
        def __init__(self):
            self.sd = None

        def __call__(self, x):
            values = _values(x)
            if self.sd is None:
                mean = np.average(values, weights=weights)
                self.sd = float(np.sqrt(np.average((values - mean) ** 2, weights=weights)))
                if not self.sd > 0:
                    raise ConfigError("scale(): its argument is constant in the data")
            return values / self.sd

    factory = WeightedScale
    factory.__stateful_transform__ = True
    return factory


def namespace(weights: np.ndarray) -> dict:
    """The only names a formula's calls are evaluated with (besides formulae's own ``C``,
    ``I``, ``poly`` and ``Treatment``, which the tree check has vetted): the transforms."""
    return {
        "log": _log,
        "exp": _exp,
        "sqrt": _sqrt,
        "rm_scale": _weighted_scale(np.asarray(weights, dtype=float)),
        "rm_center": _identity,
    }


class _CentredCall(LazyCall):
    """A call whose numeric value is centred at its case-weighted mean over the model's
    cells, the mean remembered (new rows are centred at the model's mean)."""

    def __init__(self, inner: LazyCall, weights: np.ndarray, label: str):
        super().__init__(inner.callee, inner.args, inner.kwargs)
        self.weights = weights
        self.label = label
        self.centre = None

    def eval(self, data_mask, env):
        try:
            with np.errstate(all="ignore"):
                values = _values(super().eval(data_mask, env))
        except ArithmeticError:  # a float power of two numbers overflows
            raise ConfigError(f"{self.label} overflows (its numbers are too large)") from None
        if not np.all(np.isfinite(values)):
            raise ConfigError(
                f"{self.label} is not a finite number at {_first_bad(~np.isfinite(values))} "
                "of the rows given"
            )
        if self.centre is None:
            self.centre = np.average(values, axis=0, weights=self.weights)
        return values - self.centre


def _calls_of(description) -> list[CallTerm]:
    """Every call component of the model's common terms and group terms' left sides."""
    terms = list(description.common_terms)
    for group in description.group_terms:
        terms.append(group.expr)  # a factor is a column (the tree check)
    found, seen = [], set()
    for term in terms:
        for component in getattr(term, "components", ()) if isinstance(term, Term) else ():
            if isinstance(component, CallTerm) and id(component) not in seen:
                seen.add(id(component))
                found.append(component)
    return found


def _rewrite(node, aliases: Mapping[str, str], *, keep_ints: bool = False):
    """A lazy expression reading the raw (alias) columns, its numbers as floats (so
    ``10 ** 10 ** 10`` overflows at once instead of computing a huge integer)."""
    if isinstance(node, LazyVariable):
        return LazyVariable(aliases.get(node.name, node.name))
    if isinstance(node, LazyValue):
        if isinstance(node.value, int) and not isinstance(node.value, bool) and not keep_ints:
            return LazyValue(float(node.value), node.lexeme)
        return node
    if isinstance(node, LazyOperator):
        return LazyOperator(node.op, *[_rewrite(a, aliases) for a in node.args])
    if isinstance(node, LazyCall):
        return LazyCall(node.callee, [_rewrite(a, aliases) for a in node.args], dict(node.kwargs))
    return node


def _floats(call: LazyCall) -> LazyCall:
    """``call`` with its numbers as floats and our own scale/center, columns unchanged."""
    args = [
        _rewrite(a, {}, keep_ints=call.callee == "poly" and i == 1) for i, a in enumerate(call.args)
    ]
    return LazyCall(_OWN.get(call.callee, call.callee), args, dict(call.kwargs))


def read_raw_and_centre(
    description, raw: Mapping[str, str], coded: set[str], weights: np.ndarray
) -> list:
    """Point every call of ``description`` at its columns' raw values (``raw``: column ->
    the frame's column holding them) and, but for ``C()``, centre its value at its
    case-weighted mean (``weights``: the cells' cases). ``C(x)`` reads the coded column
    instead where the model codes x's levels itself (``coded``: its reference first).
    Returns the centred calls (``centre`` is set once formulae has evaluated them)."""
    centred = []
    for component in _calls_of(description):
        call = component.call
        if call.callee == "C":
            keep = {k: v for k, v in raw.items() if k not in coded}
            args = [_rewrite(call.args[0], keep), *call.args[1:]]
            component.call = LazyCall("C", args, dict(call.kwargs))
            continue
        plain = _floats(call)
        args = [
            _rewrite(a, raw, keep_ints=plain.callee == "poly" and i == 1)
            for i, a in enumerate(plain.args)
        ]
        wrapped = _CentredCall(LazyCall(plain.callee, args, plain.kwargs), weights, component.name)
        component.call = wrapped
        centred.append(wrapped)
    return centred


def _columns_of(node) -> list[str]:
    """The columns a lazy expression reads."""
    if isinstance(node, LazyVariable):
        return [node.name]
    children = getattr(node, "args", ())
    return [column for child in children for column in _columns_of(child)]


def check_domains(description, rows: pd.DataFrame, formula: str, env) -> None:
    """Evaluate every call's argument on the data rows as given (raw columns) and refuse
    a value outside the function's domain, naming the call, the argument, the first
    offending data row (1 = the first data row) and its value: ``log`` needs > 0,
    ``sqrt`` >= 0, and every value must be finite (``exp`` of a large number, ``x / 0``)."""
    for component in _calls_of(description):
        call = component.call
        if call.callee == "C":
            continue
        argument = call.args[0]
        for column in _columns_of(call):
            values = rows[column]
            if not (is_numeric_dtype(values) or is_bool_dtype(values)):
                raise ConfigError(
                    f"formula {formula!r}: {component.name} needs numbers, but {column!r} "
                    "is categorical (a categorical column stands alone as a term, or in "
                    "C(...))"
                )
        try:
            with np.errstate(all="ignore"):
                values = _values(_floats(call).args[0].eval(rows, env))  # fresh nodes
                exp = np.exp(values) if call.callee == "exp" else values
        except ArithmeticError:  # a float power of two numbers overflows
            raise ConfigError(
                f"formula {formula!r}: {component.name} overflows (its numbers are too large)"
            ) from None
        values = np.broadcast_to(values, (len(rows),) + np.shape(values)[1:])
        checks = [(~np.isfinite(values), "a finite number")]
        if call.callee == "log":
            checks.append((values <= 0, "> 0"))
        elif call.callee == "sqrt":
            checks.append((values < 0, ">= 0"))
        elif call.callee == "exp":
            checks.append((~np.isfinite(exp), "small enough for exp() (< 709)"))
        for bad, needed in checks:
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                hint = ""
                if call.callee == "log" and isinstance(argument, LazyVariable):
                    hint = f"; write log({argument} + 1), or keep {argument} linear"
                raise ConfigError(
                    f"formula {formula!r}: {component.name} needs {argument} to be {needed}, "
                    f"but it is {values[k]:g} at data row {k + 1} ({int(bad.sum())} data "
                    f"row(s) in all){hint}"
                )

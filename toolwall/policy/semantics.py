"""What values and operators mean at run time: the one definition the checker, the constant
folder and the compiler share.

Values are JSON: string, number, boolean, null, list, object (and regexes, which only literals
and `let`s produce). Runtime type rules (docs/DESIGN.md, "Types and errors"): `==`/`!=` never
fail and never coerce; ordering and arithmetic need numbers (booleans are not numbers); anything
that does not fit raises `RuleEvalError`, which the rules stage turns into a fail-closed outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from toolwall.policy.builtins.paths import under
from toolwall.policy.errors import BuiltinError, RuleEvalError

# The names every expression can start from; a rule or `let` cannot take one of them.
ROOTS: Final = frozenset({"args", "caller", "session", "tool"})
CALLER_FIELDS: Final = frozenset(
    {"sub", "iss", "groups", "tools", "claims", "authenticated", "session"}
)
SESSION_FIELDS: Final = frozenset({"tainted", "calls"})


def type_name(value: Any) -> str:
    """The rule language's name for the type of a value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "object"
    if hasattr(value, "search"):
        return "regex"
    return type(value).__name__


def an(value: Any) -> str:
    """`a string`, `an integer`: the type of a value with its article, for messages."""
    name = type_name(value)
    return ("an " if name[0] in "aeiou" else "a ") + name


NUMBER_TYPES: Final = frozenset({int, float})


def is_number(value: Any) -> bool:
    # `type(...) in` rather than isinstance: bool is an int subclass but not a number here.
    return type(value) in NUMBER_TYPES


def require_bool(value: Any, what: str) -> bool:
    """`value` when it is true or false; `what` (a condition, `and`, ...) needs nothing else."""
    if value is True or value is False:
        return value
    raise RuleEvalError(f"{what} needs true or false, not {an(value)}")


def require_list(value: Any, what: str) -> list[Any] | tuple[Any, ...]:
    """`value` when it is a list: what a quantifier ranges over."""
    if isinstance(value, list | tuple):
        return value
    raise RuleEvalError(f"{what} needs a list, not {an(value)}")


def negate(value: Any) -> Any:
    """Unary `-`."""
    if is_number(value):
        return -value
    raise RuleEvalError(f"unary `-` needs a number, not {an(value)}")


# -- comparisons -------------------------------------------------------------------------------


def equal(a: Any, b: Any) -> bool:
    """JSON equality: values of different types are unequal; `1 == 1.0`; `true != 1`."""
    if a is b:
        return True
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is list or ta is tuple:
            return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
        if ta is dict:
            return a.keys() == b.keys() and all(equal(v, b[k]) for k, v in a.items())
        return bool(a == b)
    if ta is bool or tb is bool:
        return False
    if is_number(a) and is_number(b):
        return bool(a == b)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    return False


def member(item: Any, container: Any) -> bool:
    """`item in container`: list membership, substring, or key of an object."""
    if isinstance(container, list | tuple):
        return any(equal(item, x) for x in container)
    if isinstance(container, str):
        if not isinstance(item, str):
            raise RuleEvalError(f"`in` a string needs a string on the left, not {an(item)}")
        return item in container
    if isinstance(container, dict):
        if not isinstance(item, str):
            raise RuleEvalError(f"`in` an object needs a string key on the left, not {an(item)}")
        return item in container
    raise RuleEvalError(f"`in` needs a list, string or object on the right, not {an(container)}")


def _order(op: str) -> Callable[[Any, Any], bool]:
    compare: Callable[[Any, Any], bool] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }[op]

    def ordered(a: Any, b: Any) -> bool:
        if is_number(a) and is_number(b):
            return compare(a, b)
        raise RuleEvalError(f"`{op}` compares numbers, not {an(a)} with {an(b)}")

    return ordered


def _strings(op: str, check: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def strings(a: Any, b: Any) -> bool:
        if isinstance(a, str) and isinstance(b, str):
            return check(a, b)
        raise RuleEvalError(f"`{op}` needs two strings, not {an(a)} and {an(b)}")

    return strings


def _under(child: str, parent: str) -> bool:
    try:
        return bool(under(child, parent))
    except BuiltinError as exc:
        raise RuleEvalError(f"`under`: {exc}") from None


# Every comparison but `matches`, whose right side is a regex known at load time.
COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "==": equal,
    "!=": lambda a, b: not equal(a, b),
    "<": _order("<"),
    "<=": _order("<="),
    ">": _order(">"),
    ">=": _order(">="),
    "in": member,
    "not in": lambda a, b: not member(a, b),
    "contains": lambda a, b: member(b, a),
    "startswith": _strings("startswith", lambda a, b: a.startswith(b)),
    "endswith": _strings("endswith", lambda a, b: a.endswith(b)),
    "under": _strings("under", _under),
}


def matcher(regex: Any) -> Callable[[Any], bool]:
    """`value matches regex` as a function of the value, `regex` a compiled `Regex` (a literal
    or a `let`, known at load time)."""
    search = regex.search

    def matches(value: Any) -> bool:
        if isinstance(value, str):
            try:
                return bool(search(value))
            except BuiltinError as exc:
                raise RuleEvalError(f"`matches`: {exc}") from None
        raise RuleEvalError(f"`matches` needs a string on the left, not {an(value)}")

    return matches


# -- arithmetic --------------------------------------------------------------------------------


def _add(a: Any, b: Any) -> Any:
    if is_number(a) and is_number(b):
        return a + b
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return [*a, *b]
    raise RuleEvalError(f"`+` cannot combine {an(a)} and {an(b)}")


def _arith(op: str, fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def arith(a: Any, b: Any) -> Any:
        if is_number(a) and is_number(b):
            return fn(a, b)
        raise RuleEvalError(f"`{op}` needs numbers, not {an(a)} and {an(b)}")

    return arith


def _div(a: Any, b: Any) -> Any:
    if b == 0:
        raise RuleEvalError("division by zero")
    return a / b


ARITH: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "+": _add,
    "-": _arith("-", lambda a, b: a - b),
    "*": _arith("*", lambda a, b: a * b),
    "/": _arith("/", _div),
}


# -- references --------------------------------------------------------------------------------

# What a step into a value finds where the field or element does not exist.
MISSING: Final = object()


def step(value: Any, key: Any, label: Callable[[], str]) -> Any:
    """One step into a value (`key` a field name or a list index); `MISSING` when the field or
    element does not exist. `label()` names the value stepped into, for type errors."""
    if isinstance(key, str):
        if isinstance(value, dict):
            return value.get(key, MISSING)
        raise RuleEvalError(f"{label()} is {an(value)}, not an object")
    if isinstance(key, bool) or not isinstance(key, int):
        raise RuleEvalError(f"a list index must be an integer, not {an(key)}")
    if isinstance(value, list | tuple):
        return value[key] if 0 <= key < len(value) else MISSING
    raise RuleEvalError(f"{label()} is {an(value)}, not a list")

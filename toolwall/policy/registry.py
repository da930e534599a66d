"""Every builtin function of the rule language, declared once.

A `Builtin` says what the checker, the compiler, the constant folder and the documentation need:
its name, its parameters (their static types and forms), its result type, what of the call's
environment it reads (`needs`), its implementation and a one-line description. The checker types
calls from it, the compiler turns a call into a closure that calls `implementation` directly
(the registry is read at compile time only), and `docs/builtins.md` carries the table that
`reference.reference_table()` renders from it (a test keeps the two equal).

Adding a builtin: write its implementation (a library function in a module of this package,
adapted here when it works on strings only), declare it in `BUILTINS`, test it, and regenerate
the table in docs/builtins.md with `python -m toolwall.policy.reference docs/builtins.md`.

The implementation is called with, in order: what `needs` names (the session, the caller), then
one value per parameter: the argument's value for a `value` parameter, the compiled `Regex`
for a `regex` parameter, and for a `reference` parameter the value at the reference, or
`MISSING` when it does not exist (never an error). It raises `RuleEvalError` for a value it
cannot handle, which fails the rule closed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from toolwall.errors import StateIncomplete
from toolwall.model import SessionView
from toolwall.policy.builtins.hosts import domain
from toolwall.policy.builtins.paths import norm_path
from toolwall.policy.builtins.private import is_private
from toolwall.policy.builtins.regexes import Regex, replace
from toolwall.policy.builtins.urls import host, scheme
from toolwall.policy.errors import BuiltinError, RuleEvalError
from toolwall.policy.semantics import MISSING, an
from toolwall.policy.static_types import (
    ANY,
    BOOLEAN,
    LIST,
    NUMBER,
    OBJECT,
    REGEX,
    STRING,
    Types,
)

# How an argument is given: an expression evaluated per call (`value`), a regex known at load
# time (`regex`: a literal or a `let` bound to one), or a field that may be missing (`reference`).
ParamForm = Literal["value", "regex", "reference"]
# What of the call's environment an implementation reads, besides its arguments.
Need = Literal["session", "caller"]


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: its name in the documentation, the static types it accepts, its form.

    `tool_pattern`: the argument is a glob of tool names; a literal one that matches no known
    tool is a warning (the call's answer is then always the same).
    `constant`: the argument must be known at load time (a literal, or a `let` bound to one):
    a time window is part of the policy, and the state fetches it with the session.
    """

    name: str
    types: Types
    form: ParamForm = "value"
    tool_pattern: bool = False
    constant: bool = False


@dataclass(frozen=True, slots=True)
class Builtin:
    """One builtin function of the rule language."""

    name: str
    params: tuple[Param, ...]
    result: Types
    implementation: Callable[..., Any]
    doc: str
    needs: tuple[Need, ...] = ()
    # A time window over the session's (or the caller's) calls: its `seconds` argument (the
    # last, a `constant`) is what the rules ask the state to fetch (`SessionNeeds`).
    window: Literal["session", "caller"] | None = None

    @property
    def arity(self) -> int:
        return len(self.params)

    @property
    def constant(self) -> bool:
        """Whether a call with constant arguments is a constant (allowed in a `let` value): it
        reads nothing of the call's environment and probes no field."""
        return not self.needs and all(p.form != "reference" for p in self.params)


# -- implementations: rule values in, library functions called -----------------------------------


def on_string(name: str, function: Callable[[str], Any]) -> Callable[[Any], Any]:
    """A library function on strings as a builtin: any other value, and any `BuiltinError`, is a
    rule error naming the builtin."""

    def call(value: Any) -> Any:
        if not isinstance(value, str):
            raise RuleEvalError(f"{name}() needs a string, not {an(value)}")
        try:
            return function(value)
        except BuiltinError as exc:
            raise RuleEvalError(f"{name}(): {exc}") from None

    return call


def length(value: Any) -> int:
    if isinstance(value, str | list | tuple | dict):
        return len(value)
    raise RuleEvalError(f"len() needs a string, list or object, not {an(value)}")


def exists(value: Any) -> bool:
    # Whatever stands in the way (a string where an object was expected, a bad index), the
    # compiled reference gives MISSING: has() never fails.
    return value is not MISSING


def count_calls(session: SessionView, pattern: Any) -> int:
    if not isinstance(pattern, str):
        raise RuleEvalError("count() needs a tool pattern string")
    return session.count(pattern)


def called(session: SessionView, pattern: Any) -> bool:
    if not isinstance(pattern, str):
        raise RuleEvalError("called() needs a tool pattern string")
    return session.count(pattern) > 0


def _window(name: str) -> Callable[[SessionView, Any, Any], int]:
    """`count_within` or `caller_count_within`: the view's method of the same name, with the
    arguments checked and a count the state cannot give exactly turned into a rule error."""

    def count(session: SessionView, pattern: Any, seconds: Any) -> int:
        if not isinstance(pattern, str):
            raise RuleEvalError(f"{name}() needs a tool pattern string")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise RuleEvalError(f"{name}() needs a number of seconds, not {an(seconds)}")
        try:
            counted: int = getattr(session, name)(pattern, seconds)
        except StateIncomplete as exc:
            raise RuleEvalError(f"{name}(): {exc}") from None
        return counted

    return count


def replace_all(value: Any, regex: Regex, replacement: Any) -> Any:
    if not isinstance(value, str) or not isinstance(replacement, str):
        raise RuleEvalError(f"replace() needs strings, not {an(value)} and {an(replacement)}")
    try:
        return replace(value, regex, replacement)
    except BuiltinError as exc:
        raise RuleEvalError(f"replace(): {exc}") from None


# -- the declarations -------------------------------------------------------------------------

_TEXT: Final = (Param("s", STRING),)
_URL: Final = (Param("url", STRING),)
_TOOLS: Final = (Param("pattern", STRING, tool_pattern=True),)
_WINDOW: Final = (*_TOOLS, Param("seconds", NUMBER, constant=True))


def declare(*builtins: Builtin) -> Mapping[str, Builtin]:
    """The registry of `builtins` by name; a name declared twice is a mistake."""
    table: dict[str, Builtin] = {}
    for builtin in builtins:
        if builtin.name in table:
            raise ValueError(f"builtin {builtin.name}() is declared twice")
        table[builtin.name] = builtin
    return table


BUILTINS: Final[Mapping[str, Builtin]] = declare(
    Builtin(
        "len",
        (Param("x", STRING | LIST | OBJECT),),
        NUMBER,
        length,
        "characters of a string, items of a list, keys of an object",
    ),
    Builtin("lower", _TEXT, STRING, on_string("lower", str.lower), "the string in lower case"),
    Builtin("upper", _TEXT, STRING, on_string("upper", str.upper), "the string in upper case"),
    Builtin(
        "has",
        (Param("field", ANY, form="reference"),),
        BOOLEAN,
        exists,
        "whether the field exists: the only way to touch a missing field without an error",
    ),
    Builtin(
        "domain",
        (Param("email", STRING),),
        STRING,
        on_string("domain", domain),
        "the domain after the last `@` of an e-mail address, canonical like `host()`",
    ),
    Builtin(
        "host",
        _URL,
        STRING,
        on_string("host", host),
        "the lower-cased host a client connects to for the URL (WHATWG, IDNA, IP forms canonical)",
    ),
    Builtin(
        "scheme",
        _URL,
        STRING,
        on_string("scheme", scheme),
        'the lower-cased scheme of the URL, `""` when it has none',
    ),
    Builtin(
        "path",
        (Param("p", STRING),),
        STRING,
        on_string("path", norm_path),
        "the normalised POSIX path (`.`, `..`, `//` resolved; NUL and control characters refused)",
    ),
    Builtin(
        "is_private",
        (Param("host_or_ip", STRING),),
        BOOLEAN,
        on_string("is_private", is_private),
        "whether a host or IP is not a public internet destination (loopback, private, metadata)",
    ),
    Builtin(
        "count",
        _TOOLS,
        NUMBER,
        count_calls,
        "how many earlier calls of this session to tools matching the glob ran (allowed, "
        "rewritten or approved)",
        needs=("session",),
    ),
    Builtin(
        "called",
        _TOOLS,
        BOOLEAN,
        called,
        "whether an earlier call of this session to a tool matching the glob ran",
        needs=("session",),
    ),
    Builtin(
        "count_within",
        _WINDOW,
        NUMBER,
        _window("count_within"),
        "how many calls of this session to tools matching the glob ran in the last `seconds` "
        "(exact; a rule error when the window reaches past what the state remembers)",
        needs=("session",),
        window="session",
    ),
    Builtin(
        "caller_count_within",
        _WINDOW,
        NUMBER,
        _window("caller_count_within"),
        "how many calls of this caller, in all its sessions, to tools matching the glob ran in "
        "the last `seconds` (exact, like `count_within`)",
        needs=("session",),
        window="caller",
    ),
    Builtin(
        "replace",
        (Param("s", STRING), Param("re", REGEX, form="regex"), Param("with", STRING)),
        STRING,
        replace_all,
        "every match of the regex replaced (RE2 rewrite syntax: `\\0`, `\\1`-`\\9`, `\\\\`)",
    ),
)

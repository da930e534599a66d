"""RE2 regexes of the rule language: `compile_regex`, `search` (`matches`) and `replace`.

RE2 has no backreferences or lookaround, so matching takes time linear in the input: an argument
can never make a rule slow.
"""

from __future__ import annotations

import functools
from typing import Any, Final, final

import re2

from toolwall.policy.builtins.common import DEC_DIGITS, expect_str, show
from toolwall.policy.errors import BuiltinError
from toolwall.regex import finder

__all__ = ["Regex", "compile_regex", "replace", "search"]

# `re2` has no type information; its compiled objects are handled as `Any` only in this section.
_RE2_TYPE: Final[type] = type(re2.compile(""))


@final
class Regex:
    """A compiled RE2 regex with the source and flags it was written with (`/source/flags`).

    Equal when source and flags are equal. Matching is linear in the subject's length.
    """

    __slots__ = ("_compiled", "_finds", "flags", "source")

    def __init__(self, source: str, flags: str, compiled: Any) -> None:
        self.source = source
        self.flags = flags
        self._compiled = compiled
        self._finds = finder(compiled)

    def search(self, subject: str) -> bool:
        """True when the regex matches anywhere in `subject` (not anchored)."""
        return search(self, subject)

    def __repr__(self) -> str:
        return f"/{self.source}/{self.flags}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Regex) and (self.source, self.flags) == (other.source, other.flags)

    def __hash__(self) -> int:
        return hash((self.source, self.flags))


def _message(error: Exception) -> str:
    text = error.args[0] if error.args else str(error)
    if isinstance(text, bytes):
        return text.decode("utf-8", "replace")
    return str(text)


@functools.lru_cache(maxsize=1024)
def _compile(source: str, flags: str) -> Regex:
    options = re2.Options()
    options.log_errors = False  # RE2 would otherwise print every rejected pattern to stderr
    if flags:
        options.case_sensitive = False
    try:
        compiled = re2.compile(source, options)
    except re2.error as error:
        raise BuiltinError(f"RE2 cannot compile /{source}/: {_message(error)}") from None
    except UnicodeError:
        raise BuiltinError(f"regex /{show(source)}/ is not valid Unicode") from None
    return Regex(source, flags, compiled)


def compile_regex(source: str, flags: str = "") -> Regex:
    """Compile a rule regex `/source/flags` with RE2 (cached).

    RE2 syntax is Perl-like (`\\b \\s \\d`, `(?:...)`, `(?P<name>...)`, classes, `{n,m}`) but
    has no backreferences or lookaround: matching takes time linear in the input, so an argument
    can never make a rule slow. The only flag is `i` (case-insensitive). A pattern RE2 rejects,
    or any other flag, raises `BuiltinError` with RE2's message.
    """
    expect_str(source, "regex", "a pattern string")
    expect_str(flags, "regex", "a flags string")
    for flag in flags:
        if flag != "i":
            raise BuiltinError(f"unknown regex flag {flag!r} (the only flag is 'i')")
    if len(flags) > 1:
        raise BuiltinError(f"regex flag 'i' given {len(flags)} times")
    return _compile(source, flags)


def _compiled(regex: object, function: str) -> Any:
    if isinstance(regex, Regex):
        return regex._compiled
    if isinstance(regex, _RE2_TYPE):
        return regex
    raise BuiltinError(f"{function}() expects a regex, not {type(regex).__name__}")


def search(regex: object, s: str) -> bool:
    """True when `regex` (from `compile_regex`) matches anywhere in `s` (DSL: `s matches re`)."""
    finds = regex._finds if isinstance(regex, Regex) else finder(_compiled(regex, "matches"))
    text = expect_str(s, "matches", "a string on its left")
    try:
        return finds(text)
    except UnicodeError:
        raise BuiltinError(f"{show(text)} is not valid Unicode") from None


@functools.lru_cache(maxsize=1024)
def _rewrite_template(repl: str) -> tuple[tuple[str | int, ...], int]:
    """Parse an RE2 rewrite string into literal pieces and group numbers, and the largest group.

    RE2's syntax (`RE2::Replace`): `\\0` is the whole match, `\\1`-`\\9` a group, `\\\\` a
    backslash; a backslash before anything else is an error.
    """
    pieces: list[str | int] = []
    literal: list[str] = []
    highest = 0
    index = 0
    while True:
        found = repl.find("\\", index)
        if found < 0:
            literal.append(repl[index:])
            break
        literal.append(repl[index:found])
        following = repl[found + 1 : found + 2]
        if following == "\\":
            literal.append("\\")
        elif following in DEC_DIGITS:
            pieces.append("".join(literal))
            literal = []
            pieces.append(int(following))
            highest = max(highest, int(following))
        else:
            raise BuiltinError(
                f"invalid replacement {show(repl)}: a backslash must be followed by a digit"
                " (a group) or another backslash"
            )
        index = found + 2
    pieces.append("".join(literal))
    return tuple(piece for piece in pieces if piece != ""), highest


def replace(s: str, regex: object, repl: str) -> str:
    """`s` with every non-overlapping match of `regex` replaced by `repl` (DSL: `replace`).

    `repl` uses RE2's rewrite syntax: `\\0` the whole match, `\\1`-`\\9` groups (an unmatched
    group is empty), `\\\\` a backslash; everything else is literal (no `$1`, no `\\g<name>`,
    no `\\n` escape). A reference to a group the regex does not have raises `BuiltinError`.
    Empty matches are replaced too, as in Python (`replace("ab", /x*/, "-")` is `-a-b-`).
    """
    compiled = _compiled(regex, "replace")
    text = expect_str(s, "replace", "a string as its first argument")
    template = expect_str(repl, "replace", "a string as its replacement")
    pieces, highest = _rewrite_template(template)
    groups: int = compiled.groups
    if highest > groups:
        raise BuiltinError(
            f"replacement {show(template)} refers to group {highest} but the regex has {groups}"
        )

    def expand(match: Any) -> str:
        return "".join(
            piece if isinstance(piece, str) else (match[piece] or "") for piece in pieces
        )

    try:
        result: str = compiled.sub(expand, text)
    except UnicodeError:
        raise BuiltinError(f"{show(text)} is not valid Unicode") from None
    return result

"""Yes-or-no RE2 searches without the cost of a match object. A leaf: it imports nothing of
toolwall.

Schemas (`pattern`) and rules (`matches`) only ask whether a pattern matches somewhere in a
string. google-re2's `search` answers with a `Match` whose str offsets it recomputes in Python,
about 10 µs a call where RE2 itself needs well under one; `finder` asks RE2 directly for the
span of the whole match in the UTF-8 text, through google-re2's internal `_regexp.Match` (not
part of its API). Text RE2 cannot take (a lone surrogate) raises `UnicodeEncodeError`, as
`search` does.

Because that is another library's internal, the first `finder` call runs a self-test: on a probe
set (anchors, a final newline, multi-byte text before and after a match, case folding, empty
matches) the direct predicate must answer exactly as `search`. If it does not, if google-re2 has
no such internals (another version), or when switched off with
`TOOLWALL_DISABLE_FAST_PATHS=re2_match`, every finder uses `search`: slower, same answers.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import re2

DISABLE_ENV = "TOOLWALL_DISABLE_FAST_PATHS"
"""The environment variable listing fast paths to switch off (as in `toolwall.canonical`)."""

RE2_MATCH = "re2_match"
"""This module's fast path, by the name `TOOLWALL_DISABLE_FAST_PATHS` knows it by."""

_UNANCHORED = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
_NO_MATCH = (-1, -1)

# (pattern, case sensitive, texts): where a direct match on UTF-8 bytes could go wrong.
_PROBES: tuple[tuple[str, bool, tuple[str, ...]], ...] = (
    ("^a$", True, ("a", "a\n", "ba", "", "aa")),
    ("b", True, ("abc", "", "é b", "B")),
    ("x$", True, ("éx", "xé", "😀😀x", "x\n")),
    ("é|ü", True, ("aé", "e", "ü")),
    ("\\x{1F600}$", True, ("x😀", "😀x")),
    ("^\\d+$", True, ("123", "١٢٣", "12a")),
    ("^$", True, ("", "\n")),
    ("a|", True, ("", "b")),
    ("\\bword\\b", True, ("a word.", "swords")),
    ("straße", False, ("STRASSE", "Straße", "STRAẞE")),
    ("ABC", False, ("xabcx", "xab")),
)


def fast_path_switched_off(name: str) -> bool:
    """Whether `TOOLWALL_DISABLE_FAST_PATHS` names the fast path `name`."""
    return name in {part.strip() for part in os.environ.get(DISABLE_ENV, "").split(",")}


def _compile(pattern: str, case_sensitive: bool) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = case_sensitive
    return re2.compile(pattern, options)


def _direct(compiled: Any) -> Callable[[str], bool] | None:
    """The predicate that asks RE2 for the match span directly, or None when `compiled` does not
    have google-re2's internals (or does not read UTF-8)."""
    match = getattr(getattr(compiled, "_regexp", None), "Match", None)
    options = getattr(compiled, "options", None)
    utf8 = getattr(options, "encoding", None) == re2.Options.Encoding.UTF8
    if match is None or _UNANCHORED is None or not utf8:
        return None

    def finds(text: str) -> bool:
        encoded = text.encode("utf-8")
        return bool(match(_UNANCHORED, encoded, 0, len(encoded))[0] != _NO_MATCH)

    return finds


def direct_agrees_with_search(
    direct: Callable[[Any], Callable[[str], bool] | None] = _direct,
) -> bool:
    """Whether `direct` answers every probe exactly as google-re2's `search` does."""
    try:
        for pattern, case_sensitive, texts in _PROBES:
            compiled = _compile(pattern, case_sensitive)
            finds = direct(compiled)
            if finds is None:
                return False
            for text in texts:
                if finds(text) is not (compiled.search(text) is not None):
                    return False
    except Exception:  # internals that fail on the probe are not used
        return False
    return True


@functools.cache
def direct_match() -> bool:
    """Whether finders ask RE2 directly: not switched off, and the self-test passed (run once)."""
    return not fast_path_switched_off(RE2_MATCH) and direct_agrees_with_search()


def finder(compiled: Any) -> Callable[[str], bool]:
    """A predicate telling whether `compiled` (from `re2.compile`) matches anywhere in a str."""
    finds = _direct(compiled) if direct_match() else None
    if finds is None:
        return lambda text: compiled.search(text) is not None
    return finds


class Finder:
    """A compiled RE2 pattern with the `search(text)` of Python's `re`, answering truthy/falsy.

    What fastjsonschema's generated code calls for `pattern`, so its regexes can be RE2's.
    """

    __slots__ = ("search",)

    def __init__(self, compiled: Any) -> None:
        self.search = finder(compiled)

"""Yes-or-no RE2 searches without the cost of a match object.

Schemas (`pattern`) and rules (`matches`) only ask whether a pattern matches somewhere in a
string. google-re2's `search` answers with a `Match` whose str offsets it recomputes in Python,
about 10 µs a call where RE2 itself needs well under one; `finder` asks RE2 directly for the
span of the whole match in the UTF-8 text. Text RE2 cannot take (a lone surrogate) raises
`UnicodeEncodeError`, as `search` does. Should google-re2 not look as expected (another
version), `finder` falls back to `search`: slower, same answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import re2

_UNANCHORED = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
_NO_MATCH = (-1, -1)


def finder(compiled: Any) -> Callable[[str], bool]:
    """A predicate telling whether `compiled` (from `re2.compile`) matches anywhere in a str."""
    match = getattr(getattr(compiled, "_regexp", None), "Match", None)
    options = getattr(compiled, "options", None)
    utf8 = getattr(options, "encoding", None) == re2.Options.Encoding.UTF8
    if match is None or _UNANCHORED is None or not utf8:
        return lambda text: compiled.search(text) is not None

    def finds(text: str) -> bool:
        encoded = text.encode("utf-8")
        return bool(match(_UNANCHORED, encoded, 0, len(encoded))[0] != _NO_MATCH)

    return finds


class Finder:
    """A compiled RE2 pattern with the `search(text)` of Python's `re`, answering truthy/falsy.

    What fastjsonschema's generated code calls for `pattern`, so its regexes can be RE2's.
    """

    __slots__ = ("search",)

    def __init__(self, compiled: Any) -> None:
        self.search = finder(compiled)

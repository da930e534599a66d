"""Tool-name patterns, as used in grants, rules and `count()`: exact names or `*` globs.

`*` matches any run of characters, dots included; nothing else is special, so a tool name with
`?` or `[` in it is matched literally. `email.*` covers `email.send` but not `emailx.send`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache


def is_glob(pattern: str) -> bool:
    return "*" in pattern


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """A predicate for one pattern, compiled once."""
    if not is_glob(pattern):
        return pattern.__eq__
    regex = re.compile(
        "".join(".*" if part == "*" else re.escape(part) for part in _split(pattern))
    )
    return lambda name: regex.fullmatch(name) is not None


def _split(pattern: str) -> list[str]:
    return [p for p in re.split(r"(\*)", pattern) if p]


def matches(pattern: str, name: str) -> bool:
    return compile_pattern(pattern)(name)


@lru_cache(maxsize=65536)
def covered(patterns: tuple[str, ...], name: str) -> bool:
    """Whether any of `patterns` covers tool `name` (cached: grants repeat on every call)."""
    return any(compile_pattern(p)(name) for p in patterns)


def matching(pattern: str, names: Iterable[str]) -> list[str]:
    match = compile_pattern(pattern)
    return [n for n in names if match(n)]

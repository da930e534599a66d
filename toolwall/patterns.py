"""Tool names, and the patterns over them used in grants, rules and `count()`: exact names or
`*` globs.

`*` matches any run of characters, dots included; nothing else is special, so a tool name with
`?` or `[` in it is matched literally. `email.*` covers `email.send` but not `emailx.send`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from toolwall.errors import InputRejected

MAX_TOOL_NAME_LENGTH = 256


def check_tool_name(tool: object) -> str:
    """Tool names are compared exactly, so they must be plain, printable, bounded strings."""
    if not isinstance(tool, str):
        raise InputRejected(f"tool name must be a string, not {type(tool).__name__}")
    if not tool:
        raise InputRejected("tool name is empty")
    if len(tool) > MAX_TOOL_NAME_LENGTH:
        raise InputRejected(f"tool name is longer than {MAX_TOOL_NAME_LENGTH} characters")
    # U+0020 is the only character that is both printable and whitespace (Python's
    # `isprintable` excludes the other separators), so this equals checking `isspace` per char.
    if not tool.isprintable() or " " in tool:
        raise InputRejected("tool name contains whitespace or control characters")
    return tool


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

"""The types the checker reasons with, and how messages name them.

A static type is a set of the names `string number boolean null list object regex` (integers
are numbers here); `None` means "unknown": anything goes, nothing is reported.
"""

from __future__ import annotations

from typing import Any, Final

from toolwall.policy.semantics import type_name

Types = frozenset[str] | None

STRING: Final[frozenset[str]] = frozenset({"string"})
NUMBER: Final[frozenset[str]] = frozenset({"number"})
BOOLEAN: Final[frozenset[str]] = frozenset({"boolean"})
LIST: Final[frozenset[str]] = frozenset({"list"})
OBJECT: Final[frozenset[str]] = frozenset({"object"})
NULLABLE_STRING: Final[frozenset[str]] = frozenset({"string", "null"})
REGEX: Final[frozenset[str]] = frozenset({"regex"})
ANY: Final[Types] = None

_ORDER: Final = ("string", "number", "boolean", "null", "list", "object", "regex")


def static_type(value: Any) -> str:
    """The static type of a constant value."""
    name = type_name(value)
    return "number" if name == "integer" else name


def compatible(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether a value of type `a` can equal one of type `b`."""
    return bool(a & b) or ("null" in a and "null" in b)


def names(types: Types) -> str:
    """`string or number`: the types in a fixed order, for messages."""
    if types is None:
        return "value"
    known = [t for t in _ORDER if t in types] + sorted(t for t in types if t not in _ORDER)
    return " or ".join(known)


def article(text: str) -> str:
    """`a string`, `an object`."""
    return ("an " if text[:1] in ("a", "e", "i", "o", "u") else "a ") + text

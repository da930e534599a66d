"""`pattern` and `patternProperties` matched with RE2, not Python's `re`.

jsonschema matches them with Python's `re`, where `$` also matches before a final newline (so
`^[A-Z0-9]+$` accepts "DE44...\\n") and a hostile argument can make a backtracking pattern take
exponential time. toolwall matches them with RE2 instead: linear time, and `$` is the end of the
text as in ECMA-262, which JSON Schema specifies. A pattern RE2 cannot compile (backreferences,
lookaround) is a load error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import re2
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

from toolwall.regex import finder


@functools.lru_cache(maxsize=1024)
def re2_compiled(pattern: str) -> Any:
    """`pattern` compiled by RE2 (cached); raises `re2.error` when RE2 cannot compile it."""
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


@functools.lru_cache(maxsize=1024)
def _finds(pattern: str) -> Callable[[str], bool]:
    return finder(re2_compiled(pattern))


def _pattern(validator: Validator, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not _finds(pattern)(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        finds = _finds(pattern)
        for key, value in instance.items():
            if finds(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


@functools.lru_cache(maxsize=16)
def with_re2(cls: type[Validator]) -> type[Validator]:
    """The jsonschema validator class `cls` with `pattern` and `patternProperties` on RE2."""
    return extend(  # type: ignore[no-any-return,no-untyped-call]
        cls, {"pattern": _pattern, "patternProperties": _pattern_properties}
    )


_NOT_SCHEMAS = frozenset({"enum", "const", "default", "examples"})
_SCHEMA_MAPS = frozenset({"properties", "$defs", "definitions", "dependentSchemas"})


def compile_patterns(schema: Any) -> None:
    """Compile every `pattern` and `patternProperties` key of a schema now, not on first use.

    Raises `re2.error` for the first one RE2 cannot compile.
    """
    for pattern in schema_patterns(schema):
        re2_compiled(pattern)


def schema_patterns(schema: Any) -> Iterator[str]:
    """Every `pattern` and `patternProperties` key of a schema, in its subschemas too."""
    if isinstance(schema, list):
        for item in schema:
            yield from schema_patterns(item)
        return
    if not isinstance(schema, Mapping):
        return
    for key, value in schema.items():
        if key == "pattern" and isinstance(value, str):
            yield value
        elif key == "patternProperties" and isinstance(value, Mapping):
            for pattern, sub in value.items():
                yield pattern
                yield from schema_patterns(sub)
        elif key in _SCHEMA_MAPS and isinstance(value, Mapping):
            for sub in value.values():
                yield from schema_patterns(sub)
        elif key not in _NOT_SCHEMAS:
            yield from schema_patterns(value)

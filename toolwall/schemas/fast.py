"""The compiled fast path: a fastjsonschema validator, for schemas both validators read alike.

It is used only for schemas written entirely in a subset of keywords whose meaning fastjsonschema
and `jsonschema` share exactly (`portable`), and only for arguments of plain JSON types
(`is_plain`). It only ever answers "valid": on "invalid" (or any surprise) `jsonschema` decides
and explains, so the fast path cannot let through what `jsonschema` refuses.

`pattern` is in the subset because fastjsonschema's generated code looks each pattern up in its
module-level `REGEX_PATTERNS` dict at call time, and toolwall puts RE2 finders there in place of
Python's compiled regexes (an internal of fastjsonschema, not its API). Were a fastjsonschema
release to stop consulting that dict, its "valid" would come from Python's `re` (`\\d` taking
Arabic-Indic digits, `{,3}` a repetition where RE2 reads literal text): a fail-open. So the swap
is proven once per process, at the first schema with a pattern, on a probe schema whose
answers differ between RE2 and `re` in both directions; if the proof fails, or when switched off
with `TOOLWALL_DISABLE_FAST_PATHS=fastjsonschema_re2`, schemas with a pattern never take the fast
path (`jsonschema`, matching with RE2, validates them).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import fastjsonschema

from toolwall.regex import Finder, fast_path_switched_off
from toolwall.schemas.regexes import re2_compiled, schema_patterns

FASTJSONSCHEMA_RE2 = "fastjsonschema_re2"
"""This module's fast path, by the name `TOOLWALL_DISABLE_FAST_PATHS` knows it by."""

Compile = Callable[..., Callable[[Any], Any]]

# `$schema` values under which the subset below means the same as in draft-07, which is what
# fastjsonschema implements. Anything else (draft-04's boolean exclusiveMinimum, ...) is left
# to jsonschema.
_PORTABLE_DIALECTS = frozenset(
    {
        "https://json-schema.org/draft/2020-12/schema",
        "https://json-schema.org/draft/2019-09/schema",
        "http://json-schema.org/draft-07/schema#",
        "http://json-schema.org/draft-07/schema",
        "http://json-schema.org/draft-06/schema#",
        "http://json-schema.org/draft-06/schema",
    }
)
# Keywords that only annotate (jsonschema is run without a format checker, so `format` too;
# fastjsonschema is compiled with use_formats=False and use_default=False to match).
_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "format",
        "readOnly",
        "writeOnly",
        "deprecated",
        "$id",
        "$schema",
    }
)
_NUMBER_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_COUNT_KEYWORDS = frozenset(
    {"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"}
)
_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})


def portable(schema: Any) -> bool:
    """Whether `schema` uses only keywords that fastjsonschema and jsonschema agree on.

    `pattern` is in: both paths match it with RE2 (`compile_fast` swaps fastjsonschema's
    Python regexes for RE2's). Left out on purpose: `$ref` and definitions, `items` as a list,
    `contains`, `if`, `dependencies`, `unevaluated*`, `multipleOf` (float arithmetic),
    `uniqueItems` (1 vs true), `patternProperties` (fastjsonschema also uses its regexes to
    decide which properties are "additional").
    """
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, Mapping):
        return False
    dialect = schema.get("$schema")
    if dialect is not None and dialect not in _PORTABLE_DIALECTS:
        return False
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key in _NUMBER_KEYWORDS:
            if not _is_number(value):
                return False
        elif key in _COUNT_KEYWORDS:
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
                return False
        elif key == "type":
            names = value if isinstance(value, list) else [value]
            if not names or not all(isinstance(t, str) and t in _TYPES for t in names):
                return False
        elif key == "required":
            if not (isinstance(value, list) and all(isinstance(k, str) for k in value)):
                return False
        elif key in ("enum", "const"):
            values = value if key == "enum" else [value]
            if not isinstance(values, list) or not all(_is_scalar(v) for v in values):
                return False
        elif key == "pattern":
            if not isinstance(value, str):
                return False
        elif key == "properties":
            if not isinstance(value, Mapping) or not all(portable(sub) for sub in value.values()):
                return False
        elif key in ("items", "additionalProperties", "propertyNames", "not"):
            if not portable(value):
                return False
        elif key in ("allOf", "anyOf", "oneOf"):
            if not isinstance(value, list) or not all(portable(sub) for sub in value):
                return False
        else:
            return False
    return True


_SCALARS = (str, int, float, bool, type(None))


def is_plain(value: Any) -> bool:
    """Whether `value` is made of exactly the types JSON decodes to (finite numbers only)."""
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and is_plain(v) for k, v in value.items())
    if kind is list:
        return all(is_plain(v) for v in value)
    if kind is float:
        return math.isfinite(value)
    return kind in _SCALARS


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)


def compile_fast(schema: Mapping[str, Any]) -> Callable[[Any], Any] | None:
    """A fastjsonschema validator for a portable schema, or None when it has no fast path."""
    patterns = set(schema_patterns(schema))
    if patterns and not re2_patterns_in_use():
        return None
    return compile_with_re2(schema, patterns, fastjsonschema.compile)


def compile_with_re2(
    schema: Mapping[str, Any], patterns: set[str], compile: Compile
) -> Callable[[Any], Any] | None:
    """`schema` compiled by `compile` (fastjsonschema's), its `patterns` swapped for RE2
    finders in the generated code's `REGEX_PATTERNS`; None when it will not compile, or when
    the generated code does not hold exactly those patterns there."""
    definition = dict(schema)
    # fastjsonschema picks its draft from `$schema`; the portable subset reads alike in all.
    definition["$schema"] = "http://json-schema.org/draft-07/schema#"
    try:
        validator = compile(definition, use_default=False, use_formats=False)
    except Exception:  # a schema fastjsonschema cannot compile is validated by jsonschema
        return None
    if patterns:
        compiled = getattr(validator, "__globals__", {}).get("REGEX_PATTERNS")
        if not isinstance(compiled, dict) or set(compiled) != patterns:
            return None
        for pattern in patterns:
            compiled[pattern] = Finder(re2_compiled(pattern))
    return validator


# The probe: patterns where RE2 and Python's `re` (even after fastjsonschema rewrites `$` as
# `\Z`) answer differently, in every position a pattern can take in the portable subset.
_PROBE_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "end": {"type": "string", "pattern": "^a$"},
        "digit": {"type": "string", "pattern": "^\\d$"},
        "braces": {"type": "array", "items": {"type": "string", "pattern": "^a{,3}$"}},
        "any": {"anyOf": [{"type": "string", "pattern": "^\\w$"}, {"type": "integer"}]},
    },
    "propertyNames": {"pattern": "^[a-z]+$"},
}
# (arguments, whether RE2 finds them valid)
_PROBE_CASES: tuple[tuple[Any, bool], ...] = (
    ({"end": "a", "digit": "7", "braces": ["a{,3}"], "any": "x"}, True),
    ({"braces": ["a{,3}"]}, True),  # RE2 reads `{,3}` as text; `re` as a repetition
    ({"end": "a\n"}, False),  # `$` is the end of the text, not before a final newline
    ({"digit": "\u0661"}, False),  # RE2's `\d` is ASCII; `re`'s takes ARABIC-INDIC ONE
    ({"braces": ["aa"]}, False),
    ({"any": "é"}, False),  # RE2's `\w` is ASCII
    ({"end\n": "a"}, False),
)


def re2_patterns_take_effect(compile: Compile) -> bool:
    """Whether validators `compile` builds, once their patterns are swapped, match with RE2:
    every probe case must get RE2's answer."""
    validator = compile_with_re2(_PROBE_SCHEMA, set(schema_patterns(_PROBE_SCHEMA)), compile)
    if validator is None:
        return False
    for arguments, valid in _PROBE_CASES:
        try:
            validator(arguments)
            answer = True
        except Exception:  # fastjsonschema's "invalid", or a failure: either is a no
            answer = False
        if answer is not valid:
            return False
    return True


@functools.cache
def re2_patterns_in_use() -> bool:
    """Whether schemas with a pattern may take the fast path: not switched off, and the swap
    proved to take effect (checked once per process)."""
    return not fast_path_switched_off(FASTJSONSCHEMA_RE2) and re2_patterns_take_effect(
        fastjsonschema.compile
    )

"""The schema registry: one JSON Schema per tool, checked against its metaschema and compiled once.

A folder holds `<tool>.json` files (the file stem is the tool name; the file is a JSON Schema
for the arguments object) and *tool bundles*: a JSON list of tool definitions, or an object with
a `tools` list, in any of the shapes people already give their models:

- OpenAI:    {"type": "function", "function": {"name": ..., "parameters": {...}}}
- Anthropic: {"name": ..., "input_schema": {...}}
- MCP:       {"name": ..., "inputSchema": {...}}
- plain:     {"name": ..., "parameters": {...}}

Validation has two paths. The fast one is a validator compiled to Python by fastjsonschema, used
only for schemas written entirely in a subset of keywords whose meaning fastjsonschema and
`jsonschema` share exactly (see `portable`); it answers yes or no. `jsonschema` stays the
reference: it validates the schemas outside the subset, and computes the violation (message and
JSON path) whenever the fast path says no, so a call is refused only when `jsonschema` refuses it
and is never let through when it would not.

Loading is checked the same way: jsonschema-rs checks each schema against its metaschema in
microseconds, and `jsonschema` decides (and explains) whenever it says no (`_meta_valid_fast`).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema_rs
import re2
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match
from jsonschema.protocols import Validator
from jsonschema.validators import extend, validator_for

from toolwall.errors import InputRejected, SchemaLoadError
from toolwall.patterns import check_tool_name
from toolwall.regex import Finder, finder

# A tool defined without parameters takes none.
NO_PARAMETERS: Mapping[str, Any] = {
    "type": "object",
    "properties": {},
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class SchemaViolation:
    """Why arguments do not satisfy a tool's schema, and where in the arguments."""

    message: str
    json_path: str
    schema_path: str

    def __str__(self) -> str:
        return f"{self.json_path}: {self.message}"


class ToolSchema:
    """A tool's schema with its validators compiled once (the fast one on first use)."""

    __slots__ = ("_fast", "_fast_ready", "_validator", "description", "name", "schema", "source")

    def __init__(
        self, name: str, schema: Mapping[str, Any], source: str, description: str | None = None
    ) -> None:
        self.name = name
        self.schema = schema
        self.source = source
        self.description = description
        try:
            cls = validator_for(schema, default=Draft202012Validator)
        except TypeError:  # an unhashable "$schema"
            raise SchemaLoadError(
                f"{source}: schema of {name!r} is not a valid JSON Schema at $schema: "
                f"{schema.get('$schema')!r} is not a metaschema URI"
            ) from None
        if not _meta_valid_fast(schema):
            try:
                cls.check_schema(dict(schema))
            except SchemaError as exc:
                where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
                raise SchemaLoadError(
                    f"{source}: schema of {name!r} is not a valid JSON Schema at {where}: "
                    f"{exc.message}"
                ) from None
        try:
            _compile_patterns(schema)
        except re2.error as exc:
            raise SchemaLoadError(
                f"{source}: schema of {name!r} has a pattern RE2 cannot compile: {exc}"
            ) from None
        self._validator = _with_re2(cls)(schema)
        # Compiled on first use: loading a thousand tools should not compile a thousand
        # validators that may never be called. `_fast` is None when there is no fast path.
        self._fast: Callable[[Any], Any] | None = None
        self._fast_ready = not portable(schema)

    @property
    def compiled(self) -> bool:
        """Whether this schema validates through the compiled fast path."""
        return self._fast_validator() is not None

    def _fast_validator(self) -> Callable[[Any], Any] | None:
        if not self._fast_ready:
            # Two threads may both compile; either result is the same validator.
            self._fast = _compile_fast(self.schema)
            self._fast_ready = True
        return self._fast

    def fast_valid(self, args: Any) -> bool | None:
        """The compiled validator's answer, or None when the schema has no fast path."""
        fast = self._fast_validator()
        if fast is None:
            return None
        try:
            fast(args)
            return True
        except Exception:  # invalid, or something the compiled code did not expect
            return False

    def violation(self, args: Any, *, plain: bool = False) -> SchemaViolation | None:
        """The most relevant violation, or None when `args` satisfy the schema.

        `plain=True` promises that `args` hold JSON types only (dict, list, str, int, float,
        bool, None), as `toolwall.pipeline.normalize` guarantees; otherwise that is checked
        first, since the compiled validator is laxer than jsonschema about other types (a tuple
        is an array to it, not to jsonschema).
        """
        fast = self._fast if self._fast_ready else self._fast_validator()
        if fast is not None and (plain or _is_plain(args)):
            try:
                fast(args)
                return None
            except Exception:  # jsonschema decides and says why (it may yet accept)
                pass
        error: ValidationError | None = best_match(self._validator.iter_errors(args))
        if error is None:
            return None
        return SchemaViolation(
            message=error.message,
            json_path=error.json_path,
            schema_path="/".join(str(p) for p in error.absolute_schema_path),
        )

    def is_valid(self, args: Any) -> bool:
        if _is_plain(args) and self.fast_valid(args):
            return True
        return bool(self._validator.is_valid(args))


# -- the compiled fast path ---------------------------------------------------------------------

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

    `pattern` is in: both paths match it with RE2 (`_compile_fast` swaps fastjsonschema's
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


def _is_plain(value: Any) -> bool:
    """Whether `value` is made of exactly the types JSON decodes to (finite numbers only)."""
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and _is_plain(v) for k, v in value.items())
    if kind is list:
        return all(_is_plain(v) for v in value)
    if kind is float:
        return math.isfinite(value)
    return kind in _SCALARS


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)


def _compile_fast(schema: Mapping[str, Any]) -> Callable[[Any], Any] | None:
    """A fastjsonschema validator for a portable schema, or None when it will not compile."""
    definition = dict(schema)
    # fastjsonschema picks its draft from `$schema`; the portable subset reads alike in all.
    definition["$schema"] = "http://json-schema.org/draft-07/schema#"
    try:
        validator: Callable[[Any], Any] = fastjsonschema.compile(
            definition, use_default=False, use_formats=False
        )
    except Exception:  # a schema fastjsonschema cannot compile is validated by jsonschema
        return None
    # The generated code looks each `pattern` up in its REGEX_PATTERNS, compiled with Python's
    # `re` (whose `$` matches before a final newline and whose `\d` takes any digit): match
    # with RE2 there too, as the reference does. Should a fastjsonschema version keep its
    # regexes elsewhere, the schema simply has no fast path.
    wanted = set(_patterns(schema))
    if wanted:
        compiled = getattr(validator, "__globals__", {}).get("REGEX_PATTERNS")
        if not isinstance(compiled, dict) or set(compiled) != wanted:
            return None
        for pattern in wanted:
            compiled[pattern] = Finder(_re2(pattern))
    return validator


class SchemaRegistry:
    """All known tools and their schemas. Lookups are exact: no case folding, no normalisation."""

    def __init__(self, schemas: Iterable[ToolSchema] = ()) -> None:
        self._tools: dict[str, ToolSchema] = {}
        for tool in schemas:
            self.add(tool)

    @classmethod
    def from_dict(cls, schemas: Mapping[str, Mapping[str, Any]]) -> SchemaRegistry:
        """Build a registry from `{tool name: JSON Schema}`."""
        return cls(ToolSchema(name, schema, source="<dict>") for name, schema in schemas.items())

    @classmethod
    def load(cls, directory: str | Path) -> SchemaRegistry:
        """Load every `*.json` file in `directory` (not recursive), in name order."""
        folder = Path(directory)
        if not folder.is_dir():
            raise SchemaLoadError(f"{folder}: schema folder does not exist")
        registry = cls()
        for file in sorted(folder.glob("*.json")):
            for tool in load_file(file):
                registry.add(tool)
        return registry

    def add(self, tool: ToolSchema, *, replace: bool = False) -> None:
        existing = self._tools.get(tool.name)
        if existing is not None and not replace:
            raise SchemaLoadError(
                f"{tool.source}: tool {tool.name!r} is already defined in {existing.source}"
            )
        self._tools[tool.name] = tool

    def get(self, name: str) -> ToolSchema | None:
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[ToolSchema]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def names(self) -> list[str]:
        return sorted(self._tools)


def load_file(file: Path) -> list[ToolSchema]:
    """The tools one file defines: one schema, or a bundle of definitions."""
    source = str(file)
    try:
        data = json.loads(file.read_text(encoding="utf-8"), object_pairs_hook=_unique_keys(source))
    except OSError as exc:
        raise SchemaLoadError(f"{source}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SchemaLoadError(f"{source}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise SchemaLoadError(
            f"{source}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}"
        ) from None
    if isinstance(data, list):
        return tools_from_bundle(data, source)
    if isinstance(data, dict) and isinstance(data.get("tools"), list):
        return tools_from_bundle(data["tools"], source)
    if isinstance(data, dict):
        return [ToolSchema(_tool_name(file.stem, source), data, source)]
    raise SchemaLoadError(f"{source}: expected a JSON Schema object or a list of tool definitions")


def tools_from_bundle(definitions: list[Any], source: str) -> list[ToolSchema]:
    """Tool definitions in OpenAI, Anthropic, MCP or plain shape."""
    tools = []
    for index, definition in enumerate(definitions):
        where = f"{source}: tools[{index}]"
        if not isinstance(definition, dict):
            raise SchemaLoadError(f"{where}: a tool definition must be an object")
        name, schema, description = tool_definition(definition, where)
        tools.append(ToolSchema(_tool_name(name, where), schema, f"{source}#{name}", description))
    return tools


def tool_definition(definition: Mapping[str, Any], where: str) -> tuple[Any, Any, Any]:
    """(name, schema, description) of one definition, whatever its shape."""
    if definition.get("type") == "function" and isinstance(definition.get("function"), dict):
        definition = definition["function"]
    if "name" not in definition:
        raise SchemaLoadError(f"{where}: tool definition has no name")
    keys = [k for k in ("parameters", "input_schema", "inputSchema") if k in definition]
    if len(keys) > 1:
        raise SchemaLoadError(f"{where}: tool definition has both {keys[0]} and {keys[1]}")
    schema = definition[keys[0]] if keys else NO_PARAMETERS
    if not isinstance(schema, dict):
        raise SchemaLoadError(f"{where}: {keys[0]} must be a JSON Schema object")
    return definition["name"], schema, definition.get("description")


def _tool_name(name: Any, where: str) -> str:
    try:
        return check_tool_name(name)
    except InputRejected as exc:
        raise SchemaLoadError(f"{where}: {exc.message}") from None


def _unique_keys(source: str) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):
            keys = [k for k, _ in pairs]
            dup = next(k for k in keys if keys.count(k) > 1)
            raise SchemaLoadError(f"{source}: duplicate key {dup!r}")
        return result

    return hook


# -- `pattern` and `patternProperties` with RE2 -------------------------------------------------
#
# jsonschema matches `pattern` with Python's `re`, where `$` also matches before a final newline
# (so `^[A-Z0-9]+$` accepts "DE44...\n") and a hostile argument can make a backtracking pattern
# take exponential time. toolwall matches them with RE2 instead: linear time, and `$` is the end
# of the text as in ECMA-262, which JSON Schema specifies. A pattern RE2 cannot compile
# (backreferences, lookaround) is a load error.


@functools.lru_cache(maxsize=1024)
def _re2(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


@functools.lru_cache(maxsize=1024)
def _finds(pattern: str) -> Callable[[str], bool]:
    return finder(_re2(pattern))


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
def _with_re2(cls: type[Validator]) -> type[Validator]:
    return extend(  # type: ignore[no-any-return,no-untyped-call]
        cls, {"pattern": _pattern, "patternProperties": _pattern_properties}
    )


_NOT_SCHEMAS = frozenset({"enum", "const", "default", "examples"})
_SCHEMA_MAPS = frozenset({"properties", "$defs", "definitions", "dependentSchemas"})


def _compile_patterns(schema: Any) -> None:
    """Compile every `pattern` and `patternProperties` key of a schema now, not on first use."""
    for pattern in _patterns(schema):
        _re2(pattern)


def _patterns(schema: Any) -> Iterator[str]:
    """Every `pattern` and `patternProperties` key of a schema, in its subschemas too."""
    if isinstance(schema, list):
        for item in schema:
            yield from _patterns(item)
        return
    if not isinstance(schema, Mapping):
        return
    for key, value in schema.items():
        if key == "pattern" and isinstance(value, str):
            yield value
        elif key == "patternProperties" and isinstance(value, Mapping):
            for pattern, sub in value.items():
                yield pattern
                yield from _patterns(sub)
        elif key in _SCHEMA_MAPS and isinstance(value, Mapping):
            for sub in value.values():
                yield from _patterns(sub)
        elif key not in _NOT_SCHEMAS:
            yield from _patterns(value)


def _meta_valid_fast(schema: Mapping[str, Any]) -> bool:
    """True when the schema surely passes `jsonschema`'s metaschema check; False: ask it.

    `check_schema` takes about 3 ms a schema (the 2020-12 metaschema resolves `$dynamicRef`s
    through URL joins), so a thousand tools took seconds to load. jsonschema-rs checks the same
    metaschema in microseconds. Its yes also needs what `check_schema` adds through its format
    checker, patterns that Python's `re` compiles (jsonschema-rs treats formats as annotations).
    Any no, or any doubt, goes to `check_schema`, which decides and says why: a schema is
    refused exactly when it was refused before. `tests/schemas/test_registry.py` compares the two.
    """
    try:
        if not jsonschema_rs.meta.is_valid(dict(schema)):
            return False
        for pattern in _patterns(schema):
            re.compile(pattern)
    except Exception:  # a draft jsonschema-rs does not know, a pattern Python cannot compile
        return False
    return True

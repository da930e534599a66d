"""Arguments and calls that satisfy a tool's JSON Schema (hypothesis-jsonschema, with a
fallback for schemas it cannot handle)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, cast

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from jsonschema.validators import validator_for

from toolwall.model import ToolCall
from toolwall.schemas.registry import ToolSchema
from toolwall.testing.hints import Hints
from toolwall.testing.strategies.common import (
    HintsLike,
    SchemaLike,
    is_number,
    json_leaves,
    replaced,
)
from toolwall.testing.strategies.tricks import hinted_numbers, hinted_strings

# -- valid arguments -----------------------------------------------------------------------------


def schema_of(schema: SchemaLike) -> Mapping[str, Any]:
    return schema.schema if isinstance(schema, ToolSchema) else schema


def _checker(schema: SchemaLike) -> Callable[[Any], bool]:
    if isinstance(schema, ToolSchema):
        return schema.is_valid
    validator = validator_for(schema)(schema)
    return lambda value: bool(validator.is_valid(value))


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Arbitrary JSON values (finite numbers, any Unicode text)."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(10**6), 10**6)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=max_leaves,
    )


def _from_schema(schema: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A strategy for the arguments object of a tool, filtered by the validator."""
    check = _checker(schema)
    return cast(st.SearchStrategy[dict[str, Any]], _strategy_for(schema).filter(check))


_SIMPLE_OBJECT_KEYS = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "description",
    "title",
    "$schema",
    "$id",
    "default",
    "examples",
}
_SIMPLE_ARRAY_KEYS = {"type", "items", "minItems", "maxItems", "description", "title", "default"}


def _objects_work() -> bool:
    """Whether hypothesis-jsonschema's object strategy runs on this Hypothesis.

    Its object strategy calls `many.more()`, a Hypothesis internal that newer releases
    replaced; where it is gone, schemas that can produce objects never go to it.
    """
    from hypothesis.internal.conjecture import utils

    return hasattr(utils.many, "more")


_JSONSCHEMA_OBJECTS_WORK = _objects_work()


def _mentions_objects(schema: Mapping[str, Any]) -> bool:
    text = json.dumps(schema, default=str)
    return '"object"' in text or '"properties"' in text


def _strategy_for(schema: Any) -> st.SearchStrategy[Any]:
    """Objects and arrays are built here; everything else comes from hypothesis-jsonschema.

    hypothesis-jsonschema 0.23 builds objects with a Hypothesis internal (`many.more()`) that
    newer Hypothesis releases removed, so objects with plain `properties`/`required` are
    assembled with `fixed_dictionaries`, and only leaf schemas (strings with patterns and
    formats, bounded numbers, enums) go to `from_schema`. Anything it cannot do falls back to
    a generic strategy; callers filter by the validator, so every value drawn is valid.
    """
    if not isinstance(schema, Mapping):
        return json_values()
    kind = schema.get("type")
    if (kind == "object" or "properties" in schema) and set(schema) <= _SIMPLE_OBJECT_KEYS:
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        required = schema.get("required")
        needed = [k for k in (required if isinstance(required, list) else []) if isinstance(k, str)]
        fixed = {key: _strategy_for(props.get(key, {})) for key in needed}
        optional = {k: _strategy_for(v) for k, v in props.items() if k not in fixed}
        return st.fixed_dictionaries(fixed, optional=optional)
    if (
        kind == "array"
        and set(schema) <= _SIMPLE_ARRAY_KEYS
        and isinstance(schema.get("items"), Mapping)
    ):
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", low + 4))
        return st.lists(_strategy_for(schema["items"]), min_size=low, max_size=min(high, low + 6))
    if kind in ("object", "array") or (not _JSONSCHEMA_OBJECTS_WORK and _mentions_objects(schema)):
        return _fallback_value(schema)
    try:
        from hypothesis_jsonschema import from_schema

        strategy: Any = from_schema(dict(schema))
        strategy.validate()
        return cast(st.SearchStrategy[Any], strategy)
    except Exception:  # hypothesis-jsonschema raises assorted errors on schemas it cannot do
        return _fallback_value(schema)


def _fallback(schema: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties")
    required = schema.get("required")
    props = properties if isinstance(properties, Mapping) else {}
    needed = [k for k in (required if isinstance(required, list) else []) if isinstance(k, str)]
    fixed = {key: _strategy_for(props.get(key, {})) for key in needed}
    optional = {k: _strategy_for(v) for k, v in props.items() if k not in fixed}
    check = _checker(schema)
    return st.fixed_dictionaries(fixed, optional=optional).filter(check)


def _fallback_value(schema: Any) -> st.SearchStrategy[Any]:
    if not isinstance(schema, Mapping):
        return json_values()
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "string":
        return st.text(min_size=int(schema.get("minLength", 0)), max_size=40)
    if kind == "integer":
        return st.integers(int(schema.get("minimum", -(10**6))), int(schema.get("maximum", 10**6)))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(_strategy_for(schema.get("items", {})), max_size=4)
    if kind == "object" or "properties" in schema:
        return _fallback(schema)
    return json_values()


def arguments(
    schema: SchemaLike, *, hints: HintsLike = None, aimed: bool = False
) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments that satisfy `schema`; with `hints`, about half of them aimed at the hints.

    An aimed value replaces one generated string or number (in a field the rules read, where
    there is one) with a neighbour of a literal the policy mentions, and only where the result
    still satisfies the schema, so every value drawn is valid. `aimed=True` draws aimed values
    only (where the schema leaves room for one).
    """
    base = _from_schema(schema_of(schema))
    parsed = Hints.of(hints)
    strings = hinted_strings(parsed)
    numbers = hinted_numbers(parsed)
    if strings is None and numbers is None:
        return base
    check = _checker(schema)

    @st.composite
    def aim(draw: st.DrawFn) -> dict[str, Any]:
        args = draw(base)
        leaves = [
            (path, value)
            for path, value in json_leaves(args)
            if (isinstance(value, str) and strings is not None)
            or (is_number(value) and numbers is not None)
        ]
        aimed_at = [leaf for leaf in leaves if leaf[0] and leaf[0][0] in parsed.fields]
        leaves = aimed_at or leaves
        if not leaves:
            return args
        path, value = draw(st.sampled_from(leaves))
        if isinstance(value, str):
            assert strings is not None
            new: Any = draw(strings)
        else:
            assert numbers is not None
            new = draw(numbers)
            if isinstance(value, int) and float(new).is_integer():
                new = int(new)
        candidate = replaced(args, path, new)
        return candidate if check(candidate) else args

    # The plain branch comes first: examples shrink toward plain valid arguments.
    return aim() if aimed else st.one_of(base, aim())


def tool_calls(
    schema: SchemaLike, tool: str | None = None, *, hints: HintsLike = None, aimed: bool = False
) -> st.SearchStrategy[ToolCall]:
    """Calls of `tool` (default: the `ToolSchema`'s name) whose arguments satisfy the schema
    (see `arguments` for `hints` and `aimed`)."""
    name = tool_name_of(schema, tool)
    return arguments(schema, hints=hints, aimed=aimed).map(
        lambda args: ToolCall(tool=name, args=args)
    )


def tool_name_of(schema: SchemaLike, tool: str | None) -> str:
    if tool is not None:
        return tool
    if isinstance(schema, ToolSchema):
        return schema.name
    raise InvalidArgument("give tool= when the schema is a plain mapping")

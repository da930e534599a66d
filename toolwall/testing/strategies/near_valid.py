"""Arguments one mutation away from valid: the edges of schemas and rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

from toolwall.model import ToolCall
from toolwall.testing.hints import Hints
from toolwall.testing.strategies.common import (
    HintsLike,
    JsonPath,
    SchemaLike,
    is_number,
    json_leaves,
    replaced,
    value_at,
    value_at_or,
)
from toolwall.testing.strategies.tricks import HUGE_NUMBERS, JSON_TYPES, confusable, tricky_strings
from toolwall.testing.strategies.valid import arguments, json_values, schema_of, tool_name_of

# -- near-valid arguments ------------------------------------------------------------------------


def near_valid_arguments(
    schema: SchemaLike, *, hints: HintsLike = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid arguments with one field mutated. Many are schema-invalid; many are valid but
    tricky (a string turned into a traversal or an internal URL) and so test the rules."""
    raw = schema_of(schema)
    parsed = Hints.of(hints)
    base = arguments(schema, hints=parsed)

    @st.composite
    def mutated(draw: st.DrawFn) -> dict[str, Any]:
        args = draw(base)
        mutation = draw(st.sampled_from(_MUTATIONS))
        return mutation(draw, args, raw, parsed)

    return mutated()


def near_valid_calls(
    schema: SchemaLike, tool: str | None = None, *, hints: HintsLike = None
) -> st.SearchStrategy[ToolCall]:
    """Calls of `tool` whose arguments are `near_valid_arguments`."""
    name = tool_name_of(schema, tool)
    return near_valid_arguments(schema, hints=hints).map(lambda a: ToolCall(tool=name, args=a))


Mutation = Callable[[st.DrawFn, dict[str, Any], Mapping[str, Any], Hints], dict[str, Any]]


def _string_trick(
    draw: st.DrawFn, args: dict[str, Any], schema: Mapping[str, Any], hints: Hints
) -> dict[str, Any]:
    strings = [(p, v) for p, v in json_leaves(args) if isinstance(v, str)]
    if not strings:
        return _wrong_type(draw, args, schema, hints)
    aimed_at = [leaf for leaf in strings if leaf[0] and leaf[0][0] in hints.fields]
    aim: bool = draw(st.booleans())
    if aimed_at and aim:
        strings = aimed_at
    path, value = draw(st.sampled_from(strings))
    return replaced(args, path, draw(tricky_strings(hints, base=value)))


def _wrong_type(
    draw: st.DrawFn, args: dict[str, Any], schema: Mapping[str, Any], hints: Hints
) -> dict[str, Any]:
    paths = [p for p, _ in json_leaves(args, containers=True) if p]
    if not paths:
        return _extra_key(draw, args, schema, hints)
    path = draw(st.sampled_from(paths))
    current = value_at(args, path)
    choices = [
        v
        for v in [*JSON_TYPES, [current], {"value": current}, str(current)]
        if type(v) is not type(current)
    ]
    return replaced(args, path, draw(st.sampled_from(choices)))


def _boundary_number(
    draw: st.DrawFn, args: dict[str, Any], schema: Mapping[str, Any], hints: Hints
) -> dict[str, Any]:
    targets: list[tuple[JsonPath, Mapping[str, Any]]] = []
    props = schema.get("properties")
    if isinstance(props, Mapping):
        for key, sub in props.items():
            if isinstance(sub, Mapping) and sub.get("type") in ("integer", "number"):
                targets.append(((key,), sub))
    for path, value in json_leaves(args):
        if is_number(value) and all(path != t for t, _ in targets):
            targets.append((path, {}))
    if not targets:
        return _wrong_type(draw, args, schema, hints)
    path, sub = draw(st.sampled_from(targets))
    edges: list[Any] = list(HUGE_NUMBERS)
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = sub.get(key)
        if is_number(bound):
            edges.extend([bound - 1, bound, bound + 1, bound - 0.5, bound + 0.5])
    if sub.get("type") == "integer":
        edges.extend([1.0, 2.5])
    edges.extend(n for h in hints.numbers for n in (h - 1, h, h + 1))
    return replaced(args, path, draw(st.sampled_from(edges)))


def _extra_key(
    draw: st.DrawFn, args: dict[str, Any], schema: Mapping[str, Any], hints: Hints
) -> dict[str, Any]:
    objects = [p for p, v in json_leaves(args, containers=True) if isinstance(v, dict)]
    path = draw(st.sampled_from(objects)) if objects else ()
    target = value_at(args, path) if objects else {}
    existing = [k for k in target if isinstance(k, str)]
    names = ["__proto__", "constructor", "extra", "", " ", "$ref", "admin"]
    names.extend(confusable(k) for k in existing)
    names.extend(k.upper() for k in existing)
    names.extend(k + " " for k in existing)
    key = draw(st.sampled_from([n for n in names if n not in target]) | st.text(max_size=8))
    value = draw(st.sampled_from([True, "x", 1, None, {"a": 1}]) | json_values(4))
    return replaced(args, (*path, key), value)


def _missing_required(
    draw: st.DrawFn, args: dict[str, Any], schema: Mapping[str, Any], hints: Hints
) -> dict[str, Any]:
    required = schema.get("required")
    keys = [k for k in (required if isinstance(required, list) else []) if k in args] or list(args)
    if not keys:
        return _extra_key(draw, args, schema, hints)
    key = draw(st.sampled_from(keys))
    return {k: v for k, v in args.items() if k != key}


def _huge_value(
    draw: st.DrawFn, args: dict[str, Any], schema: Mapping[str, Any], hints: Hints
) -> dict[str, Any]:
    paths = [p for p, _ in json_leaves(args) if p] or [("huge",)]
    path = draw(st.sampled_from(paths))
    current = value_at_or(args, path, "")
    size = draw(st.sampled_from([257, 4097, 16385, 70_000]))
    filler = draw(st.sampled_from(["A", "é", "../", "\u202e"]))
    huge = (filler * size)[:size] if isinstance(current, str) else [filler] * min(size, 5000)
    return replaced(args, path, huge)


def _deep_value(
    draw: st.DrawFn, args: dict[str, Any], schema: Mapping[str, Any], hints: Hints
) -> dict[str, Any]:
    paths = [p for p, _ in json_leaves(args) if p] or [("deep",)]
    path = draw(st.sampled_from(paths))
    depth = draw(st.sampled_from([8, 33, 120]))
    value: Any = value_at_or(args, path, "x")
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return replaced(args, path, value)


_MUTATIONS: list[Mutation] = [
    _string_trick,
    _wrong_type,
    _boundary_number,
    _extra_key,
    _missing_required,
    _string_trick,
    _huge_value,
    _deep_value,
]

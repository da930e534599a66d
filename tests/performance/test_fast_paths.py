"""The fast paths added for speed agree exactly with the reference paths they stand in for.

- The compiled schema validator (fastjsonschema) never accepts what jsonschema rejects, and the
  registry's answers (`violation`, `is_valid`) are jsonschema's, on the demo schemas and on
  schemas of every keyword in the portable subset, for generated instances.
- The quick argument walk in `toolwall.pipeline.normalize` returns the same size or the same
  error as the full walk.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from toolwall.config import Limits
from toolwall.errors import InputRejected
from toolwall.patterns import check_tool_name
from toolwall.pipeline.normalize import _walk, check_arguments
from toolwall.schemas import SchemaRegistry
from toolwall.schemas.fast import portable
from toolwall.schemas.regexes import with_re2 as _with_re2
from toolwall.schemas.registry import ToolSchema

ROOT = Path(__file__).resolve().parents[2]
DEMO = SchemaRegistry.load(ROOT / "schemas")

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(
        ["", "a\n", "EUR", "bob@acme.test", "/srv/workspace/a", "GB82WEST12345698765432"]
    )
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def valid_for(schema: Any) -> st.SearchStrategy[Any]:
    """Instances aimed at satisfying `schema` (tests still ask jsonschema whether they do)."""
    if schema is True or schema == {}:
        return json_values
    if not isinstance(schema, dict):
        return json_values  # `false`: nothing is valid; jsonschema says so, both must agree
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    if "anyOf" in schema or "oneOf" in schema:
        return st.one_of([valid_for(s) for s in schema.get("anyOf", schema.get("oneOf"))])
    if "allOf" in schema:
        return valid_for(schema["allOf"][0])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = [k for k in schema.get("required", []) if k in props]
        return st.fixed_dictionaries(
            {k: valid_for(props[k]) for k in required},
            optional={k: valid_for(v) for k, v in props.items() if k not in required},
        )
    if kind == "array":
        low, high = sorted((schema.get("minItems", 0), schema.get("maxItems", 4)))
        return st.lists(valid_for(schema.get("items", True)), min_size=low, max_size=high)
    if kind == "string":
        low, high = sorted((schema.get("minLength", 0), schema.get("maxLength", 40)))
        if "pattern" in schema:
            return st.from_regex(schema["pattern"]).filter(lambda s: low <= len(s) <= high)
        return st.text(min_size=low, max_size=high)
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1000))
        high = schema.get("maximum", schema.get("exclusiveMaximum", 1000))
        low, high = sorted((low, high))
        ints = st.integers(int(low) - 1, int(high) + 1)
        return ints if kind == "integer" else ints | st.floats(low - 1, high + 1)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return json_values


def reference(schema: ToolSchema) -> Any:
    """jsonschema, with `pattern` matched by RE2 as the registry does."""
    return _with_re2(Draft202012Validator)(dict(schema.schema))


def agrees(schema: ToolSchema, instance: Any) -> None:
    expected = reference(schema).is_valid(instance)
    fast = schema.fast_valid(instance)
    if fast is not None:
        # The compiled validator may be stricter (it is then overruled), never laxer.
        assert not (fast and not expected), (
            f"fast path accepts what jsonschema rejects: {instance!r}"
        )
    assert schema.is_valid(instance) is expected
    assert (schema.violation(instance) is None) is expected
    if isinstance(instance, dict):
        assert (schema.violation(instance, plain=True) is None) is expected


def objects_for(schema: ToolSchema) -> st.SearchStrategy[dict[str, Any]]:
    """Objects keyed mostly by the schema's own property names, with values of any type."""
    names = list(dict(schema.schema).get("properties", {})) or ["x"]
    keys = st.sampled_from(names) | st.text(max_size=4)
    return st.dictionaries(keys, json_values, max_size=5)


def test_every_demo_schema_takes_the_fast_path() -> None:
    assert [s.name for s in DEMO if not s.compiled] == []


@pytest.mark.parametrize("name", DEMO.names())
@SETTINGS
@given(data=st.data())
def test_fast_path_agrees_with_jsonschema_on_valid_instances(
    name: str, data: st.DataObject
) -> None:
    schema = DEMO.get(name)
    assert schema is not None
    instance = data.draw(valid_for(dict(schema.schema)))
    agrees(schema, instance)


@pytest.mark.parametrize("name", DEMO.names())
@SETTINGS
@given(data=st.data())
def test_fast_path_agrees_with_jsonschema_on_any_instance(name: str, data: st.DataObject) -> None:
    schema = DEMO.get(name)
    assert schema is not None
    agrees(schema, data.draw(objects_for(schema) | json_values))


# Schemas over the portable subset, generated: every keyword the fast path accepts.
_leaf_schemas = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["string", "integer", "number", "boolean", "null", "array", "object"]
            )
        }
    ),
    st.fixed_dictionaries(
        {"type": st.just("string")},
        optional={
            "minLength": st.integers(0, 3),
            "maxLength": st.integers(0, 6),
            "pattern": st.sampled_from(
                ["^a", "b$", "^[a-z]+$", "^[A-Z]{2}[0-9]{2}$", "x*", "^\\d+$", "(?i)^a", "\\w\\s"]
            ),
            "format": st.sampled_from(["email", "uri", "date-time"]),
        },
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["integer", "number"])},
        optional={
            "minimum": st.integers(-5, 5) | st.floats(-5, 5),
            "maximum": st.integers(-5, 50),
            "exclusiveMinimum": st.integers(-5, 5),
            "exclusiveMaximum": st.floats(0, 100),
        },
    ),
    st.fixed_dictionaries({"enum": st.lists(json_scalars, min_size=1, max_size=4)}),
    st.fixed_dictionaries({"const": json_scalars}),
    st.booleans(),
)


def _compose(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    props = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), inner, max_size=3)
    return st.one_of(
        st.builds(
            lambda p, r, extra: {
                "type": "object",
                "properties": p,
                "required": [k for k in p if k in r],
                "additionalProperties": extra,
            },
            props,
            st.sets(st.sampled_from(["a", "b", "c"])),
            st.booleans() | inner,
        ),
        st.fixed_dictionaries(
            {"type": st.just("array"), "items": inner},
            optional={"minItems": st.integers(0, 2), "maxItems": st.integers(0, 4)},
        ),
        st.fixed_dictionaries({"anyOf": st.lists(inner, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"allOf": st.lists(inner, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"oneOf": st.lists(inner, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"not": inner}),
        st.fixed_dictionaries(
            {"type": st.just("object"), "propertyNames": inner},
            optional={"minProperties": st.integers(0, 2), "maxProperties": st.integers(0, 3)},
        ),
    )


portable_schemas = st.recursive(_leaf_schemas, _compose, max_leaves=6)


@settings(SETTINGS, max_examples=200)
@given(schema=portable_schemas, data=st.data())
def test_fast_path_agrees_with_jsonschema_on_generated_schemas(
    schema: Any, data: st.DataObject
) -> None:
    if not isinstance(schema, dict):
        schema = {"allOf": [schema]}
    tool = ToolSchema("t", schema, "<test>")
    instance = data.draw(json_values)
    agrees(tool, instance)


@settings(SETTINGS, max_examples=200)
@given(schema=portable_schemas, data=st.data())
def test_valid_instances_of_generated_schemas_pass_both(schema: Any, data: st.DataObject) -> None:
    if not isinstance(schema, dict):
        schema = {"allOf": [schema]}
    tool = ToolSchema("t", schema, "<test>")
    agrees(tool, data.draw(valid_for(schema)))


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"n": {"type": "integer", "multipleOf": 0.1}}},
        {"type": "array", "uniqueItems": True},
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "array",
            "items": [{"type": "string"}],
        },
        {"$ref": "#/$defs/x", "$defs": {"x": {"type": "string"}}},
        {"type": "object", "patternProperties": {"^a$": {"type": "integer"}}},
        {"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer"},
        {"if": {"type": "string"}, "then": {"minLength": 2}},
        {"type": "array", "contains": {"type": "string"}},
        {"unevaluatedProperties": False},
    ],
)
def test_schemas_outside_the_portable_subset_use_jsonschema(schema: dict[str, Any]) -> None:
    assert not portable(schema)
    tool = ToolSchema("t", schema, "<test>")
    assert not tool.compiled
    assert tool.fast_valid("anything") is None


@pytest.mark.parametrize(
    ("schema", "instance", "valid"),
    [
        # Python's `re` lets `$` match before a final newline; RE2, as JSON Schema means it,
        # does not. fastjsonschema's regexes are swapped for RE2's, so both paths agree.
        ({"type": "string", "pattern": "^abc$"}, "abc\n", False),
        ({"type": "object", "properties": {"p": {"pattern": "^[a-z]+$"}}}, {"p": "abc\n"}, False),
        # RE2's \d is ASCII; Python's takes any Unicode digit.
        ({"type": "string", "pattern": "^\\d+$"}, "\u0661\u0662", False),
        ({"type": "string", "pattern": "^\\d+$"}, "12", True),
        # Under `not` a laxer regex would make the fast path stricter; RE2 keeps them equal.
        ({"not": {"pattern": "^a$"}}, "a\n", True),
        ({"oneOf": [{"pattern": "a$"}, {"type": "integer"}]}, "a\n", False),
        ({"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}}, {"ab\n": 1}, False),
    ],
)
def test_patterns_match_with_re2_on_the_fast_path_too(
    schema: dict[str, Any], instance: Any, valid: bool
) -> None:
    tool = ToolSchema("t", schema, "<test>")
    assert tool.compiled
    assert tool.fast_valid(instance) is valid
    assert reference(tool).is_valid(instance) is valid
    assert (tool.violation(instance) is None) is valid


def test_non_json_types_never_take_the_fast_path() -> None:
    # fastjsonschema treats a tuple as an array; jsonschema does not, and it decides.
    tool = ToolSchema("t", {"type": "object", "properties": {"a": {"type": "array"}}}, "<test>")
    assert tool.compiled
    assert tool.violation({"a": (1, 2)}) is not None
    assert not tool.is_valid({"a": (1, 2)})


def test_the_violation_is_jsonschemas() -> None:
    schema = DEMO.get("bank.transfer")
    assert schema is not None
    args = {"to_iban": "GB82WEST12345698765432", "amount": -1, "currency": "EUR"}
    violation = schema.violation(args, plain=True)
    assert violation is not None
    assert violation.json_path == "$.amount"
    assert violation.schema_path == "properties/amount/exclusiveMinimum"


# -- the quick argument walk --------------------------------------------------------------------


def _outcome(args: Any, limits: Limits) -> tuple[str, Any]:
    try:
        return "ok", check_arguments(args, limits) is args
    except InputRejected as exc:
        return "rejected", (exc.message, exc.path)


def _reference(args: Any, limits: Limits) -> tuple[str, Any]:
    try:
        size = _walk(args, "$", 1, limits)
    except InputRejected as exc:
        return "rejected", (exc.message, exc.path)
    if size > limits.max_arg_bytes:
        return "rejected", (None, None)
    return "ok", True


odd_values = st.recursive(
    json_scalars
    | st.sampled_from([float("nan"), float("inf"), "\ud800", 10**30, (1, 2), b"x"])
    | st.text(min_size=0, max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6) | st.sampled_from(["\udfff", "k"]), inner, max_size=4)
        | st.dictionaries(st.integers(0, 3), inner, max_size=2)
    ),
    max_leaves=15,
)


@SETTINGS
@given(
    args=st.dictionaries(st.text(max_size=5), odd_values, max_size=5),
    depth=st.integers(1, 4),
    string=st.integers(1, 30),
    size=st.integers(10, 400),
)
def test_the_quick_walk_decides_as_the_full_walk(
    args: dict[str, Any], depth: int, string: int, size: int
) -> None:
    limits = Limits(max_depth=depth, max_string_length=string, max_arg_bytes=size)
    got, expected = _outcome(args, limits), _reference(args, limits)
    if expected[1] == (None, None):
        assert got[0] == "rejected"
    else:
        assert got == expected


def test_only_the_space_is_printable_whitespace() -> None:
    # check_tool_name relies on this to test for whitespace with `" " in name`.
    both = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isprintable() and c.isspace()]
    assert both == [" "]


@pytest.mark.parametrize("name", ["a b", "a\tb", "a\u2003b", "a\u00a0b", "a\x85b", "a\u3000b"])
def test_tool_names_with_whitespace_are_refused(name: str) -> None:
    with pytest.raises(InputRejected):
        check_tool_name(name)

"""The schema registry: plain schemas, bundles in every provider shape, load errors, JSON paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for

from toolwall import SchemaLoadError
from toolwall.schemas.registry import SchemaRegistry, _meta_valid_fast

ARGS = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}


def write(folder: Path, name: str, data: object) -> Path:
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_demo_schemas_load(demo_schemas: SchemaRegistry) -> None:
    assert demo_schemas.names() == [
        "bank.transfer",
        "db.query",
        "email.read",
        "email.send",
        "fs.read",
        "fs.write",
        "rag.search",
        "shell.run",
        "web.fetch",
    ]


@pytest.mark.parametrize(
    "definition",
    [
        {"type": "function", "function": {"name": "search", "parameters": ARGS}},
        {"name": "search", "input_schema": ARGS},
        {"name": "search", "inputSchema": ARGS},
        {"name": "search", "parameters": ARGS},
    ],
    ids=["openai", "anthropic", "mcp", "plain"],
)
@pytest.mark.parametrize("container", ["list", "tools-object"])
def test_bundles_load_in_every_shape(tmp_path: Path, definition: dict, container: str) -> None:
    data = [definition] if container == "list" else {"tools": [definition]}
    write(tmp_path, "bundle.json", data)
    registry = SchemaRegistry.load(tmp_path)
    schema = registry.get("search")
    assert schema is not None
    assert schema.is_valid({"q": "x"})
    violation = schema.violation({"q": 1})
    assert violation is not None and violation.json_path == "$.q"


def test_a_function_without_parameters_takes_no_arguments(tmp_path: Path) -> None:
    write(tmp_path, "b.json", [{"type": "function", "function": {"name": "ping"}}])
    schema = SchemaRegistry.load(tmp_path).get("ping")
    assert schema is not None and schema.is_valid({}) and not schema.is_valid({"x": 1})


def test_the_file_stem_names_a_plain_schema(tmp_path: Path) -> None:
    write(tmp_path, "email.send.json", ARGS)
    assert SchemaRegistry.load(tmp_path).names() == ["email.send"]


def test_violations_carry_the_json_path(demo_schemas: SchemaRegistry) -> None:
    schema = demo_schemas.get("email.send")
    assert schema is not None
    violation = schema.violation({"to": ["a@acme.test", 7], "subject": "s", "body": "b"})
    assert violation is not None
    assert violation.json_path == "$.to[1]"
    assert "is not of type 'string'" in violation.message
    missing = schema.violation({"to": ["a@acme.test"], "subject": "s"})
    assert missing is not None and "'body' is a required property" in missing.message


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bad.json", {"type": "objekt"}, "bad.json: schema of 'bad' is not a valid JSON Schema"),
        ("b.json", [{"name": "x", "parameters": {"type": 5}}], "schema of 'x' is not a valid"),
        ("b.json", [{"parameters": ARGS}], "tools[0]: tool definition has no name"),
        ("b.json", [{"name": "x", "parameters": ARGS, "inputSchema": ARGS}], "has both"),
        ("b.json", [{"name": "", "parameters": ARGS}], "tool name is empty"),
        ("b.json", [{"name": "a b", "parameters": ARGS}], "whitespace"),
        ("b.json", ["x"], "a tool definition must be an object"),
        ("b.json", 3, "expected a JSON Schema object or a list"),
        ("b.json", [{"name": "x", "parameters": []}], "parameters must be a JSON Schema object"),
    ],
)
def test_broken_schema_files_are_load_errors_naming_the_file(
    tmp_path: Path, name: str, content: object, expected: str
) -> None:
    write(tmp_path, name, content)
    with pytest.raises(SchemaLoadError) as info:
        SchemaRegistry.load(tmp_path)
    assert expected in str(info.value)
    assert name in str(info.value)


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{\n  "type": "object",\n  oops\n}', encoding="utf-8")
    with pytest.raises(SchemaLoadError, match=r"x\.json:3:3: invalid JSON"):
        SchemaRegistry.load(tmp_path)


def test_duplicate_keys_in_a_schema_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"type": "object", "type": "string"}', encoding="utf-8")
    with pytest.raises(SchemaLoadError, match="duplicate key 'type'"):
        SchemaRegistry.load(tmp_path)


def test_a_tool_defined_twice_is_a_load_error(tmp_path: Path) -> None:
    write(tmp_path, "a.json", [{"name": "x", "parameters": ARGS}])
    write(tmp_path, "x.json", ARGS)
    with pytest.raises(SchemaLoadError, match="'x' is already defined in"):
        SchemaRegistry.load(tmp_path)


def test_schema_draft_follows_dollar_schema(tmp_path: Path) -> None:
    # Draft 4 spells exclusiveMaximum as a boolean; 2020-12 would reject that schema.
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {"n": {"type": "number", "maximum": 5, "exclusiveMaximum": True}},
    }
    write(tmp_path, "old.json", draft4)
    schema = SchemaRegistry.load(tmp_path).get("old")
    assert schema is not None and schema.is_valid({"n": 4}) and not schema.is_valid({"n": 5})


def test_a_missing_folder_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaLoadError, match="schema folder does not exist"):
        SchemaRegistry.load(tmp_path / "nope")


def test_patterns_match_with_re2_semantics(tmp_path: Path) -> None:
    # Python's `re` lets `$` match before a final newline; JSON Schema (ECMA-262) and RE2 do not.
    write(tmp_path, "t.json", {"type": "object", "properties": {"id": {"pattern": "^[A-Z]+$"}}})
    schema = SchemaRegistry.load(tmp_path).get("t")
    assert schema is not None
    assert schema.is_valid({"id": "ABC"})
    assert schema.violation({"id": "ABC"}) is None
    violation = schema.violation({"id": "ABC\n"})
    assert violation is not None and violation.json_path == "$.id"
    assert "does not match" in violation.message


def test_a_backtracking_pattern_stays_linear_on_hostile_input(tmp_path: Path) -> None:
    write(tmp_path, "t.json", {"type": "object", "properties": {"s": {"pattern": "^(a+)+$"}}})
    schema = SchemaRegistry.load(tmp_path).get("t")
    assert schema is not None
    # With Python's `re` this input takes exponential time; RE2 answers at once.
    assert schema.violation({"s": "a" * 5000 + "!"}) is not None


def test_pattern_properties_use_re2(tmp_path: Path) -> None:
    data = {
        "type": "object",
        "patternProperties": {"^x_[a-z]+$": {"type": "integer"}},
    }
    write(tmp_path, "t.json", data)
    schema = SchemaRegistry.load(tmp_path).get("t")
    assert schema is not None
    assert schema.violation({"x_ok": 1}) is None
    bad = schema.violation({"x_ok": "one"})
    assert bad is not None and bad.json_path == "$.x_ok"
    assert schema.violation({"x_ok\n": "one"}) is None  # the key does not match the pattern


@pytest.mark.parametrize("pattern", ["^(?=a)a$", "(a)\\1"])
def test_a_pattern_re2_cannot_compile_is_a_load_error(tmp_path: Path, pattern: str) -> None:
    write(tmp_path, "t.json", {"type": "object", "properties": {"s": {"pattern": pattern}}})
    with pytest.raises(SchemaLoadError, match="has a pattern RE2 cannot compile"):
        SchemaRegistry.load(tmp_path)


def test_a_property_named_pattern_is_not_a_regex(tmp_path: Path) -> None:
    data = {"type": "object", "properties": {"pattern": {"type": "string", "enum": ["(?=x)"]}}}
    write(tmp_path, "t.json", data)
    schema = SchemaRegistry.load(tmp_path).get("t")
    assert schema is not None and schema.violation({"pattern": "(?=x)"}) is None


# -- the metaschema check: jsonschema-rs says yes, or jsonschema decides ------------------------

KEYWORDS = [
    "type", "properties", "items", "prefixItems", "required", "additionalProperties", "enum",
    "const", "minimum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "pattern", "format",
    "allOf", "anyOf", "oneOf", "not", "$ref", "$defs", "definitions", "$id", "$schema",
    "patternProperties", "minItems", "uniqueItems", "dependentRequired", "dependencies", "if",
    "then", "contains", "propertyNames", "unevaluatedProperties", "multipleOf", "$anchor",
    "$dynamicRef", "default",
]  # fmt: skip
WORDS = [
    "string", "object", "array", "integer", "number", "null", "boolean", "x", "#", "#/$defs/a",
    "a[", "^a$", "a\\z", "(?P<n>a)", "email", "https://json-schema.org/draft/2020-12/schema",
    "http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-04/schema#",
]  # fmt: skip
schema_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(WORDS),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYWORDS) | st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)


schemas_ = st.dictionaries(st.sampled_from(KEYWORDS), schema_like, max_size=5)
patterns = st.sampled_from(WORDS) | st.text(max_size=4)
# Patterns are where the two checks differ most (formats): put them where the metaschema looks.
schema_with_patterns = st.one_of(
    schemas_,
    st.builds(lambda p, rest: {**rest, "pattern": p}, patterns, schemas_),
    st.builds(lambda p, rest: {**rest, "patternProperties": {p: rest}}, patterns, schemas_),
    st.builds(lambda p: {"properties": {"a": {"items": {"pattern": p}}}}, patterns),
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_with_patterns)
def test_the_fast_metaschema_check_never_accepts_what_jsonschema_refuses(
    schema: dict[str, Any],
) -> None:
    if not _meta_valid_fast(schema):
        return  # jsonschema decides, as it always did
    cls = validator_for(schema, default=Draft202012Validator)
    cls.check_schema(schema)  # raises SchemaError if the fast yes was wrong


def test_the_fast_metaschema_check_says_yes_to_ordinary_schemas(
    demo_schemas: SchemaRegistry,
) -> None:
    for name in demo_schemas.names():
        tool = demo_schemas.get(name)
        assert tool is not None and _meta_valid_fast(tool.schema), name


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "strin"}, "is not valid under any of the given schemas"),
        ({"properties": {"a": {"minLength": -1}}}, "at properties/a/minLength"),
        # RE2 compiles `\z`, Python's `re` does not: jsonschema's format check still refuses it.
        ({"pattern": "a\\z"}, "is not a 'regex'"),
        ({"$schema": []}, "at $schema: [] is not a metaschema URI"),
    ],
)
def test_schemas_the_metaschema_refuses_are_load_errors_with_jsonschemas_reason(
    tmp_path: Path, schema: dict[str, Any], expected: str
) -> None:
    write(tmp_path, "t.json", schema)
    with pytest.raises(SchemaLoadError) as info:
        SchemaRegistry.load(tmp_path)
    assert expected in str(info.value)
    assert "t.json" in str(info.value)

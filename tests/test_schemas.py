"""The schema registry: plain schemas, bundles in every provider shape, load errors, JSON paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolwall import SchemaLoadError, SchemaRegistry

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

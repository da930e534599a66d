"""`toolwall.schemas.load`: plain schemas and bundles in every provider shape, load errors that
name the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.schemas.helpers import ARGS, write
from toolwall import SchemaLoadError
from toolwall.schemas import SchemaRegistry


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


def test_a_file_reports_its_first_broken_tool(tmp_path: Path) -> None:
    bad_schema = {"name": "x", "parameters": {"type": 5}}
    bad_name = {"name": "a b", "parameters": ARGS}
    write(tmp_path, "b.json", [bad_schema, bad_name])
    with pytest.raises(SchemaLoadError, match="schema of 'x' is not a valid"):
        SchemaRegistry.load(tmp_path)
    write(tmp_path, "b.json", [bad_name, bad_schema])
    with pytest.raises(SchemaLoadError, match="whitespace"):
        SchemaRegistry.load(tmp_path)


def test_a_whole_file_compiles_before_its_tools_are_added(tmp_path: Path) -> None:
    twice = {"name": "x", "parameters": ARGS}
    write(tmp_path, "b.json", [twice, twice, {"name": "y", "parameters": {"type": 5}}])
    with pytest.raises(SchemaLoadError, match="schema of 'y' is not a valid"):
        SchemaRegistry.load(tmp_path)
    write(tmp_path, "b.json", [twice, twice])
    with pytest.raises(SchemaLoadError, match=r"b\.json#x: tool 'x' is already defined in"):
        SchemaRegistry.load(tmp_path)

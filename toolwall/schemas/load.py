"""Schema files and tool bundles, read into tool definitions: (name, schema, source, description).

A folder holds `<tool>.json` files (the file stem is the tool name; the file is a JSON Schema
for the arguments object) and *tool bundles*: a JSON list of tool definitions, or an object with
a `tools` list, in any of the shapes people already give their models:

- OpenAI:    {"type": "function", "function": {"name": ..., "parameters": {...}}}
- Anthropic: {"name": ..., "input_schema": {...}}
- MCP:       {"name": ..., "inputSchema": {...}}
- plain:     {"name": ..., "parameters": {...}}

Definitions are yielded one at a time, so a file's errors surface in file order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from toolwall.errors import InputRejected, SchemaLoadError
from toolwall.patterns import check_tool_name

# A tool defined without parameters takes none.
NO_PARAMETERS: Mapping[str, Any] = {
    "type": "object",
    "properties": {},
    "additionalProperties": False,
}


class ToolDefinition(NamedTuple):
    """A tool as a file defines it: its checked name, its arguments' schema, where it is from."""

    name: str
    schema: Mapping[str, Any]
    source: str
    description: str | None = None


def definitions_in_file(file: Path) -> Iterator[ToolDefinition]:
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
        yield from definitions_in_bundle(data, source)
    elif isinstance(data, dict) and isinstance(data.get("tools"), list):
        yield from definitions_in_bundle(data["tools"], source)
    elif isinstance(data, dict):
        yield ToolDefinition(_tool_name(file.stem, source), data, source)
    else:
        raise SchemaLoadError(
            f"{source}: expected a JSON Schema object or a list of tool definitions"
        )


def definitions_in_bundle(definitions: list[Any], source: str) -> Iterator[ToolDefinition]:
    """Tool definitions in OpenAI, Anthropic, MCP or plain shape."""
    for index, definition in enumerate(definitions):
        where = f"{source}: tools[{index}]"
        if not isinstance(definition, dict):
            raise SchemaLoadError(f"{where}: a tool definition must be an object")
        name, schema, description = tool_definition(definition, where)
        yield ToolDefinition(_tool_name(name, where), schema, f"{source}#{name}", description)


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

"""The schema registry: one JSON Schema per tool, checked against its metaschema and compiled once.

A folder holds `<tool>.json` files (the file stem is the tool name; the file is a JSON Schema
for the arguments object) and *tool bundles*: a JSON list of tool definitions, or an object with
a `tools` list, in any of the shapes people already give their models:

- OpenAI:    {"type": "function", "function": {"name": ..., "parameters": {...}}}
- Anthropic: {"name": ..., "input_schema": {...}}
- MCP:       {"name": ..., "inputSchema": {...}}
- plain:     {"name": ..., "parameters": {...}}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match
from jsonschema.validators import validator_for

from toolwall.errors import SchemaLoadError
from toolwall.normalize import InputRejected, check_tool_name

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
    """A tool's schema with its validator compiled once."""

    __slots__ = ("_validator", "description", "name", "schema", "source")

    def __init__(
        self, name: str, schema: Mapping[str, Any], source: str, description: str | None = None
    ) -> None:
        self.name = name
        self.schema = schema
        self.source = source
        self.description = description
        cls = validator_for(schema, default=Draft202012Validator)
        try:
            cls.check_schema(dict(schema))
        except SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            raise SchemaLoadError(
                f"{source}: schema of {name!r} is not a valid JSON Schema at {where}: {exc.message}"
            ) from None
        self._validator = cls(schema)

    def violation(self, args: Any) -> SchemaViolation | None:
        """The most relevant violation, or None when `args` satisfy the schema."""
        error: ValidationError | None = best_match(self._validator.iter_errors(args))
        if error is None:
            return None
        return SchemaViolation(
            message=error.message,
            json_path=error.json_path,
            schema_path="/".join(str(p) for p in error.absolute_schema_path),
        )

    def is_valid(self, args: Any) -> bool:
        return bool(self._validator.is_valid(args))


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

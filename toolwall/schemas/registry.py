"""The schema registry: one JSON Schema per tool, checked against its metaschema and compiled once.

Validation has two paths. The fast one is a validator compiled to Python by fastjsonschema
(`toolwall.schemas.fast`), used only for schemas whose meaning fastjsonschema and `jsonschema`
share exactly; it answers yes or no. `jsonschema` stays the reference: it validates the schemas
outside the subset, and computes the violation (message and JSON path) whenever the fast path
says no, so a call is refused only when `jsonschema` refuses it and is never let through when it
would not. Both match `pattern` with RE2 (`toolwall.schemas.regexes`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import re2
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import validator_for

from toolwall.errors import SchemaLoadError
from toolwall.schemas.fast import compile_fast, is_plain, portable
from toolwall.schemas.load import definitions_in_file
from toolwall.schemas.meta import check_metaschema
from toolwall.schemas.regexes import compile_patterns, with_re2


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
        check_metaschema(cls, schema, name, source)
        try:
            compile_patterns(schema)
        except re2.error as exc:
            raise SchemaLoadError(
                f"{source}: schema of {name!r} has a pattern RE2 cannot compile: {exc}"
            ) from None
        self._validator = with_re2(cls)(schema)
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
            self._fast = compile_fast(self.schema)
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
        if fast is not None and (plain or is_plain(args)):
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
        if is_plain(args) and self.fast_valid(args):
            return True
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
        """Load every `*.json` file in `directory` (not recursive), in name order: plain schemas
        and tool bundles (`toolwall.schemas.load`)."""
        folder = Path(directory)
        if not folder.is_dir():
            raise SchemaLoadError(f"{folder}: schema folder does not exist")
        registry = cls()
        for file in sorted(folder.glob("*.json")):
            # A whole file is read and compiled before any of its tools is added.
            tools = [ToolSchema(*definition) for definition in definitions_in_file(file)]
            for tool in tools:
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

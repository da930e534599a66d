"""What the tool schemas say about `args.PATH`: the checker's view of JSON Schema.

`field_info` follows a reference through the schemas of the tools a rule covers (properties,
`items`, `prefixItems`, the branches of `anyOf`/`oneOf`/`allOf`) and says, per tool, whether
the field is declared, may exist (additional properties, `$ref`), or cannot exist, with the
types and sub-schemas it has where declared. Nothing here reports: the checker words findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from jsonschema import Draft202012Validator

from toolwall.policy import ast
from toolwall.policy.static_types import static_type
from toolwall.schemas.registry import SchemaRegistry

_JSON_TYPES: Final = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "null": "null",
    "array": "list",
    "object": "object",
}


@dataclass
@dataclass
class FieldInfo:
    """What the schemas of the covered tools say about one `args.PATH`."""

    present: list[str] = field(default_factory=list)  # tools whose schema declares it
    open: list[str] = field(default_factory=list)  # tools that may have it (additional props)
    absent: list[str] = field(default_factory=list)  # tools whose schema cannot have it
    types: set[str] | None = field(default_factory=set)  # union of declared types; None: any
    schemas: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)
    required_by: list[str] = field(default_factory=list)


# What `lookup` finds where the field cannot exist, or may exist without being declared.
ABSENT: Final = object()
OPEN: Final = object()


@dataclass
class Found:
    """The sub-schemas a declared field has; `required` when every step on the way is."""

    schemas: list[Mapping[str, Any]]
    required: bool = False


def field_info(
    registry: SchemaRegistry, steps: tuple[ast.Step, ...], tools: list[str]
) -> FieldInfo | None:
    """What the covered tools' schemas say about `args` followed by `steps`; None without tools."""
    if not tools:
        return None
    info = FieldInfo()
    for tool in tools:
        schema = registry.get(tool)
        if schema is None:
            continue
        found = lookup(schema.schema, steps)
        if found is ABSENT:
            info.absent.append(tool)
        elif found is OPEN:
            info.open.append(tool)
        else:
            assert isinstance(found, Found)
            info.present.append(tool)
            info.schemas.extend((tool, s) for s in found.schemas)
            if found.required:
                info.required_by.append(tool)
            types = schema_types(found.schemas)
            if types is None or info.types is None:
                info.types = None
            else:
                info.types |= types
    return info


def allowed_values(info: FieldInfo) -> list[Any] | None:
    """Every value the field can have when each of its schemas is a `const` or an `enum`; None
    when a schema allows more (or the field may exist undeclared)."""
    if info.open or not info.schemas:
        return None
    allowed: list[Any] = []
    for _, sub in info.schemas:
        if "const" in sub:
            allowed.append(sub["const"])
        elif isinstance(sub.get("enum"), list):
            allowed.extend(sub["enum"])
        else:
            return None
    return allowed


def property_names(registry: SchemaRegistry, tools: Iterable[str]) -> set[str]:
    """The top-level argument names the tools' schemas declare (for "did you mean")."""
    names: set[str] = set()
    for tool in tools:
        schema = registry.get(tool)
        props = schema.schema.get("properties") if schema is not None else None
        if isinstance(props, Mapping):
            names.update(str(k) for k in props)
    return names


def _branches(schema: Any) -> list[Mapping[str, Any]]:
    """The schema and the alternatives of its anyOf / oneOf / allOf, flattened."""
    if not isinstance(schema, Mapping):
        return []
    out = [schema]
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, ()) or ():
            out.extend(_branches(sub))
    return out


def lookup(schema: Mapping[str, Any], steps: tuple[ast.Step, ...]) -> Any:
    """Follow `steps` through a JSON Schema: `Found`, `ABSENT` or `OPEN`."""
    current: list[Mapping[str, Any]] = [schema]
    required = True
    for step in steps:
        nxt: list[Mapping[str, Any]] = []
        open_ = False
        for branch in (b for s in current for b in _branches(s)):
            if "$ref" in branch or "patternProperties" in branch:
                open_ = True
                continue
            if isinstance(step, ast.Key):
                props = branch.get("properties")
                if isinstance(props, Mapping) and step.name in props:
                    nxt.append(props[step.name])
                    if step.name not in (branch.get("required") or ()):
                        required = False
                    continue
                extra = branch.get("additionalProperties", True)
                if _declares_object(branch) and extra is False:
                    continue
                if isinstance(extra, Mapping):
                    nxt.append(extra)
                    required = False
                    continue
                if _declares_object(branch) or not _declares_type(branch):
                    open_ = True
            else:
                items = branch.get("items")
                prefix = branch.get("prefixItems")
                if isinstance(items, Mapping):
                    nxt.append(items)
                elif isinstance(prefix, list) and prefix:
                    nxt.extend(p for p in prefix if isinstance(p, Mapping))
                elif _declares_type(branch) and "array" not in _declared(branch):
                    continue
                else:
                    open_ = True
                required = False
        if nxt:
            current = nxt
            continue
        return OPEN if open_ else ABSENT
    return Found(current, required)


def _declared(schema: Mapping[str, Any]) -> set[str]:
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    return set()


def _declares_type(schema: Mapping[str, Any]) -> bool:
    return "type" in schema


def _declares_object(schema: Mapping[str, Any]) -> bool:
    return "object" in _declared(schema) or "properties" in schema


def schema_types(schemas: list[Mapping[str, Any]]) -> set[str] | None:
    """The static types a value satisfying one of `schemas` can have; None when unknown."""
    out: set[str] = set()
    for schema in schemas:
        declared = _declared(schema)
        if declared:
            out |= {_JSON_TYPES[t] for t in declared if t in _JSON_TYPES}
        elif "const" in schema:
            out.add(static_type(schema["const"]))
        elif isinstance(schema.get("enum"), list):
            out |= {static_type(v) for v in schema["enum"]}
        else:
            return None
    return out


def schema_problem(schema: Mapping[str, Any], value: Any) -> str | None:
    """Why `value` cannot satisfy `schema`, or None. Schemas with references are skipped."""
    if "$ref" in str(schema):
        return None
    try:
        validator = Draft202012Validator(dict(schema))
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
    except Exception:  # a sub-schema we cannot use alone: do not guess
        return None
    if not errors:
        return None
    return str(errors[0].message)

"""Types and JSON-path helpers the strategies share."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from typing import Any

from toolwall.schemas.registry import ToolSchema
from toolwall.testing.hints import Hints

SchemaLike = ToolSchema | Mapping[str, Any]
HintsLike = Hints | Iterable[str] | None
JsonPath = tuple[str | int, ...]


# -- paths into JSON values ---------------------------------------------------------------------


def json_leaves(
    value: Any, path: JsonPath = (), *, containers: bool = False
) -> list[tuple[JsonPath, Any]]:
    """(path, value) of every scalar inside `value` (and every container, if asked)."""
    found: list[tuple[JsonPath, Any]] = []
    if isinstance(value, dict):
        if containers:
            found.append((path, value))
        for key, item in value.items():
            found.extend(json_leaves(item, (*path, key), containers=containers))
    elif isinstance(value, list):
        if containers:
            found.append((path, value))
        for index, item in enumerate(value):
            found.extend(json_leaves(item, (*path, index), containers=containers))
    else:
        found.append((path, value))
    return found


def value_at(value: Any, path: JsonPath) -> Any:
    for part in path:
        value = value[part]
    return value


def value_at_or(value: Any, path: JsonPath, default: Any) -> Any:
    try:
        return value_at(value, path)
    except (KeyError, IndexError, TypeError):
        return default


def replaced(args: dict[str, Any], path: JsonPath, new: Any) -> dict[str, Any]:
    """A copy of `args` with the value at `path` replaced (or the key added)."""
    if not path:
        return new if isinstance(new, dict) else args
    result = copy.deepcopy(args)
    target: Any = result
    for part in path[:-1]:
        target = target[part]
    last = path[-1]
    settable = isinstance(target, dict) or (isinstance(target, list) and isinstance(last, int))
    if settable:
        target[last] = new
    return result


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

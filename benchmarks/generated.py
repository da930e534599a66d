"""A generated policy: many tools, ~10 rules on each, written to files like a real policy.

Every tool `svc<i>.op` has the same small schema; its rules mix the rule language's common
shapes (comparisons, `matches`, `startswith`, `in`, caller groups). The benchmark call fires
none of them, so each decision evaluates all rules of the called tool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "limit": {"type": "integer", "minimum": 0},
        "mode": {"type": "string", "enum": ["read", "write", "admin"]},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 20},
    },
    "required": ["name"],
    "additionalProperties": False,
}

CALL_ARGS: dict[str, Any] = {"name": "quarterly-report", "limit": 10, "mode": "read", "tags": []}


def tool_name(index: int) -> str:
    return f"svc{index}.op"


def rule_text(tool: str, index: int, k: int) -> str:
    shape = k % 5
    if shape == 0:
        cond, action = f"args.limit > {1000 + k}", "block"
    elif shape == 1:
        cond, action = f"args.name matches /^forbidden-{k}-/", "block"
    elif shape == 2:
        cond, action = (
            f'has(args.mode) and args.mode == "admin" and "ops{k}" not in caller.groups',
            "escalate",
        )
    elif shape == 3:
        cond, action = f'args.name startswith "tmp{k}-"', "block"
    else:
        cond, action = f'any t in args.tags: t == "secret{k}"', "escalate"
    return (
        f"rule r{index}_{k}:\n"
        f"    on {tool}\n"
        f"    when {cond}\n"
        f"    {action}\n"
        f'    because "rule {k} of {tool}"\n'
    )


def write_policy(folder: Path, rules: int, tools: int, files: int = 10) -> list[Path]:
    """Write `rules` rules spread evenly over `tools` tools into `files` .tw files."""
    per_tool = rules // tools
    folder.mkdir(parents=True, exist_ok=True)
    chunks: list[list[str]] = [[] for _ in range(files)]
    for i in range(tools):
        for k in range(per_tool):
            chunks[i % files].append(rule_text(tool_name(i), i, k))
    paths = []
    for n, chunk in enumerate(chunks):
        path = folder / f"generated_{n:02d}.tw"
        path.write_text("\n".join(chunk), encoding="utf-8")
        paths.append(path)
    return paths


def schemas(tools: int) -> dict[str, dict[str, Any]]:
    return {tool_name(i): SCHEMA for i in range(tools)}

"""The validate stage: arguments must satisfy the tool's JSON Schema, before the rules and again
after a rewrite (policy must not hand a tool what its schema refuses)."""

from __future__ import annotations

from typing import Any, Literal

from toolwall.model import Reason, ReasonKind
from toolwall.schemas.registry import ToolSchema

UnknownTool = Literal["block", "allow"]


def invalid(
    schema: ToolSchema | None,
    unknown_tool: UnknownTool,
    tool: str,
    args: dict[str, Any],
    *,
    plain: bool = False,
    rewritten: bool = False,
) -> Reason | None:
    """Why `args` may not go to `tool` (whose schema is `schema`, None when it has none), or
    None when they are valid (or the tool has no schema and `unknown_tool = "allow"`).

    `plain` says the arguments hold exact JSON types only (parsed text always does), so the
    compiled fast path may answer; `rewritten` says they are the rules' rewrite of valid ones.
    """
    if schema is None:
        if unknown_tool == "allow":
            return None
        return Reason(ReasonKind.UNKNOWN_TOOL, f"unknown tool {tool}: it has no schema")
    violation = schema.violation(args, plain=plain)
    if violation is None:
        return None
    if rewritten:
        return Reason(
            ReasonKind.REWRITE_INVALID,
            f"rewritten arguments do not satisfy the schema of {tool}: {violation}",
            location=violation.json_path,
        )
    return Reason(
        ReasonKind.SCHEMA,
        f"arguments do not satisfy the schema of {tool}: {violation}",
        location=violation.json_path,
    )

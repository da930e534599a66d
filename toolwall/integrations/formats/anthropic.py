"""Anthropic Messages: `content` blocks of type `tool_use`.

A block is `{"type": "tool_use", "id", "name", "input"}` with `input` already a JSON object.
A result is a block `{"type": "tool_result", "tool_use_id", "content", "is_error"}`; all results
for one assistant turn go back in a single user message, which `GuardedCalls.reply` builds.
"""

from __future__ import annotations

from typing import Any

from toolwall.integrations.formats._base import (
    FormatError,
    Message,
    ProposedCall,
    WireFormat,
    call_id,
    get,
    items,
    one_user_turn,
    provider_guard,
    text,
)


def calls(response: Any) -> tuple[list[ProposedCall], list[str]]:
    content = get(response, "content")
    if content is None:
        raise FormatError("not an Anthropic Messages response: it has no `content`")
    if isinstance(content, str):
        return [], []  # a plain text reply
    found: list[ProposedCall] = []
    ignored: list[str] = []
    for index, block in enumerate(items(content, "content")):
        kind = get(block, "type")
        if kind == "tool_use":
            found.append(
                ProposedCall(index, call_id(get(block, "id")), get(block, "name"), _input(block))
            )
        elif kind in ("server_tool_use", "mcp_tool_use"):
            # Run by Anthropic's servers, not by the app: nothing here can stop them.
            ignored.append(str(kind))
    return found, ignored


def _input(block: Any) -> Any:
    if isinstance(block, dict):
        return block.get("input")
    return getattr(block, "input", None)


def result(call_id: str | None, tool: str, output: Any, is_error: bool) -> Message:
    block: Message = {"type": "tool_result", "tool_use_id": call_id, "content": text(output)}
    if is_error:
        block["is_error"] = True
    return block


FORMAT = WireFormat("anthropic", calls, result, one_user_turn("content"))


guard_anthropic = provider_guard(
    FORMAT,
    __name__,
    """Decide every `tool_use` block of a Messages response (a dict or a `Message`).""",
)


def tool_result(tool_use_id: str, output: Any, *, is_error: bool = False) -> Message:
    """A `tool_result` block, without recording it (see `GuardedCalls.result`)."""
    return result(tool_use_id, "", output, is_error)

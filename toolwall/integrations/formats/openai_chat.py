"""OpenAI Chat Completions: `choices[0].message.tool_calls`.

A tool call is `{"id", "type": "function", "function": {"name", "arguments"}}` where `arguments`
is a JSON *string* the model wrote; it goes to the firewall as is, so broken JSON is blocked with
a strict-input reason. A result is a message `{"role": "tool", "tool_call_id", "content"}`.
"""

from __future__ import annotations

from typing import Any

from toolwall.integrations.formats._base import (
    FormatError,
    Message,
    ProposedCall,
    WireFormat,
    call_id,
    each_on_its_own,
    get,
    items,
    provider_guard,
    text,
)


def _message(response: Any) -> Any:
    choices = get(response, "choices")
    if choices is None:
        # The assistant message itself (what an app keeps in its conversation) is accepted too.
        if get(response, "tool_calls", "role") is not None:
            return response
        raise FormatError("not a Chat Completions response: it has no `choices`")
    choices = items(choices, "choices")
    if not choices:
        return None
    message = get(choices[0], "message")
    if message is None:
        raise FormatError("choices[0] has no `message`")
    return message


def calls(response: Any) -> tuple[list[ProposedCall], list[str]]:
    message = _message(response)
    if message is None:
        return [], []
    found: list[ProposedCall] = []
    ignored: list[str] = []
    for index, tc in enumerate(items(get(message, "tool_calls"), "message.tool_calls")):
        kind = get(tc, "type")
        if kind == "custom":
            # A custom tool's input is free text; toolwall decides it as JSON arguments, so
            # anything but a JSON object is blocked.
            custom = get(tc, "custom")
            found.append(
                ProposedCall(
                    index, call_id(get(tc, "id")), get(custom, "name"), get(custom, "input")
                )
            )
            continue
        if kind not in (None, "function"):
            raise FormatError(f"tool_calls[{index}] has the unknown type {kind!r}")
        function = get(tc, "function")
        if function is None:
            raise FormatError(f"tool_calls[{index}] has no `function`")
        found.append(
            ProposedCall(
                index, call_id(get(tc, "id")), get(function, "name"), get(function, "arguments")
            )
        )
    if get(message, "function_call") is not None:
        # The deprecated `functions` API: no call id, so no tool message can answer it.
        ignored.append("function_call")
    return found, ignored


def result(call_id: str | None, tool: str, output: Any, is_error: bool) -> Message:
    # Chat Completions has no error flag on tool messages: the text says it.
    return {"role": "tool", "tool_call_id": call_id, "content": text(output)}


FORMAT = WireFormat("openai_chat", calls, result, each_on_its_own)


guard_openai_chat = provider_guard(
    FORMAT,
    __name__,
    """Decide every tool call of a Chat Completions response (a dict or a `ChatCompletion`).""",
)


def tool_message(call_id: str, output: Any) -> Message:
    """`{"role": "tool", ...}` for an output, without recording it (see `GuardedCalls.result`)."""
    return result(call_id, "", output, False)

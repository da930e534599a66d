"""OpenAI Responses API: `output` items of type `function_call`.

An item is `{"type": "function_call", "call_id", "name", "arguments"}` with `arguments` a JSON
string. A result is an input item `{"type": "function_call_output", "call_id", "output"}`.
Other output items are not calls toolwall decides: messages and reasoning are skipped, and the
type of anything else (hosted tools the provider already ran, computer use, local shell, custom
tools) is listed in `GuardedCalls.ignored`, so an app that executes such items sees that
toolwall did not decide them.
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

_NOT_CALLS = frozenset({"message", "reasoning"})


def calls(response: Any) -> tuple[list[ProposedCall], list[str]]:
    output = get(response, "output")
    if output is None:
        if isinstance(response, list | tuple):
            output = response  # the output list itself
        else:
            raise FormatError("not a Responses API response: it has no `output`")
    found: list[ProposedCall] = []
    ignored: list[str] = []
    for index, item in enumerate(items(output, "output")):
        kind = get(item, "type")
        if kind == "function_call":
            found.append(
                ProposedCall(
                    index, call_id(get(item, "call_id")), get(item, "name"), get(item, "arguments")
                )
            )
        elif kind not in _NOT_CALLS:
            ignored.append(str(kind))
    return found, ignored


def result(call_id: str | None, tool: str, output: Any, is_error: bool) -> Message:
    return {"type": "function_call_output", "call_id": call_id, "output": text(output)}


FORMAT = WireFormat("openai_responses", calls, result, each_on_its_own)


guard_openai_responses = provider_guard(
    FORMAT,
    __name__,
    """Decide every `function_call` of a Responses API response (a dict or a `Response`).""",
)


def function_call_output(call_id: str, output: Any) -> Message:
    """A `function_call_output` item, without recording it (see `GuardedCalls.result`)."""
    return result(call_id, "", output, False)

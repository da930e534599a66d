"""Guard the `function_call` items of an OpenAI Responses API response.

Runs offline on a recorded response. With the SDK: `response = client.responses.create(...)`,
then `guard_openai_responses(firewall, response)`; send `guarded.reply(outputs)` back as the
`input` of the next request (with `previous_response_id`).

    python examples/formats_openai_responses.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolwall import ApprovalAnswer, ApprovalRequest, Callback, Caller, Firewall
from toolwall.integrations.formats import guard_openai_responses

POLICY = Path(__file__).resolve().parent.parent / "toolwall.toml"

TOOLS: dict[str, Any] = {
    "fs.read": lambda path: f"(contents of {path})",
    "db.query": lambda sql, limit, debug=False: {"rows": min(limit, 3), "limit": limit},
    "email.send": lambda to, subject, body, cc=None: {"sent_to": to},
}


def approve(request: ApprovalRequest) -> ApprovalAnswer:
    print(f"  approver sees: {request.decision.message()}")
    return ApprovalAnswer(True, by="ops-oncall")


def function_call(call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": f"fc_{call_id}",
        "call_id": call_id,
        "name": name,
        "arguments": json.dumps(args),
        "status": "completed",
    }


RESPONSE: dict[str, Any] = {
    "id": "resp_demo",
    "object": "response",
    "model": "gpt-4.1",
    "status": "completed",
    "output": [
        {"type": "reasoning", "id": "rs_1", "summary": []},
        function_call("call_read", "fs.read", {"path": "/srv/workspace/plan.md"}),
        function_call("call_rows", "db.query", {"sql": "select * from users", "limit": 1000}),
        function_call("call_secrets", "fs.read", {"path": "/etc/shadow"}),
        function_call(
            "call_mail",
            "email.send",
            {"to": ["someone@gmail.test"], "subject": "plan", "body": "see plan"},
        ),
        # A hosted tool: OpenAI already ran it; toolwall reports it in `guarded.ignored`.
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},
    ],
}


def main() -> list[dict[str, Any]]:
    firewall = Firewall.from_config(POLICY, approver=Callback(approve))
    caller = Caller(sub="assistant", tools=("fs.*", "db.query", "email.*"))

    guarded = guard_openai_responses(firewall, RESPONSE, caller=caller, session="demo-responses")
    for decision in guarded.decisions:
        print(f"{decision.action.value:<9} {decision.tool:<11} {decision.reason}")
    print(f"not decided (hosted tools): {list(guarded.ignored)}")

    guarded = guarded.resolve()
    outputs = {call.key: TOOLS[call.tool](**call.args) for call in guarded.calls}
    items = guarded.reply(outputs)  # function_call_output items, refusals included

    print("\nnext request's input items:")
    for item in items:
        print(" ", json.dumps(item))

    assert [c.key for c in guarded.calls] == ["call_read", "call_rows", "call_mail"]
    assert outputs["call_rows"] == {"rows": 3, "limit": 100}
    assert [r.key for r in guarded.refusals] == ["call_secrets"]
    assert guarded.ignored == ("web_search_call",)
    return items


if __name__ == "__main__":
    main()

"""Guard the `functionCall` parts of a Gemini `generateContent` response.

Runs offline on a recorded response (REST JSON, camelCase). With google-genai:
`response = client.models.generate_content(...)`, then `guard_gemini(firewall, response)`;
`guarded.reply(outputs)` is the one `user` content of `functionResponse` parts to send next.

    python examples/formats_gemini.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolwall import ApprovalAnswer, ApprovalRequest, Callback, Caller, Firewall
from toolwall.integrations.formats import guard_gemini

POLICY = Path(__file__).resolve().parent.parent / "toolwall.toml"

TOOLS: dict[str, Any] = {
    "fs.read": lambda path: {"text": f"(contents of {path})"},
    "db.query": lambda sql, limit, debug=False: {"rows": 3, "limit": limit},
    "email.send": lambda to, subject, body, cc=None: {"sent_to": to},
}


def approve(request: ApprovalRequest) -> ApprovalAnswer:
    print(f"  approver sees: {request.decision.message()}")
    return ApprovalAnswer(True, by="ops-oncall")


RESPONSE: dict[str, Any] = {
    "candidates": [
        {
            "index": 0,
            "finishReason": "STOP",
            "content": {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {
                            "id": "g1",
                            "name": "fs.read",
                            "args": {"path": "/srv/workspace/a.txt"},
                        }
                    },
                    {
                        "functionCall": {
                            "id": "g2",
                            "name": "db.query",
                            "args": {"sql": "select 1", "limit": 101},
                        }
                    },
                    {
                        "functionCall": {
                            "id": "g3",
                            "name": "fs.write",
                            "args": {"path": "/etc/cron.d/x", "content": "* * * * * root sh"},
                        }
                    },
                    {
                        "functionCall": {
                            "id": "g4",
                            "name": "email.send",
                            "args": {"to": ["press@news.test"], "subject": "hi", "body": "hello"},
                        }
                    },
                ],
            },
        }
    ]
}


def main() -> list[dict[str, Any]]:
    firewall = Firewall.from_config(POLICY, approver=Callback(approve))
    caller = Caller(sub="assistant", tools=("fs.*", "db.query", "email.*"))

    guarded = guard_gemini(firewall, RESPONSE, caller=caller, session="demo-gemini")
    for decision in guarded.decisions:
        print(f"{decision.action.value:<9} {decision.tool:<11} {decision.reason}")

    guarded = guarded.resolve()
    outputs = {call.key: TOOLS[call.tool](**call.args) for call in guarded.calls}
    (content,) = guarded.reply(outputs)

    print("\nnext content:")
    print(json.dumps(content, indent=2))

    assert [c.key for c in guarded.calls] == ["g1", "g2", "g4"]
    assert outputs["g2"] == {"rows": 3, "limit": 100}
    assert content["parts"][2]["functionResponse"]["response"]["error"].startswith(
        "toolwall blocked the call to fs.write"
    )
    return [content]


if __name__ == "__main__":
    main()

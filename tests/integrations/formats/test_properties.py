"""Properties over any mix of calls, in every provider format: each call is decided exactly once,
lands in exactly one of calls / refusals / escalated, and the reply answers every call in the
order the model proposed them."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.integrations.formats.demo_policy import ASSISTANT, CountingAudit, demo_firewall
from tests.integrations.formats.test_formats import PROVIDERS, _result_id, _result_items

CHOICES: list[tuple[str, Any]] = [
    ("fs.read", {"path": "/srv/workspace/a.txt"}),  # allow
    ("fs.read", {"path": "/etc/passwd"}),  # block (rule)
    ("db.query", {"sql": "select 1", "limit": 1000}),  # rewrite
    ("email.send", {"to": ["x@out.test"], "subject": "s", "body": "b"}),  # escalate
    ("shell.run", {"command": "mkfs /dev/sda"}),  # block (rule)
    ("fs.read", '{"path": '),  # block (strict input)
    ("fs.read", {"path": 3}),  # block (schema)
    ("nope.tool", {}),  # block (not granted)
]


def _response(provider: str, calls: list[tuple[str, str, Any]]) -> Any:
    if provider == "openai_chat":
        tcs = [
            {
                "id": i,
                "type": "function",
                "function": {"name": n, "arguments": a if isinstance(a, str) else json.dumps(a)},
            }
            for i, n, a in calls
        ]
        return {"choices": [{"message": {"role": "assistant", "tool_calls": tcs}}]}
    if provider == "openai_responses":
        return {
            "output": [
                {
                    "type": "function_call",
                    "call_id": i,
                    "name": n,
                    "arguments": a if isinstance(a, str) else json.dumps(a),
                }
                for i, n, a in calls
            ]
        }
    if provider == "anthropic":
        return {
            "content": [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in calls]
        }
    parts = [{"functionCall": {"id": i, "name": n, "args": a}} for i, n, a in calls]
    return {"candidates": [{"content": {"parts": parts}}]}


@settings(max_examples=60)
@given(
    provider=st.sampled_from(sorted(PROVIDERS)),
    picks=st.lists(st.integers(0, len(CHOICES) - 1), max_size=8),
)
def test_every_call_is_answered_once_in_order(provider: str, picks: list[int]) -> None:
    audit = CountingAudit()
    wall = demo_firewall(audit=audit)
    calls = [(f"c{k}", *CHOICES[p]) for k, p in enumerate(picks)]
    guard = PROVIDERS[provider][0]
    guarded = guard(wall, _response(provider, calls), caller=ASSISTANT, session="p")

    ids = [c[0] for c in calls]
    assert [d.call_id for d in guarded.decisions] == ids
    assert len(audit.records) == len(ids)
    buckets = [c.key for c in guarded.calls] + [r.key for r in guarded.refusals]
    buckets += [c.key for c in guarded.escalated]
    assert sorted(buckets) == sorted(ids)
    # Nothing that runs carries arguments outside the schema-checked, rewritten ones.
    for call in guarded.calls:
        assert call.args == call.decision.args
        assert call.decision.action.runs

    resolved = guarded.resolve()  # the default approver denies
    assert not resolved.calls or all(c.decision.action.runs for c in resolved.calls)
    reply = resolved.reply({c.key: "ok" for c in resolved.calls})
    assert [_result_id(item) for item in _result_items(reply)] == ids

"""The peers, on a policy and call equivalent to toolwall's demo (`email.send` to a colleague).

Each peer is optional (the `bench` extra); one that is not installed is reported, not fatal.

- invariant-ai: `LocalPolicy.analyze` on a one-call trace (the mail rule), and on a
  200-message trace with a flow rule (web content read earlier -> a payment now).
- cedarpy: `is_authorized`, with the policy set and the entities prepared once. Cedar has no
  string functions, so the recipients' domains are computed by the caller into the context.
- jsonschema: a validator built once, `is_valid` on the arguments: the floor of any check that
  validates arguments at all. fastjsonschema (toolwall's compiled fast path) is shown beside it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from benchmarks.timing import Stats, measure

EMAIL_ARGS: dict[str, Any] = {
    "to": ["bob@acme.test"],
    "subject": "report",
    "body": "the numbers " * 8,
}

INVARIANT_MAIL = """
raise "mail to an outside address needs approval" if:
    (call: ToolCall)
    call is tool:email_send
    company := ["acme.test", "acme-corp.test"]
    any([not (r.split("@")[-1] in company) for r in call.function.arguments.to])
"""

INVARIANT_FLOW = """
raise "payment after reading untrusted content" if:
    (out: ToolOutput) -> (call: ToolCall)
    out is tool:web_fetch
    call is tool:bank_transfer
"""

CEDAR_POLICY = """
permit (principal, action == Action::"call", resource == Tool::"email.send")
when { principal.tools.contains("email.*") };

forbid (principal, action == Action::"call", resource == Tool::"email.send")
unless { ["acme.test", "acme-corp.test"].containsAll(context.to_domains) };
"""

CEDAR_ENTITIES = [
    {
        "uid": {"type": "User", "id": "alice"},
        "attrs": {"tools": ["email.*"]},
        "parents": [],
    },
    {"uid": {"type": "Tool", "id": "email.send"}, "attrs": {}, "parents": []},
]

Result = dict[str, Any]


def _tool_call(i: int, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": str(i), "type": "function", "function": {"name": name, "arguments": args}}
        ],
    }


def flow_trace(messages: int = 200) -> list[dict[str, Any]]:
    """A user turn, a web fetch early on, file reads, and a payment as the last message."""
    trace: list[dict[str, Any]] = [{"role": "user", "content": "pay the invoice in the mail"}]
    trace.append(_tool_call(1, "web_fetch", {"url": "https://example.test/invoice"}))
    trace.append({"role": "tool", "tool_call_id": "1", "content": "IBAN DE00..."})
    i = 1
    while len(trace) < messages - 1:
        i += 1
        trace.append(_tool_call(i, "fs_read", {"path": f"/srv/workspace/{i}.txt"}))
        trace.append({"role": "tool", "tool_call_id": str(i), "content": "text"})
    trace.append(
        _tool_call(i + 1, "bank_transfer", {"to_iban": "DE00", "amount": 5, "currency": "EUR"})
    )
    return trace


def invariant(n_one: int, n_flow: int) -> list[Result]:
    try:
        # invariant caps its evaluation steps (default 100); a 200-message flow needs more.
        os.environ.setdefault("INVARIANT_MAX_ITERATIONS", "100000000")
        from invariant.analyzer import LocalPolicy
    except ImportError as exc:
        return [_missing("invariant-ai", "LocalPolicy.analyze, one call", exc)]
    one = LocalPolicy.from_string(INVARIANT_MAIL)
    trace = [_tool_call(1, "email_send", EMAIL_ARGS)]
    assert not one.analyze(trace).errors, "the benchmark call must be allowed"
    results = [
        _ok(
            "invariant-ai",
            "LocalPolicy.analyze, one-call trace",
            measure(lambda: one.analyze(trace), n_one, warmup=5),
        )
    ]
    flow = LocalPolicy.from_string(INVARIANT_FLOW)
    messages = flow_trace(200)
    assert flow.analyze(messages).errors, "the flow rule must fire on the trace"
    results.append(
        _ok(
            "invariant-ai",
            "LocalPolicy.analyze, 200-message trace, flow rule",
            measure(lambda: flow.analyze(messages), n_flow, warmup=0),
        )
    )
    return results


def cedar(n: int) -> list[Result]:
    try:
        import cedarpy
    except ImportError as exc:
        return [_missing("cedarpy", "is_authorized", exc)]
    policies = cedarpy.PolicySet.from_str(CEDAR_POLICY)
    entities = cedarpy.Entities.from_json_str(json.dumps(CEDAR_ENTITIES))

    def authorize() -> Any:
        # The domain extraction is part of the request, as it would be in an application.
        domains = [r.rsplit("@", 1)[-1].lower() for r in EMAIL_ARGS["to"]]
        request = {
            "principal": 'User::"alice"',
            "action": 'Action::"call"',
            "resource": 'Tool::"email.send"',
            "context": {"to_domains": domains},
        }
        return cedarpy.is_authorized(request, policies, entities)

    assert authorize().allowed, "the benchmark call must be allowed by Cedar"
    return [_ok("cedarpy", "is_authorized, policy set prepared once", measure(authorize, n))]


def validators(schema: dict[str, Any], n: int) -> list[Result]:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    assert validator.is_valid(EMAIL_ARGS)
    results = [
        _ok(
            "jsonschema",
            "precompiled is_valid (the floor)",
            measure(lambda: validator.is_valid(EMAIL_ARGS), n),
        )
    ]
    try:
        import fastjsonschema
    except ImportError as exc:
        results.append(_missing("fastjsonschema", "compiled validator", exc))
        return results
    fast: Callable[[Any], Any] = fastjsonschema.compile(
        schema, use_default=False, use_formats=False
    )
    results.append(
        _ok("fastjsonschema", "compiled validator", measure(lambda: fast(EMAIL_ARGS), n))
    )
    return results


def _ok(peer: str, what: str, stats: Stats) -> Result:
    return {"peer": peer, "what": what, "stats": stats}


def _missing(peer: str, what: str, exc: BaseException) -> Result:
    return {"peer": peer, "what": what, "missing": f"{type(exc).__name__}: {exc}"}

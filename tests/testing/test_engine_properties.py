"""The engine's invariants for generated calls, callers and sessions, on three rule stages:
no rules, a small hand-written rule engine that rewrites (sometimes into invalid arguments),
and the demo policy compiled from `rules/`."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT
from toolwall import Action, Caller, Firewall, Reason, ReasonKind, ToolCall
from toolwall.config import Limits
from toolwall.model import RuleVerdict
from toolwall.patterns import covered
from toolwall.pipeline.rules import NoRules
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state.memory import SessionState
from toolwall.testing import strategies as tws
from toolwall.testing.hints import PolicyHints
from toolwall.testing.runner import policy_firewall

SCHEMAS = SchemaRegistry.load(ROOT / "schemas")
TOOLS = SCHEMAS.names()
HINTS = PolicyHints.from_files([ROOT / "rules"])


class Rewriter:
    """Caps db.query limits, empties email recipients (which the schema refuses) and blocks
    paths with `..`; web.fetch taints."""

    def evaluate(
        self, tool: str, args: dict[str, Any], caller: Caller, session: SessionState
    ) -> RuleVerdict:
        if tool == "db.query" and args["limit"] > 100:
            reason = Reason(ReasonKind.RULE, "capped", rule="cap")
            return RuleVerdict(Action.REWRITE, {**args, "limit": 100}, (reason,), ("cap",))
        if tool == "email.send" and session.tainted:
            reason = Reason(ReasonKind.RULE, "no recipients", rule="strip")
            return RuleVerdict(Action.REWRITE, {**args, "to": []}, (reason,), ("strip",))
        if tool.startswith("fs.") and ".." in args["path"]:
            reason = Reason(ReasonKind.RULE, "dot-dot", rule="dots")
            return RuleVerdict(Action.BLOCK, None, (reason,), ("dots",))
        return RuleVerdict(Action.ALLOW)

    def taints(self, tool: str) -> bool:
        return tool == "web.fetch"

    def rules_for(self, tool: str) -> list[str]:
        return []


LIMITS = Limits(max_arg_bytes=8192, max_depth=12, max_string_length=4096)
FIREWALLS = {
    "no rules": Firewall(schemas=SCHEMAS, rules=NoRules(), limits=LIMITS),
    "rewriter": Firewall(schemas=SCHEMAS, rules=Rewriter(), limits=LIMITS),
    "demo policy": policy_firewall(ROOT / "toolwall.toml"),
}


@st.composite
def calls(draw: st.DrawFn) -> tuple[ToolCall, Caller]:
    tool = draw(st.sampled_from(TOOLS))
    schema = SCHEMAS.get(tool)
    assert schema is not None
    hints = HINTS.for_tool(tool)
    call = draw(
        st.one_of(
            tws.tool_calls(schema, hints=hints),
            tws.near_valid_calls(schema, hints=hints),
            tws.raw_json_arguments(schema, hints=hints).map(lambda t: ToolCall(tool=tool, args=t)),
        )
    )
    caller = draw(tws.callers(TOOLS, granted=tool, hints=HINTS.everything))
    return call, caller


@pytest.mark.parametrize("name", sorted(FIREWALLS))
@settings(max_examples=120)
@given(example=calls(), history=tws.session_histories(SCHEMAS, tools=["web.fetch", "email.send"]))
def test_decide_is_total_deterministic_and_never_runs_what_it_must_not(
    name: str, example: tuple[ToolCall, Caller], history: list[Any]
) -> None:
    firewall = FIREWALLS[name]
    call, caller = example

    def replay(session: str) -> Any:
        for step in history:
            for _ in range(step.repeat):
                done = firewall.decide(step.call, caller=caller, session=session)
                if step.has_result and done.action.runs:
                    firewall.record_result(step.call, step.result, session=session)
        return firewall.decide(call, caller=caller, session=session)

    try:
        first = replay("a")
        second = replay("b")
    finally:
        firewall.state.sessions.forget("a")
        firewall.state.sessions.forget("b")

    assert (first.action, first.args, first.reasons, first.rules) == (
        second.action,
        second.args,
        second.reasons,
        second.rules,
    )
    assert not any(r.kind is ReasonKind.INTERNAL for r in first.reasons), first.reason
    if first.action.runs:
        assert covered(caller.tools, call.tool), "ran a tool the caller was not granted"
    if first.action is not Action.BLOCK:
        schema = SCHEMAS.get(call.tool)
        assert schema is not None and schema.is_valid(first.args), first.explain()
    else:
        assert first.reasons, "every block says why"


def test_the_rewriter_really_rewrites_into_invalid_arguments() -> None:
    """The property above covers rewrites the schema refuses: the engine blocks them."""
    firewall = FIREWALLS["rewriter"]
    caller = Caller(sub="a", tools=("*",))
    firewall.record_result({"tool": "web.fetch"}, "text", session="t")
    decision = firewall.decide(
        {"tool": "email.send", "args": {"to": ["a@b.test"], "subject": "s", "body": "b"}},
        caller=caller,
        session="t",
    )
    firewall.state.sessions.forget("t")
    assert decision.action is Action.BLOCK
    assert decision.reasons[0].kind is ReasonKind.REWRITE_INVALID

"""The decision store contract (decisions by caller, session and call id), for every backend;
and a framework hook that fires on another replica meets the first replica's decision."""

from __future__ import annotations

import pytest

from tests.state.conftest import StateFactory
from tests.state.helpers import BOB
from toolwall import Action, Firewall, ToolCall
from toolwall.state import caller_key
from toolwall.state.codec import decision_from_json, decision_to_json

KEY = (caller_key(BOB), "s", "call-1")


def test_a_decision_is_found_for_its_call_only(make_state: StateFactory) -> None:
    state = make_state()
    decision = Firewall(unknown_tool="allow").decide(
        ToolCall(tool="email.send", args={"to": ["a@b.test"]}, id="call-1"), BOB, session="s"
    )
    assert state.decisions.get(KEY, "digest-1") is None
    state.decisions.put(KEY, "digest-1", decision)
    assert state.decisions.get(KEY, "digest-1") == decision
    assert state.decisions.get(KEY, "digest-2") is None  # the id reused for another call
    assert state.decisions.latest(KEY) == decision
    assert state.decisions.latest((caller_key(BOB), "other", "call-1")) is None


@pytest.mark.parametrize("backend", ["sqlite", "redis"], indirect=True)
def test_a_replica_meets_the_decision_another_made(make_state: StateFactory, backend: str) -> None:
    first = Firewall(unknown_tool="allow", state=make_state())
    second = Firewall(unknown_tool="allow", state=make_state())
    call = ToolCall(tool="email.send", args={"to": ["a@b.test"]}, id="call-1")
    made = first.decide_once(call, BOB, session="s")
    assert second.decide_once(call, BOB, session="s") == made
    assert second.decided("call-1", BOB, session="s") == made
    assert second.session("s").count("email.send") == 1  # decided, and counted, once


def test_a_decision_survives_json_whole() -> None:
    wall = Firewall()
    for decision in (
        wall.decide({"tool": "x", "args": {"a": [1, {"b": None}]}, "id": "c"}, BOB, session="s"),
        wall.decide({"tool": "x", "args": "{not json"}, BOB),
    ):
        assert decision_from_json(decision_to_json(decision)) == decision
    assert decision.action is Action.BLOCK

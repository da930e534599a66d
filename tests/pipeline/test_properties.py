"""Properties of the pipeline for arbitrary input: it never raises, never lets through what is
not granted or not schema-valid, and decides the same way twice."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import ROOT
from toolwall import Action, Caller, Decision, Firewall, ReasonKind, ToolCall
from toolwall.config import Limits
from toolwall.patterns import covered
from toolwall.schemas.registry import SchemaRegistry

SCHEMAS = SchemaRegistry.load(ROOT / "schemas")
TOOLS = SCHEMAS.names()
FIREWALL = Firewall(schemas=SCHEMAS, limits=Limits(max_arg_bytes=4096, max_depth=6))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
arguments = st.dictionaries(
    st.sampled_from(["path", "to", "subject", "body", "sql", "limit", "url", "command", "x"])
    | st.text(max_size=6),
    json_values,
    max_size=5,
)
patterns = st.sampled_from([*TOOLS, "*", "email.*", "fs.*", "*.read", "bank.*", "nothing"])
callers = st.builds(
    Caller,
    sub=st.none() | st.text(max_size=8),
    groups=st.lists(st.sampled_from(["eng", "hr", "ops"]), max_size=3).map(tuple),
    tools=st.lists(patterns, max_size=3).map(tuple),
    authenticated=st.booleans(),
)
tool_names = st.sampled_from(TOOLS) | st.text(max_size=12)
raw_text = st.one_of(
    arguments.map(json.dumps),
    st.text(max_size=60),
    arguments.map(lambda a: json.dumps(a)[:-1] + ', "path": 1}' if a else "{}"),
)


def not_crashed(decision: Decision) -> bool:
    return all(reason.kind is not ReasonKind.INTERNAL for reason in decision.reasons)


@given(tool=tool_names, args=arguments | raw_text, caller=st.none() | callers)
def test_decide_never_raises_and_never_allows_what_it_must_not(
    tool: str, args: dict[str, Any] | str, caller: Caller | None
) -> None:
    decision = FIREWALL.decide({"tool": tool, "args": args}, caller=caller)
    assert isinstance(decision.action, Action)
    # A pipeline that crashed on every call would pass the rest of this test: it never allows.
    assert not_crashed(decision)
    if decision.action.runs:
        assert caller is not None and covered(caller.tools, tool)
        schema = SCHEMAS.get(tool)
        assert schema is not None and schema.is_valid(decision.args)
    else:
        assert decision.reasons, "every refusal says why"


@given(tool=tool_names, args=arguments | raw_text, caller=callers)
def test_decisions_are_deterministic(tool: str, args: Any, caller: Caller) -> None:
    call = ToolCall(tool=tool, args=args) if isinstance(tool, str) else {"tool": tool}
    first = FIREWALL.decide(call, caller=caller)
    second = FIREWALL.decide(call, caller=caller)
    assert not_crashed(first)
    assert (first.action, first.args, first.reasons, first.rules) == (
        second.action,
        second.args,
        second.reasons,
        second.rules,
    )


@given(value=json_values)
def test_arbitrary_python_values_as_arguments_never_raise(value: Any) -> None:
    decision = FIREWALL.decide({"tool": "fs.read", "args": value}, caller=Caller(tools=("*",)))
    assert not_crashed(decision), decision.reason
    if not isinstance(value, dict):
        assert decision.action is Action.BLOCK

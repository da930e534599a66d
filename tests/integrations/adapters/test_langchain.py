"""The LangChain v1 / LangGraph adapter, with create_agent, a bare ToolNode and LangChain's fake
chat model: blocked tools never run and the model reads why, rewrites run rewritten, escalations
wait for an interrupt to be resumed, and every call is decided once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("langchain")
pytest.importorskip("langgraph")

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command

from tests.integrations.adapters.lc_support import ScriptedChatModel, Tools, calls_turn, scripted
from tests.integrations.formats.demo_policy import ASSISTANT, CountingAudit, demo_firewall
from toolwall import ApprovalAnswer, Callback, Firewall, ReasonKind
from toolwall.integrations.adapters.langchain import (
    INTERRUPT_TYPE,
    ToolwallMiddleware,
    parse_resume,
    route_each_call,
)

DESTRUCTIVE = ("c_shell", "shell.run", {"command": "rm -rf /"})
BIG_QUERY = ("c_query", "db.query", {"sql": "select * from t", "limit": 500, "debug": True})
OUTSIDE_MAIL = ("c_mail", "email.send", {"to": ["eve@evil.test"], "subject": "s", "body": "b"})
INSIDE_READ = ("c_read", "fs.read", {"path": "/srv/workspace/notes.md"})

RUN = {"configurable": {"thread_id": "thread-1"}}
CONTEXT = {"toolwall_caller": ASSISTANT}


@pytest.fixture
def audit() -> CountingAudit:
    return CountingAudit()


@pytest.fixture
def wall(audit: CountingAudit) -> Firewall:
    return demo_firewall(audit=audit)


@pytest.fixture
def tools() -> Tools:
    return Tools()


def agent_for(wall: Firewall, tools: Tools, model: ScriptedChatModel, **options: Any) -> Any:
    return create_agent(
        model,
        tools.all,
        middleware=[ToolwallMiddleware(wall, **options)],
        checkpointer=InMemorySaver(),
    )


def tool_messages(result: dict[str, Any]) -> dict[str, ToolMessage]:
    return {m.tool_call_id: m for m in result["messages"] if isinstance(m, ToolMessage)}


def test_a_blocked_tool_never_runs_and_the_model_reads_why(wall: Firewall, tools: Tools) -> None:
    model = scripted(calls_turn(DESTRUCTIVE, INSIDE_READ), "I will not do that.")
    result = agent_for(wall, tools, model).invoke(
        {"messages": [{"role": "user", "content": "clean up"}]}, RUN, context=CONTEXT
    )
    assert tools.names() == ["fs.read"]
    blocked = tool_messages(result)["c_shell"]
    assert blocked.status == "error"
    assert blocked.content == (
        "toolwall blocked the call to shell.run: rule shell_destructive: destructive shell command"
    )
    # The model's next turn was shown the refusal.
    second_turn = model.seen[1]
    assert any(isinstance(m, ToolMessage) and m.tool_call_id == "c_shell" for m in second_turn)
    assert tool_messages(result)["c_read"].status == "success"


def test_a_rewritten_call_runs_with_the_rewritten_arguments(wall: Firewall, tools: Tools) -> None:
    model = scripted(calls_turn(BIG_QUERY), "done")
    result = agent_for(wall, tools, model).invoke(
        {"messages": [{"role": "user", "content": "all rows"}]}, RUN, context=CONTEXT
    )
    assert tools.ran == [("db.query", {"sql": "select * from t", "limit": 100, "debug": False})]
    assert tool_messages(result)["c_query"].content == "100 rows"


def test_an_escalated_call_waits_then_runs_when_approved(
    wall: Firewall, tools: Tools, audit: CountingAudit
) -> None:
    agent = agent_for(wall, tools, scripted(calls_turn(OUTSIDE_MAIL, INSIDE_READ), "sent"))
    first = agent.invoke({"messages": [{"role": "user", "content": "mail"}]}, RUN, context=CONTEXT)
    (pending,) = first["__interrupt__"]
    assert pending.value["type"] == INTERRUPT_TYPE
    assert pending.value["tool"] == "email.send"
    assert pending.value["tool_call_id"] == "c_mail"
    assert pending.value["args"] == OUTSIDE_MAIL[2]
    assert pending.value["reasons"][0]["rule"] == "mail_outside_company"
    assert "email.send" not in tools.names()

    result = agent.invoke(Command(resume=True), RUN, context=CONTEXT)
    assert tools.names().count("email.send") == 1
    assert tool_messages(result)["c_mail"].content == "sent"
    # Two calls, two decisions: the resumed node re-ran but did not decide again.
    assert [r[1] for r in audit.records] == ["c_mail", "c_read"] or sorted(
        r[1] for r in audit.records
    ) == ["c_mail", "c_read"]
    assert len(audit.records) == 2
    # The approval counts as an approved call of the session.
    assert wall.session("thread-1").count("email.send") == 1


def test_an_escalated_call_does_not_run_when_denied(wall: Firewall, tools: Tools) -> None:
    model = scripted(calls_turn(OUTSIDE_MAIL), "ok, not sent")
    agent = agent_for(wall, tools, model)
    agent.invoke({"messages": [{"role": "user", "content": "mail"}]}, RUN, context=CONTEXT)
    result = agent.invoke(
        Command(resume={"approved": False, "by": "carol", "note": "not to that address"}),
        RUN,
        context=CONTEXT,
    )
    assert tools.ran == []
    denied = tool_messages(result)["c_mail"]
    assert denied.status == "error"
    assert denied.content.endswith("denied by carol: not to that address")
    assert any(isinstance(m, ToolMessage) and m.status == "error" for m in model.seen[1])


def test_several_escalations_are_answered_by_interrupt_id(
    wall: Firewall, tools: Tools, audit: CountingAudit
) -> None:
    other = ("c_mail2", "email.send", {"to": ["mallory@evil.test"], "subject": "s", "body": "b"})
    agent = agent_for(wall, tools, scripted(calls_turn(OUTSIDE_MAIL, other), "done"))
    first = agent.invoke({"messages": [{"role": "user", "content": "mail"}]}, RUN, context=CONTEXT)
    by_call = {i.value["tool_call_id"]: i.id for i in first["__interrupt__"]}
    assert set(by_call) == {"c_mail", "c_mail2"}
    result = agent.invoke(
        Command(resume={by_call["c_mail"]: "approve", by_call["c_mail2"]: "deny"}),
        RUN,
        context=CONTEXT,
    )
    assert tools.ran == [("email.send", {"to": ["eve@evil.test"], "subject": "s"})]
    assert tool_messages(result)["c_mail2"].status == "error"
    assert len(audit.records) == 2


def test_an_answer_naming_another_call_is_a_denial(wall: Firewall, tools: Tools) -> None:
    agent = agent_for(wall, tools, scripted(calls_turn(OUTSIDE_MAIL), "done"))
    agent.invoke({"messages": [{"role": "user", "content": "mail"}]}, RUN, context=CONTEXT)
    result = agent.invoke(
        Command(resume={"approved": True, "tool_call_id": "c_other"}), RUN, context=CONTEXT
    )
    assert tools.ran == []
    assert "the answer was for tool call c_other" in tool_messages(result)["c_mail"].content


def test_the_approver_mode_asks_the_firewall_approver_once(
    audit: CountingAudit, tools: Tools
) -> None:
    asked: list[str | None] = []

    def approve(request: Any) -> ApprovalAnswer:
        asked.append(request.decision.call_id)
        return ApprovalAnswer(True, by="ops")

    wall = demo_firewall(audit=audit, approver=Callback(approve))
    model = scripted(calls_turn(OUTSIDE_MAIL), "sent")
    result = agent_for(wall, tools, model, escalation="approver").invoke(
        {"messages": [{"role": "user", "content": "mail"}]}, RUN, context=CONTEXT
    )
    assert "__interrupt__" not in result
    assert asked == ["c_mail"]
    assert tools.names() == ["email.send"]


def test_a_hook_that_fires_twice_decides_once_and_runs_an_approval_once(
    audit: CountingAudit, tools: Tools
) -> None:
    asked: list[str | None] = []
    wall = demo_firewall(
        audit=audit, approver=Callback(lambda r: asked.append(r.decision.call_id) or True)
    )
    guard = ToolwallMiddleware(wall, escalation="approver")
    mail_tool = next(t for t in tools.all if t.name == "email.send")
    request = ToolCallRequest(
        tool_call={"id": "c_mail", "name": "email.send", "args": OUTSIDE_MAIL[2]},
        tool=mail_tool,
        state={"messages": []},
        runtime=None,
    )
    executed: list[dict[str, Any]] = []

    def handler(req: ToolCallRequest) -> ToolMessage:
        executed.append(req.tool_call["args"])
        return ToolMessage(content="sent", tool_call_id=req.tool_call["id"])

    with wall.acting_as(caller=ASSISTANT, session="s"):
        first = guard.wrap_tool_call(request, handler)
        second = guard.wrap_tool_call(request, handler)
    assert first.status == "success"
    assert second.status == "error"
    assert "was already used" in second.content
    assert len(executed) == 1 and asked == ["c_mail"]
    assert len(audit.records) == 1


def test_identity_comes_from_the_run_not_the_messages(wall: Firewall, tools: Tools) -> None:
    model = scripted(calls_turn(INSIDE_READ), "done")
    # No caller in the run: the anonymous caller is granted nothing.
    result = agent_for(wall, tools, model).invoke(
        {"messages": [{"role": "user", "content": "I am admin, read it"}]}, RUN
    )
    refused = tool_messages(result)["c_read"]
    assert refused.status == "error" and "not granted" in refused.content
    assert tools.ran == []


def test_a_caller_in_configurable_and_a_token_without_identity(
    wall: Firewall, tools: Tools
) -> None:
    model = scripted(calls_turn(INSIDE_READ), "done")
    agent = agent_for(wall, tools, model)
    run = {"configurable": {"thread_id": "t", "toolwall_caller": ASSISTANT}}
    agent.invoke({"messages": [{"role": "user", "content": "read"}]}, run)
    assert tools.names() == ["fs.read"]

    tokened = {"configurable": {"thread_id": "t2", "toolwall_token": "not-a-jwt"}}
    model2 = scripted(calls_turn(INSIDE_READ), "done")
    result = agent_for(wall, tools, model2).invoke(
        {"messages": [{"role": "user", "content": "read"}]}, tokened
    )
    refused = tool_messages(result)["c_read"]
    assert "no [identity] is configured" in refused.content
    assert tools.names() == ["fs.read"]


def test_a_wrong_caller_type_in_the_context_runs_nothing(wall: Firewall, tools: Tools) -> None:
    agent = agent_for(wall, tools, scripted(calls_turn(INSIDE_READ), "done"))
    try:
        result = agent.invoke(
            {"messages": [{"role": "user", "content": "read"}]},
            RUN,
            context={"toolwall_caller": {"sub": "root", "tools": ["*"]}},
        )
    except TypeError as exc:
        assert "must be a toolwall Caller" in str(exc)
    else:
        assert tool_messages(result)["c_read"].status == "error"
    assert tools.ran == []


def test_results_taint_the_thread_session(wall: Firewall, tools: Tools) -> None:
    model = scripted(calls_turn(("c_inbox", "email.read", {"folder": "inbox"})), "read it")
    assert not wall.session("thread-1").tainted
    agent_for(wall, tools, model).invoke(
        {"messages": [{"role": "user", "content": "inbox"}]}, RUN, context=CONTEXT
    )
    assert wall.session("thread-1").tainted
    assert not wall.session("thread-2").tainted


def test_async_agent_blocks_rewrites_and_interrupts(
    wall: Firewall, tools: Tools, audit: CountingAudit
) -> None:
    model = scripted(calls_turn(DESTRUCTIVE, BIG_QUERY, OUTSIDE_MAIL), "done")
    agent = agent_for(wall, tools, model)

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        first = await agent.ainvoke(
            {"messages": [{"role": "user", "content": "go"}]}, RUN, context=CONTEXT
        )
        second = await agent.ainvoke(Command(resume="approve"), RUN, context=CONTEXT)
        return first, second

    first, second = asyncio.run(run())
    assert [i.value["tool_call_id"] for i in first["__interrupt__"]] == ["c_mail"]
    assert sorted(tools.names()) == ["db.query", "email.send"]
    assert ("db.query", {"sql": "select * from t", "limit": 100, "debug": False}) in tools.ran
    assert tool_messages(second)["c_shell"].status == "error"
    assert len(audit.records) == 3


class _Graph(MessagesState):
    pass


def tool_node_graph(
    wall: Firewall, tools: Tools, model: ScriptedChatModel, each_call: bool = False
) -> Any:
    guard = ToolwallMiddleware(wall)

    def call_model(state: _Graph) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(_Graph)
    graph.add_node("model", call_model)
    graph.add_node(
        "tools",
        ToolNode(
            tools.all, wrap_tool_call=guard.wrap_tool_call, awrap_tool_call=guard.awrap_tool_call
        ),
    )
    graph.add_edge(START, "model")
    if each_call:
        graph.add_conditional_edges("model", route_each_call("tools"), ["tools", END])
    else:
        graph.add_conditional_edges("model", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "model")
    return graph.compile(checkpointer=InMemorySaver())


def test_a_bare_tool_node_is_guarded_the_same_way(
    wall: Firewall, tools: Tools, audit: CountingAudit
) -> None:
    model = scripted(calls_turn(DESTRUCTIVE, BIG_QUERY, OUTSIDE_MAIL), "done")
    app = tool_node_graph(wall, tools, model)
    first = app.invoke({"messages": [{"role": "user", "content": "go"}]}, RUN, context=CONTEXT)
    (pending,) = first["__interrupt__"]
    assert pending.value["tool"] == "email.send"
    assert "email.send" not in tools.names()

    result = app.invoke(Command(resume=True), RUN, context=CONTEXT)
    messages = tool_messages(result)
    assert messages["c_shell"].status == "error"
    assert messages["c_query"].content == "100 rows"
    assert messages["c_mail"].content == "sent"
    assert "shell.run" not in tools.names()
    assert tools.names().count("email.send") == 1
    # One task ran all three calls, and re-ran after the resume: still three decisions.
    assert len(audit.records) == 3
    assert isinstance(result["messages"][-1], AIMessage)


def test_a_tool_node_with_one_task_per_call_runs_each_call_once(
    wall: Firewall, tools: Tools, audit: CountingAudit
) -> None:
    model = scripted(calls_turn(DESTRUCTIVE, BIG_QUERY, OUTSIDE_MAIL), "done")
    app = tool_node_graph(wall, tools, model, each_call=True)
    first = app.invoke({"messages": [{"role": "user", "content": "go"}]}, RUN, context=CONTEXT)
    assert [i.value["tool_call_id"] for i in first["__interrupt__"]] == ["c_mail"]
    result = app.invoke(Command(resume=True), RUN, context=CONTEXT)
    assert sorted(tools.names()) == ["db.query", "email.send"]
    assert tool_messages(result)["c_shell"].status == "error"
    assert len(audit.records) == 3


@pytest.mark.parametrize(
    ("value", "approved"),
    [
        (True, True),
        (False, False),
        ("approve", True),
        (" Deny ", False),
        ({"approved": True, "by": "carol"}, True),
        ({"approved": "yes"}, False),
        (None, False),
        (1, False),
        ("maybe", False),
        ({"approved": True, "tool_call_id": "other"}, False),
        ({"approved": True, "tool_call_id": "c1"}, True),
    ],
)
def test_resume_values(value: Any, approved: bool) -> None:
    answer = parse_resume(value, "c1")
    assert answer.approved is approved
    if approved is False and value not in (False, " Deny "):
        assert answer.by == "toolwall" and answer.note


def test_a_denial_reason_kind_is_approval(wall: Firewall, tools: Tools) -> None:
    guard = ToolwallMiddleware(wall, escalation="approver")
    mail_tool = next(t for t in tools.all if t.name == "email.send")
    request = ToolCallRequest(
        tool_call={"id": "c9", "name": "email.send", "args": OUTSIDE_MAIL[2]},
        tool=mail_tool,
        state={"messages": []},
        runtime=None,
    )
    with wall.acting_as(caller=ASSISTANT):
        message = guard.wrap_tool_call(request, lambda r: pytest.fail("must not run"))
    assert message.status == "error"
    assert message.artifact["toolwall"]["action"] == "block"
    assert "denied by toolwall" in message.content
    assert ReasonKind.APPROVAL.value == "approval"


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ("arguments", "given for a different call"),
        ("caller", "before this call was asked about"),
        ("expiry", "expired unanswered"),
    ],
)
def test_an_approval_runs_only_the_call_it_was_given_for(
    audit: CountingAudit, tools: Tools, change: str, refusal: str
) -> None:
    """`Command(resume=True)` answers the interrupt that was shown: not the call with
    arguments edited in the graph's state meanwhile, not the call resumed under another
    identity, not after the approval expired."""
    from toolwall import Caller
    from toolwall.state import MemoryApprovals, MemoryDecisions, MemorySessions, State

    clock = [1_000_000.0]
    state = State(MemorySessions(), MemoryApprovals(clock=lambda: clock[0]), MemoryDecisions())
    wall = demo_firewall(audit=audit, state=state, approval_ttl_s=60)
    agent = agent_for(wall, tools, scripted(calls_turn(OUTSIDE_MAIL), "done"))
    agent.invoke({"messages": [{"role": "user", "content": "mail"}]}, RUN, context=CONTEXT)
    context = CONTEXT
    if change == "arguments":
        proposed = agent.get_state(RUN).values["messages"][-1]
        [tool_call] = proposed.tool_calls
        edited = {**tool_call, "args": {**tool_call["args"], "to": ["attacker@evil.test"]}}
        replaced = AIMessage(content=proposed.content, id=proposed.id, tool_calls=[edited])
        agent.update_state(RUN, {"messages": [replaced]})
    elif change == "caller":
        context = {"toolwall_caller": Caller(sub="mallory", tools=ASSISTANT.tools)}
    else:
        clock[0] += 61
    result = agent.invoke(Command(resume=True), RUN, context=context)
    assert tools.ran == []
    refused = tool_messages(result)["c_mail"]
    assert refused.status == "error" and refusal in refused.content

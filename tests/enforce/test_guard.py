"""Enforcement for plain Python: guard, run and arun never let a refused call reach the tool."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.pipeline.test_decide import ScriptedRules
from toolwall import (
    Action,
    ApprovalAnswer,
    ApprovalRequest,
    Blocked,
    Callback,
    Caller,
    Firewall,
    ToolCall,
)
from toolwall.model import RuleVerdict
from toolwall.schemas.registry import SchemaRegistry


@pytest.fixture
def calls() -> list[tuple[str, dict[str, Any]]]:
    return []


def make_tools(firewall: Firewall, calls: list[tuple[str, dict[str, Any]]]) -> Any:
    @firewall.guard("fs.read")
    def read_file(path: str) -> str:
        calls.append(("fs.read", {"path": path}))
        return f"contents of {path}"

    @firewall.guard("db.query", on_block="message")
    def query(sql: str, limit: int, **extra: Any) -> str:
        calls.append(("db.query", {"sql": sql, "limit": limit, **extra}))
        return f"{limit} rows"

    return read_file, query


def test_guard_runs_allowed_calls_and_refuses_the_rest(
    firewall: Firewall, alice: Caller, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    read_file, _ = make_tools(firewall, calls)
    with firewall.acting_as(caller=alice, session="s"):
        assert read_file("/srv/workspace/a") == "contents of /srv/workspace/a"
    # Outside the context nobody is acting: the anonymous caller has no grants.
    with pytest.raises(Blocked) as info:
        read_file("/srv/workspace/a")
    assert info.value.decision.action is Action.BLOCK
    assert "not granted" in str(info.value)
    assert calls == [("fs.read", {"path": "/srv/workspace/a"})]


def test_guard_with_message_returns_the_refusal_text(
    firewall: Firewall, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    _, query = make_tools(firewall, calls)
    with firewall.acting_as(caller=Caller(sub="eve", tools=("fs.read",))):
        text = query("select 1", limit=5)
    assert text == "toolwall blocked the call to db.query: eve is not granted db.query"
    assert calls == []


def test_guard_calls_the_function_with_rewritten_arguments(
    demo_schemas: SchemaRegistry, alice: Caller, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    rules = ScriptedRules(
        "db.query", RuleVerdict(Action.REWRITE, {"sql": "select 1", "limit": 100})
    )
    firewall = Firewall(schemas=demo_schemas, rules=rules)
    _, query = make_tools(firewall, calls)
    with firewall.acting_as(caller=alice):
        assert query("select 1", 5000, debug=True) == "100 rows"
    assert calls == [("db.query", {"sql": "select 1", "limit": 100})]


def test_escalations_are_denied_by_default_and_run_when_approved(
    demo_schemas: SchemaRegistry, alice: Caller, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    rules = ScriptedRules("fs.read", RuleVerdict(Action.ESCALATE))
    denied = Firewall(schemas=demo_schemas, rules=rules)
    read_file, _ = make_tools(denied, calls)
    with denied.acting_as(caller=alice), pytest.raises(Blocked) as info:
        read_file("/srv/workspace/a")
    assert "denied by toolwall: no approver is configured" in str(info.value)
    assert calls == []

    asked: list[ApprovalRequest] = []

    def approve(request: ApprovalRequest) -> ApprovalAnswer:
        asked.append(request)
        return ApprovalAnswer(True, by="carol", note="ok")

    approving = Firewall(schemas=demo_schemas, rules=rules, approver=Callback(approve))
    read_file, _ = make_tools(approving, calls)
    with approving.acting_as(caller=alice, session="s"):
        assert read_file("/srv/workspace/a") == "contents of /srv/workspace/a"
    assert asked[0].caller.sub == "alice" and asked[0].decision.tool == "fs.read"
    assert approving.session("s").count("fs.read") == 1


def test_a_failing_approver_is_a_denial(
    demo_schemas: SchemaRegistry, alice: Caller, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    def broken(request: ApprovalRequest) -> bool:
        raise RuntimeError("approval service down")

    rules = ScriptedRules("fs.read", RuleVerdict(Action.ESCALATE))
    firewall = Firewall(schemas=demo_schemas, rules=rules, approver=Callback(broken))
    with pytest.raises(Blocked, match="approver failed: approval service down"):
        firewall.run(ToolCall(tool="fs.read", args={"path": "/x"}), lambda path: 1, caller=alice)


def test_run_and_arun(firewall: Firewall, alice: Caller) -> None:
    call = ToolCall(tool="fs.read", args='{"path": "/srv/workspace/b"}')
    assert firewall.run(call, lambda path: path.upper(), caller=alice) == "/SRV/WORKSPACE/B"

    async def read(path: str) -> str:
        await asyncio.sleep(0)
        return path

    assert asyncio.run(firewall.arun(call, read, caller=alice)) == "/srv/workspace/b"
    refused = asyncio.run(firewall.arun(call, read, on_block="message"))
    assert refused.startswith("toolwall blocked the call to fs.read")


def test_async_guard_and_async_approver(demo_schemas: SchemaRegistry, alice: Caller) -> None:
    async def approve(request: ApprovalRequest) -> bool:
        await asyncio.sleep(0)
        return request.decision.args == {"path": "/srv/workspace/a"}

    rules = ScriptedRules("fs.read", RuleVerdict(Action.ESCALATE))
    firewall = Firewall(schemas=demo_schemas, rules=rules, approver=Callback(approve))

    @firewall.guard("fs.read")
    async def read_file(path: str) -> str:
        return "read " + path

    async def main() -> tuple[str, str]:
        with firewall.acting_as(caller=alice):
            first = await read_file("/srv/workspace/a")
            try:
                await read_file("/srv/workspace/b")
                second = "ran"
            except Blocked as exc:
                second = str(exc)
        return first, second

    first, second = asyncio.run(main())
    assert first == "read /srv/workspace/a"
    assert "denied by callback" in second


def test_guard_rejects_positional_only_functions(firewall: Firewall) -> None:
    def f(a: int, /) -> int:
        return a

    with pytest.raises(TypeError, match="positional-only"):
        firewall.guard("x")(f)


def test_on_block_must_be_known(firewall: Firewall) -> None:
    with pytest.raises(ValueError, match="on_block"):
        firewall.guard("x", on_block="ignore")  # type: ignore[arg-type]


class Desk:
    """A person at the approval desk: approves only the calls on their list, and may take
    longer to answer than an approval lives."""

    def __init__(self, clock: list[float], *approvable: tuple[str | None, dict[str, Any]]):
        self.clock = clock
        self.approvable = list(approvable)
        self.asked: list[ApprovalRequest] = []
        self.answer_after_s = 0.0

    def __call__(self, request: ApprovalRequest) -> bool:
        self.asked.append(request)
        self.clock[0] += self.answer_after_s
        return (request.caller.sub, request.args) in self.approvable


def test_an_approval_runs_only_the_call_it_was_given_for() -> None:
    from toolwall.state import MemoryApprovals, MemoryDecisions, MemorySessions, State

    pay = {"to_iban": "DE02120300000000202051", "amount": 250}
    clock = [1_000_000.0]
    desk = Desk(clock, ("bob", pay))
    verdict = RuleVerdict(Action.ESCALATE, None, (), ("ask",))
    firewall = Firewall(
        schemas=SchemaRegistry(),
        unknown_tool="allow",
        rules=ScriptedRules("bank.transfer", verdict),
        approver=Callback(desk),
        state=State(MemorySessions(), MemoryApprovals(clock=lambda: clock[0]), MemoryDecisions()),
        approval_ttl_s=60,
    )
    bob = Caller(sub="bob", tools=("*",))
    mallory = Caller(sub="mallory", tools=("*",))
    ran: list[dict[str, Any]] = []

    def run(args: dict[str, Any], caller: Caller) -> Any:
        call = ToolCall(tool="bank.transfer", args=args, id="c1")
        return firewall.run(call, lambda **a: ran.append(a), caller=caller, on_block="message")

    run(pay, bob)
    assert ran == [pay]
    # The same call id with changed arguments is a new question, which the desk refuses.
    edited = {**pay, "to_iban": "GB33BUKB20201555555555"}
    assert "denied by callback" in run(edited, bob)
    # Another caller's call, even with the same id and arguments, is a new question too.
    assert "denied by callback" in run(pay, mallory)
    assert [(r.caller.sub, r.args) for r in desk.asked] == [
        ("bob", pay),
        ("bob", edited),
        ("mallory", pay),
    ]
    # An answer given after the approval expired releases nothing.
    desk.answer_after_s = 61
    late = firewall.run(
        ToolCall(tool="bank.transfer", args=pay, id="c2"),
        lambda **a: ran.append(a),
        caller=bob,
        on_block="message",
    )
    assert "expired" in late
    assert ran == [pay]

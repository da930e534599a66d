"""The built-in approvers: Console (scripted), Callback (sync and async), DenyAll."""

from __future__ import annotations

import asyncio
import io
import sys

import pytest
from rich.console import Console as RichConsole

from tests.audit.helpers import BOB, escalate_rules, open_firewall
from toolwall import (
    Action,
    ApprovalAnswer,
    ApprovalRequest,
    Blocked,
    Callback,
    Console,
    DenyAll,
    Reason,
    ReasonKind,
)
from toolwall.audit.log import AuditLog
from toolwall.enforce.approvers import args_diff
from toolwall.model import RuleVerdict

QUERY = {"sql": "select * from payments", "limit": 5000, "debug": True}


def escalated_rewrite() -> ApprovalRequest:
    """An escalated call whose arguments policy also rewrote (the approver sees the diff)."""
    from tests.pipeline.test_decide import ScriptedRules

    reasons = (
        Reason(ReasonKind.RULE, "payments need approval", rule="ask_pay", location="r.tw:4:1"),
        Reason(ReasonKind.RULE, "row limit capped", rule="cap", location="r.tw:9:1"),
    )
    verdict = RuleVerdict(
        Action.ESCALATE, {"sql": QUERY["sql"], "limit": 100}, reasons, ("ask_pay", "cap")
    )
    firewall = open_firewall(AuditLog(), ScriptedRules("db.query", verdict))
    decision = firewall.decide({"tool": "db.query", "args": QUERY}, caller=BOB, session="s9")
    assert decision.action is Action.ESCALATE
    return ApprovalRequest(decision)


def scripted(answer: str) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    rich = RichConsole(file=out, width=100, color_system=None)
    return Console(input=io.StringIO(answer), output=rich, name="carol"), out


def test_console_shows_the_call_the_diff_and_the_reasons_then_approves_on_y() -> None:
    console, out = scripted("y\n")
    answer = console.approve(escalated_rewrite())
    assert answer == ApprovalAnswer(True, by="carol", note="approved at the console")
    shown = out.getvalue()
    for text in (
        "approval needed",
        "db.query",
        "bob (https://idp.example)",
        "s9",
        "rule ask_pay: payments need approval",
        "[r.tw:4:1]",
        "rule cap: row limit capped",
        '-  "debug": true,',
        '-  "limit": 5000,',
        '+  "limit": 100,',
        "Approve this call? [y/N]",
    ):
        assert text in shown, text


@pytest.mark.parametrize("typed", ["n\n", "\n", "maybe\n", ""])
def test_console_denies_anything_but_yes(typed: str) -> None:
    console, _ = scripted(typed)
    answer = console.approve(escalated_rewrite())
    assert not answer.approved


def test_console_without_a_terminal_denies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # piped input: nobody is there
    answer = Console().approve(escalated_rewrite())
    assert not answer.approved and "no terminal" in answer.note


def test_console_async_answers_from_a_thread() -> None:
    console, _ = scripted("yes\n")
    assert asyncio.run(console.aapprove(escalated_rewrite())).approved


def test_args_diff_lists_removed_and_added_lines() -> None:
    diff = args_diff({"a": 1, "b": 2}, {"a": 1, "b": 3})
    assert '-  "b": 2' in diff and '+  "b": 3' in diff
    assert args_diff({"a": 1}, {"a": 1}) == []


def test_callback_sync_bool_and_answer() -> None:
    request = escalated_rewrite()
    assert Callback(lambda r: True).approve(request) == ApprovalAnswer(True, by="callback")
    named = Callback(lambda r: r.args == {"sql": QUERY["sql"], "limit": 100}, name="policy-bot")
    assert named.approve(request) == ApprovalAnswer(True, by="policy-bot")
    full = Callback(lambda r: ApprovalAnswer(False, by="erin", note="not today"))
    assert full.approve(request).note == "not today"
    with pytest.raises(TypeError, match="not a bool or answer"):
        Callback(lambda r: "yes").approve(request)  # type: ignore[arg-type,return-value]


def test_callback_async_from_sync_and_async_code() -> None:
    seen: list[str] = []

    async def decide(request: ApprovalRequest) -> bool:
        await asyncio.sleep(0)
        seen.append(request.tool)
        return True

    callback = Callback(decide)
    request = escalated_rewrite()
    assert callback.approve(request).approved  # no loop running: runs on its own loop
    assert asyncio.run(callback.aapprove(request)).approved

    async def inside_a_loop() -> None:
        with pytest.raises(TypeError, match="event loop is running"):
            callback.approve(request)

    asyncio.run(inside_a_loop())
    assert seen == ["db.query", "db.query"]


def test_callback_escalation_end_to_end_sync_and_async() -> None:
    asked: list[ApprovalRequest] = []

    def approve(request: ApprovalRequest) -> ApprovalAnswer:
        asked.append(request)
        return ApprovalAnswer(request.args == {"amount": 5}, by="finance")

    firewall = open_firewall(AuditLog(), escalate_rules("pay"), approver=Callback(approve))
    assert firewall.run({"tool": "pay", "args": {"amount": 5}}, lambda amount: amount, BOB) == 5
    with pytest.raises(Blocked, match="denied by finance"):
        firewall.run({"tool": "pay", "args": {"amount": 6}}, lambda amount: amount, BOB)
    assert [r.args for r in asked] == [{"amount": 5}, {"amount": 6}]

    async def aapprove(request: ApprovalRequest) -> bool:
        await asyncio.sleep(0)
        return True

    async_firewall = open_firewall(AuditLog(), escalate_rules("pay"), approver=Callback(aapprove))

    async def tool(amount: int) -> int:
        return amount * 2

    result = asyncio.run(async_firewall.arun({"tool": "pay", "args": {"amount": 4}}, tool, BOB))
    assert result == 8


def test_approved_calls_count_in_their_session() -> None:
    firewall = open_firewall(AuditLog(), escalate_rules("pay"), approver=Callback(lambda r: True))
    firewall.run({"tool": "pay", "args": {}}, lambda: None, BOB, session="s")
    assert firewall.session("s").count("pay") == 1
    assert firewall.session("s").count_within("pay", 60) == 1


def test_deny_all_denies_and_says_why() -> None:
    answer = DenyAll().approve(escalated_rewrite())
    assert not answer.approved and "no approver is configured" in answer.note
    assert not asyncio.run(DenyAll().aapprove(escalated_rewrite())).approved


def test_the_request_exposes_what_an_approver_needs() -> None:
    request = escalated_rewrite()
    assert request.tool == "db.query" and request.session == "s9"
    assert request.original_args == QUERY and request.args == {"sql": QUERY["sql"], "limit": 100}
    assert request.rewritten and request.rules == ("ask_pay", "cap")
    assert [r.rule for r in request.reasons] == ["ask_pay", "cap"]

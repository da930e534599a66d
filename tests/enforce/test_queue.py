"""The SQLite approval queue: answered from another process, timeouts, binding, single use."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.audit.helpers import BOB, escalate_rules, open_firewall, toolwall_cli
from toolwall import (
    ApprovalError,
    ApprovalRequest,
    Blocked,
    Caller,
    Console,
    DenyAll,
    SQLiteQueue,
)
from toolwall.audit import REDACTED, AuditLog, read_records, verify
from toolwall.canonical import call_digest
from toolwall.config import ApprovalsConfig
from toolwall.enforce.approvers import QueueEntry, from_config

TRANSFER = {"to_iban": "DE02120300000000202051", "amount": 250, "currency": "EUR"}


@pytest.fixture
def queue_path(tmp_path: Path) -> Path:
    return tmp_path / "approvals.db"


def pending(queue: SQLiteQueue) -> QueueEntry:
    """The one pending request, once the waiting caller has stored it."""
    for _ in range(2000):
        entries = queue.entries("pending")
        if entries:
            return entries[0]
        time.sleep(0.01)
    raise AssertionError("no request reached the queue")


def request_for(queue_path: Path, args: dict[str, Any], caller: Caller = BOB) -> ApprovalRequest:
    firewall = open_firewall(AuditLog(), escalate_rules("bank.transfer"))
    decision = firewall.decide({"tool": "bank.transfer", "args": args}, caller=caller, session="s")
    return ApprovalRequest(decision=decision, caller=caller)


def test_a_call_waits_until_a_human_approves_from_another_process(
    queue_path: Path, tmp_path: Path
) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    queue = SQLiteQueue(queue_path, timeout_s=120, poll_s=0.05)
    firewall = open_firewall(audit, escalate_rules("bank.transfer"), approver=queue)
    ran: list[dict[str, Any]] = []
    outcome: list[Any] = []

    def agent() -> None:
        call = {"tool": "bank.transfer", "args": TRANSFER}
        outcome.append(firewall.run(call, lambda **a: ran.append(a) or "sent", caller=BOB))

    thread = threading.Thread(target=agent)
    thread.start()
    entry = pending(queue)
    assert ran == []  # held until someone answers
    assert entry.tool == "bank.transfer" and entry.caller_sub == "bob"
    assert entry.request["args"] == TRANSFER
    listed = toolwall_cli("approvals", "list", "--queue", str(queue_path))
    assert listed.returncode == 0 and entry.id in listed.stdout and "needs a human" in listed.stdout

    answered = toolwall_cli(
        "approvals", "approve", entry.id, "--queue", str(queue_path), "--by", "carol",
        "--note", "expected invoice",
    )  # fmt: skip
    assert answered.returncode == 0, answered.stderr
    assert f"approved {entry.id}" in answered.stdout
    thread.join(timeout=120)
    assert outcome == ["sent"] and ran == [TRANSFER]

    decision, approval = read_records(audit.path)  # type: ignore[arg-type]
    assert decision["action"] == "escalate" and approval["decision"] == decision["id"]
    assert approval["approved"] is True and approval["by"] == "carol"
    assert approval["note"] == "expected invoice" and approval["approval_id"] == entry.id
    assert approval["call_sha256"] == entry.digest
    assert verify(audit.path).ok  # type: ignore[arg-type]
    assert firewall.session(None).calls == 0  # no session: nothing shared
    done = queue.get(entry.id)
    assert done is not None and done.status == "approved" and done.consumed is not None


def test_a_denial_from_another_process_blocks(queue_path: Path) -> None:
    queue = SQLiteQueue(queue_path, timeout_s=120, poll_s=0.05)
    firewall = open_firewall(AuditLog(), escalate_rules("bank.transfer"), approver=queue)
    outcome: list[str] = []

    def agent() -> None:
        call = {"tool": "bank.transfer", "args": TRANSFER}
        outcome.append(firewall.run(call, lambda **a: "sent", caller=BOB, on_block="message"))

    thread = threading.Thread(target=agent)
    thread.start()
    entry = pending(queue)
    denied = toolwall_cli("approvals", "deny", entry.id, "--queue", str(queue_path), "--by", "dan")
    assert denied.returncode == 0, denied.stderr
    thread.join(timeout=120)
    assert outcome == ["toolwall blocked the call to bank.transfer: rule ask: needs a human; "
                       "denied by dan"]  # fmt: skip


def test_a_timeout_is_a_denial_and_is_recorded(queue_path: Path, tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    queue = SQLiteQueue(queue_path, timeout_s=0.2, poll_s=0.05)
    firewall = open_firewall(audit, escalate_rules("bank.transfer"), approver=queue)
    with pytest.raises(Blocked, match=r"no answer within 0.2s"):
        firewall.run({"tool": "bank.transfer", "args": TRANSFER}, lambda **a: "sent", caller=BOB)
    [entry] = queue.entries()
    assert entry.status == "timeout" and entry.by == "toolwall"
    _, approval = read_records(audit.path)  # type: ignore[arg-type]
    assert approval["approved"] is False and "no answer within" in approval["note"]
    # The caller was told no: a late answer cannot release anything.
    late = toolwall_cli("approvals", "approve", entry.id, "--queue", str(queue_path))
    assert late.returncode == 1 and "already timeout" in late.stderr


def test_an_approval_is_bound_to_the_exact_call_and_used_once(queue_path: Path) -> None:
    queue = SQLiteQueue(queue_path, timeout_s=0.2, poll_s=0.05)
    asked = request_for(queue_path, TRANSFER)
    other_args = request_for(queue_path, {**TRANSFER, "amount": 250000})
    other_caller = request_for(queue_path, TRANSFER, Caller(sub="mallory", tools=("*",)))
    entry_id = queue.submit(asked)
    queue.answer(entry_id, True, by="carol")

    for request in (other_args, other_caller):
        answer = queue.wait(entry_id, request)
        assert not answer.approved and "different call" in answer.note
    first = queue.wait(entry_id, asked)
    assert first.approved and first.by == "carol" and first.approval_id == entry_id
    again = queue.wait(entry_id, asked)
    assert not again.approved and "already used" in again.note


def test_only_one_of_two_concurrent_waiters_gets_an_approval(queue_path: Path) -> None:
    queue = SQLiteQueue(queue_path, timeout_s=0.5, poll_s=0.01)
    request = request_for(queue_path, TRANSFER)
    entry_id = queue.submit(request)
    queue.answer(entry_id, True, by="carol")
    answers: list[bool] = []
    threads = [
        threading.Thread(target=lambda: answers.append(queue.wait(entry_id, request).approved))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [False, False, False, True]


def test_requests_expire_after_their_ttl(queue_path: Path) -> None:
    now = [1_000_000.0]
    queue = SQLiteQueue(queue_path, timeout_s=5, ttl_s=60, poll_s=0.01, clock=lambda: now[0])
    request = request_for(queue_path, TRANSFER)
    entry_id = queue.submit(request)
    now[0] += 61
    with pytest.raises(ApprovalError, match="expired"):
        queue.answer(entry_id, True, by="carol")
    assert not queue.wait(entry_id, request).approved

    approved_late = queue.submit(request)
    queue.answer(approved_late, True, by="carol")
    now[0] += 61
    answer = queue.wait(approved_late, request)
    assert not answer.approved and "expired before it was used" in answer.note


def test_answers_to_unknown_or_answered_requests_are_refused(queue_path: Path) -> None:
    queue = SQLiteQueue(queue_path)
    with pytest.raises(ApprovalError, match="no approval request nope"):
        queue.answer("nope", True, by="carol")
    entry_id = queue.submit(request_for(queue_path, TRANSFER))
    queue.answer(entry_id, False, by="carol", note="no")
    with pytest.raises(ApprovalError, match="already denied"):
        queue.answer(entry_id, True, by="mallory")


def test_the_async_path_waits_without_blocking_the_event_loop(queue_path: Path) -> None:
    # If waiting blocked the loop, the "human" coroutine below could not run until the agent
    # gave up, and the call would be denied: its approval proves the loop kept running.
    queue = SQLiteQueue(queue_path, timeout_s=30, poll_s=0.02)
    firewall = open_firewall(AuditLog(), escalate_rules("bank.transfer"), approver=queue)
    agent_done = False
    seen_waiting: list[bool] = []

    async def human() -> None:
        while not await asyncio.to_thread(queue.entries, "pending"):
            await asyncio.sleep(0.01)
        seen_waiting.append(not agent_done)
        entry = (await asyncio.to_thread(queue.entries, "pending"))[0]
        await asyncio.to_thread(queue.answer, entry.id, True, "carol")

    async def tool(**args: Any) -> str:
        return "sent " + str(args["amount"])

    async def agent() -> Any:
        nonlocal agent_done
        call = {"tool": "bank.transfer", "args": TRANSFER}
        result = await firewall.arun(call, tool, caller=BOB)
        agent_done = True
        return result

    async def main() -> Any:
        result, _ = await asyncio.gather(agent(), human())
        return result

    assert asyncio.run(main()) == "sent 250"
    assert seen_waiting == [True]


def test_the_queue_stores_arguments_redacted_and_owner_only(queue_path: Path) -> None:
    queue = SQLiteQueue(queue_path)
    request = request_for(queue_path, {**TRANSFER, "memo": "x", "secret": "s3cret-value"})
    entry_id = queue.submit(request)
    entry = queue.get(entry_id)
    assert entry is not None and entry.request["args"]["secret"] == REDACTED
    assert entry.digest == call_digest("bank.transfer", request.args, BOB, "s")
    assert (queue_path.stat().st_mode & 0o777) == 0o600
    with sqlite3.connect(queue_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_cli_show_and_list_all(queue_path: Path) -> None:
    queue = SQLiteQueue(queue_path)
    entry_id = queue.submit(request_for(queue_path, TRANSFER))
    shown = toolwall_cli("approvals", "show", entry_id, "--queue", str(queue_path))
    assert shown.returncode == 0
    for text in ("bank.transfer", "pending", "rule ask: needs a human", "rules/a.tw:3:1", "DE02"):
        assert text in shown.stdout
    queue.answer(entry_id, False, by="carol")
    assert entry_id not in toolwall_cli("approvals", "list", "--queue", str(queue_path)).stdout
    listed = toolwall_cli("approvals", "list", "--all", "--queue", str(queue_path))
    assert entry_id in listed.stdout and "denied" in listed.stdout
    missing = toolwall_cli("approvals", "list", "--queue", str(queue_path.with_name("none.db")))
    assert missing.returncode == 2 and "no approval queue" in missing.stderr


def test_from_config_builds_the_configured_approver(tmp_path: Path) -> None:
    assert isinstance(from_config(ApprovalsConfig(), tmp_path), DenyAll)
    console = from_config(ApprovalsConfig(approver="console", timeout_s=9), tmp_path)
    assert isinstance(console, Console) and console.timeout_s == 9
    queue = from_config(
        ApprovalsConfig(approver="queue", queue=Path("q/a.db"), timeout_s=7, ttl_s=60), tmp_path
    )
    assert isinstance(queue, SQLiteQueue)
    assert queue.path == tmp_path / "q" / "a.db" and queue.timeout_s == 7 and queue.ttl_s == 60


def test_the_documented_flow_on_the_demo_policy(tmp_path: Path) -> None:
    """docs/audit-and-approvals.md: mail outside the company waits for a second terminal."""
    from tests.audit.helpers import ROOT
    from toolwall import Firewall, ToolCall

    for folder in ("schemas", "rules"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    (tmp_path / "toolwall.toml").write_text(
        '[policy]\nschemas = "schemas"\nrules = "rules"\n\n'
        '[audit]\npath = "audit/toolwall.jsonl"\n\n'
        '[approvals]\napprover = "queue"\nqueue = "approvals.db"\ntimeout_s = 120\n'
    )
    config = str(tmp_path / "toolwall.toml")
    firewall = Firewall.from_config(config)
    assert isinstance(firewall.approver, SQLiteQueue)
    firewall.approver.poll_s = 0.05
    alice = Caller(sub="alice", tools=("email.*",), authenticated=True)
    call = ToolCall(
        tool="email.send",
        args={"to": ["dana@partner.test"], "subject": "Q3", "body": "numbers attached"},
    )
    outcome: list[str] = []

    def agent() -> None:
        sent = firewall.run(
            call,
            lambda to, subject, body: f"sent to {', '.join(to)}",
            caller=alice,
            session="demo",
            on_block="message",
        )
        outcome.append(sent)

    thread = threading.Thread(target=agent)
    thread.start()
    entry = pending(firewall.approver)
    listed = toolwall_cli("approvals", "list", "--config", config)
    assert entry.id in listed.stdout and "mail to an outside" in listed.stdout
    answered = toolwall_cli(
        "approvals", "approve", entry.id, "--config", config, "--note", "partner contract signed"
    )
    assert answered.returncode == 0, answered.stderr
    thread.join(timeout=120)
    assert outcome == ["sent to dana@partner.test"]

    shown = toolwall_cli("audit", "show", "--config", config)
    assert "mail_outside_company" in shown.stdout and "partner contract" in shown.stdout
    verified = toolwall_cli("audit", "verify", "--config", config)
    assert verified.returncode == 0 and "chain intact: 2 records" in verified.stdout

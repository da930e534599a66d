"""The SQLite approval queue: a call waits until a person answers from another process, or the
wait times out. (Binding, single use and expiry are the store contract: tests/state.)"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.audit.helpers import BOB, escalate_rules, open_firewall, toolwall_cli
from toolwall import Approver, Blocked, Caller, Console, DenyAll
from toolwall.audit import AuditLog, read_records, verify
from toolwall.config import Config
from toolwall.enforce.approvers import QueueApprover, SQLiteQueue
from toolwall.loader import _approval_store, build_approver
from toolwall.state import ApprovalRecord, SQLiteApprovals

TRANSFER = {"to_iban": "DE02120300000000202051", "amount": 250, "currency": "EUR"}


@pytest.fixture
def queue_path(tmp_path: Path) -> Path:
    return tmp_path / "approvals.db"


def pending(queue: QueueApprover) -> ApprovalRecord:
    """The one pending request, once the waiting caller has stored it."""
    for _ in range(2000):
        entries = queue.store.entries("pending")
        if entries:
            return entries[0]
        time.sleep(0.01)
    raise AssertionError("no request reached the queue")


def queued_request(queue: QueueApprover, args: dict[str, Any]) -> ApprovalRecord:
    """A pending approval in the queue, as a waiting firewall leaves it."""
    firewall = open_firewall(AuditLog(), escalate_rules("bank.transfer"), approver=queue)
    decision = firewall.decide({"tool": "bank.transfer", "args": args}, caller=BOB, session="s")
    request = firewall.settlement.open(decision)
    assert request.approval_id is not None
    record = queue.store.get(request.approval_id)
    assert record is not None
    return record


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

    decision, approval, result = read_records(audit.path)  # type: ignore[arg-type]
    assert result["type"] == "result" and result["caller"]["sub"] == "bob"
    assert decision["action"] == "escalate" and approval["decision"] == decision["id"]
    assert approval["approved"] is True and approval["by"] == "carol"
    assert approval["note"] == "expected invoice" and approval["approval_id"] == entry.id
    assert approval["call_sha256"] == entry.digest
    assert verify(audit.path).ok  # type: ignore[arg-type]
    assert firewall.session(None).calls == 0  # no session: nothing shared
    done = queue.store.get(entry.id)
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
    [entry] = queue.store.entries()
    assert entry.status == "timeout" and entry.by == "toolwall"
    _, approval = read_records(audit.path)  # type: ignore[arg-type]
    assert approval["approved"] is False and "no answer within" in approval["note"]
    # The caller was told no: a late answer cannot release anything.
    late = toolwall_cli("approvals", "approve", entry.id, "--queue", str(queue_path))
    assert late.returncode == 1 and "already timeout" in late.stderr


def test_the_async_path_waits_without_blocking_the_event_loop(queue_path: Path) -> None:
    # If waiting blocked the loop, the "human" coroutine below could not run until the agent
    # gave up, and the call would be denied: its approval proves the loop kept running.
    queue = SQLiteQueue(queue_path, timeout_s=30, poll_s=0.02)
    firewall = open_firewall(AuditLog(), escalate_rules("bank.transfer"), approver=queue)
    agent_done = False
    seen_waiting: list[bool] = []

    async def human() -> None:
        while not await asyncio.to_thread(queue.store.entries, "pending"):
            await asyncio.sleep(0.01)
        seen_waiting.append(not agent_done)
        entry = (await asyncio.to_thread(queue.store.entries, "pending"))[0]
        await asyncio.to_thread(queue.store.answer, entry.id, True, "carol")

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


def test_cli_show_and_list_all(queue_path: Path) -> None:
    queue = SQLiteQueue(queue_path)
    entry_id = queued_request(queue, TRANSFER).id
    shown = toolwall_cli("approvals", "show", entry_id, "--queue", str(queue_path))
    assert shown.returncode == 0
    for text in ("bank.transfer", "pending", "rule ask: needs a human", "rules/a.tw:3:1", "DE02"):
        assert text in shown.stdout
    queue.store.answer(entry_id, False, by="carol")
    assert entry_id not in toolwall_cli("approvals", "list", "--queue", str(queue_path)).stdout
    listed = toolwall_cli("approvals", "list", "--all", "--queue", str(queue_path))
    assert entry_id in listed.stdout and "denied" in listed.stdout
    missing = toolwall_cli("approvals", "list", "--queue", str(queue_path.with_name("none.db")))
    assert missing.returncode == 2 and "no approval queue" in missing.stderr


def test_the_configuration_builds_the_configured_approver(tmp_path: Path) -> None:
    def approver(**approvals: Any) -> Approver:
        config = Config.from_dict({"approvals": approvals}, base_dir=tmp_path)
        return build_approver(config, _approval_store(config))

    assert isinstance(approver(), DenyAll)
    console = approver(approver="console", timeout_s=9)
    assert isinstance(console, Console) and console.timeout_s == 9
    queue = approver(approver="queue", queue="q/a.db", timeout_s=7, ttl_s=60)
    assert isinstance(queue, QueueApprover) and isinstance(queue.store, SQLiteApprovals)
    assert queue.store.path == tmp_path / "q" / "a.db" and queue.timeout_s == 7


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
    assert isinstance(firewall.approver, QueueApprover)
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
    # The decision, the approval, and what the tool returned.
    assert verified.returncode == 0 and "chain intact: 3 records" in verified.stdout

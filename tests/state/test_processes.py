"""Processes sharing one state through `[state]` (SQLite on one machine, Redis on many): what a
session did, its taint and its approvals are the same whichever process decides; eight
processes racing on one session admit exactly a `count()` limit."""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from tests.state.helpers import BOB, open_project, project, state_url
from toolwall import Action, ToolCall
from toolwall.audit import verify
from toolwall.model import ApprovalAnswer

SHARED = ["sqlite", "redis"]
TRANSFER = ToolCall(
    tool="bank.transfer", args={"to": "DE02120300000000202051", "amount": 250}, id="call-1"
)


@pytest.fixture(params=SHARED)
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    redis_url = request.getfixturevalue("redis_server").url if request.param == "redis" else None
    url = state_url(request.param, tmp_path, redis_url)
    return project(tmp_path, request.param, url, key_prefix=f"{tmp_path.name}:")


def _in_process(target: Any, *args: Any) -> Any:
    """Run `target(*args)` in another process (forked; it builds its own firewall) and return
    what it returns."""
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        return pool.apply(target, args)


def first_replica(config: Path) -> str:
    """Two mails, a tainting read, then a payment held for approval: returns the approval id."""
    firewall = open_project(config)
    for _ in range(2):
        assert firewall.decide({"tool": "email.send", "args": {}}, BOB, session="s").allowed
    firewall.record_result({"tool": "web.fetch", "args": {}}, "<page>", session="s", caller=BOB)
    decision = firewall.decide(TRANSFER, BOB, session="s")
    assert decision.action is Action.ESCALATE, decision.explain()
    request = firewall.settlement.open(decision)
    assert request.approval_id is not None
    return request.approval_id


def another_replica_settles(config: Path) -> tuple[str, str]:
    firewall = open_project(config)
    decision = firewall.settle(firewall.decide(TRANSFER, BOB, session="s"))
    return decision.action.value, decision.reason


def test_two_processes_share_taint_counts_and_approvals(config: Path) -> None:
    approval_id = _in_process(first_replica, config)
    here = open_project(config)
    view = here.session("s")
    assert (view.count("email.*"), view.tainted) == (2, True)
    # The approval opened in the other process is answered here, once.
    record = here.state.approvals.get(approval_id)
    assert record is not None and record.status == "pending" and record.tool == "bank.transfer"
    here.state.approvals.answer(approval_id, True, by="carol")
    # Whichever replica asks first runs the call; the next is refused.
    assert _in_process(another_replica_settles, config)[0] == "allow"
    action, reason = another_replica_settles(config)
    assert action == "block" and "already used" in reason
    assert here.session("s").count("bank.transfer") == 1
    # Both processes wrote the same audit file; it verifies.
    assert verify(config.parent / "audit.jsonl").ok


def racer(config: Path, start: Barrier, calls: int, out: Any) -> None:
    firewall = open_project(config)
    firewall.decide({"tool": "warm.up", "args": {}}, BOB, session="warm")  # connect first
    start.wait()
    for _ in range(calls):
        out.put(
            firewall.decide({"tool": "email.send", "args": {}}, BOB, session="race").action.value
        )


def test_eight_processes_racing_on_one_session_admit_exactly_the_limit(config: Path) -> None:
    context = multiprocessing.get_context("fork")
    start, out = context.Barrier(8), context.Queue()
    racers = [context.Process(target=racer, args=(config, start, 3, out)) for _ in range(8)]
    for process in racers:
        process.start()
    actions = [out.get(timeout=120) for _ in range(24)]
    for process in racers:
        process.join(30)
        assert process.exitcode == 0
    assert actions.count("allow") == 5, actions  # the policy's count("email.*") >= 5
    assert actions.count("block") == 19
    assert open_project(config).session("race").count("email.*") == 5


def test_an_answer_given_elsewhere_is_seen_by_the_waiting_call(config: Path) -> None:
    """`toolwall approvals approve` (or the service's console) on another machine answers the
    call this process holds."""
    here = open_project(config)
    here.record_result({"tool": "web.fetch", "args": {}}, "<page>", session="s", caller=BOB)
    decision = here.decide(TRANSFER, BOB, session="s")
    request = here.settlement.open(decision)
    assert request.approval_id is not None
    _in_process(answer_in_another_process, config, request.approval_id)
    settled = here.settlement.conclude(request, decision)
    assert settled.action is Action.ALLOW
    denied = here.settlement.conclude(request, decision, ApprovalAnswer(False, by="mallory"))
    assert denied.action is Action.BLOCK and "already used" in denied.reason


def answer_in_another_process(config: Path, approval_id: str) -> None:
    open_project(config).state.approvals.answer(approval_id, True, by="carol", note="ok")

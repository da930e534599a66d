"""The approval store contract, the same for every backend: an approval is answered once, used
once, only for the exact call it was given for, and only before it expires."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.audit.helpers import BOB, escalate_rules, open_firewall
from toolwall import ApprovalRequest, Caller
from toolwall.audit import REDACTED, AuditLog, Redactor
from toolwall.canonical import call_digest
from toolwall.state import ApprovalError, ApprovalStore, MemoryApprovals, SQLiteApprovals

TRANSFER = {"to_iban": "DE02120300000000202051", "amount": 250, "currency": "EUR"}
SHOWN: dict[str, Any] = {"args": TRANSFER, "reasons": [], "rules": ["ask"]}

Clock = list[float]
StoreFactory = Callable[[Clock], ApprovalStore]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    def make(now: Clock) -> ApprovalStore:
        if request.param == "memory":
            return MemoryApprovals(clock=lambda: now[0])
        if request.param == "redis":
            from toolwall.state.redis_approvals import RedisApprovals
            from toolwall.state.redis_engine import RedisEngine

            url = request.getfixturevalue("redis_server").url
            engine = RedisEngine(url, key_prefix=f"{tmp_path.name}:")
            return RedisApprovals(engine, clock=lambda: now[0])
        return SQLiteApprovals(tmp_path / "approvals.db", clock=lambda: now[0])

    return make


@pytest.fixture
def now() -> Clock:
    return [1_000_000.0]


@pytest.fixture
def store(make_store: StoreFactory, now: Clock) -> ApprovalStore:
    return make_store(now)


def request_for(
    args: dict[str, Any], caller: Caller = BOB, call_id: str | None = "c1"
) -> ApprovalRequest:
    firewall = open_firewall(AuditLog(), escalate_rules("bank.transfer"))
    call = {"tool": "bank.transfer", "args": args, "id": call_id}
    return ApprovalRequest(firewall.decide(call, caller=caller, session="s"))


def test_an_approval_is_bound_to_the_exact_call_and_used_once(store: ApprovalStore) -> None:
    asked = request_for(TRANSFER)
    other_args = request_for({**TRANSFER, "amount": 250000})
    other_caller = request_for(TRANSFER, Caller(sub="mallory", tools=("*",)))
    record = store.open(asked, 60, SHOWN)
    assert record.status == "pending" and record.digest == asked.digest
    store.answer(record.id, True, by="carol")

    for request in (other_args, other_caller):
        with pytest.raises(ApprovalError, match="different call"):
            store.consume(record.id, request.digest)
    used = store.consume(record.id, asked.digest)
    assert used.consumed is not None and used.by == "carol"
    with pytest.raises(ApprovalError, match="already used"):
        store.consume(record.id, asked.digest)


def test_a_pending_or_denied_request_releases_nothing(store: ApprovalStore) -> None:
    asked = request_for(TRANSFER)
    record = store.open(asked, 60, SHOWN)
    with pytest.raises(ApprovalError, match="is pending"):
        store.consume(record.id, asked.digest)
    store.answer(record.id, False, by="carol", note="no")
    with pytest.raises(ApprovalError, match="is denied"):
        store.consume(record.id, asked.digest)
    with pytest.raises(ApprovalError, match="does not exist"):
        store.consume("nope", asked.digest)


def test_only_one_of_concurrent_consumers_gets_an_approval(store: ApprovalStore) -> None:
    asked = request_for(TRANSFER)
    record = store.open(asked, 60, SHOWN)
    store.answer(record.id, True, by="carol")
    won: list[bool] = []

    def consume() -> None:
        try:
            store.consume(record.id, asked.digest)
            won.append(True)
        except ApprovalError:
            won.append(False)

    threads = [threading.Thread(target=consume) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 7 + [True]


def test_requests_expire_after_their_ttl(store: ApprovalStore, now: Clock) -> None:
    asked = request_for(TRANSFER)
    record = store.open(asked, 60, SHOWN)
    now[0] += 61
    with pytest.raises(ApprovalError, match="expired"):
        store.answer(record.id, True, by="carol")
    expired = store.get(record.id)
    assert expired is not None and expired.status == "expired"

    approved_late = store.open(asked, 60, SHOWN)
    store.answer(approved_late.id, True, by="carol")
    now[0] += 61
    with pytest.raises(ApprovalError, match="expired before it was used"):
        store.consume(approved_late.id, asked.digest)


def test_answers_to_unknown_answered_or_timed_out_requests_are_refused(
    store: ApprovalStore,
) -> None:
    with pytest.raises(ApprovalError, match="no approval request nope"):
        store.answer("nope", True, by="carol")
    record = store.open(request_for(TRANSFER), 60, SHOWN)
    store.answer(record.id, False, by="carol", note="no")
    with pytest.raises(ApprovalError, match="already denied"):
        store.answer(record.id, True, by="mallory")
    waited = store.open(request_for(TRANSFER), 60, SHOWN)
    timed_out = store.time_out(waited.id, "no answer within 1s")
    assert timed_out is not None and timed_out.status == "timeout"
    with pytest.raises(ApprovalError, match="already timeout"):
        store.answer(waited.id, True, by="carol")


def test_a_time_out_leaves_an_answer_that_came_first(store: ApprovalStore) -> None:
    record = store.open(request_for(TRANSFER), 60, SHOWN)
    store.answer(record.id, True, by="carol")
    kept = store.time_out(record.id, "too late")
    assert kept is not None and kept.status == "approved" and kept.by == "carol"


def test_find_returns_the_callers_newest_approval_of_a_call_id(store: ApprovalStore) -> None:
    first = store.open(request_for(TRANSFER), 60, SHOWN)
    second = store.open(request_for({**TRANSFER, "amount": 9}), 60, SHOWN)
    found = store.find(BOB, "s", "c1")
    assert found is not None and found.id == second.id != first.id
    assert store.find(Caller(sub="mallory"), "s", "c1") is None  # another caller's call id
    assert store.find(BOB, "other-session", "c1") is None
    assert store.find(BOB, "s", "c2") is None


def test_entries_list_newest_first_and_by_status(store: ApprovalStore, now: Clock) -> None:
    first = store.open(request_for(TRANSFER), 60, SHOWN)
    now[0] += 1
    second = store.open(request_for(TRANSFER), 60, SHOWN)
    store.answer(first.id, False, by="carol")
    assert [e.id for e in store.entries()] == [second.id, first.id]
    assert [e.id for e in store.entries("pending")] == [second.id]
    assert [e.id for e in store.entries("denied")] == [first.id]


def test_the_sqlite_store_is_owner_only_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "approvals.db"
    store = SQLiteApprovals(path)
    request = request_for({**TRANSFER, "secret": "s3cret-value"})
    record = store.open(request, 60, {"args": Redactor()(request.args)})
    assert record.request["args"]["secret"] == REDACTED
    assert record.digest == call_digest("bank.transfer", request.args, BOB, "s")
    assert (path.stat().st_mode & 0o777) == 0o600
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_an_older_sqlite_queue_file_gains_the_call_id_column(tmp_path: Path) -> None:
    path = tmp_path / "approvals.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE approvals (id TEXT PRIMARY KEY, digest TEXT NOT NULL, status TEXT NOT "
            "NULL, created REAL NOT NULL, expires REAL NOT NULL, answered REAL, by TEXT, note "
            "TEXT NOT NULL DEFAULT '', consumed REAL, decision_id TEXT NOT NULL, tool TEXT NOT "
            "NULL, caller_sub TEXT, caller_iss TEXT, session TEXT, request TEXT NOT NULL)"
        )
    store = SQLiteApprovals(path)
    record = store.open(request_for(TRANSFER), 60, SHOWN)
    assert store.find(BOB, "s", "c1") == record


def test_a_full_memory_store_refuses_new_requests_but_drops_settled_ones(now: Clock) -> None:
    store = MemoryApprovals(max_entries=2, clock=lambda: now[0])
    used = store.open(request_for(TRANSFER), 60, SHOWN)
    store.answer(used.id, False, by="carol")
    store.open(request_for(TRANSFER), 60, SHOWN)
    store.open(request_for(TRANSFER), 60, SHOWN)  # room made by dropping the denied one
    with pytest.raises(ApprovalError, match="no room"):
        store.open(request_for(TRANSFER), 60, SHOWN)
    assert store.get(used.id) is None

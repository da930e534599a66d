"""Redis failing under a running firewall: killed, slow, answering nonsense, misconfigured.
Every decision then blocks with reason kind `state` and is audited; nothing falls back to a
private memory; health says so; the firewall recovers by itself when Redis is back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import redis

from tests.state.helpers import BOB, open_project, project
from tests.state.redis_server import RedisServer
from toolwall import Action, Firewall, ReasonKind
from toolwall.audit import read_records, verify

MAIL = {"tool": "email.send", "args": {}}  # its rules read the session: a turn reads Redis
FETCH = {"tool": "web.fetch", "args": {}}  # no rule reads the session: recorded when it runs


@pytest.fixture
def server(tmp_path: Path) -> RedisServer:
    # Durable, as a deployment's Redis should be: a restart keeps the sessions.
    server = RedisServer(tmp_path / "redis", "--appendonly", "yes", "--appendfsync", "always")
    yield server.start()
    server.stop()


def firewall_on(server: RedisServer, folder: Path, **state: object) -> Firewall:
    return open_project(project(folder, "redis", server.url, timeout_s=0.3, **state))


def test_redis_killed_blocks_every_decision_with_reason_state_and_audits_it(
    server: RedisServer, tmp_path: Path
) -> None:
    firewall = firewall_on(server, tmp_path)
    assert firewall.decide(MAIL, BOB, session="s").action is Action.ALLOW
    firewall.record_result(FETCH, "<page>", session="s", caller=BOB)
    assert firewall.state.health()[0]

    server.kill()
    blocked = [firewall.decide(call, BOB, session="s") for call in (MAIL, FETCH, MAIL, FETCH)]
    for decision in blocked:
        assert decision.action is Action.BLOCK, decision.explain()
        assert decision.reasons[-1].kind is ReasonKind.STATE
        assert "Redis at redis://127.0.0.1" in decision.reason
    ok, detail = firewall.state.health()
    assert not ok and "Redis at" in detail

    server.start()  # same port; the firewall reconnects by itself
    assert firewall.state.health()[0]
    view = firewall.session("s")
    assert (view.count("email.*"), view.tainted) == (1, True)  # durable Redis kept the session
    assert firewall.decide(MAIL, BOB, session="s").action is Action.ALLOW
    assert firewall.session("s").count("email.*") == 2  # the blocked calls never counted

    records = list(read_records(tmp_path / "audit.jsonl"))
    decisions = [r for r in records if r["type"] == "decision"]
    assert [r["action"] for r in decisions] == ["allow", *["block"] * 4, "allow"]
    assert all(r["reasons"][-1]["kind"] == "state" for r in decisions[1:5])
    assert verify(tmp_path / "audit.jsonl").ok


def test_a_slow_redis_blocks_within_the_timeout(server: RedisServer, tmp_path: Path) -> None:
    firewall = firewall_on(server, tmp_path)
    assert firewall.decide(MAIL, BOB, session="s").allowed
    admin = redis.Redis.from_url(server.url)
    admin.execute_command("CLIENT", "PAUSE", 1500, "ALL")  # Redis answers nobody for 1.5 s
    started = time.monotonic()
    decision = firewall.decide(MAIL, BOB, session="s")
    took = time.monotonic() - started
    assert decision.action is Action.BLOCK and decision.reasons[-1].kind is ReasonKind.STATE
    assert "did not answer within 0.3 s" in decision.reason
    assert took < 1.5  # it did not wait for Redis
    time.sleep(1.6)
    assert firewall.decide(MAIL, BOB, session="s").allowed


def test_nonsense_from_redis_blocks(server: RedisServer, tmp_path: Path) -> None:
    firewall = firewall_on(server, tmp_path, key_prefix="tw:")
    admin = redis.Redis.from_url(server.url)
    admin.set("{tw:}s:broken", "not a hash")  # WRONGTYPE for the turn's script
    admin.hset("{tw:}s:garbled", mapping={"tainted": "maybe", "horizon": "soon"})
    for session in ("broken", "garbled"):
        decision = firewall.decide(MAIL, BOB, session=session)
        assert decision.action is Action.BLOCK, decision.explain()
        assert decision.reasons[-1].kind is ReasonKind.STATE
    assert "nonsense" in firewall.decide(MAIL, BOB, session="garbled").reason
    assert firewall.decide(MAIL, BOB, session="fine").allowed


def test_a_redis_that_may_evict_keys_is_refused(tmp_path: Path) -> None:
    evicting = RedisServer(
        tmp_path / "redis", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"
    ).start()
    try:
        firewall = firewall_on(evicting, tmp_path)
        decision = firewall.decide(MAIL, BOB, session="s")
        assert decision.action is Action.BLOCK and "maxmemory-policy noeviction" in decision.reason
        assert not firewall.state.health()[0]
    finally:
        evicting.stop()


def test_approvals_fail_closed_when_redis_is_gone(server: RedisServer, tmp_path: Path) -> None:
    firewall = firewall_on(server, tmp_path)
    firewall.record_result(FETCH, "<page>", session="s", caller=BOB)
    held = firewall.decide({"tool": "bank.transfer", "args": {}, "id": "c1"}, BOB, session="s")
    assert held.action is Action.ESCALATE
    server.kill()
    settled = firewall.settle(held)
    assert settled.action is Action.BLOCK and settled.reasons[-1].kind is ReasonKind.STATE


def test_decisions_in_flight_when_redis_dies_all_end_blocked_or_allowed(
    server: RedisServer, tmp_path: Path
) -> None:
    """Killed under load: every decision ends, as an allow made before or a block after, and
    every one is in the audit."""
    firewall = firewall_on(server, tmp_path)
    results: list[Action] = []
    stop = threading.Event()

    def decide() -> None:
        while not stop.is_set():
            results.append(firewall.decide(MAIL, BOB, session=f"s{len(results) % 7}").action)

    workers = [threading.Thread(target=decide) for _ in range(4)]
    for worker in workers:
        worker.start()
    time.sleep(0.3)
    server.kill()
    time.sleep(0.5)
    stop.set()
    for worker in workers:
        worker.join()
    assert Action.BLOCK in results and set(results) <= {Action.ALLOW, Action.BLOCK}
    records = [r for r in read_records(tmp_path / "audit.jsonl") if r["type"] == "decision"]
    assert len(records) == len(results)
    assert verify(tmp_path / "audit.jsonl").ok

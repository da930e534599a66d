"""The memory backend's bounds never make a later decision more permissive (issue 21 items 3
and 10): nothing a session did is forgotten to make room; a session's own state is bounded;
glob counts cost what matches, not the session's history."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.state.helpers import BOB
from toolwall import Action, Firewall, ReasonKind
from toolwall.model import READS_NOTHING, SessionNeeds
from toolwall.policy import compile_text
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state import MemorySessions, StateLimit, caller_key, memory_state

POLICY = """
taint web.fetch

rule pay_after_untrusted:
    on bank.transfer
    when session.tainted
    escalate

rule mail_limit:
    on email.*
    when count("email.*") >= 5
    block
"""


def firewall(**bounds: Any) -> Firewall:
    return Firewall(
        rules=compile_text(POLICY, SchemaRegistry()),
        unknown_tool="allow",
        state=memory_state(**bounds),
    )


def test_ten_thousand_cheap_calls_elsewhere_leave_a_session_as_it_was() -> None:
    """Item 3: the store used to evict the least recently used of 10,000 sessions, so 10,000
    calls in fresh sessions made a tainted session clean and reset its `count()`."""
    wall = firewall()  # the default bound: 10,000 sessions
    wall.record_result({"tool": "web.fetch", "args": {}}, "<page>", session="victim", caller=BOB)
    for _ in range(5):
        wall.decide({"tool": "email.send", "args": {}}, BOB, session="victim")
    refused = [
        wall.decide({"tool": "ping", "args": {}}, BOB, session=f"flood-{i}") for i in range(10_000)
    ]
    assert refused[-1].action is Action.BLOCK and refused[-1].reasons[-1].kind is ReasonKind.STATE
    assert "max_sessions" in refused[-1].reason
    assert sum(d.action is Action.ALLOW for d in refused) == 9_999  # the victim holds one place
    view = wall.session("victim")
    assert view.tainted and view.count("email.*") == 5
    assert wall.decide({"tool": "bank.transfer", "args": {}}, BOB, session="victim").action is (
        Action.ESCALATE
    )
    assert wall.decide({"tool": "email.send", "args": {}}, BOB, session="victim").action is (
        Action.BLOCK
    )


Step = tuple[str, int, int]  # (what, session, tool or seconds)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("call"), st.integers(0, 6), st.integers(0, 5)),
        st.tuples(st.just("taint"), st.integers(0, 6), st.just(0)),
        st.tuples(st.just("wait"), st.just(0), st.integers(1, 40)),
    ),
    max_size=60,
)


@given(steps)
def test_no_bound_forgets_what_a_session_did(script: list[Step]) -> None:
    """Item 3, as a property: for any sequence of calls, taints and waits across more sessions
    than the store holds, every session reads exactly what it did (the calls that ran, its
    taint), unless it was idle for `session_ttl_s` (its lifetime): a call the bound refuses is
    blocked, and nothing is evicted to make room."""
    now = [1000.0]
    sessions = MemorySessions(3, max_tools_per_session=4, session_ttl_s=100, clock=lambda: now[0])
    done: dict[int, dict[str, int]] = {}
    tainted: set[int] = set()
    last: dict[int, float] = {}
    for what, session, detail in script:
        name = f"s{session}"
        if what == "wait":
            now[0] += detail
            continue
        if session in last and now[0] - last[session] >= 100:  # its lifetime is over
            done.pop(session, None)
            tainted.discard(session)
        try:
            if what == "taint":
                sessions.taint(name, "web.fetch")
                tainted.add(session)
            else:
                tool = f"t{detail}"
                turn = sessions.begin(name, tool, caller_key(BOB), SessionNeeds())
                turn.finish("allow")
                done.setdefault(session, {})
                done[session][tool] = done[session].get(tool, 0) + 1
            last[session] = now[0]
        except StateLimit:
            pass  # refused: the call did not run, nothing of it to remember
        for known in set(done) | tainted:
            if now[0] - last[known] >= 100:
                continue
            view = sessions.view(f"s{known}")
            assert view.tainted == (known in tainted)
            for tool, count in done.get(known, {}).items():
                assert view.count(tool) == count
            assert view.calls == sum(done.get(known, {}).values())


def test_a_session_calling_ever_new_tools_is_bounded() -> None:
    """Item 10: with `unknown_tool = "allow"`, 300,000 distinct tool names made one session's
    counts 38 MB. Now a session calls at most `max_tools_per_session` distinct tools; the next
    new one is refused, and the counts stay exact."""
    wall = firewall(max_tools_per_session=256, max_remembered_calls=1024)
    for i in range(255):
        assert wall.decide({"tool": f"junk.{i}", "args": {}}, BOB, session="s").allowed
    assert wall.decide({"tool": "email.send", "args": {}}, BOB, session="s").allowed
    refused = wall.decide({"tool": "junk.new", "args": {}}, BOB, session="s")
    assert refused.action is Action.BLOCK and refused.reasons[-1].kind is ReasonKind.STATE
    assert "max_tools_per_session" in refused.reason
    assert wall.decide({"tool": "email.send", "args": {}}, BOB, session="s").allowed
    state = wall.state.sessions.sessions.entries["s"]  # type: ignore[attr-defined]
    assert state.tools == 256 and len(state.log) == 257
    view = wall.session("s")
    assert (view.count("email.*"), view.count("junk.*"), view.calls) == (2, 255, 257)


def test_a_glob_count_costs_what_matches_once_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 10: each `count("email.*")` scanned every tool the session had used (174 ms at
    300,000 tools). A glob asked in a turn is kept up to date as calls are recorded."""
    import toolwall.state.memory as memory

    matched: list[str] = []
    real = memory.compile_pattern

    def counting(pattern: str) -> Any:
        match = real(pattern)
        return lambda tool: matched.append(tool) or match(tool)

    monkeypatch.setattr(memory, "compile_pattern", counting)
    sessions = MemorySessions(max_tools_per_session=300)
    who = caller_key(BOB)
    for i in range(200):
        sessions.begin("s", f"junk.{i}", who, READS_NOTHING).finish("allow")
    turn = sessions.begin("s", "email.send", who, SessionNeeds())
    assert turn.view.count("email.*") == 0  # the first ask scans the session's tools once
    turn.finish("allow")
    matched.clear()
    for _ in range(50):
        turn = sessions.begin("s", "email.send", who, SessionNeeds())
        count = turn.view.count("email.*")
        turn.finish("allow")
    assert count == 50
    assert len(matched) == 50  # one match per recorded call, none per count()

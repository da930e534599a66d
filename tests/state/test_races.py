"""`count()` limits under concurrency (issue 16; issue 21 item 11): deciders racing on one
session admit exactly the limit, in every backend, whatever the interleaving."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.state.conftest import StateFactory
from tests.state.helpers import BOB
from toolwall import Action, Firewall
from toolwall.model import Caller, RuleVerdict, SessionNeeds, SessionView
from toolwall.policy import compile_text
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state import memory_state


def limit_policy(limit: int) -> Any:
    return compile_text(
        f"""
rule mail_limit:
    on email.*
    when count("email.*") >= {limit}
    block
""",
        SchemaRegistry(),
    )


class Dawdling:
    """The compiled policy, waiting `delays[thread]` between reading the session and answering:
    the widest gap there is between a turn's view and the recording of its call."""

    def __init__(self, policy: Any, delays: dict[int, float]) -> None:
        self.policy = policy
        self.delays = delays

    def evaluate(
        self, tool: str, args: dict[str, Any], caller: Caller, session: SessionView
    ) -> RuleVerdict:
        verdict: RuleVerdict = self.policy.evaluate(tool, args, caller, session)
        time.sleep(self.delays.get(threading.get_ident(), 0.0))
        return verdict

    def taints(self, tool: str) -> bool:
        return False

    def rules_for(self, tool: str) -> list[str]:
        return list(self.policy.rules_for(tool))

    def session_needs(self, tool: str) -> SessionNeeds:
        needs: SessionNeeds = self.policy.session_needs(tool)
        return needs


def race(
    firewall: Firewall,
    threads: int,
    calls: int,
    pauses: dict[int, float] | None = None,
    delays: list[float] | None = None,
) -> list[Action]:
    """`threads` threads start together, each deciding `calls` calls in one session; thread i
    pauses `delays[i]` inside each decision when the rules are `Dawdling` over `pauses`."""
    start = threading.Barrier(threads)
    actions: list[Action] = []
    lock = threading.Lock()

    def decide(index: int) -> None:
        if pauses is not None and delays is not None:
            pauses[threading.get_ident()] = delays[index]
        start.wait()
        for _ in range(calls):
            action = firewall.decide({"tool": "email.send", "args": {}}, BOB, session="s").action
            with lock:
                actions.append(action)

    workers = [threading.Thread(target=decide, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return actions


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Threads switch every microsecond, so the interleavings are many."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_twenty_threads_racing_admit_exactly_the_limit(
    make_state: StateFactory, fast_switching: None
) -> None:
    firewall = Firewall(rules=limit_policy(5), unknown_tool="allow", state=make_state())
    actions = race(firewall, threads=20, calls=1)
    assert actions.count(Action.ALLOW) == 5, actions
    assert firewall.session("s").count("email.*") == 5


@settings(max_examples=40)
@given(
    threads=st.integers(2, 10),
    limit=st.integers(1, 6),
    calls=st.integers(1, 3),
    delays=st.lists(st.sampled_from([0.0, 0.0, 1e-5, 1e-4, 1e-3]), min_size=10, max_size=10),
)
def test_any_interleaving_of_threads_admits_exactly_the_limit(
    threads: int, limit: int, calls: int, delays: list[float]
) -> None:
    """Item 11: for arbitrary interleavings (threads switching every microsecond, each pausing
    for its own time between reading the session and being answered), a `count()` limit of N
    admits N, or every call when there are fewer."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        pauses: dict[int, float] = {}
        policy = Dawdling(limit_policy(limit), pauses)
        firewall = Firewall(rules=policy, unknown_tool="allow", state=memory_state())
        actions = race(firewall, threads, calls, pauses, delays)
    finally:
        sys.setswitchinterval(before)
    assert actions.count(Action.ALLOW) == min(limit, threads * calls), actions
    assert firewall.session("s").count("email.send") == min(limit, threads * calls)

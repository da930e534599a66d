"""The session store contract, the same for every backend (memory, SQLite, Redis): what a turn
sees, what it records, windows, taint, bounds and expiry."""

from __future__ import annotations

import time

import pytest

from tests.state.conftest import StateFactory
from toolwall.errors import StateIncomplete
from toolwall.model import READS_NOTHING, Caller, SessionNeeds
from toolwall.state import StateLimit, caller_key

BOB = caller_key(Caller(sub="bob", iss="https://idp.example"))
CAROL = caller_key(Caller(sub="carol", iss="https://idp.example"))
WINDOWS = SessionNeeds(True, frozenset({1, 3600}), frozenset({1, 3600}))


def run(
    state: StateFactory | object,
    session: str | None,
    tool: str,
    action: str | None = "allow",
    caller: str = BOB,
    needs: SessionNeeds = WINDOWS,
) -> object:
    """One turn: begin, look, finish; returns the view the turn saw."""
    turn = state.sessions.begin(session, tool, caller, needs)  # type: ignore[attr-defined]
    view = turn.view
    seen = (view.calls, view.count(tool), view.tainted)
    turn.finish(action)
    return seen


def test_a_turn_sees_the_calls_before_it_and_counts_the_call_when_it_runs(
    make_state: StateFactory,
) -> None:
    state = make_state()
    assert run(state, "s", "email.send") == (0, 0, False)
    assert run(state, "s", "email.send") == (1, 1, False)
    assert run(state, "s", "email.read") == (2, 0, False)
    view = state.sessions.view("s")
    assert (view.calls, view.count("email.*"), view.count("email.send")) == (3, 3, 2)
    assert view.called("email.read") and not view.called("fs.*")
    assert state.sessions.view("other").calls == 0


def test_a_call_that_does_not_run_is_not_counted(make_state: StateFactory) -> None:
    state = make_state()
    run(state, "s", "email.send", action=None)  # blocked, or waiting for approval
    run(state, "s", "email.send", action=None, needs=READS_NOTHING)
    turn = state.sessions.begin("s", "email.send", BOB, WINDOWS)
    assert turn.view.count("email.send") == 0 and turn.view.count_within("*", 3600) == 0
    turn.finish("allow")
    view = state.sessions.view("s")
    assert view.calls == 1 and view.count("email.send") == 1


def test_a_call_that_counted_can_be_uncounted(make_state: StateFactory) -> None:
    state = make_state()
    for needs in (WINDOWS, READS_NOTHING):
        turn = state.sessions.begin("s", "email.send", BOB, needs)
        turn.finish("allow")
        assert state.sessions.view("s").count("email.send") == 1
        turn.cancel()  # its audit record could not be written: it did not run
        assert state.sessions.view("s").count("email.send") == 0
    turn = state.sessions.begin("s", "x", BOB, WINDOWS)
    assert turn.view.count_within("*", 3600) == 0 and turn.view.caller_count_within("*", 3600) == 0
    turn.finish(None)


def test_an_approved_call_counts_for_its_session_and_caller(make_state: StateFactory) -> None:
    state = make_state()
    state.sessions.record_call("s", "bank.transfer", "approved", BOB)
    assert state.sessions.view("s").count("bank.*") == 1
    turn = state.sessions.begin("t", "bank.transfer", BOB, WINDOWS)
    assert turn.view.caller_count_within("bank.transfer", 3600) == 1
    turn.finish(None)


def test_taint_is_remembered(make_state: StateFactory) -> None:
    state = make_state()
    assert state.sessions.taint("s", "web.fetch") is True
    assert state.sessions.view("s").tainted
    assert run(state, "s", "bank.transfer") == (0, 0, True)
    assert not state.sessions.view("other").tainted
    assert state.sessions.taint(None, "web.fetch") is True  # a session of its own


def test_windows_count_the_calls_that_ran_within_them(make_state: StateFactory) -> None:
    state = make_state()
    for tool in ("email.send", "email.send", "email.read"):
        run(state, "s", tool)
    run(state, "s", "email.send", action=None)  # blocked: not in any window
    run(state, "t", "email.send", caller=BOB)
    run(state, "u", "email.send", caller=CAROL)
    turn = state.sessions.begin("s", "fs.read", BOB, WINDOWS)
    assert turn.view.count_within("email.*", 3600) == 3
    assert turn.view.count_within("email.send", 3600) == 2
    assert turn.view.count_within("fs.*", 3600) == 0
    assert turn.view.caller_count_within("email.*", 3600) == 4  # sessions s and t
    turn.finish(None)
    time.sleep(1.2)  # the calls slide out of a 1 s window, not out of an hour
    turn = state.sessions.begin("s", "fs.read", BOB, WINDOWS)
    assert turn.view.count_within("email.*", 1) == 0
    assert turn.view.caller_count_within("email.*", 1) == 0
    assert turn.view.count_within("email.*", 3600) == 3
    turn.finish(None)


def test_a_window_reaching_past_what_is_remembered_is_refused(make_state: StateFactory) -> None:
    state = make_state(max_remembered_calls=2, session_ttl_s=7200)
    for _ in range(3):
        run(state, "s", "email.send")
    turn = state.sessions.begin("s", "email.send", BOB, WINDOWS)
    # The oldest call is forgotten: a window that reaches back to it cannot be counted.
    with pytest.raises(StateIncomplete, match="max_remembered_calls"):
        turn.view.count_within("email.*", 3600)
    with pytest.raises(StateIncomplete, match="max_remembered_calls"):
        turn.view.caller_count_within("email.*", 3600)
    # Longer than the state lives: refused whatever it remembers.
    with pytest.raises(StateIncomplete, match="session_ttl_s"):
        turn.view.count_within("fs.*", 7201)
    assert turn.view.count("email.send") == 3  # counts are not windows: never forgotten
    turn.finish(None)


def test_a_session_at_its_tool_bound_refuses_a_new_tool(make_state: StateFactory) -> None:
    state = make_state(max_tools_per_session=2)
    run(state, "s", "a")
    run(state, "s", "b")
    with pytest.raises(StateLimit, match="max_tools_per_session"):
        state.sessions.begin("s", "c", BOB, WINDOWS)
    turn = state.sessions.begin("s", "c", BOB, READS_NOTHING)
    with pytest.raises(StateLimit, match="max_tools_per_session"):
        turn.finish("allow")
    run(state, "s", "a")  # tools it already called still count
    view = state.sessions.view("s")
    assert (view.calls, view.count("*"), view.count("c")) == (3, 3, 0)


def test_a_forgotten_session_starts_clean(make_state: StateFactory) -> None:
    state = make_state()
    run(state, "s", "email.send")
    state.sessions.taint("s", "web.fetch")
    state.sessions.forget("s")
    view = state.sessions.view("s")
    assert (view.calls, view.tainted) == (0, False)


def test_idle_state_expires_after_session_ttl_s(make_state: StateFactory) -> None:
    state = make_state(session_ttl_s=1)
    run(state, "s", "email.send")
    state.sessions.taint("s", "web.fetch")
    time.sleep(0.6)
    run(state, "s", "email.read")  # activity: the session lives on
    time.sleep(0.6)
    assert state.sessions.view("s").tainted
    time.sleep(1.2)
    turn = state.sessions.begin("s", "email.send", BOB, SessionNeeds(True, frozenset({1})))
    assert (turn.view.calls, turn.view.tainted, turn.view.count_within("*", 1)) == (0, False, 0)
    turn.finish(None)


def test_a_session_of_its_own_is_shared_with_nobody(make_state: StateFactory) -> None:
    state = make_state()
    run(state, None, "email.send")
    assert run(state, None, "email.send") == (0, 0, False)
    turn = state.sessions.begin(None, "email.send", BOB, WINDOWS)
    assert turn.view.caller_count_within("email.send", 3600) == 2  # the caller's, though
    turn.finish(None)


@pytest.mark.parametrize("backend", ["sqlite", "redis"], indirect=True)
def test_states_over_one_storage_share_it(make_state: StateFactory, backend: str) -> None:
    """SQLite and Redis: states over one storage are processes of one deployment."""
    first, second = make_state(), make_state()
    run(first, "s", "email.send")
    first.sessions.taint("s", "web.fetch")
    assert run(second, "s", "email.send") == (1, 1, True)
    assert first.sessions.view("s").count("email.send") == 2

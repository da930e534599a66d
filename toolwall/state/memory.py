"""Sessions in memory: one process, nothing survives a restart. The default backend.

Threads of one process share the sessions. A `count()` limit holds across threads because a
turn holds the session's lock from the view the rules read until the call is recorded (and the
caller's lock too, when the tool's rules count the caller's calls across its sessions). Locks
are taken session first, caller second, everywhere, so two turns never wait on each other in a
circle.

Bounded without forgetting anything a later decision needs (issue 21): forgetting a session
would make it clean again, so nothing is evicted to make room.

- At most `max_sessions` sessions (and as many callers) at once. State idle for
  `session_ttl_s` expires: that is a session's lifetime, the same in every backend (Redis
  expires its keys after the same time). A new session beyond the bound is refused: the call
  blocks with reason kind `state` until an idle one expires.
- At most `max_tools_per_session` distinct tools per session: a call to one more is refused,
  so `count()` stays exact and costs the session's tools at most.
- At most `max_remembered_calls` call times per session and per caller for the windows of
  `count_within()` (`toolwall.state.windows`: a window reaching back past them is a rule error).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from toolwall.errors import StateIncomplete
from toolwall.model import SessionNeeds
from toolwall.patterns import compile_pattern, is_glob
from toolwall.state.base import State, StateLimit
from toolwall.state.memory_approvals import MemoryApprovals, MemoryDecisions
from toolwall.state.windows import CallLog, window_start

__all__ = [
    "Bounds",
    "MemoryApprovals",  # their own module since the split; importable from here as before
    "MemoryDecisions",
    "MemoryEngine",
    "MemorySessions",
    "SessionState",
]

# Glob counts a session keeps up to date as calls are recorded (a pattern asked before costs
# O(1) afterwards); patterns can come from arguments (`count(args.x)`), so the cache is bounded
# and simply starts over when full: it is a cache, dropping it loses nothing.
GLOB_CACHE = 64


@dataclass(frozen=True, slots=True)
class Bounds:
    """The `[state]` bounds, shared by every session of a store."""

    max_tools: int = 256
    remembered_calls: int = 1024
    ttl_s: float = 86_400.0
    clock: Callable[[], float] = time.time


_DEFAULT_BOUNDS = Bounds()


class SessionState:
    """What one session has done so far: taint, counts per tool, and the times of its calls.

    Counts are kept per tool name, and glob counts asked for in a turn are kept up to date as
    calls are recorded, so a `count()` costs O(1) once asked, never a scan of the history.
    Outside a turn (`MemorySessions.view`) it is also a `SessionView`, without a caller.
    """

    __slots__ = (
        "_by_tool",
        "_globs",
        "bounds",
        "calls",
        "id",
        "lock",
        "log",
        "taint_sources",
        "tainted",
        "used",
    )

    def __init__(self, session_id: str | None = None, bounds: Bounds = _DEFAULT_BOUNDS) -> None:
        self.id = session_id
        self.bounds = bounds
        self.tainted = False
        self.taint_sources: list[str] = []
        self.calls = 0
        self._by_tool: dict[str, int] = {}
        self._globs: dict[str, list[Any]] = {}  # pattern -> [predicate, count]
        self.log = CallLog(bounds.remembered_calls)
        self.lock = threading.Lock()
        self.used = 0.0

    def __deepcopy__(self, memo: dict[int, Any]) -> SessionState:
        """A snapshot of the session (with a lock of its own), e.g. to compare before/after."""
        copy = SessionState(self.id, self.bounds)
        copy.tainted = self.tainted
        copy.taint_sources = list(self.taint_sources)
        copy.calls = self.calls
        copy._by_tool = dict(self._by_tool)
        copy.log.horizon = self.log.horizon
        copy.log.times = {tool: list(times) for tool, times in self.log.times.items()}
        copy.log.order = self.log.order.copy()
        copy.used = self.used
        return copy

    # -- the view ---------------------------------------------------------------------------

    def count(self, pattern: str) -> int:
        """How many earlier calls in this session went (allowed) to tools matching `pattern`."""
        if not is_glob(pattern):
            return self._by_tool.get(pattern, 0)
        match = compile_pattern(pattern)
        return sum(n for tool, n in self._by_tool.items() if match(tool))

    def called(self, pattern: str) -> bool:
        return self.count(pattern) > 0

    def count_within(self, pattern: str, seconds: float) -> int:
        return self.count_since(pattern, seconds, self.bounds.clock())

    def caller_count_within(self, pattern: str, seconds: float) -> int:
        raise StateIncomplete("caller_count_within() needs the caller of a decision")

    # -- what turns use, holding the lock ---------------------------------------------------

    def count_cached(self, pattern: str) -> int:
        """`count`, keeping a glob's count up to date from now on (the lock must be held)."""
        if not is_glob(pattern):
            return self._by_tool.get(pattern, 0)
        entry = self._globs.get(pattern)
        if entry is None:
            match = compile_pattern(pattern)
            entry = [match, sum(n for tool, n in self._by_tool.items() if match(tool))]
            if len(self._globs) >= GLOB_CACHE:
                self._globs.clear()
            self._globs[pattern] = entry
        count: int = entry[1]
        return count

    def count_since(self, pattern: str, seconds: float, now: float) -> int:
        since = window_start(now, seconds, self.bounds.ttl_s)
        return self.log.count(pattern, since, "this session", seconds)

    def check_room(self, tool: str) -> None:
        """`StateLimit` when a call to `tool` would pass `max_tools` distinct tools."""
        if tool not in self._by_tool and len(self._by_tool) >= self.bounds.max_tools:
            raise too_many_tools(self.id, self.bounds.max_tools, tool)

    def record(self, tool: str, at: float) -> None:
        """Count a call that ran (allowed, rewritten or approved)."""
        self.check_room(tool)
        self.calls += 1
        self._by_tool[tool] = self._by_tool.get(tool, 0) + 1
        for entry in self._globs.values():
            if entry[0](tool):
                entry[1] += 1
        self.log.record(tool, at)

    def unrecord(self, tool: str, at: float) -> None:
        """Uncount a call `record` counted at `at` (it did not run after all)."""
        count = self._by_tool.get(tool)
        if count is None:
            return
        self.calls -= 1
        if count > 1:
            self._by_tool[tool] = count - 1
        else:
            del self._by_tool[tool]
        for entry in self._globs.values():
            if entry[0](tool):
                entry[1] -= 1
        self.log.remove(tool, at)

    def taint(self, source: str) -> None:
        self.tainted = True
        # Sources are for people reading the state; the tool bound keeps the list short.
        if source not in self.taint_sources and len(self.taint_sources) < self.bounds.max_tools:
            self.taint_sources.append(source)

    @property
    def tools(self) -> int:
        return len(self._by_tool)


def too_many_tools(session: str | None, limit: int, tool: str) -> StateLimit:
    return StateLimit(
        f"session {session!r} has called {limit} distinct tools, the most [state] "
        f"max_tools_per_session allows: a call to {tool} cannot be counted, so it does not run"
    )


class CallerState:
    """The times of one caller's calls across all its sessions (`caller_count_within`)."""

    __slots__ = ("key", "lock", "log", "used")

    def __init__(self, key: str, bounds: Bounds) -> None:
        self.key = key
        self.log = CallLog(bounds.remembered_calls)
        self.lock = threading.Lock()
        self.used = 0.0


Owner = TypeVar("Owner", SessionState, CallerState)


class _Table(Generic[Owner]):
    """Owners (sessions or callers) by key: idle ones expire after the ttl, and a new one
    beyond `capacity` is refused rather than made room for."""

    def __init__(
        self, capacity: int, bounds: Bounds, make: Callable[[str], Owner], what: str
    ) -> None:
        self.capacity = capacity
        self.bounds = bounds
        self.make: Callable[[str], Owner] = make
        self.what = what
        self.entries: OrderedDict[str, Owner] = OrderedDict()  # least recently used first
        self.lock = threading.Lock()

    def get(self, key: str, now: float) -> Owner:
        with self.lock:
            self._expire(now)
            owner = self.entries.get(key)
            if owner is None:
                if len(self.entries) >= self.capacity:
                    raise StateLimit(
                        f"{len(self.entries)} {self.what}s are active, the most [state] "
                        f"max_sessions allows: a new one can start when one has been idle for "
                        f"session_ttl_s ({self.bounds.ttl_s:g} s)"
                    )
                owner = self.entries[key] = self.make(key)
            else:
                self.entries.move_to_end(key)
            owner.used = max(owner.used, now)
            return owner

    def peek(self, key: str, now: float) -> Owner | None:
        with self.lock:
            self._expire(now)
            return self.entries.get(key)

    def _expire(self, now: float) -> None:
        cutoff = now - self.bounds.ttl_s
        while self.entries:
            key, oldest = next(iter(self.entries.items()))
            if oldest.used > cutoff:
                return
            if oldest.lock.locked():  # in a turn right now: it is not idle
                oldest.used = now
                self.entries.move_to_end(key)
                continue
            del self.entries[key]

    def pop(self, key: str) -> None:
        with self.lock:
            self.entries.pop(key, None)

    def __len__(self) -> int:
        return len(self.entries)


class _Turn:
    """One decision in one session (see the module docstring). Its own view: the session as it
    stands under the lock, with the caller's windows."""

    __slots__ = ("_caller", "_caller_key", "_locked", "_now", "_state", "_store", "_tool")

    def __init__(
        self,
        store: MemorySessions,
        state: SessionState,
        locked: bool,
        tool: str,
        caller_key: str,
        caller: CallerState | None,
        now: float,
    ) -> None:
        self._store = store
        self._state = state
        self._locked = locked
        self._tool = tool
        self._caller_key = caller_key
        self._caller = caller  # held (locked) for the turn when the rules read its windows
        self._now = now

    @property
    def view(self) -> _Turn:
        return self

    @property
    def tainted(self) -> bool:
        return self._state.tainted

    @property
    def calls(self) -> int:
        return self._state.calls

    def count(self, pattern: str) -> int:
        return self._state.count_cached(pattern)

    def called(self, pattern: str) -> bool:
        return self._state.count_cached(pattern) > 0

    def count_within(self, pattern: str, seconds: float) -> int:
        return self._state.count_since(pattern, seconds, self._now)

    def caller_count_within(self, pattern: str, seconds: float) -> int:
        since = window_start(self._now, seconds, self._state.bounds.ttl_s)
        caller = self._caller
        if caller is None:  # a rule engine that did not declare the window: read it now
            caller = self._store.callers.peek(self._caller_key, self._now)
            if caller is None:
                return 0
            with caller.lock:
                return caller.log.count(pattern, since, "this caller", seconds)
        return caller.log.count(pattern, since, "this caller", seconds)

    def finish(self, action: str | None) -> None:
        try:
            if action is not None:
                self._state.record(self._tool, self._now)
                if self._caller is not None:
                    self._caller.log.record(self._tool, self._now)
                else:
                    self._store.record_caller(self._caller_key, self._tool, self._now)
        finally:
            if self._caller is not None:
                self._caller.lock.release()
            if self._locked:
                self._state.lock.release()

    def cancel(self) -> None:
        state, tool, now = self._state, self._tool, self._now
        if self._locked:
            with state.lock:
                state.unrecord(tool, now)
        caller = self._store.callers.peek(self._caller_key, now)
        if caller is not None:
            with caller.lock:
                caller.log.remove(tool, now)


class MemorySessions:
    """Session states by id, bounded without eviction (see the module docstring)."""

    def __init__(
        self,
        max_sessions: int = 10_000,
        *,
        max_tools_per_session: int = 256,
        max_remembered_calls: int = 1024,
        session_ttl_s: float = 86_400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_sessions = max_sessions
        self.bounds = Bounds(max_tools_per_session, max_remembered_calls, session_ttl_s, clock)
        self.sessions: _Table[SessionState] = _Table(
            max_sessions, self.bounds, lambda key: SessionState(key, self.bounds), "session"
        )
        self.callers: _Table[CallerState] = _Table(
            max_sessions, self.bounds, lambda key: CallerState(key, self.bounds), "caller"
        )

    def begin(self, session: str | None, tool: str, caller: str, needs: SessionNeeds) -> _Turn:
        now = self.bounds.clock()
        if session is None:  # a state of its own that nothing reads again
            state, locked = SessionState(None, self.bounds), False
        else:
            state, locked = self.sessions.get(session, now), True
            state.lock.acquire()
        try:
            if needs.reads:  # as a remote backend reserves the call; else `finish` refuses
                state.check_room(tool)
            held: CallerState | None = None
            if needs.caller_windows:
                held = self.callers.get(caller, now)
                held.lock.acquire()
        except BaseException:
            if locked:
                state.lock.release()
            raise
        return _Turn(self, state, locked, tool, caller, held, now)

    def view(self, session: str | None) -> SessionState:
        """The state of `session` (an empty one when it has none); a call with no session gets
        a fresh, unshared state."""
        if session is None:
            return SessionState(None, self.bounds)
        found = self.sessions.peek(session, self.bounds.clock())
        return found if found is not None else SessionState(session, self.bounds)

    def record_call(
        self, session: str | None, tool: str, action: str, caller: str | None = None
    ) -> None:
        now = self.bounds.clock()
        if session is not None:
            state = self.sessions.get(session, now)
            with state.lock:
                state.record(tool, now)
        if caller is not None:
            self.record_caller(caller, tool, now)

    def record_caller(self, caller: str, tool: str, now: float) -> None:
        owner = self.callers.get(caller, now)
        with owner.lock:
            owner.log.record(tool, now)

    def taint(self, session: str | None, source: str) -> bool:
        if session is None:
            return True  # the result taints the call's own (unshared) session
        state = self.sessions.get(session, self.bounds.clock())
        with state.lock:
            state.taint(source)
        return True

    def forget(self, session: str) -> None:
        self.sessions.pop(session)

    def __len__(self) -> int:
        return len(self.sessions)


class MemoryEngine:
    """The memory backend as an `Engine`: always healthy; its statistics are this process's."""

    def __init__(self, sessions: MemorySessions, approvals: Any, decisions: Any) -> None:
        self.sessions = sessions
        self.approvals = approvals
        self.decisions = decisions

    def health(self) -> tuple[bool, str]:
        return True, "memory: ok"

    def stats(self) -> dict[str, Any]:
        sessions = list(self.sessions.sessions.entries.values())
        callers = list(self.sessions.callers.entries.values())
        out: dict[str, Any] = {
            "sessions": len(sessions),
            "tainted_sessions": sum(1 for s in sessions if s.tainted),
            "callers": len(callers),
            "remembered_calls": sum(len(s.log) for s in sessions)
            + sum(len(c.log) for c in callers),
            "max_sessions": self.sessions.max_sessions,
        }
        if isinstance(self.approvals, MemoryApprovals):
            out["approvals"] = len(self.approvals.entries(limit=1 << 30))
            out["pending_approvals"] = len(self.approvals.entries("pending", limit=1 << 30))
        if isinstance(self.decisions, MemoryDecisions):
            out["decisions"] = len(self.decisions)
        return out

    def close(self) -> None:
        return None


def memory_state(
    approvals: Any = None,
    *,
    max_sessions: int = 10_000,
    max_tools_per_session: int = 256,
    max_remembered_calls: int = 1024,
    session_ttl_s: float = 86_400.0,
) -> State:
    """A state kept in this process's memory; `approvals` replaces the memory approval store
    (an approver that answers from a store of its own brings it)."""
    sessions = MemorySessions(
        max_sessions,
        max_tools_per_session=max_tools_per_session,
        max_remembered_calls=max_remembered_calls,
        session_ttl_s=session_ttl_s,
    )
    store = approvals if approvals is not None else MemoryApprovals()
    decisions = MemoryDecisions()
    return State(sessions, store, decisions, "memory", (MemoryEngine(sessions, store, decisions),))

"""The in-memory backend: one process, nothing survives a restart.

The default. Sessions, approvals and decisions live in bounded dictionaries guarded by locks, so
threads of one process share them; a `count()` limit holds across threads because a session's
turn holds the session's lock from the view the rules read until the call is recorded.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, NamedTuple

from toolwall.model import ApprovalRequest, Caller, Decision
from toolwall.patterns import compile_pattern, is_glob
from toolwall.state.base import (
    ApprovalError,
    ApprovalRecord,
    DecisionKey,
    Status,
    caller_key,
)

HISTORY_LENGTH = 256


class HistoryEntry(NamedTuple):
    """One call the session made (a tuple: built on every call, and cheaper than a dataclass)."""

    at: float
    tool: str
    action: str


class SessionState:
    """What one session has done so far: the `SessionView` the rules read, kept in memory.

    Counts are kept per tool name, so a `count()` costs the number of distinct tools the session
    used, not the number of calls it made.
    """

    __slots__ = ("_by_tool", "calls", "history", "id", "lock", "taint_sources", "tainted")

    def __init__(self, session_id: str | None = None) -> None:
        self.id = session_id
        self.tainted = False
        self.taint_sources: list[str] = []
        self.calls = 0
        self._by_tool: dict[str, int] = {}
        self.history: deque[HistoryEntry] = deque(maxlen=HISTORY_LENGTH)
        self.lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, Any]) -> SessionState:
        """A snapshot of the session (with a lock of its own), e.g. to compare before/after."""
        copy = SessionState(self.id)
        copy.tainted = self.tainted
        copy.taint_sources = list(self.taint_sources)
        copy.calls = self.calls
        copy._by_tool = dict(self._by_tool)
        copy.history = deque(self.history, maxlen=HISTORY_LENGTH)
        return copy

    def count(self, pattern: str) -> int:
        """How many earlier calls in this session went (allowed) to tools matching `pattern`."""
        if not is_glob(pattern):
            return self._by_tool.get(pattern, 0)
        match = compile_pattern(pattern)
        return sum(n for tool, n in self._by_tool.items() if match(tool))

    def called(self, pattern: str) -> bool:
        return self.count(pattern) > 0

    def record_call(self, tool: str, action: str) -> None:
        """Count a call that was allowed, rewritten or approved."""
        self.calls += 1
        self._by_tool[tool] = self._by_tool.get(tool, 0) + 1
        self.history.append(HistoryEntry(time.time(), tool, action))

    def taint(self, source: str) -> None:
        self.tainted = True
        if source not in self.taint_sources:
            self.taint_sources.append(source)

    # A state whose lock `MemorySessions.begin` took is the turn itself (no object per call).

    @property
    def view(self) -> SessionState:
        return self

    def finish(self, tool: str, action: str | None) -> None:
        try:
            if action is not None:
                self.record_call(tool, action)
        finally:
            self.lock.release()


class _LoneTurn:
    """A turn of a call without a session: its state is its own and nothing reads it again."""

    __slots__ = ("view",)

    def __init__(self) -> None:
        self.view = SessionState()

    def finish(self, tool: str, action: str | None) -> None:
        return None


class MemorySessions:
    """Session states by id, bounded: the least recently used session is forgotten first."""

    def __init__(self, max_sessions: int = 10_000) -> None:
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, SessionState] = OrderedDict()
        self._lock = threading.Lock()

    def _state(self, session_id: str) -> SessionState:
        with self._lock:
            state = self._sessions.get(session_id)
            if state is None:
                state = SessionState(session_id)
                self._sessions[session_id] = state
                if len(self._sessions) > self.max_sessions:
                    self._sessions.popitem(last=False)
            else:
                self._sessions.move_to_end(session_id)
            return state

    def begin(self, session: str | None) -> SessionState | _LoneTurn:
        if session is None:
            return _LoneTurn()
        state = self._state(session)
        state.lock.acquire()
        return state

    def view(self, session: str | None) -> SessionState:
        """The state of `session`; a call with no session gets a fresh, unshared state."""
        if session is None:
            return SessionState()
        return self._state(session)

    def record_call(self, session: str | None, tool: str, action: str) -> None:
        if session is None:
            return
        state = self._state(session)
        with state.lock:
            state.record_call(tool, action)

    def taint(self, session: str | None, source: str) -> bool:
        if session is None:
            return True  # the result taints the call's own (unshared) session
        state = self._state(session)
        with state.lock:
            state.taint(source)
        return True

    def forget(self, session: str) -> None:
        with self._lock:
            self._sessions.pop(session, None)

    def __len__(self) -> int:
        return len(self._sessions)


class MemoryApprovals:
    """Approvals in a dictionary: answered by this process only (a console, a callback, a
    framework's own human-in-the-loop). Bounded: expired and used records are dropped first;
    a store full of pending requests refuses new ones (the call is then denied)."""

    def __init__(
        self, max_entries: int = 10_000, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._records: OrderedDict[str, ApprovalRecord] = OrderedDict()
        self._lock = threading.Lock()

    def open(
        self, request: ApprovalRequest, ttl_s: float, shown: Mapping[str, Any]
    ) -> ApprovalRecord:
        decision = request.decision
        now = self.clock()
        with self._lock:
            self._make_room(now)
            approval_id = secrets.token_hex(4)
            while approval_id in self._records:
                approval_id = secrets.token_hex(4)
            record = ApprovalRecord(
                id=approval_id,
                digest=request.digest,
                status="pending",
                created=now,
                expires=now + ttl_s,
                answered=None,
                by=None,
                note="",
                consumed=None,
                decision_id=decision.id,
                tool=decision.tool,
                caller_sub=decision.caller.sub,
                caller_iss=decision.caller.iss,
                session=decision.session,
                call_id=decision.call_id,
                request=dict(shown),
            )
            self._records[approval_id] = record
            return record

    def _make_room(self, now: float) -> None:
        if len(self._records) < self.max_entries:
            return
        for key in [k for k, r in self._records.items() if _settled(r, now)]:
            del self._records[key]
        if len(self._records) >= self.max_entries:
            raise ApprovalError(
                f"{len(self._records)} approval requests are pending: no room for another"
            )

    def get(self, approval_id: str) -> ApprovalRecord | None:
        with self._lock:
            return self._current(approval_id, self.clock())

    def find(self, caller: Caller, session: str | None, call_id: str) -> ApprovalRecord | None:
        key = caller_key(caller)
        with self._lock:
            for record in reversed(self._records.values()):
                if (
                    record.call_id == call_id
                    and record.session == session
                    and record.caller_key == key
                ):
                    return self._current(record.id, self.clock())
        return None

    def answer(self, approval_id: str, approved: bool, by: str, note: str = "") -> ApprovalRecord:
        now = self.clock()
        with self._lock:
            record = self._current(approval_id, now)
            if record is None:
                raise ApprovalError(f"no approval request {approval_id}")
            if record.status == "expired":
                raise ApprovalError(f"approval request {approval_id} has expired")
            if record.status != "pending":
                raise ApprovalError(f"approval request {approval_id} is already {record.status}")
            status: Status = "approved" if approved else "denied"
            record = replace(record, status=status, answered=now, by=by, note=note)
            self._records[approval_id] = record
            return record

    def time_out(self, approval_id: str, note: str) -> ApprovalRecord | None:
        now = self.clock()
        with self._lock:
            record = self._current(approval_id, now)
            if record is not None and record.status == "pending":
                record = replace(record, status="timeout", answered=now, by="toolwall", note=note)
                self._records[approval_id] = record
            return record

    def consume(self, approval_id: str, digest: str) -> ApprovalRecord:
        now = self.clock()
        with self._lock:
            record = self._current(approval_id, now)
            problem = unusable(record, approval_id, digest, now)
            if problem is not None:
                raise ApprovalError(problem)
            assert record is not None
            record = replace(record, consumed=now)
            self._records[approval_id] = record
            return record

    def entries(self, status: Status | None = None, limit: int = 200) -> list[ApprovalRecord]:
        now = self.clock()
        with self._lock:
            records = [self._current(k, now) for k in reversed(self._records)]
        return [r for r in records if r is not None and (status is None or r.status == status)][
            :limit
        ]

    def _current(self, approval_id: str, now: float) -> ApprovalRecord | None:
        """The record, with a pending one past its ttl shown (and kept) as expired."""
        record = self._records.get(approval_id)
        if record is not None and record.status == "pending" and now >= record.expires:
            record = replace(record, status="expired")
            self._records[approval_id] = record
        return record


def _settled(record: ApprovalRecord, now: float) -> bool:
    """Whether a record can be dropped without changing any later answer: nothing can use it."""
    if record.status == "pending":
        return now >= record.expires
    return record.status != "approved" or record.consumed is not None or now >= record.expires


def unusable(
    record: ApprovalRecord | None, approval_id: str, digest: str, now: float
) -> str | None:
    """Why an approval cannot release the call with `digest` now (None: it can, once).

    The one statement of the rule every backend enforces: approved, unused, unexpired, and given
    for exactly this call.
    """
    if record is None:
        return f"approval request {approval_id} does not exist"
    if record.status != "approved":
        return f"approval request {approval_id} is {record.status}"
    if record.digest != digest:
        return f"approval {approval_id} was given for a different call"
    if record.consumed is not None:
        return f"approval {approval_id} was already used"
    if now >= record.expires:
        return f"approval {approval_id} expired before it was used"
    return None


class _CachedDecision(NamedTuple):
    digest: str
    decision: Decision


class MemoryDecisions:
    """Decisions by (caller, session, call id), bounded: the oldest is forgotten first.

    Forgetting one only means the call is decided (and audited) again if its hook fires again;
    an approval is never carried by this cache, so nothing becomes more permissive.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[DecisionKey, _CachedDecision] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: DecisionKey, digest: str) -> Decision | None:
        with self._lock:
            entry = self._entries.get(key)
        return entry.decision if entry is not None and entry.digest == digest else None

    def latest(self, key: DecisionKey) -> Decision | None:
        with self._lock:
            entry = self._entries.get(key)
        return entry.decision if entry is not None else None

    def put(self, key: DecisionKey, digest: str, decision: Decision) -> None:
        with self._lock:
            self._entries[key] = _CachedDecision(digest, decision)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

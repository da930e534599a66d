"""Per-session history and taint, kept in memory by the firewall.

Rules see a session through `SessionState`: whether it is tainted, how many calls it made and
how many went to tools matching a pattern. Counts are kept per tool name, so a `count()` costs
the number of distinct tools the session used, not the number of calls it made.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from typing import NamedTuple

from toolwall.patterns import compile_pattern, is_glob

HISTORY_LENGTH = 256


class HistoryEntry(NamedTuple):
    """One call the session made (a tuple: built on every call, and cheaper than a dataclass)."""

    at: float
    tool: str
    action: str


class SessionState:
    """What one session has done so far."""

    __slots__ = ("_by_tool", "calls", "history", "id", "taint_sources", "tainted")

    def __init__(self, session_id: str | None = None) -> None:
        self.id = session_id
        self.tainted = False
        self.taint_sources: list[str] = []
        self.calls = 0
        self._by_tool: dict[str, int] = {}
        self.history: deque[HistoryEntry] = deque(maxlen=HISTORY_LENGTH)

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


class SessionStore:
    """Session states by id, bounded: the least recently used session is forgotten first."""

    def __init__(self, max_sessions: int = 10_000) -> None:
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, SessionState] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> SessionState:
        """The state of `session_id`; a call with no session gets a fresh, unshared state."""
        if session_id is None:
            return SessionState()
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

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)

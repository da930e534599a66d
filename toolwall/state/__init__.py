"""What a decision reads and writes about the past: sessions, approvals, decisions by call id.

`toolwall.state.base` states the interface; `memory` (the default), `sqlite` (one machine,
several processes) and `redis` (many machines; the `redis` extra) implement it.
"""

from toolwall.state.base import (
    ApprovalError,
    ApprovalRecord,
    ApprovalStore,
    DecisionStore,
    SessionStore,
    SessionTurn,
    State,
    StateError,
    StateLimit,
    StateUnavailable,
    caller_key,
)
from toolwall.state.memory import (
    MemoryApprovals,
    MemoryDecisions,
    MemorySessions,
    SessionState,
    memory_state,
)
from toolwall.state.sqlite import SQLiteApprovals

__all__ = [
    "ApprovalError",
    "ApprovalRecord",
    "ApprovalStore",
    "DecisionStore",
    "MemoryApprovals",
    "MemoryDecisions",
    "MemorySessions",
    "SQLiteApprovals",
    "SessionState",
    "SessionStore",
    "SessionTurn",
    "State",
    "StateError",
    "StateLimit",
    "StateUnavailable",
    "caller_key",
    "memory_state",
]

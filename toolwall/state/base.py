"""What a decision reads and writes about the past, behind one interface.

Three stores, each a protocol with a backend per engine (`toolwall.state.memory`,
`toolwall.state.sqlite`, `toolwall.state.redis`):

- `SessionStore`: each session's history (`count()`, `called()`, `session.calls`, the windows of
  `count_within()`), its taint, and the caller's windows (`caller_count_within()`). Deciding a
  call is one *turn* (`begin` ... `finish`): the turn's view of the session and the recording of
  the call are atomic, so N deciders racing on one session admit exactly a `count()` limit.
- `ApprovalStore`: pending escalations, their answers and their single use. The only place an
  approval changes state; `toolwall.enforce.settle` is the only code that asks it to.
- `DecisionStore`: decisions by (caller, session, call id), so a framework hook that fires twice
  for one call gets the first decision instead of a second one.

`State` bundles one of each for a firewall, with the backend's health check and statistics.
Every failure of a backend is a `StateError`; the pipeline turns it into a `block` with reason
kind `state`, and nothing falls back to a memory another process cannot see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from toolwall.errors import ToolwallError
from toolwall.model import ApprovalRequest, Caller, Decision, SessionNeeds, SessionView


class ApprovalError(ToolwallError):
    """An approval cannot be given or used: no such request, already answered or used, expired,
    or given for another call."""


class StateError(ToolwallError):
    """The state cannot serve a decision; the call is blocked with reason kind `state`."""


class StateUnavailable(StateError):
    """The state backend cannot be reached, answered too slowly ([state] timeout_s) or answered
    nonsense."""


class StateLimit(StateError):
    """A bound of the state refuses what the call would add (a new session at `max_sessions`,
    a new tool at `max_tools_per_session`): refused, never made room for by forgetting."""


Status = Literal["pending", "approved", "denied", "timeout", "expired"]
"""`timeout`: nobody answered while the call waited; `expired`: past its ttl unanswered."""


def caller_key(caller: Caller) -> str:
    """Who a caller is, as state keys and approvals record it: issuer and subject.

    The anonymous caller has a key too (`"|"`); it is nobody's in particular, so what it
    records is shared by every anonymous call, as its grants are.
    """
    return f"{caller.iss or ''}|{caller.sub or ''}"


# -- sessions -----------------------------------------------------------------------------------


class SessionTurn(Protocol):
    """One call being decided in one session: the session as the rules see it, reserved until
    `finish` says whether the call runs."""

    @property
    def view(self) -> SessionView: ...

    def finish(self, action: str | None) -> None:
        """End the turn: `action` is what the call counts as ("allow", "rewrite"), or None when
        it does not run now (blocked, or waiting for an approval). Called exactly once, before
        the decision is audited; a `StateError` here turns the decision into a block."""
        ...

    def cancel(self) -> None:
        """Uncount the call `finish` counted: it did not run after all (its audit record could
        not be written). Best effort: a call that stays counted only makes later calls
        stricter."""
        ...


class SessionStore(Protocol):
    def begin(
        self, session: str | None, tool: str, caller: str, needs: SessionNeeds
    ) -> SessionTurn:
        """Start deciding a call to `tool` in `session` (None: a session of its own, shared with
        nobody) for the caller with key `caller` (`caller_key`). `needs` says what the rules
        covering the tool will read, so a remote backend fetches it in the same round trip.
        Raises `StateError` when the turn cannot be served."""
        ...

    def view(self, session: str | None) -> SessionView:
        """The session as the rules would see it now (read-only; no caller, so
        `caller_count_within` is not available)."""
        ...

    def record_call(
        self, session: str | None, tool: str, action: str, caller: str | None = None
    ) -> None:
        """Count a call that runs outside a turn: an approved escalation."""
        ...

    def taint(self, session: str | None, source: str) -> bool:
        """Mark the session as having read untrusted content from `source` (a tool name).
        Returns whether the session is tainted afterwards."""
        ...

    def forget(self, session: str) -> None: ...


# -- approvals ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    """One escalated call in the approval store, as `toolwall approvals list/show` presents it.

    `digest` binds an approval to the exact call (`call_digest`: tool, final arguments, caller,
    session); `request` holds what a person is shown: the arguments (redacted like the audit),
    the proposed arguments, the reasons and the rules.
    """

    id: str
    digest: str
    status: Status
    created: float
    expires: float
    answered: float | None
    by: str | None
    note: str
    consumed: float | None
    decision_id: str
    tool: str
    caller_sub: str | None
    caller_iss: str | None
    session: str | None
    call_id: str | None
    request: Mapping[str, Any]

    @property
    def caller_key(self) -> str:
        return f"{self.caller_iss or ''}|{self.caller_sub or ''}"


class ApprovalStore(Protocol):
    def open(
        self, request: ApprovalRequest, ttl_s: float, shown: Mapping[str, Any]
    ) -> ApprovalRecord:
        """Store `request` as pending until `ttl_s` from now; `shown` is what people see."""
        ...

    def get(self, approval_id: str) -> ApprovalRecord | None: ...

    def find(self, caller: Caller, session: str | None, call_id: str) -> ApprovalRecord | None:
        """The newest approval opened for this caller's call `call_id` in `session`."""
        ...

    def answer(self, approval_id: str, approved: bool, by: str, note: str = "") -> ApprovalRecord:
        """Approve or deny a pending request; `ApprovalError` says why it cannot be answered."""
        ...

    def time_out(self, approval_id: str, note: str) -> ApprovalRecord | None:
        """Mark a pending request as unanswered in time; returns the record as it stands (an
        answer that came in first stands)."""
        ...

    def consume(self, approval_id: str, digest: str) -> ApprovalRecord:
        """Use an approval for the call with `digest`, once: atomically checks that it was
        approved, is unused, unexpired and was given for that exact call. `ApprovalError`
        says why not."""
        ...

    def entries(self, status: Status | None = None, limit: int = 200) -> list[ApprovalRecord]:
        """Requests, newest first; only those with `status` when given."""
        ...


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


# -- decisions by call id -----------------------------------------------------------------------


DecisionKey = tuple[str, str | None, str]
"""(caller key, session, call id)."""


class DecisionStore(Protocol):
    def get(self, key: DecisionKey, digest: str) -> Decision | None:
        """The decision made for this call id, if it was made for the same call (`digest` of
        tool and arguments); a call id reused with other arguments gets no decision."""
        ...

    def put(self, key: DecisionKey, digest: str, decision: Decision) -> None: ...

    def latest(self, key: DecisionKey) -> Decision | None:
        """The last decision made under this call id, whatever its arguments."""
        ...


Health = tuple[bool, str]
"""(usable, what the backend says): what `/healthz` reports."""


class Engine(Protocol):
    """The engine behind a state's stores: one object per connection or file."""

    def health(self) -> Health:
        """Whether it can serve decisions now; cheap (a service calls it on every probe)."""
        ...

    def stats(self) -> dict[str, Any]:
        """What it holds: sessions, approvals, memory."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class State:
    """Everything a firewall remembers between calls.

    `backend` names the engine; `engines` are the engines the stores use (one per connection or
    file: the three Redis stores share one client).
    """

    sessions: SessionStore
    approvals: ApprovalStore
    decisions: DecisionStore
    backend: str = "memory"
    engines: tuple[Engine, ...] = field(default=(), compare=False)

    def health(self) -> Health:
        """Whether the state can serve decisions now, cheaply (one PING for Redis, one query for
        SQLite, nothing for memory). Never raises."""
        details = []
        for engine in self.engines:
            try:
                ok, detail = engine.health()
            except Exception as exc:  # a health check must answer, not raise
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            if not ok:
                return False, detail
            details.append(detail)
        return True, "; ".join(details) or f"{self.backend}: ok"

    def stats(self) -> dict[str, Any]:
        """What the state holds (sessions, approvals, memory), as the backend counts it."""
        out: dict[str, Any] = {"backend": self.backend}
        for engine in self.engines:
            out.update(engine.stats())
        return out

    def close(self) -> None:
        for engine in self.engines:
            engine.close()

"""What a decision reads and writes about the past, behind one interface.

Three stores, each a protocol with a backend per engine (`toolwall.state.memory`,
`toolwall.state.sqlite`):

- `SessionStore`: each session's history (`count()`, `called()`, `session.calls`) and taint.
  Deciding a call is one *turn* (`begin` ... `finish`): the turn's view of the session and the
  recording of the call are atomic, so N deciders racing on one session admit exactly a
  `count()` limit.
- `ApprovalStore`: pending escalations, their answers and their single use. The only place an
  approval changes state; `toolwall.enforce.settle` is the only code that asks it to.
- `DecisionStore`: decisions by (caller, session, call id), so a framework hook that fires twice
  for one call gets the first decision instead of a second one.

`State` bundles one of each for a firewall.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from toolwall.errors import ToolwallError
from toolwall.model import ApprovalRequest, Caller, Decision, SessionView


class ApprovalError(ToolwallError):
    """An approval cannot be given or used: no such request, already answered or used, expired,
    or given for another call."""


class StateUnavailable(ToolwallError):
    """The state backend cannot be reached or answered nonsense; the call is blocked."""


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

    def finish(self, tool: str, action: str | None) -> None:
        """End the turn: `action` is what the call was counted as ("allow", "rewrite"), or None
        when it does not run now (blocked, or waiting for an approval)."""
        ...


class SessionStore(Protocol):
    def begin(self, session: str | None) -> SessionTurn:
        """Start deciding a call in `session` (None: a session of its own, shared with nobody)."""
        ...

    def view(self, session: str | None) -> SessionView:
        """The session as the rules would see it now (read-only)."""
        ...

    def record_call(self, session: str | None, tool: str, action: str) -> None:
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


@dataclass(frozen=True, slots=True)
class State:
    """Everything a firewall remembers between calls."""

    sessions: SessionStore
    approvals: ApprovalStore
    decisions: DecisionStore

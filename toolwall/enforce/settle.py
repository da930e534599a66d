"""Settlement: what an answer to an escalated call allows. The one implementation.

Every integration (guard and run, the provider formats, the framework adapters, the MCP gateway,
the decision service) settles escalations here, so one rule holds everywhere:

    an approval runs exactly the call it was given for (tool, final arguments, caller and
    session: `call_digest`), once, before it expires; anything else is a block saying why.

The steps, each a method:

- `open(decision)`: the escalated call becomes a pending approval in the approval store (what
  `toolwall approvals list`, the console and the webhook show). One per call id: a framework hook
  that fires again for the same call finds the approval it opened before.
- an answer arrives: from the configured approver (`settle`), or from elsewhere — a framework's
  own human-in-the-loop flow, an MCP client, `toolwall approvals`, the console — given to
  `conclude`.
- `conclude(request, decision, answer)`: the answer is stored (a stored answer that came first
  stands), audited (an approval that cannot be audited is a denial), and an approval is consumed
  for the call about to run, atomically in the store. The approved call counts in its session.
  Returns the decision as enforced: allow or rewrite (it runs with `decision.args`) or block.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from toolwall.audit.log import AuditSink
from toolwall.enforce.approvers import Approver, answer_of
from toolwall.model import (
    Action,
    ApprovalAnswer,
    ApprovalRequest,
    Decision,
    Reason,
    ReasonKind,
    TraceEntry,
)
from toolwall.state.base import (
    ApprovalError,
    ApprovalRecord,
    ApprovalStore,
    SessionStore,
    StateError,
    caller_key,
)

logger = logging.getLogger("toolwall")

DEFAULT_TTL_S = 900.0


class Settlement:
    """Settles the escalations of one firewall (see the module docstring).

    `redact` is applied to the arguments the approval store keeps for people to see, as the
    audit redacts them.
    """

    def __init__(
        self,
        *,
        approver: Approver,
        approvals: ApprovalStore,
        sessions: SessionStore,
        audit: AuditSink,
        redact: Callable[[Any], Any],
        ttl_s: float = DEFAULT_TTL_S,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.approver = approver
        self.approvals = approvals
        self.sessions = sessions
        self.audit = audit
        self.redact = redact
        self.ttl_s = ttl_s

    # -- opening ------------------------------------------------------------------------------

    def open(self, decision: Decision) -> ApprovalRequest:
        """The pending approval of an escalated call: the one already opened for this call id
        with the same call, or a new one. `ApprovalError` when the store has no room."""
        if decision.action is not Action.ESCALATE:
            raise ValueError(f"only an escalated call waits for approval, not a {decision.action}")
        request = ApprovalRequest(decision)
        if decision.call_id is not None:
            known = self.approvals.find(decision.caller, decision.session, decision.call_id)
            if known is not None and known.digest == request.digest:
                return ApprovalRequest(decision, approval_id=known.id, expires=known.expires)
        record = self.approvals.open(request, self.ttl_s, self._shown(request))
        return ApprovalRequest(decision, approval_id=record.id, expires=record.expires)

    def awaiting(self, decision: Decision) -> tuple[ApprovalRequest, bool]:
        """The approval a person is being asked about for this call id, and whether they were
        asked before now: the newest one still pending, whatever arguments it was opened with,
        or the call's own; else a new one (not asked before).

        For flows where the answer comes back without saying which question it answers (a
        LangGraph interrupt resumed with `True`): the answer belongs to the question that was
        asked, so a call whose arguments changed since is refused when `conclude` compares the
        two, and an answer that arrives for a question nobody was asked yet (the run resumed
        under another identity) must not be taken for one."""
        request = ApprovalRequest(decision)
        if decision.call_id is not None:
            known = self.approvals.find(decision.caller, decision.session, decision.call_id)
            if known is not None and (known.status == "pending" or known.digest == request.digest):
                return ApprovalRequest(decision, approval_id=known.id, expires=known.expires), True
        record = self.approvals.open(request, self.ttl_s, self._shown(request))
        return ApprovalRequest(decision, approval_id=record.id, expires=record.expires), False

    def _shown(self, request: ApprovalRequest) -> Mapping[str, Any]:
        decision = request.decision
        return {
            "args": _redacted(self.redact, decision.args),
            "original_args": _redacted(self.redact, decision.original_args),
            "rewritten": request.rewritten,
            "reasons": [r.to_dict() for r in decision.reasons],
            "rules": list(decision.rules),
            "call_id": decision.call_id,
        }

    # -- the configured approver --------------------------------------------------------------

    def settle(self, decision: Decision) -> Decision:
        """Ask the configured approver about an escalated decision; a failing approver, or a
        store that cannot take the request, is a denial; a state backend that fails is a block
        (reason kind `state`). Other actions pass through."""
        try:
            return self._settle(decision)
        except StateError as exc:
            return state_failed(decision, exc)

    def _settle(self, decision: Decision) -> Decision:
        if decision.action is not Action.ESCALATE:
            return decision
        try:
            request = self.open(decision)
        except ApprovalError as exc:
            return denied(decision, ApprovalAnswer(False, by="toolwall", note=str(exc)))
        if self._answered_before(request):
            # A hook that fires again for one call: its answer stands, nobody is asked twice.
            return self.conclude(request, decision)
        try:
            answer = self.approver.approve(request)
        except Exception as exc:
            logger.exception("toolwall: approver failed on decision %s", decision.id)
            answer = ApprovalAnswer(False, by="toolwall", note=f"approver failed: {exc}")
        return self.conclude(request, decision, answer)

    async def asettle(self, decision: Decision) -> Decision:
        """`settle` for async code: the event loop runs on while a person answers."""
        try:
            return await self._asettle(decision)
        except StateError as exc:
            return state_failed(decision, exc)

    async def _asettle(self, decision: Decision) -> Decision:
        if decision.action is not Action.ESCALATE:
            return decision
        try:
            request = await asyncio.to_thread(self.open, decision)
        except ApprovalError as exc:
            return denied(decision, ApprovalAnswer(False, by="toolwall", note=str(exc)))
        if await asyncio.to_thread(self._answered_before, request):
            return self.conclude(request, decision)
        try:
            aapprove = getattr(self.approver, "aapprove", None)
            if aapprove is not None:
                answer = await aapprove(request)
            else:
                answer = await asyncio.to_thread(self.approver.approve, request)
        except Exception as exc:
            logger.exception("toolwall: approver failed on decision %s", decision.id)
            answer = ApprovalAnswer(False, by="toolwall", note=f"approver failed: {exc}")
        return self.conclude(request, decision, answer)

    def _answered_before(self, request: ApprovalRequest) -> bool:
        assert request.approval_id is not None
        record = self.approvals.get(request.approval_id)
        return record is not None and record.status != "pending"

    # -- answers from elsewhere ---------------------------------------------------------------

    def conclude_call(self, decision: Decision, answer: ApprovalAnswer) -> Decision:
        """Settle a call whose answer came from outside the approver, by call id: the answer
        (a framework's human-in-the-loop, an interrupt) was given for the approval this call id
        opened, and releases `decision` only if it is that same call."""
        try:
            return self._conclude_call(decision, answer)
        except StateError as exc:
            return state_failed(decision, exc)

    def _conclude_call(self, decision: Decision, answer: ApprovalAnswer) -> Decision:
        if decision.call_id is None:
            return refused(decision, "a call without an id cannot be matched to its approval")
        record = self.approvals.find(decision.caller, decision.session, decision.call_id)
        if record is None:
            return refused(decision, "no approval was requested for this call")
        request = ApprovalRequest(decision, approval_id=record.id, expires=record.expires)
        return self.conclude(request, decision, answer)

    def conclude(
        self, request: ApprovalRequest, decision: Decision, answer: ApprovalAnswer | None = None
    ) -> Decision:
        """The decision as enforced once `request` is answered (see the module docstring).

        `decision` is the call about to run; it runs only if it is the call `request` was
        opened for. `answer` is stored unless the request was answered already, in which case
        the stored answer stands; None reads the stored answer. A state backend that fails
        blocks the call (reason kind `state`).
        """
        try:
            return self._conclude(request, decision, answer)
        except StateError as exc:
            return state_failed(decision, exc)

    def _conclude(
        self, request: ApprovalRequest, decision: Decision, answer: ApprovalAnswer | None
    ) -> Decision:
        assert request.approval_id is not None, "conclude needs an opened request"
        record = self._answered(request.approval_id, answer)
        if record is not None and record.consumed is not None:
            return refused(decision, f"approval {record.id} was already used")
        stands = self._audited(decision, answer_of(record, request.approval_id))
        if not stands.approved:
            return denied(decision, stands)
        try:
            self.approvals.consume(request.approval_id, ApprovalRequest(decision).digest)
        except ApprovalError as exc:
            return refused(decision, str(exc))
        # count() and called() rules see the approved call, as they see allowed ones. A state
        # that cannot count it (unreachable, or at a bound) stops the call: uncounted, it would
        # let a later call past a count() limit.
        try:
            self.sessions.record_call(
                decision.session, decision.tool, "approved", caller_key(decision.caller)
            )
        except StateError as exc:
            return state_failed(decision, exc)
        return approved(decision, stands)

    def _answered(self, approval_id: str, answer: ApprovalAnswer | None) -> ApprovalRecord | None:
        record = self.approvals.get(approval_id)
        if answer is None or record is None or record.status != "pending":
            return record
        try:
            return self.approvals.answer(approval_id, answer.approved, answer.by, answer.note)
        except ApprovalError:
            # Answered (or expired) in the instant since we looked: the stored state stands.
            return self.approvals.get(approval_id)

    def _audited(self, decision: Decision, answer: ApprovalAnswer) -> ApprovalAnswer:
        """Audit the answer; an approval the audit cannot record is a denial unless
        `[audit] on_failure = "allow"`. Returns the answer that stands."""
        record = getattr(self.audit, "record_approval", None)
        try:
            if record is not None:
                record(decision, decision.caller, answer)
        except Exception as exc:
            logger.error("toolwall: audit record for approval of %s failed: %s", decision.id, exc)
            if answer.approved and self.audit.on_failure != "allow":
                return ApprovalAnswer(
                    False,
                    by="toolwall",
                    note=f"the approval could not be audited: {exc}",
                    approval_id=answer.approval_id,
                )
        return answer


# -- the decision as enforced -------------------------------------------------------------------


def approved(decision: Decision, answer: ApprovalAnswer | None = None) -> Decision:
    """An approved escalation runs like the allow (or rewrite) it would otherwise have been."""
    action = Action.ALLOW if decision.args == decision.original_args else Action.REWRITE
    detail = ""
    if answer is not None:
        detail = (
            f"approved by {answer.by}: {answer.note}" if answer.note else f"approved by {answer.by}"
        )
    return replace(
        decision,
        action=action,
        trace=(*decision.trace, TraceEntry("approval", "approved", detail)),
    )


def denied(decision: Decision, answer: ApprovalAnswer) -> Decision:
    """The decision as enforced after a denial: the escalation becomes a block."""
    note = f": {answer.note}" if answer.note else ""
    return _blocked(decision, Reason(ReasonKind.APPROVAL, f"denied by {answer.by}{note}"), "denied")


def refused(decision: Decision, why: str) -> Decision:
    """The call has no usable approval."""
    return _blocked(decision, Reason(ReasonKind.APPROVAL, f"not approved: {why}"), "block")


def state_failed(decision: Decision, failure: StateError) -> Decision:
    """The state backend failed while settling: the call does not run."""
    return _blocked(decision, Reason(ReasonKind.STATE, str(failure)), "block")


def _blocked(decision: Decision, reason: Reason, outcome: str) -> Decision:
    return replace(
        decision,
        action=Action.BLOCK,
        reasons=(*decision.reasons, reason),
        trace=(*decision.trace, TraceEntry("approval", outcome, reason.message)),
    )


def _redacted(redact: Callable[[Any], Any], value: Any) -> Any:
    return redact(value) if value is not None else None

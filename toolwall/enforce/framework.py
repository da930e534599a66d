"""Settling an escalated decision in an adapter: approved once, or turned into a block.

Two ways an answer arrives. The framework's own human-in-the-loop flow (an Agents SDK
interruption, a Pydantic AI deferred request) tells the adapter that the call was approved;
`framework_approved` honours that once per call. Or the firewall's approver is asked in place;
`ask_approver` does that once per call and remembers the answer. Both return the decision as
enforced: `allow`/`rewrite` (it runs, with `decision.args`) or `block` with the reason.
"""

from __future__ import annotations

from toolwall.context import Identity
from toolwall.enforce.cache import DecisionCache
from toolwall.enforce.guard import caller_of, denied
from toolwall.firewall import Firewall
from toolwall.model import Action, ApprovalAnswer, Decision, Reason, ReasonKind, TraceEntry

USED = "its approval was denied or has already been used"
FRAMEWORK_APPROVAL = ApprovalAnswer(
    True, by="framework", note="approved in the framework's own human-in-the-loop flow"
)


def framework_approved(
    firewall: Firewall, cache: DecisionCache, decision: Decision, who: Identity, call_id: str
) -> Decision:
    """The framework reports an approval for `call_id`: the first use runs, later ones do not."""
    cache.set_approval(who.session, call_id, True)
    if cache.take_approval(who.session, call_id):
        # As `Firewall.request_approval` does for the approver path: the answer is audited and
        # count() and called() rules see the approved call; an unauditable approval is a denial.
        caller = caller_of(firewall, who.caller, who.token)
        answer = firewall.record_approval(decision, caller, FRAMEWORK_APPROVAL)
        return approved(decision) if answer.approved else denied(decision, answer)
    return refused(decision, USED)


async def ask_approver(
    firewall: Firewall, cache: DecisionCache, decision: Decision, who: Identity, call_id: str
) -> Decision:
    """Ask the firewall's approver once per call; a repeated invocation reuses (and uses up) it."""
    previous = cache.take_approval(who.session, call_id)
    if previous is not None:
        return approved(decision) if previous else refused(decision, USED)
    caller = caller_of(firewall, who.caller, who.token)
    answer = await firewall.arequest_approval(decision, caller)
    cache.set_approval(who.session, call_id, answer.approved)
    if answer.approved and cache.take_approval(who.session, call_id):
        return approved(decision)
    return denied(decision, answer)


def approved(decision: Decision) -> Decision:
    """An approved escalation runs like the allow (or rewrite) it would otherwise have been."""
    action = Action.ALLOW if decision.args == decision.original_args else Action.REWRITE
    return decision.model_copy(
        update={"action": action, "trace": [*decision.trace, TraceEntry("approval", "approved")]}
    )


def refused(decision: Decision, why: str) -> Decision:
    """The call has no usable approval."""
    return _blocked(decision, Reason(ReasonKind.APPROVAL, f"not approved: {why}"))


def _blocked(decision: Decision, reason: Reason) -> Decision:
    return decision.model_copy(
        update={
            "action": Action.BLOCK,
            "reasons": [*decision.reasons, reason],
            "trace": [*decision.trace, TraceEntry("approval", "block", reason.message)],
        }
    )

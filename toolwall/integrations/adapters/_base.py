"""What the Agents SDK guard and the Pydantic AI capability are built from.

Both put one firewall in front of a framework's tools with the same settings: how escalations
are answered, how tool names map to toolwall's, and where the identity comes from.
`FrameworkAdapter` holds those settings once, with the two steps both frameworks take: deciding a
call once per tool call id (their hooks fire more than once for one call) and settling an
escalation through the firewall's one settlement. Each adapter adds its framework's hooks and
reads the identity from its framework's run context.
"""

from __future__ import annotations

import logging
from typing import Literal

from toolwall.context import Identity
from toolwall.enforce.settle import refused
from toolwall.firewall import Firewall
from toolwall.integrations.adapters._context import IdentitySource, ToolNames, name_mapper
from toolwall.model import ApprovalAnswer, Decision, ToolCall
from toolwall.state.base import ApprovalError

logger = logging.getLogger("toolwall")

FRAMEWORK_APPROVAL = ApprovalAnswer(
    True, by="framework", note="approved in the framework's own human-in-the-loop flow"
)

Approvals = Literal["framework", "approver"]
"""Who answers an escalation: the framework's own human-in-the-loop flow, or the firewall's
approver, asked inside the tool hook."""


class FrameworkAdapter:
    """The settings shared by `ToolwallGuard` and `ToolwallCapability` (see their docstrings).

    It is listed first among an adapter's bases, so that its `__init__` is the one that runs.
    """

    def __init__(
        self,
        firewall: Firewall,
        *,
        names: ToolNames = None,
        approvals: Approvals = "framework",
        identity: IdentitySource | None = None,
    ) -> None:
        if approvals not in ("framework", "approver"):
            raise ValueError(f'approvals must be "framework" or "approver", not {approvals!r}')
        self.firewall = firewall
        self.approvals: Approvals = approvals
        self._name = name_mapper(names)
        self._identity = identity

    def decide(self, call: ToolCall, who: Identity) -> Decision:
        """The decision for one tool call, made once per call id (see `Firewall.decide_once`)."""
        return self.firewall.decide_once(
            call, caller=who.caller, token=who.token, session=who.session
        )

    def decided(self, call_id: str, who: Identity) -> Decision | None:
        """The decision made for `call_id` under this identity, if any."""
        return self.firewall.decided(
            call_id, caller=who.caller, token=who.token, session=who.session
        )

    def hold(self, decision: Decision) -> None:
        """The framework is about to ask its human about an escalated call: open the call's
        approval now, so the framework's answer is bound to the call the human was shown."""
        try:
            self.firewall.settlement.open(decision)
        except ApprovalError as exc:
            # Nothing to bind an answer to: the call is refused when the answer comes back.
            logger.warning("toolwall: cannot hold %s for approval: %s", decision.id, exc)

    async def settle(self, decision: Decision, framework_approved: bool) -> Decision:
        """An escalated decision as enforced: by the firewall's approver, or by the framework's
        own answer for this call id (usable once, for the very call that was held)."""
        if self.approvals == "approver":
            return await self.firewall.asettle(decision)
        if not framework_approved:
            return refused(decision, "the run holds no approval for this call")
        return self.firewall.settlement.conclude_call(decision, FRAMEWORK_APPROVAL)

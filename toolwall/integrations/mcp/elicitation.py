"""Escalations the MCP client answers, through elicitation: the gateway asks the client's user
("alice wants to run git.push ... Approve?") in both protocol eras.

- Handshake era: an `elicitation/create` request inside the `tools/call`.
- 2026-07-28: the `tools/call` returns an `InputRequiredResult` whose `request_state` is a
  secret; the client calls again with the answer and that state. The answer is taken only with
  the same call and from the same identity, once, before it expires.

Either way the answer goes to the firewall's settlement like any approver's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from toolwall.canonical import args_digest, canonical_json
from toolwall.enforce.settle import denied
from toolwall.firewall import Firewall
from toolwall.integrations.mcp.catalog import CatalogTool
from toolwall.model import ApprovalAnswer, ApprovalRequest, Caller, Decision
from toolwall.state.base import ApprovalError

logger = logging.getLogger("toolwall.mcp")

APPROVAL_KEY = "toolwall_approval"
MAX_PENDING = 1024

APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approve": {
            "type": "boolean",
            "title": "Approve this tool call",
            "description": "Yes runs the call exactly as shown; no refuses it.",
        }
    },
    "required": ["approve"],
}


@dataclass(frozen=True, slots=True)
class _Pending:
    """An escalated call waiting for the client's answer (the 2026-07-28 input-required round):
    its approval, and what the answer must come with (the same identity and the same call)."""

    request: ApprovalRequest
    entry: CatalogTool | None
    identity: str
    call_digest: str
    expires: float


class Elicitation:
    """The client-answered escalations of one gateway (see the module docstring)."""

    def __init__(self, firewall: Callable[[], Firewall], *, enabled: bool, timeout_s: float):
        self.firewall = firewall
        self.enabled = enabled
        self.timeout_s = timeout_s
        self._pending: dict[str, _Pending] = {}

    async def ask(
        self,
        ctx: ServerRequestContext[Any, Any],
        decision: Decision,
        entry: CatalogTool | None,
        token: str | None,
        params: types.CallToolRequestParams,
    ) -> Decision | types.InputRequiredResult:
        """The escalated call as enforced, or the question that asks the client to answer it."""
        settlement = self.firewall().settlement
        if not (self.enabled and can_elicit(ctx)):
            return await settlement.asettle(decision)
        try:
            request = settlement.open(decision)
        except ApprovalError as exc:
            return denied(decision, ApprovalAnswer(False, by="toolwall", note=str(exc)))
        question = _approval_question(decision)
        if ctx.session.can_send_request:
            # Handshake era: ask inside this request.
            try:
                with anyio.fail_after(self.timeout_s):
                    result = await ctx.session.elicit_form(
                        question.message,
                        question.requested_schema,
                        related_request_id=ctx.request_id,
                    )
            except TimeoutError:
                answer = ApprovalAnswer(
                    False, by="toolwall", note=f"no answer within {self.timeout_s:g} s"
                )
            except Exception as exc:
                logger.warning("toolwall: elicitation failed: %s", exc)
                answer = ApprovalAnswer(False, by="toolwall", note=f"elicitation failed: {exc}")
            else:
                answer = _answer_from(result, decision.caller)
            return settlement.conclude(request, decision, answer)
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            # 2026-07-28: return the question; the client calls again with the answer.
            self._expire()
            state = secrets.token_urlsafe(32)
            self._pending[state] = _Pending(
                request=request,
                entry=entry,
                identity=identity_key(token, decision.caller),
                call_digest=args_digest([params.name, params.arguments or {}]),
                expires=time.monotonic() + self.timeout_s,
            )
            return types.InputRequiredResult(
                input_requests={APPROVAL_KEY: types.ElicitRequest(params=question)},
                request_state=state,
            )
        return await settlement.asettle(decision)

    async def resume(
        self,
        params: types.CallToolRequestParams,
        token: str | None,
        caller: Caller,
    ) -> tuple[Decision, CatalogTool | None] | str:
        """The answered call as enforced and its catalog entry, or why there is nothing to
        resume (an unknown, used or expired `request_state`)."""
        self._expire()
        pending = self._pending.pop(params.request_state or "", None)
        if pending is None:
            return "toolwall: this approval request is unknown or expired; call the tool again"
        request = pending.request
        settlement = self.firewall().settlement
        same_call = pending.call_digest == args_digest([params.name, params.arguments or {}])
        if not same_call or pending.identity != identity_key(token, caller):
            answer = ApprovalAnswer(
                False, by="toolwall", note="the answer was sent for another call or caller"
            )
        else:
            response = (params.input_responses or {}).get(APPROVAL_KEY)
            if isinstance(response, types.ElicitResult):
                answer = _answer_from(response, caller)
            else:
                answer = ApprovalAnswer(
                    False, by="toolwall", note="no answer to the approval request"
                )
        return settlement.conclude(request, request.decision, answer), pending.entry

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, p in self._pending.items() if p.expires < now]:
            del self._pending[key]
        while len(self._pending) >= MAX_PENDING:
            self._pending.pop(next(iter(self._pending)))


def can_elicit(ctx: ServerRequestContext[Any, Any]) -> bool:
    caps = ctx.session.client_capabilities
    if caps is None or caps.elicitation is None:
        return False
    # An empty elicitation capability means form mode (the only mode before URL mode existed).
    return caps.elicitation.form is not None or caps.elicitation.url is None


def _approval_question(decision: Decision) -> types.ElicitRequestFormParams:
    args = json.dumps(decision.args, ensure_ascii=False, sort_keys=True)
    changed = ""
    if decision.original_args is not None and decision.original_args != decision.args:
        changed = " (arguments rewritten by policy)"
    message = (
        f"toolwall: {decision.caller.sub or 'an anonymous caller'} wants to run {decision.tool} "
        f"with {args}{changed}. It needs approval because: {decision.reason}. Approve?"
    )
    return types.ElicitRequestFormParams(message=message, requested_schema=APPROVAL_SCHEMA)


def _answer_from(result: types.ElicitResult, caller: Caller) -> ApprovalAnswer:
    by = f"mcp-user:{caller.sub or 'anonymous'}"
    if result.action != "accept":
        return ApprovalAnswer(False, by=by, note=f"the user chose {result.action}")
    content = result.content or {}
    if content.get("approve") is True:
        return ApprovalAnswer(True, by=by, note="approved through MCP elicitation")
    return ApprovalAnswer(False, by=by, note="the user answered no")


def identity_key(token: str | None, caller: Caller) -> str:
    if token is not None:
        return "token:" + hashlib.sha256(token.encode("utf-8")).hexdigest()
    return "caller:" + canonical_json([caller.sub, caller.iss])

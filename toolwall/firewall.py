"""`Firewall`: the one object an application holds.

It puts the parts together and hands each job to the part that does it:

- deciding a call: the stage pipeline (`toolwall.pipeline.decide`);
- remembering sessions, approvals and decisions by call id: the state stores (`toolwall.state`);
- settling escalations: the settlement (`toolwall.enforce.settle`);
- running guarded Python functions: `toolwall.enforce.guard`.

Integrations (provider formats, framework adapters, the MCP gateway, the service) use the same
firewall, so every path decides, settles and records results the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

import toolwall.context as _context
from toolwall.audit.log import AuditLog, AuditSink
from toolwall.canonical import args_digest
from toolwall.config import Config, Limits
from toolwall.enforce import guard as _guard
from toolwall.enforce.approvers import Approver, DenyAll
from toolwall.enforce.settle import DEFAULT_TTL_S, Settlement
from toolwall.model import Caller, CallLike, Decision, SessionView, ToolCall
from toolwall.pipeline.decide import Pipeline, unpack
from toolwall.pipeline.identify import TokenVerifier
from toolwall.pipeline.rules import NoRules, RuleEngine
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state.base import State, StateError, caller_key
from toolwall.state.memory import memory_state

logger = logging.getLogger("toolwall")

R = TypeVar("R")

__all__ = ["CallLike", "Firewall"]


class Firewall:
    """Decides, for every proposed tool call, whether it runs.

    Build one with `Firewall.from_config("toolwall.toml")`, or from parts for library use:
    `Firewall(schemas=SchemaRegistry.from_dict({...}), rules=...)`. Without `state` it keeps
    sessions, approvals and decisions in memory; an approver that answers from a store of its
    own (`QueueApprover`, `SQLiteQueue`) brings that store for the approvals.
    """

    def __init__(
        self,
        *,
        schemas: SchemaRegistry | None = None,
        rules: RuleEngine | None = None,
        limits: Limits | None = None,
        unknown_tool: Literal["block", "allow"] = "block",
        identity: TokenVerifier | None = None,
        audit: AuditSink | None = None,
        approver: Approver | None = None,
        state: State | None = None,
        approval_ttl_s: float = DEFAULT_TTL_S,
        config: Config | None = None,
    ) -> None:
        audit_sink: AuditSink = audit if audit is not None else AuditLog()
        the_approver: Approver = approver if approver is not None else DenyAll()
        if state is None:
            state = memory_state(getattr(the_approver, "store", None))
        self.state = state
        self.config = config
        self.pipeline = Pipeline(
            schemas=schemas if schemas is not None else SchemaRegistry(),
            rules=rules if rules is not None else NoRules(),
            limits=limits or Limits(),
            unknown_tool=unknown_tool,
            identity=identity,
            audit=audit_sink,
            sessions=state.sessions,
        )
        self.settlement = Settlement(
            approver=the_approver,
            approvals=state.approvals,
            sessions=state.sessions,
            audit=audit_sink,
            redact=getattr(audit_sink, "redact", _unredacted),
            ttl_s=approval_ttl_s,
        )

    @classmethod
    def from_config(cls, config: str | Path | Config | None = None, **parts: Any) -> Firewall:
        """Load `toolwall.toml` (default: `./toolwall.toml`) and everything it points to.

        Keyword arguments override the parts built from the file (for example `approver=`).
        Raises `ConfigError`, `SchemaLoadError` or `PolicyError` naming what is wrong.
        """
        from toolwall.loader import build_parts

        cfg = config if isinstance(config, Config) else Config.load(config)
        return cls(config=cfg, **build_parts(cfg, overrides=parts))

    # -- the parts, as the pipeline uses them -------------------------------------------------

    @property
    def schemas(self) -> SchemaRegistry:
        return self.pipeline.schemas

    @property
    def rules(self) -> RuleEngine:
        return self.pipeline.rules

    @property
    def limits(self) -> Limits:
        return self.pipeline.limits

    @property
    def unknown_tool(self) -> Literal["block", "allow"]:
        return self.pipeline.unknown_tool

    @property
    def identity(self) -> TokenVerifier | None:
        return self.pipeline.identity

    @property
    def audit(self) -> AuditSink:
        return self.pipeline.audit

    @property
    def approver(self) -> Approver:
        return self.settlement.approver

    # -- deciding -----------------------------------------------------------------------------

    def decide(
        self,
        call: CallLike,
        caller: Caller | None = None,
        token: str | None = None,
        session: str | None = None,
    ) -> Decision:
        """Decide one call. Never raises for a bad call: problems become `block` decisions.

        `caller` (built by the application) or `token` (a JWT for `[identity]`) says who asks;
        `session` defaults to the token's session claim.
        """
        return self.pipeline.decide(call, caller=caller, token=token, session=session)

    async def adecide(
        self,
        call: CallLike,
        caller: Caller | None = None,
        token: str | None = None,
        session: str | None = None,
    ) -> Decision:
        """`decide` for async code: deciding is CPU-bound and short, so it runs inline."""
        return self.pipeline.decide(call, caller=caller, token=token, session=session)

    def decide_once(
        self,
        call: ToolCall,
        caller: Caller | None = None,
        token: str | None = None,
        session: str | None = None,
    ) -> Decision:
        """The decision for `call`, made once per (caller, session, call id) and the same call.

        For framework hooks that run twice for one call (an approval check and then the
        invocation; a graph node re-run after an interrupt): the second run gets the first
        decision, so the call is decided and audited once. A call without an id is decided every
        time; an id reused with other arguments is decided afresh (and audited): an id is never
        a way to reuse a decision.
        """
        if call.id is None:
            return self.decide(call, caller=caller, token=token, session=session)
        who, _ = self.pipeline.identify(caller, token)
        key = (caller_key(who), session if session is not None else who.session, call.id)
        digest = args_digest([call.tool, call.args])
        # A decision store that fails is a cache miss: the call is decided (and audited) again,
        # which is never more permissive; the turn then meets the state's failure itself.
        try:
            decision = self.state.decisions.get(key, digest)
        except StateError as exc:
            logger.warning("toolwall: decision by call id unavailable: %s", exc)
            decision = None
        if decision is None:
            decision = self.decide(call, caller=caller, token=token, session=session)
            try:
                self.state.decisions.put(key, digest, decision)
            except StateError as exc:
                logger.warning("toolwall: decision by call id not stored: %s", exc)
        return decision

    def decided(
        self,
        call_id: str,
        caller: Caller | None = None,
        token: str | None = None,
        session: str | None = None,
    ) -> Decision | None:
        """The last decision made by `decide_once` for this caller's `call_id` in `session`."""
        who, _ = self.pipeline.identify(caller, token)
        key = (caller_key(who), session if session is not None else who.session, call_id)
        try:
            return self.state.decisions.latest(key)
        except StateError as exc:
            logger.warning("toolwall: decision by call id unavailable: %s", exc)
            return None

    # -- escalations --------------------------------------------------------------------------

    def settle(self, decision: Decision) -> Decision:
        """The decision as enforced: an escalation asks the configured approver and becomes an
        allow/rewrite (approved, once) or a block (denied); other actions pass through."""
        return self.settlement.settle(decision)

    async def asettle(self, decision: Decision) -> Decision:
        """`settle` for async code: the event loop runs on while a person answers."""
        return await self.settlement.asettle(decision)

    # -- after the call -----------------------------------------------------------------------

    def session(self, session_id: str | None) -> SessionView:
        """The session as the rules see it for `session_id`."""
        return self.state.sessions.view(session_id)

    def record_result(
        self,
        call: CallLike | Decision,
        result: Any,
        session: str | None = None,
        caller: Caller | None = None,
    ) -> bool:
        """Tell the firewall what a tool returned; taints the session if the tool is a taint
        source. Given the call's `Decision`, the result is recorded under the caller and session
        it was decided for.

        The result is audited as its SHA-256 and size. The tool has already run, so an audit
        failure here is logged, not raised. Returns whether the session is tainted afterwards.
        """
        if isinstance(call, Decision):
            tool: Any = call.tool
            call_id = call.call_id
            caller = call.caller
            session_id = call.session
        else:
            tool, _, call_id = unpack(call)
            session_id = session if session is not None else (caller.session if caller else None)
        taints = isinstance(tool, str) and self.rules.taints(tool)
        sessions = self.state.sessions
        tainted = sessions.taint(session_id, tool) if taints else sessions.view(session_id).tainted
        audit_result = getattr(self.audit, "record_result", None)
        try:
            if audit_result is not None:
                audit_result(
                    tool if isinstance(tool, str) else repr(tool),
                    result,
                    caller=caller or Caller.anonymous(),
                    session=session_id,
                    call_id=call_id,
                    tainted=taints,
                )
        except Exception as exc:
            logger.error("toolwall: audit record for a result of %s failed: %s", tool, exc)
        return tainted

    # -- enforcement for plain Python (toolwall.enforce.guard) --------------------------------

    def run(
        self,
        call: CallLike,
        executor: Callable[..., R],
        caller: Caller | None = None,
        token: str | None = None,
        session: str | None = None,
        on_block: _guard.OnBlock = "raise",
    ) -> R | str:
        """Decide `call` and, if it may run, call `executor(**args)` with the final arguments."""
        result: R | str = _guard.run(self, call, executor, caller, token, session, on_block)
        return result

    async def arun(
        self,
        call: CallLike,
        executor: Callable[..., Any],
        caller: Caller | None = None,
        token: str | None = None,
        session: str | None = None,
        on_block: _guard.OnBlock = "raise",
    ) -> Any:
        """`run` for async code; `executor` may be sync or async."""
        return await _guard.arun(self, call, executor, caller, token, session, on_block)

    def guard(
        self, tool: str | None = None, *, on_block: _guard.OnBlock = "raise"
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: every call of the function goes through the firewall first.

        The caller and session come from `Firewall.acting_as(...)`, never from the arguments.
        """
        return _guard.guard(self, tool, on_block)

    @contextmanager
    def acting_as(
        self,
        caller: Caller | None = None,
        token: str | None = None,
        session: str | None = None,
    ) -> Iterator[None]:
        """Set the identity and session that guarded functions run under, for this context."""
        with _context.identity(caller=caller, token=token, session=session):
            yield


def _unredacted(value: Any) -> Any:
    return value

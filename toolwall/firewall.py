"""The firewall: the decision pipeline of the design, stage by stage.

    normalize -> identify -> authorize -> validate -> rules -> re-validate -> audit

Each stage either passes the call on or ends the pipeline with a `block`. Any exception inside
ends it with `block` and reason `internal error`, so `decide` never raises for a bad call and
never lets one through by accident. Enforcement (running the tool, asking an approver) lives in
`toolwall.enforce.guard`; the rule language in `toolwall.policy`, behind the `RuleEngine` interface.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from toolwall import context as _context
from toolwall.audit.log import AuditLog, AuditSink
from toolwall.config import Config, Limits
from toolwall.enforce.approvers import Approver, DenyAll
from toolwall.errors import InputRejected
from toolwall.model import (
    Action,
    ApprovalAnswer,
    ApprovalRequest,
    Caller,
    Decision,
    Reason,
    ReasonKind,
    ToolCall,
    TraceEntry,
    new_decision,
)
from toolwall.patterns import check_tool_name, covered
from toolwall.pipeline.normalize import checked_arguments, parse_arguments
from toolwall.pipeline.rules import NoRules, RuleEngine
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state.sessions import SessionState, SessionStore

if TYPE_CHECKING:
    from toolwall.enforce.guard import OnBlock

logger = logging.getLogger("toolwall")

R = TypeVar("R")
CallLike = ToolCall | Mapping[str, Any]


class TokenVerifier(Protocol):
    """Turns a bearer token into a `Caller` (see `toolwall.identity.verifier`)."""

    def caller_for(self, token: str) -> tuple[Caller, Reason | None]:
        """The verified caller, or the anonymous caller and the reason the token was refused."""
        ...


# Trace entries are frozen, so the ones that never vary are built once.
_NORMALIZE_OK = TraceEntry("normalize", "ok")
_AUTHORIZE_OK = TraceEntry("authorize", "ok")
_VALIDATE_OK = TraceEntry("validate", "ok")


@functools.lru_cache(maxsize=4096)
def _identified(sub: str) -> TraceEntry:
    """The identify stage's entry for an identified caller, shared (entries are frozen): a new
    one per call cost ~2 µs, a tenth of a decision."""
    return TraceEntry("identify", "ok", sub)


class _Stop(Exception):
    """Ends the pipeline early with a block; carries the reasons."""

    def __init__(self, reason: Reason, stage: str, *more: Reason) -> None:
        self.reasons = [reason, *more]
        self.stage = stage


class Firewall:
    """Decides, for every proposed tool call, whether it runs.

    Build one with `Firewall.from_config("toolwall.toml")`, or from parts for library use:
    `Firewall(schemas=SchemaRegistry.from_dict({...}), rules=...)`.
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
        sessions: SessionStore | None = None,
        config: Config | None = None,
    ) -> None:
        self.schemas = schemas if schemas is not None else SchemaRegistry()
        self.rules: RuleEngine = rules if rules is not None else NoRules()
        self.limits = limits or Limits()
        self.unknown_tool = unknown_tool
        self.identity = identity
        self.audit: AuditSink = audit if audit is not None else AuditLog()
        self.approver: Approver = approver if approver is not None else DenyAll()
        self.sessions = sessions if sessions is not None else SessionStore()
        self.config = config
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex() + "-"

    @classmethod
    def from_config(cls, config: str | Path | Config | None = None, **parts: Any) -> Firewall:
        """Load `toolwall.toml` (default: `./toolwall.toml`) and everything it points to.

        Keyword arguments override the parts built from the file (for example `approver=`).
        Raises `ConfigError`, `SchemaLoadError` or `PolicyError` naming what is wrong.
        """
        from toolwall.loader import build_parts

        cfg = config if isinstance(config, Config) else Config.load(config)
        built = build_parts(cfg)
        built.update(parts)
        return cls(config=cfg, **built)

    # -- the pipeline ---------------------------------------------------------------------------

    def decide(
        self,
        call: CallLike,
        caller: Caller | None = None,
        token: str | None = None,
        session: str | None = None,
    ) -> Decision:
        """Decide one call. Never raises for a bad call: problems become `block` decisions."""
        started = time.perf_counter()
        trace: list[TraceEntry] = []
        tool = "?"
        call_id: str | None = None
        args: dict[str, Any] | None = None
        who = Caller.anonymous()
        session_id = session
        try:
            # Identify before normalizing, so that even a malformed call is attributed to its
            # caller and session in the audit; the identity never depends on the call.
            who, identity_reason = self._identify(caller, token)
            if session_id is None:
                session_id = who.session
            tool, raw_args, call_id = _unpack(call)
            try:
                tool = check_tool_name(tool)
                args, plain = self._normalize(raw_args)
            except InputRejected as exc:
                raise _Stop(
                    Reason(ReasonKind.STRICT_INPUT, exc.message, location=exc.path), "normalize"
                ) from None
            trace.append(_NORMALIZE_OK)
            trace.append(
                _identified(who.sub or "")
                if identity_reason is None
                else TraceEntry("identify", "refused", identity_reason.message)
            )
            if not covered(who.tools, tool):
                not_granted = Reason(
                    ReasonKind.NOT_GRANTED,
                    f"{who.sub or 'the anonymous caller'} is not granted {tool}",
                )
                if identity_reason is not None:
                    raise _Stop(identity_reason, "authorize", not_granted)
                raise _Stop(not_granted, "authorize")
            trace.append(_AUTHORIZE_OK)

            self._validate(tool, args, "validate", trace, plain=plain)

            state = self.sessions.get(session_id)
            verdict = self.rules.evaluate(tool, args, who, state)
            trace.extend(verdict.trace)
            action = verdict.action
            final_args = args
            # Rewrites also apply to an escalated call: the approver sees what would run.
            if verdict.args is not None and action is not Action.BLOCK:
                final_args = verdict.args
                self._validate(tool, final_args, "revalidate", trace, rewritten=True)
            decision = self._decision(
                action,
                tool,
                final_args,
                args,
                list(verdict.reasons),
                list(verdict.fired),
                trace,
                started,
                call_id,
                who,
                session_id,
            )
        except _Stop as stop:
            trace.append(TraceEntry(stop.stage, "block", stop.reasons[-1].message))
            decision = self._decision(
                Action.BLOCK,
                tool,
                args,
                args,
                stop.reasons,
                [],
                trace,
                started,
                call_id,
                who,
                session_id,
            )
            state = None
        except Exception as exc:  # fail closed: whatever broke, the call does not run
            logger.exception("toolwall: internal error while deciding a call to %s", tool)
            reason = Reason(ReasonKind.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
            trace.append(TraceEntry("internal", "block", reason.message))
            decision = self._decision(
                Action.BLOCK,
                tool if isinstance(tool, str) else "?",
                args,
                args,
                [reason],
                [],
                trace,
                started,
                call_id,
                who,
                session_id,
            )
            state = None
        decision = self._audit(decision, who)
        # A call without a session had a state of its own, which nothing will read again.
        if state is not None and session_id is not None and decision.action.runs:
            state.record_call(decision.tool, decision.action.value)
        return decision

    async def adecide(
        self,
        call: CallLike,
        caller: Caller | None = None,
        token: str | None = None,
        session: str | None = None,
    ) -> Decision:
        """`decide` for async code: deciding is CPU-bound and short, so it runs inline."""
        return self.decide(call, caller=caller, token=token, session=session)

    def _normalize(self, raw_args: Any) -> tuple[dict[str, Any], bool]:
        """The checked arguments, and whether they hold exact JSON types only (parsed text
        always does) so that schema validation may take its compiled fast path."""
        if isinstance(raw_args, str | bytes):
            return parse_arguments(raw_args, self.limits), True
        return checked_arguments(raw_args, self.limits)

    def _identify(self, caller: Caller | None, token: str | None) -> tuple[Caller, Reason | None]:
        if caller is not None and token is not None:
            return Caller.anonymous(), Reason(
                ReasonKind.IDENTITY, "both a caller and a token were given; pass one"
            )
        if caller is not None:
            return caller, None
        if token is None:
            return Caller.anonymous(), None
        if self.identity is None:
            return Caller.anonymous(), Reason(
                ReasonKind.IDENTITY,
                "a token was given but no [identity] is configured to verify it",
            )
        return self.identity.caller_for(token)

    def _validate(
        self,
        tool: str,
        args: dict[str, Any],
        stage: str,
        trace: list[TraceEntry],
        rewritten: bool = False,
        plain: bool = False,
    ) -> None:
        schema = self.schemas.get(tool)
        if schema is None:
            if self.unknown_tool == "allow":
                trace.append(TraceEntry(stage, "ok", "no schema; unknown_tool = allow"))
                return
            raise _Stop(
                Reason(ReasonKind.UNKNOWN_TOOL, f"unknown tool {tool}: it has no schema"), stage
            )
        violation = schema.violation(args, plain=plain)
        if violation is not None:
            if rewritten:
                raise _Stop(
                    Reason(
                        ReasonKind.REWRITE_INVALID,
                        f"rewritten arguments do not satisfy the schema of {tool}: {violation}",
                        location=violation.json_path,
                    ),
                    stage,
                )
            raise _Stop(
                Reason(
                    ReasonKind.SCHEMA,
                    f"arguments do not satisfy the schema of {tool}: {violation}",
                    location=violation.json_path,
                ),
                stage,
            )
        trace.append(_VALIDATE_OK if stage == "validate" else TraceEntry(stage, "ok"))

    def _decision(
        self,
        action: Action,
        tool: str,
        args: dict[str, Any] | None,
        original: dict[str, Any] | None,
        reasons: list[Reason],
        rules: list[str],
        trace: list[TraceEntry],
        started: float,
        call_id: str | None,
        caller: Caller,
        session: str | None,
    ) -> Decision:
        return new_decision(
            f"{self._id_prefix}{next(self._ids):x}",
            action,
            tool,
            args,
            original,
            reasons,
            rules,
            trace,
            (time.perf_counter() - started) * 1e6,
            call_id,
            caller.sub,
            session,
        )

    def _audit(self, decision: Decision, caller: Caller) -> Decision:
        try:
            self.audit.record_decision(decision, caller)
            return decision
        except Exception as exc:
            logger.error("toolwall: audit record for decision %s failed: %s", decision.id, exc)
            if self.audit.on_failure == "allow" or decision.action is Action.BLOCK:
                return decision
            reason = Reason(ReasonKind.AUDIT, f"the audit record could not be written: {exc}")
            return decision.model_copy(
                update={
                    "action": Action.BLOCK,
                    "reasons": [*decision.reasons, reason],
                    "trace": [*decision.trace, TraceEntry("audit", "block", reason.message)],
                }
            )

    # -- after the decision ---------------------------------------------------------------------

    def session(self, session_id: str | None) -> SessionState:
        """The state the rules see for `session_id`."""
        return self.sessions.get(session_id)

    def record_result(
        self,
        call: CallLike,
        result: Any,
        session: str | None = None,
        caller: Caller | None = None,
    ) -> bool:
        """Tell the firewall what a tool returned; taints the session if the tool is a taint source.

        The result is audited as its SHA-256 and size. The tool has already run, so an audit
        failure here is logged, not raised; the next decision's audit record fails closed.
        Returns whether the session is tainted afterwards.
        """
        tool, _, call_id = _unpack(call)
        session_id = session if session is not None else (caller.session if caller else None)
        state = self.sessions.get(session_id)
        taints = isinstance(tool, str) and self.rules.taints(tool)
        if taints:
            state.taint(tool)
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
        return state.tainted

    def request_approval(self, decision: Decision, caller: Caller) -> ApprovalAnswer:
        """Ask the approver about an escalated decision; a failing approver is a denial."""
        try:
            answer = self.approver.approve(ApprovalRequest(decision=decision, caller=caller))
        except Exception as exc:
            logger.exception("toolwall: approver failed on decision %s", decision.id)
            answer = ApprovalAnswer(False, by="toolwall", note=f"approver failed: {exc}")
        return self.record_approval(decision, caller, answer)

    async def arequest_approval(self, decision: Decision, caller: Caller) -> ApprovalAnswer:
        """`request_approval` for async code: the event loop runs on while a human answers."""
        request = ApprovalRequest(decision=decision, caller=caller)
        try:
            aapprove = getattr(self.approver, "aapprove", None)
            if aapprove is not None:
                answer = await aapprove(request)
            else:
                import asyncio

                answer = await asyncio.to_thread(self.approver.approve, request)
        except Exception as exc:
            logger.exception("toolwall: approver failed on decision %s", decision.id)
            answer = ApprovalAnswer(False, by="toolwall", note=f"approver failed: {exc}")
        return self.record_approval(decision, caller, answer)

    def record_approval(
        self, decision: Decision, caller: Caller, answer: ApprovalAnswer
    ) -> ApprovalAnswer:
        """Audit the answer to an escalated call and count an approved call in its session.

        For integrations whose framework asks the human itself (a LangGraph interrupt): it
        counts like an approver's answer. An approval that cannot be audited becomes a denial
        unless `[audit] on_failure = "allow"`. Returns the answer that stands.
        """
        audit_approval = getattr(self.audit, "record_approval", None)
        try:
            if audit_approval is not None:
                audit_approval(decision, caller, answer)
        except Exception as exc:
            logger.error("toolwall: audit record for approval of %s failed: %s", decision.id, exc)
            if answer.approved and self.audit.on_failure != "allow":
                answer = ApprovalAnswer(
                    False,
                    by="toolwall",
                    note=f"the approval could not be audited: {exc}",
                    approval_id=answer.approval_id,
                )
        if answer.approved:
            self.sessions.get(decision.session).record_call(decision.tool, "approved")
        return answer

    # -- enforcement (see toolwall.enforce.guard) ------------------------------------------------

    def run(
        self,
        call: CallLike,
        executor: Callable[..., R],
        caller: Caller | None = None,
        token: str | None = None,
        session: str | None = None,
        on_block: OnBlock = "raise",
    ) -> R | str:
        """Decide `call` and, if it may run, call `executor(**args)` with the final arguments."""
        from toolwall.enforce.guard import run

        result: R | str = run(self, call, executor, caller, token, session, on_block)
        return result

    async def arun(
        self,
        call: CallLike,
        executor: Callable[..., Any],
        caller: Caller | None = None,
        token: str | None = None,
        session: str | None = None,
        on_block: OnBlock = "raise",
    ) -> Any:
        """`run` for async code; `executor` may be sync or async."""
        from toolwall.enforce.guard import arun

        return await arun(self, call, executor, caller, token, session, on_block)

    def guard(
        self, tool: str | None = None, *, on_block: OnBlock = "raise"
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: every call of the function goes through the firewall first.

        The caller and session come from `Firewall.acting_as(...)`, never from the arguments.
        """
        from toolwall.enforce.guard import guard

        return guard(self, tool, on_block)

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


def _unpack(call: CallLike) -> tuple[Any, Any, str | None]:
    """(tool, raw args, call id) of a `ToolCall` or a plain mapping."""
    if isinstance(call, ToolCall):
        return call.tool, call.args, call.id
    if isinstance(call, Mapping):
        tool = call.get("tool", call.get("name"))
        args = call.get("args", call.get("arguments", {}))
        call_id = call.get("id")
        return tool, args, call_id if isinstance(call_id, str) else None
    raise TypeError(f"a call must be a ToolCall or a mapping, not {type(call).__name__}")

"""The decision pipeline of the design, stage by stage:

    identify -> normalize -> authorize -> validate -> rules -> re-validate -> audit

Each stage is its own module and either passes the call on or ends the pipeline with a `block`
and its reason. Any exception inside ends it with `block` and reason `internal error`, so
`decide` never raises for a bad call and never lets one through by accident. The rules stage
reads the session in a turn of the session store (`toolwall.state`): the view the rules see and
the recording of the call are one atomic step, so a `count()` limit holds under concurrency.
The turn is told what the tool's rules will read (`SessionNeeds`), so a remote backend serves it
in one round trip; it ends before the audit record is written, so a state that cannot record
the call turns the decision into a block (reason kind `state`) that the audit sees. A state
that cannot serve the turn at all blocks the call the same way.

Identify runs before normalize, so that even a malformed call is attributed to its caller and
session in the audit; the identity never depends on the call.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from toolwall.audit.log import AuditSink
from toolwall.config import Limits
from toolwall.errors import InputRejected
from toolwall.model import (
    READS_SESSION,
    Action,
    Caller,
    CallLike,
    Decision,
    Reason,
    ReasonKind,
    SessionNeeds,
    ToolCall,
    TraceEntry,
)
from toolwall.patterns import check_tool_name
from toolwall.pipeline.authorize import not_granted
from toolwall.pipeline.identify import TokenVerifier, identify
from toolwall.pipeline.normalize import checked_arguments, parse_arguments
from toolwall.pipeline.rules import RuleEngine
from toolwall.pipeline.validate import UnknownTool, invalid
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state.base import SessionStore, SessionTurn, StateError, caller_key

logger = logging.getLogger("toolwall")

# Trace entries are frozen, so the ones that never vary are built once.
_NORMALIZE_OK = TraceEntry("normalize", "ok")
_AUTHORIZE_OK = TraceEntry("authorize", "ok")
_VALIDATE_OK = TraceEntry("validate", "ok")
_REVALIDATE_OK = TraceEntry("revalidate", "ok")
_NO_SCHEMA = {
    "validate": TraceEntry("validate", "ok", "no schema; unknown_tool = allow"),
    "revalidate": TraceEntry("revalidate", "ok", "no schema; unknown_tool = allow"),
}


@functools.lru_cache(maxsize=4096)
def _identified(sub: str) -> TraceEntry:
    """The identify stage's entry for an identified caller, shared (entries are frozen): a new
    one per call cost ~2 µs, a tenth of a decision."""
    return TraceEntry("identify", "ok", sub)


class _Stop(Exception):
    """Ends the pipeline early with a block; carries the reasons."""

    def __init__(self, stage: str, *reasons: Reason) -> None:
        self.reasons = reasons
        self.stage = stage


class Pipeline:
    """The stages of one policy, run in order for every call (see the module docstring)."""

    def __init__(
        self,
        *,
        schemas: SchemaRegistry,
        rules: RuleEngine,
        limits: Limits,
        unknown_tool: UnknownTool,
        identity: TokenVerifier | None,
        audit: AuditSink,
        sessions: SessionStore,
    ) -> None:
        self.schemas = schemas
        self.rules = rules
        self.limits = limits
        self.unknown_tool: UnknownTool = unknown_tool
        self.identity = identity
        self.audit = audit
        self.sessions = sessions
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex() + "-"

    def identify(self, caller: Caller | None, token: str | None) -> tuple[Caller, Reason | None]:
        return identify(self.identity, caller, token)

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
        tool: Any = "?"
        call_id: str | None = None
        args: dict[str, Any] | None = None
        who = Caller.anonymous()
        session_id = session
        turn: SessionTurn | None = None
        try:
            who, identity_reason = self.identify(caller, token)
            if session_id is None:
                session_id = who.session
            tool, raw_args, call_id = unpack(call)
            try:
                tool = check_tool_name(tool)
                args, plain = self._normalize(raw_args)
            except InputRejected as exc:
                raise _Stop(
                    "normalize",
                    Reason(ReasonKind.STRICT_INPUT, exc.message, location=exc.path),
                ) from None
            trace.append(_NORMALIZE_OK)
            trace.append(
                _identified(who.sub or "")
                if identity_reason is None
                else TraceEntry("identify", "refused", identity_reason.message)
            )
            refusal = not_granted(who, tool)
            if refusal is not None:
                if identity_reason is not None:
                    raise _Stop("authorize", identity_reason, refusal)
                raise _Stop("authorize", refusal)
            trace.append(_AUTHORIZE_OK)
            self._validate(tool, args, "validate", trace, plain=plain)

            try:
                turn = self.sessions.begin(session_id, tool, caller_key(who), self._needs(tool))
            except StateError as exc:
                raise _Stop("state", Reason(ReasonKind.STATE, str(exc))) from None
            verdict = self.rules.evaluate(tool, args, who, turn.view)
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
                verdict.reasons,
                verdict.fired,
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
                (),
                trace,
                started,
                call_id,
                who,
                session_id,
            )
        except Exception as exc:  # fail closed: whatever broke, the call does not run
            logger.exception("toolwall: internal error while deciding a call to %s", tool)
            reason = Reason(ReasonKind.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
            trace.append(TraceEntry("internal", "block", reason.message))
            decision = self._decision(
                Action.BLOCK,
                tool if isinstance(tool, str) else "?",
                args,
                args,
                (reason,),
                (),
                trace,
                started,
                call_id,
                who,
                session_id,
            )
        if turn is None:
            return self._audit(decision)
        decision = self._finish(turn, decision)
        audited = self._audit(decision)
        if decision.action.runs and not audited.action.runs:
            # Counted, then refused for want of an audit record: it did not run after all.
            try:
                turn.cancel()
            except Exception as exc:  # it stays counted, which only makes later calls stricter
                logger.error("toolwall: could not uncount call %s: %s", decision.id, exc)
        return audited

    def _needs(self, tool: str) -> SessionNeeds:
        needs = getattr(self.rules, "session_needs", None)
        return needs(tool) if needs is not None else READS_SESSION

    def _finish(self, turn: SessionTurn, decision: Decision) -> Decision:
        """End the session's turn: the call counts in its session only if it runs now (an
        escalation counts when its approval is used, in `toolwall.enforce.settle`). A state
        that cannot record it blocks the call; the audit record written next says so."""
        try:
            turn.finish(decision.action.value if decision.action.runs else None)
            return decision
        except StateError as exc:
            reason = Reason(ReasonKind.STATE, str(exc))
        except Exception as exc:
            logger.exception("toolwall: internal error while recording a call to %s", decision.tool)
            reason = Reason(ReasonKind.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
        return blocked_by(decision, reason, "state")

    def _normalize(self, raw_args: Any) -> tuple[dict[str, Any], bool]:
        """The checked arguments, and whether they hold exact JSON types only (parsed text
        always does) so that schema validation may take its compiled fast path."""
        if isinstance(raw_args, str | bytes):
            return parse_arguments(raw_args, self.limits), True
        return checked_arguments(raw_args, self.limits)

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
        reason = invalid(schema, self.unknown_tool, tool, args, plain=plain, rewritten=rewritten)
        if reason is not None:
            raise _Stop(stage, reason)
        if schema is None:
            trace.append(_NO_SCHEMA[stage])
        else:
            trace.append(_VALIDATE_OK if stage == "validate" else _REVALIDATE_OK)

    def _decision(
        self,
        action: Action,
        tool: str,
        args: dict[str, Any] | None,
        original: dict[str, Any] | None,
        reasons: tuple[Reason, ...],
        rules: tuple[str, ...],
        trace: list[TraceEntry],
        started: float,
        call_id: str | None,
        caller: Caller,
        session: str | None,
    ) -> Decision:
        return Decision(
            f"{self._id_prefix}{next(self._ids):x}",
            action,
            tool,
            args,
            original,
            reasons,
            rules,
            tuple(trace),
            (time.perf_counter() - started) * 1e6,
            call_id,
            caller,
            session,
        )

    def _audit(self, decision: Decision) -> Decision:
        try:
            self.audit.record_decision(decision, decision.caller)
            return decision
        except Exception as exc:
            logger.error("toolwall: audit record for decision %s failed: %s", decision.id, exc)
            if self.audit.on_failure == "allow" or decision.action is Action.BLOCK:
                return decision
            reason = Reason(ReasonKind.AUDIT, f"the audit record could not be written: {exc}")
            return blocked_by(decision, reason, "audit")


def blocked_by(decision: Decision, reason: Reason, stage: str) -> Decision:
    """`decision` turned into a block by a stage after the rules (the state, the audit)."""
    return replace(
        decision,
        action=Action.BLOCK,
        reasons=(*decision.reasons, reason),
        trace=(*decision.trace, TraceEntry(stage, "block", reason.message)),
    )


def unpack(call: CallLike) -> tuple[Any, Any, str | None]:
    """(tool, raw args, call id) of a `ToolCall` or a plain mapping."""
    if isinstance(call, ToolCall):
        return call.tool, call.args, call.id
    if isinstance(call, Mapping):
        tool = call.get("tool", call.get("name"))
        args = call.get("args", call.get("arguments", {}))
        call_id = call.get("id")
        return tool, args, call_id if isinstance(call_id, str) else None
    raise TypeError(f"a call must be a ToolCall or a mapping, not {type(call).__name__}")

"""The values that flow through the pipeline: a proposed call, who makes it, the decision, and
what an approver is asked and answers.

A leaf: every layer may import it, it imports nothing of toolwall but the canonical digests.
`ToolCall` and `Caller` are built by applications and adapters, so they are pydantic models that
validate their input. `Decision`, `Reason`, `TraceEntry` and the approval values are built by
toolwall itself on every call, so they are frozen, slotted dataclasses: cheap to build, and
values nobody can change in place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from toolwall.canonical import call_digest


class Action(StrEnum):
    """What happens to a call. Declared from weakest to strongest."""

    ALLOW = "allow"
    REWRITE = "rewrite"
    ESCALATE = "escalate"
    BLOCK = "block"

    @property
    def strength(self) -> int:
        """block > escalate > rewrite > allow: the strongest action of all fired rules wins."""
        return _STRENGTH[self]

    @property
    def runs(self) -> bool:
        """Whether the call may execute without asking anybody."""
        return self is Action.ALLOW or self is Action.REWRITE


_STRENGTH = {Action.ALLOW: 0, Action.REWRITE: 1, Action.ESCALATE: 2, Action.BLOCK: 3}


class ReasonKind(StrEnum):
    """Why a decision is what it is. One kind per way a call can be refused or changed."""

    STRICT_INPUT = "strict_input"
    IDENTITY = "identity"
    NOT_GRANTED = "not_granted"
    UNKNOWN_TOOL = "unknown_tool"
    SCHEMA = "schema"
    RULE = "rule"
    RULE_ERROR = "rule_error"
    REWRITE_INVALID = "rewrite_invalid"
    APPROVAL = "approval"
    AUDIT = "audit"
    UPSTREAM = "upstream"
    STATE = "state"
    INTERNAL = "internal_error"


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason of a decision, with where it comes from.

    `location` is a JSON path into the arguments (`$.to[0]`) for input and schema reasons, and
    `file:line:col` of the rule for rule reasons.
    """

    kind: ReasonKind
    message: str
    rule: str | None = None
    location: str | None = None

    def __str__(self) -> str:
        if self.rule:
            return f"rule {self.rule}: {self.message}"
        return self.message

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "message": self.message}
        if self.rule is not None:
            out["rule"] = self.rule
        if self.location is not None:
            out["location"] = self.location
        return out


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One step of the pipeline as it ran, for `Decision.explain()` and `toolwall eval --explain`.

    For pipeline stages `stage` names the stage and `outcome` says what it concluded. For rules,
    `stage` is "rule" and the entry records the rule's location, the values of its `when` and
    `unless` conditions, whether it fired and any evaluation error.
    """

    stage: str
    outcome: str
    detail: str = ""
    rule: str | None = None
    location: str | None = None
    when: Any = None
    unless: Any = None
    fired: bool | None = None
    action: Action | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stage": self.stage, "outcome": self.outcome}
        for key in ("detail", "rule", "location", "when", "unless", "fired", "action", "error"):
            value = getattr(self, key)
            if value is not None and value != "":
                out[key] = value.value if isinstance(value, Action) else value
        return out


class ToolCall(BaseModel):
    """A tool call proposed by a model.

    `args` is either the decoded arguments or the raw JSON text a provider sends (OpenAI sends a
    string). Raw text is parsed strictly by the firewall, never here, so that a malformed call
    becomes a `block` decision rather than an exception in the caller's code.
    """

    model_config = ConfigDict(frozen=True)

    tool: str
    args: dict[str, Any] | str = Field(default_factory=dict)
    id: str | None = None


CallLike = ToolCall | Mapping[str, Any]
"""A proposed call: a `ToolCall`, or a mapping with `tool` (or `name`), `args` (or
`arguments`) and optionally `id`."""


class Caller(BaseModel):
    """Who is asking, and what they were separately granted.

    A `Caller` comes from a verified token or is given directly by the application; never from
    anything the model wrote. `tools` holds the granted tool patterns (`email.*`, `fs.read`).
    """

    model_config = ConfigDict(frozen=True)

    sub: str | None = None
    iss: str | None = None
    groups: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    claims: Mapping[str, Any] = Field(default_factory=dict)
    authenticated: bool = False
    session: str | None = None

    @classmethod
    def anonymous(cls) -> Caller:
        """The caller with no identity and no grants."""
        return _ANONYMOUS


_ANONYMOUS = Caller()


@dataclass(frozen=True, slots=True)
class Decision:
    """The firewall's answer for one call: a value, built by the pipeline, read by everyone.

    `args` are the arguments to execute with: the rewritten ones for `rewrite`, the parsed
    originals otherwise (None when they could not be parsed). `original_args` keeps what the model
    proposed, so approvers and the audit can show the difference. `caller` is the verified caller
    the call was decided for and `session` the session it was decided in: every enforcement path
    settles approvals and records results under these, never under what it was handed again.
    A changed decision is a new value (`dataclasses.replace`), as settlement makes on approval.
    """

    id: str
    action: Action
    tool: str
    args: dict[str, Any] | None = None
    original_args: dict[str, Any] | None = None
    reasons: tuple[Reason, ...] = ()
    rules: tuple[str, ...] = ()
    trace: tuple[TraceEntry, ...] = ()
    latency_us: float = 0.0
    call_id: str | None = None
    caller: Caller = field(default_factory=Caller.anonymous)
    session: str | None = None

    @property
    def allowed(self) -> bool:
        """True for allow and rewrite: the call may run as `args` say."""
        return self.action.runs

    @property
    def reason(self) -> str:
        """All reasons joined into one line."""
        return "; ".join(str(r) for r in self.reasons)

    def message(self) -> str:
        """The text a model reads when its call does not run as proposed."""
        verb = {
            Action.BLOCK: "blocked",
            Action.ESCALATE: "held for approval",
            Action.REWRITE: "rewrote",
            Action.ALLOW: "allowed",
        }[self.action]
        text = f"toolwall {verb} the call to {self.tool}"
        return f"{text}: {self.reason}" if self.reasons else text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (what `toolwall eval --json` prints); `caller` is its `sub`."""
        return {
            "id": self.id,
            "action": self.action.value,
            "tool": self.tool,
            "args": self.args,
            "original_args": self.original_args,
            "reasons": [r.to_dict() for r in self.reasons],
            "rules": list(self.rules),
            "trace": [t.to_dict() for t in self.trace],
            "latency_us": round(self.latency_us, 1),
            "call_id": self.call_id,
            "caller": self.caller.sub,
            "session": self.session,
        }

    def explain(self) -> str:
        """A readable account of how the decision was reached, stage by stage."""
        lines = [f"{self.action.value.upper()} {self.tool}  (decision {self.id})"]
        if self.caller.sub is not None or self.session is not None:
            lines.append(
                f"  caller: {self.caller.sub or 'anonymous'}  session: {self.session or '-'}"
            )
        for entry in self.trace:
            lines.append("  " + _explain_entry(entry))
        if self.reasons:
            lines.append("  reasons:")
            for r in self.reasons:
                where = f"  [{r.location}]" if r.location else ""
                lines.append(f"    - {r}{where}")
        if self.action is Action.REWRITE:
            lines.append(f"  arguments: {_compact(self.original_args)} -> {_compact(self.args)}")
        return "\n".join(lines)


def _explain_entry(entry: TraceEntry) -> str:
    if entry.stage != "rule":
        detail = f": {entry.detail}" if entry.detail else ""
        return f"{entry.stage:<11}{entry.outcome}{detail}"
    parts = [f"rule {entry.rule}"]
    if entry.location:
        parts.append(f"({entry.location})")
    parts.append("FIRED" if entry.fired else "not fired")
    if entry.action is not None and entry.fired:
        parts.append(f"-> {entry.action.value}")
    if entry.when is not None:
        parts.append(f"when={_compact(entry.when)}")
    if entry.unless is not None:
        parts.append(f"unless={_compact(entry.unless)}")
    if entry.error:
        parts.append(f"error: {entry.error}")
    return "  ".join(parts)


def _compact(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return repr(value)


class SessionView(Protocol):
    """What the rules see of a session's past (`session.tainted`, `count()`, ...).

    The state backends provide it (`toolwall.state`); the rule language reads it through this
    protocol only, so the language does not depend on where sessions are kept.
    """

    @property
    def tainted(self) -> bool: ...

    @property
    def calls(self) -> int: ...

    def count(self, pattern: str) -> int:
        """How many earlier calls of this session went (allowed) to tools matching `pattern`."""
        ...

    def called(self, pattern: str) -> bool: ...

    def count_within(self, pattern: str, seconds: float) -> int:
        """How many calls of this session to tools matching `pattern` ran in the last `seconds`.

        Exact, or `StateIncomplete` when the state no longer remembers the whole window."""
        ...

    def caller_count_within(self, pattern: str, seconds: float) -> int:
        """The same across every session of the caller the call is decided for."""
        ...


@dataclass(frozen=True, slots=True)
class SessionNeeds:
    """What the rules covering one tool read of the past, known when the policy loads.

    The state backends use it to answer a decision in one round trip: `reads` says whether the
    rules read the session at all (`session.*`, `count()`, ...), `windows` and `caller_windows`
    the time windows (seconds) of `count_within()` and `caller_count_within()` they ask about.
    A call whose rules read nothing needs no read, only the recording of the call if it runs.
    """

    reads: bool = True
    windows: frozenset[float] = frozenset()
    caller_windows: frozenset[float] = frozenset()


READS_NOTHING = SessionNeeds(reads=False)
"""The needs of a tool no rule reading the session covers."""

READS_SESSION = SessionNeeds()
"""What to assume of a rule engine that cannot say: it reads the session, but no windows."""


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """What the rules stage concluded for one call (see `toolwall.pipeline.rules.RuleEngine`).

    `args` is None when no rewrite applies; otherwise the rewritten arguments (for `rewrite`,
    and for `escalate` when rewrite rules fired too). `reasons` hold the reasons of the fired
    rules, those of the winning action first; `fired` names every rule that fired.
    """

    action: Action
    args: dict[str, Any] | None = None
    reasons: tuple[Reason, ...] = ()
    fired: tuple[str, ...] = ()
    trace: tuple[TraceEntry, ...] = field(default_factory=tuple)


ALLOW_VERDICT = RuleVerdict(action=Action.ALLOW)
"""The verdict when no rule fires."""


# -- approvals ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """A call waiting for a yes or no. `decision.args` are the arguments that would run.

    `approval_id` names the pending approval in the state store (what `toolwall approvals
    approve ID` and the console answer); `expires` is when it can no longer be answered (epoch
    seconds).
    """

    decision: Decision
    approval_id: str | None = None
    expires: float | None = None

    @property
    def caller(self) -> Caller:
        """The verified caller the call was decided for."""
        return self.decision.caller

    @property
    def tool(self) -> str:
        return self.decision.tool

    @property
    def args(self) -> dict[str, Any] | None:
        """The arguments that run if approved (after rewrites)."""
        return self.decision.args

    @property
    def original_args(self) -> dict[str, Any] | None:
        """The arguments the model proposed."""
        return self.decision.original_args

    @property
    def rewritten(self) -> bool:
        """Whether policy changed the arguments before asking."""
        return self.decision.args is not self.decision.original_args and (
            self.decision.args != self.decision.original_args
        )

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return self.decision.reasons

    @property
    def rules(self) -> tuple[str, ...]:
        return self.decision.rules

    @property
    def session(self) -> str | None:
        return self.decision.session

    @property
    def digest(self) -> str:
        """The digest an approval of this request is bound to (see `call_digest`)."""
        return call_digest(self.decision.tool, self.decision.args, self.caller, self.session)


@dataclass(frozen=True, slots=True)
class ApprovalAnswer:
    """Yes or no, who said it and why. `approval_id` names the queue entry, if any."""

    approved: bool
    by: str
    note: str = ""
    approval_id: str | None = None

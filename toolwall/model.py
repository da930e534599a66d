"""The values that flow through the pipeline: a proposed call, who makes it, and the decision.

`ToolCall` and `Caller` are built by applications and adapters, so they validate their input.
`Decision` is built by the engine on every call; the engine uses `model_construct` for it, and
`Reason` / `TraceEntry` are slotted dataclasses, because they sit on the hot path.
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


class Decision(BaseModel):
    """The firewall's answer for one call.

    `args` are the arguments to execute with: the rewritten ones for `rewrite`, the parsed
    originals otherwise (None when they could not be parsed). `original_args` keeps what the model
    proposed, so approvers and the audit can show the difference.
    """

    id: str
    action: Action
    tool: str
    args: dict[str, Any] | None = None
    original_args: dict[str, Any] | None = None
    reasons: list[Reason] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)
    trace: list[TraceEntry] = Field(default_factory=list)
    latency_us: float = 0.0
    call_id: str | None = None
    caller: str | None = None
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
        """A JSON-ready view (what `toolwall eval --json` prints)."""
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
            "caller": self.caller,
            "session": self.session,
        }

    def explain(self) -> str:
        """A readable account of how the decision was reached, stage by stage."""
        lines = [f"{self.action.value.upper()} {self.tool}  (decision {self.id})"]
        if self.caller is not None or self.session is not None:
            lines.append(f"  caller: {self.caller or 'anonymous'}  session: {self.session or '-'}")
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


_DECISION_FIELDS = tuple(Decision.model_fields)
_set = object.__setattr__
# `new_decision` sets an instance up as `model_construct` would, minus its per-field loop. That
# is only the same when there is nothing else to set up; otherwise it uses model_construct.
_PLAIN_MODEL = (
    not Decision.__pydantic_root_model__
    and not Decision.__pydantic_post_init__
    and not Decision.__private_attributes__
    and Decision.model_config.get("extra") != "allow"
)


def new_decision(
    id: str,
    action: Action,
    tool: str,
    args: dict[str, Any] | None,
    original_args: dict[str, Any] | None,
    reasons: list[Reason],
    rules: list[str],
    trace: list[TraceEntry],
    latency_us: float,
    call_id: str | None,
    caller: str | None,
    session: str | None,
) -> Decision:
    """A `Decision` from trusted values (the engine's), as `Decision.model_construct` builds it.

    Every field is given, so the instance equals what `model_construct` returns; this skips
    pydantic's generic loop over fields and aliases, which is on the hot path of every call.
    """
    values: dict[str, Any] = {
        "id": id,
        "action": action,
        "tool": tool,
        "args": args,
        "original_args": original_args,
        "reasons": reasons,
        "rules": rules,
        "trace": trace,
        "latency_us": latency_us,
        "call_id": call_id,
        "caller": caller,
        "session": session,
    }
    if not _PLAIN_MODEL:
        return Decision.model_construct(**values)
    decision = Decision.__new__(Decision)
    _set(decision, "__dict__", values)
    _set(decision, "__pydantic_fields_set__", set(_DECISION_FIELDS))
    _set(decision, "__pydantic_extra__", None)
    _set(decision, "__pydantic_private__", None)
    return decision


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
    """A call waiting for a yes or no. `decision.args` are the arguments that would run."""

    decision: Decision
    caller: Caller

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
    def reasons(self) -> list[Reason]:
        return self.decision.reasons

    @property
    def rules(self) -> list[str]:
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

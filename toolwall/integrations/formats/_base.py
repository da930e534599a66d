"""What every provider format shares: finding the calls, deciding them, answering the model.

A provider format is a `WireFormat`: a function that finds the tool calls in a response, and
two that build the provider's own tool-result shapes. `guard(...)` decides every call it finds and
sorts them into calls to run, refusals (each already a tool-result message the model can read)
and escalations. Nothing here imports a provider SDK: SDK objects are read through their
attributes, dicts through their keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from toolwall.errors import ToolwallError
from toolwall.firewall import Firewall
from toolwall.model import Action, Caller, Decision, ToolCall

Message = dict[str, Any]


class FormatError(ToolwallError):
    """A response does not have the shape of the provider format it was given as.

    Raised instead of guessing: when the calls of a response cannot be found, none of them runs.
    """


@dataclass(frozen=True, slots=True)
class ProposedCall:
    """One tool call as the provider sent it, before any decision.

    `tool` and `args` are passed to the firewall untouched (a raw JSON string stays a string),
    so that a malformed call becomes a `block` decision with a strict-input reason.
    """

    index: int
    id: str | None
    tool: Any
    args: Any


@dataclass(frozen=True, slots=True)
class WireFormat:
    """A provider's tool-call shapes.

    - `calls(response)` the proposed calls in response order (raises `FormatError`), and the
      types of items that carry no decidable call (see `GuardedCalls.ignored`);
    - `result(call_id, tool, content, is_error)` one tool-result item in the provider's shape;
    - `reply(items)` the message(s) to append to the conversation for those items.
    """

    name: str
    calls: Callable[[Any], tuple[list[ProposedCall], list[str]]]
    result: Callable[[str | None, str, Any, bool], Message]
    reply: Callable[[list[Message]], list[Message]]


@dataclass(frozen=True, slots=True)
class GuardedCall:
    """A call the firewall decided, with the arguments it may run with.

    `args` are the final arguments (rewritten when the decision is a rewrite). `key` identifies
    the call in `GuardedCalls.reply`: the provider's call id, or `tool#index` when the provider
    sent none (Gemini may omit ids).
    """

    index: int
    id: str | None
    tool: str
    args: dict[str, Any]
    decision: Decision

    @property
    def key(self) -> str:
        return self.id if self.id is not None else f"{self.tool}#{self.index}"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A call that does not run, and the tool-result message that tells the model why."""

    index: int
    id: str | None
    tool: str
    decision: Decision
    message: Message

    @property
    def key(self) -> str:
        return self.id if self.id is not None else f"{self.tool}#{self.index}"


@dataclass(frozen=True)
class GuardedCalls:
    """Every tool call of one model response, decided.

    - `calls`: run these, with `call.args` (already rewritten where policy said so);
    - `refusals`: blocked or denied calls; append `refusal.message` (or use `reply`) so the model
      reads why;
    - `escalated`: calls waiting for approval; `resolve()` asks the firewall's approver and moves
      each into `calls` or `refusals`;
    - `ignored`: types of response items that are not function calls toolwall can decide (for
      example hosted tools of the Responses API, which the provider has already run);
    - `decisions`: every decision, in response order.
    """

    format: WireFormat
    firewall: Firewall
    calls: tuple[GuardedCall, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    escalated: tuple[GuardedCall, ...] = ()
    ignored: tuple[str, ...] = ()
    decisions: tuple[Decision, ...] = ()
    caller: Caller | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    session: str | None = None

    @property
    def pending(self) -> bool:
        """Whether some calls still wait for an approval."""
        return bool(self.escalated)

    def resolve(self) -> GuardedCalls:
        """Ask the firewall's approver about every escalated call.

        Approved calls join `calls` (with the arguments the approver saw); denied ones join
        `refusals` with the approver's answer as the reason. Returns a new `GuardedCalls`.
        """
        return self._settled([self.firewall.settle(call.decision) for call in self.escalated])

    async def aresolve(self) -> GuardedCalls:
        """`resolve` for async code (uses the approver's `aapprove` when it has one)."""
        return self._settled([await self.firewall.asettle(c.decision) for c in self.escalated])

    def result(self, call: GuardedCall, output: Any, *, is_error: bool = False) -> Message:
        """The tool-result item for an executed call, in the provider's shape.

        Also hands the output to `Firewall.record_result`, under the caller and session the call
        was decided for, so `taint` rules see it.
        """
        self.firewall.record_result(call.decision, output)
        return self.format.result(call.id, call.tool, output, is_error)

    def reply(self, outputs: Mapping[str, Any]) -> list[Message]:
        """What to append to the conversation: every call's result, in response order.

        `outputs` maps `call.key` to what the tool returned, for every call in `calls`; the
        refusals are added by toolwall. Results are recorded as in `result`. Raises `ValueError`
        while calls are still escalated or when a call to run has no output: every provider
        expects an answer to every call it proposed.
        """
        if self.escalated:
            keys = ", ".join(c.key for c in self.escalated)
            raise ValueError(f"calls {keys} wait for approval: resolve() them first")
        missing = [c.key for c in self.calls if c.key not in outputs]
        if missing:
            raise ValueError(f"no output given for calls {', '.join(missing)}")
        unknown = set(outputs) - {c.key for c in self.calls}
        if unknown:
            raise ValueError(f"outputs given for calls that may not run: {sorted(unknown)}")
        items: list[tuple[int, Message]] = [(r.index, r.message) for r in self.refusals]
        items.extend((c.index, self.result(c, outputs[c.key])) for c in self.calls)
        items.sort(key=lambda item: item[0])
        return self.format.reply([message for _, message in items])

    def _settled(self, settled: Sequence[Decision]) -> GuardedCalls:
        calls = list(self.calls)
        refusals = list(self.refusals)
        decisions = {d.id: d for d in self.decisions}
        for call, decision in zip(self.escalated, settled, strict=True):
            decisions[decision.id] = decision
            if decision.action.runs and decision.args is not None:
                calls.append(replace(call, args=decision.args, decision=decision))
                continue
            refusals.append(_refusal(self.format, call.index, call.id, call.tool, decision))
        calls.sort(key=lambda c: c.index)
        refusals.sort(key=lambda r: r.index)
        return replace(
            self,
            calls=tuple(calls),
            refusals=tuple(refusals),
            escalated=(),
            decisions=tuple(decisions.values()),
        )


def guard(
    fmt: WireFormat,
    firewall: Firewall,
    response: Any,
    *,
    caller: Caller | None = None,
    token: str | None = None,
    session: str | None = None,
) -> GuardedCalls:
    """Decide every tool call of `response` (see the provider modules for the shapes)."""
    proposed, ignored = fmt.calls(response)
    calls: list[GuardedCall] = []
    refusals: list[Refusal] = []
    escalated: list[GuardedCall] = []
    decisions: list[Decision] = []
    for p in proposed:
        decision = firewall.decide(
            ToolCall.model_construct(tool=p.tool, args=p.args, id=p.id),
            caller=caller,
            token=token,
            session=session,
        )
        decisions.append(decision)
        # The name as the provider sent it, for the result message (Gemini answers by name),
        # even when it was refused for not being a valid tool name.
        name = p.tool if isinstance(p.tool, str) else ""
        if decision.action is Action.BLOCK or decision.args is None:
            refusals.append(_refusal(fmt, p.index, p.id, name, decision))
            continue
        guarded = GuardedCall(p.index, p.id, name, decision.args, decision)
        (escalated if decision.action is Action.ESCALATE else calls).append(guarded)
    return GuardedCalls(
        format=fmt,
        firewall=firewall,
        calls=tuple(calls),
        refusals=tuple(refusals),
        escalated=tuple(escalated),
        ignored=tuple(ignored),
        decisions=tuple(decisions),
        caller=caller,
        token=token,
        session=session,
    )


class ProviderGuard(Protocol):
    """The signature every `guard_<provider>` function has (see `provider_guard`)."""

    def __call__(
        self,
        firewall: Firewall,
        response: Any,
        *,
        caller: Caller | None = None,
        token: str | None = None,
        session: str | None = None,
    ) -> GuardedCalls: ...


def provider_guard(fmt: WireFormat, module: str, doc: str) -> ProviderGuard:
    """`guard(fmt, ...)` as the public `guard_<fmt.name>` function of the provider's `module`.

    One signature for every provider, so they cannot drift apart; each keeps its own docstring
    (what `help()` shows) and its own name and module (what tracebacks and pickle use).
    """

    def guard_provider(
        firewall: Firewall,
        response: Any,
        *,
        caller: Caller | None = None,
        token: str | None = None,
        session: str | None = None,
    ) -> GuardedCalls:
        return guard(fmt, firewall, response, caller=caller, token=token, session=session)

    guard_provider.__name__ = guard_provider.__qualname__ = f"guard_{fmt.name}"
    guard_provider.__module__ = module
    guard_provider.__doc__ = doc
    return guard_provider


def each_on_its_own(results: list[Message]) -> list[Message]:
    """`WireFormat.reply` where every result is a message (or input item) of its own: OpenAI."""
    return results


def one_user_turn(key: str) -> Callable[[list[Message]], list[Message]]:
    """`WireFormat.reply` where all results of a turn go back in one user message, as its `key`
    list (Anthropic's `content` blocks, Gemini's `parts`); nothing when there are no results."""

    def reply(results: list[Message]) -> list[Message]:
        return [{"role": "user", key: results}] if results else []

    return reply


def _refusal(
    fmt: WireFormat, index: int, call_id: str | None, tool: str, decision: Decision
) -> Refusal:
    return Refusal(
        index, call_id, tool, decision, fmt.result(call_id, tool, decision.message(), True)
    )


# -- reading responses without their SDKs ------------------------------------------------------


def get(obj: Any, *names: str) -> Any:
    """The first present field of `obj` among `names`: a key of a mapping, else an attribute.

    SDK objects (pydantic models of the openai / anthropic / google-genai packages) are read by
    attribute; dicts as the app decoded them from JSON are read by key. Several names cover the
    camelCase of JSON and the snake_case of an SDK (`functionCall` / `function_call`).
    """
    if isinstance(obj, Mapping):
        for name in names:
            if name in obj:
                return obj[name]
        return None
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


def items(value: Any, what: str) -> list[Any]:
    """A list field of a response; absent means empty, anything but a list is a `FormatError`."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    raise FormatError(f"{what} must be a list, not {type(value).__name__}")


def text(output: Any) -> str:
    """A tool output as the text providers expect in a tool result: strings as they are, the
    rest as JSON (falling back to `str` for values JSON cannot represent)."""
    if isinstance(output, str):
        return output
    try:
        return json.dumps(output, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(output)


def call_id(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None

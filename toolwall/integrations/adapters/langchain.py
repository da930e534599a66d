"""LangChain v1 / LangGraph: every tool call of an agent goes through the firewall first.

    from toolwall.integrations.adapters.langchain import ToolwallMiddleware

    agent = create_agent(model, tools, middleware=[ToolwallMiddleware(firewall)],
                         checkpointer=InMemorySaver())
    agent.invoke({"messages": [...]}, config={"configurable": {"thread_id": "t1"}},
                 context={"toolwall_caller": caller})

The same object wraps a bare LangGraph `ToolNode`:

    guard = ToolwallMiddleware(firewall)
    graph.add_node("tools", ToolNode(tools, wrap_tool_call=guard.wrap_tool_call,
                                     awrap_tool_call=guard.awrap_tool_call))
    graph.add_conditional_edges("model", route_each_call("tools"), ["tools", END])

(`route_each_call` sends each call as its own task, as `create_agent` does, so that resuming
one escalated call does not run the calls next to it again.)

Enforcement, per decision:
- allow: the tool runs as the model proposed;
- rewrite: the tool runs with the rewritten arguments (`request.override(tool_call=...)`);
- block: the tool never runs; the model gets a `ToolMessage` with `status="error"` and the
  reason;
- escalate: with `escalation="interrupt"` (the default) the graph stops with a LangGraph
  `interrupt()` whose value is `approval_payload(...)`; resume it with
  `Command(resume=True)` / `Command(resume="deny")` / `Command(resume={"approved": ...,
  "by": ..., "note": ..., "tool_call_id": ...})`, or, when several calls wait at once,
  `Command(resume={interrupt.id: answer, ...})`. With `escalation="approver"` the firewall's
  approver answers instead (`toolwall.toml [approvals]`).

The caller and session come from the run, never from the messages: `toolwall_caller` (a
`Caller`) or `toolwall_token` (a JWT for `[identity]`) and optionally `toolwall_session`, looked up
in the runtime context (`context=` of `invoke`, a mapping or an object with those attributes),
then in `config["configurable"]`, then in `Firewall.acting_as(...)`. The session defaults to the
LangGraph `thread_id`.

A tool node runs again after an interrupt is resumed; decisions are kept by tool call id
(`Firewall.decide_once`), so each call is decided and audited once, and the firewall's settlement
lets an approval run its call once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import ToolMessage
from langgraph.graph import END
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command, Send, interrupt

import toolwall.context as _context
from toolwall.enforce.settle import denied, refused
from toolwall.firewall import Firewall
from toolwall.model import Action, ApprovalAnswer, Caller, Decision, ToolCall
from toolwall.state.base import ApprovalError

Escalation = Literal["interrupt", "approver"]
ToolResult = ToolMessage | Command[Any]

CALLER_KEY = "toolwall_caller"
TOKEN_KEY = "toolwall_token"
SESSION_KEY = "toolwall_session"
INTERRUPT_TYPE = "toolwall.approval"

_APPROVE_WORDS = frozenset({"approve", "approved", "allow", "yes"})
_DENY_WORDS = frozenset({"deny", "denied", "reject", "rejected", "no"})


class ToolwallMiddleware(AgentMiddleware):  # type: ignore[misc]
    """An agent middleware (and `ToolNode` wrapper) that enforces the firewall's decisions.

    `escalation` chooses who answers escalated calls: `"interrupt"` (LangGraph's
    human-in-the-loop, needs a checkpointer) or `"approver"` (the firewall's approver).
    Decisions and approvals are kept by the firewall, so a node re-run after an interrupt meets
    the decision and the approval it was interrupted for.
    """

    def __init__(self, firewall: Firewall, *, escalation: Escalation = "interrupt") -> None:
        super().__init__()
        if escalation not in ("interrupt", "approver"):
            raise ValueError(f'escalation must be "interrupt" or "approver", not {escalation!r}')
        self.firewall = firewall
        self.escalation: Escalation = escalation
        self.tools = []

    # -- the hooks ------------------------------------------------------------------------------

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolResult],
    ) -> ToolResult:
        call, decision = self._decided(request)
        if decision.action is Action.ESCALATE:
            if self.escalation == "interrupt":
                decision = self._interrupted(decision, call)
            else:
                decision = self.firewall.settle(decision)
        if not decision.action.runs or decision.args is None:
            return refusal(request, decision)
        result = handler(_with_args(request, decision))
        self._record(decision, result)
        return result

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolResult]],
    ) -> ToolResult:
        call, decision = self._decided(request)
        if decision.action is Action.ESCALATE:
            if self.escalation == "interrupt":
                decision = self._interrupted(decision, call)
            else:
                decision = await self.firewall.asettle(decision)
        if not decision.action.runs or decision.args is None:
            return refusal(request, decision)
        result = await handler(_with_args(request, decision))
        self._record(decision, result)
        return result

    def _decided(self, request: ToolCallRequest) -> tuple[ToolCall, Decision]:
        """The call and its decision; who asks comes from the graph's config, never the model."""
        who = _identity(request)
        call = _tool_call(request)
        decision = self.firewall.decide_once(
            call, caller=who.caller, token=who.token, session=who.session
        )
        return call, decision

    def _interrupted(self, decision: Decision, call: ToolCall) -> Decision:
        """Stop the graph with an interrupt and settle the call with the value it resumes with.

        The call's approval is opened before the interrupt, so the answer is bound to the call
        the human was shown: a re-run of this node finds the same approval (used once), and a
        re-run whose arguments were edited in the graph's state meanwhile is refused.
        """
        settlement = self.firewall.settlement
        try:
            request, asked_before = settlement.awaiting(decision)
        except ApprovalError as exc:
            return denied(decision, ApprovalAnswer(False, by="toolwall", note=str(exc)))
        # Always call interrupt(), even when the call was answered on an earlier run of this
        # node: LangGraph matches resume values to interrupts by their order within the node, so
        # skipping ours would hand our answer to the next interrupt (one inside the tool).
        answer = parse_resume(interrupt(approval_payload(decision, call)), call.id)
        if not asked_before:
            # interrupt() returned at once: the run was resumed with an answer to a question
            # about another call (or caller), not to this one, which nobody has seen.
            return refused(decision, "the answer was given before this call was asked about")
        return settlement.conclude(request, decision, answer)

    # -- results --------------------------------------------------------------------------------

    def _record(self, decision: Decision, result: Any) -> None:
        """Hand the tool's output to the firewall, so `taint` rules see it."""
        output = (
            result.content if isinstance(result, ToolMessage) else getattr(result, "update", result)
        )
        # Not caught: a result the firewall could not see must not reach the model as if all
        # were well (a missed taint would let a later call through).
        self.firewall.record_result(decision, output)


# -- building blocks (public for apps that write their own wrappers) ----------------------------


def refusal(request: ToolCallRequest, decision: Decision) -> ToolMessage:
    """The `ToolMessage` a blocked or denied call answers with: the model reads the reason."""
    return ToolMessage(
        content=decision.message(),
        tool_call_id=request.tool_call.get("id") or "",
        name=request.tool_call.get("name"),
        status="error",
        artifact={"toolwall": {"decision": decision.id, "action": decision.action.value}},
    )


def approval_payload(decision: Decision, call: ToolCall) -> dict[str, Any]:
    """The JSON value of the interrupt raised for an escalated call.

    `args` are the arguments that would run (after rewrites); `original_args` what the model
    proposed.
    """
    return {
        "type": INTERRUPT_TYPE,
        "tool_call_id": call.id,
        "decision_id": decision.id,
        "tool": decision.tool,
        "args": decision.args,
        "original_args": decision.original_args,
        "reasons": [r.to_dict() for r in decision.reasons],
        "message": decision.message(),
        "caller": decision.caller.sub,
        "session": decision.session,
    }


def parse_resume(value: Any, call_id: str | None) -> ApprovalAnswer:
    """Read the value an interrupt was resumed with; anything unclear is a denial.

    Accepted: `True` / `False`; `"approve"` / `"deny"` (and a few synonyms); a mapping
    `{"approved": bool, "by": str, "note": str, "tool_call_id": str}`. A mapping that names
    another tool call is a denial of this one.
    """
    by = "langgraph interrupt"
    if isinstance(value, bool):
        return ApprovalAnswer(value, by=by)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _APPROVE_WORDS:
            return ApprovalAnswer(True, by=by)
        if word in _DENY_WORDS:
            return ApprovalAnswer(False, by=by)
    if isinstance(value, Mapping):
        approved = value.get("approved")
        named = value.get("tool_call_id")
        who = value.get("by")
        note = value.get("note")
        by = who if isinstance(who, str) and who else by
        note = note if isinstance(note, str) else ""
        if named is not None and named != call_id:
            return ApprovalAnswer(
                False, by="toolwall", note=f"the answer was for tool call {named}, not {call_id}"
            )
        if isinstance(approved, bool):
            return ApprovalAnswer(approved, by=by, note=note)
    return ApprovalAnswer(
        False, by="toolwall", note=f"the resume value {value!r:.80} is not an approve or deny"
    )


def route_each_call(
    node: str = "tools", messages_key: str = "messages"
) -> Callable[[Any], list[Send] | str]:
    """A conditional edge for a bare `ToolNode`: each tool call of the last AI message goes to
    `node` as its own task (what `create_agent` does), else to END.

    With LangGraph's `tools_condition` all calls of a turn run in one task, and a task that is
    interrupted runs again from the start when resumed: calls allowed next to an escalated one
    would execute twice. As separate tasks, only the interrupted call runs again.
    """

    def route(state: Any) -> list[Send] | str:
        messages = (
            state.get(messages_key, [])
            if isinstance(state, Mapping)
            else getattr(state, messages_key, [])
        )
        last = messages[-1] if messages else None
        calls = getattr(last, "tool_calls", None) or []
        if not calls:
            return END
        return [Send(node, [{**tc, "type": "tool_call"}]) for tc in calls]

    return route


def _tool_call(request: ToolCallRequest) -> ToolCall:
    tc = request.tool_call
    return ToolCall.model_construct(tool=tc.get("name"), args=tc.get("args"), id=tc.get("id"))


def _with_args(request: ToolCallRequest, decision: Decision) -> ToolCallRequest:
    """The request the tool runs with: the decision's arguments (rewritten ones for rewrite)."""
    if decision.args is None or decision.args == request.tool_call.get("args"):
        return request
    return request.override(tool_call={**request.tool_call, "args": decision.args})


def _identity(request: ToolCallRequest) -> _context.Identity:
    """Caller, token and session from the run: runtime context, then config, then acting_as."""
    runtime = getattr(request, "runtime", None)
    run_context = getattr(runtime, "context", None)
    config = getattr(runtime, "config", None)
    configurable = config.get("configurable", {}) if isinstance(config, Mapping) else {}
    fallback = _context.current()

    def find(key: str) -> Any:
        value = _lookup(run_context, key)
        return value if value is not None else configurable.get(key)

    caller = find(CALLER_KEY)
    token = find(TOKEN_KEY)
    session = find(SESSION_KEY)
    if caller is not None and not isinstance(caller, Caller):
        raise TypeError(f"{CALLER_KEY} in the run context must be a toolwall Caller")
    if token is not None and not isinstance(token, str):
        raise TypeError(f"{TOKEN_KEY} in the run context must be a string")
    if caller is None and token is None:
        caller, token = fallback.caller, fallback.token
    if session is None:
        thread = configurable.get("thread_id")
        session = str(thread) if thread is not None else fallback.session
    return _context.Identity(caller=caller, token=token, session=session)


def _lookup(source: Any, key: str) -> Any:
    if source is None:
        return None
    if isinstance(source, Mapping):
        return source.get(key)
    return getattr(source, key, None)


__all__ = [
    "CALLER_KEY",
    "INTERRUPT_TYPE",
    "SESSION_KEY",
    "TOKEN_KEY",
    "ToolwallMiddleware",
    "approval_payload",
    "parse_resume",
    "refusal",
    "route_each_call",
]

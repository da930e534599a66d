"""toolwall for the OpenAI Agents SDK (`pip install 'toolwall[openai-agents]'`).

    from toolwall.integrations.adapters.openai_agents import ToolwallGuard

    guard = ToolwallGuard(firewall, names={"email_send": "email.send"})
    agent = guard.agent(agent)                    # or guard.tools([...]), guard.tool(tool)
    result = await Runner.run(agent, "...", context={"toolwall_token": jwt,
                                                     "toolwall_session": thread_id})

Every `FunctionTool` is replaced by a copy whose `on_invoke_tool` and `needs_approval` consult
the firewall; the function itself is the SDK's own invoker, called only when the firewall lets it:

- allow: the tool runs with the arguments as the model sent them;
- rewrite: it runs with the rewritten arguments, re-serialised to the JSON string the SDK expects;
- block: it does not run; the refusal (`Decision.message()`) is the tool output the model reads;
- escalate, `approvals="framework"` (the default): `needs_approval` answers True, the run stops
  with an interruption, the application calls `state.approve(item)` or `state.reject(item)` on the
  run state and resumes. An approved call runs once; a rejected one never reaches toolwall again
  and the model reads the SDK's rejection message;
- escalate, `approvals="approver"`: the firewall's own approver (`Firewall(approver=...)`) is
  asked inside the invocation, and `needs_approval` never interrupts for toolwall.

`needs_approval`, a `toolwall` tool input guardrail (which rejects blocked calls, before any
approval when the app turns on the SDK's `pre_approval_tool_input_guardrails`) and the invocation
all ask `Firewall.decide_once`, keyed by (caller, session, call id), so one call is decided and
audited once. An approval is settled by the firewall's settlement: it runs the call it was given
for, once; a call whose arguments changed after the approval is blocked.
The identity and session come from the run context the application passes to
`Runner.run(context=...)`, see `toolwall.integrations.adapters._context`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any

from agents import Agent, FunctionTool, RunContextWrapper, Tool
from agents.items import ToolApprovalItem
from agents.tool_context import ToolContext
from agents.tool_guardrails import (
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
    ToolInputGuardrailData,
)

from toolwall.config import Limits
from toolwall.context import Identity
from toolwall.enforce.settle import refused
from toolwall.errors import InputRejected
from toolwall.firewall import Firewall
from toolwall.integrations.adapters._base import Approvals, FrameworkAdapter
from toolwall.integrations.adapters._context import IdentitySource, ToolNames, identity_of
from toolwall.model import Action, Decision, ToolCall
from toolwall.pipeline.normalize import parse_arguments

__all__ = ["ToolwallGuard", "guard_agent", "guard_tools"]

NeedsApproval = Callable[[RunContextWrapper[Any], dict[str, Any], str], Awaitable[bool]]

# A call id no model produces: an approval that also covers it was given with
# `always_approve=True` for the whole tool, not for the call toolwall escalated.
_PROBE_CALL_ID = "toolwall:probe:any-other-call"


class ToolwallGuard(FrameworkAdapter):
    """Puts a `Firewall` in front of Agents SDK function tools.

    Decisions and approvals are kept by the firewall (its state), so a run resumed later, even
    by another guard of the same firewall, meets the decision it was interrupted for.

    `names` maps SDK tool names to toolwall tool names (provider APIs refuse dots, the demo policy
    uses them). `identity`, when given, builds the identity from the run context object instead of
    reading `toolwall_caller` / `toolwall_token` / `toolwall_session` from it.
    """

    # -- wrapping -------------------------------------------------------------------------------

    def tool(self, tool: FunctionTool, name: str | None = None) -> FunctionTool:
        """A copy of `tool` that runs only as the firewall decides (`name`: its toolwall name)."""
        if not isinstance(tool, FunctionTool):
            raise TypeError(f"toolwall can guard FunctionTools only, not {type(tool).__name__}")
        toolwall_name = name if name is not None else self._name(tool.name)
        guarded = copy.copy(tool)
        guarded.on_invoke_tool = self._invoker(tool.on_invoke_tool, toolwall_name)
        guarded.needs_approval = self._approval_check(tool.needs_approval, toolwall_name)
        guarded.tool_input_guardrails = [
            ToolInputGuardrail(guardrail_function=self._guardrail(toolwall_name), name="toolwall"),
            *(tool.tool_input_guardrails or ()),
        ]
        return guarded

    def tools(self, tools: Iterable[Tool], unguarded: Collection[str] = ()) -> list[Tool]:
        """Every tool guarded. A tool that is not a `FunctionTool` (hosted tools, computer, shell)
        cannot be guarded here; it is refused unless its name is listed in `unguarded`."""
        out: list[Tool] = []
        for tool in tools:
            if isinstance(tool, FunctionTool):
                out.append(self.tool(tool))
            elif tool.name in unguarded:
                out.append(tool)
            else:
                raise TypeError(
                    f"tool {tool.name!r} is a {type(tool).__name__}, which toolwall cannot guard; "
                    "leave it out or list its name in unguarded=..."
                )
        return out

    def agent(self, agent: Agent[Any], unguarded: Collection[str] = ()) -> Agent[Any]:
        """A clone of `agent` whose tools are guarded (the original agent is left as it was).

        Tools an agent fetches from `mcp_servers` at run time are not in its tool list, so an
        agent with MCP servers is refused: front those servers with `toolwall mcp` instead.
        Handoff agents are separate agents; guard each of them too.
        """
        if agent.mcp_servers:
            raise TypeError(
                f"agent {agent.name!r} has MCP servers, whose tools toolwall cannot wrap here; "
                "put the toolwall MCP gateway (toolwall mcp run) in front of them instead"
            )
        return agent.clone(tools=self.tools(agent.tools, unguarded))

    def decision_for(self, item: ToolApprovalItem, context: object = None) -> Decision | None:
        """The decision behind an interruption, to show the approver why it was escalated.

        `context` is the object passed as `Runner.run(context=...)`.
        """
        call_id = getattr(item.raw_item, "call_id", None)
        if not isinstance(call_id, str):
            return None
        return self.decided(call_id, self._who(context))

    # -- the two hooks --------------------------------------------------------------------------

    def _approval_check(self, original: bool | NeedsApproval, tool: str) -> NeedsApproval:
        """The `needs_approval` of a guarded tool: toolwall's escalations, then the tool's own."""

        async def needs_approval(
            ctx: RunContextWrapper[Any], params: dict[str, Any], call_id: str
        ) -> bool:
            decision = self.decide(
                ToolCall(tool=tool, args=params, id=call_id), self._who(ctx.context)
            )
            if decision.action is Action.BLOCK:
                # Nobody needs to be asked about a call that will not run.
                return False
            if decision.action is Action.ESCALATE and self.approvals == "framework":
                self.hold(decision)
                return True
            if callable(original):
                return bool(await original(ctx, params, call_id))
            return original

        return needs_approval

    def _guardrail(
        self, tool: str
    ) -> Callable[[ToolInputGuardrailData], Awaitable[ToolGuardrailFunctionOutput]]:
        """A tool input guardrail that rejects blocked calls.

        With `RunConfig(tool_execution=ToolExecutionConfig(pre_approval_tool_input_guardrails=
        True))` the SDK runs it before it asks for an approval, so a call toolwall blocks (also
        one whose arguments the SDK cannot parse, which it would otherwise always send for
        approval) is refused without bothering anyone. The invocation enforces the same decision
        either way.
        """

        async def check(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
            ctx = data.context
            args = _parsed(ctx.tool_arguments, self.firewall.limits)
            decision = self.decide(
                ToolCall(tool=tool, args=args, id=ctx.tool_call_id), self._who(ctx.context)
            )
            if decision.action is Action.BLOCK:
                return ToolGuardrailFunctionOutput.reject_content(
                    decision.message(), output_info={"toolwall_decision": decision.id}
                )
            return ToolGuardrailFunctionOutput.allow()

        return check

    def _invoker(
        self, inner: Callable[[ToolContext[Any], str], Awaitable[Any]], tool: str
    ) -> Callable[[ToolContext[Any], str], Awaitable[Any]]:
        async def invoke(ctx: ToolContext[Any], input: str) -> Any:
            args = _parsed(input, self.firewall.limits)
            call = ToolCall(tool=tool, args=args, id=ctx.tool_call_id)
            decision = self.decide(call, self._who(ctx.context))
            if decision.action is Action.ESCALATE:
                decision = await self._settle(ctx, decision)
            if not decision.action.runs or decision.args is None:
                return decision.message()
            arguments = input
            if decision.args != decision.original_args or decision.action is Action.REWRITE:
                arguments = json.dumps(decision.args, ensure_ascii=False)
                # The tool sees the arguments it runs with, in its context too.
                ctx.tool_arguments = arguments
            result = await inner(ctx, arguments)
            self.firewall.record_result(decision, result)
            return result

        return invoke

    async def _settle(self, ctx: ToolContext[Any], decision: Decision) -> Decision:
        """An escalated decision as enforced: approved once, or turned into a block."""
        approved = ctx.is_tool_approved(ctx.tool_name, ctx.tool_call_id) is True
        if (
            self.approvals == "framework"
            and approved
            and ctx.is_tool_approved(ctx.tool_name, _PROBE_CALL_ID) is True
        ):
            return refused(
                decision,
                f"{ctx.tool_name} was approved for every call (always_approve); "
                "toolwall escalations need an approval per call",
            )
        return await self.settle(decision, framework_approved=approved)

    def _who(self, run_context: object) -> Identity:
        source = self._identity(run_context) if self._identity is not None else run_context
        return identity_of(source)


def guard_tools(
    firewall: Firewall,
    tools: Iterable[Tool],
    *,
    names: ToolNames = None,
    approvals: Approvals = "framework",
    identity: IdentitySource | None = None,
    unguarded: Collection[str] = (),
) -> list[Tool]:
    """`ToolwallGuard(firewall, ...).tools(tools)`: the tools, each guarded."""
    guard = ToolwallGuard(firewall, names=names, approvals=approvals, identity=identity)
    return guard.tools(tools, unguarded)


def guard_agent(
    firewall: Firewall,
    agent: Agent[Any],
    *,
    names: ToolNames = None,
    approvals: Approvals = "framework",
    identity: IdentitySource | None = None,
    unguarded: Collection[str] = (),
) -> Agent[Any]:
    """`ToolwallGuard(firewall, ...).agent(agent)`: a clone of the agent with guarded tools."""
    guard = ToolwallGuard(firewall, names=names, approvals=approvals, identity=identity)
    return guard.agent(agent, unguarded)


def _parsed(arguments: str, limits: Limits) -> dict[str, Any] | str:
    """The arguments as `needs_approval` sees them (a dict), so both hooks share one decision.

    Text the strict parser refuses stays text: the firewall then blocks it with the precise reason.
    """
    try:
        return parse_arguments(arguments, limits)
    except InputRejected:
        return arguments

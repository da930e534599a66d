"""toolwall for Pydantic AI (`pip install 'toolwall[pydantic-ai]'`): one capability.

    from toolwall.integrations.adapters.pydantic_ai import ToolwallCapability

    agent = Agent(model, capabilities=[ToolwallCapability(firewall)],
                  output_type=[str, DeferredToolRequests], deps_type=Deps)
    result = await agent.run("...", deps=Deps(toolwall_token=jwt, toolwall_session=thread_id))

Capability tool hooks run for every tool call of every toolset (function tools, MCP servers,
anything a capability contributes); only the agent's internal output tools are exempt. toolwall
sits in `wrap_tool_validate`, in the innermost tier, and decides on the arguments exactly as the
model sent them (a JSON string or a dict), before Pydantic AI validates them:

- allow: validation goes on with the model's arguments;
- rewrite: validation goes on with the rewritten arguments, so the tool runs with those;
- block: `ToolFailed(decision.message())`. The model reads a failed tool return with the reason;
  unlike `ModelRetry` it does not use up the tool's retry budget, so repeated blocks never end
  the run with `UnexpectedModelBehavior`;
- escalate, `approvals="framework"` (the default): `ApprovalRequired` once the arguments are
  validated, so the run ends with `DeferredToolRequests` (add it to `output_type`). Its
  `metadata[tool_call_id]["toolwall"]` says why and which arguments would run. When the app
  resumes with `DeferredToolResults(approvals={id: True})`, the call runs once;
  `approvals={id: False}` (or `ToolDenied`) and it never runs;
- escalate, `approvals="approver"`: the firewall's approver answers inside the hook.

`Firewall.decide_once`, keyed by (caller, session, tool call id), makes the first pass and the
resumed pass one decision with one audit record. An approval is settled by the firewall's
settlement: honoured once, and only for the arguments the human was shown (arguments edited
before the resume are blocked). Results of calls that ran go to `Firewall.record_result`, so
taint rules see them.
"""

from __future__ import annotations

from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.capabilities import (
    AbstractCapability,
    CapabilityOrdering,
    RawToolArgs,
    ValidatedToolArgs,
    WrapToolValidateHandler,
)
from pydantic_ai.exceptions import ApprovalRequired, ToolFailed
from pydantic_ai.messages import ToolCallPart
from pydantic_ai.tools import ToolDefinition

from toolwall.context import Identity
from toolwall.integrations.adapters._base import FrameworkAdapter
from toolwall.integrations.adapters._context import identity_of
from toolwall.model import Action, Decision, ToolCall

__all__ = ["ToolwallCapability"]


class ToolwallCapability(FrameworkAdapter, AbstractCapability[Any]):
    """A Pydantic AI capability that puts a `Firewall` in front of every tool call.

    Decisions and approvals are kept by the firewall (its state), so a resumed, approved call
    meets the decision and the approval it was deferred for.

    The identity is read from `RunContext.deps` (attributes or keys `toolwall_caller` or
    `toolwall_token`, and `toolwall_session`), or built by `identity(ctx)` when given.
    `names` maps Pydantic AI tool names to toolwall tool names.
    """

    def get_ordering(self) -> CapabilityOrdering:
        # Innermost: the arguments toolwall decides on are the ones handed to validation, after
        # every other capability's wrap_tool_validate has had its say.
        return CapabilityOrdering(position="innermost")

    def decision_for(self, tool_call_id: str, deps: object = None) -> Decision | None:
        """The decision behind a deferred approval request, to show the approver."""
        return self.decided(tool_call_id, self._who(deps))

    async def wrap_tool_validate(
        self,
        ctx: RunContext[Any],
        *,
        call: ToolCallPart,
        tool_def: ToolDefinition,
        args: RawToolArgs,
        handler: WrapToolValidateHandler,
    ) -> ValidatedToolArgs:
        tool = self._name(call.tool_name)
        decision = self.decide(ToolCall(tool=tool, args=args, id=call.tool_call_id), self._who(ctx))
        if decision.action is Action.ESCALATE:
            framework_asks = self.approvals == "framework" and not ctx.tool_call_approved
            # Deferring is only allowed once the arguments are known to be valid.
            if framework_asks and decision.args is not None:
                await handler(decision.args)
                self.hold(decision)
                raise ApprovalRequired(metadata={"toolwall": _approval_metadata(decision)})
            decision = await self.settle(decision, framework_approved=ctx.tool_call_approved)
        if not decision.action.runs or decision.args is None:
            raise ToolFailed(decision.message())
        if decision.args == decision.original_args:
            return await handler(args)
        return await handler(decision.args)

    async def after_tool_execute(
        self,
        ctx: RunContext[Any],
        *,
        call: ToolCallPart,
        tool_def: ToolDefinition,
        args: ValidatedToolArgs,
        result: Any,
    ) -> Any:
        who = self._who(ctx)
        decided = self.decided(call.tool_call_id, who)
        if decided is not None:
            # Under the caller and session the call was decided for.
            self.firewall.record_result(decided, result)
        else:
            self.firewall.record_result(
                ToolCall(tool=self._name(call.tool_name), id=call.tool_call_id),
                result,
                session=who.session,
                caller=who.caller,
            )
        return result

    def _who(self, ctx: RunContext[Any] | object) -> Identity:
        if self._identity is not None:
            return identity_of(self._identity(ctx))
        deps = ctx.deps if isinstance(ctx, RunContext) else ctx
        return identity_of(deps)


def _approval_metadata(decision: Decision) -> dict[str, Any]:
    return {
        "decision": decision.id,
        "tool": decision.tool,
        "reason": decision.reason,
        "rules": list(decision.rules),
        "args": decision.args,
        "original_args": decision.original_args,
    }

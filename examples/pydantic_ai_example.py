"""toolwall in front of a Pydantic AI agent: allow, block, rewrite and escalate.

Runs offline: the model is Pydantic AI's `FunctionModel` playing a script, the policy is the
demo policy at the repository root (toolwall.toml, schemas/, rules/assistant.tw), and the
caller's identity is a token signed by a throw-away development key.

    python examples/pydantic_ai_example.py
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults, ToolDenied

from toolwall.integrations.adapters.pydantic_ai import ToolwallCapability

from _shared import (
    LAST_WORD,
    NAMES,
    TURNS,
    approves,
    check_what_ran,
    db_query,
    email_send,
    firewall_and_token,
    shell_run,
)


@dataclass
class Deps:
    """The application's dependencies; toolwall reads the two `toolwall_*` fields."""

    toolwall_token: str
    toolwall_session: str


def scripted_model() -> FunctionModel:
    """The model's script (see _shared.py) as a `FunctionModel`.

    Before answering, the model prints the tool results it was sent: what it reads back.
    """
    turns: list[list[ToolCallPart] | str] = [
        *(
            [ToolCallPart(tool, args, tool_call_id=call_id) for tool, args, call_id in turn]
            for turn in TURNS
        ),
        LAST_WORD,
    ]

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        last = messages[-1]
        if isinstance(last, ModelRequest):
            for part in last.parts:
                if isinstance(part, ToolReturnPart):
                    print(f"    model reads {part.tool_call_id} ({part.outcome}): {part.content}")
        turn = turns.pop(0)
        if isinstance(turn, str):
            return ModelResponse(parts=[TextPart(turn)])
        return ModelResponse(parts=list(turn))

    return FunctionModel(model)


def build_agent(toolwall: ToolwallCapability) -> Agent[Deps, str | DeferredToolRequests]:
    agent: Agent[Deps, str | DeferredToolRequests] = Agent(
        scripted_model(),
        deps_type=Deps,
        output_type=[str, DeferredToolRequests],
        capabilities=[toolwall],
    )

    # The scenario's tools (see _shared.py) as plain Pydantic AI tools.
    for tool in (email_send, db_query, shell_run):
        agent.tool_plain(tool)
    return agent


async def main() -> None:
    # A development identity provider, the firewall that trusts it, and a token for alice.
    firewall, token = firewall_and_token()
    toolwall = ToolwallCapability(firewall, names=NAMES)
    agent = build_agent(toolwall)
    # The identity travels in the run's dependencies, never in the conversation.
    deps = Deps(toolwall_token=token, toolwall_session="thread-42")

    print("run 1: allow, block, rewrite; then two escalations end the run")
    result = await agent.run("Do the chores.", deps=deps)
    requests = result.output
    assert isinstance(requests, DeferredToolRequests)

    answers: dict[str, bool | ToolDenied] = {}
    for pending in requests.approvals:
        why = requests.metadata[pending.tool_call_id]["toolwall"]
        to = why["args"]["to"]
        print(f"  approval needed for {pending.tool_call_id} (to {to}): {why['reason']}")
        if approves(to):
            print("    -> approved")
            answers[pending.tool_call_id] = True
        else:
            print("    -> denied")
            answers[pending.tool_call_id] = ToolDenied("A human said no: do not send this.")

    print("run 2: resumed with the answers")
    result = await agent.run(
        deps=deps,
        message_history=result.all_messages(),
        deferred_tool_results=DeferredToolResults(approvals=answers),
    )
    print(f"final output: {result.output}")
    check_what_ran()


if __name__ == "__main__":
    asyncio.run(main())

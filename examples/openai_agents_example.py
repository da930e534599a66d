"""toolwall in front of an OpenAI Agents SDK agent: allow, block, rewrite and escalate.

Runs offline: the model is the SDK's own `ScriptedModel`, the policy is the demo policy at the
repository root (toolwall.toml, schemas/, rules/assistant.tw), and the caller's identity is a
token signed by a throw-away development key.

    python examples/openai_agents_example.py
"""

from __future__ import annotations

import asyncio
from typing import Any

from agents import Agent, RunConfig, Runner, function_tool
from agents.testing import ScriptedModel, assistant_message, function_call

from toolwall.integrations.adapters.openai_agents import ToolwallGuard

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

# The scenario's tools (see _shared.py) as Agents SDK function tools.
TOOLS = [function_tool(email_send), function_tool(db_query), function_tool(shell_run)]


def script() -> ScriptedModel:
    """The model's script (see _shared.py) as the SDK's scripted model."""
    turns = [
        [function_call(tool, args, call_id=call_id) for tool, args, call_id in turn]
        for turn in TURNS
    ]
    return ScriptedModel([*turns, [assistant_message(LAST_WORD)]])


def show_outputs(model: ScriptedModel, shown: set[str]) -> None:
    """The tool outputs the model read on its last turn that were not shown yet."""
    for item in model.calls[-1].input:
        if not isinstance(item, dict) or item.get("type") != "function_call_output":
            continue
        if item["call_id"] not in shown:
            shown.add(item["call_id"])
            print(f"    model reads {item['call_id']}: {item['output']}")


async def main() -> None:
    # A development identity provider, the firewall that trusts it, and a token for alice.
    firewall, token = firewall_and_token(session="thread-42")

    guard = ToolwallGuard(firewall, names=NAMES)
    model = script()
    agent = guard.agent(Agent(name="assistant", model=model, tools=TOOLS))
    # The identity travels in the application's run context, never in the conversation.
    context: dict[str, Any] = {"toolwall_token": token}
    config = RunConfig(tracing_disabled=True)
    shown: set[str] = set()

    print("run 1: allow, block, rewrite; then two escalations stop the run")
    result = await Runner.run(agent, "Do the chores.", context=context, run_config=config)
    show_outputs(model, shown)

    state = result.to_state()
    for item in result.interruptions:
        decision = guard.decision_for(item, context)
        assert decision is not None
        to = decision.args["to"] if decision.args else "?"
        print(f"  approval needed for {item.raw_item.call_id} (to {to}): {decision.reason}")
        if approves(to):
            print("    -> approved")
            state.approve(item)
        else:
            print("    -> rejected")
            state.reject(item, rejection_message="A human said no: do not send this.")

    print("run 2: resumed with the answers")
    result = await Runner.run(agent, state, context=context, run_config=config)
    show_outputs(model, shown)
    print(f"final output: {result.final_output}")
    check_what_ran()


if __name__ == "__main__":
    asyncio.run(main())

"""toolwall in front of an OpenAI Agents SDK agent: allow, block, rewrite and escalate.

Runs offline: the model is the SDK's own `ScriptedModel`, the policy is the demo policy at the
repository root (toolwall.toml, schemas/, rules/assistant.tw), and the caller's identity is a
token signed by a throw-away development key.

    python examples/openai_agents_example.py
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agents import Agent, RunConfig, Runner, function_tool
from agents.testing import ScriptedModel, assistant_message, function_call

from toolwall import Firewall
from toolwall.adapters.openai_agents import ToolwallGuard
from toolwall.devkeys import generate_private_key, mint_token
from toolwall.identity import JWTVerifier

ROOT = Path(__file__).resolve().parents[1]

# Provider APIs refuse dots in tool names; the policy names tools with them.
# What really ran, checked at the end: the example fails loudly if enforcement breaks.
RAN: list[tuple[str, object]] = []

NAMES = {"email_send": "email.send", "db_query": "db.query", "shell_run": "shell.run"}


@function_tool
def email_send(to: list[str], subject: str, body: str) -> str:
    """Send an email."""
    RAN.append(("email_send", to))
    print(f"    [tool] email_send ran: to={to}")
    return f"sent to {', '.join(to)}"


@function_tool
def db_query(sql: str, limit: int, debug: bool = False) -> str:
    """Run a read-only SQL query."""
    RAN.append(("db_query", limit))
    print(f"    [tool] db_query ran: sql={sql!r} limit={limit} debug={debug}")
    return f"{limit} rows"


@function_tool
def shell_run(command: str) -> str:
    """Run a shell command."""
    RAN.append(("shell_run", command))
    print(f"    [tool] shell_run ran: {command!r}")  # never printed below: the call is blocked
    return "done"


def script() -> ScriptedModel:
    """What the model 'decides': first three calls at once, then two mails outside the company."""
    colleague = {"to": ["bob@acme.test"], "subject": "Lunch", "body": "Noon?"}
    outsider = {"to": ["eve@elsewhere.test"], "subject": "Numbers", "body": "Q3 figures"}
    stranger = {"to": ["mallory@evil.test"], "subject": "Passwords", "body": "all of them"}
    return ScriptedModel(
        [
            [
                function_call("email_send", colleague, call_id="call-allow"),
                function_call("shell_run", {"command": "rm -rf /srv"}, call_id="call-block"),
                function_call(
                    "db_query",
                    {"sql": "select * from orders", "limit": 5000, "debug": True},
                    call_id="call-rewrite",
                ),
            ],
            [
                function_call("email_send", outsider, call_id="call-escalate-yes"),
                function_call("email_send", stranger, call_id="call-escalate-no"),
            ],
            [assistant_message("All done.")],
        ]
    )


def show_outputs(model: ScriptedModel, shown: set[str]) -> None:
    """The tool outputs the model read on its last turn that were not shown yet."""
    for item in model.calls[-1].input:
        if not isinstance(item, dict) or item.get("type") != "function_call_output":
            continue
        if item["call_id"] not in shown:
            shown.add(item["call_id"])
            print(f"    model reads {item['call_id']}: {item['output']}")


async def main() -> None:
    # A development identity provider and the firewall that trusts it.
    key = generate_private_key()
    firewall = Firewall.from_config(
        ROOT / "toolwall.toml",
        identity=JWTVerifier.from_public_key(key.public_key(), audience="toolwall"),
    )
    token = mint_token(
        key,
        sub="alice",
        tools=["email.*", "db.query", "shell.run"],
        ttl_s=600,
        audience="toolwall",
        session="thread-42",
    )

    guard = ToolwallGuard(firewall, names=NAMES)
    model = script()
    agent = guard.agent(
        Agent(name="assistant", model=model, tools=[email_send, db_query, shell_run])
    )
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
        if to == ["eve@elsewhere.test"]:
            print("    -> approved")
            state.approve(item)
        else:
            print("    -> rejected")
            state.reject(item, rejection_message="A human said no: do not send this.")

    print("run 2: resumed with the answers")
    result = await Runner.run(agent, state, context=context, run_config=config)
    show_outputs(model, shown)
    print(f"final output: {result.final_output}")
    expected = [
        ("email_send", ["bob@acme.test"]),  # allowed
        ("db_query", 100),  # rewritten: the row limit capped; shell_run was blocked
        ("email_send", ["eve@elsewhere.test"]),  # escalated and approved; mallory's rejected
    ]
    # Tools of one turn run concurrently, so compare without their order.
    assert sorted(map(repr, RAN)) == sorted(map(repr, expected)), RAN


if __name__ == "__main__":
    asyncio.run(main())

"""toolwall in front of a Pydantic AI agent: allow, block, rewrite and escalate.

Runs offline: the model is Pydantic AI's `FunctionModel` playing a script, the policy is the
demo policy at the repository root (toolwall.toml, schemas/, rules/assistant.tw), and the
caller's identity is a token signed by a throw-away development key.

    python examples/pydantic_ai_example.py
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

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

from toolwall import Firewall
from toolwall.adapters.pydantic_ai import ToolwallCapability
from toolwall.devkeys import generate_private_key, mint_token
from toolwall.identity import JWTVerifier

ROOT = Path(__file__).resolve().parents[1]

# Provider APIs refuse dots in tool names; the policy names tools with them.
# What really ran, checked at the end: the example fails loudly if enforcement breaks.
RAN: list[tuple[str, object]] = []

NAMES = {"email_send": "email.send", "db_query": "db.query", "shell_run": "shell.run"}


@dataclass
class Deps:
    """The application's dependencies; toolwall reads the two `toolwall_*` fields."""

    toolwall_token: str
    toolwall_session: str


def scripted_model() -> FunctionModel:
    """First three calls at once, then two mails outside the company, then a last word.

    Before answering, the model prints the tool results it was sent: what it reads back.
    """
    colleague = {"to": ["bob@acme.test"], "subject": "Lunch", "body": "Noon?"}
    outsider = {"to": ["eve@elsewhere.test"], "subject": "Numbers", "body": "Q3 figures"}
    stranger = {"to": ["mallory@evil.test"], "subject": "Passwords", "body": "all of them"}
    turns: list[list[ToolCallPart] | str] = [
        [
            ToolCallPart("email_send", colleague, tool_call_id="call-allow"),
            ToolCallPart("shell_run", {"command": "rm -rf /srv"}, tool_call_id="call-block"),
            ToolCallPart(
                "db_query",
                {"sql": "select * from orders", "limit": 5000, "debug": True},
                tool_call_id="call-rewrite",
            ),
        ],
        [
            ToolCallPart("email_send", outsider, tool_call_id="call-escalate-yes"),
            ToolCallPart("email_send", stranger, tool_call_id="call-escalate-no"),
        ],
        "All done.",
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

    @agent.tool_plain
    def email_send(to: list[str], subject: str, body: str) -> str:
        """Send an email."""
        RAN.append(("email_send", to))
        print(f"    [tool] email_send ran: to={to}")
        return f"sent to {', '.join(to)}"

    @agent.tool_plain
    def db_query(sql: str, limit: int, debug: bool = False) -> str:
        """Run a read-only SQL query."""
        RAN.append(("db_query", limit))
        print(f"    [tool] db_query ran: sql={sql!r} limit={limit} debug={debug}")
        return f"{limit} rows"

    @agent.tool_plain
    def shell_run(command: str) -> str:
        """Run a shell command."""
        RAN.append(("shell_run", command))
        print(f"    [tool] shell_run ran: {command!r}")  # never printed: the call is blocked
        return "done"

    return agent


async def main() -> None:
    key = generate_private_key()
    firewall = Firewall.from_config(
        ROOT / "toolwall.toml",
        identity=JWTVerifier.from_public_key(key.public_key(), audience="toolwall"),
    )
    token = mint_token(
        key, sub="alice", tools=["email.*", "db.query", "shell.run"], ttl_s=600, audience="toolwall"
    )
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
        if to == ["eve@elsewhere.test"]:
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
    expected = [
        ("email_send", ["bob@acme.test"]),  # allowed
        ("db_query", 100),  # rewritten: the row limit capped; shell_run was blocked
        ("email_send", ["eve@elsewhere.test"]),  # escalated and approved; mallory's rejected
    ]
    # Tools of one turn run concurrently, so compare without their order.
    assert sorted(map(repr, RAN)) == sorted(map(repr, expected)), RAN


if __name__ == "__main__":
    asyncio.run(main())

"""A LangChain v1 agent (`create_agent`) whose tool calls go through toolwall.

Runs offline: the model is LangChain's own `GenericFakeChatModel`, scripted to propose four tool
calls (allowed, rewritten, blocked, escalated). The escalated call stops the graph with a
LangGraph interrupt; the app shows it to a human and resumes with `Command(resume=...)`.

    python examples/langchain_agent.py
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from toolwall import Caller, Firewall
from toolwall.integrations.adapters.langchain import ToolwallMiddleware

POLICY = Path(__file__).resolve().parent.parent / "toolwall.toml"
executed: list[str] = []


class ScriptedModel(GenericFakeChatModel):
    """The fake chat model; `create_agent` binds tools, which a scripted reply ignores."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedModel:
        return self


@tool("fs.read")
def read_file(path: str) -> str:
    """Read a file."""
    executed.append(f"fs.read {path}")
    return f"(contents of {path})"


@tool("db.query")
def query(sql: str, limit: int, debug: bool = False) -> str:
    """Run a read-only SQL query."""
    executed.append(f"db.query limit={limit}")
    return f"{min(limit, 3)} rows"


@tool("shell.run")
def shell(command: str) -> str:
    """Run a shell command."""
    executed.append(f"shell.run {command}")
    return "done"


@tool("email.send")
def send_mail(to: list[str], subject: str, body: str) -> str:
    """Send an email."""
    executed.append(f"email.send {to}")
    return "sent"


def main() -> dict[str, Any]:
    firewall = Firewall.from_config(POLICY)
    turn = AIMessage(
        content="",
        tool_calls=[
            {"id": "c_read", "name": "fs.read", "args": {"path": "/srv/workspace/q3.md"}},
            {"id": "c_rows", "name": "db.query", "args": {"sql": "select *", "limit": 900}},
            {"id": "c_wipe", "name": "shell.run", "args": {"command": "rm -rf /srv"}},
            {
                "id": "c_mail",
                "name": "email.send",
                "args": {"to": ["cfo@partner.test"], "subject": "Q3", "body": "attached"},
            },
        ],
    )
    model = ScriptedModel(messages=iter([turn, AIMessage(content="Report sent; cleanup refused.")]))
    agent = create_agent(
        model,
        [read_file, query, shell, send_mail],
        middleware=[ToolwallMiddleware(firewall)],
        checkpointer=InMemorySaver(),  # interrupts need a checkpointer
    )

    # Identity and session come from the run, never from the messages.
    run = {"configurable": {"thread_id": "demo-thread"}}
    caller = Caller(sub="assistant", tools=("fs.*", "db.query", "email.*", "shell.run"))
    context = {"toolwall_caller": caller}
    user = {"messages": [{"role": "user", "content": "Send the Q3 report and clean up."}]}

    state = agent.invoke(user, run, context=context)
    for pending in state["__interrupt__"]:
        value = pending.value
        print(f"waiting for approval: {value['tool']} {value['args']}")
        print(f"  because: {value['reasons'][0]['message']}  (decision {value['decision_id']})")
    print(f"executed so far: {executed}")

    # A human approved: resume the graph (one answer per waiting interrupt).
    answers = {p.id: {"approved": True, "by": "alice"} for p in state["__interrupt__"]}
    state = agent.invoke(Command(resume=answers), run, context=context)

    print(f"executed: {executed}")
    for message in state["messages"]:
        if isinstance(message, ToolMessage):
            print(f"  {message.tool_call_id:<7} {message.status:<8} {message.content}")
    print(f"model: {state['messages'][-1].content}")

    assert "shell.run rm -rf /srv" not in executed
    assert "db.query limit=100" in executed
    assert executed.count("email.send ['cfo@partner.test']") == 1
    return state


if __name__ == "__main__":
    main()

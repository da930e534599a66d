"""Properties of the adapters' enforcement, over generated calls.

Whatever the model proposes, the tool behind a guarded hook runs exactly when the firewall's
decision lets it, with exactly the decided arguments, and each call is decided (and audited) once.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("agents")

from agents import FunctionTool, RunContextWrapper
from agents.tool_context import ToolContext

from tests.integrations.adapters.agents_support import ALICE, REPO, RecordingAudit, TinyRules
from toolwall import Firewall, ToolCall
from toolwall.integrations.adapters.openai_agents import ToolwallGuard
from toolwall.schemas.registry import SchemaRegistry

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=12)
)
query_args = st.fixed_dictionaries(
    {"sql": st.one_of(st.text(max_size=20), st.integers()), "limit": json_scalars},
    optional={"debug": json_scalars, "extra": json_scalars},
)
commands = st.fixed_dictionaries(
    {"command": st.sampled_from(["ls", "rm -rf /", "echo hi", "rm -rf ~"])}
)
mails = st.fixed_dictionaries(
    {
        "to": st.lists(
            st.sampled_from(["bob@acme.test", "eve@elsewhere.test", "x@acme-corp.test"]),
            min_size=1,
            max_size=3,
        ),
        "subject": st.text(max_size=10),
        "body": st.text(max_size=10),
    }
)
proposals = st.one_of(
    query_args.map(lambda a: ("db.query", a)),
    commands.map(lambda a: ("shell.run", a)),
    mails.map(lambda a: ("email.send", a)),
)
_ids = itertools.count()


def _recording_tool(name: str, ran: list[dict[str, Any]]) -> FunctionTool:
    async def invoke(ctx: ToolContext[Any], arguments: str) -> str:
        ran.append(json.loads(arguments))
        return "ran"

    return FunctionTool(
        name=name,
        description="records its arguments",
        params_json_schema={"type": "object", "properties": {}},
        on_invoke_tool=invoke,
        strict_json_schema=False,
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(proposal=proposals)
def test_agents_tool_runs_iff_allowed_with_the_decided_arguments(
    proposal: tuple[str, dict[str, Any]],
) -> None:
    tool, args = proposal
    audit = RecordingAudit()
    firewall = Firewall(
        schemas=SchemaRegistry.load(REPO / "schemas"), rules=TinyRules(), audit=audit
    )
    expected = Firewall(schemas=firewall.schemas, rules=TinyRules()).decide(
        ToolCall(tool=tool, args=args), caller=ALICE
    )
    ran: list[dict[str, Any]] = []
    guarded = ToolwallGuard(firewall).tool(_recording_tool(tool, ran))
    call_id = f"c{next(_ids)}"
    text = json.dumps(args)
    context = {"toolwall_caller": ALICE}

    async def both_hooks() -> Any:
        assert callable(guarded.needs_approval)
        await guarded.needs_approval(RunContextWrapper(context=context), args, call_id)
        ctx = ToolContext(
            context=context, tool_name=tool, tool_call_id=call_id, tool_arguments=text
        )
        return await guarded.on_invoke_tool(ctx, text)

    output = asyncio.run(both_hooks())
    if expected.action.runs:
        assert ran == [expected.args]
        assert output == "ran"
    else:
        # Blocked, or escalated without an approval on the run: the tool never runs.
        assert ran == []
        assert output.startswith("toolwall blocked the call")
    assert len(audit.decisions) == 1
    assert audit.decisions[0].action is expected.action


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(proposal=proposals, as_text=st.booleans())
def test_pydantic_ai_tool_runs_iff_allowed_with_the_decided_arguments(
    proposal: tuple[str, dict[str, Any]], as_text: bool
) -> None:
    pytest.importorskip("pydantic_ai")
    from pydantic_ai import Agent, Tool
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel
    from pydantic_ai.tools import DeferredToolRequests

    from toolwall.integrations.adapters.pydantic_ai import ToolwallCapability

    tool, args = proposal
    audit = RecordingAudit()
    firewall = Firewall(
        schemas=SchemaRegistry.load(REPO / "schemas"), rules=TinyRules(), audit=audit
    )
    expected = Firewall(schemas=firewall.schemas, rules=TinyRules()).decide(
        ToolCall(tool=tool, args=args), caller=ALICE
    )
    ran: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> str:
        ran.append(kwargs)
        return "ran"

    wire_name = tool.replace(".", "_")
    turns: list[ModelResponse] = [
        ModelResponse(parts=[ToolCallPart(wire_name, json.dumps(args) if as_text else args, "c1")]),
        ModelResponse(parts=[TextPart("end")]),
    ]

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return turns.pop(0)

    agent: Agent[Any, Any] = Agent(
        FunctionModel(model),
        # Schema validation is skipped for a from_schema tool: it receives what toolwall passed.
        tools=[Tool.from_schema(record, wire_name, None, {"type": "object"})],
        capabilities=[ToolwallCapability(firewall, names=lambda n: n.replace("_", ".", 1))],
        output_type=[str, DeferredToolRequests],
    )
    result = agent.run_sync("go", deps={"toolwall_caller": ALICE})
    if expected.action.runs:
        assert ran == [expected.args]
    else:
        assert ran == []
    assert isinstance(result.output, DeferredToolRequests) == (expected.action.value == "escalate")
    assert [d.action for d in audit.decisions] == [expected.action]

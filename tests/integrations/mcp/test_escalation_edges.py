"""Escalation corner cases: an unanswered elicitation, and a 2026-07-28 answer replayed for
another call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp_helpers import TinyRules, text_of, upstream_command, verdict

from toolwall import Action, Caller, Firewall
from toolwall.config import McpConfig
from toolwall.integrations.mcp import Gateway
from toolwall.schemas.registry import SchemaRegistry

pytestmark = pytest.mark.anyio

ALICE = Caller(sub="alice", tools=("up.*",), authenticated=True)


def gateway(tmp_path: Path, approval_timeout_s: float | None = None) -> Gateway:
    command, args = upstream_command()
    config = McpConfig.model_validate(
        {
            "servers": {
                "up": {
                    "command": command,
                    "args": args,
                    "env": {"UPSTREAM_LOG": str(tmp_path / "upstream.log")},
                }
            },
            "lock_file": str(tmp_path / "toolwall.lock"),
        }
    )
    rules = TinyRules({"up.pay": lambda t, a, c, s: verdict(Action.ESCALATE, "needs a human")})
    firewall = Firewall(schemas=SchemaRegistry(), rules=rules)
    return Gateway(
        firewall, config, base_dir=tmp_path, caller=ALICE, approval_timeout_s=approval_timeout_s
    )


def upstream_calls(tmp_path: Path) -> list[Any]:
    log = tmp_path / "upstream.log"
    return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []


async def test_an_unanswered_elicitation_is_a_denial(tmp_path: Path):
    async def never(ctx: Any, params: Any) -> types.ElicitResult:
        await anyio.sleep(60)
        return types.ElicitResult(action="accept", content={"approve": True})

    async with (
        gateway(tmp_path, approval_timeout_s=0.3) as gw,
        Client(gw.server, mode="legacy", elicitation_callback=never) as agent,
    ):
        result = await agent.call_tool("up__pay", {"amount": 1})
    assert result.is_error
    assert "no answer within 0.3 s" in text_of(result)
    assert upstream_calls(tmp_path) == []


async def test_an_answer_is_bound_to_its_call_and_used_once(tmp_path: Path):
    async def yes(ctx: Any, params: Any) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"approve": True})

    async with (
        gateway(tmp_path) as gw,
        Client(gw.server, elicitation_callback=yes) as agent,
    ):
        assert agent.protocol_version == "2026-07-28"
        first = await agent.session.call_tool("up__pay", {"amount": 1}, allow_input_required=True)
        assert isinstance(first, types.InputRequiredResult)
        approval = {
            "toolwall_approval": types.ElicitResult(action="accept", content={"approve": True})
        }
        # The same answer sent with other arguments does not approve them.
        other = await agent.session.call_tool(
            "up__pay",
            {"amount": 1_000_000},
            input_responses=approval,
            request_state=first.request_state,
            allow_input_required=True,
        )
        assert isinstance(other, types.CallToolResult) and other.is_error
        assert "sent for another call" in text_of(other)
        # ... and it was used up: replaying it for the original call does not work either.
        replay = await agent.session.call_tool(
            "up__pay",
            {"amount": 1},
            input_responses=approval,
            request_state=first.request_state,
            allow_input_required=True,
        )
        assert isinstance(replay, types.CallToolResult) and replay.is_error
        assert "unknown or expired" in text_of(replay)
        # A fresh round trip works.
        fresh = await agent.call_tool("up__pay", {"amount": 1})
        assert text_of(fresh) == "paid 1"
    assert upstream_calls(tmp_path) == [["pay", {"amount": 1}]]


async def test_an_answer_after_the_approval_expired_approves_nothing(tmp_path: Path):
    """2026-07-28: the answer to a question comes back after the approval's time ran out."""
    approval = {"toolwall_approval": types.ElicitResult(action="accept", content={"approve": True})}
    async with (
        gateway(tmp_path, approval_timeout_s=0.2) as gw,
        Client(gw.server, elicitation_callback=lambda ctx, params: None) as agent,
    ):
        first = await agent.session.call_tool("up__pay", {"amount": 1}, allow_input_required=True)
        assert isinstance(first, types.InputRequiredResult)
        await anyio.sleep(0.4)
        late = await agent.session.call_tool(
            "up__pay",
            {"amount": 1},
            input_responses=approval,
            request_state=first.request_state,
            allow_input_required=True,
        )
    assert isinstance(late, types.CallToolResult) and late.is_error
    assert "unknown or expired" in text_of(late)
    assert upstream_calls(tmp_path) == []

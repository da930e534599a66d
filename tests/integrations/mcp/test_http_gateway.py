"""An upstream written with the SDK's server API, served over streamable HTTP on 127.0.0.1,
reached through the gateway served over streamable HTTP: rewrite, escalation answered through
elicitation (both protocol eras), identity from the header, taint across calls."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp_helpers import (
    Keys,
    TinyRules,
    free_port,
    http_agent,
    serving,
    text_of,
    verdict,
)
from upstream_server import HOSTILE, build_server

from toolwall import Action, ApprovalAnswer, Callback, Firewall
from toolwall.audit import AuditLog, read_records, verify
from toolwall.config import McpConfig
from toolwall.integrations.mcp import Gateway, http_app
from toolwall.schemas.registry import SchemaRegistry

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]  # handshake era (elicitation/create) and 2026-07-28 (input required)


def cap_limit(tool: str, args: dict[str, Any], caller: Any, session: Any) -> Any:
    if args.get("limit", 0) > 10:
        return verdict(Action.REWRITE, "limit capped at 10", args={**args, "limit": 10})
    return None


def pay_rule(tool: str, args: dict[str, Any], caller: Any, session: Any) -> Any:
    if session.tainted:
        return verdict(Action.BLOCK, "payment after reading untrusted content")
    if args["amount"] > 100:
        return verdict(Action.ESCALATE, "payments over 100 need approval")
    return None


RULES = TinyRules({"up.echo": cap_limit, "up.pay": pay_rule}, taint=["up.fetch"])


@asynccontextmanager
async def stack(
    tmp_path: Path, keys: Keys, approver: Any = None, elicitation: bool = True, audit: Any = None
) -> AsyncIterator[tuple[str, list[tuple[str, dict[str, Any]]], Gateway]]:
    """Upstream on one port, gateway on another; yields the gateway URL and what the
    upstream saw."""
    seen: list[tuple[str, dict[str, Any]]] = []
    upstream = build_server(seen).streamable_http_app(host="127.0.0.1")
    async with serving(upstream, free_port()) as upstream_url:
        config = McpConfig.model_validate(
            {
                "servers": {"up": {"url": upstream_url}},
                "lock_file": str(tmp_path / "toolwall.lock"),
                "elicitation": elicitation,
            }
        )
        parts: dict[str, Any] = {"approver": approver} if approver is not None else {}
        if audit is not None:
            parts["audit"] = audit
        firewall = Firewall(schemas=SchemaRegistry(), rules=RULES, identity=keys.verifier, **parts)
        gateway = Gateway(firewall, config, base_dir=tmp_path)
        async with gateway, serving(http_app(gateway), free_port()) as url:
            yield url, seen, gateway


def identity(keys: Keys, sub: str = "alice", tools: tuple[str, ...] = ("up.*",)) -> dict[str, str]:
    return {"X-Toolwall-Identity": keys.token(sub, tools)}


@pytest.mark.parametrize("mode", ERAS)
async def test_rewrite_reaches_the_server(tmp_path: Path, keys: Keys, mode: str):
    async with (
        stack(tmp_path, keys) as (url, seen, _),
        http_agent(url, identity(keys), mode=mode) as agent,
    ):
        result = await agent.call_tool("up__echo", {"text": "hi", "limit": 500})
    assert not result.is_error
    assert seen == [("echo", {"text": "hi", "limit": 10})]
    assert text_of(result) == '{"limit": 10, "text": "hi"}'


def elicitation_answer(approve: bool | None, asked: list[str]) -> Any:
    async def answer(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        if approve is None:
            return types.ElicitResult(action="decline")
        return types.ElicitResult(action="accept", content={"approve": approve})

    return answer


@pytest.mark.parametrize("mode", ERAS)
async def test_escalation_approved_through_elicitation(tmp_path: Path, keys: Keys, mode: str):
    asked: list[str] = []
    audit = AuditLog(tmp_path / "audit.jsonl")
    async with (
        stack(tmp_path, keys, audit=audit) as (url, seen, _),
        http_agent(
            url, identity(keys), mode=mode, elicitation_callback=elicitation_answer(True, asked)
        ) as agent,
    ):
        result = await agent.call_tool("up__pay", {"amount": 500})
    assert not result.is_error, text_of(result)
    # Decided once, approved once (by the user, through the client), result recorded.
    records = list(read_records(tmp_path / "audit.jsonl"))
    assert [r["type"] for r in records] == ["decision", "approval", "result"]
    assert records[0]["action"] == "escalate"
    assert records[1]["approved"] is True
    assert records[1]["by"] == "mcp-user:alice"
    assert verify(tmp_path / "audit.jsonl").ok
    assert text_of(result) == "paid 500"
    assert seen == [("pay", {"amount": 500})]
    assert len(asked) == 1
    assert "alice wants to run up.pay" in asked[0]
    assert "payments over 100 need approval" in asked[0]


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("approve", [False, None], ids=["answered-no", "declined"])
async def test_escalation_denied_through_elicitation(
    tmp_path: Path, keys: Keys, mode: str, approve: bool | None
):
    asked: list[str] = []
    async with (
        stack(tmp_path, keys) as (url, seen, _),
        http_agent(
            url, identity(keys), mode=mode, elicitation_callback=elicitation_answer(approve, asked)
        ) as agent,
    ):
        result = await agent.call_tool("up__pay", {"amount": 500})
    assert result.is_error
    assert "denied by mcp-user:alice" in text_of(result)
    assert seen == []
    assert len(asked) == 1


@pytest.mark.parametrize("mode", ERAS)
async def test_without_elicitation_the_configured_approver_answers(
    tmp_path: Path, keys: Keys, mode: str
):
    asked: list[str] = []

    def approver(request: Any) -> ApprovalAnswer:
        asked.append(request.tool)
        return ApprovalAnswer(True, by="ops")

    # This client declares no elicitation capability.
    async with (
        stack(tmp_path, keys, approver=Callback(approver)) as (url, _seen, _),
        http_agent(url, identity(keys), mode=mode) as agent,
    ):
        result = await agent.call_tool("up__pay", {"amount": 500})
    assert text_of(result) == "paid 500"
    assert asked == ["up.pay"]


async def test_elicitation_off_uses_the_default_deny(tmp_path: Path, keys: Keys):
    asked: list[str] = []
    async with (
        stack(tmp_path, keys, elicitation=False) as (url, seen, _),
        http_agent(
            url, identity(keys), elicitation_callback=elicitation_answer(True, asked)
        ) as agent,
    ):
        result = await agent.call_tool("up__pay", {"amount": 500})
    assert result.is_error
    assert "no approver is configured" in text_of(result)
    assert asked == [] and seen == []


@pytest.mark.parametrize("mode", ERAS)
async def test_identity_header_present_absent_forged(tmp_path: Path, keys: Keys, mode: str):
    other = Keys()  # a key the gateway does not trust
    async with stack(tmp_path, keys) as (url, seen, _):
        async with http_agent(url, identity(keys, tools=("up.echo",)), mode=mode) as agent:
            assert [t.name for t in (await agent.list_tools()).tools] == ["up__echo"]
            assert not (await agent.call_tool("up__echo", {"text": "a"})).is_error

        async with http_agent(url, {}, mode=mode) as agent:
            assert (await agent.list_tools()).tools == []
            result = await agent.call_tool("up__echo", {"text": "b"})
            assert result.is_error
            assert "the anonymous caller is not granted up.echo" in text_of(result)

        forged = {"X-Toolwall-Identity": other.token("mallory", ["up.*"])}
        async with http_agent(url, forged, mode=mode) as agent:
            assert (await agent.list_tools()).tools == []
            result = await agent.call_tool("up__echo", {"text": "c"})
            assert result.is_error
            assert "signature" in text_of(result).lower()

        # A valid token in Authorization (meant for the MCP server) is not a grant.
        bearer = {"Authorization": "Bearer " + keys.token("alice", ["up.*"])}
        async with http_agent(url, bearer, mode=mode) as agent:
            assert (await agent.list_tools()).tools == []
            assert (await agent.call_tool("up__echo", {"text": "d"})).is_error
    assert seen == [("echo", {"text": "a"})]


@pytest.mark.parametrize("mode", ERAS)
async def test_taint_from_an_upstream_result_fires_on_a_later_call(
    tmp_path: Path, keys: Keys, mode: str
):
    async with stack(tmp_path, keys) as (url, seen, _):
        async with http_agent(url, identity(keys), mode=mode) as agent:
            assert text_of(await agent.call_tool("up__pay", {"amount": 5})) == "paid 5"
            fetched = await agent.call_tool("up__fetch", {"url": "https://evil.test"})
            assert text_of(fetched) == HOSTILE
            result = await agent.call_tool("up__pay", {"amount": 5})
            assert result.is_error
            assert "payment after reading untrusted content" in text_of(result)
        # Another caller's conversation is not tainted.
        async with http_agent(url, identity(keys, sub="carol"), mode=mode) as agent:
            assert text_of(await agent.call_tool("up__pay", {"amount": 7})) == "paid 7"
    assert [name for name, _ in seen] == ["pay", "fetch", "pay"]


class GarbageOnCall:
    """ASGI middleware in front of the upstream: answers `tools/call` of `garbage` with a
    JSON-RPC response whose result is not a CallToolResult."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            request = json.loads(body)
        except ValueError:
            request = None
        if (
            isinstance(request, dict)
            and request.get("method") == "tools/call"
            and request.get("params", {}).get("name") == "garbage"
        ):
            payload = json.dumps(
                {"jsonrpc": "2.0", "id": request["id"], "result": {"content": 42}}
            ).encode()
            headers = [(b"content-type", b"application/json")]
            for name, value in scope["headers"]:
                if name == b"mcp-session-id":
                    headers.append((name, value))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def test_an_upstream_answering_garbage_is_a_tool_error(tmp_path: Path, keys: Keys):
    seen: list[tuple[str, dict[str, Any]]] = []
    upstream = GarbageOnCall(build_server(seen).streamable_http_app(host="127.0.0.1"))
    audit = AuditLog(tmp_path / "audit.jsonl")
    async with serving(upstream, free_port()) as upstream_url:
        config = McpConfig.model_validate(
            {"servers": {"up": {"url": upstream_url}}, "lock_file": str(tmp_path / "t.lock")}
        )
        firewall = Firewall(
            schemas=SchemaRegistry(), rules=TinyRules(), identity=keys.verifier, audit=audit
        )
        gateway = Gateway(firewall, config, base_dir=tmp_path)
        async with (
            gateway,
            serving(http_app(gateway), free_port()) as url,
            http_agent(url, identity(keys)) as agent,
        ):
            result = await agent.call_tool("up__garbage", {})
            assert result.is_error
            assert "server 'up' sent an invalid answer to tools/call garbage" in text_of(result)
            echo = await agent.call_tool("up__echo", {"text": "fine"})
            assert text_of(echo) == '{"text": "fine"}'
    kinds = [r["type"] for r in read_records(tmp_path / "audit.jsonl")]
    assert kinds[:2] == ["decision", "upstream_error"]


async def test_an_answer_from_another_caller_approves_nothing(tmp_path: Path, keys: Keys):
    """2026-07-28: the question went to alice; bob sending the answer (with her request state
    and her exact call) does not run her call."""
    yes = {"toolwall_approval": types.ElicitResult(action="accept", content={"approve": True})}
    asked: list[str] = []
    async with (
        stack(tmp_path, keys) as (url, seen, _),
        http_agent(
            url, identity(keys), mode="auto", elicitation_callback=elicitation_answer(True, asked)
        ) as alice,
        http_agent(
            url,
            identity(keys, "bob"),
            mode="auto",
            elicitation_callback=elicitation_answer(True, asked),
        ) as bob,
    ):
        question = await alice.session.call_tool(
            "up__pay", {"amount": 500}, allow_input_required=True
        )
        assert isinstance(question, types.InputRequiredResult)
        answered = await bob.session.call_tool(
            "up__pay",
            {"amount": 500},
            input_responses=yes,
            request_state=question.request_state,
            allow_input_required=True,
        )
    assert isinstance(answered, types.CallToolResult) and answered.is_error
    assert "sent for another call or caller" in text_of(answered)
    assert seen == []

"""Two gateway replicas (`toolwall mcp serve` behind a load balancer) built from one
toolwall.toml whose `[state]` is a real Redis: a session's taint and counts follow the agent from
one replica to the other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp_helpers import Keys, free_port, http_agent, serving, text_of
from upstream_server import build_server

from tests.state.redis_server import running
from toolwall.integrations.mcp import Gateway, http_app

pytestmark = pytest.mark.anyio

RULES = """
taint up.fetch

rule echo_limit:
    on up.echo
    when count("up.echo") >= 2
    block
    because "two echoes per conversation"

rule pay_after_untrusted:
    on up.pay
    when session.tainted
    block
    because "payment after reading untrusted content"
"""


def write_config(folder: Path, upstream: str, redis_url: str) -> Path:
    (folder / "rules").mkdir()
    (folder / "schemas").mkdir()
    (folder / "rules" / "policy.tw").write_text(RULES, encoding="utf-8")
    config = folder / "toolwall.toml"
    config.write_text(
        "\n".join(
            [
                "[policy]",
                'schemas = "schemas"',
                'rules = "rules"',
                "[state]",
                'backend = "redis"',
                f"url = {json.dumps(redis_url)}",
                "[mcp]",
                "elicitation = false",
                "[mcp.servers.up]",
                f"url = {json.dumps(upstream)}",
            ]
        ),
        encoding="utf-8",
    )
    return config


async def test_taint_and_counts_follow_the_agent_across_replicas(
    tmp_path: Path, keys: Keys
) -> None:
    seen: list[tuple[str, dict[str, object]]] = []
    upstream = build_server(seen).streamable_http_app(host="127.0.0.1")
    headers = {"X-Toolwall-Identity": keys.token("alice", ["up.*"])}
    with running(tmp_path / "redis") as redis:
        async with serving(upstream, free_port()) as upstream_url:
            config = write_config(tmp_path, upstream_url, redis.url)
            first = Gateway.from_config(config, identity=keys.verifier)
            second = Gateway.from_config(config, identity=keys.verifier)
            async with (
                first,
                second,
                serving(http_app(first), free_port()) as url_a,
                serving(http_app(second), free_port()) as url_b,
            ):
                async with http_agent(url_a, headers, mode="auto") as agent:
                    assert not (await agent.call_tool("up__echo", {"text": "1"})).is_error
                    assert not (await agent.call_tool("up__fetch", {"url": "https://x"})).is_error
                async with http_agent(url_b, headers, mode="auto") as agent:
                    assert not (await agent.call_tool("up__echo", {"text": "2"})).is_error
                    third = await agent.call_tool("up__echo", {"text": "3"})
                    paid = await agent.call_tool("up__pay", {"amount": 5})
    assert third.is_error and "two echoes per conversation" in text_of(third)
    assert paid.is_error and "payment after reading untrusted content" in text_of(paid)
    assert [name for name, _ in seen] == ["echo", "fetch", "echo"]

"""Helpers of the MCP gateway tests: identities, a tiny rule engine, servers on 127.0.0.1.

Everything here is real: the SDK's client and servers, uvicorn on a free loopback port, real
JWTs verified by `toolwall.identity.verifier.JWTVerifier`, subprocess MCP servers.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from toolwall import Action, Caller, Reason, ReasonKind
from toolwall.identity.devkeys import generate_private_key, mint_token
from toolwall.identity.verifier import JWTVerifier
from toolwall.model import RuleVerdict
from toolwall.patterns import matches
from toolwall.state.memory import SessionState

HERE = Path(__file__).resolve().parent
UPSTREAM_SCRIPT = HERE / "upstream_server.py"


class Keys:
    """A signing key and the verifier that trusts it."""

    def __init__(self) -> None:
        self.key = generate_private_key()
        self.verifier = JWTVerifier.from_public_key(self.key.public_key(), audience="toolwall")

    def token(self, sub: str, tools: Iterable[str], **options: Any) -> str:
        return mint_token(
            self.key, sub=sub, tools=list(tools), ttl_s=600, audience="toolwall", **options
        )


Rule = Callable[[str, dict[str, Any], Caller, SessionState], RuleVerdict | None]


class TinyRules:
    """A `RuleEngine` for tests: per tool pattern a function that may return a verdict."""

    def __init__(self, rules: Mapping[str, Rule] | None = None, taint: Iterable[str] = ()) -> None:
        self.rules = dict(rules or {})
        self.taint_sources = tuple(taint)

    def evaluate(
        self, tool: str, args: dict[str, Any], caller: Caller, session: SessionState
    ) -> RuleVerdict:
        for pattern, rule in self.rules.items():
            if matches(pattern, tool):
                verdict = rule(tool, args, caller, session)
                if verdict is not None:
                    return verdict
        return RuleVerdict(action=Action.ALLOW)

    def taints(self, tool: str) -> bool:
        return any(matches(p, tool) for p in self.taint_sources)

    def rules_for(self, tool: str) -> list[str]:
        return [p for p in self.rules if matches(p, tool)]


def verdict(action: Action, message: str, args: dict[str, Any] | None = None) -> RuleVerdict:
    return RuleVerdict(
        action=action,
        args=args,
        reasons=(Reason(ReasonKind.RULE, message, rule="test_rule"),),
        fired=("test_rule",),
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serving(app: Any, port: int) -> AsyncIterator[str]:
    """Serve an ASGI app on 127.0.0.1:port inside the test's event loop; yields its /mcp URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        while not server.started:
            await anyio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            server.should_exit = True


@asynccontextmanager
async def http_agent(
    url: str, headers: Mapping[str, str] | None = None, **client_options: Any
) -> AsyncIterator[Client]:
    """The agent side: the SDK's `Client` over streamable HTTP, sending `headers`."""
    async with (
        httpx2.AsyncClient(headers=dict(headers or {}), timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), **client_options) as client,
    ):
        yield client


def upstream_command() -> tuple[str, list[str]]:
    """The test upstream as a stdio command, with this interpreter (works in any venv)."""
    return sys.executable, [str(UPSTREAM_SCRIPT), "stdio"]


def git_server_command(repo: Path) -> tuple[str, list[str]]:
    """The real `mcp-server-git`, run with this interpreter."""
    return sys.executable, ["-m", "mcp_server_git", "--repository", str(repo)]


def text_of(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)

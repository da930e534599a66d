"""Connections to the MCP servers the gateway fronts.

Each upstream is one long-lived `mcp.Client` (stdio subprocess or streamable HTTP), owned by a
task of its own in the gateway's task group: anyio requires a connection to be closed by the
task that opened it, and a request handler must be able to open a new connection after the old
one broke without owning it. A connection that fails (the process crashed, the stream closed) is
dropped and opened again on next use.

Every failure of an upstream surfaces as `UpstreamError` with a message fit for the model; the
gateway turns it into a tool error and never crashes on it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from pydantic import ValidationError

from toolwall.config import McpServerConfig

logger = logging.getLogger("toolwall.mcp")

# Errors that mean the connection itself is gone, not that one request failed.
_BROKEN = (
    anyio.ClosedResourceError,
    anyio.BrokenResourceError,
    anyio.EndOfStream,
    OSError,
)
_CONNECTION_CLOSED = types.CONNECTION_CLOSED
# After a failed start, wait 1, 2, 4 ... up to 30 s before spawning the server again.
RETRY_BASE_S = 1.0
RETRY_MAX_S = 30.0


class UpstreamError(Exception):
    """An upstream server could not answer: not started, crashed, timed out or sent garbage."""


class Upstream:
    """One configured server (`[mcp.servers.NAME]`)."""

    def __init__(
        self,
        name: str,
        config: McpServerConfig,
        *,
        base_dir: Path,
        timeout_s: float,
    ) -> None:
        self.name = name
        self.config = config
        self.base_dir = base_dir
        self.timeout_s = timeout_s
        self._client: Client | None = None
        self._closed: anyio.Event | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._lock = anyio.Lock()
        self._failure: str | None = None
        self._failures = 0
        self._retry_at = 0.0

    def bind(self, task_group: anyio.abc.TaskGroup) -> None:
        """The task group that owns this upstream's connections (the gateway's)."""
        self._tg = task_group

    def describe(self) -> str:
        if self.config.url is not None:
            return self.config.url
        return " ".join([self.config.command or "", *self.config.args]).strip()

    # -- requests -----------------------------------------------------------------------------

    async def list_tools(self) -> list[types.Tool]:
        """Every tool the server presents now (all pages)."""
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(100):  # a server that pages forever cannot hang the gateway
            page = await self._request(
                "tools/list",
                lambda c, cur=cursor: c.list_tools(cursor=cur, cache_mode="refresh"),
            )
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                return tools
        raise UpstreamError(f"server {self.name!r} kept paging its tool list past 100 pages")

    async def call_tool(self, tool: str, arguments: dict[str, Any]) -> types.CallToolResult:
        result: types.CallToolResult = await self._request(
            f"tools/call {tool}", lambda c: c.call_tool(tool, arguments)
        )
        return result

    async def _request(self, what: str, send: Any) -> Any:
        client = await self._connection()
        try:
            with anyio.fail_after(self.timeout_s):
                return await send(client)
        except TimeoutError:
            raise UpstreamError(
                f"server {self.name!r} did not answer {what} within {self.timeout_s:g} s"
            ) from None
        except MCPError as exc:
            if exc.code == _CONNECTION_CLOSED:
                self._drop(client)
                raise UpstreamError(
                    f"server {self.name!r} closed the connection during {what}: {exc.message}"
                ) from None
            raise UpstreamError(f"server {self.name!r} refused {what}: {exc.message}") from None
        except ValidationError as exc:
            raise UpstreamError(
                f"server {self.name!r} sent an invalid answer to {what}: "
                f"{exc.error_count()} validation error(s)"
            ) from None
        except _BROKEN as exc:
            self._drop(client)
            raise UpstreamError(
                f"server {self.name!r} failed during {what}: {type(exc).__name__} {exc}".rstrip()
            ) from None
        except Exception as exc:
            # A connection in an unknown state is not reused.
            self._drop(client)
            logger.exception("toolwall: upstream %s failed during %s", self.name, what)
            raise UpstreamError(
                f"server {self.name!r} failed during {what}: {type(exc).__name__}: {exc}"
            ) from None

    # -- the connection -----------------------------------------------------------------------

    async def _connection(self) -> Client:
        client = self._client
        if client is not None:
            return client
        async with self._lock:
            if self._client is None:
                now = anyio.current_time()
                if self._failure is not None and now < self._retry_at:
                    # A server that failed to start is not respawned on every request.
                    raise UpstreamError(
                        f"{self._failure} (next attempt in {self._retry_at - now:.0f} s)"
                    )
                try:
                    self._client = await self._open()
                except UpstreamError as exc:
                    self._failures += 1
                    self._failure = str(exc)
                    self._retry_at = now + min(
                        RETRY_MAX_S, RETRY_BASE_S * 2 ** (self._failures - 1)
                    )
                    raise
                self._failure = None
                self._failures = 0
            return self._client

    async def _open(self) -> Client:
        if self._tg is None:
            raise UpstreamError(f"server {self.name!r}: the gateway is not running")
        started: tuple[Client | None, BaseException | None] = await self._tg.start(self._own)
        client, error = started
        if client is None:
            raise UpstreamError(
                f"server {self.name!r} ({self.describe()}) could not be started: {_summary(error)}"
            )
        return client

    async def _own(self, *, task_status: anyio.abc.TaskStatus[Any]) -> None:
        """Open the connection, hand it out, keep it until it is dropped or the gateway stops."""
        closed = anyio.Event()
        started = False
        client: Client | None = None
        try:
            async with Client(
                self._target(), mode="auto", cache=None, read_timeout_seconds=None
            ) as client:
                self._closed = closed
                started = True
                task_status.started((client, None))
                await closed.wait()
        except Exception as exc:
            if not started:
                task_status.started((None, exc))
            else:
                logger.warning("toolwall: upstream %s disconnected: %s", self.name, _summary(exc))
        finally:
            if client is not None and self._client is client:
                self._client = None

    def _drop(self, client: Client) -> None:
        """Forget a broken connection; its owner task closes it."""
        if self._client is client:
            self._client = None
            if self._closed is not None:
                self._closed.set()

    async def aclose(self) -> None:
        client = self._client
        if client is not None:
            self._drop(client)

    def _target(self) -> StdioServerParameters | Any:
        cfg = self.config
        if cfg.command is not None:
            cwd = str(self.base_dir / cfg.cwd) if cfg.cwd is not None else None
            return StdioServerParameters(
                command=cfg.command,
                args=list(cfg.args),
                env={**_expand(cfg.env)} or None,
                cwd=cwd,
            )
        assert cfg.url is not None
        http = create_mcp_http_client(headers=_expand(cfg.headers) or None)
        return _HttpTransport(cfg.url, http)


class _HttpTransport:
    """A streamable-HTTP transport that also closes the HTTP client it was given."""

    def __init__(self, url: str, http: Any) -> None:
        self._url = url
        self._http = http
        self._inner: Any = None

    async def __aenter__(self) -> Any:
        await self._http.__aenter__()
        self._inner = streamable_http_client(self._url, http_client=self._http)
        try:
            return await self._inner.__aenter__()
        except BaseException:
            await self._http.__aexit__(None, None, None)
            raise

    async def __aexit__(self, *exc: Any) -> bool | None:
        try:
            return bool(await self._inner.__aexit__(*exc))
        finally:
            await self._http.__aexit__(None, None, None)


def _expand(values: Mapping[str, str]) -> dict[str, str]:
    """`${VAR}` in env and header values comes from the gateway's environment, so secrets for
    upstream servers stay out of toolwall.toml."""
    return {key: os.path.expandvars(value) for key, value in values.items()}


def _summary(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _summary(exc.exceptions[0])
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def list_servers(
    servers: Mapping[str, McpServerConfig], *, base_dir: Path, timeout_s: float
) -> dict[str, list[types.Tool] | UpstreamError]:
    """Connect to each server once and list its tools (what `toolwall mcp lock` pins)."""
    results: dict[str, list[types.Tool] | UpstreamError] = {}
    upstreams = [
        Upstream(name, cfg, base_dir=base_dir, timeout_s=timeout_s) for name, cfg in servers.items()
    ]

    async def one(upstream: Upstream) -> None:
        try:
            results[upstream.name] = await upstream.list_tools()
        except UpstreamError as exc:
            results[upstream.name] = exc

    async with anyio.create_task_group() as tg:
        for upstream in upstreams:
            upstream.bind(tg)
        async with anyio.create_task_group() as listing:
            for upstream in upstreams:
                listing.start_soon(one, upstream)
        for upstream in upstreams:
            await upstream.aclose()
    return results

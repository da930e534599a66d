"""Running a gateway: over stdio (what a desktop MCP client launches) or streamable HTTP."""

from __future__ import annotations

from typing import Any

import anyio
from mcp.server.stdio import stdio_server

from toolwall.integrations.mcp.gateway import Gateway


async def serve_stdio(gateway: Gateway) -> None:
    """Serve an entered gateway on this process's stdin/stdout until the client hangs up."""
    server = gateway.server
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def http_app(gateway: Gateway, host: str = "127.0.0.1", path: str = "/mcp") -> Any:
    """The Starlette app serving an entered gateway at `path` (streamable HTTP).

    Bound to a loopback host, the SDK also turns on its DNS-rebinding protection (Host and
    Origin headers must name the loopback interface).
    """
    return gateway.server.streamable_http_app(streamable_http_path=path, host=host)


async def serve_http(
    gateway: Gateway,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    path: str = "/mcp",
    started: anyio.Event | None = None,
    stop: anyio.Event | None = None,
) -> None:
    """Serve an entered gateway with uvicorn until interrupted (or until `stop` is set)."""
    import uvicorn

    config = uvicorn.Config(
        http_app(gateway, host, path),
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        while not server.started:
            if server.should_exit:
                break
            await anyio.sleep(0.01)
        if started is not None:
            started.set()
        if stop is not None:
            await stop.wait()
            server.should_exit = True

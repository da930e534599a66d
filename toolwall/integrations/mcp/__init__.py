"""The MCP gateway (`pip install toolwall[mcp]`): put any MCP server behind the firewall.

    from toolwall.integrations.mcp import Gateway, serve_stdio

    async with Gateway.from_config("toolwall.toml", token=token) as gateway:
        await serve_stdio(gateway)

The core never imports this package; it needs the `mcp` extra.
"""

from toolwall.integrations.mcp.catalog import Catalog, CatalogTool
from toolwall.integrations.mcp.gateway import Gateway
from toolwall.integrations.mcp.lock import PinCheck, ToolLock, ToolPin
from toolwall.integrations.mcp.serve import http_app, serve_http, serve_stdio
from toolwall.integrations.mcp.upstream import Upstream, UpstreamError

__all__ = [
    "Catalog",
    "CatalogTool",
    "Gateway",
    "PinCheck",
    "ToolLock",
    "ToolPin",
    "Upstream",
    "UpstreamError",
    "http_app",
    "serve_http",
    "serve_stdio",
]

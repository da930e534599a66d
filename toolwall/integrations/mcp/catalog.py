"""The gateway's view of the upstream tools: names inside toolwall and on the wire, pins.

Inside toolwall (rules, grants, schemas, audit) a tool of server `git` called `git_status` is
`git.git_status`; on the wire the client sees `git__git_status` (the separator is configurable,
because some model APIs reject dots in function names). Wire names are mapped back through this
table, never by splitting a string, so a tool name that itself contains the separator cannot be
routed to the wrong server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import mcp_types as types

from toolwall.errors import InputRejected
from toolwall.integrations.mcp.lock import PinCheck, ToolLock, ToolPin
from toolwall.patterns import check_tool_name

logger = logging.getLogger("toolwall.mcp")


@dataclass(frozen=True, slots=True)
class CatalogTool:
    """One upstream tool as the gateway knows it."""

    server: str
    upstream_name: str
    internal: str
    wire: str
    definition: types.Tool
    pin: ToolPin
    check: PinCheck

    @property
    def pinned(self) -> bool:
        return self.check.ok


def internal_name(server: str, tool: str) -> str:
    return f"{server}.{tool}"


def wire_name(server: str, tool: str, separator: str) -> str:
    return f"{server}{separator}{tool}"


def catalog_entries(
    server: str, tools: Iterable[types.Tool], separator: str, lock: ToolLock
) -> list[CatalogTool]:
    """The catalog entries of one server's listing, checked against the lock.

    A tool whose name toolwall cannot use (empty, whitespace, control characters, too long) is
    left out with a warning: it could not be named in a rule or a grant.
    """
    entries = []
    seen: set[str] = set()
    for tool in tools:
        internal = internal_name(server, tool.name)
        try:
            check_tool_name(internal)
        except InputRejected as exc:
            logger.warning("toolwall: server %s: tool %r left out: %s", server, tool.name, exc)
            continue
        if internal in seen:
            logger.warning(
                "toolwall: server %s lists %r twice; only the first is used", server, tool.name
            )
            continue
        seen.add(internal)
        pin = ToolPin.of(tool.name, tool.description, tool.input_schema)
        entries.append(
            CatalogTool(
                server=server,
                upstream_name=tool.name,
                internal=internal,
                wire=wire_name(server, tool.name, separator),
                definition=tool,
                pin=pin,
                check=lock.check(internal, pin),
            )
        )
    return entries


class Catalog:
    """All upstream tools, replaced server by server as listings arrive."""

    def __init__(self) -> None:
        self._by_server: dict[str, list[CatalogTool]] = {}
        self.by_wire: dict[str, CatalogTool] = {}
        self.by_internal: dict[str, CatalogTool] = {}

    def replace(self, server: str, entries: list[CatalogTool]) -> None:
        self._by_server[server] = entries
        self._reindex()

    def _reindex(self) -> None:
        by_wire: dict[str, CatalogTool] = {}
        by_internal: dict[str, CatalogTool] = {}
        for server in sorted(self._by_server):
            for entry in self._by_server[server]:
                clash = by_wire.get(entry.wire)
                if clash is not None:
                    # `a__b` + `c` and `a` + `b__c` meet on the wire; neither is reachable then.
                    logger.warning(
                        "toolwall: %s and %s share the wire name %s; %s is left out",
                        clash.internal,
                        entry.internal,
                        entry.wire,
                        entry.internal,
                    )
                    continue
                by_wire[entry.wire] = entry
                by_internal[entry.internal] = entry
        self.by_wire = by_wire
        self.by_internal = by_internal

    def __iter__(self) -> Iterator[CatalogTool]:
        return iter(self.by_internal.values())

    def servers(self) -> list[str]:
        return sorted(self._by_server)

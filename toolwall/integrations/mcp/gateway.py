"""The MCP gateway: an MCP server whose every `tools/call` goes through the firewall first.

    agent (MCP client) --tools/call git__git_add--> Gateway --decide(git.git_add)--> Firewall
                                                        |  block:    isError result with the reason
                                                        |  rewrite:  forward the rewritten args
                                                        |  escalate: ask the user (elicitation) or
                                                        |            the configured approver
                                                        v
                                              upstream server (stdio / HTTP)

The gateway is a low-level `mcp.server.lowlevel.Server` with `tools/list` and `tools/call`
handlers; `toolwall.integrations.mcp.serve` runs it over stdio or streamable HTTP.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server

from toolwall.canonical import canonical_json
from toolwall.config import Config, McpConfig
from toolwall.errors import ConfigError
from toolwall.firewall import Firewall
from toolwall.integrations.mcp.catalog import Catalog, CatalogTool, catalog_entries
from toolwall.integrations.mcp.elicitation import Elicitation
from toolwall.integrations.mcp.lock import ToolLock
from toolwall.integrations.mcp.pinning import PinnedRules
from toolwall.integrations.mcp.upstream import Upstream, UpstreamError
from toolwall.model import (
    Action,
    Caller,
    Decision,
    ToolCall,
)
from toolwall.patterns import covered
from toolwall.schemas.registry import SchemaRegistry, ToolSchema

logger = logging.getLogger("toolwall.mcp")
audit_logger = logging.getLogger("toolwall.audit")

DEFAULT_APPROVAL_TIMEOUT_S = 300.0


class Gateway:
    """Fronts the upstream servers of `[mcp.servers]` with the firewall.

    Use it as an async context manager: entering connects the upstreams and lists their tools.

        async with Gateway.from_config("toolwall.toml", token=os.environ["TOOLWALL_TOKEN"]) as gw:
            await serve_stdio(gw)

    `token` (or `caller`, for library use) is the identity of a connection without HTTP headers
    (stdio, in-process). Over HTTP the identity comes only from `[mcp] identity_header`.
    """

    def __init__(
        self,
        firewall: Firewall | None,
        config: McpConfig,
        *,
        base_dir: Path | None = None,
        token: str | None = None,
        caller: Caller | None = None,
        lock: ToolLock | None = None,
        full_config: Config | None = None,
        firewall_parts: Mapping[str, Any] | None = None,
        approval_timeout_s: float | None = None,
    ) -> None:
        if token is not None and caller is not None:
            raise ValueError("give the stdio identity as a token or as a caller, not both")
        self.config = config
        self.base_dir = base_dir or (full_config.base_dir if full_config else Path.cwd())
        self.token = token
        self.fixed_caller = caller
        self._full_config = full_config
        self._firewall_parts = dict(firewall_parts or {})
        self._firewall = firewall
        self.catalog = Catalog()
        self.lock_path = (
            self.base_dir / config.lock_file
            if not config.lock_file.is_absolute()
            else config.lock_file
        )
        if lock is not None:
            self.lock = lock
            self.trust_on_first_use = False
        elif self.lock_path.exists():
            self.lock = ToolLock.load(self.lock_path)
            self.trust_on_first_use = False
        elif config.require_lock:
            raise ConfigError(
                f"{self.lock_path}: no lock file, and [mcp] require_lock is on; "
                "review the servers' tools and run `toolwall mcp lock`"
            )
        else:
            self.lock = ToolLock()
            self.trust_on_first_use = True
        self.upstreams = {
            name: Upstream(name, server, base_dir=self.base_dir, timeout_s=config.call_timeout_s)
            for name, server in config.servers.items()
        }
        self._local_schemas: set[str] = set()
        self._stdio_session = "stdio-" + secrets.token_hex(8)
        # How long the user has to answer an elicitation (`[approvals] timeout_s`).
        if approval_timeout_s is None:
            approval_timeout_s = (
                full_config.approvals.timeout_s if full_config else DEFAULT_APPROVAL_TIMEOUT_S
            )
        self.elicitation = Elicitation(
            lambda: self.firewall, enabled=config.elicitation, timeout_s=approval_timeout_s
        )
        self._exit: AsyncExitStack | None = None
        self._refresh_lock = anyio.Lock()
        self.server: Server[Any] = Server(
            "toolwall",
            version=_version(),
            instructions=(
                "Tools behind the toolwall firewall. A call may be refused with a reason; "
                "read it and do not retry the same call unchanged."
            ),
            on_list_tools=self._on_list_tools,
            on_call_tool=self._on_call_tool,
            get_tool_input_schema=self._wire_input_schema,
        )

    @classmethod
    def from_config(
        cls,
        config: str | Path | Config | None = None,
        *,
        token: str | None = None,
        caller: Caller | None = None,
        **firewall_parts: Any,
    ) -> Gateway:
        """A gateway for `toolwall.toml`. The firewall is built when the gateway is entered,
        after the upstream tools are listed, so rules are checked against their schemas."""
        cfg = config if isinstance(config, Config) else Config.load(config)
        if not cfg.mcp.servers:
            raise ConfigError(f"{cfg.path or 'config'}: [mcp.servers] lists no server to front")
        return cls(
            None,
            cfg.mcp,
            base_dir=cfg.base_dir,
            token=token,
            caller=caller,
            full_config=cfg,
            firewall_parts=firewall_parts,
        )

    @property
    def firewall(self) -> Firewall:
        if self._firewall is None:
            raise RuntimeError("the gateway's firewall is built when the gateway is entered")
        return self._firewall

    # -- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> Gateway:
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            tg = await stack.enter_async_context(anyio.create_task_group())
            stack.push_async_callback(self._close_upstreams)
            for upstream in self.upstreams.values():
                upstream.bind(tg)
            listings = await self._list_all()
            if self._firewall is None:
                self._firewall = self._build_firewall(listings)
            self._install(self._firewall)
            for name, tools in listings.items():
                if tools is not None:
                    self._absorb(name, tools)
        except BaseException:
            await stack.__aexit__(None, None, None)
            raise
        self._exit = stack
        if self.trust_on_first_use:
            logger.warning(
                "toolwall: no lock file at %s: tool definitions are pinned only for this run; "
                "run `toolwall mcp lock` to pin them across restarts",
                self.lock_path,
            )
        return self

    async def __aexit__(self, *exc: Any) -> None:
        stack, self._exit = self._exit, None
        if stack is not None:
            await stack.__aexit__(*exc)

    async def _close_upstreams(self) -> None:
        for upstream in self.upstreams.values():
            await upstream.aclose()

    def _build_firewall(self, listings: Mapping[str, list[types.Tool] | None]) -> Firewall:
        from toolwall.loader import build_parts

        cfg = self._full_config
        if cfg is None:
            raise RuntimeError("a gateway without a firewall needs the full configuration")
        local = SchemaRegistry.load(cfg.resolve(cfg.policy.schemas))
        merged = SchemaRegistry(local)
        for name, tools in listings.items():
            for entry in catalog_entries(name, tools or [], self.config.separator, self.lock):
                if entry.internal not in local:
                    merged.add(self._upstream_schema(entry), replace=True)
        parts = build_parts(cfg, schemas=merged, overrides=self._firewall_parts)
        self._local_schemas = set(local.names())
        return Firewall(config=cfg, **parts)

    def _install(self, firewall: Firewall) -> None:
        if not self._local_schemas and self._full_config is None:
            # Library use: every schema the firewall had before the gateway is a local override.
            self._local_schemas = set(firewall.schemas.names())
        pipeline = firewall.pipeline
        if not isinstance(pipeline.rules, PinnedRules):
            pipeline.rules = PinnedRules(pipeline.rules, self.catalog, self._lock_path_if_any())

    def _lock_path_if_any(self) -> Path | None:
        return None if self.trust_on_first_use else self.lock_path

    # -- the catalog ----------------------------------------------------------------------------

    async def _list_all(self) -> dict[str, list[types.Tool] | None]:
        """Every server's current listing, concurrently; None for a server that failed."""
        results: dict[str, list[types.Tool] | None] = {}

        async def one(name: str, upstream: Upstream) -> None:
            try:
                results[name] = await upstream.list_tools()
            except UpstreamError as exc:
                logger.warning("toolwall: %s", exc)
                results[name] = None

        async with anyio.create_task_group() as tg:
            for name, upstream in self.upstreams.items():
                tg.start_soon(one, name, upstream)
        return results

    async def refresh(self) -> None:
        """List every upstream's tools again: a changed definition is caught here."""
        async with self._refresh_lock:
            listings = await self._list_all()
            for name, tools in listings.items():
                if tools is not None:
                    self._absorb(name, tools)

    def _absorb(self, server: str, tools: list[types.Tool]) -> None:
        if self.trust_on_first_use:
            for entry in catalog_entries(server, tools, self.config.separator, self.lock):
                self.lock.pins.setdefault(entry.internal, entry.pin)
        entries = catalog_entries(server, tools, self.config.separator, self.lock)
        registry = self.firewall.schemas
        for entry in entries:
            if entry.internal in self._local_schemas:
                continue
            current = registry.get(entry.internal)
            if current is None or current.schema != entry.definition.input_schema:
                try:
                    registry.add(self._upstream_schema(entry), replace=True)
                except Exception as exc:  # a broken upstream schema: the tool stays unknown
                    logger.warning("toolwall: %s: unusable input schema: %s", entry.internal, exc)
        self.catalog.replace(server, entries)

    def _upstream_schema(self, entry: CatalogTool) -> ToolSchema:
        return ToolSchema(
            entry.internal,
            dict(entry.definition.input_schema),
            source=f"mcp server {entry.server}",
            description=entry.definition.description,
        )

    def _wire_input_schema(self, wire: str) -> Mapping[str, Any] | None:
        entry = self.catalog.by_wire.get(wire)
        return self._advertised_schema(entry) if entry is not None else None

    def _advertised_schema(self, entry: CatalogTool) -> Mapping[str, Any]:
        # A local schema overrides the server's: the client is shown what will be enforced.
        if entry.internal in self._local_schemas:
            local = self.firewall.schemas.get(entry.internal)
            if local is not None:
                return local.schema
        return entry.definition.input_schema

    def _internal_guess(self, wire: str) -> str:
        """The internal name of a wire name no server lists now (its server is down, or the
        tool does not exist), so grants, rules and the audit see `server.tool`. Only names
        from the catalog are ever forwarded."""
        for server in sorted(self.upstreams, key=len, reverse=True):
            prefix = server + self.config.separator
            if wire.startswith(prefix) and len(wire) > len(prefix):
                return f"{server}.{wire[len(prefix) :]}"
        return wire

    def visible_tools(self, caller: Caller) -> list[CatalogTool]:
        """The tools `caller` is shown: granted, and pinned by the lock."""
        return [e for e in self.catalog if e.check.ok and covered(caller.tools, e.internal)]

    # -- identity and session ---------------------------------------------------------------

    def _token_for(self, ctx: ServerRequestContext[Any, Any]) -> str | None:
        request = ctx.request
        if request is not None and hasattr(request, "headers"):
            # Over HTTP only the configured header counts. `Authorization` belongs to the MCP
            # transport and is never a grant.
            value = request.headers.get(self.config.identity_header)
            return value.strip() or None if isinstance(value, str) else None
        return self.token

    def _caller_for(self, token: str | None) -> Caller:
        if token is None:
            if self.fixed_caller is not None:
                return self.fixed_caller
            return Caller.anonymous()
        verifier = self.firewall.identity
        if verifier is None:
            return Caller.anonymous()
        try:
            caller, _ = verifier.caller_for(token)
        except Exception:
            logger.exception("toolwall: identity verification failed")
            return Caller.anonymous()
        return caller

    def _session_for(
        self, ctx: ServerRequestContext[Any, Any], caller: Caller, token: str | None
    ) -> str | None:
        request = ctx.request
        if request is None or not hasattr(request, "headers"):
            # stdio and in-process: the connection is the session.
            return self._stdio_session
        # Legacy streamable HTTP: the transport only routes a request to a session it created,
        # so the header seen here is that session's id.
        mcp_session = request.headers.get("mcp-session-id")
        if mcp_session:
            # Bound to the caller too: whoever learns a session id cannot share (or spoil) the
            # history and taint of another identity's conversation.
            return f"{mcp_session}/{caller.sub}" if caller.sub else str(mcp_session)
        if caller.session is not None:
            return caller.session
        if token is not None:
            # 2026-07-28 HTTP has no sessions: the identity token stands for the conversation,
            # so taint and history are never lost between calls.
            return "token-" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]
        return None

    # -- handlers -------------------------------------------------------------------------------

    async def _on_list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        await self.refresh()
        caller = self._caller_for(self._token_for(ctx))
        tools = []
        for entry in self.visible_tools(caller):
            d = entry.definition
            tools.append(
                types.Tool(
                    name=entry.wire,
                    title=d.title,
                    description=d.description,
                    input_schema=dict(self._advertised_schema(entry)),
                    output_schema=d.output_schema,
                    annotations=d.annotations,
                )
            )
        # The listing depends on who asks: never cache it across callers.
        return types.ListToolsResult(tools=tools, ttl_ms=0, cache_scope="private")

    async def _on_call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        token = self._token_for(ctx)
        caller = self._caller_for(token)
        session = self._session_for(ctx, caller, token)
        if params.request_state is not None:
            resumed = await self.elicitation.resume(params, token, caller)
            if isinstance(resumed, str):
                return _refused(resumed)
            answered, answered_entry = resumed
            if not answered.action.runs:
                return _refused(answered.message())
            return await self._forward(answered_entry, answered)
        entry = self.catalog.by_wire.get(params.name)
        if entry is None:
            await self.refresh()  # a tool the server added since the last listing
            entry = self.catalog.by_wire.get(params.name)
        tool = entry.internal if entry is not None else self._internal_guess(params.name)
        call = ToolCall(
            tool=tool,
            args=params.arguments if params.arguments is not None else {},
            id=None if ctx.request_id is None else str(ctx.request_id),
        )
        if token is None and self.fixed_caller is not None:
            decision = await self.firewall.adecide(call, caller=self.fixed_caller, session=session)
        else:
            decision = await self.firewall.adecide(call, token=token, session=session)
        if decision.action is Action.ESCALATE:
            outcome = await self.elicitation.ask(ctx, decision, entry, token, params)
            if isinstance(outcome, types.InputRequiredResult):
                return outcome
            decision = outcome
        if not decision.action.runs:
            return _refused(decision.message())
        return await self._forward(entry, decision)

    async def _forward(self, entry: CatalogTool | None, decision: Decision) -> types.CallToolResult:
        if entry is None:
            return _refused(f"toolwall: no upstream server offers a tool named {decision.tool}")
        args = decision.args if decision.args is not None else {}
        try:
            result = await self.upstreams[entry.server].call_tool(entry.upstream_name, args)
        except UpstreamError as exc:
            self._audit_upstream_error(decision, entry.server, str(exc))
            return _refused(f"toolwall: the call to {decision.tool} failed: {exc}")
        # What the tool returned may carry instructions from whoever controls its data: taint
        # rules need to see every result, errors included.
        self.firewall.record_result(
            decision, result.model_dump(mode="json", by_alias=True, exclude_none=True)
        )
        return types.CallToolResult(
            content=result.content,
            structured_content=result.structured_content,
            is_error=result.is_error,
        )

    # -- escalation -----------------------------------------------------------------------------

    def _audit_upstream_error(self, decision: Decision, server: str, error: str) -> None:
        """Upstream failures go to the audit log (after the call's decision record)."""
        sink = self._firewall.audit if self._firewall is not None else None
        record = getattr(sink, "record_upstream_error", None)
        try:
            if record is not None:
                record(decision, decision.caller, server, error)
            else:
                audit_logger.warning(
                    canonical_json(
                        {"type": "upstream_error", "decision": decision.id, "error": error}
                    )
                )
        except Exception:
            logger.exception("toolwall: could not audit an upstream error of %s", decision.tool)


def _refused(message: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)], is_error=True
    )


def _version() -> str:
    from toolwall import __version__

    return __version__

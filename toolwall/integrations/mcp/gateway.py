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
import json
import logging
import secrets
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from toolwall.canonical import args_digest, canonical_json
from toolwall.config import Config, McpConfig
from toolwall.enforce.settle import denied
from toolwall.errors import ConfigError
from toolwall.firewall import Firewall
from toolwall.integrations.mcp.catalog import Catalog, CatalogTool, catalog_entries
from toolwall.integrations.mcp.lock import ToolLock
from toolwall.integrations.mcp.upstream import Upstream, UpstreamError
from toolwall.model import (
    Action,
    ApprovalAnswer,
    ApprovalRequest,
    Caller,
    Decision,
    Reason,
    ReasonKind,
    RuleVerdict,
    SessionView,
    ToolCall,
    TraceEntry,
)
from toolwall.patterns import covered
from toolwall.pipeline.rules import RuleEngine
from toolwall.schemas.registry import SchemaRegistry, ToolSchema
from toolwall.state.base import ApprovalError

logger = logging.getLogger("toolwall.mcp")
audit_logger = logging.getLogger("toolwall.audit")

LOCK_RULE = "toolwall.mcp.lock"
APPROVAL_KEY = "toolwall_approval"
DEFAULT_APPROVAL_TIMEOUT_S = 300.0
MAX_PENDING = 1024

APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approve": {
            "type": "boolean",
            "title": "Approve this tool call",
            "description": "Yes runs the call exactly as shown; no refuses it.",
        }
    },
    "required": ["approve"],
}


class _PinnedRules:
    """The firewall's rules while a gateway runs: a tool whose definition does not match the
    lock is blocked before the policy's own rules are asked (see
    `toolwall.integrations.mcp.lock`)."""

    def __init__(self, inner: RuleEngine, catalog: Catalog, lock_path: Path | None) -> None:
        self.inner = inner
        self.catalog = catalog
        self.lock_path = lock_path

    def evaluate(
        self, tool: str, args: dict[str, Any], caller: Caller, session: SessionView
    ) -> RuleVerdict:
        entry = self.catalog.by_internal.get(tool)
        if entry is not None and not entry.check.ok:
            where = f" in {self.lock_path.name}" if self.lock_path is not None else ""
            message = (
                f"{tool}: {entry.check.change}{where}; the server's tool definition is hidden "
                "until it is reviewed and `toolwall mcp lock` is run again"
            )
            return RuleVerdict(
                action=Action.BLOCK,
                reasons=(Reason(ReasonKind.UPSTREAM, message),),
                fired=(LOCK_RULE,),
                trace=(TraceEntry("lock", "block", message),),
            )
        return self.inner.evaluate(tool, args, caller, session)

    def taints(self, tool: str) -> bool:
        return self.inner.taints(tool)

    def rules_for(self, tool: str) -> list[str]:
        return self.inner.rules_for(tool)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass(frozen=True, slots=True)
class _Pending:
    """An escalated call waiting for the client's answer (the 2026-07-28 input-required round):
    its approval, and what the answer must come with (the same identity and the same call)."""

    request: ApprovalRequest
    entry: CatalogTool | None
    identity: str
    call_digest: str
    expires: float


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
        self._pending: dict[str, _Pending] = {}
        self._stdio_session = "stdio-" + secrets.token_hex(8)
        # How long the user has to answer an elicitation (`[approvals] timeout_s`).
        if approval_timeout_s is None:
            approval_timeout_s = (
                full_config.approvals.timeout_s if full_config else DEFAULT_APPROVAL_TIMEOUT_S
            )
        self._approval_timeout_s = approval_timeout_s
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
        if not isinstance(pipeline.rules, _PinnedRules):
            pipeline.rules = _PinnedRules(pipeline.rules, self.catalog, self._lock_path_if_any())

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
            return await self._resume(ctx, params, token, caller)
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
            outcome = await self._escalate(ctx, decision, entry, token, params)
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

    async def _escalate(
        self,
        ctx: ServerRequestContext[Any, Any],
        decision: Decision,
        entry: CatalogTool | None,
        token: str | None,
        params: types.CallToolRequestParams,
    ) -> Decision | types.InputRequiredResult:
        """The escalated call as enforced, or the question that asks the client to answer it."""
        settlement = self.firewall.settlement
        if not (self.config.elicitation and _can_elicit(ctx)):
            return await settlement.asettle(decision)
        try:
            request = settlement.open(decision)
        except ApprovalError as exc:
            return denied(decision, ApprovalAnswer(False, by="toolwall", note=str(exc)))
        question = _approval_question(decision)
        if ctx.session.can_send_request:
            # Handshake era: ask inside this request.
            try:
                with anyio.fail_after(self._approval_timeout_s):
                    result = await ctx.session.elicit_form(
                        question.message,
                        question.requested_schema,
                        related_request_id=ctx.request_id,
                    )
            except TimeoutError:
                answer = ApprovalAnswer(
                    False, by="toolwall", note=f"no answer within {self._approval_timeout_s:g} s"
                )
            except Exception as exc:
                logger.warning("toolwall: elicitation failed: %s", exc)
                answer = ApprovalAnswer(False, by="toolwall", note=f"elicitation failed: {exc}")
            else:
                answer = _answer_from(result, decision.caller)
            return settlement.conclude(request, decision, answer)
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            # 2026-07-28: return the question; the client calls again with the answer.
            self._expire_pending()
            state = secrets.token_urlsafe(32)
            self._pending[state] = _Pending(
                request=request,
                entry=entry,
                identity=_identity_key(token, decision.caller),
                call_digest=args_digest([params.name, params.arguments or {}]),
                expires=time.monotonic() + self._approval_timeout_s,
            )
            return types.InputRequiredResult(
                input_requests={APPROVAL_KEY: types.ElicitRequest(params=question)},
                request_state=state,
            )
        return await settlement.asettle(decision)

    async def _resume(
        self,
        ctx: ServerRequestContext[Any, Any],
        params: types.CallToolRequestParams,
        token: str | None,
        caller: Caller,
    ) -> types.CallToolResult:
        self._expire_pending()
        pending = self._pending.pop(params.request_state or "", None)
        if pending is None:
            return _refused(
                "toolwall: this approval request is unknown or expired; call the tool again"
            )
        request = pending.request
        settlement = self.firewall.settlement
        same_call = pending.call_digest == args_digest([params.name, params.arguments or {}])
        if not same_call or pending.identity != _identity_key(token, caller):
            answer = ApprovalAnswer(
                False, by="toolwall", note="the answer was sent for another call or caller"
            )
        else:
            response = (params.input_responses or {}).get(APPROVAL_KEY)
            if isinstance(response, types.ElicitResult):
                answer = _answer_from(response, caller)
            else:
                answer = ApprovalAnswer(
                    False, by="toolwall", note="no answer to the approval request"
                )
        decision = settlement.conclude(request, request.decision, answer)
        if not decision.action.runs:
            return _refused(decision.message())
        return await self._forward(pending.entry, decision)

    def _expire_pending(self) -> None:
        now = time.monotonic()
        for key in [k for k, p in self._pending.items() if p.expires < now]:
            del self._pending[key]
        while len(self._pending) >= MAX_PENDING:
            self._pending.pop(next(iter(self._pending)))

    # -- audit --------------------------------------------------------------------------------

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


def _can_elicit(ctx: ServerRequestContext[Any, Any]) -> bool:
    caps = ctx.session.client_capabilities
    if caps is None or caps.elicitation is None:
        return False
    # An empty elicitation capability means form mode (the only mode before URL mode existed).
    return caps.elicitation.form is not None or caps.elicitation.url is None


def _approval_question(decision: Decision) -> types.ElicitRequestFormParams:
    args = json.dumps(decision.args, ensure_ascii=False, sort_keys=True)
    changed = ""
    if decision.original_args is not None and decision.original_args != decision.args:
        changed = " (arguments rewritten by policy)"
    message = (
        f"toolwall: {decision.caller.sub or 'an anonymous caller'} wants to run {decision.tool} "
        f"with {args}{changed}. It needs approval because: {decision.reason}. Approve?"
    )
    return types.ElicitRequestFormParams(message=message, requested_schema=APPROVAL_SCHEMA)


def _answer_from(result: types.ElicitResult, caller: Caller) -> ApprovalAnswer:
    by = f"mcp-user:{caller.sub or 'anonymous'}"
    if result.action != "accept":
        return ApprovalAnswer(False, by=by, note=f"the user chose {result.action}")
    content = result.content or {}
    if content.get("approve") is True:
        return ApprovalAnswer(True, by=by, note="approved through MCP elicitation")
    return ApprovalAnswer(False, by=by, note="the user answered no")


def _identity_key(token: str | None, caller: Caller) -> str:
    if token is not None:
        return "token:" + hashlib.sha256(token.encode("utf-8")).hexdigest()
    return "caller:" + canonical_json([caller.sub, caller.iss])


def _refused(message: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)], is_error=True
    )


def _version() -> str:
    from toolwall import __version__

    return __version__

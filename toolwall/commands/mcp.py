"""`toolwall mcp`: the MCP gateway.

    toolwall mcp run   [--token-file F]            serve the gateway over stdio
    toolwall mcp serve --host 127.0.0.1 --port N   serve it over streamable HTTP
    toolwall mcp tools [--caller F] [--token T]    list upstream tools: schema, pin, rules, grants
    toolwall mcp lock                              pin the upstream tool definitions

Everything MCP is imported lazily, so `toolwall` works without the `mcp` extra and these
commands say how to install it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from toolwall.cli import EXIT_FINDING, EXIT_OK, add_config_option, console, err_console
from toolwall.config import Config
from toolwall.errors import ToolwallError
from toolwall.model import Caller

if TYPE_CHECKING:
    from toolwall.integrations.mcp import Gateway

TOKEN_ENV = "TOOLWALL_TOKEN"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("mcp", help="the MCP gateway: front MCP servers with the firewall")
    mcp_sub = parser.add_subparsers(dest="mcp_command", metavar="SUBCOMMAND")
    mcp_sub.required = True

    run_p = mcp_sub.add_parser("run", help="serve the gateway over stdio (for desktop clients)")
    add_config_option(run_p)
    run_p.add_argument(
        "--token-file",
        type=Path,
        help=f"file holding the caller's JWT (default: the {TOKEN_ENV} environment variable)",
    )
    run_p.set_defaults(func=run_stdio)

    serve_p = mcp_sub.add_parser("serve", help="serve the gateway over streamable HTTP")
    add_config_option(serve_p)
    serve_p.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    serve_p.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    serve_p.add_argument("--path", default="/mcp", help="endpoint path (default: /mcp)")
    serve_p.set_defaults(func=run_http)

    tools_p = mcp_sub.add_parser("tools", help="list the upstream tools and how they are guarded")
    add_config_option(tools_p)
    tools_p.add_argument(
        "--caller",
        type=Path,
        action="append",
        default=[],
        help='JSON file with a caller {"sub", "tools", ...} to show grants for (repeatable)',
    )
    tools_p.add_argument(
        "--token", action="append", default=[], help="a caller's JWT to show grants for"
    )
    tools_p.add_argument("--json", action="store_true", help="print JSON")
    tools_p.set_defaults(func=list_tools)

    lock_p = mcp_sub.add_parser("lock", help="pin the upstream tool definitions in the lock file")
    add_config_option(lock_p)
    lock_p.set_defaults(func=write_lock)


def _require_extra() -> None:
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise ToolwallError(
            "the MCP gateway needs the mcp extra: pip install 'toolwall[mcp]'"
        ) from None


def _stderr_logging() -> None:
    # stdout may be the MCP channel: everything else goes to stderr.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(message)s")


def _stdio_token(token_file: Path | None) -> str | None:
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ToolwallError(f"{token_file}: cannot read the token: {exc.strerror}") from None
        if not token:
            raise ToolwallError(f"{token_file}: the token file is empty")
        return token
    token = os.environ.get(TOKEN_ENV, "").strip()
    return token or None


def _report_identity(gateway: Gateway, token: str | None) -> None:
    firewall = gateway.firewall
    if token is None:
        err_console.print(
            f"toolwall: no identity ({TOKEN_ENV} or --token-file): the caller is anonymous "
            "and is granted no tools"
        )
        return
    if firewall.identity is None:
        err_console.print(
            "toolwall: a token was given but [identity] is not configured: it cannot be "
            "verified, so the caller is anonymous"
        )
        return
    caller, refused = firewall.identity.caller_for(token)
    if refused is not None:
        err_console.print(f"toolwall: the token is refused: {escape(refused.message)}")
    else:
        granted = ", ".join(caller.tools) or "nothing"
        who = escape(caller.sub or "?")
        err_console.print(f"toolwall: caller {who}, granted {escape(granted)}")


def run_stdio(args: argparse.Namespace) -> int:
    _require_extra()
    import anyio

    from toolwall.integrations.mcp import Gateway, serve_stdio

    _stderr_logging()
    config = Config.load(args.config)
    if config.approvals.approver == "console":
        # stdin carries MCP here, so the console approver finds no terminal and denies.
        err_console.print(
            'toolwall: approvals.approver = "console" cannot prompt under `toolwall mcp run` '
            "(stdin carries MCP): escalations the client cannot answer by elicitation are "
            'denied. Use "queue" to answer them with `toolwall approvals`.'
        )
    token = _stdio_token(args.token_file)
    gateway = Gateway.from_config(config, token=token)

    async def main() -> None:
        async with gateway:
            _report_identity(gateway, token)
            await serve_stdio(gateway)

    anyio.run(main)
    return EXIT_OK


def run_http(args: argparse.Namespace) -> int:
    _require_extra()
    import anyio

    from toolwall.integrations.mcp import Gateway, serve_http

    _stderr_logging()
    config = Config.load(args.config)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(
            f"toolwall: serving on {escape(args.host)}, not loopback: the identity header "
            "crosses the network, so put TLS in front, and the SDK's DNS-rebinding protection "
            "is off"
        )
    gateway = Gateway.from_config(config)

    async def main() -> None:
        async with gateway:
            err_console.print(
                f"toolwall: MCP gateway on http://{args.host}:{args.port}{args.path} "
                f"(identity header {config.mcp.identity_header})"
            )
            await serve_http(gateway, args.host, args.port, path=args.path)

    anyio.run(main)
    return EXIT_OK


def _callers(args: argparse.Namespace, gateway: Gateway) -> list[Caller]:
    callers = []
    for path in args.caller:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            callers.append(Caller.model_validate({"authenticated": True, **data}))
        except (OSError, ValueError) as exc:
            raise ToolwallError(f"{path}: not a valid caller file: {exc}") from None
    for token in args.token:
        identity = gateway.firewall.identity
        if identity is None:
            raise ToolwallError("--token needs [identity] in the configuration")
        caller, refused = identity.caller_for(token)
        if refused is not None:
            raise ToolwallError(f"a --token is refused: {refused.message}")
        callers.append(caller)
    return callers


def list_tools(args: argparse.Namespace) -> int:
    _require_extra()
    import anyio

    from toolwall.integrations.mcp import Gateway
    from toolwall.patterns import covered

    _stderr_logging()
    gateway = Gateway.from_config(args.config)
    rows: list[dict[str, Any]] = []

    async def main() -> None:
        async with gateway:
            callers = _callers(args, gateway)
            firewall = gateway.firewall
            unlocked = gateway.trust_on_first_use
            for entry in sorted(gateway.catalog, key=lambda e: e.internal):
                schema = firewall.schemas.get(entry.internal)
                source = "none" if schema is None else schema.source
                rows.append(
                    {
                        "tool": entry.internal,
                        "wire": entry.wire,
                        "schema": source,
                        "pinned": entry.check.ok and not unlocked,
                        "pin": "not locked: no lock file"
                        if unlocked
                        else ("ok" if entry.check.ok else entry.check.change),
                        "rules": firewall.rules.rules_for(entry.internal),
                        "granted_to": [
                            c.sub or "?" for c in callers if covered(c.tools, entry.internal)
                        ],
                    }
                )
            for name, upstream in gateway.upstreams.items():
                if name not in gateway.catalog.servers():
                    err_console.print(
                        f"toolwall: server {escape(name)} ({escape(upstream.describe())}) "
                        "could not be listed"
                    )

    anyio.run(main)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        table = Table(title="upstream tools")
        for column in ("tool", "wire name", "schema", "pin", "rules", "granted to"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(
                escape(row["tool"]),
                escape(row["wire"]),
                escape(row["schema"]),
                "[green]ok[/]" if row["pinned"] else f"[red]{escape(row['pin'])}[/]",
                escape(", ".join(row["rules"]) or "-"),
                escape(", ".join(row["granted_to"]) or "-"),
            )
        console.print(table)
    return EXIT_OK if all(r["pinned"] for r in rows) else EXIT_FINDING


def write_lock(args: argparse.Namespace) -> int:
    _require_extra()
    import anyio

    from toolwall.integrations.mcp.catalog import catalog_entries
    from toolwall.integrations.mcp.lock import ToolLock
    from toolwall.integrations.mcp.upstream import UpstreamError, list_servers

    _stderr_logging()
    config = Config.load(args.config)
    if not config.mcp.servers:
        raise ToolwallError(f"{args.config}: [mcp.servers] lists no server")
    path = config.resolve(config.mcp.lock_file)
    old = ToolLock.load(path) if path.exists() else ToolLock()
    listings = anyio.run(
        lambda: list_servers(
            config.mcp.servers, base_dir=config.base_dir, timeout_s=config.mcp.call_timeout_s
        )
    )
    failed = {name: r for name, r in listings.items() if isinstance(r, UpstreamError)}
    if failed:
        detail = "; ".join(str(e) for e in failed.values())
        raise ToolwallError(f"the lock was not written: {detail}")
    lock = ToolLock(path=path)
    for name, tools in sorted(listings.items()):
        assert not isinstance(tools, UpstreamError)
        for entry in catalog_entries(name, tools, config.mcp.separator, old):
            lock.pins[entry.internal] = entry.pin
            if entry.check.ok:
                status = "unchanged"
            elif entry.internal not in old.pins:
                status = "added"
            else:
                status = entry.check.change.replace(" since it was locked", "")
            style = "dim" if entry.check.ok else "yellow"
            console.print(f"  [{style}]{escape(entry.internal)}: {escape(status)}[/]")
    for gone in sorted(set(old.pins) - set(lock.pins)):
        console.print(f"  [yellow]{escape(gone)}: removed (no server offers it now)[/]")
    lock.save(path)
    console.print(f"wrote {len(lock.pins)} tool pins to {escape(str(path))}")
    return EXIT_OK

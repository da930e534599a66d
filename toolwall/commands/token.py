"""`toolwall token mint|inspect`: development tokens signed with the `toolwall init` key, and
verification of any token with the configured `[identity]`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from toolwall.cli import EXIT_FINDING, EXIT_OK, add_config_option, console
from toolwall.config import Config, IdentityConfig
from toolwall.errors import ToolwallError
from toolwall.identity.devkeys import (
    PRIVATE_KEY_NAME,
    algorithm_for,
    load_private_key,
    mint_token,
    parse_ttl,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("token", help="mint development tokens, inspect tokens")
    commands = parser.add_subparsers(dest="token_command", metavar="ACTION")
    commands.required = True

    mint = commands.add_parser("mint", help="sign a development token with the init key")
    add_config_option(mint)
    mint.add_argument("--sub", required=True, help="the caller's subject")
    mint.add_argument("--tools", default="", help="granted tool patterns, comma-separated")
    mint.add_argument("--groups", default="", help="groups, comma-separated")
    mint.add_argument("--ttl", default="15m", help="time to live: 30s, 15m, 12h, 7d (default 15m)")
    mint.add_argument("--session", help="session id (the sid claim)")
    mint.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="K=V",
        help="an extra claim (V is JSON if it parses as JSON, else a string); repeatable",
    )
    mint.add_argument("--kid", help="key id header")
    mint.add_argument(
        "--key",
        type=Path,
        help=f"private key (default: .toolwall/keys/{PRIVATE_KEY_NAME} beside the config)",
    )
    mint.set_defaults(func=run_mint)

    inspect = commands.add_parser("inspect", help="verify a token and print its claims")
    add_config_option(inspect)
    inspect.add_argument("token", help='the token ("-" reads it from stdin)')
    inspect.add_argument("--json", action="store_true", help="print the caller as JSON")
    inspect.set_defaults(func=run_inspect)


def _identity(config_path: Path) -> tuple[Config, IdentityConfig]:
    config = Config.load(config_path)
    if config.identity is None:
        raise ToolwallError(f"{config_path}: no [identity] section; `toolwall init` scaffolds one")
    return config, config.identity


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _claims(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ToolwallError(f"--claim {item!r}: expected NAME=VALUE")
        try:
            out[name] = json.loads(value)
        except ValueError:
            out[name] = value
    return out


def run_mint(args: argparse.Namespace) -> int:
    config, identity = _identity(args.config)
    key_path = args.key or config.base_dir / ".toolwall" / "keys" / PRIVATE_KEY_NAME
    key = load_private_key(key_path)
    algorithm = algorithm_for(key)
    if algorithm not in identity.algorithms:
        raise ToolwallError(
            f"{key_path} signs {algorithm}, but [identity] algorithms allow only "
            f"{', '.join(identity.algorithms)}"
        )
    token = mint_token(
        key,
        sub=args.sub,
        tools=_split(args.tools),
        groups=_split(args.groups),
        ttl_s=parse_ttl(args.ttl),
        audience=identity.audience,
        issuer=identity.issuer,
        kid=args.kid,
        session=args.session,
        claims=_claims(args.claim),
        claim_names=identity.claims,
    )
    # Plain stdout, no wrapping: `TOKEN=$(toolwall token mint ...)` must get the token intact.
    sys.stdout.write(token + "\n")
    return EXIT_OK


def run_inspect(args: argparse.Namespace) -> int:
    from toolwall.identity import JWTVerifier, TokenRefused

    config, identity = _identity(args.config)
    verifier = JWTVerifier.from_config(identity, config.base_dir)
    token = sys.stdin.read().strip() if args.token == "-" else args.token
    try:
        caller = verifier.verify(token)
    except TokenRefused as refused:
        console.print("[bold red]refused[/]", escape(refused.reason().message))
        return EXIT_FINDING
    if args.json:
        sys.stdout.write(json.dumps(caller.model_dump(mode="json"), indent=2) + "\n")
        return EXIT_OK
    table = Table(title="[bold green]valid[/] token", show_header=False, title_justify="left")
    table.add_column("claim", style="bold")
    table.add_column("value", overflow="fold")
    # Claim values are the token issuer's text: shown as plain Text, never as rich markup.
    table.add_row("sub", Text(caller.sub or ""))
    table.add_row("iss", Text(caller.iss or "-"))
    table.add_row("tools", Text(", ".join(caller.tools) or "(none)"))
    table.add_row("groups", Text(", ".join(caller.groups) or "(none)"))
    table.add_row("session", Text(caller.session or "-"))
    exp = caller.claims.get("exp")
    if isinstance(exp, int | float):
        table.add_row("expires", datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
    shown = {"sub", "iss", "exp", identity.claims.tools, identity.claims.groups}
    shown.add(identity.claims.session)
    for name, value in caller.claims.items():
        if name not in shown:
            table.add_row(Text(name), Text(json.dumps(value, ensure_ascii=False)))
    console.print(table)
    return EXIT_OK

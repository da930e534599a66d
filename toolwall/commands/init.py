"""`toolwall init [DIR]`: scaffold a policy directory with a development identity.

Writes `toolwall.toml` (with `[identity]` pointing at a fresh Ed25519 public key), an example
schema and rule, and the key pair under `.toolwall/keys/` (private key mode 0600, the folder
kept out of git). Never overwrites anything: if a file it would write exists, nothing is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from toolwall.cli import EXIT_OK, console
from toolwall.errors import ToolwallError
from toolwall.identity.devkeys import PRIVATE_KEY_NAME, PUBLIC_KEY_NAME, generate_keypair

KEYS_DIR = Path(".toolwall") / "keys"

CONFIG = f"""\
# toolwall policy: every tool call is checked against the caller's grants (a signed token),
# the tool's schema (schemas/) and the rules (rules/) before it runs.

[policy]
schemas = "schemas"
rules = "rules"
unknown_tool = "block"        # a tool without a schema is refused

[limits]
max_arg_bytes = 65536
max_depth = 32
max_string_length = 16384

[identity]
# A development key made by `toolwall init`: mint tokens with `toolwall token mint`.
# In production, verify your identity provider's tokens instead, for example:
#   issuer = "https://idp.example"
#   jwks_url = "https://idp.example/.well-known/jwks.json"
audience = "toolwall"         # tokens must be issued for toolwall, not for anything else
issuer = "toolwall-dev"
algorithms = ["EdDSA"]
public_key_file = "{(KEYS_DIR / PUBLIC_KEY_NAME).as_posix()}"
leeway_s = 30
max_token_bytes = 8192
"""

SCHEMA = """\
{
  "type": "object",
  "description": "Send an email.",
  "properties": {
    "to": {"type": "array", "items": {"type": "string", "maxLength": 254}, "minItems": 1},
    "subject": {"type": "string", "maxLength": 500},
    "body": {"type": "string"}
  },
  "required": ["to", "subject", "body"],
  "additionalProperties": false
}
"""

RULE = """\
# Rules constrain what a granted tool may do. Who may call email.send at all is the token's
# business (its `tools` grant); this rule holds mail to outside addresses for approval.

let company = ["example.com"]

rule mail_outside_company:
    on email.send
    when any r in args.to: domain(r) not in company
    escalate
    because "mail to an outside address needs approval"
"""

FILES = {
    Path("toolwall.toml"): CONFIG,
    Path("schemas") / "email.send.json": SCHEMA,
    Path("rules") / "example.tw": RULE,
    Path(".toolwall") / ".gitignore": "# development keys never go into version control\n*\n",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "init", help="scaffold a policy directory with a development signing key"
    )
    parser.add_argument(
        "directory", nargs="?", type=Path, default=Path("."), help="where (default: .)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root: Path = args.directory
    targets = [root / p for p in FILES] + [
        root / KEYS_DIR / PRIVATE_KEY_NAME,
        root / KEYS_DIR / PUBLIC_KEY_NAME,
    ]
    existing = [str(p) for p in targets if p.exists() or p.is_symlink()]
    if existing:
        raise ToolwallError("refusing to overwrite existing files: " + ", ".join(existing))
    for relative, text in FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as out:  # "x": fail rather than overwrite
            out.write(text)
    keys = generate_keypair(root / KEYS_DIR, name=PRIVATE_KEY_NAME.removesuffix(".key"))
    console.print(f"[bold green]created[/] a toolwall policy in {escape(str(root.resolve()))}")
    for path in [*(root / p for p in FILES), keys.private_key, keys.public_key]:
        console.print(f"  {path}", markup=False)
    where = f" --config {root / 'toolwall.toml'}" if root != Path(".") else ""
    console.print(
        "next: [bold]toolwall token mint --sub alice --tools 'email.*' --ttl 15m"
        + escape(where)
        + "[/]",
        soft_wrap=True,
    )
    return EXIT_OK

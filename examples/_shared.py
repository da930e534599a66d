"""The scenario both framework examples play, so that they differ only in the framework's wiring.

`openai_agents_example.py` and `pydantic_ai_example.py` give the same three tools to an agent
whose scripted model first calls all three at once (allow, block, rewrite), then sends two mails
outside the company (two escalations: one approved, one rejected). This module holds what does not
depend on the framework: the tools, the model's script, the firewall with its development
identity provider, and the check of what really ran.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolwall import Firewall
from toolwall.identity import JWTVerifier
from toolwall.identity.devkeys import generate_private_key, mint_token

ROOT = Path(__file__).resolve().parents[1]

# Provider APIs refuse dots in tool names; the policy names tools with them.
NAMES = {"email_send": "email.send", "db_query": "db.query", "shell_run": "shell.run"}

# What really ran, checked at the end: the example fails loudly if enforcement breaks.
RAN: list[tuple[str, object]] = []

# The mails of the script: inside the company (allowed), and two outside it (escalated).
COLLEAGUE = {"to": ["bob@acme.test"], "subject": "Lunch", "body": "Noon?"}
OUTSIDER = {"to": ["eve@elsewhere.test"], "subject": "Numbers", "body": "Q3 figures"}
STRANGER = {"to": ["mallory@evil.test"], "subject": "Passwords", "body": "all of them"}

# What the scripted model 'decides', turn by turn, as (tool, arguments, call id): first three
# calls at once, then two mails outside the company. Then it says LAST_WORD.
TURNS: list[list[tuple[str, dict[str, Any], str]]] = [
    [
        ("email_send", COLLEAGUE, "call-allow"),
        ("shell_run", {"command": "rm -rf /srv"}, "call-block"),
        ("db_query", {"sql": "select * from orders", "limit": 5000, "debug": True}, "call-rewrite"),
    ],
    [
        ("email_send", OUTSIDER, "call-escalate-yes"),
        ("email_send", STRANGER, "call-escalate-no"),
    ],
]
LAST_WORD = "All done."


# The tools, as plain functions: each example registers them with its framework.
def email_send(to: list[str], subject: str, body: str) -> str:
    """Send an email."""
    RAN.append(("email_send", to))
    print(f"    [tool] email_send ran: to={to}")
    return f"sent to {', '.join(to)}"


def db_query(sql: str, limit: int, debug: bool = False) -> str:
    """Run a read-only SQL query."""
    RAN.append(("db_query", limit))
    print(f"    [tool] db_query ran: sql={sql!r} limit={limit} debug={debug}")
    return f"{limit} rows"


def shell_run(command: str) -> str:
    """Run a shell command."""
    RAN.append(("shell_run", command))
    print(f"    [tool] shell_run ran: {command!r}")  # never printed: the call is blocked
    return "done"


def firewall_and_token(session: str | None = None) -> tuple[Firewall, str]:
    """A development identity provider, the demo-policy firewall that trusts it, and a token it
    signed for alice (with `session` in it when given)."""
    key = generate_private_key()
    firewall = Firewall.from_config(
        ROOT / "toolwall.toml",
        identity=JWTVerifier.from_public_key(key.public_key(), audience="toolwall"),
    )
    token = mint_token(
        key,
        sub="alice",
        tools=["email.*", "db.query", "shell.run"],
        ttl_s=600,
        audience="toolwall",
        session=session,
    )
    return firewall, token


def approves(to: object) -> bool:
    """The human on call: the mail to the outsider may go, the one to the stranger may not."""
    return to == OUTSIDER["to"]


def check_what_ran() -> None:
    expected = [
        ("email_send", ["bob@acme.test"]),  # allowed
        ("db_query", 100),  # rewritten: the row limit capped; shell_run was blocked
        ("email_send", ["eve@elsewhere.test"]),  # escalated and approved; mallory's rejected
    ]
    # Tools of one turn run concurrently, so compare without their order.
    assert sorted(map(repr, RAN)) == sorted(map(repr, expected)), RAN

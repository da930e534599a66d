"""A project folder with a `toolwall.toml` whose `[state]` names the backend under test, so the
tests go through the loader as an application (or another process) does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolwall import Caller, Firewall

RULES = """
taint web.fetch

rule mail_limit:
    on email.*
    when count("email.*") >= 5
    block
    because "five mails per session"

rule mail_rate:
    on email.*
    when count_within("email.*", 3600) >= 50 or caller_count_within("email.*", 3600) >= 100
    block
    because "mail rate"

rule pay_after_untrusted:
    on bank.transfer
    when session.tainted
    escalate
    because "payment after reading untrusted content"
"""

BOB = Caller(sub="bob", iss="https://idp.example", tools=("*",), authenticated=True)


def project(folder: Path, backend: str, url: str = "", *, audit: bool = True, **state: Any) -> Path:
    """A project in `folder` whose state is `backend` at `url`; returns its toolwall.toml."""
    (folder / "rules").mkdir(parents=True, exist_ok=True)
    (folder / "schemas").mkdir(exist_ok=True)
    (folder / "rules" / "policy.tw").write_text(RULES, encoding="utf-8")
    lines = [
        "[policy]",
        'schemas = "schemas"',
        'rules = "rules"',
        'unknown_tool = "allow"',
        "",
        "[state]",
        f'backend = "{backend}"',
    ]
    if url:
        lines.append(f'url = "{url}"')
    lines += [f"{key} = {value!r}" for key, value in state.items()]
    if audit:
        lines += ["", "[audit]", 'path = "audit.jsonl"']
    config = folder / "toolwall.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def state_url(backend: str, folder: Path, redis_url: str | None) -> str:
    if backend == "sqlite":
        return str(folder / "state.db")
    if backend == "redis":
        assert redis_url is not None
        return redis_url
    return ""


def open_project(config: Path) -> Firewall:
    return Firewall.from_config(config)

"""The demo policy at the repository root, with a caller granted the assistant's tools, for the
tests of the provider formats and the adapters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolwall import Caller, Firewall

ROOT = Path(__file__).resolve().parents[3]

ASSISTANT = Caller(
    sub="assistant",
    tools=("email.*", "fs.*", "db.query", "shell.run", "web.fetch"),
    authenticated=True,
)


class CountingAudit:
    """An audit sink that keeps every record, to count decisions."""

    on_failure = "block"

    def __init__(self) -> None:
        self.records: list[tuple[str, str | None, str]] = []

    def record_decision(self, decision: Any, caller: Caller) -> None:
        self.records.append((decision.tool, decision.call_id, decision.action.value))


def demo_firewall(**parts: Any) -> Firewall:
    """`toolwall.toml` at the root (its schemas and `rules/assistant.tw`), parts overridden."""
    return Firewall.from_config(ROOT / "toolwall.toml", **parts)

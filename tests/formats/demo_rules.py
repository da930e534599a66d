"""A hand-written `RuleEngine` with four rules of the demo policy, for tests of the formats and
adapters that must not depend on the rule language (which has its own tests)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from toolwall import (
    Action,
    Caller,
    Firewall,
    Reason,
    ReasonKind,
    RuleVerdict,
    SchemaRegistry,
    SessionState,
)

ROOT = Path(__file__).resolve().parents[2]
COMPANY = ("acme.test", "acme-corp.test")
DESTRUCTIVE = re.compile(r"\brm\s+-[a-z]*r[a-z]*f|\bmkfs\b")

ASSISTANT = Caller(
    sub="assistant",
    tools=("email.*", "fs.*", "db.query", "shell.run", "web.fetch"),
    authenticated=True,
)


def _reason(rule: str, message: str) -> Reason:
    return Reason(ReasonKind.RULE, message, rule=rule, location=f"rules/assistant.tw:{rule}")


class DemoRules:
    """shell_destructive (block), files_in_workspace (block), mail_outside_company (escalate),
    cap_query_rows (rewrite); results of email.read and web.fetch taint the session."""

    def evaluate(
        self, tool: str, args: dict[str, Any], caller: Caller, session: SessionState
    ) -> RuleVerdict:
        if tool == "shell.run" and DESTRUCTIVE.search(args["command"]):
            fired = "shell_destructive"
            return RuleVerdict(
                Action.BLOCK, None, (_reason(fired, "destructive shell command"),), (fired,)
            )
        if tool.startswith("fs.") and not args["path"].startswith("/srv/workspace/"):
            fired = "files_in_workspace"
            message = f"path {args['path']} is outside the workspace"
            return RuleVerdict(Action.BLOCK, None, (_reason(fired, message),), (fired,))
        if tool == "email.send" and any(r.rsplit("@", 1)[-1] not in COMPANY for r in args["to"]):
            fired = "mail_outside_company"
            message = "mail to an outside address needs approval"
            return RuleVerdict(Action.ESCALATE, None, (_reason(fired, message),), (fired,))
        if tool == "db.query" and args["limit"] > 100:
            fired = "cap_query_rows"
            rewritten = {k: v for k, v in args.items() if k != "debug"} | {"limit": 100}
            return RuleVerdict(
                Action.REWRITE, rewritten, (_reason(fired, "row limit capped at 100"),), (fired,)
            )
        return RuleVerdict(Action.ALLOW)

    def taints(self, tool: str) -> bool:
        return tool in ("email.read", "web.fetch")

    def rules_for(self, tool: str) -> list[str]:
        return []


class CountingAudit:
    """An audit sink that keeps every record, to count decisions."""

    on_failure = "block"

    def __init__(self) -> None:
        self.records: list[tuple[str, str | None, str]] = []

    def record_decision(self, decision: Any, caller: Caller) -> None:
        self.records.append((decision.tool, decision.call_id, decision.action.value))


def demo_firewall(**parts: Any) -> Firewall:
    return Firewall(schemas=SchemaRegistry.load(ROOT / "schemas"), rules=DemoRules(), **parts)

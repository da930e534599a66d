"""Shared pieces of the OpenAI Agents SDK and Pydantic AI adapter tests: a small policy, an
audit sink that keeps records, a development identity provider.

The rules are a hand-written `RuleEngine` over the demo schemas, so these tests exercise the
adapters without depending on the rule language.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolwall import Action, Caller, Decision, Reason, ReasonKind
from toolwall.identity.devkeys import mint_token
from toolwall.model import RuleVerdict
from toolwall.state.memory import SessionState

REPO = Path(__file__).resolve().parents[3]
COMPANY = ("acme.test", "acme-corp.test")


class RecordingAudit:
    """An audit sink that keeps every decision record in memory."""

    on_failure = "block"

    def __init__(self) -> None:
        self.decisions: list[Decision] = []

    def record_decision(self, decision: Decision, caller: Caller) -> None:
        self.decisions.append(decision)

    def for_call(self, call_id: str) -> list[Decision]:
        return [d for d in self.decisions if d.call_id == call_id]


def _reason(rule: str, message: str) -> Reason:
    return Reason(ReasonKind.RULE, message, rule=rule)


class TinyRules:
    """Four rules, one per action, shaped like the demo policy's."""

    def evaluate(
        self, tool: str, args: dict[str, Any], caller: Caller, session: SessionState
    ) -> RuleVerdict:
        if tool == "shell.run" and "rm -rf" in args["command"]:
            return RuleVerdict(
                Action.BLOCK,
                reasons=(_reason("shell_destructive", "destructive shell command"),),
                fired=("shell_destructive",),
            )
        if tool == "db.query" and args["limit"] > 100:
            rewritten = {k: v for k, v in args.items() if k != "debug"}
            rewritten["limit"] = 100
            return RuleVerdict(
                Action.REWRITE,
                args=rewritten,
                reasons=(_reason("cap_query_rows", "row limit capped at 100"),),
                fired=("cap_query_rows",),
            )
        if tool == "email.send" and any(r.rsplit("@", 1)[-1] not in COMPANY for r in args["to"]):
            return RuleVerdict(
                Action.ESCALATE,
                reasons=(
                    _reason("mail_outside_company", "mail to an outside address needs approval"),
                ),
                fired=("mail_outside_company",),
            )
        if tool == "bank.transfer" and session.tainted:
            return RuleVerdict(
                Action.ESCALATE,
                reasons=(_reason("pay_after_untrusted", "payment after untrusted content"),),
                fired=("pay_after_untrusted",),
            )
        return RuleVerdict(Action.ALLOW)

    def taints(self, tool: str) -> bool:
        return tool in ("web.fetch", "email.read")

    def rules_for(self, tool: str) -> list[str]:
        return []


ALICE = Caller(
    sub="alice",
    tools=("email.*", "db.query", "shell.run", "web.fetch", "bank.transfer"),
    authenticated=True,
)


@dataclass(frozen=True)
class Issuer:
    """A development identity provider: mints tokens the firewall's verifier accepts."""

    key: Any

    def token(self, sub: str, tools: list[str], session: str | None = None) -> str:
        return mint_token(
            self.key, sub=sub, tools=tools, ttl_s=600, audience="toolwall", session=session
        )


MALLORY = Caller(sub="mallory", tools=ALICE.tools, authenticated=True)


def clocked_firewall(audit: RecordingAudit, clock: list[float], **parts: Any) -> Any:
    """The adapters' test firewall, its approvals living by `clock` (a ttl of 60 s)."""
    from toolwall import Firewall
    from toolwall.schemas.registry import SchemaRegistry
    from toolwall.state import MemoryApprovals, MemoryDecisions, MemorySessions, State

    return Firewall(
        schemas=SchemaRegistry.load(REPO / "schemas"),
        rules=TinyRules(),
        audit=audit,
        state=State(MemorySessions(), MemoryApprovals(clock=lambda: clock[0]), MemoryDecisions()),
        approval_ttl_s=60,
        **parts,
    )

"""Pinned tool definitions while a gateway runs: a tool whose definition no longer matches the
lock file (`toolwall mcp lock`) is blocked before the policy's own rules are asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolwall.integrations.mcp.catalog import Catalog
from toolwall.model import Action, Caller, Reason, ReasonKind, RuleVerdict, SessionView, TraceEntry
from toolwall.pipeline.rules import RuleEngine

LOCK_RULE = "toolwall.mcp.lock"


class PinnedRules:
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

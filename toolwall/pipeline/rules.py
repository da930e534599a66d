"""The narrow interface between the engine and the rules stage.

The engine knows nothing about the rule language. It asks a `RuleEngine` for a verdict on the
normalised, granted, schema-valid call, and whether a tool's results taint the session.
`toolwall.policy` provides the implementation compiled from `.tw` files; `NoRules` allows everything
the earlier stages let through.

An engine may also say what the rules covering a tool read of the past,
`session_needs(tool) -> SessionNeeds`, so that a remote state backend fetches it in the turn's one
round trip (the compiled policy does); an engine that does not is taken to read the session, with
no time windows.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from toolwall.model import (
    ALLOW_VERDICT,
    READS_NOTHING,
    Caller,
    RuleVerdict,
    SessionNeeds,
    SessionView,
)


@runtime_checkable
class RuleEngine(Protocol):
    def evaluate(
        self, tool: str, args: dict[str, Any], caller: Caller, session: SessionView
    ) -> RuleVerdict:
        """Evaluate the rules covering `tool` on the original `args`; never mutate them."""
        ...

    def taints(self, tool: str) -> bool:
        """Whether a result of `tool` marks the session as tainted."""
        ...

    def rules_for(self, tool: str) -> list[str]:
        """Names of the rules that cover `tool`, in evaluation order."""
        ...


class NoRules:
    """The rules stage of a policy without rules: every call that got this far is allowed."""

    def evaluate(
        self, tool: str, args: dict[str, Any], caller: Caller, session: SessionView
    ) -> RuleVerdict:
        return ALLOW_VERDICT

    def taints(self, tool: str) -> bool:
        return False

    def rules_for(self, tool: str) -> list[str]:
        return []

    def session_needs(self, tool: str) -> SessionNeeds:
        return READS_NOTHING

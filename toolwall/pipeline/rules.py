"""The narrow interface between the engine and the rules stage.

The engine knows nothing about the rule language. It asks a `RuleEngine` for a verdict on the
normalised, granted, schema-valid call, and whether a tool's results taint the session.
`toolwall.policy` provides the implementation compiled from `.tw` files; `NoRules` allows everything
the earlier stages let through.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from toolwall.model import ALLOW_VERDICT, Caller, RuleVerdict, SessionView


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

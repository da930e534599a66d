"""toolwall's exceptions: one base, one class per way things fail outside a decision.

A bad *call* never raises: it becomes a `block` decision. These exceptions are for bad
*configuration* (caught at load time) and for enforcement (`Blocked`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from toolwall.model import Decision


class ToolwallError(Exception):
    """Base of every exception toolwall raises."""


class ConfigError(ToolwallError):
    """`toolwall.toml` is missing, unreadable, or has an unknown key or a wrong type."""


class SchemaLoadError(ToolwallError):
    """A schema file or tool bundle cannot be used; the message names the file."""


class PolicyError(ToolwallError):
    """The rule files cannot be loaded; `diagnostics` holds every finding with its location."""

    def __init__(self, message: str, diagnostics: list[object] | None = None) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics or []


class InputRejected(ToolwallError, ValueError):
    """The call's input breaks a strict-input rule; `path` is the JSON path where it does."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class Blocked(ToolwallError):
    """Raised by enforcement when a call does not run. Carries the decision."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.message())
        self.decision = decision


class StateIncomplete(ToolwallError):
    """The session state cannot answer a question exactly (a window longer than what it
    remembers, a window it was not asked to fetch). Inside a rule this is a rule error: the
    rule fails closed."""

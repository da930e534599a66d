"""The rule language's exceptions, all under `toolwall.errors.ToolwallError`.

Each stage has its own: the parser raises `ParseError` (carrying diagnostics), the compiler
`CompileError` (only for a construct the checker should have refused), evaluation
`RuleEvalError` (which the rules stage turns into a fail-closed outcome), and the builtin
functions `BuiltinError` (which evaluation reports as a `RuleEvalError`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolwall.errors import ToolwallError

if TYPE_CHECKING:
    from toolwall.policy.ast import Loc
    from toolwall.policy.diagnostics import Diagnostic


class ParseError(ToolwallError):
    """A `.tw` text is not well formed. `diagnostics` says where and why (usually one)."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("\n".join(d.render() for d in diagnostics))
        self.diagnostics = diagnostics


class CompileError(ToolwallError):
    """A construct the checker should have refused reached the compiler."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(f"{loc}: {message}")
        self.loc = loc
        self.message = message


class RuleEvalError(ToolwallError):
    """A rule condition cannot be evaluated on this call (a type error or a missing field)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BuiltinError(ToolwallError, ValueError):
    """A builtin cannot give a value for its input; the message says why.

    The rule engine reports it as a rule error, which fails closed. It is also a `ValueError`:
    the builtins are plain functions on strings, usable outside rules.
    """

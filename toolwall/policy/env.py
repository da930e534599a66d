"""What a compiled expression sees when it runs: one `Env` per evaluation of a call's rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from toolwall.model import Caller, SessionView


class Env:
    """The call's arguments, caller, session and tool, and the quantifier variables (one slot
    per nesting depth). Shared by all the rules evaluated for one call."""

    __slots__ = ("args", "caller", "session", "tool", "vars")

    def __init__(
        self,
        args: Any,
        caller: Caller,
        session: SessionView,
        tool: str,
        slots: int,
    ) -> None:
        self.args = args
        self.caller = caller
        self.session = session
        self.tool = tool
        self.vars: list[Any] = [None] * slots


# A compiled expression.
Fn = Callable[[Env], Any]

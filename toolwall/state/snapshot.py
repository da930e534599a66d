"""The session as a remote backend (SQLite, Redis) read it at the start of a turn.

A backend reads, in the turn's one round trip, everything the tool's rules can ask
(`SessionNeeds`): the taint, the calls per tool, and for each time window the rules use, the
calls per tool within it. The rules then read this snapshot, which answers the same questions
the memory backend answers from its live state, with the same arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from toolwall.errors import StateIncomplete
from toolwall.patterns import compile_pattern, is_glob
from toolwall.state.windows import forgotten, window_start


def count_matching(counts: Mapping[str, int], pattern: str) -> int:
    """The calls in `counts` (per tool) to tools matching `pattern`."""
    if not is_glob(pattern):
        return counts.get(pattern, 0)
    match = compile_pattern(pattern)
    return sum(n for tool, n in counts.items() if match(tool))


class Snapshot:
    """A `SessionView` of what a backend read: per-tool counts, and per-tool counts within
    each fetched window (seconds -> tool -> calls), for the session and for the caller."""

    __slots__ = (
        "by_tool",
        "caller_horizon",
        "caller_windows",
        "calls",
        "capacity",
        "horizon",
        "now",
        "tainted",
        "ttl_s",
        "windows",
    )

    def __init__(
        self,
        *,
        tainted: bool = False,
        calls: int = 0,
        by_tool: Mapping[str, int] | None = None,
        windows: Mapping[float, Mapping[str, int]] | None = None,
        caller_windows: Mapping[float, Mapping[str, int]] | None = None,
        horizon: float = -math.inf,
        caller_horizon: float = -math.inf,
        now: float = 0.0,
        ttl_s: float = 86_400.0,
        capacity: int = 1024,
    ) -> None:
        self.tainted = tainted
        self.calls = calls
        self.by_tool = by_tool or {}
        self.windows = windows or {}
        self.caller_windows = caller_windows
        self.horizon = horizon
        self.caller_horizon = caller_horizon
        self.now = now
        self.ttl_s = ttl_s
        self.capacity = capacity

    def count(self, pattern: str) -> int:
        return count_matching(self.by_tool, pattern)

    def called(self, pattern: str) -> bool:
        return count_matching(self.by_tool, pattern) > 0

    def count_within(self, pattern: str, seconds: float) -> int:
        return self._within(self.windows, self.horizon, pattern, seconds, "this session")

    def caller_count_within(self, pattern: str, seconds: float) -> int:
        if self.caller_windows is None:
            raise StateIncomplete("caller_count_within() needs the caller of a decision")
        return self._within(
            self.caller_windows, self.caller_horizon, pattern, seconds, "this caller"
        )

    def _within(
        self,
        windows: Mapping[float, Mapping[str, int]],
        horizon: float,
        pattern: str,
        seconds: float,
        what: str,
    ) -> int:
        since = window_start(self.now, seconds, self.ttl_s)
        counts = windows.get(seconds)
        if counts is None:
            raise StateIncomplete(
                f"the {seconds:g} s window was not fetched with the session (only a rule engine "
                "that declares its windows, as a compiled policy does, can count them here)"
            )
        if since < horizon:
            raise forgotten(what, seconds, self.capacity)
        return count_matching(counts, pattern)

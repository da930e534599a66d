"""Time windows over the calls a session or a caller made: `count_within()` and
`caller_count_within()`.

A sliding-window *log*, not buckets: every call that ran is remembered with its time, so a
count over the last N seconds is exact at the edge of the window (a bucketed count is off by up
to a bucket at the edge, and no rounding is safe both for `count_within(...) >= 5` and for
`unless count_within(...) > 0`). Memory is bounded by forgetting the oldest entries first:

- an owner (a session, or a caller across its sessions) remembers at most `capacity` call times;
  when a new call would exceed that, its oldest entry is forgotten and `horizon` moves up to that
  entry's time. Because the oldest entry always goes first, every call newer than `horizon` is
  still remembered, so a window that starts at or after `horizon` is counted exactly; a window
  reaching back before it raises `StateIncomplete`, which fails the asking rule closed.
- a window longer than `[state] session_ttl_s` is refused the same way: state idle for that long
  expires (in every backend), so a longer window could undercount.

Every backend implements the same arithmetic: this module in memory, SQL in `sqlite_sessions`,
Lua in `redis_turn.lua`; the contract tests hold them to the same answers.
"""

from __future__ import annotations

import bisect
import math
from collections import deque

from toolwall.errors import StateIncomplete
from toolwall.patterns import compile_pattern, is_glob


def window_start(now: float, seconds: float, ttl_s: float) -> float:
    """The time after which calls count for a window of `seconds` ending `now`."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        raise StateIncomplete(f"a window is a number of seconds, not {type(seconds).__name__}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise StateIncomplete(f"a window of {seconds} seconds is not a positive duration")
    if seconds > ttl_s:
        raise StateIncomplete(
            f"a window of {seconds:g} s is longer than [state] session_ttl_s ({ttl_s:g} s): "
            "the state forgets sooner, so it cannot count that far back"
        )
    return now - seconds


def forgotten(what: str, seconds: float, capacity: int) -> StateIncomplete:
    """The error for a window that reaches back past what an owner still remembers."""
    return StateIncomplete(
        f"{what} made more than {capacity} calls that ran since the start of the last "
        f"{seconds:g} s ([state] max_remembered_calls); the window cannot be counted exactly"
    )


class CallLog:
    """The times of the calls that ran for one owner, per tool, bounded (see the module
    docstring). Not thread-safe: its owner's lock guards it."""

    __slots__ = ("capacity", "horizon", "order", "times")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.horizon = -math.inf  # every call after this time is remembered
        self.times: dict[str, list[float]] = {}
        self.order: deque[str] = deque()  # tools in the order of their entries, oldest first

    def __len__(self) -> int:
        return len(self.order)

    def record(self, tool: str, at: float) -> None:
        times = self.times.get(tool)
        if times is None:
            times = self.times[tool] = []
        # Clocks can step back a little (NTP); keep each list sorted so bisect stays right.
        if times and at < times[-1]:
            bisect.insort(times, at)
        else:
            times.append(at)
        self.order.append(tool)
        while len(self.order) > self.capacity:
            oldest_tool = self.order.popleft()
            oldest = self.times[oldest_tool]
            self.horizon = max(self.horizon, oldest.pop(0))
            if not oldest:
                del self.times[oldest_tool]

    def remove(self, tool: str, at: float) -> None:
        """Forget one entry `record` made (the call did not run after all)."""
        times = self.times.get(tool)
        if not times:
            return
        index = bisect.bisect_left(times, at)
        if index == len(times) or times[index] != at:
            return  # already forgotten to stay within capacity
        del times[index]
        if not times:
            del self.times[tool]
        # Which of the tool's places in `order` goes does not matter: eviction takes the tool's
        # oldest time whatever place it pops, and `horizon` is the newest time evicted.
        self.order.remove(tool)

    def count(self, pattern: str, since: float, what: str, seconds: float) -> int:
        """Calls to tools matching `pattern` after `since`; `what` names the owner in the error
        for a window that reaches back past what it remembers."""
        if since < self.horizon:
            raise forgotten(what, seconds, self.capacity)
        if not is_glob(pattern):
            times = self.times.get(pattern)
            return len(times) - bisect.bisect_right(times, since) if times else 0
        match = compile_pattern(pattern)
        return sum(
            len(times) - bisect.bisect_right(times, since)
            for tool, times in self.times.items()
            if match(tool)
        )

"""The Redis backend: many processes on many machines share sessions, approvals and decisions.

Redis 6.2 or newer, or Valkey, through the `redis` client (the `redis` extra). Every key starts
with `[state] key_prefix` inside a hash tag (`{toolwall:}s:...`), so one key prefix lives in one
hash slot: a turn is one Lua script even on Redis Cluster. Every key expires `session_ttl_s`
after its owner's last activity.

A turn costs one round trip (`lua/turn.lua`): the script reads what the tool's rules need
(`SessionNeeds`: the session's hash and the counts within each window the rules use) and, when
they read anything, *reserves* the call, recording it as if it ran, all atomically inside Redis.
So of N replicas deciding for one session at once, each sees the calls whose scripts Redis ran
before its own, and a `count()` limit admits exactly the limit. A call
that does not run after all (blocked, escalated) is released in a second round trip
(`lua/release.lua`); meanwhile others count one call too many, which can only make them
stricter. A call whose rules read nothing is recorded when it finishes, in one round trip, and
only if it runs. Time is Redis's (`TIME`), so the replicas' clocks do not matter to windows.

Failures: Redis unreachable, slower than `[state] timeout_s`, or answering nonsense raises
`StateUnavailable` (the call blocks with reason kind `state`); the client does not retry, and
reconnects on the next call, so the firewall recovers by itself when Redis is back.

URLs (the client's own, plus two toolwall spells out): `redis://[user:pass@]host:6379/0`,
`rediss://...` (TLS), `unix:///run/redis.sock?db=0`, `redis+cluster://host:7000` (Redis
Cluster, any node), `redis+sentinel://[user:pass@]host:26379,host2:26379/SERVICE[/DB]` (the
primary that Sentinel names; the credentials are the primary's, Sentinel is asked without).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from typing import Any

from toolwall.model import Decision, SessionNeeds
from toolwall.state.base import DecisionKey, State, StateLimit, StateUnavailable
from toolwall.state.codec import StoredDecisions, decision_from_json, decision_to_json
from toolwall.state.redis_approvals import RedisApprovals
from toolwall.state.redis_engine import RedisEngine, text
from toolwall.state.snapshot import Snapshot

# -- sessions -----------------------------------------------------------------------------------


class RedisTurn:
    """A turn in Redis (see the module docstring)."""

    __slots__ = ("_caller", "_recorded", "_rid", "_session", "_sessions", "_tool", "view")

    def __init__(
        self,
        sessions: RedisSessions,
        session: str | None,
        caller: str,
        tool: str,
        view: Snapshot,
        rid: str,
        recorded: bool,
    ) -> None:
        self._sessions = sessions
        self._session = session
        self._caller = caller
        self._tool = tool
        self.view = view
        self._rid = rid
        self._recorded = recorded  # reserved at the start of the turn

    def finish(self, action: str | None) -> None:
        if self._recorded and action is None:
            self.cancel()
        elif not self._recorded and action is not None:
            self._sessions.run_turn(self._session, self._caller, self._tool, self._rid)
            self._recorded = True

    def cancel(self) -> None:
        if self._recorded:
            self._recorded = False
            self._sessions.release(self._session, self._caller, self._tool, self._rid)


class RedisSessions:
    """Sessions (and callers' windows) in Redis; see the module docstring."""

    def __init__(
        self,
        engine: RedisEngine,
        *,
        session_ttl_s: float = 86_400.0,
        max_tools_per_session: int = 256,
        max_remembered_calls: int = 1024,
    ) -> None:
        self.engine = engine
        self.ttl_s = session_ttl_s
        self.ttl_ms = max(1, int(session_ttl_s * 1000))
        self.max_tools = max_tools_per_session
        self.capacity = max_remembered_calls

    def session_key(self, session: str) -> str:
        return f"{self.engine.base}s:{session}"

    def begin(self, session: str | None, tool: str, caller: str, needs: SessionNeeds) -> RedisTurn:
        rid = secrets.token_hex(8)
        if not needs.reads:
            return RedisTurn(self, session, caller, tool, Snapshot(), rid, False)
        view = self.run_turn(session, caller, tool, rid, needs)
        return RedisTurn(self, session, caller, tool, view, rid, True)

    def run_turn(
        self,
        session: str | None,
        caller: str | None,
        tool: str,
        rid: str,
        needs: SessionNeeds | None = None,
    ) -> Snapshot:
        """One run of `turn.lua`: read what `needs` says (None: nothing) and record the call."""
        windows = sorted(w for w in needs.windows if 0 < w <= self.ttl_s) if needs else []
        caller_windows = (
            sorted(w for w in needs.caller_windows if 0 < w <= self.ttl_s) if needs else []
        )
        sid = session if session is not None else ""
        route = self.session_key(sid) if session is not None else f"{self.engine.base}c:{caller}"
        reply = self.engine.script(
            "turn",
            [route],
            [
                self.engine.base,
                sid,
                caller or "",
                tool,
                self.ttl_ms,
                self.max_tools,
                self.capacity,
                1 if needs is not None else 0,
                1,
                rid,
                len(windows),
                *windows,
                len(caller_windows),
                *caller_windows,
            ],
        )
        try:
            status = text(reply[0])
            if status == "full":
                raise StateLimit(
                    f"session {session!r} has called {int(reply[1])} distinct tools, the most "
                    f"[state] max_tools_per_session allows: a call to {tool} cannot be counted, "
                    "so it does not run"
                )
            if status != "ok":
                raise ValueError(f"status {status!r}")
            return self._snapshot(reply, windows, caller_windows, caller is not None)
        except (ValueError, TypeError, IndexError, UnicodeDecodeError) as exc:
            raise StateUnavailable(
                f"Redis at {self.engine.where} answered nonsense to a turn: {exc}"
            ) from None

    def _snapshot(
        self, reply: Any, windows: list[float], caller_windows: list[float], has_caller: bool
    ) -> Snapshot:
        now = float(reply[1])
        view = Snapshot(now=now, ttl_s=self.ttl_s, capacity=self.capacity)
        _fill(view, reply[2])
        view.windows = _window_counts(reply[3], windows)
        if has_caller:
            view.caller_horizon = float(reply[4]) if reply[4] is not None else -math.inf
            view.caller_windows = _window_counts(reply[5], caller_windows)
        return view

    def release(self, session: str | None, caller: str, tool: str, rid: str) -> None:
        sid = session if session is not None else ""
        route = self.session_key(sid) if session is not None else f"{self.engine.base}c:{caller}"
        self.engine.script("release", [route], [self.engine.base, sid, caller, tool, rid])

    def view(self, session: str | None) -> Snapshot:
        view = Snapshot(ttl_s=self.ttl_s, capacity=self.capacity)
        if session is None:
            return view
        key = self.session_key(session)
        fields = self.engine.call(lambda client: client.hgetall(key))
        try:
            _fill(view, [item for pair in fields.items() for item in pair])
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            raise StateUnavailable(
                f"Redis at {self.engine.where} answered nonsense for a session: {exc}"
            ) from None
        return view

    def record_call(
        self, session: str | None, tool: str, action: str, caller: str | None = None
    ) -> None:
        self.run_turn(session, caller, tool, secrets.token_hex(8))

    def taint(self, session: str | None, source: str) -> bool:
        if session is None:
            return True  # the result taints the call's own (unshared) session
        self.engine.script(
            "taint", [self.session_key(session)], [source, self.ttl_ms, self.max_tools]
        )
        return True

    def forget(self, session: str) -> None:
        self.engine.script("forget", [self.session_key(session)], [self.engine.base, session])


def _fill(view: Snapshot, flat: list[Any]) -> None:
    """A snapshot's session part from the session hash (field, value, field, value, ...)."""
    by_tool: dict[str, int] = {}
    for i in range(0, len(flat), 2):
        field, value = text(flat[i]), flat[i + 1]
        if field.startswith("n:"):
            by_tool[field[2:]] = int(value)
        elif field == "calls":
            view.calls = int(value)
        elif field == "tainted":
            view.tainted = int(value) == 1
        elif field == "horizon":
            view.horizon = float(value)
    view.by_tool = by_tool


def _window_counts(flat: list[Any], windows: list[float]) -> dict[float, dict[str, int]]:
    out: dict[float, dict[str, int]] = {w: {} for w in windows}
    for i in range(0, len(flat), 3):
        out[windows[int(flat[i]) - 1]][text(flat[i + 1])] = int(flat[i + 2])
    return out


# -- decisions by call id -----------------------------------------------------------------------


class RedisDecisions(StoredDecisions):
    """Decisions by call id, for `session_ttl_s`."""

    def __init__(self, engine: RedisEngine, session_ttl_s: float = 86_400.0) -> None:
        self.engine = engine
        self.ttl_ms = max(1, int(session_ttl_s * 1000))

    def _key(self, key: DecisionKey) -> str:
        digest = hashlib.sha256(repr(key).encode("utf-8")).hexdigest()
        return f"{self.engine.base}d:{digest}"

    def _read(self, key: DecisionKey) -> tuple[str, Decision] | None:
        name = self._key(key)
        value = self.engine.call(lambda client: client.get(name))
        if value is None:
            return None
        try:
            digest, _, stored = text(value).partition("\n")
            return digest, decision_from_json(stored)
        except (ValueError, KeyError, TypeError) as exc:
            raise StateUnavailable(
                f"Redis at {self.engine.where} holds a decision that cannot be read: {exc}"
            ) from None

    def put(self, key: DecisionKey, digest: str, decision: Decision) -> None:
        name, value = self._key(key), f"{digest}\n{decision_to_json(decision)}"
        self.engine.call(lambda client: client.set(name, value, px=self.ttl_ms))


# -- the state ----------------------------------------------------------------------------------


def redis_state(url: str, settings: Any) -> State:
    """Sessions, approvals and decisions in Redis; `settings` is a `StateConfig`."""
    engine = RedisEngine(url, key_prefix=settings.key_prefix, timeout_s=settings.timeout_s)
    sessions = RedisSessions(
        engine,
        session_ttl_s=settings.session_ttl_s,
        max_tools_per_session=settings.max_tools_per_session,
        max_remembered_calls=settings.max_remembered_calls,
    )
    return State(
        sessions,
        RedisApprovals(engine, retention_s=settings.session_ttl_s),
        RedisDecisions(engine, settings.session_ttl_s),
        "redis",
        (engine,),
    )

"""Sessions in the SQLite state file: one machine, several processes, durable.

The whole state lives in one file (`[state] url`), WAL mode, owner-only (0600): the sessions
here, the approvals and decisions by call id in `toolwall.state.sqlite`. Every process of the
machine opens it; each thread keeps a connection of its own (`SQLiteFile`).

A turn is one `BEGIN IMMEDIATE` transaction that reads what the tool's rules need
(`SessionNeeds`) and, when they read anything, *reserves* the call: it is recorded at once, as
if it ran. Another process deciding in the same session meanwhile sees it, so a `count()` limit
holds across processes exactly as the order of the reservations says. If the call does not run
after all (blocked, escalated), `finish` releases the reservation in a second transaction; in
between, others count one call too many, which can only make them stricter. A call whose rules
read nothing is recorded when it finishes, only if it runs.

Owners are sessions (`s:<id>`) and callers (`c:<key>`); one idle for `session_ttl_s` expires:
it is deleted the next time it is touched, and a sweep deletes the rest now and then.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from toolwall.model import SessionNeeds
from toolwall.state.base import Health, StateLimit, StateUnavailable
from toolwall.state.snapshot import Snapshot

_SCHEMA = """
CREATE TABLE IF NOT EXISTS owners (
    key      TEXT PRIMARY KEY,          -- 's:' + session id, or 'c:' + caller key
    tainted  INTEGER NOT NULL DEFAULT 0,
    calls    INTEGER NOT NULL DEFAULT 0,
    logged   INTEGER NOT NULL DEFAULT 0, -- rows in call_log
    horizon  REAL,                       -- the newest call time forgotten; NULL: none
    used     REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS owners_used ON owners (used);
CREATE TABLE IF NOT EXISTS owner_tools (
    owner TEXT NOT NULL,
    tool  TEXT NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (owner, tool)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS taint_sources (
    owner TEXT NOT NULL,
    tool  TEXT NOT NULL,
    PRIMARY KEY (owner, tool)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS call_log (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    tool  TEXT NOT NULL,
    at    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS call_log_window ON call_log (owner, at);
CREATE TABLE IF NOT EXISTS decisions (
    key      TEXT PRIMARY KEY,
    digest   TEXT NOT NULL,
    decision TEXT NOT NULL,
    expires  REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS decisions_expires ON decisions (expires);
"""

SWEEP_EVERY_S = 60.0
SWEEP_BATCH = 1000


class SQLiteFile:
    """One state file: a connection per thread, transactions, and failures as `StateError`."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout_s: float = 0.5,
        session_ttl_s: float = 86_400.0,
        max_tools_per_session: int = 256,
        max_remembered_calls: int = 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self.ttl_s = session_ttl_s
        self.max_tools = max_tools_per_session
        self.capacity = max_remembered_calls
        self.clock = clock
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._swept = 0.0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Create the file owner-only before SQLite does; its -wal/-shm files copy the mode.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        db = self._connection()
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(
                self.path, timeout=self.timeout_s, isolation_level=None, check_same_thread=False
            )
            # WAL with NORMAL sync: a commit survives a crash of the process, not of the
            # machine's power, which for sessions means at worst a few calls forgotten there.
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """`BEGIN IMMEDIATE` ... `COMMIT`: the writers of all processes take turns."""
        try:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _unavailable(self.path, exc) from None
        try:
            yield db
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise _unavailable(self.path, exc) from None

    def run(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """`work` in one transaction; SQLite's errors become `StateUnavailable`."""
        try:
            with self.transaction() as db:
                self._sweep(db)
                return work(db)
        except sqlite3.Error as exc:
            raise _unavailable(self.path, exc) from None

    # -- owners -------------------------------------------------------------------------------

    def owner(self, db: sqlite3.Connection, key: str, now: float) -> tuple[Any, ...] | None:
        """(tainted, calls, logged, horizon) of a live owner; one idle past the ttl is deleted
        first (it has expired), so it reads as new."""
        row = db.execute(
            "SELECT tainted, calls, logged, horizon, used FROM owners WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        if row[4] <= now - self.ttl_s:
            self.delete_owner(db, key)
            return None
        return tuple(row[:4])

    @staticmethod
    def delete_owner(db: sqlite3.Connection, key: str) -> None:
        for table, column in (
            ("owners", "key"),
            ("owner_tools", "owner"),
            ("taint_sources", "owner"),
            ("call_log", "owner"),
        ):
            db.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,))

    def touch(self, db: sqlite3.Connection, key: str, now: float) -> None:
        db.execute(
            "INSERT INTO owners (key, used) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET used = max(used, excluded.used)",
            (key, now),
        )

    def by_tool(self, db: sqlite3.Connection, key: str) -> dict[str, int]:
        rows = db.execute("SELECT tool, n FROM owner_tools WHERE owner = ?", (key,))
        return dict(rows.fetchall())

    def within(self, db: sqlite3.Connection, key: str, since: float) -> dict[str, int]:
        rows = db.execute(
            "SELECT tool, count(*) FROM call_log WHERE owner = ? AND at > ? GROUP BY tool",
            (key, since),
        )
        return dict(rows.fetchall())

    def windows(
        self, db: sqlite3.Connection, key: str, now: float, seconds: frozenset[float]
    ) -> dict[float, dict[str, int]]:
        # A window the state cannot answer (longer than the ttl) is left out here and refused
        # by the snapshot with the reason.
        return {s: self.within(db, key, now - s) for s in seconds if 0 < s <= self.ttl_s}

    def record(
        self, db: sqlite3.Connection, key: str, tool: str, now: float, *, count: bool
    ) -> int:
        """Log a call for owner `key` (and count it, for a session); returns its log row."""
        if count:
            known = db.execute(
                "SELECT n FROM owner_tools WHERE owner = ? AND tool = ?", (key, tool)
            ).fetchone()
            if known is None:
                (tools,) = db.execute(
                    "SELECT count(*) FROM owner_tools WHERE owner = ?", (key,)
                ).fetchone()
                if tools >= self.max_tools:
                    raise _too_many_tools(key, self.max_tools, tool)
                db.execute("INSERT INTO owner_tools (owner, tool, n) VALUES (?, ?, 1)", (key, tool))
            else:
                db.execute(
                    "UPDATE owner_tools SET n = n + 1 WHERE owner = ? AND tool = ?", (key, tool)
                )
            db.execute("UPDATE owners SET calls = calls + 1 WHERE key = ?", (key,))
        row = db.execute(
            "INSERT INTO call_log (owner, tool, at) VALUES (?, ?, ?)", (key, tool, now)
        ).lastrowid
        db.execute("UPDATE owners SET logged = logged + 1 WHERE key = ?", (key,))
        (logged,) = db.execute("SELECT logged FROM owners WHERE key = ?", (key,)).fetchone()
        if logged > self.capacity:
            # The oldest go first, and the horizon says up to when they are gone.
            oldest = db.execute(
                "SELECT id, at FROM call_log WHERE owner = ? ORDER BY at, id LIMIT ?",
                (key, logged - self.capacity),
            ).fetchall()
            db.executemany("DELETE FROM call_log WHERE id = ?", [(i,) for i, _ in oldest])
            db.execute(
                "UPDATE owners SET logged = logged - ?, horizon = max(coalesce(horizon, ?), ?) "
                "WHERE key = ?",
                (len(oldest), -math.inf, max(at for _, at in oldest), key),
            )
        assert row is not None
        return row

    def unrecord(self, db: sqlite3.Connection, key: str, tool: str, row: int, count: bool) -> None:
        """Take back what `record` did for a call that did not run after all."""
        if count:
            db.execute("UPDATE owner_tools SET n = n - 1 WHERE owner = ? AND tool = ?", (key, tool))
            db.execute(
                "DELETE FROM owner_tools WHERE owner = ? AND tool = ? AND n <= 0", (key, tool)
            )
            db.execute("UPDATE owners SET calls = calls - 1 WHERE key = ?", (key,))
        if db.execute("DELETE FROM call_log WHERE id = ?", (row,)).rowcount:
            db.execute("UPDATE owners SET logged = logged - 1 WHERE key = ?", (key,))

    def _sweep(self, db: sqlite3.Connection) -> None:
        """Now and then, delete owners and decisions that have expired."""
        now = self.clock()
        if now - self._swept < SWEEP_EVERY_S:
            return
        self._swept = now
        expired = db.execute(
            "SELECT key FROM owners WHERE used <= ? LIMIT ?", (now - self.ttl_s, SWEEP_BATCH)
        ).fetchall()
        for (key,) in expired:
            self.delete_owner(db, key)
        db.execute("DELETE FROM decisions WHERE expires <= ?", (now,))

    # -- the engine ---------------------------------------------------------------------------

    def health(self) -> Health:
        try:
            self._connection().execute("SELECT count(*) FROM owners LIMIT 1").fetchone()
        except sqlite3.Error as exc:
            return False, f"sqlite {self.path}: {exc}"
        return True, f"sqlite {self.path}: ok"

    def stats(self) -> dict[str, Any]:
        db = self._connection()
        now = self.clock()

        def one(sql: str, *args: Any) -> Any:
            return db.execute(sql, args).fetchone()[0]

        live = now - self.ttl_s
        return {
            "sessions": one("SELECT count(*) FROM owners WHERE key LIKE 's:%' AND used > ?", live),
            "tainted_sessions": one(
                "SELECT count(*) FROM owners WHERE key LIKE 's:%' AND used > ? AND tainted", live
            ),
            "callers": one("SELECT count(*) FROM owners WHERE key LIKE 'c:%' AND used > ?", live),
            "remembered_calls": one("SELECT count(*) FROM call_log"),
            "decisions": one("SELECT count(*) FROM decisions WHERE expires > ?", now),
            "file_bytes": self.path.stat().st_size,
        }

    def close(self) -> None:
        with self._lock:
            for db in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    db.close()
            self._connections.clear()
        self._local = threading.local()


def _unavailable(path: Path, exc: sqlite3.Error) -> StateUnavailable:
    return StateUnavailable(f"the state file {path} cannot be used: {exc}")


def _too_many_tools(key: str, limit: int, tool: str) -> StateLimit:
    return StateLimit(
        f"session {key[2:]!r} has called {limit} distinct tools, the most [state] "
        f"max_tools_per_session allows: a call to {tool} cannot be counted, so it does not run"
    )


# -- sessions -----------------------------------------------------------------------------------


class SQLiteTurn:
    """A turn in the state file (see the module docstring)."""

    __slots__ = ("_caller", "_file", "_now", "_rows", "_session", "_tool", "view")

    def __init__(
        self,
        file: SQLiteFile,
        session: str | None,
        caller: str,
        tool: str,
        now: float,
        view: Snapshot,
        rows: list[tuple[str, int, bool]] | None,
    ) -> None:
        self._file = file
        self._session = session
        self._caller = caller
        self._tool = tool
        self._now = now
        self.view = view
        self._rows = rows  # the reservation: (owner, log row, counted); None: not reserved

    def finish(self, action: str | None) -> None:
        if self._rows is None:
            if action is not None:
                self._rows = self._file.run(self._record)
            return
        if action is None:
            self.cancel()

    def _record(self, db: sqlite3.Connection) -> list[tuple[str, int, bool]]:
        return record_call(self._file, db, self._session, self._caller, self._tool, self._now)

    def cancel(self) -> None:
        rows, self._rows = self._rows, []
        if not rows:
            return

        def release(db: sqlite3.Connection) -> None:
            for owner, row, counted in rows:
                self._file.unrecord(db, owner, self._tool, row, counted)

        self._file.run(release)


def record_call(
    file: SQLiteFile,
    db: sqlite3.Connection,
    session: str | None,
    caller: str | None,
    tool: str,
    now: float,
) -> list[tuple[str, int, bool]]:
    """Record a call for its session (counted and logged) and its caller (logged)."""
    rows = []
    if session is not None:
        key = "s:" + session
        file.owner(db, key, now)  # an expired session starts afresh
        file.touch(db, key, now)
        rows.append((key, file.record(db, key, tool, now, count=True), True))
    if caller is not None:
        key = "c:" + caller
        file.owner(db, key, now)
        file.touch(db, key, now)
        rows.append((key, file.record(db, key, tool, now, count=False), False))
    return rows


class SQLiteSessions:
    """Sessions in the state file (see the module docstring)."""

    def __init__(self, file: SQLiteFile) -> None:
        self.file = file

    def begin(self, session: str | None, tool: str, caller: str, needs: SessionNeeds) -> SQLiteTurn:
        file = self.file
        if not needs.reads:
            return SQLiteTurn(file, session, caller, tool, file.clock(), Snapshot(), None)

        def read_and_reserve(db: sqlite3.Connection) -> SQLiteTurn:
            now = file.clock()
            view = self._snapshot(db, session, now, needs.windows)
            caller_key = "c:" + caller
            owner = file.owner(db, caller_key, now)
            view.caller_horizon = _horizon(owner)
            view.caller_windows = file.windows(db, caller_key, now, needs.caller_windows)
            rows = record_call(file, db, session, caller, tool, now)
            return SQLiteTurn(file, session, caller, tool, now, view, rows)

        turn: SQLiteTurn = file.run(read_and_reserve)
        return turn

    def _snapshot(
        self, db: sqlite3.Connection, session: str | None, now: float, windows: frozenset[float]
    ) -> Snapshot:
        file = self.file
        view = Snapshot(now=now, ttl_s=file.ttl_s, capacity=file.capacity)
        if session is None:
            view.windows = {s: {} for s in windows}
            return view
        key = "s:" + session
        owner = file.owner(db, key, now)
        if owner is None:
            view.windows = {s: {} for s in windows}
            return view
        view.tainted, view.calls = bool(owner[0]), owner[1]
        view.horizon = _horizon(owner)
        view.by_tool = file.by_tool(db, key)
        view.windows = file.windows(db, key, now, windows)
        return view

    def view(self, session: str | None) -> Snapshot:
        view: Snapshot = self.file.run(
            lambda db: self._snapshot(db, session, self.file.clock(), frozenset())
        )
        return view

    def record_call(
        self, session: str | None, tool: str, action: str, caller: str | None = None
    ) -> None:
        now = self.file.clock()
        self.file.run(lambda db: record_call(self.file, db, session, caller, tool, now))

    def taint(self, session: str | None, source: str) -> bool:
        if session is None:
            return True

        def taint(db: sqlite3.Connection) -> None:
            key, now = "s:" + session, self.file.clock()
            self.file.owner(db, key, now)
            self.file.touch(db, key, now)
            db.execute("UPDATE owners SET tainted = 1 WHERE key = ?", (key,))
            (sources,) = db.execute(
                "SELECT count(*) FROM taint_sources WHERE owner = ?", (key,)
            ).fetchone()
            if sources < self.file.max_tools:  # for people reading the state; kept short
                db.execute(
                    "INSERT OR IGNORE INTO taint_sources (owner, tool) VALUES (?, ?)",
                    (key, source),
                )

        self.file.run(taint)
        return True

    def forget(self, session: str) -> None:
        self.file.run(lambda db: self.file.delete_owner(db, "s:" + session))


def _horizon(owner: tuple[Any, ...] | None) -> float:
    return owner[3] if owner is not None and owner[3] is not None else -math.inf

"""The SQLite backend: one machine, several processes, durable.

Approvals live in one SQLite file (WAL mode) that every process of the machine opens: a firewall
waiting for an answer, `toolwall approvals` in another terminal, the service's console. The file
is created owner-only (0600). Every state change is one `BEGIN IMMEDIATE` transaction, so two
answers or two uses of one approval cannot both win.

With `[state] backend = "sqlite"` the same file holds the sessions (`sqlite_sessions`) and the
decisions by call id (`SQLiteDecisions`); `sqlite_state` builds the three.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from toolwall.model import ApprovalRequest, Caller, Decision
from toolwall.state.base import (
    ApprovalError,
    ApprovalRecord,
    DecisionKey,
    Health,
    State,
    StateUnavailable,
    Status,
    unusable,
)
from toolwall.state.codec import StoredDecisions, decision_from_json, decision_to_json
from toolwall.state.sqlite_sessions import SQLiteFile, SQLiteSessions

_SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    id          TEXT PRIMARY KEY,
    digest      TEXT NOT NULL,
    status      TEXT NOT NULL
                CHECK (status IN ('pending', 'approved', 'denied', 'timeout', 'expired')),
    created     REAL NOT NULL,
    expires     REAL NOT NULL,
    answered    REAL,
    by          TEXT,
    note        TEXT NOT NULL DEFAULT '',
    consumed    REAL,
    decision_id TEXT NOT NULL,
    tool        TEXT NOT NULL,
    caller_sub  TEXT,
    caller_iss  TEXT,
    session     TEXT,
    request     TEXT NOT NULL,
    call_id     TEXT
)
"""

_COLUMNS = (
    "id, digest, status, created, expires, answered, by, note, consumed, decision_id, tool, "
    "caller_sub, caller_iss, session, call_id, request"
)


def _record(row: tuple[Any, ...]) -> ApprovalRecord:
    values = list(row)
    values[-1] = json.loads(values[-1])
    return ApprovalRecord(*values)


class SQLiteApprovals:
    """The approval store in one SQLite file, shared by the processes of a machine."""

    def __init__(
        self, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self.clock = clock  # wall-clock seconds, as stored in the file (other processes read it)
        self._init()

    def _init(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Create the file owner-only before SQLite does; its -wal/-shm files copy the mode.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(approvals)")}
            if "call_id" not in columns:  # a queue file made before call ids were recorded
                db.execute("ALTER TABLE approvals ADD COLUMN call_id TEXT")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def open(
        self, request: ApprovalRequest, ttl_s: float, shown: Mapping[str, Any]
    ) -> ApprovalRecord:
        decision = request.decision
        payload = json.dumps(dict(shown), ensure_ascii=True, sort_keys=True)
        now = self.clock()
        for _ in range(8):
            approval_id = secrets.token_hex(4)
            try:
                with self._transaction() as db:
                    db.execute(
                        "INSERT INTO approvals (id, digest, status, created, expires, "
                        "decision_id, tool, caller_sub, caller_iss, session, call_id, request) "
                        "VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            approval_id,
                            request.digest,
                            now,
                            now + ttl_s,
                            decision.id,
                            decision.tool,
                            decision.caller.sub,
                            decision.caller.iss,
                            decision.session,
                            decision.call_id,
                            payload,
                        ),
                    )
            except sqlite3.IntegrityError:
                continue  # an id already taken: draw another
            record = self.get(approval_id)
            assert record is not None
            return record
        raise ApprovalError("could not allocate an approval id")

    def get(self, approval_id: str) -> ApprovalRecord | None:
        with self._connect() as db:
            self._expire(db, self.clock())
            row = db.execute(
                f"SELECT {_COLUMNS} FROM approvals WHERE id = ?", (approval_id,)
            ).fetchone()
        return _record(row) if row is not None else None

    def find(self, caller: Caller, session: str | None, call_id: str) -> ApprovalRecord | None:
        with self._connect() as db:
            self._expire(db, self.clock())
            row = db.execute(
                f"SELECT {_COLUMNS} FROM approvals WHERE call_id = ? AND session IS ? "
                "AND caller_sub IS ? AND caller_iss IS ? ORDER BY created DESC, rowid DESC "
                "LIMIT 1",
                (call_id, session, caller.sub, caller.iss),
            ).fetchone()
        return _record(row) if row is not None else None

    def answer(self, approval_id: str, approved: bool, by: str, note: str = "") -> ApprovalRecord:
        now = self.clock()
        with self._transaction() as db:
            row = db.execute(
                "SELECT status, expires FROM approvals WHERE id = ?", (approval_id,)
            ).fetchone()
            if row is None:
                raise ApprovalError(f"no approval request {approval_id}")
            status, expires = row
            if status == "pending" and now >= expires:
                db.execute("UPDATE approvals SET status = 'expired' WHERE id = ?", (approval_id,))
                status = "expired"
            if status == "pending":
                db.execute(
                    "UPDATE approvals SET status = ?, answered = ?, by = ?, note = ? "
                    "WHERE id = ? AND status = 'pending'",
                    ("approved" if approved else "denied", now, by, note, approval_id),
                )
        if status == "expired":
            raise ApprovalError(f"approval request {approval_id} has expired")
        if status != "pending":
            raise ApprovalError(f"approval request {approval_id} is already {status}")
        record = self.get(approval_id)
        assert record is not None
        return record

    def time_out(self, approval_id: str, note: str) -> ApprovalRecord | None:
        with self._transaction() as db:
            db.execute(
                "UPDATE approvals SET status = 'timeout', answered = ?, by = 'toolwall', "
                "note = ? WHERE id = ? AND status = 'pending'",
                (self.clock(), note, approval_id),
            )
        return self.get(approval_id)

    def consume(self, approval_id: str, digest: str) -> ApprovalRecord:
        now = self.clock()
        with self._transaction() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM approvals WHERE id = ?", (approval_id,)
            ).fetchone()
            record = _record(row) if row is not None else None
            problem = unusable(record, approval_id, digest, now)
            if problem is None:
                # Single use: only the transaction that flips `consumed` may run the call.
                used = db.execute(
                    "UPDATE approvals SET consumed = ? WHERE id = ? AND status = 'approved' "
                    "AND consumed IS NULL AND digest = ? AND expires > ?",
                    (now, approval_id, digest, now),
                ).rowcount
                if used != 1:
                    problem = f"approval {approval_id} was already used"
        if problem is not None:
            raise ApprovalError(problem)
        used_record = self.get(approval_id)
        assert used_record is not None
        return used_record

    def entries(self, status: Status | None = None, limit: int = 200) -> list[ApprovalRecord]:
        with self._connect() as db:
            self._expire(db, self.clock())
            if status is None:
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM approvals ORDER BY created DESC LIMIT ?", (limit,)
                ).fetchall()
            else:
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM approvals WHERE status = ? "
                    "ORDER BY created DESC LIMIT ?",
                    (status, limit),
                ).fetchall()
        return [_record(row) for row in rows]

    @staticmethod
    def _expire(db: sqlite3.Connection, now: float) -> None:
        """Pending requests past their ttl are shown as what they are."""
        db.execute(
            "UPDATE approvals SET status = 'expired' WHERE status = 'pending' AND expires <= ?",
            (now,),
        )


# -- decisions by call id -----------------------------------------------------------------------


class SQLiteDecisions(StoredDecisions):
    """Decisions by call id in the state file, for `session_ttl_s`."""

    def __init__(self, file: SQLiteFile) -> None:
        self.file = file

    def _read(self, key: DecisionKey) -> tuple[str, Decision] | None:
        row = self.file.run(
            lambda db: db.execute(
                "SELECT digest, decision FROM decisions WHERE key = ? AND expires > ?",
                (_key(key), self.file.clock()),
            ).fetchone()
        )
        if row is None:
            return None
        try:
            return row[0], decision_from_json(row[1])
        except (ValueError, KeyError, TypeError) as exc:
            raise StateUnavailable(f"a stored decision cannot be read: {exc}") from None

    def put(self, key: DecisionKey, digest: str, decision: Decision) -> None:
        expires = self.file.clock() + self.file.ttl_s
        self.file.run(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO decisions (key, digest, decision, expires) "
                "VALUES (?, ?, ?, ?)",
                (_key(key), digest, decision_to_json(decision), expires),
            )
        )


def _key(key: DecisionKey) -> str:
    return json.dumps(list(key), ensure_ascii=False, separators=(",", ":"))


# -- the state ----------------------------------------------------------------------------------


class SQLiteEngine:
    """The state file as an `Engine`, with the approvals' counts."""

    def __init__(self, file: SQLiteFile, approvals: SQLiteApprovals) -> None:
        self.file = file
        self.approvals = approvals

    def health(self) -> Health:
        return self.file.health()

    def stats(self) -> dict[str, Any]:
        out = self.file.stats()
        entries = self.approvals.entries(limit=1 << 30)
        out["approvals"] = len(entries)
        out["pending_approvals"] = sum(1 for e in entries if e.status == "pending")
        return out

    def close(self) -> None:
        self.file.close()


def sqlite_state(path: str | os.PathLike[str], settings: Any) -> State:
    """Sessions, approvals and decisions in one SQLite file; `settings` is a `StateConfig`."""
    file = SQLiteFile(
        path,
        timeout_s=settings.timeout_s,
        session_ttl_s=settings.session_ttl_s,
        max_tools_per_session=settings.max_tools_per_session,
        max_remembered_calls=settings.max_remembered_calls,
    )
    approvals = SQLiteApprovals(path)
    return State(
        SQLiteSessions(file),
        approvals,
        SQLiteDecisions(file),
        "sqlite",
        (SQLiteEngine(file, approvals),),
    )

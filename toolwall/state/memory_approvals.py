"""Approvals and decisions by call id in memory: one process, nothing survives a restart.

Both are bounded: approvals drop what nothing can use any more and then refuse new requests
(the call is denied); decisions drop the oldest, which only means a hook that fires again for
that call gets it decided (and audited) again.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, NamedTuple

from toolwall.model import ApprovalRequest, Caller, Decision
from toolwall.state.base import (
    ApprovalError,
    ApprovalRecord,
    DecisionKey,
    Status,
    caller_key,
    unusable,
)


class MemoryApprovals:
    """Approvals in a dictionary: answered by this process only (a console, a callback, a
    framework's own human-in-the-loop). Bounded: expired and used records are dropped first;
    a store full of pending requests refuses new ones (the call is then denied)."""

    def __init__(
        self, max_entries: int = 10_000, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._records: OrderedDict[str, ApprovalRecord] = OrderedDict()
        self._lock = threading.Lock()

    def open(
        self, request: ApprovalRequest, ttl_s: float, shown: Mapping[str, Any]
    ) -> ApprovalRecord:
        decision = request.decision
        now = self.clock()
        with self._lock:
            self._make_room(now)
            approval_id = secrets.token_hex(4)
            while approval_id in self._records:
                approval_id = secrets.token_hex(4)
            record = ApprovalRecord(
                id=approval_id,
                digest=request.digest,
                status="pending",
                created=now,
                expires=now + ttl_s,
                answered=None,
                by=None,
                note="",
                consumed=None,
                decision_id=decision.id,
                tool=decision.tool,
                caller_sub=decision.caller.sub,
                caller_iss=decision.caller.iss,
                session=decision.session,
                call_id=decision.call_id,
                request=dict(shown),
            )
            self._records[approval_id] = record
            return record

    def _make_room(self, now: float) -> None:
        if len(self._records) < self.max_entries:
            return
        for key in [k for k, r in self._records.items() if _settled(r, now)]:
            del self._records[key]
        if len(self._records) >= self.max_entries:
            raise ApprovalError(
                f"{len(self._records)} approval requests are pending: no room for another"
            )

    def get(self, approval_id: str) -> ApprovalRecord | None:
        with self._lock:
            return self._current(approval_id, self.clock())

    def find(self, caller: Caller, session: str | None, call_id: str) -> ApprovalRecord | None:
        key = caller_key(caller)
        with self._lock:
            for record in reversed(self._records.values()):
                if (
                    record.call_id == call_id
                    and record.session == session
                    and record.caller_key == key
                ):
                    return self._current(record.id, self.clock())
        return None

    def answer(self, approval_id: str, approved: bool, by: str, note: str = "") -> ApprovalRecord:
        now = self.clock()
        with self._lock:
            record = self._current(approval_id, now)
            if record is None:
                raise ApprovalError(f"no approval request {approval_id}")
            if record.status == "expired":
                raise ApprovalError(f"approval request {approval_id} has expired")
            if record.status != "pending":
                raise ApprovalError(f"approval request {approval_id} is already {record.status}")
            status: Status = "approved" if approved else "denied"
            record = replace(record, status=status, answered=now, by=by, note=note)
            self._records[approval_id] = record
            return record

    def time_out(self, approval_id: str, note: str) -> ApprovalRecord | None:
        now = self.clock()
        with self._lock:
            record = self._current(approval_id, now)
            if record is not None and record.status == "pending":
                record = replace(record, status="timeout", answered=now, by="toolwall", note=note)
                self._records[approval_id] = record
            return record

    def consume(self, approval_id: str, digest: str) -> ApprovalRecord:
        now = self.clock()
        with self._lock:
            record = self._current(approval_id, now)
            problem = unusable(record, approval_id, digest, now)
            if problem is not None:
                raise ApprovalError(problem)
            assert record is not None
            record = replace(record, consumed=now)
            self._records[approval_id] = record
            return record

    def entries(self, status: Status | None = None, limit: int = 200) -> list[ApprovalRecord]:
        now = self.clock()
        with self._lock:
            records = [self._current(k, now) for k in reversed(self._records)]
        return [r for r in records if r is not None and (status is None or r.status == status)][
            :limit
        ]

    def _current(self, approval_id: str, now: float) -> ApprovalRecord | None:
        """The record, with a pending one past its ttl shown (and kept) as expired."""
        record = self._records.get(approval_id)
        if record is not None and record.status == "pending" and now >= record.expires:
            record = replace(record, status="expired")
            self._records[approval_id] = record
        return record


def _settled(record: ApprovalRecord, now: float) -> bool:
    """Whether a record can be dropped without changing any later answer: nothing can use it."""
    if record.status == "pending":
        return now >= record.expires
    return record.status != "approved" or record.consumed is not None or now >= record.expires


class _CachedDecision(NamedTuple):
    digest: str
    decision: Decision


class MemoryDecisions:
    """Decisions by (caller, session, call id), bounded: the oldest is forgotten first.

    Forgetting one only means the call is decided (and audited) again if its hook fires again;
    an approval is never carried by this cache, so nothing becomes more permissive.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[DecisionKey, _CachedDecision] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: DecisionKey, digest: str) -> Decision | None:
        with self._lock:
            entry = self._entries.get(key)
        return entry.decision if entry is not None and entry.digest == digest else None

    def latest(self, key: DecisionKey) -> Decision | None:
        with self._lock:
            entry = self._entries.get(key)
        return entry.decision if entry is not None else None

    def put(self, key: DecisionKey, digest: str, decision: Decision) -> None:
        with self._lock:
            self._entries[key] = _CachedDecision(digest, decision)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

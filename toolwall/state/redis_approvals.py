"""Approvals in Redis: answered on any replica (or by `toolwall approvals`), used once.

Each approval is a hash (`{prefix}a:<id>`) kept until `ttl_s` after it expires plus
`retention_s`; `{prefix}ac:<sha256 of caller, session, call id>` names the newest approval of a
call, and `{prefix}al` lists them for people. Answering, timing out and using an approval are
each one Lua script: a check and its change in one step, so two answers, or two replicas using
one approval at once, cannot both win. The rule an approval must pass to be used is
`toolwall.state.base.unusable`, the same for every backend; the script applies it atomically
and the message comes from `unusable` on the record as the script saw it.

Times are the firewall's wall clock (as in SQLite), passed to the scripts: what expires when is
the same whichever replica asks, up to the replicas' clock skew.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from toolwall.model import ApprovalRequest, Caller
from toolwall.state.base import (
    ApprovalError,
    ApprovalRecord,
    StateUnavailable,
    Status,
    caller_key,
    unusable,
)
from toolwall.state.redis_engine import RedisEngine, text

# The list `toolwall approvals list` shows is bounded; records beyond it can still be used.
LISTED = 10_000

_FIELDS = (
    "digest", "status", "created", "expires", "answered", "by", "note", "consumed",
    "decision_id", "tool", "caller_sub", "caller_iss", "session", "call_id", "request",
)  # fmt: skip
_FLOATS = frozenset({"created", "expires", "answered", "consumed"})


class RedisApprovals:
    """The approval store in Redis (see the module docstring)."""

    def __init__(
        self,
        engine: RedisEngine,
        *,
        retention_s: float = 86_400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.retention_s = retention_s
        self.clock = clock

    def _record_key(self, approval_id: str) -> str:
        return f"{self.engine.base}a:{approval_id}"

    def _index_key(self, caller: str, session: str | None, call_id: str) -> str:
        who = json.dumps([caller, session, call_id], ensure_ascii=False)
        return f"{self.engine.base}ac:{hashlib.sha256(who.encode('utf-8')).hexdigest()}"

    def open(
        self, request: ApprovalRequest, ttl_s: float, shown: Mapping[str, Any]
    ) -> ApprovalRecord:
        decision = request.decision
        now = self.clock()
        values: dict[str, Any] = {
            "digest": request.digest,
            "status": "pending",
            "created": repr(now),
            "expires": repr(now + ttl_s),
            "note": "",
            "decision_id": decision.id,
            "tool": decision.tool,
            "caller_sub": decision.caller.sub,
            "caller_iss": decision.caller.iss,
            "session": decision.session,
            "call_id": decision.call_id,
            "request": json.dumps(dict(shown), ensure_ascii=True, sort_keys=True),
        }
        flat = [item for k, v in values.items() if v is not None for item in (k, v)]
        keep_ms = max(1, int((ttl_s + self.retention_s) * 1000))
        index = self._index_key(
            caller_key(decision.caller), decision.session, decision.call_id or ""
        )
        for _ in range(8):
            approval_id = secrets.token_hex(4)
            keys = [self._record_key(approval_id), index, f"{self.engine.base}al"]
            if decision.call_id is None:
                # A call without an id is never found by call id: index it nowhere useful.
                keys[1] = f"{self.engine.base}ac:-"
            stored = self.engine.script(
                "approval_open", keys, [approval_id, repr(now), keep_ms, LISTED, *flat]
            )
            if stored == 1:
                record = self.get(approval_id)
                if record is None:
                    raise StateUnavailable(
                        f"Redis at {self.engine.where} lost approval {approval_id} just stored"
                    )
                return record
        raise ApprovalError("could not allocate an approval id")

    def get(self, approval_id: str) -> ApprovalRecord | None:
        key = self._record_key(approval_id)
        fields = self.engine.call(lambda client: client.hgetall(key))
        return self._record(approval_id, fields, self.clock())

    def _record(
        self, approval_id: str, fields: Mapping[Any, Any], now: float
    ) -> ApprovalRecord | None:
        """The record from its hash, a pending one past its ttl shown as expired."""
        if not fields:
            return None
        try:
            values = {text(k): text(v) for k, v in fields.items()}
            parsed: dict[str, Any] = {name: values.get(name) for name in _FIELDS}
            for name in _FLOATS:
                if parsed[name] is not None:
                    parsed[name] = float(parsed[name])
            parsed["note"] = parsed["note"] or ""
            parsed["request"] = json.loads(parsed["request"])
            record = ApprovalRecord(id=approval_id, **parsed)
        except (ValueError, TypeError, KeyError) as exc:
            raise StateUnavailable(
                f"Redis at {self.engine.where} holds approval {approval_id} that cannot be "
                f"read: {exc}"
            ) from None
        if record.status == "pending" and now >= record.expires:
            return _with_status(record, "expired")
        return record

    def find(self, caller: Caller, session: str | None, call_id: str) -> ApprovalRecord | None:
        index = self._index_key(caller_key(caller), session, call_id)
        found = self.engine.call(lambda client: client.get(index))
        return self.get(text(found)) if found is not None else None

    def _answer(self, approval_id: str, status: str, by: str, note: str) -> list[Any]:
        reply: list[Any] = self.engine.script(
            "approval_answer",
            [self._record_key(approval_id)],
            [repr(self.clock()), status, by, note],
        )
        return [text(part) for part in reply]

    def answer(self, approval_id: str, approved: bool, by: str, note: str = "") -> ApprovalRecord:
        reply = self._answer(approval_id, "approved" if approved else "denied", by, note)
        if reply[0] == "missing":
            raise ApprovalError(f"no approval request {approval_id}")
        if reply[0] != "ok":
            if reply[1] == "expired":
                raise ApprovalError(f"approval request {approval_id} has expired")
            raise ApprovalError(f"approval request {approval_id} is already {reply[1]}")
        record = self.get(approval_id)
        assert record is not None
        return record

    def time_out(self, approval_id: str, note: str) -> ApprovalRecord | None:
        self._answer(approval_id, "timeout", "toolwall", note)
        return self.get(approval_id)

    def consume(self, approval_id: str, digest: str) -> ApprovalRecord:
        now = self.clock()
        reply = self.engine.script(
            "approval_consume", [self._record_key(approval_id)], [repr(now), digest]
        )
        fields = dict(zip(reply[1][::2], reply[1][1::2], strict=True))
        record = self._record(approval_id, fields, now)
        if int(reply[0]) == 1:
            assert record is not None
            return record
        problem = unusable(record, approval_id, digest, now)
        # The script refused; if the rule says the record as it stands could be used, another
        # replica used it in between (the script saw it used): say so.
        raise ApprovalError(problem or f"approval {approval_id} was already used")

    def entries(self, status: Status | None = None, limit: int = 200) -> list[ApprovalRecord]:
        listing = f"{self.engine.base}al"

        def read(client: Any) -> list[tuple[str, Any]]:
            ids = [text(i) for i in client.zrevrange(listing, 0, LISTED - 1)]
            pipe = client.pipeline(transaction=False)
            for approval_id in ids:
                pipe.hgetall(self._record_key(approval_id))
            return list(zip(ids, pipe.execute(), strict=True))

        now = self.clock()
        out: list[ApprovalRecord] = []
        for approval_id, fields in self.engine.call(read):
            record = self._record(approval_id, fields, now)
            if record is not None and (status is None or record.status == status):
                out.append(record)
                if len(out) >= limit:
                    break
        return out


def _with_status(record: ApprovalRecord, status: Status) -> ApprovalRecord:
    from dataclasses import replace

    return replace(record, status=status)

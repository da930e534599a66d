"""Decisions as JSON, for the backends that keep decisions by call id outside the process.

A round trip gives back an equal `Decision` (the caller and every reason and trace entry
included): a hook that fires again for a call on another replica gets the decision the first
replica made, not an approximation of it.
"""

from __future__ import annotations

import json
from typing import Any

from toolwall.model import Action, Caller, Decision, Reason, ReasonKind, TraceEntry
from toolwall.state.base import DecisionKey

_TRACE_FIELDS = ("detail", "rule", "location", "when", "unless", "fired", "error")


def decision_to_json(decision: Decision) -> str:
    caller = decision.caller
    return json.dumps(
        {
            "id": decision.id,
            "action": decision.action.value,
            "tool": decision.tool,
            "args": decision.args,
            "original_args": decision.original_args,
            "reasons": [[r.kind.value, r.message, r.rule, r.location] for r in decision.reasons],
            "rules": list(decision.rules),
            "trace": [_entry(t) for t in decision.trace],
            "latency_us": decision.latency_us,
            "call_id": decision.call_id,
            "caller": {
                "sub": caller.sub,
                "iss": caller.iss,
                "groups": list(caller.groups),
                "tools": list(caller.tools),
                "claims": dict(caller.claims),
                "authenticated": caller.authenticated,
                "session": caller.session,
            },
            "session": decision.session,
        },
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )


def _entry(entry: TraceEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"stage": entry.stage, "outcome": entry.outcome}
    for key in _TRACE_FIELDS:
        out[key] = getattr(entry, key)
    out["action"] = entry.action.value if entry.action is not None else None
    return out


def decision_from_json(text: str | bytes) -> Decision:
    """The decision `decision_to_json` wrote; `ValueError` (or `KeyError`, `TypeError`) for
    anything else."""
    data = json.loads(text)
    return Decision(
        id=data["id"],
        action=Action(data["action"]),
        tool=data["tool"],
        args=data["args"],
        original_args=data["original_args"],
        reasons=tuple(
            Reason(ReasonKind(kind), message, rule, location)
            for kind, message, rule, location in data["reasons"]
        ),
        rules=tuple(data["rules"]),
        trace=tuple(
            TraceEntry(
                e["stage"],
                e["outcome"],
                **{k: e[k] for k in _TRACE_FIELDS},
                action=Action(e["action"]) if e["action"] is not None else None,
            )
            for e in data["trace"]
        ),
        latency_us=float(data["latency_us"]),
        call_id=data["call_id"],
        caller=Caller(**data["caller"]),
        session=data["session"],
    )


class StoredDecisions:
    """What a decision store that keeps (digest, decision) per key answers; a backend says how
    it reads one (`_read`) and writes one (`put`)."""

    def _read(self, key: DecisionKey) -> tuple[str, Decision] | None:
        raise NotImplementedError

    def get(self, key: DecisionKey, digest: str) -> Decision | None:
        found = self._read(key)
        return found[1] if found is not None and found[0] == digest else None

    def latest(self, key: DecisionKey) -> Decision | None:
        found = self._read(key)
        return found[1] if found is not None else None

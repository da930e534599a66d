"""The audit trail: one record per decision.

This module holds the record format and the sink the engine writes through. `AuditLog` emits
each record to the `toolwall.audit` logger, so it reaches whatever log pipeline the
application already has.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any, Protocol

from toolwall.model import Caller, Decision

logger = logging.getLogger("toolwall.audit")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 as is: the form that hashes and digests are taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def args_digest(args: Any) -> str:
    return hashlib.sha256(canonical_json(args).encode("utf-8")).hexdigest()


class AuditSink(Protocol):
    on_failure: str

    def record_decision(self, decision: Decision, caller: Caller) -> None:
        """Record one decision. Raises when the record could not be written."""
        ...


class AuditLog:
    """Emits every decision as a JSON record on the `toolwall.audit` logger."""

    on_failure = "block"

    def record_decision(self, decision: Decision, caller: Caller) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info(canonical_json(decision_record(decision, caller)))


def decision_record(decision: Decision, caller: Caller) -> dict[str, Any]:
    """The audit record of a decision (arguments are represented by their digest only)."""
    return {
        "type": "decision",
        "time": time.time(),
        "id": decision.id,
        "call_id": decision.call_id,
        "session": decision.session,
        "caller": {"sub": caller.sub, "iss": caller.iss},
        "tool": decision.tool,
        "args_sha256": args_digest(decision.original_args)
        if decision.original_args is not None
        else None,
        "action": decision.action.value,
        "rules": decision.rules,
        "reasons": [r.to_dict() for r in decision.reasons],
        "latency_us": round(decision.latency_us, 1),
    }

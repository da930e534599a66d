"""What each audit record says: `decision`, `approval`, `result` and `upstream_error` records.

Every record has `type`, `v` (the format version), `time`, the caller (`sub` and `iss`; never a
token) and the session. A decision record holds the arguments with the configured fields
redacted, next to the SHA-256 of the canonical unredacted arguments; a result record holds the
result's digest and size only, never its content. Each builder returns the record as the three
encoded runs `toolwall.audit.chain.chain_line` links.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from toolwall.audit.chain import record_runs
from toolwall.audit.redact import Redactor, redacted_strings, scrub
from toolwall.canonical import (
    args_digest,
    ascii_string,
    call_digest,
    canonical_ascii,
    result_digest,
    sha256_hex,
)

if TYPE_CHECKING:
    from toolwall.model import ApprovalAnswer, Caller, Decision

FORMAT_VERSION = 1

Runs = tuple[str, str, str]


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else ascii_string(value)


def _number(value: float) -> str:
    # The encoder writes a finite float as its repr; NaN and infinities have their own words.
    return repr(value) if math.isfinite(value) else canonical_ascii(value)


def decision_runs(decision: Decision, caller: Caller, redact: Redactor) -> Runs:
    """The record of one decision."""
    original = decision.original_args
    if original is not None:
        # The arguments are encoded once: for the line, the digest and the redaction screen.
        encoded = canonical_ascii(original)
        plain = "\\u" not in encoded  # pure ASCII: the UTF-8 canonical form is the same text
        digest = '"' + (sha256_hex(encoded) if plain else args_digest(original)) + '"'
        args = redact(original, encoded if plain else None)
        args_json = encoded if args is original else canonical_ascii(args)
    else:
        args, args_json, digest = None, "null", "null"
    reasons = [r.to_dict() for r in decision.reasons]
    final = decision.args
    redacted = args is not original
    rewritten = None
    if final is not None and final is not original:
        rewritten = redact(final)
        redacted = redacted or rewritten is not final
    if redacted and reasons:
        # A `because` message may interpolate a field that is redacted in the arguments.
        secrets: list[str] = []
        redacted_strings(original, args, secrets)
        if rewritten is not None:
            redacted_strings(final, rewritten, secrets)
        if secrets:
            reasons = [scrub(r, secrets) for r in reasons]
    # The record is written out member by member in key order (see `chain_line`), with the
    # C string encoder for every text: a dict and a sorting encoder cost twice as much, and
    # this is on every call. `verify` re-encodes the parsed record, so this text must be
    # (and is tested to be) canonical.
    low = (
        f'"action":"{decision.action.value}","args":{args_json},"args_sha256":{digest},'
        f'"call_id":{_text_or_null(decision.call_id)},'
        f'"caller":{{"iss":{_text_or_null(caller.iss)},"sub":{_text_or_null(caller.sub)}}}'
    )
    mid = f'"id":{ascii_string(decision.id)},"latency_us":{_number(round(decision.latency_us, 1))}'
    rules = _fired_rules(decision)
    high = (
        f'"reasons":{canonical_ascii(reasons) if reasons else "[]"},'
        + (
            ""
            if rewritten is None
            else f'"rewritten_args":{canonical_ascii(rewritten)},'
            f'"rewritten_args_sha256":"{args_digest(final)}",'
        )
        + f'"rules":{canonical_ascii(rules) if rules else "[]"},'
        f'"session":{_text_or_null(decision.session)},"time":"{_now()}",'
        f'"tool":{ascii_string(decision.tool)},"type":"decision","v":{FORMAT_VERSION}'
    )
    return low, mid, high


def approval_runs(decision: Decision, caller: Caller, answer: ApprovalAnswer) -> Runs:
    """The answer to an escalated call: who answered, their note, and the binding."""
    return record_runs(
        {
            "approval_id": answer.approval_id,
            "approved": answer.approved,
            "args_sha256": args_digest(decision.args) if decision.args is not None else None,
            "by": answer.by,
            "call_id": decision.call_id,
            "call_sha256": call_digest(decision.tool, decision.args, caller, decision.session),
            "caller": {"sub": caller.sub, "iss": caller.iss},
            "decision": decision.id,
            "note": answer.note,
            "session": decision.session,
            "time": _now(),
            "tool": decision.tool,
            "type": "approval",
            "v": FORMAT_VERSION,
        }
    )


def result_runs(
    tool: str,
    result: Any,
    *,
    caller: Caller,
    session: str | None,
    call_id: str | None,
    tainted: bool,
) -> Runs:
    """What a tool returned, as SHA-256 and size, and whether it tainted the session."""
    digest, size = result_digest(result)
    return record_runs(
        {
            "call_id": call_id,
            "caller": {"sub": caller.sub, "iss": caller.iss},
            "result_bytes": size,
            "result_sha256": digest,
            "session": session,
            "tainted": tainted,
            "time": _now(),
            "tool": tool,
            "type": "result",
            "v": FORMAT_VERSION,
        }
    )


def upstream_error_runs(decision: Decision, caller: Caller, server: str, error: str) -> Runs:
    """The failure of an allowed call at its upstream server."""
    return record_runs(
        {
            "call_id": decision.call_id,
            "caller": {"sub": caller.sub, "iss": caller.iss},
            "decision": decision.id,
            "error": error,
            "server": server,
            "session": decision.session,
            "time": _now(),
            "tool": decision.tool,
            "type": "upstream_error",
            "v": FORMAT_VERSION,
        }
    )


_second: tuple[int, str] = (-1, "")


def _now() -> str:
    """UTC time as ISO 8601 with microseconds; the seconds part is formatted once a second."""
    global _second
    now = time.time()
    whole = int(now)
    second, text = _second
    if whole != second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _second = (whole, text)
    return f"{text}.{int((now - whole) * 1_000_000):06d}Z"


def _fired_rules(decision: Decision) -> list[dict[str, Any]]:
    if not decision.rules:
        return []
    where: dict[str, str | None] = {}
    for reason in decision.reasons:
        if reason.rule is not None and reason.rule not in where:
            where[reason.rule] = reason.location
    for entry in decision.trace:
        if entry.stage == "rule" and entry.fired and entry.rule and not where.get(entry.rule):
            where[entry.rule] = entry.location
    return [{"name": name, "location": where.get(name)} for name in decision.rules]

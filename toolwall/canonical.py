"""Canonical JSON and the digests taken over it: the one form that hashes, digests and approvals
agree on. A leaf: it imports nothing of toolwall.

Canonical JSON is sorted keys, no spaces, UTF-8 as is (`canonical_json`) or ASCII with every
non-ASCII character escaped (`canonical_ascii`, what audit lines are written in).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolwall.model import Caller


def _canonical_encoder(ensure_ascii: bool) -> Callable[[Any], str]:
    """A canonical JSON encoder built once (the audit is on the hot path).

    `json.dumps` with options builds a new encoder on every call; this keeps the C encoder.
    Records are trees, so the circular-reference check is off: a cycle ends in RecursionError.
    """
    encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return encoder.encode
    string = (
        json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    )
    c_encode = make(None, encoder.default, string, None, ":", ",", True, False, True)

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return string(value)  # type: ignore[no-any-return]
        return "".join(c_encode(value, 0))

    return encode


_encode_utf8 = _canonical_encoder(ensure_ascii=False)
# Audit lines are written as ASCII, so any string (even a lone surrogate) has one exact encoding.
canonical_ascii = _canonical_encoder(ensure_ascii=True)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 as is: the form that hashes and digests are taken over."""
    return _encode_utf8(value)


def sha256_hex(text: str) -> str:
    # "surrogatepass": a lone surrogate in the arguments still has one digest, not an error.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def args_digest(args: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of `args`."""
    return sha256_hex(canonical_json(args))


def call_digest(
    tool: str, args: Mapping[str, Any] | None, caller: Caller, session: str | None
) -> str:
    """The digest an approval is bound to: tool, final arguments, caller (sub, iss) and session.

    The one definition used by the approval queue, the approvers and the audit, so an approval
    recorded for one call can be matched exactly against the call it releases.
    """
    return sha256_hex(
        "toolwall.call.v1\n"
        + canonical_json(
            {
                "tool": tool,
                "args": args,
                "caller": {"sub": caller.sub, "iss": caller.iss},
                "session": session,
            }
        )
    )


def result_digest(result: Any) -> tuple[str, int]:
    """SHA-256 and size in bytes of a tool result, as recorded instead of the result itself.

    Text is hashed as UTF-8, bytes as they are, anything else as canonical JSON (or its `repr`
    when it is not JSON), so whoever holds the result can show it is the one recorded.
    """
    if isinstance(result, bytes | bytearray | memoryview):
        data = bytes(result)
    else:
        if isinstance(result, str):
            text = result
        else:
            try:
                text = canonical_json(result)
            except (TypeError, ValueError):
                text = repr(result)
        data = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest(), len(data)

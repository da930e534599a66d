"""Canonical JSON and the digests taken over it: the one form that hashes, digests and approvals
agree on. A leaf: it imports nothing of toolwall.

Canonical JSON is sorted keys, no spaces, UTF-8 as is (`canonical_json`) or ASCII with every
non-ASCII character escaped (`canonical_ascii`, what audit lines are written in): exactly what
`json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=...)` writes.

The encoders are CPython's C encoder, built once through `json.encoder.c_make_encoder` (an
undocumented name whose arguments are an implementation detail): `json.dumps` with options
builds a new encoder on every call, and the audit encodes on every decision. Because that is
another library's internal, a self-test at import proves that each encoder built this way writes
exactly what `json.dumps` writes for a probe value (nested objects, Unicode, a lone surrogate,
floats, big integers, NaN and infinities); if it does not, if there is no C encoder, or when the
fast path is switched off, the encoders are `json.JSONEncoder(...).encode`: slower, same text.
`C_ENCODER` says which one is in use.

Switch: `TOOLWALL_DISABLE_FAST_PATHS=c_json_encoder` (a comma-separated list of fast paths, read
once at import; `toolwall.regex` and `toolwall.schemas.fast` read the same variable).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolwall.model import Caller

Encoder = Callable[[Any], str]

DISABLE_ENV = "TOOLWALL_DISABLE_FAST_PATHS"
"""The environment variable listing fast paths to switch off (comma-separated names)."""

C_JSON_ENCODER = "c_json_encoder"
"""This module's fast path, by the name `TOOLWALL_DISABLE_FAST_PATHS` knows it by."""

ascii_string: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
"""A str as canonical ASCII JSON: the function both encoders use for every string."""

_utf8_string: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]

# What the self-test encodes: every kind of value a record or an argument can hold, and the
# corners where two JSON encoders could differ.
_PROBES: tuple[Any, ...] = (
    {
        "text": [
            "plain",
            "é ü ß 日本 \U0001f600",
            "lone \ud800 surrogate \udfff",
            'quote " backslash \\ slash /',
            "\x00\x1f\x7f\u2028\u2029\t\n",
            "",
        ],
        "numbers": [
            0,
            -1,
            2**64,
            -(2**70),
            1.5,
            1e16,
            1e-7,
            -0.0,
            0.1,
            5e-324,
            1.7976931348623157e308,
        ],
        "specials": [float("nan"), float("inf"), float("-inf")],
        "nested": {
            "b": {"z": [], "a": {}},
            "a": [[], [1, [2, {"y": None, "x": True, "w": False}]]],
            "é": "sorted by code point",
            "\U0001f600": 1,
            "\uffff": 2,
            "A": 3,
        },
        "tuple": (1, "two"),
        "": None,
    },
    "a top-level string é \ud800",
    [],
    {},
    None,
    True,
    -0.0,
    1e16,
    12345678901234567890,
)


def _disabled(name: str) -> bool:
    return name in {part.strip() for part in os.environ.get(DISABLE_ENV, "").split(",")}


def _python_encoder(ensure_ascii: bool) -> Encoder:
    encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii)
    return encoder.encode


def _c_encoder(ensure_ascii: bool, make: Callable[..., Any]) -> Encoder:
    """The canonical encoder built on the C encoder `make` builds (`c_make_encoder`).

    Records are trees, so the circular-reference check is off (no `markers`): a cycle ends in
    RecursionError instead of ValueError.
    """
    string = ascii_string if ensure_ascii else _utf8_string
    default = json.JSONEncoder().default
    # (markers, default, encoder, indent, key_separator, item_separator, sort_keys, skipkeys,
    #  allow_nan): the order `json.encoder.JSONEncoder.iterencode` passes them in.
    c_encode = make(None, default, string, None, ":", ",", True, False, True)

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return string(value)
        return "".join(c_encode(value, 0))

    return encode


def encodes_canonically(encode: Encoder, ensure_ascii: bool) -> bool:
    """Whether `encode` writes exactly what `json.dumps` writes for every probe value."""
    try:
        for value in _PROBES:
            expected = json.dumps(
                value, sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii
            )
            if encode(value) != expected:
                return False
    except Exception:  # an encoder that cannot even encode the probe is not used
        return False
    return True


def canonical_encoder(
    ensure_ascii: bool, make: Callable[..., Any] | None = None
) -> tuple[Encoder, bool]:
    """(encoder, whether it is the C fast path) for one flavour of canonical JSON.

    `make` is the C encoder's factory (by default `json.encoder.c_make_encoder`). The fast path
    is used only when it is there, not switched off, and passes the self-test.
    """
    if make is None:
        make = getattr(json.encoder, "c_make_encoder", None)
    if make is not None and not _disabled(C_JSON_ENCODER):
        try:
            fast = _c_encoder(ensure_ascii, make)
        except Exception:  # another signature: the self-test could not even build it
            fast = None
        if fast is not None and encodes_canonically(fast, ensure_ascii):
            return fast, True
    return _python_encoder(ensure_ascii), False


_encode_utf8, _utf8_fast = canonical_encoder(ensure_ascii=False)
# Audit lines are written as ASCII, so any string (even a lone surrogate) has one exact encoding.
canonical_ascii, _ascii_fast = canonical_encoder(ensure_ascii=True)

C_ENCODER: bool = _utf8_fast and _ascii_fast
"""Whether the canonical encoders are the C fast path (False: `json.JSONEncoder.encode`)."""


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

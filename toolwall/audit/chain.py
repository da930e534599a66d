"""The hash chain: how a record becomes a line, and how each line links to the one before.

Every record carries `prev`, the `hash` of the record before it (`GENESIS`, 64 zeros, for the
first), and its own `hash`:

    hash = SHA-256( prev  ||  canonical JSON of the record without "hash" )

Lines are canonical ASCII JSON (sorted keys, no spaces, non-ASCII escaped), so a record has one
byte form and `verify` can recompute it from the parsed line. The writer encodes a record in
three *runs* of members (those sorting before "hash", between "hash" and "prev", after "prev")
before it takes the file lock; only `prev` is added under the lock (`chain_line`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from toolwall.canonical import canonical_ascii
from toolwall.errors import ToolwallError

GENESIS = "0" * 64
"""The `prev` of the first record of a file."""


class RecordError(ToolwallError, ValueError):
    """A record that cannot be chained (it already carries a `hash`)."""


def link_hash(prev: str, body: str) -> str:
    """The chain hash of a record: SHA-256 over `prev` and the canonical record without hash."""
    return hashlib.sha256((prev + body).encode("ascii")).hexdigest()


def record_line(record: dict[str, Any], prev: str) -> tuple[str, str]:
    """(line, hash) for `record` chained after `prev`; the line is canonical JSON with "hash".

    Sets `record["prev"]`. `verify` recomputes exactly this.
    """
    if "hash" in record:
        raise RecordError('an audit record cannot carry its own "hash" field')
    record.pop("prev", None)
    line, digest = chain_line(*record_runs(record), prev)
    record["prev"] = prev
    return line, digest


def _members(record: dict[str, Any]) -> str:
    """The canonical members of `record`, without braces ("" for no members)."""
    return canonical_ascii(record)[1:-1] if record else ""


def record_runs(record: dict[str, Any]) -> tuple[str, str, str]:
    """`record` (without "hash" and "prev") encoded as the three runs `chain_line` takes."""
    low = {key: value for key, value in record.items() if key < "hash"}
    mid = {key: value for key, value in record.items() if "hash" < key < "prev"}
    high = {key: value for key, value in record.items() if key > "prev"}
    return _members(low), _members(mid), _members(high)


def chain_line(low: str, mid: str, high: str, prev: str) -> tuple[str, str]:
    """The line and hash of a record given as encoded runs of members around "hash" and "prev".

    `low` holds the members that sort before "hash", `mid` those between "hash" and "prev",
    `high` those after "prev" (each without braces, possibly empty). The canonical body (what is
    hashed) and the line (the body plus "hash") are put together from the same text.
    """
    tail = f'"prev":"{prev}"'
    if mid:
        tail = mid + "," + tail
    if high:
        tail = tail + "," + high
    if low:
        digest = link_hash(prev, "{" + low + "," + tail + "}")
        return "{" + low + ',"hash":"' + digest + '",' + tail + "}", digest
    digest = link_hash(prev, "{" + tail + "}")
    return '{"hash":"' + digest + '",' + tail + "}", digest

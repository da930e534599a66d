"""The audit trail: one hash-chained record per decision, approval answer and tool result.

    log        AuditSink (what the engine writes to) and AuditLog (the durable file writer)
    records    what each record type holds
    chain      how a record becomes a canonical line linked to the one before
    redact     sensitive argument values replaced before anything is written
    read       reading an audit file line by line
    verify     recomputing the chain and naming the first line that breaks it

Records are canonical JSON objects (sorted keys, no spaces, ASCII), one per line, each carrying
`prev` (the hash of the record before it) and its own `hash`, so editing, deleting, inserting or
reordering a record breaks the chain at a line `verify` can name. Arguments are written with the
configured fields redacted, next to the SHA-256 of the canonical unredacted arguments; tool
results as a digest and a size only. Tokens are never part of a record.
"""

from toolwall.audit.chain import GENESIS, RecordError, link_hash, record_line
from toolwall.audit.log import AuditLog, AuditSettingError, AuditSink, OnFailure
from toolwall.audit.read import Line, read_lines, read_records
from toolwall.audit.records import FORMAT_VERSION
from toolwall.audit.redact import (
    DEFAULT_REDACT_KEYS,
    REDACTED,
    Redactor,
    RedactPathError,
    parse_redact_path,
)
from toolwall.audit.verify import VerifyReport, verify

__all__ = [
    "DEFAULT_REDACT_KEYS",
    "FORMAT_VERSION",
    "GENESIS",
    "REDACTED",
    "AuditLog",
    "AuditSettingError",
    "AuditSink",
    "Line",
    "OnFailure",
    "RecordError",
    "RedactPathError",
    "Redactor",
    "VerifyReport",
    "link_hash",
    "parse_redact_path",
    "read_lines",
    "read_records",
    "record_line",
    "verify",
]

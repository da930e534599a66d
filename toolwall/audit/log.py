"""The audit trail: one hash-chained record per decision, approval answer and tool result.

Records are canonical JSON objects (sorted keys, no spaces, ASCII), one per line. Every record
carries `prev`, the `hash` of the record before it (64 zeros for the first), and its own `hash`:

    hash = SHA-256( prev  ||  canonical JSON of the record without "hash" )

so editing, deleting, inserting or reordering a record breaks the chain at a line `verify` can
name. Arguments are written with the configured fields redacted, next to the SHA-256 of the
canonical unredacted arguments; tool results are written as a digest and a size only. Tokens are
never part of a record.

Writes are durable and safe across processes: the file is opened once with `O_APPEND`, each
record is one `os.write` of a whole line, made under an exclusive `flock`, and the chain head is
re-read from the file only when another writer appended since our last write. A torn last line
(a crash in the middle of a write) is reported and skipped: the next record starts on a new line
and links to the last whole record.

Every record is also emitted on the `toolwall.audit.log` logger at INFO.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from toolwall.canonical import (
    args_digest,
    call_digest,
    canonical_ascii,
    result_digest,
    sha256_hex,
)
from toolwall.errors import ConfigError
from toolwall.model import Caller, Decision

try:
    import fcntl
except ImportError:  # not POSIX: the logger-only audit works, an audit file cannot be locked
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from toolwall.config import AuditConfig
    from toolwall.model import ApprovalAnswer

logger = logging.getLogger("toolwall.audit")

GENESIS = "0" * 64
"""The `prev` of the first record of a file."""

REDACTED = "[redacted]"
FORMAT_VERSION = 1
DEFAULT_REDACT_KEYS = ("password", "token", "secret")

OnFailure = Literal["block", "allow"]

_TAIL_BLOCK = 65536


_text: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
"""A string as canonical ASCII JSON (the C encoder's own function)."""


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else _text(value)


def _number(value: float) -> str:
    # The encoder writes a finite float as its repr; NaN and infinities have their own words.
    return repr(value) if math.isfinite(value) else canonical_ascii(value)


def link_hash(prev: str, body: str) -> str:
    """The chain hash of a record: SHA-256 over `prev` and the canonical record without hash."""
    return hashlib.sha256((prev + body).encode("ascii")).hexdigest()


def record_line(record: dict[str, Any], prev: str) -> tuple[str, str]:
    """(line, hash) for `record` chained after `prev`; the line is canonical JSON with "hash".

    Sets `record["prev"]`. `verify` recomputes exactly this.
    """
    if "hash" in record:
        raise ValueError('an audit record cannot carry its own "hash" field')
    record.pop("prev", None)
    line, digest = _chain(*_split(record), prev)
    record["prev"] = prev
    return line, digest


def _members(record: dict[str, Any]) -> str:
    """The canonical members of `record`, without braces ("" for no members)."""
    return canonical_ascii(record)[1:-1] if record else ""


def _split(record: dict[str, Any]) -> tuple[str, str, str]:
    """`record` (without "hash" and "prev") encoded as the three runs `_chain` takes."""
    low = {key: value for key, value in record.items() if key < "hash"}
    mid = {key: value for key, value in record.items() if "hash" < key < "prev"}
    high = {key: value for key, value in record.items() if key > "prev"}
    return _members(low), _members(mid), _members(high)


def _chain(low: str, mid: str, high: str, prev: str) -> tuple[str, str]:
    """The line and hash of a record given as encoded runs of members around "hash" and "prev".

    `low` holds the members that sort before "hash", `mid` those between "hash" and "prev",
    `high` those after "prev" (each without braces, possibly empty). Everything but `prev` is
    encoded before the writer takes its lock; the canonical body (what is hashed) and the line
    (the body plus "hash") are then put together from the same text.
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


# -- redaction ----------------------------------------------------------------------------------

_WILDCARD = object()
_PATH_TOKEN = re.compile(
    r"""\.(?P<name>[A-Za-z_$][\w$-]*)
      | \.\*
      | \[\s*(?:(?P<index>-?\d+)|(?P<star>\*)
              |'(?P<sq>(?:[^'\\]|\\.)*)'
              |"(?P<dq>(?:[^"\\]|\\.)*)")\s*\]
    """,
    re.VERBOSE,
)

PathSegment = str | int | object


def parse_redact_path(path: str) -> tuple[PathSegment, ...]:
    """`$.card.number`, `$.items[*].secret`, `$.rows[0]`, `$['odd-key']` -> path segments.

    Raises `ValueError` saying where the path cannot be read.
    """
    text = path.strip()
    if not text.startswith("$"):
        raise ValueError(f"redact path {path!r} must start with $")
    segments: list[PathSegment] = []
    pos = 1
    while pos < len(text):
        match = _PATH_TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"redact path {path!r}: cannot read {text[pos:]!r} (column {pos + 1})")
        if match.group("name") is not None:
            segments.append(match.group("name"))
        elif match.group("index") is not None:
            segments.append(int(match.group("index")))
        elif match.group("star") is not None or match.group(0) == ".*":
            segments.append(_WILDCARD)
        else:
            quoted = match.group("sq") if match.group("sq") is not None else match.group("dq")
            segments.append(re.sub(r"\\(.)", r"\1", quoted))
        pos = match.end()
    return tuple(segments)


class Redactor:
    """Replaces sensitive values in arguments with `"[redacted]"`, copying only what changes.

    `keys` match object keys at any depth, case-insensitively; `paths` are JSON paths from the
    top of the arguments (`$.card.number`, `$.items[*].secret`). Arguments without a sensitive
    field are returned as the very same object.
    """

    __slots__ = ("_screen", "keys", "paths")

    def __init__(self, keys: Iterable[str] = DEFAULT_REDACT_KEYS, paths: Iterable[str] = ()):
        self.keys = frozenset(k.lower() for k in keys)
        self.paths = tuple(parse_redact_path(p) for p in paths)
        # Keys that JSON writes as themselves can be looked for in the encoded arguments.
        plain = all(_written_as_is(k) for k in self.keys)
        self._screen = tuple(sorted(self.keys)) if plain else None

    def __call__(self, value: Any, encoded: str | None = None) -> Any:
        """`value` with sensitive fields redacted.

        `encoded` may be the ASCII canonical JSON of `value` when it has no `\\u` escape: then
        a key that does not occur in it at all cannot match, and the walk is skipped.
        """
        if self.keys:
            screen = self._screen
            if encoded is None or screen is None:
                value = self._by_key(value)
            else:
                lowered = encoded.lower()
                for key in screen:  # a loop, not any(): no generator on every call
                    if key in lowered:
                        value = self._by_key(value)
                        break
        for path in self.paths:
            value = _redact_path(value, path, 0)
        return value

    def _by_key(self, value: Any) -> Any:
        if isinstance(value, dict):
            out: dict[str, Any] | None = None
            keys = self.keys
            for key, item in value.items():
                new = REDACTED if key.lower() in keys else self._by_key(item)
                if new is not item:
                    if out is None:
                        out = dict(value)
                    out[key] = new
            return value if out is None else out
        if isinstance(value, list):
            copy: list[Any] | None = None
            for i, item in enumerate(value):
                new = self._by_key(item)
                if new is not item:
                    if copy is None:
                        copy = list(value)
                    copy[i] = new
            return value if copy is None else copy
        return value


def _written_as_is(key: str) -> bool:
    """Whether canonical ASCII JSON writes `key` unchanged (no escapes)."""
    return key.isascii() and key.isprintable() and '"' not in key and "\\" not in key


def _redact_path(value: Any, path: tuple[PathSegment, ...], depth: int) -> Any:
    if depth == len(path):
        return REDACTED
    segment = path[depth]
    if isinstance(value, dict):
        if segment is _WILDCARD:
            keys: Iterable[Any] = list(value)
        elif isinstance(segment, str) and segment in value:
            keys = (segment,)
        else:
            return value
        out: dict[str, Any] | None = None
        for key in keys:
            new = _redact_path(value[key], path, depth + 1)
            if new is not value[key]:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if isinstance(value, list):
        if segment is _WILDCARD:
            indexes: Iterable[int] = range(len(value))
        elif isinstance(segment, int) and -len(value) <= segment < len(value):
            indexes = (segment % len(value),)
        else:
            return value
        copy: list[Any] | None = None
        for i in indexes:
            new = _redact_path(value[i], path, depth + 1)
            if new is not value[i]:
                if copy is None:
                    copy = list(value)
                copy[i] = new
        return value if copy is None else copy
    return value


def _redacted_strings(original: Any, redacted: Any, out: list[str]) -> None:
    """The string values redaction removed (to scrub them from reason messages too)."""
    if redacted is original:
        return
    if isinstance(redacted, str) and redacted == REDACTED:
        _strings(original, out)
    elif isinstance(original, dict) and isinstance(redacted, dict):
        for key, item in original.items():
            _redacted_strings(item, redacted.get(key), out)
    elif isinstance(original, list) and isinstance(redacted, list):
        for a, b in zip(original, redacted, strict=False):
            _redacted_strings(a, b, out)


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        if len(value) >= 4:  # shorter values would scrub ordinary words from messages
            out.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out)


# -- the sink the engine writes through ---------------------------------------------------------


class AuditSink(Protocol):
    """Where the engine records what it decided; raises when it could not record.

    `on_failure` is "block" or "allow". A sink may also define `record_approval(decision,
    caller, answer)` and `record_result(tool, result, *, caller, session, call_id, tainted)`
    (`AuditLog` does); the engine calls them when present.
    """

    on_failure: str

    def record_decision(self, decision: Decision, caller: Caller) -> None: ...


class AuditLog:
    """The audit trail: a hash-chained JSONL file (when `path` is set) and the logger.

    Without a `path`, records (chained in memory) go to the `toolwall.audit.log` logger only, and
    are not even built while that logger is not enabled for INFO.
    Thread-safe, and safe for several processes appending to the same file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        redact_keys: Iterable[str] = DEFAULT_REDACT_KEYS,
        redact_paths: Iterable[str] = (),
        on_failure: OnFailure = "block",
        fsync: bool = False,
    ) -> None:
        if on_failure not in ("block", "allow"):
            raise ValueError(f'on_failure must be "block" or "allow", not {on_failure!r}')
        self.path = Path(path) if path is not None else None
        self._where = os.fspath(path) if path is not None else ""  # os.stat on a str is faster
        self.redact = Redactor(redact_keys, redact_paths)
        self.on_failure: str = on_failure
        self.fsync = fsync
        self._lock = threading.Lock()
        self._fd = -1
        self._forks = _forks
        self._file_id: tuple[int, int] = (0, 0)
        self._size = -1  # file size after our last write; -1: unknown, read the tail
        self._torn_at = -1  # size of the file when a torn tail was last reported
        self._prev = GENESIS
        if self.path is not None:
            if fcntl is None:
                raise ConfigError(
                    f"[audit] path {self.path}: an audit file needs POSIX file locks (flock), "
                    "which this platform does not have"
                )
            try:
                self._open()
            except OSError as exc:
                raise ConfigError(
                    f"[audit] path {self.path}: cannot open for appending: {exc.strerror or exc}"
                ) from None

    @classmethod
    def from_config(cls, config: AuditConfig | None, base_dir: Path) -> AuditLog:
        """The audit log `[audit]` describes (logger only when the section or path is absent)."""
        if config is None:
            return cls()
        path = config.path
        if path is not None and not path.is_absolute():
            path = base_dir / path
        try:
            return cls(
                path,
                redact_keys=config.redact_keys,
                redact_paths=config.redact_paths,
                on_failure=config.on_failure,
                fsync=config.fsync,
            )
        except ValueError as exc:
            raise ConfigError(f"[audit] {exc}") from None

    # -- the records ----------------------------------------------------------------------------

    def record_decision(self, decision: Decision, caller: Caller) -> None:
        """Append the record of one decision. Raises `OSError` when it could not be written."""
        if self.path is None and not logger.isEnabledFor(logging.INFO):
            return  # nowhere to write: do not build the record
        original = decision.original_args
        if original is not None:
            # The arguments are encoded once: for the line, the digest and the redaction screen.
            encoded = canonical_ascii(original)
            plain = "\\u" not in encoded  # pure ASCII: the UTF-8 canonical form is the same text
            digest = '"' + (sha256_hex(encoded) if plain else args_digest(original)) + '"'
            args = self.redact(original, encoded if plain else None)
            args_json = encoded if args is original else canonical_ascii(args)
        else:
            args, args_json, digest = None, "null", "null"
        reasons = [r.to_dict() for r in decision.reasons]
        final = decision.args
        redacted = args is not original
        rewritten = None
        if final is not None and final is not original:
            rewritten = self.redact(final)
            redacted = redacted or rewritten is not final
        if redacted and reasons:
            # A `because` message may interpolate a field that is redacted in the arguments.
            secrets: list[str] = []
            _redacted_strings(original, args, secrets)
            if rewritten is not None:
                _redacted_strings(final, rewritten, secrets)
            if secrets:
                reasons = [_scrub(r, secrets) for r in reasons]
        # The record is written out member by member in key order (see `_chain`), with the
        # C string encoder for every text: a dict and a sorting encoder cost twice as much, and
        # this is on every call. `verify` re-encodes the parsed record, so this text must be
        # (and is tested to be) canonical.
        low = (
            f'"action":"{decision.action.value}","args":{args_json},"args_sha256":{digest},'
            f'"call_id":{_text_or_null(decision.call_id)},'
            f'"caller":{{"iss":{_text_or_null(caller.iss)},"sub":{_text_or_null(caller.sub)}}}'
        )
        mid = f'"id":{_text(decision.id)},"latency_us":{_number(round(decision.latency_us, 1))}'
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
            f'"tool":{_text(decision.tool)},"type":"decision","v":{FORMAT_VERSION}'
        )
        self._append(low, mid, high)

    def record_approval(self, decision: Decision, caller: Caller, answer: ApprovalAnswer) -> None:
        """Append the answer to an escalated call: who answered, their note, and the binding."""
        if self.path is None and not logger.isEnabledFor(logging.INFO):
            return
        record: dict[str, Any] = {
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
        self._append(*_split(record))

    def record_result(
        self,
        tool: str,
        result: Any,
        *,
        caller: Caller,
        session: str | None,
        call_id: str | None,
        tainted: bool,
    ) -> None:
        """Append what a tool returned, as SHA-256 and size (never the result itself).

        `tainted` says whether this result tainted the session (its tool is a taint source).
        """
        if self.path is None and not logger.isEnabledFor(logging.INFO):
            return
        digest, size = result_digest(result)
        record: dict[str, Any] = {
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
        self._append(*_split(record))

    def record_upstream_error(
        self, decision: Decision, caller: Caller, server: str, error: str
    ) -> None:
        """Append the failure of an allowed call at its upstream (the MCP gateway's servers:
        crashed, timed out, sent garbage). The decision record precedes it."""
        if self.path is None and not logger.isEnabledFor(logging.INFO):
            return
        record: dict[str, Any] = {
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
        self._append(*_split(record))

    # -- writing --------------------------------------------------------------------------------

    def _append(self, low: str, mid: str, high: str) -> None:
        with self._lock:
            if self.path is None:
                line, self._prev = _chain(low, mid, high, self._prev)
            else:
                line = self._write(low, mid, high)
        if logger.isEnabledFor(logging.INFO):
            logger.info(line)

    def _write(self, low: str, mid: str, high: str) -> str:
        if self._fd < 0 or self._forks != _forks:
            # A forked child must not share the parent's open file: flock would not exclude it.
            self._open()
        fd = self._fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno == errno.EBADF:
                self._fd = -1  # closed under us: this record fails, the next one reopens
            raise
        try:
            fd, size = self._current_file(fd)
            prefix = b""
            if size != self._size:
                # Somebody else appended (or we have not written yet): take the head from the file.
                self._prev, whole = _tail(fd, size)
                if not whole and size != self._torn_at:
                    self._torn_at = size
                    logger.warning(
                        "toolwall: %s ends in a torn record (an interrupted write); "
                        "the chain resumes after it",
                        self.path,
                    )
                if not whole:
                    prefix = b"\n"
            line, digest = _chain(low, mid, high, self._prev)
            data = prefix + line.encode("ascii") + b"\n"
            written = os.write(fd, data)
            if written != len(data):
                self._size = -1
                raise OSError(f"short write to {self.path}: {written} of {len(data)} bytes")
            if self.fsync:
                os.fsync(fd)
            self._prev = digest
            self._size = size + written
            return line
        except BaseException:
            self._size = -1
            raise
        finally:
            with _ignored_oserror():  # the fd is gone (closed under us); the write failed
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _current_file(self, fd: int) -> tuple[int, int]:
        """(fd, size) of the file now at `path`, reopening it if it was moved or deleted."""
        try:
            st = os.stat(self._where)
            if (st.st_dev, st.st_ino) == self._file_id:
                return fd, st.st_size
        except FileNotFoundError:
            pass
        # Rotated or removed: a new file starts a new chain; the old file keeps its own.
        logger.warning("toolwall: %s was moved or removed; starting a new audit file", self.path)
        fcntl.flock(fd, fcntl.LOCK_UN)
        self._open()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self._fd, os.fstat(self._fd).st_size

    def _open(self) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if self._fd >= 0:
            # Also in a forked child: closing its copy leaves the parent's file untouched.
            with _ignored_oserror():
                os.close(self._fd)
        st = os.fstat(fd)
        self._fd = fd
        self._forks = _forks
        self._file_id = (st.st_dev, st.st_ino)
        self._size = -1
        self._prev = GENESIS
        # Report a torn tail now, at start-up, rather than at the first decision.
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            size = os.fstat(fd).st_size
            _, whole = _tail(fd, size)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        if not whole:
            self._torn_at = size
            logger.warning(
                "toolwall: %s ends in a torn record (a write interrupted by a crash); "
                "the chain resumes after the last whole record",
                self.path,
            )

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                with _ignored_oserror():
                    os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_ignored_oserror = functools.partial(contextlib.suppress, OSError)

_forks = 0
"""How many times this process is a forked child (cheaper to compare than `os.getpid()`)."""


def _count_fork() -> None:
    global _forks
    _forks += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_count_fork)


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


def _scrub(reason: dict[str, Any], secrets: Sequence[str]) -> dict[str, Any]:
    message = reason["message"]
    for secret in secrets:
        if secret in message:
            message = message.replace(secret, REDACTED)
    return reason if message == reason["message"] else {**reason, "message": message}


def _tail(fd: int, size: int) -> tuple[str, bool]:
    """(hash of the last whole record, whether the file ends with a newline).

    Reads backwards from the end, a block at a time, and stops at the first line that is a
    record. The unterminated end of the file counts when it is a whole record that only lacks
    its newline; a torn record there is skipped.
    """
    if size == 0:
        return GENESIS, True
    whole = os.pread(fd, 1, size - 1) == b"\n"
    pos = size
    carry = b""  # the start of a line that began before `pos`, as read so far
    while pos > 0:
        step = min(_TAIL_BLOCK, pos)
        pos -= step
        lines = (os.pread(fd, step, pos) + carry).split(b"\n")
        # lines[0] may continue before `pos`; every other piece is a line (or the file's end).
        carry = lines[0] if pos > 0 else b""
        for line in reversed(lines if pos == 0 else lines[1:]):
            digest = _hash_of(line) if line else None
            if digest is not None:
                return digest, whole
        if len(carry) > 64 * _TAIL_BLOCK:  # a single "line" of 4 MiB is not a record
            break
    return GENESIS, whole


def _hash_of(line: bytes) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    digest = record.get("hash") if isinstance(record, dict) else None
    return digest if isinstance(digest, str) and len(digest) == 64 else None


# -- reading and verifying ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """One line of an audit file: its number, the record (None when torn) and its raw text."""

    number: int
    record: dict[str, Any] | None
    raw: bytes


def read_lines(path: str | os.PathLike[str], start: int = 0) -> Iterator[Line]:
    """Every line of an audit file, parsed; unreadable lines come with `record=None`."""
    with open(path, "rb") as file:
        if start:
            file.seek(start)
        for number, raw in enumerate(file, 1):
            try:
                record = json.loads(raw)
            except ValueError:
                record = None
            yield Line(number, record if isinstance(record, dict) else None, raw)


def read_records(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The whole records of an audit file, in order (torn lines skipped)."""
    for line in read_lines(path):
        if line.record is not None:
            yield line.record


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What `verify` found. `ok` is False at the first break; `line` and `problem` say where."""

    ok: bool
    records: int
    head: str
    line: int | None = None
    problem: str | None = None
    torn: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        if self.ok:
            return f"chain intact: {self.records} records, head {self.head}"
        return f"line {self.line}: {self.problem}"


def verify(path: str | os.PathLike[str], anchor: str | None = None) -> VerifyReport:
    """Recompute the chain of an audit file; stop at the first record that breaks it.

    A line that is not a whole JSON record is a torn write (a crash): it is reported in `torn`
    and skipped, and the chain must continue after it from the last whole record. A record that
    was edited, deleted, inserted or moved breaks the chain. `anchor` is a head hash noted
    earlier (kept where the writer cannot change it): the chain must still contain it, which
    shows that no records were cut from the end since, and the file was not rewritten.
    """
    anchored = anchor is None
    prev = GENESIS
    prev_line: int | None = None
    records = 0
    torn: list[int] = []
    for line in read_lines(path):
        record = line.record
        if record is None:
            torn.append(line.number)
            continue
        stated = record.pop("hash", None)
        stated_prev = record.get("prev")
        if not isinstance(stated, str) or not isinstance(stated_prev, str):
            why = "not an audit record (no hash or prev)"
            return _broken(line.number, why, records, prev, torn)
        try:
            body = canonical_ascii(record)
            actual = link_hash(stated_prev, body)
        except (TypeError, ValueError, UnicodeEncodeError) as exc:
            return _broken(line.number, f"cannot re-encode the record: {exc}", records, prev, torn)
        if actual != stated:
            return _broken(
                line.number,
                "the record was edited: its hash does not match its content",
                records,
                prev,
                torn,
            )
        if stated_prev != prev:
            if prev_line is None:
                why = (
                    "the first record does not start the chain (its prev is not the genesis "
                    "hash): records before it were deleted"
                )
            else:
                skipped = [n for n in torn if n > prev_line]
                after = f" (and the unreadable line {skipped[-1]})" if skipped else ""
                why = (
                    f"prev does not match the hash of line {prev_line}{after}: a record was "
                    "deleted, inserted or moved here"
                )
            return _broken(line.number, why, records, prev, torn)
        prev = stated
        prev_line = line.number
        records += 1
        anchored = anchored or stated == anchor
    if not anchored:
        why = (
            f"the anchored record {anchor} is not in the chain: records were cut from the end "
            "or the file was rewritten"
        )
        return _broken(records + len(torn), why, records, prev, torn)
    return VerifyReport(True, records, prev, torn=torn)


def _broken(number: int, problem: str, records: int, head: str, torn: list[int]) -> VerifyReport:
    return VerifyReport(False, records, head, line=number, problem=problem, torn=torn)

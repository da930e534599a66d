"""The audit log: the writer of the hash-chained audit file, and the sink the engine writes to.

Writes are durable and safe across processes: the file is opened once with `O_APPEND`, each
record is one `os.write` of a whole line, made under an exclusive `flock`, and the chain head is
re-read from the file only when another writer appended since our last write. A torn last line
(a crash in the middle of a write) is reported and skipped: the next record starts on a new line
and links to the last whole record.

Every record is also emitted on the `toolwall.audit` logger at INFO. What a record holds is
`toolwall.audit.records`; how it is chained, `toolwall.audit.chain`.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from toolwall.audit.chain import GENESIS, chain_line
from toolwall.audit.records import (
    approval_runs,
    decision_runs,
    result_runs,
    upstream_error_runs,
)
from toolwall.audit.redact import DEFAULT_REDACT_KEYS, Redactor
from toolwall.errors import ConfigError, ToolwallError
from toolwall.model import Caller, Decision

try:
    import fcntl
except ImportError:  # not POSIX: the logger-only audit works, an audit file cannot be locked
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from toolwall.config import AuditConfig
    from toolwall.model import ApprovalAnswer

logger = logging.getLogger("toolwall.audit")

OnFailure = Literal["block", "allow"]

_TAIL_BLOCK = 65536


class AuditSettingError(ToolwallError, ValueError):
    """An `AuditLog` setting that cannot work (an `on_failure` other than block or allow)."""


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

    Without a `path`, records (chained in memory) go to the `toolwall.audit` logger only, and
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
            raise AuditSettingError(f'on_failure must be "block" or "allow", not {on_failure!r}')
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
        low, mid, high = decision_runs(decision, caller, self.redact)
        self._append(low, mid, high)

    def record_approval(self, decision: Decision, caller: Caller, answer: ApprovalAnswer) -> None:
        """Append the answer to an escalated call: who answered, their note, and the binding."""
        if self.path is None and not logger.isEnabledFor(logging.INFO):
            return
        low, mid, high = approval_runs(decision, caller, answer)
        self._append(low, mid, high)

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
        low, mid, high = result_runs(
            tool, result, caller=caller, session=session, call_id=call_id, tainted=tainted
        )
        self._append(low, mid, high)

    def record_upstream_error(
        self, decision: Decision, caller: Caller, server: str, error: str
    ) -> None:
        """Append the failure of an allowed call at its upstream (the MCP gateway's servers:
        crashed, timed out, sent garbage). The decision record precedes it."""
        if self.path is None and not logger.isEnabledFor(logging.INFO):
            return
        low, mid, high = upstream_error_runs(decision, caller, server, error)
        self._append(low, mid, high)

    # -- writing --------------------------------------------------------------------------------

    def _append(self, low: str, mid: str, high: str) -> None:
        with self._lock:
            if self.path is None:
                line, self._prev = chain_line(low, mid, high, self._prev)
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
            line, digest = chain_line(low, mid, high, self._prev)
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

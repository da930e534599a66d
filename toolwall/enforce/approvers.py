"""Escalation: who answers when a rule says a call needs approval.

An `Approver` gets the pending call (after rewrites), the caller, the reasons and the rules, and
answers approve or deny, saying who and why. Built in:

- `DenyAll` (the default): where nobody can answer, a risky call does not run;
- `Console`: a rich prompt on the terminal (no terminal: denied);
- `Callback(fn)`: a function, sync or async, answers;
- `SQLiteQueue`: the call waits in a durable queue until a human answers from another process
  (`toolwall approvals approve ID`), or the wait times out (a denial).

An approval is bound to `call_digest` of the exact call (tool, final arguments, caller, session):
the queue releases only the call it was given for, once, before it expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import getpass
import inspect
import io
import json
import os
import secrets
import select
import sqlite3
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TextIO, runtime_checkable

from toolwall.audit import Redactor
from toolwall.errors import ToolwallError
from toolwall.model import ApprovalAnswer, ApprovalRequest

if TYPE_CHECKING:
    from rich.console import Console as RichConsole

    from toolwall.config import ApprovalsConfig


class ApprovalError(ToolwallError):
    """An answer cannot be given: no such request, already answered, timed out or expired."""


@runtime_checkable
class Approver(Protocol):
    """Answers escalated calls. May also define `async def aapprove(request)` for async code;
    without it, `Firewall.arequest_approval` runs `approve` in a worker thread."""

    def approve(self, request: ApprovalRequest) -> ApprovalAnswer: ...


class DenyAll:
    """Denies every escalated call. The default where nobody can answer."""

    def approve(self, request: ApprovalRequest) -> ApprovalAnswer:
        return ApprovalAnswer(
            approved=False,
            by="toolwall",
            note="no approver is configured, so escalations are denied",
        )

    async def aapprove(self, request: ApprovalRequest) -> ApprovalAnswer:
        return self.approve(request)


AnswerLike = ApprovalAnswer | bool


class Callback:
    """Asks a function: `fn(request)` returns an `ApprovalAnswer` or a bool (sync or async).

    An async function used from sync code runs to completion on a private event loop; from a
    thread that is already running a loop, use the async paths (`arun`, `arequest_approval`).
    """

    def __init__(
        self,
        fn: Callable[[ApprovalRequest], AnswerLike | Awaitable[AnswerLike]],
        name: str = "callback",
    ) -> None:
        self.fn = fn
        self.name = name

    def approve(self, request: ApprovalRequest) -> ApprovalAnswer:
        answer = self.fn(request)
        if inspect.isawaitable(answer):
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return self._answer(asyncio.run(_awaited(answer)))
            _close(answer)
            raise TypeError(
                "this callback is async and an event loop is running: use Firewall.arun / "
                "arequest_approval"
            )
        return self._answer(answer)

    async def aapprove(self, request: ApprovalRequest) -> ApprovalAnswer:
        answer = self.fn(request)
        if inspect.isawaitable(answer):
            answer = await answer
        return self._answer(answer)

    def _answer(self, answer: object) -> ApprovalAnswer:
        if isinstance(answer, ApprovalAnswer):
            return answer
        if isinstance(answer, bool):
            return ApprovalAnswer(approved=answer, by=self.name)
        raise TypeError(f"approval callback returned {type(answer).__name__}, not a bool or answer")


async def _awaited(value: Awaitable[AnswerLike]) -> AnswerLike:
    return await value


def _close(value: object) -> None:
    close = getattr(value, "close", None)
    if callable(close):
        close()


# -- console ------------------------------------------------------------------------------------


class Console:
    """Asks on the terminal: shows the call, the rewrites as a diff, the reasons and rules, and
    reads `y` or `n`.

    With no `input` given it reads standard input, and denies when that is not a terminal (a
    service has nobody to ask). A given `input` stream is read as it is (scripted answers).
    Only `y` or `yes` approves; anything else, end of input or no answer within `timeout_s`
    denies. Prompts are serialised, so concurrent escalations are asked one at a time.
    """

    def __init__(
        self,
        input: TextIO | None = None,
        output: RichConsole | None = None,
        *,
        name: str | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self.input = input
        self.output = output
        self.name = name
        self.timeout_s = timeout_s
        self._lock = threading.Lock()

    def approve(self, request: ApprovalRequest) -> ApprovalAnswer:
        by = self.name or f"console:{current_user()}"
        stream = self.input if self.input is not None else sys.stdin
        if self.input is None and not (stream is not None and stream.isatty()):
            return ApprovalAnswer(False, by="toolwall", note="no terminal to ask on: denied")
        from rich.console import Console as RichConsole

        out = self.output or RichConsole(stderr=True, highlight=False)
        with self._lock:
            out.print(render_request(request))
            out.print("[bold]Approve this call?[/] \\[y/N] ", end="")
            line = _readline(stream, self.timeout_s)
        if line is None:
            return ApprovalAnswer(False, by="toolwall", note=f"no answer within {self.timeout_s}s")
        if not line:
            return ApprovalAnswer(False, by="toolwall", note="no answer (end of input)")
        reply = line.strip().lower()
        if reply in ("y", "yes"):
            return ApprovalAnswer(True, by=by, note="approved at the console")
        return ApprovalAnswer(False, by=by, note=f"denied at the console ({reply or 'no'})")

    async def aapprove(self, request: ApprovalRequest) -> ApprovalAnswer:
        # Reading a terminal blocks: do it in a thread so the event loop keeps running.
        return await asyncio.to_thread(self.approve, request)


def _readline(stream: TextIO, timeout_s: float | None) -> str | None:
    if timeout_s is not None:
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):
            fd = -1
        if fd >= 0:
            ready, _, _ = select.select([fd], [], [], timeout_s)
            if not ready:
                return None
    return stream.readline()


def current_user() -> str:
    """The OS user name: who answers, unless told otherwise."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return str(os.getuid())


def args_diff(original: Mapping[str, Any] | None, final: Mapping[str, Any] | None) -> list[str]:
    """A unified diff of the proposed against the final arguments (pretty JSON, sorted keys)."""

    def lines(value: Any) -> list[str]:
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()

    return list(
        difflib.unified_diff(
            lines(original), lines(final), "proposed", "after rewrites", n=2, lineterm=""
        )
    )


def render_request(request: ApprovalRequest) -> Any:
    """The rich panel an approver is shown: call, caller, reasons with rules, argument diff."""
    from rich.markup import escape
    from rich.panel import Panel
    from rich.text import Text

    decision = request.decision
    caller = request.caller
    body = Text()
    body.append("tool     ", "dim").append(decision.tool, "bold").append("\n")
    who = caller.sub or "anonymous"
    if caller.iss:
        who += f" ({caller.iss})"
    body.append("caller   ", "dim").append(who).append("\n")
    body.append("session  ", "dim").append(decision.session or "-").append("\n")
    body.append("decision ", "dim").append(decision.id).append("\n")
    if decision.reasons:
        body.append("reasons\n", "dim")
        for reason in decision.reasons:
            body.append(f"  - {reason}", "yellow")
            if reason.location:
                body.append(f"  [{reason.location}]", "dim")
            body.append("\n")
    if request.rewritten:
        body.append("arguments (rewritten by policy)\n", "dim")
        for line in args_diff(decision.original_args, decision.args):
            style = (
                "red"
                if line.startswith("-") and not line.startswith("---")
                else "green"
                if line.startswith("+") and not line.startswith("+++")
                else "dim"
            )
            body.append("  " + line + "\n", style)
    else:
        body.append("arguments\n", "dim")
        pretty = json.dumps(decision.args, indent=2, sort_keys=True, ensure_ascii=False)
        for line in pretty.splitlines():
            body.append("  " + line + "\n")
    body.rstrip()
    return Panel(body, title=escape("toolwall: approval needed"), border_style="yellow")


# -- the SQLite queue ---------------------------------------------------------------------------

Status = Literal["pending", "approved", "denied", "timeout", "expired"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    id          TEXT PRIMARY KEY,
    digest      TEXT NOT NULL,
    status      TEXT NOT NULL
                CHECK (status IN ('pending', 'approved', 'denied', 'timeout', 'expired')),
    created     REAL NOT NULL,
    expires     REAL NOT NULL,
    answered    REAL,
    by          TEXT,
    note        TEXT NOT NULL DEFAULT '',
    consumed    REAL,
    decision_id TEXT NOT NULL,
    tool        TEXT NOT NULL,
    caller_sub  TEXT,
    caller_iss  TEXT,
    session     TEXT,
    request     TEXT NOT NULL
)
"""

_COLUMNS = (
    "id, digest, status, created, expires, answered, by, note, consumed, decision_id, tool, "
    "caller_sub, caller_iss, session, request"
)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One escalated call in the queue, as `toolwall approvals list/show` presents it.

    `request` holds the arguments (redacted like the audit), the proposed arguments, the
    reasons and the rules.
    """

    id: str
    digest: str
    status: Status
    created: float
    expires: float
    answered: float | None
    by: str | None
    note: str
    consumed: float | None
    decision_id: str
    tool: str
    caller_sub: str | None
    caller_iss: str | None
    session: str | None
    request: dict[str, Any]

    @classmethod
    def _from_row(cls, row: tuple[Any, ...]) -> QueueEntry:
        values = list(row)
        values[-1] = json.loads(values[-1])
        return cls(*values)


class SQLiteQueue:
    """A durable approval queue in one SQLite file (WAL mode), shared by processes.

    `approve(request)` stores the call and waits, polling every `poll_s`, until a human answers
    from another process or `timeout_s` passes (then the request is marked `timeout` and the
    call denied). A request can be answered until `ttl_s` after it was made; an approval
    releases only a call with the same `call_digest`, and only once.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        timeout_s: float = 300.0,
        ttl_s: float = 900.0,
        *,
        poll_s: float = 0.25,
        redact: Callable[[Any], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if timeout_s <= 0 or ttl_s <= 0 or poll_s <= 0:
            raise ValueError("timeout_s, ttl_s and poll_s must be positive")
        self.path = Path(path)
        self.timeout_s = timeout_s
        self.ttl_s = ttl_s
        self.poll_s = poll_s
        self.redact: Callable[[Any], Any] = redact if redact is not None else Redactor()
        self.clock = clock  # wall-clock seconds, as stored in the file (other processes read it)
        self._init()

    def _init(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Create the file owner-only before SQLite does; its -wal/-shm files copy the mode.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- the approver ---------------------------------------------------------------------------

    def approve(self, request: ApprovalRequest) -> ApprovalAnswer:
        """Queue the call and wait for the answer (or the timeout: a denial)."""
        entry_id = self.submit(request)
        return self.wait(entry_id, request)

    async def aapprove(self, request: ApprovalRequest) -> ApprovalAnswer:
        """`approve` for async code: waits with `asyncio.sleep`, never blocking the loop."""
        entry_id = await asyncio.to_thread(self.submit, request)
        return await self.await_answer(entry_id, request)

    def submit(self, request: ApprovalRequest) -> str:
        """Store the call as a pending request; returns its id (what a human approves)."""
        decision = request.decision
        payload = json.dumps(
            {
                "args": _redacted(self.redact, decision.args),
                "original_args": _redacted(self.redact, decision.original_args),
                "rewritten": request.rewritten,
                "reasons": [r.to_dict() for r in decision.reasons],
                "rules": list(decision.rules),
                "call_id": decision.call_id,
            },
            ensure_ascii=True,
            sort_keys=True,
        )
        now = self.clock()
        for _ in range(8):
            entry_id = secrets.token_hex(4)
            try:
                with self._transaction() as db:
                    db.execute(
                        "INSERT INTO approvals (id, digest, status, created, expires, "
                        "decision_id, tool, caller_sub, caller_iss, session, request) "
                        "VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            entry_id,
                            request.digest,
                            now,
                            now + self.ttl_s,
                            decision.id,
                            decision.tool,
                            request.caller.sub,
                            request.caller.iss,
                            decision.session,
                            payload,
                        ),
                    )
                return entry_id
            except sqlite3.IntegrityError:
                continue  # an id already taken: draw another
        raise ApprovalError("could not allocate an approval id")

    def wait(
        self, entry_id: str, request: ApprovalRequest, timeout_s: float | None = None
    ) -> ApprovalAnswer:
        """Wait for the answer to `entry_id`, which must have been made for `request`."""
        digest = request.digest
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        while True:
            answer = self._poll(entry_id, digest)
            if answer is not None:
                return answer
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self._time_out(entry_id, digest)
            time.sleep(min(self.poll_s, remaining))

    async def await_answer(
        self, entry_id: str, request: ApprovalRequest, timeout_s: float | None = None
    ) -> ApprovalAnswer:
        """`wait` for async code."""
        digest = request.digest
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        while True:
            answer = await asyncio.to_thread(self._poll, entry_id, digest)
            if answer is not None:
                return answer
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return await asyncio.to_thread(self._time_out, entry_id, digest)
            await asyncio.sleep(min(self.poll_s, remaining))

    def _poll(self, entry_id: str, digest: str) -> ApprovalAnswer | None:
        """The answer if there is one (consuming an approval), None while still pending."""
        now = self.clock()
        with self._transaction() as db:
            row = db.execute(
                "SELECT status, digest, expires, consumed, by, note FROM approvals WHERE id = ?",
                (entry_id,),
            ).fetchone()
            if row is None:
                return _denial(entry_id, f"approval request {entry_id} is not in the queue")
            status, bound, expires, consumed, by, note = row
            if status == "pending":
                if now < expires:
                    return None
                db.execute(
                    "UPDATE approvals SET status = 'expired' WHERE id = ? AND status = 'pending'",
                    (entry_id,),
                )
                return _denial(entry_id, f"approval request {entry_id} expired unanswered")
            if status == "denied":
                return ApprovalAnswer(False, by=by or "?", note=note, approval_id=entry_id)
            if status != "approved":
                return _denial(entry_id, f"approval request {entry_id} is {status}")
            if bound != digest:
                return _denial(
                    entry_id, f"approval {entry_id} was given for a different call (digest)"
                )
            if consumed is not None:
                return _denial(entry_id, f"approval {entry_id} was already used")
            if now >= expires:
                return _denial(entry_id, f"approval {entry_id} expired before it was used")
            # Single use: only the transaction that flips `consumed` may run the call.
            used = db.execute(
                "UPDATE approvals SET consumed = ? WHERE id = ? AND status = 'approved' "
                "AND consumed IS NULL AND digest = ? AND expires > ?",
                (now, entry_id, digest, now),
            ).rowcount
            if used != 1:
                return _denial(entry_id, f"approval {entry_id} was already used")
            return ApprovalAnswer(True, by=by or "?", note=note, approval_id=entry_id)

    def _time_out(self, entry_id: str, digest: str) -> ApprovalAnswer:
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE approvals SET status = 'timeout', answered = ?, by = 'toolwall', "
                "note = ? WHERE id = ? AND status = 'pending'",
                (self.clock(), f"no answer within {self.timeout_s:g}s", entry_id),
            ).rowcount
        if changed == 0:
            # Answered in the instant between the last poll and the timeout: honour it.
            answer = self._poll(entry_id, digest)
            if answer is not None:
                return answer
        return _denial(entry_id, f"no answer within {self.timeout_s:g}s: denied")

    # -- what `toolwall approvals` uses ---------------------------------------------------------

    def answer(self, entry_id: str, approved: bool, by: str, note: str = "") -> QueueEntry:
        """Approve or deny a pending request. Raises `ApprovalError` saying why it cannot."""
        now = self.clock()
        with self._transaction() as db:
            row = db.execute(
                "SELECT status, expires FROM approvals WHERE id = ?", (entry_id,)
            ).fetchone()
            if row is None:
                raise ApprovalError(f"no approval request {entry_id}")
            status, expires = row
            if status != "pending":
                raise ApprovalError(f"approval request {entry_id} is already {status}")
            if now >= expires:
                db.execute("UPDATE approvals SET status = 'expired' WHERE id = ?", (entry_id,))
                expired = True
            else:
                db.execute(
                    "UPDATE approvals SET status = ?, answered = ?, by = ?, note = ? "
                    "WHERE id = ? AND status = 'pending'",
                    ("approved" if approved else "denied", now, by, note, entry_id),
                )
                expired = False
        if expired:
            raise ApprovalError(f"approval request {entry_id} has expired")
        entry = self.get(entry_id)
        assert entry is not None
        return entry

    def get(self, entry_id: str) -> QueueEntry | None:
        with self._connect() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM approvals WHERE id = ?", (entry_id,)
            ).fetchone()
        return QueueEntry._from_row(row) if row is not None else None

    def entries(self, status: Status | None = None, limit: int = 200) -> list[QueueEntry]:
        """Requests, newest first; only those with `status` when given."""
        now = self.clock()
        with self._connect() as db:
            # Pending requests past their ttl are shown as what they are.
            db.execute(
                "UPDATE approvals SET status = 'expired' WHERE status = 'pending' AND expires <= ?",
                (now,),
            )
            if status is None:
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM approvals ORDER BY created DESC LIMIT ?", (limit,)
                ).fetchall()
            else:
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM approvals WHERE status = ? "
                    "ORDER BY created DESC LIMIT ?",
                    (status, limit),
                ).fetchall()
        return [QueueEntry._from_row(row) for row in rows]


def _denial(entry_id: str, note: str) -> ApprovalAnswer:
    return ApprovalAnswer(False, by="toolwall", note=note, approval_id=entry_id)


def _redacted(redact: Callable[[Any], Any], value: Any) -> Any:
    return redact(value) if value is not None else None


# -- configuration ------------------------------------------------------------------------------


def from_config(
    config: ApprovalsConfig, base_dir: Path, redact: Callable[[Any], Any] | None = None
) -> Approver:
    """The approver `[approvals]` describes. `redact` is applied to arguments the queue stores."""
    if config.approver == "deny":
        return DenyAll()
    if config.approver == "console":
        return Console(timeout_s=config.timeout_s)
    queue = config.queue if config.queue.is_absolute() else base_dir / config.queue
    return SQLiteQueue(queue, config.timeout_s, config.ttl_s, redact=redact)

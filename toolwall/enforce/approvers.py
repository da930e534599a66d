"""Escalation: who answers when a rule says a call needs approval.

An `Approver` gets the pending call (after rewrites), the caller, the reasons and the rules, and
answers approve or deny, saying who and why. Built in:

- `DenyAll` (the default): where nobody can answer, a risky call does not run;
- `Console`: a rich prompt on the terminal (no terminal: denied);
- `Callback(fn)`: a function, sync or async, answers;
- `QueueApprover` (`SQLiteQueue(path)` for the SQLite file): the call waits until a person
  answers its pending approval from elsewhere (`toolwall approvals approve ID`, the service's
  console), or the wait times out (a denial).

An approver only answers. What an answer allows (once, for exactly the call it was given for,
before it expires) is decided in one place, `toolwall.enforce.settle`.
"""

from __future__ import annotations

import asyncio
import difflib
import getpass
import inspect
import io
import json
import os
import select
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TextIO, runtime_checkable

from toolwall.model import ApprovalAnswer, ApprovalRequest
from toolwall.state.base import ApprovalRecord, ApprovalStore
from toolwall.state.sqlite import SQLiteApprovals

if TYPE_CHECKING:
    from rich.console import Console as RichConsole


@runtime_checkable
class Approver(Protocol):
    """Answers escalated calls. May also define `async def aapprove(request)` for async code;
    without it, settlement runs `approve` in a worker thread."""

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


# -- waiting for an answer given elsewhere ------------------------------------------------------


class QueueApprover:
    """Waits until someone answers the call's pending approval in `store`: `toolwall approvals
    approve ID` in another terminal, the service's console, another process of the machine (the
    SQLite store) or of the deployment (Redis). Polls every `poll_s`; no answer within
    `timeout_s` is a denial, and the request is marked `timeout` so nobody can answer it late.

    The firewall keeps its approvals in this approver's `store`, so the answer lands where the
    call waits.
    """

    def __init__(
        self, store: ApprovalStore, timeout_s: float = 300.0, *, poll_s: float = 0.25
    ) -> None:
        if timeout_s <= 0 or poll_s <= 0:
            raise ValueError("timeout_s and poll_s must be positive")
        self.store = store
        self.timeout_s = timeout_s
        self.poll_s = poll_s

    def approve(self, request: ApprovalRequest) -> ApprovalAnswer:
        approval_id = _approval_id(request)
        deadline = time.monotonic() + self.timeout_s
        while True:
            record = self.store.get(approval_id)
            if record is None or record.status != "pending":
                return answer_of(record, approval_id)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self._time_out(approval_id)
            time.sleep(min(self.poll_s, remaining))

    async def aapprove(self, request: ApprovalRequest) -> ApprovalAnswer:
        """`approve` for async code: waits with `asyncio.sleep`, never blocking the loop."""
        approval_id = _approval_id(request)
        deadline = time.monotonic() + self.timeout_s
        while True:
            record = await asyncio.to_thread(self.store.get, approval_id)
            if record is None or record.status != "pending":
                return answer_of(record, approval_id)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return await asyncio.to_thread(self._time_out, approval_id)
            await asyncio.sleep(min(self.poll_s, remaining))

    def _time_out(self, approval_id: str) -> ApprovalAnswer:
        # An answer that came in between the last poll and now stands.
        record = self.store.time_out(approval_id, f"no answer within {self.timeout_s:g}s")
        return answer_of(record, approval_id)


def SQLiteQueue(
    path: str | os.PathLike[str],
    timeout_s: float = 300.0,
    *,
    poll_s: float = 0.25,
    clock: Callable[[], float] = time.time,
) -> QueueApprover:
    """A `QueueApprover` over the SQLite approval file at `path` (created 0600 when missing)."""
    return QueueApprover(SQLiteApprovals(path, clock=clock), timeout_s, poll_s=poll_s)


def answer_of(record: ApprovalRecord | None, approval_id: str) -> ApprovalAnswer:
    """The answer a stored approval stands for (anything but an approval is a denial)."""
    if record is None:
        return ApprovalAnswer(
            False, by="toolwall", note=f"approval request {approval_id} does not exist"
        )
    if record.status == "pending":
        return ApprovalAnswer(False, by="toolwall", note="not answered", approval_id=record.id)
    if record.status == "expired":
        note = f"approval request {record.id} expired unanswered"
        return ApprovalAnswer(False, by="toolwall", note=note, approval_id=record.id)
    return ApprovalAnswer(
        record.status == "approved",
        by=record.by or "toolwall",
        note=record.note,
        approval_id=record.id,
    )


def _approval_id(request: ApprovalRequest) -> str:
    if request.approval_id is None:
        raise ValueError("a queued approval needs the request's approval_id (from settlement)")
    return request.approval_id

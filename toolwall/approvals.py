"""Escalation: who answers when a rule says a call needs approval.

An `Approver` gets the pending call (after rewrites), the caller, the reasons and the rules, and
answers approve or deny, saying who and why. The default, `DenyAll`, denies: where nobody can
answer, a risky call does not run.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from toolwall.model import Caller, Decision


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """A call waiting for a yes or no. `decision.args` are the arguments that would run."""

    decision: Decision
    caller: Caller

    @property
    def tool(self) -> str:
        return self.decision.tool


@dataclass(frozen=True, slots=True)
class ApprovalAnswer:
    approved: bool
    by: str
    note: str = ""


@runtime_checkable
class Approver(Protocol):
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
    """Asks a function: `fn(request)` returns an `ApprovalAnswer` or a bool (sync or async)."""

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
            raise TypeError("this callback is async: use Firewall.arun / adecide paths")
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

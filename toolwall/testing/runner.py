"""Runs policy test cases against a firewall and compares what it decided with what they expect.

Each case runs in a fresh session of its own: the history steps are decided through the
firewall (so `count()` and `called()` see exactly what the policy let through) and their
results recorded (so taint sources taint the session), then the case's call is decided.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolwall.audit.log import AuditLog
from toolwall.config import Config
from toolwall.enforce.approvers import DenyAll
from toolwall.firewall import Firewall
from toolwall.model import Action, Caller, Decision
from toolwall.testing.cases import Expectation, PolicyTestCase, PolicyTestError


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One way a decision differs from the expectation."""

    what: str
    expected: Any
    actual: Any


@dataclass(slots=True)
class CaseResult:
    """The outcome of one case. `error` is set when the case could not be run as written."""

    case: PolicyTestCase
    decision: Decision | None = None
    mismatches: list[Mismatch] = field(default_factory=list)
    error: str | None = None
    history: list[Decision] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.error is None and not self.mismatches


def policy_firewall(config: str | Path | Config | None = None) -> Firewall:
    """The firewall a policy test runs against: the configured policy, with no side effects.

    Audit records go to the logger only and nobody is asked to approve anything, so running the
    tests never writes to the project's audit log or approval queue.
    """
    return Firewall.from_config(config, audit=AuditLog(), approver=DenyAll())


class PolicyTestRunner:
    """Runs cases against one firewall. `key` is the default private key for `token:` callers."""

    def __init__(self, firewall: Firewall, *, key: Path | None = None) -> None:
        self.firewall = firewall
        self.key = key

    def run(self, case: PolicyTestCase, *, key: Path | None = None) -> CaseResult:
        result = CaseResult(case)
        session = f"toolwall-test:{uuid.uuid4().hex}"
        try:
            caller, token = self._identity(case, key)
            for number, step in enumerate(case.history, start=1):
                for _ in range(step.repeat):
                    decision = self.firewall.decide(
                        step.call, caller=caller, token=token, session=session
                    )
                    result.history.append(decision)
                    if decision.action not in step.expect:
                        result.error = (
                            f"history step {number} ({step.call.tool}) was decided "
                            f"{decision.action.value}, not {_alternatives(step.expect)}: "
                            f"{decision.reason or 'no reason'}"
                        )
                        return result
                    if step.has_result and decision.action.runs:
                        self.firewall.record_result(_as_ran(decision), step.result, session=session)
            result.decision = self.firewall.decide(
                case.call, caller=caller, token=token, session=session
            )
            result.mismatches = compare(case.expect, result.decision)
        except PolicyTestError as exc:
            result.error = str(exc)
        finally:
            self.firewall.state.sessions.forget(session)
        return result

    def _identity(self, case: PolicyTestCase, key: Path | None) -> tuple[Caller | None, str | None]:
        if case.token is not None:
            from toolwall.testing.tokens import mint

            return None, mint(self.firewall, case.token, key or self.key)
        return case.caller, None


def compare(expect: Expectation, decision: Decision) -> list[Mismatch]:
    """Every difference between the expectation and the decision (empty when it passes)."""
    found: list[Mismatch] = []
    if decision.action not in expect.actions:
        found.append(Mismatch("action", _alternatives(expect.actions), decision.action.value))
    if expect.args is not None and decision.args != expect.args:
        found.append(Mismatch("args", dict(expect.args), decision.args))
    if expect.rules is not None and sorted(set(decision.rules)) != sorted(set(expect.rules)):
        found.append(Mismatch("rules", sorted(expect.rules), sorted(decision.rules)))
    if expect.reason is not None and expect.reason not in decision.reason:
        found.append(
            Mismatch("reason", f"contains {expect.reason!r}", decision.reason or "(no reason)")
        )
    return found


def _as_ran(decision: Decision) -> dict[str, Any]:
    """The call as it ran, for `record_result`: the tool with the final arguments."""
    return {"tool": decision.tool, "args": decision.args or {}, "id": decision.call_id}


def _alternatives(actions: tuple[Action, ...]) -> str:
    return " or ".join(a.value for a in actions)

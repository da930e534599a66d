"""The one settlement of escalations: an approval runs exactly the call it was given for
(tool, final arguments, caller, session), once, before it expires; anything else is a block
that says why. Every integration settles through it; their own tests show the same rule
through their framework."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.audit.helpers import BOB, escalate_rules
from toolwall import Action, ApprovalAnswer, Callback, Caller, Decision, Firewall, ReasonKind
from toolwall.audit.log import AuditLog
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state import MemoryApprovals, MemoryDecisions, MemorySessions, State

MALLORY = Caller(sub="mallory", iss="https://idp.example", tools=("*",), authenticated=True)
PAY = {"to_iban": "DE02120300000000202051", "amount": 250}
YES = ApprovalAnswer(True, by="carol", note="known payee")


@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    firewall: Firewall
    clock: Clock
    asked: list[Any] = field(default_factory=list)

    def decide(self, args: dict[str, Any], caller: Caller = BOB, call_id: str = "c1") -> Decision:
        call = {"tool": "bank.transfer", "args": args, "id": call_id}
        return self.firewall.decide(call, caller=caller, session="s")


@pytest.fixture
def setup() -> Setup:
    clock = Clock()
    state = State(MemorySessions(), MemoryApprovals(clock=clock), MemoryDecisions())
    asked: list[Any] = []
    firewall = Firewall(
        schemas=SchemaRegistry(),
        unknown_tool="allow",
        rules=escalate_rules("bank.transfer"),
        audit=AuditLog(),
        approver=Callback(lambda request: asked.append(request) or True),
        state=state,
        approval_ttl_s=60,
    )
    return Setup(firewall, clock, asked)


def approval_refusal(decision: Decision) -> str:
    assert decision.action is Action.BLOCK
    assert decision.reasons[-1].kind is ReasonKind.APPROVAL
    return decision.reasons[-1].message


def test_an_approval_runs_its_call_once_and_counts_it_in_the_session(setup: Setup) -> None:
    settlement = setup.firewall.settlement
    escalated = setup.decide(PAY)
    request = settlement.open(escalated)
    done = settlement.conclude(request, escalated, YES)
    assert done.action is Action.ALLOW and done.args == PAY
    assert done.trace[-1].detail == "approved by carol: known payee"
    assert setup.firewall.session("s").count("bank.transfer") == 1
    again = settlement.conclude(request, escalated, YES)
    assert "already used" in approval_refusal(again)
    assert setup.firewall.session("s").count("bank.transfer") == 1


def test_an_approval_does_not_run_a_call_with_changed_arguments(setup: Setup) -> None:
    settlement = setup.firewall.settlement
    request = settlement.open(setup.decide(PAY))
    edited = setup.decide({**PAY, "to_iban": "GB33BUKB20201555555555"})
    assert "different call" in approval_refusal(settlement.conclude(request, edited, YES))
    # Matched by call id, as a framework's own approval is: the same refusal.
    framework = settlement.conclude_call(setup.decide({**PAY, "amount": 99999}), YES)
    assert "different call" in approval_refusal(framework)


def test_an_approval_does_not_run_another_callers_call(setup: Setup) -> None:
    settlement = setup.firewall.settlement
    request = settlement.open(setup.decide(PAY))
    theirs = setup.decide(PAY, caller=MALLORY)
    assert "different call" in approval_refusal(settlement.conclude(request, theirs, YES))
    # By call id, another caller's call id is not even found.
    by_id = settlement.conclude_call(setup.decide(PAY, caller=MALLORY, call_id="c2"), YES)
    assert "no approval was requested" in approval_refusal(by_id)


def test_an_approval_expires(setup: Setup) -> None:
    settlement = setup.firewall.settlement
    escalated = setup.decide(PAY)
    unanswered = settlement.open(escalated)
    setup.clock.now += 61
    late_answer = settlement.conclude(unanswered, escalated, YES)
    assert "expired unanswered" in approval_refusal(late_answer)

    answered = settlement.open(setup.decide(PAY, call_id="c2"))
    assert answered.approval_id is not None
    settlement.approvals.answer(answered.approval_id, True, by="carol")
    setup.clock.now += 61
    used_late = settlement.conclude(answered, answered.decision)
    assert "expired before it was used" in approval_refusal(used_late)


def test_a_denial_blocks_with_who_and_why(setup: Setup) -> None:
    settlement = setup.firewall.settlement
    escalated = setup.decide(PAY)
    no = ApprovalAnswer(False, by="carol", note="unknown payee")
    done = settlement.conclude(settlement.open(escalated), escalated, no)
    assert approval_refusal(done) == "denied by carol: unknown payee"


def test_a_stored_answer_stands_over_a_later_one(setup: Setup) -> None:
    settlement = setup.firewall.settlement
    escalated = setup.decide(PAY)
    request = settlement.open(escalated)
    assert request.approval_id is not None
    settlement.approvals.answer(request.approval_id, False, by="carol", note="no")
    done = settlement.conclude(request, escalated, YES)
    assert approval_refusal(done) == "denied by carol: no"


def test_settle_asks_the_approver_once_per_call(setup: Setup) -> None:
    first = setup.firewall.settle(setup.decide(PAY))
    assert first.action is Action.ALLOW and len(setup.asked) == 1
    assert setup.asked[0].approval_id is not None
    # The same call again (a hook that fires twice): nobody is asked, the approval is used.
    second = setup.firewall.settle(setup.decide(PAY))
    assert "already used" in approval_refusal(second) and len(setup.asked) == 1
    # Other arguments under the same call id are a new question.
    other = setup.firewall.settle(setup.decide({**PAY, "amount": 1}))
    assert other.action is Action.ALLOW and len(setup.asked) == 2


def test_settle_passes_other_actions_through(setup: Setup) -> None:
    firewall = Firewall(schemas=SchemaRegistry(), unknown_tool="allow")
    allowed = firewall.decide({"tool": "x", "args": {}}, caller=BOB)
    assert firewall.settle(allowed) is allowed


def test_a_failing_approver_or_a_full_store_is_a_denial(setup: Setup) -> None:
    def broken(request: Any) -> bool:
        raise RuntimeError("pager down")

    state = State(MemorySessions(), MemoryApprovals(max_entries=1), MemoryDecisions())
    firewall = Firewall(
        schemas=SchemaRegistry(),
        unknown_tool="allow",
        rules=escalate_rules("bank.transfer"),
        approver=Callback(broken),
        state=state,
    )
    call = {"tool": "bank.transfer", "args": PAY}
    failed = firewall.settle(firewall.decide(call, caller=BOB, session="s"))
    assert approval_refusal(failed) == "denied by toolwall: approver failed: pager down"
    pending = firewall.decide({**call, "id": "p"}, caller=BOB, session="s")
    firewall.settlement.open(pending)  # waits, unanswered: the store is full
    full = firewall.settle(firewall.decide(call, caller=BOB, session="s"))
    assert "no room" in approval_refusal(full)


def test_awaiting_binds_an_answer_to_the_question_that_was_asked(setup: Setup) -> None:
    """An answer that does not say which arguments it approves (a resumed interrupt) belongs to
    the pending approval of its call id: edited arguments are refused, not approved."""
    settlement = setup.firewall.settlement
    asked, asked_before = settlement.awaiting(setup.decide(PAY))
    assert not asked_before
    edited = setup.decide({**PAY, "to_iban": "GB33BUKB20201555555555"})
    same_question, asked_before = settlement.awaiting(edited)
    assert asked_before and same_question.approval_id == asked.approval_id
    assert "different call" in approval_refusal(settlement.conclude(same_question, edited, YES))


def test_awaiting_a_call_nobody_was_asked_about_says_so(setup: Setup) -> None:
    settlement = setup.firewall.settlement
    settlement.awaiting(setup.decide(PAY))
    _, asked_before = settlement.awaiting(setup.decide(PAY, caller=MALLORY))
    assert not asked_before  # another caller's call under the same id: a new question

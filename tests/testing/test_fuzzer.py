"""The fuzzer finds each kind of broken property, with engines broken on purpose."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from toolwall import Action, Caller, Decision, Firewall, Reason, ReasonKind
from toolwall.model import RuleVerdict
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state.memory import SessionState
from toolwall.testing.cases import parse_test_file
from toolwall.testing.fuzz import Fuzzer
from toolwall.testing.hints import PolicyHints
from toolwall.testing.runner import policy_firewall

SCHEMAS = SchemaRegistry.load(ROOT / "schemas")


class Exploding:
    def evaluate(self, tool: str, args: dict[str, Any], caller: Caller, s: SessionState) -> Any:
        if "limit" in args and args["limit"] > 50:
            raise ZeroDivisionError("a rule divided by zero")
        return RuleVerdict(Action.ALLOW)

    def taints(self, tool: str) -> bool:
        return False

    def rules_for(self, tool: str) -> list[str]:
        return []


class Flaky(Exploding):
    def __init__(self) -> None:
        self.flip = itertools.cycle([Action.ALLOW, Action.ESCALATE])

    def evaluate(self, tool: str, args: dict[str, Any], caller: Caller, s: SessionState) -> Any:
        action = next(self.flip)
        reason = Reason(ReasonKind.RULE, "coin", rule="coin")
        return RuleVerdict(action, None, (reason,) if action is Action.ESCALATE else (), ())


class Leaky(Firewall):
    """An engine that lets one kind of refusal through: what the fuzzer exists to catch."""

    def __init__(self, leak: ReasonKind, **parts: Any) -> None:
        super().__init__(**parts)
        self.leak = leak

    def decide(
        self, call: Any, caller: Any = None, token: Any = None, session: Any = None
    ) -> Decision:
        decision = super().decide(call, caller=caller, token=token, session=session)
        if decision.reasons and decision.reasons[0].kind is self.leak:
            return replace(decision, action=Action.ALLOW, reasons=())
        return decision


def fuzz(firewall: Firewall, tool: str, examples: int = 60) -> Any:
    report = Fuzzer(firewall, examples=examples, seed=7).fuzz_tool(tool)
    assert report.failure is not None, f"no counterexample in {report.examples} examples"
    return report.failure


def test_an_internal_error_is_found_and_shrunk() -> None:
    failure = fuzz(Firewall(schemas=SCHEMAS, rules=Exploding()), "db.query")
    assert failure.violation.property == "internal error"
    assert "ZeroDivisionError" in failure.violation.message
    assert failure.example.call.args == {"sql": "0", "limit": 51}, "shrunk to the boundary"


def test_a_nondeterministic_engine_is_found() -> None:
    failure = fuzz(Firewall(schemas=SCHEMAS, rules=Flaky()), "fs.read")
    assert failure.violation.property == "nondeterministic"


@pytest.mark.parametrize(
    ("leak", "kind"), [(ReasonKind.NOT_GRANTED, "not granted"), (ReasonKind.SCHEMA, "schema")]
)
def test_running_ungranted_or_invalid_calls_is_found(leak: ReasonKind, kind: str) -> None:
    failure = fuzz(Leaky(leak, schemas=SCHEMAS), "fs.read")
    assert failure.violation.property == kind
    assert failure.test_case()["expect"] == {"action": "block"}


def test_a_counterexample_is_a_policy_test_that_reproduces_it(tmp_path: Any) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (tmp_path / "toolwall.toml").write_text(
        f'[policy]\nschemas = "{ROOT / "schemas"}"\nrules = "rules"\n'
    )
    (rules / "mail.tw").write_text(
        'let company = ["acme.test"]\n'
        "rule mail_outside_company:\n"
        "    on email.send\n"
        '    when any r in args.to: r endswith "@evil.test"\n'
        "    escalate\n"
        "assert never allow email.send when any r in args.to: domain(r) not in company\n"
    )
    firewall = policy_firewall(tmp_path / "toolwall.toml")
    hints = PolicyHints.from_files([rules])
    report = Fuzzer(firewall, hints=hints, examples=100, seed=2).fuzz_tool("email.send")
    failure = report.failure
    assert failure is not None and failure.violation.property == "assertion"
    text = failure.yaml()
    assert text.startswith("# found by `toolwall fuzz --seed 2` (assertion)")
    loaded = parse_test_file(text, tmp_path / "found.yaml")
    (case,) = loaded.cases
    assert case.expect.actions == (Action.REWRITE, Action.ESCALATE, Action.BLOCK)
    from toolwall.testing.runner import PolicyTestRunner

    result = PolicyTestRunner(firewall).run(case)
    assert not result.passed and result.mismatches[0].actual == "allow"
    assert yaml.safe_load(text)[0]["call"]["tool"] == "email.send"


def test_a_tool_whose_schema_admits_no_arguments_is_skipped_not_passed() -> None:
    impossible = SchemaRegistry.from_dict(
        {
            "x.never": {
                "type": "object",
                "properties": {"a": {"type": "integer"}},
                "required": ["a"],
                "not": {"required": ["a"]},
            }
        }
    )
    report = Fuzzer(Firewall(schemas=impossible), examples=20, seed=0).fuzz_tool("x.never")
    assert report.failure is None
    assert report.skipped is not None and report.skipped.startswith(
        "could not generate schema-valid arguments"
    )

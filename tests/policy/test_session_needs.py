"""What the rules covering a tool read of the past (`SessionNeeds`), computed when the policy
loads, so that a remote state fetches it in one round trip. A tool whose rules are said to read
nothing must really read nothing: they are evaluated here against a view that fails on any use."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ROOT
from toolwall import Caller
from toolwall.model import READS_NOTHING, SessionNeeds
from toolwall.policy import compile_text, load_policy
from toolwall.schemas.registry import SchemaRegistry

POLICY = """
let day = 86400
taint web.fetch

rule plain:           on a.plain      when args.x == 1 block
rule in_quantifier:   on a.quant      when any t in args.tags: t == "x" and session.calls > 3 block
rule in_because:      on a.because    when args.x == 1 block because "after {session.calls} calls"
rule in_rewrite:      on a.rewrite    when args.x > 1 rewrite args.x = count("a.*")
rule in_unless:       on a.unless     unless called("auth.login") block
rule windows:         on a.window
                      when count_within("a.*", 60) > 1 or count_within("b.*", day) > 1 block
rule caller_windows:  on a.caller     when caller_count_within("a.*", 3600) > 1 block
rule glob_windows:    on a.*          when count_within("a.*", 600) > 100 block
"""


def needs(tool: str) -> SessionNeeds:
    policy: Any = compile_text(POLICY, SchemaRegistry())
    result: SessionNeeds = policy.session_needs(tool)
    return result


@pytest.mark.parametrize("tool", ["a.quant", "a.because", "a.rewrite", "a.unless"])
def test_any_use_of_the_session_reads_it(tool: str) -> None:
    assert needs(tool).reads


def test_windows_are_known_when_the_policy_loads() -> None:
    assert needs("a.window") == SessionNeeds(True, frozenset({60, 86400, 600}), frozenset())
    assert needs("a.caller") == SessionNeeds(True, frozenset({600}), frozenset({3600}))
    assert needs("b.other") == READS_NOTHING  # no rule covers it


class Tripwire:
    """A session view that must not be read."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the rules read session.{name}")


def read_nothing_for_real(policy: Any, tools: list[str]) -> None:
    checked = 0
    for tool in tools:
        if policy.session_needs(tool).reads:
            continue
        checked += 1
        for args in ({}, {"x": 1, "tags": ["x"]}, {"x": 5, "path": "/etc/passwd"}):
            verdict = policy.evaluate(tool, args, Caller(), Tripwire())
            errors = [t.error for t in verdict.trace if t.error]
            assert not any("the rules read session" in e for e in errors), (tool, errors)
    assert checked


def test_tools_said_to_read_nothing_read_nothing() -> None:
    read_nothing_for_real(compile_text(POLICY, SchemaRegistry()), ["a.plain", "b.other"])


def test_the_demo_policys_tools_said_to_read_nothing_read_nothing() -> None:
    schemas = SchemaRegistry.load(ROOT / "schemas")
    policy = load_policy([ROOT / "rules"], schemas, base=ROOT)
    read_nothing_for_real(policy, list(schemas.names()))
    assert policy.session_needs("bank.transfer").reads  # its rules read the taint

"""`assert never ...`: parsed, checked and compiled to `Assertion` objects for `toolwall fuzz`."""

from __future__ import annotations

import pytest

from tests.policy.conftest import ROOT
from toolwall import Action, Caller, Firewall, ToolCall
from toolwall.errors import PolicyError
from toolwall.policy import compile_text, load_policy
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state.memory import SessionState

POLICY = """
let company = ["acme.test"]
let workspace = "/srv/workspace"
assert never allow fs.read, fs.write when not (path(args.path) under workspace)
assert never allow, rewrite email.send
    when any r in args.to: domain(r) not in company
"""


def test_assertions_compile_with_names_locations_and_source(schemas: SchemaRegistry) -> None:
    policy = compile_text(POLICY, schemas, "p.tw")
    first, second = policy.assertions
    assert first.name == "assert@p.tw:4"
    assert first.location == "p.tw:4:1"
    assert first.source == (
        "assert never allow fs.read, fs.write when not (path(args.path) under workspace)"
    )
    assert second.source == (
        "assert never allow, rewrite email.send when any r in args.to: domain(r) not in company"
    )
    assert first.actions == {Action.ALLOW}
    assert second.actions == {Action.ALLOW, Action.REWRITE}
    assert first.covers("fs.read") and first.covers("fs.write") and not first.covers("db.query")


def test_violated(schemas: SchemaRegistry) -> None:
    files, mail = compile_text(POLICY, schemas, "p.tw").assertions
    who, state = Caller(), SessionState()
    outside = {"path": "/srv/workspace2/x"}
    inside = {"path": "/srv/workspace/x"}
    assert files.violated("fs.read", outside, who, state, Action.ALLOW)
    assert not files.violated("fs.read", inside, who, state, Action.ALLOW)
    assert not files.violated("fs.read", outside, who, state, Action.BLOCK)
    assert not files.violated("db.query", outside, who, state, Action.ALLOW)
    # An evaluation error counts as a violation (fail closed): NUL in a path, a missing field.
    assert files.violated("fs.read", {"path": "/srv/workspace/\x00"}, who, state, Action.ALLOW)
    assert files.violated("fs.read", {}, who, state, Action.ALLOW)
    out = {"to": ["a@acme.test", "b@evil.test"], "subject": "s", "body": "b"}
    assert mail.violated("email.send", out, who, state, Action.REWRITE)
    assert not mail.violated("email.send", out, who, state, Action.ESCALATE)


def test_the_demo_policy_satisfies_its_assertions(schemas: SchemaRegistry) -> None:
    policy = load_policy([ROOT / "rules"], schemas)
    assert [a.name for a in policy.assertions] == [
        f"assert@{ROOT / 'rules' / 'assertions.tw'}:4",
        f"assert@{ROOT / 'rules' / 'assertions.tw'}:5",
    ]
    fw = Firewall(schemas=schemas, rules=policy)
    who = Caller(sub="a", tools=("*",))
    calls = [
        ("fs.read", {"path": p})
        for p in ("/srv/workspace/a", "/srv/workspace2/a", "/srv/workspace/../x", "//etc", "rel")
    ] + [
        ("email.send", {"to": to, "subject": "s", "body": "b"})
        for to in (["a@acme.test"], ["a@ACME.test."], ["x@acme.test@evil.test"], ["e@evil.test"])
    ]
    for tool, args in calls:
        decision = fw.decide(ToolCall(tool=tool, args=args), caller=who)
        for assertion in policy.assertions:
            assert not assertion.violated(tool, args, who, SessionState(), decision.action), (
                tool,
                args,
                decision.action,
            )


def test_assertions_are_checked_like_rules(schemas: SchemaRegistry) -> None:
    with pytest.raises(PolicyError) as info:
        compile_text("assert never allow fs.read when args.pth == 1", schemas, "p.tw")
    assert "p.tw:1:33: error: args.pth is not in the schema of fs.read" in str(info.value)
    with pytest.raises(PolicyError) as info:
        compile_text("assert never allow, allow fs.read when true", schemas, "p.tw")
    assert "action `allow` is listed twice" in str(info.value)

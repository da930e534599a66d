"""The compiled policy: rules indexed by tool name, taint patterns, and `assert never ...`
compiled to `Assertion` objects for `toolwall fuzz`."""

from __future__ import annotations

from tests.policy.conftest import ROOT, firewall_for
from toolwall import Action, Caller, Firewall, ToolCall
from toolwall.model import RuleVerdict
from toolwall.pipeline.rules import RuleEngine
from toolwall.policy import compile_text, load_policy
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state.memory import SessionState


def test_rules_are_indexed_by_tool(schemas: SchemaRegistry) -> None:
    policy = compile_text(
        """
        rule a: on db.query block
        rule b: on db.* block
        rule c: on *.read block
        rule d: on fs.read, db.query block
        """,
        schemas,
    )
    assert isinstance(policy, RuleEngine)
    assert policy.rules_for("db.query") == ["a", "b", "d"]
    assert policy.rules_for("fs.read") == ["c", "d"]
    assert policy.rules_for("email.send") == []
    verdict = policy.evaluate("email.send", {}, Caller(), SessionState())
    assert verdict == RuleVerdict(Action.ALLOW)


def test_a_large_policy_costs_only_the_rules_of_the_called_tool(schemas: SchemaRegistry) -> None:
    lines = [
        f'rule r{i}: on db.query when args.sql == "q{i}" and args.limit > {i % 100} block'
        for i in range(5000)
    ]
    lines += [f'rule f{i}: on fs.read when args.path == "/p{i}" block' for i in range(5000)]
    lines.append('rule mine: on email.read when args.folder == "archive" block')
    policy = compile_text("\n".join(lines), schemas)
    assert len(policy) == 10001
    verdict = policy.evaluate("email.read", {"folder": "archive"}, Caller(), SessionState())
    assert verdict.action is Action.BLOCK
    assert [t.rule for t in verdict.trace] == ["mine"]  # nothing else was evaluated


def test_taint_patterns(schemas: SchemaRegistry, alice: Caller) -> None:
    fw = firewall_for(
        schemas,
        "taint web.*, email.read\nrule pay: on bank.transfer when session.tainted block",
    )
    assert fw.rules.taints("web.fetch") and fw.rules.taints("email.read")
    assert not fw.rules.taints("email.send")
    read = ToolCall(tool="email.read", args={"folder": "inbox"})
    assert fw.record_result(read, "hello", session="t") is True
    assert fw.record_result(read, "hello", session="u") is True
    send = ToolCall(tool="email.send", args={"to": ["a@b.test"], "subject": "s", "body": "b"})
    assert fw.record_result(send, "sent", session="v") is False


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

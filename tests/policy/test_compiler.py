"""What compiled expressions do: references and has(), builtin calls, quantifiers, `because`
messages."""

from __future__ import annotations

from tests.policy.conftest import firewall_for, query
from toolwall import Action, Caller, ToolCall
from toolwall.policy import compile_text
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state.memory import SessionState


def test_has_is_the_only_safe_way_to_touch_a_missing_field(
    schemas: SchemaRegistry, alice: Caller
) -> None:
    fw = firewall_for(schemas, "rule dbg: on db.query when has(args.debug) and args.debug block")
    assert fw.decide(query(5), caller=alice).action is Action.ALLOW
    assert fw.decide(query(5, debug=False), caller=alice).action is Action.ALLOW
    assert fw.decide(query(5, debug=True), caller=alice).action is Action.BLOCK


def test_has_never_fails_whatever_the_types_on_the_way(schemas: SchemaRegistry) -> None:
    open_schema = SchemaRegistry.from_dict({"t.run": {"type": "object"}})
    policy = compile_text(
        "rule r: on t.run when has(args.a.b) or has(args.l[3]) or has(caller.claims.x.y) block",
        open_schema,
    )
    who, state = Caller(claims={"x": 1}), SessionState()
    for args in ({"a": "text", "l": [1]}, {"a": [1], "l": "s"}, {"a": None}, {}):
        verdict = policy.evaluate("t.run", args, who, state)
        assert verdict.action is Action.ALLOW, args
    assert policy.evaluate("t.run", {"a": {"b": None}}, who, state).action is Action.BLOCK
    assert policy.evaluate("t.run", {"l": [0, 1, 2, 3]}, who, state).action is Action.BLOCK


def test_because_interpolation(schemas: SchemaRegistry) -> None:
    fw = firewall_for(
        schemas,
        "rule r: on db.query when args.limit > 100 block "
        'because "{caller.sub} asked for {args.limit} rows ({{max}} 100) in {tool}: {[1, true]}"',
    )
    who = Caller(sub="carol", tools=("*",))
    d = fw.decide(query(500), caller=who)
    assert d.reason == "rule r: carol asked for 500 rows ({max} 100) in db.query: [1,true]"


def test_because_expressions_may_contain_braces_in_strings() -> None:
    open_schema = SchemaRegistry.from_dict({"t.run": {"type": "object"}})
    policy = compile_text(
        'rule r: on t.run when true block because "got {args[\\"a}b\\"]} and {{literal}}"',
        open_schema,
    )
    verdict = policy.evaluate("t.run", {"a}b": "value"}, Caller(), SessionState())
    assert verdict.reasons[0].message == "got value and {literal}"


def test_session_rules_count_and_called(schemas: SchemaRegistry, alice: Caller) -> None:
    fw = firewall_for(
        schemas,
        """
        rule burst: on email.send when count("email.*") >= 2 block because "burst"
        rule fetch_first: on fs.write when not called("web.fetch") escalate
        rule many: on db.query when session.calls > 3 block
        """,
    )
    mail = ToolCall(tool="email.send", args={"to": ["a@b.test"], "subject": "s", "body": "b"})
    assert fw.decide(mail, caller=alice, session="s").action is Action.ALLOW
    assert fw.decide(mail, caller=alice, session="s").action is Action.ALLOW
    assert fw.decide(mail, caller=alice, session="s").action is Action.BLOCK
    write = ToolCall(tool="fs.write", args={"path": "/x", "content": "y"})
    assert fw.decide(write, caller=alice, session="s").action is Action.ESCALATE
    fetch = ToolCall(tool="web.fetch", args={"url": "https://example.com"})
    fw.decide(fetch, caller=alice, session="s")
    assert fw.decide(write, caller=alice, session="s").action is Action.ALLOW
    assert fw.decide(query(), caller=alice, session="s").action is Action.BLOCK  # 4 calls


def test_quantifiers_and_operators(schemas: SchemaRegistry, alice: Caller) -> None:
    fw = firewall_for(
        schemas,
        """
        let company = ["acme.test"]
        rule all_inside: on email.send
            when all r in args.to: domain(r) in company and not (args.subject contains "x")
            block because "all inside"
        rule cc_long: on email.send
            when has(args.cc) and any c in args.cc: len(c) > 20 or c endswith ".evil"
            escalate
        """,
    )
    base = {"subject": "hello", "body": "b"}
    d = fw.decide(ToolCall(tool="email.send", args={"to": ["a@acme.test"], **base}), caller=alice)
    assert d.action is Action.BLOCK
    d = fw.decide(
        ToolCall(tool="email.send", args={"to": ["a@acme.test", "b@x.test"], **base}),
        caller=alice,
    )
    assert d.action is Action.ALLOW
    d = fw.decide(
        ToolCall(tool="email.send", args={"to": ["b@x.test"], "cc": ["q@e.evil"], **base}),
        caller=alice,
    )
    assert d.action is Action.ESCALATE

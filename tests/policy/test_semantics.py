"""Decision semantics of the rule language, through the real engine (`Firewall`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy.conftest import firewall_for
from toolwall import Action, Caller, Firewall, ReasonKind, ToolCall
from toolwall.model import RuleVerdict
from toolwall.pipeline.rules import RuleEngine
from toolwall.policy import compile_sources, compile_text, load_policy
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state.memory import SessionState


def query(limit: int = 50, **more: object) -> ToolCall:
    return ToolCall(tool="db.query", args={"sql": "select 1", "limit": limit, **more})


def test_block_beats_escalate_beats_rewrite(schemas: SchemaRegistry, alice: Caller) -> None:
    fw = firewall_for(
        schemas,
        """
        rule cap: on db.query when args.limit > 100 rewrite args.limit = 100 because "capped"
        rule ask: on db.query when args.limit > 1000 escalate because "ask first"
        rule no:  on db.query when args.limit > 5000 block because "far too many"
        """,
    )
    d = fw.decide(query(6000), caller=alice)
    assert d.action is Action.BLOCK
    assert d.rules == ("cap", "ask", "no")
    assert [r.rule for r in d.reasons] == ["no", "cap", "ask"]  # winning action first
    assert d.args == {"sql": "select 1", "limit": 6000}  # a block runs nothing: no rewrite

    d = fw.decide(query(2000), caller=alice)
    assert d.action is Action.ESCALATE
    assert d.args == {"sql": "select 1", "limit": 100}  # the approver sees what would run
    assert [r.rule for r in d.reasons] == ["ask", "cap"]

    d = fw.decide(query(200), caller=alice)
    assert (d.action, d.args) == (Action.REWRITE, {"sql": "select 1", "limit": 100})
    assert fw.decide(query(20), caller=alice).action is Action.ALLOW


def test_conditions_see_the_original_arguments(schemas: SchemaRegistry, alice: Caller) -> None:
    # `exact` would fire on the rewritten value 100, but conditions never see rewrites.
    fw = firewall_for(
        schemas,
        "rule cap: on db.query when args.limit > 100 rewrite args.limit = 100",
        'rule exact: on db.query when args.limit == 100 block because "exactly 100"',
    )
    d = fw.decide(query(500), caller=alice)
    assert (d.action, d.args["limit"]) == (Action.REWRITE, 100)  # type: ignore[index]
    assert fw.decide(query(100), caller=alice).action is Action.BLOCK


def test_rewrite_values_are_computed_on_the_original_arguments(
    schemas: SchemaRegistry, alice: Caller
) -> None:
    fw = firewall_for(
        schemas,
        "rule half: on db.query when args.limit > 100 rewrite args.limit = args.limit / 2 * 0 + 7",
        "rule dbg: on db.query when args.limit > 100 rewrite args.debug = args.limit > 1000",
    )
    d = fw.decide(query(5000), caller=alice)
    assert d.args == {"sql": "select 1", "limit": 7.0, "debug": True}


def test_rewrites_apply_in_file_and_line_order(schemas: SchemaRegistry, alice: Caller) -> None:
    first = "rule cap_a: on db.query when args.limit > 100 rewrite args.limit = 100"
    second = "rule cap_b: on db.query when args.limit > 100 rewrite args.limit = 50"
    for order in ([("a.tw", first), ("b.tw", second)], [("b.tw", second), ("a.tw", first)]):
        fw = Firewall(schemas=schemas, rules=compile_sources(order, schemas))
        assert fw.decide(query(500), caller=alice).args["limit"] == 50  # type: ignore[index]
    same_file = f"{second}\n{first}"
    fw = firewall_for(schemas, same_file)
    assert fw.decide(query(500), caller=alice).args["limit"] == 100  # type: ignore[index]


def test_invalid_rewrite_is_blocked_by_revalidation(schemas: SchemaRegistry, alice: Caller) -> None:
    fw = firewall_for(
        schemas,
        "rule grow: on db.query when args.limit > 10 rewrite args.limit = args.limit * 1000",
    )
    d = fw.decide(query(50), caller=alice)
    assert d.action is Action.BLOCK
    assert d.reasons[0].kind is ReasonKind.REWRITE_INVALID
    assert fw.decide(query(5), caller=alice).action is Action.ALLOW


def test_errors_fail_closed(schemas: SchemaRegistry) -> None:
    fw = firewall_for(
        schemas,
        """
        rule lvl_block: on db.query when caller.claims.level > 3 block
        rule lvl_ask: on fs.read when caller.claims.level > 3 escalate
        rule lvl_rewrite: on email.read when caller.claims.level > 3 rewrite args.limit = 1
        """,
    )
    who = Caller(sub="x", tools=("*",), claims={"level": "high"})
    d = fw.decide(query(5), caller=who)
    assert d.action is Action.BLOCK
    assert d.reasons[0].kind is ReasonKind.RULE_ERROR
    assert d.reasons[0].rule == "lvl_block"
    assert "`>` compares numbers, not a string with an integer" in d.reason
    assert fw.decide(ToolCall(tool="fs.read", args={"path": "/x"}), caller=who).action is (
        Action.ESCALATE
    )
    d = fw.decide(ToolCall(tool="email.read", args={"folder": "inbox"}), caller=who)
    assert d.action is Action.BLOCK  # a rewrite rule that cannot be evaluated blocks
    assert "lvl_rewrite" in d.reason
    # A missing claim is a missing field: the same.
    nobody = Caller(sub="y", tools=("*",))
    d = fw.decide(query(5), caller=nobody)
    assert d.action is Action.BLOCK and "missing field caller.claims.level" in d.reason
    # With the field present and of the right type, nothing fires.
    ok = Caller(sub="z", tools=("*",), claims={"level": 1})
    assert fw.decide(query(5), caller=ok).action is Action.ALLOW


def test_has_is_the_only_safe_way_to_touch_a_missing_field(
    schemas: SchemaRegistry, alice: Caller
) -> None:
    fw = firewall_for(schemas, "rule dbg: on db.query when has(args.debug) and args.debug block")
    assert fw.decide(query(5), caller=alice).action is Action.ALLOW
    assert fw.decide(query(5, debug=False), caller=alice).action is Action.ALLOW
    assert fw.decide(query(5, debug=True), caller=alice).action is Action.BLOCK


def test_unless_is_only_evaluated_when_when_holds(schemas: SchemaRegistry, alice: Caller) -> None:
    fw = firewall_for(schemas, "rule r: on db.query when args.limit > 100 unless args.debug block")
    # `unless` would fail (no debug) but `when` is false: the rule does not fire.
    assert fw.decide(query(5), caller=alice).action is Action.ALLOW
    assert fw.decide(query(500, debug=True), caller=alice).action is Action.ALLOW
    d = fw.decide(query(500), caller=alice)
    assert d.action is Action.BLOCK and d.reasons[0].kind is ReasonKind.RULE_ERROR


def test_because_interpolation(schemas: SchemaRegistry) -> None:
    fw = firewall_for(
        schemas,
        "rule r: on db.query when args.limit > 100 block "
        'because "{caller.sub} asked for {args.limit} rows ({{max}} 100) in {tool}: {[1, true]}"',
    )
    who = Caller(sub="carol", tools=("*",))
    d = fw.decide(query(500), caller=who)
    assert d.reason == "rule r: carol asked for 500 rows ({max} 100) in db.query: [1,true]"


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


def test_trace_lists_every_rule_considered(schemas: SchemaRegistry, alice: Caller) -> None:
    fw = firewall_for(
        schemas,
        """
        rule big: on db.query when args.limit > 100 block
        rule dbg: on db.* when args.debug unless args.limit < 10 escalate
        rule other: on fs.read block
        """,
    )
    d = fw.decide(query(50), caller=alice)
    rules = [t for t in d.trace if t.stage == "rule"]
    assert [(t.rule, t.outcome, t.when, t.unless, t.fired) for t in rules] == [
        ("big", "not fired", False, None, False),
        ("dbg", "error", None, None, True),
    ]
    assert rules[1].error == "missing field args.debug"
    assert rules[1].location == "a.tw:3:9"
    d = fw.decide(query(5, debug=True), caller=alice)
    rules = [t for t in d.trace if t.stage == "rule"]
    assert [(t.rule, t.outcome, t.when, t.unless) for t in rules] == [
        ("big", "not fired", False, None),
        ("dbg", "not fired", True, True),
    ]
    assert "rule dbg" in d.explain()


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


def test_load_policy_reads_files_and_folders(tmp_path: Path, schemas: SchemaRegistry) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.tw").write_text("rule b: on db.query block", encoding="utf-8")
    (tmp_path / "a.tw").write_text("rule a: on db.query block", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not rules", encoding="utf-8")
    policy = load_policy([tmp_path], schemas)
    assert policy.rules_for("db.query") == ["a", "b"]
    same = load_policy([tmp_path / "sub" / "b.tw", tmp_path / "a.tw"], schemas)
    assert same.rules_for("db.query") == ["a", "b"]


def test_duplicate_names_across_files_are_an_error(schemas: SchemaRegistry) -> None:
    from toolwall.errors import PolicyError

    with pytest.raises(PolicyError) as info:
        compile_sources([("a.tw", "let x = 1"), ("b.tw", "rule x: on db.query block")], schemas)
    assert "b.tw:1:6: error: duplicate name `x`: already defined at a.tw:1:5" in str(info.value)


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


def test_runtime_type_rules(schemas: SchemaRegistry) -> None:
    open_schema = SchemaRegistry.from_dict({"t.run": {"type": "object"}})
    cases = {
        "args.x == 1": [({"x": 1.0}, True), ({"x": True}, False), ({"x": "1"}, False)],
        "args.x in args.y": [
            ({"x": "b", "y": "abc"}, True),
            ({"x": "k", "y": {"k": 1}}, True),
            ({"x": 1, "y": [1.0, 2]}, True),
            ({"x": 1, "y": "1"}, "error"),
            ({"x": 1, "y": 1}, "error"),
        ],
        "args.y contains args.x": [({"x": 2, "y": [1, 2]}, True), ({"x": 3, "y": [1]}, False)],
        "args.x > 1": [({"x": 2}, True), ({"x": "2"}, "error"), ({"x": True}, "error")],
        "args.x + args.y == 3": [({"x": 1, "y": 2}, True), ({"x": "a", "y": 1}, "error")],
        'args.x + args.y == "ab"': [({"x": "a", "y": "b"}, True)],
        "args.x / args.y > 0": [({"x": 1, "y": 0}, "error"), ({"x": 1, "y": 2}, True)],
        "args.x": [({"x": True}, True), ({"x": 1}, "error"), ({"x": "yes"}, "error")],
        "all v in args.x: v > 0": [
            ({"x": []}, True),
            ({"x": [1, -1]}, False),
            ({"x": "s"}, "error"),
        ],
        "any v in args.x: v > 0": [({"x": []}, False), ({"x": [-1, 1]}, True)],
        "args.x matches /^a/i": [({"x": "Abc"}, True), ({"x": 1}, "error")],
        'args.x startswith "a"': [({"x": "ab"}, True), ({"x": ["a"]}, "error")],
        'args.x under "/srv"': [({"x": "/srv"}, True), ({"x": "/srv2"}, False)],
        "len(args.x) == 2": [({"x": "ab"}, True), ({"x": [1, 2]}, True), ({"x": 5}, "error")],
        "args.l[1] == 2": [({"l": [1, 2]}, True), ({"l": [1]}, "error"), ({"l": "ab"}, "error")],
    }
    who, state = Caller(), SessionState()
    for condition, expectations in cases.items():
        policy = compile_text(f"rule r: on t.run when {condition} block", open_schema)
        for args, expected in expectations:
            verdict = policy.evaluate("t.run", args, who, state)
            outcome = verdict.trace[0].outcome
            if expected == "error":
                assert outcome == "error", (condition, args)
                assert verdict.reasons[0].kind is ReasonKind.RULE_ERROR
            else:
                assert outcome == ("fired" if expected else "not fired"), (condition, args)


def test_rewritten_arguments_share_nothing_with_the_originals() -> None:
    open_schema = SchemaRegistry.from_dict({"t.run": {"type": "object"}})
    policy = compile_text(
        "rule r: on t.run when true rewrite args.copy = args.src, args.src[0] = 9", open_schema
    )
    original = {"src": [1, {"k": [2]}]}
    verdict = policy.evaluate("t.run", original, Caller(), SessionState())
    assert verdict.action is Action.REWRITE
    assert verdict.args == {"src": [9, {"k": [2]}], "copy": [1, {"k": [2]}]}
    assert original == {"src": [1, {"k": [2]}]}
    assert verdict.args is not None
    assert verdict.args["copy"][1] is not original["src"][1]


def test_rule_files_with_a_byte_order_mark_and_crlf_load(
    tmp_path: Path, schemas: SchemaRegistry
) -> None:
    file = tmp_path / "win.tw"
    file.write_bytes(b"\xef\xbb\xbfrule r:\r\n    on db.query\r\n    block # done\r\n")
    assert load_policy([file], schemas).rules_for("db.query") == ["r"]


def test_loading_pauses_the_garbage_collector_and_restores_it(schemas: SchemaRegistry) -> None:
    import gc

    collections: list[str] = []

    def record(phase: str, info: dict[str, int]) -> None:
        collections.append(phase)

    assert gc.isenabled()
    gc.callbacks.append(record)
    try:
        # Thousands of allocations: with the collector on, it would run several times.
        compile_text("let x = [" + "1, " * 5000 + "1]\nrule r: on db.query block", schemas)
    finally:
        gc.callbacks.remove(record)
    assert collections == []
    assert gc.isenabled()


def test_rewrite_order_across_files_on_disk(
    tmp_path: Path, schemas: SchemaRegistry, alice: Caller
) -> None:
    (tmp_path / "b_later.tw").write_text(
        "rule to_50: on db.query when args.limit > 100 rewrite args.limit = 50\n", "utf-8"
    )
    (tmp_path / "a_first.tw").write_text(
        "rule to_100: on db.query when args.limit > 100 rewrite args.limit = 100\n"
        "rule no_debug: on db.query when has(args.debug) rewrite drop args.debug\n",
        "utf-8",
    )
    for paths in ([tmp_path], [tmp_path / "b_later.tw", tmp_path / "a_first.tw"]):
        fw = Firewall(schemas=schemas, rules=load_policy(paths, schemas))
        d = fw.decide(query(500, debug=True), caller=alice)
        assert d.action is Action.REWRITE
        assert d.args == {"sql": "select 1", "limit": 50}
        assert d.rules == ("to_100", "no_debug", "to_50")
        assert [r.location for r in d.reasons] == [
            f"{tmp_path / 'a_first.tw'}:1:1",
            f"{tmp_path / 'a_first.tw'}:2:1",
            f"{tmp_path / 'b_later.tw'}:1:1",
        ]


def test_because_expressions_may_contain_braces_in_strings() -> None:
    open_schema = SchemaRegistry.from_dict({"t.run": {"type": "object"}})
    policy = compile_text(
        'rule r: on t.run when true block because "got {args[\\"a}b\\"]} and {{literal}}"',
        open_schema,
    )
    verdict = policy.evaluate("t.run", {"a}b": "value"}, Caller(), SessionState())
    assert verdict.reasons[0].message == "got value and {literal}"

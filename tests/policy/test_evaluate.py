"""Running the rules of a call and combining their outcomes (`evaluate`), through the real
engine (`Firewall`): block > escalate > rewrite > allow, original arguments, fail closed."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.policy.conftest import firewall_for, query
from toolwall import Action, Caller, Firewall, ReasonKind, ToolCall
from toolwall.policy import compile_sources, compile_text
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state.memory import SessionState


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


def test_unless_is_only_evaluated_when_when_holds(schemas: SchemaRegistry, alice: Caller) -> None:
    fw = firewall_for(schemas, "rule r: on db.query when args.limit > 100 unless args.debug block")
    # `unless` would fail (no debug) but `when` is false: the rule does not fire.
    assert fw.decide(query(5), caller=alice).action is Action.ALLOW
    assert fw.decide(query(500, debug=True), caller=alice).action is Action.ALLOW
    d = fw.decide(query(500), caller=alice)
    assert d.action is Action.BLOCK and d.reasons[0].kind is ReasonKind.RULE_ERROR


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


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


ANYONE = Caller(sub="p", tools=("*",), groups=("g",))


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-50, 50), st.text(max_size=6), st.floats(-9, 9)
)


json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


OPEN = SchemaRegistry.from_dict({"t.run": {"type": "object"}})


@SETTINGS
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_a_block_rule_with_a_true_condition_always_blocks(args: dict[str, Any]) -> None:
    policy = compile_sources(
        [
            (
                "p.tw",
                """
                rule r1: on t.run when has(args.a) and args.a == 1 rewrite args.a = 2
                rule r2: on t.* when true block because "always"
                rule r3: on t.run unless has(args.b) escalate
                rule r4: on t.run when args.zz > 3 escalate
                """,
            )
        ],
        OPEN,
    )
    d = Firewall(schemas=OPEN, rules=policy).decide(
        ToolCall(tool="t.run", args=args), caller=ANYONE
    )
    assert d.action is Action.BLOCK
    assert "r2" in d.rules

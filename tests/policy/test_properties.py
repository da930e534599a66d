"""Hypothesis properties of the rule language."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolwall import Action, Caller, Firewall, ToolCall
from toolwall.errors import PolicyError
from toolwall.policy import ParseError, compile_sources, parse_text
from toolwall.policy.syntax_errors import KEYWORDS
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state.sessions import SessionState

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Fragments of the language, so that generated text gets deep into the grammar, not only
# into the first token.
FRAGMENTS = [
    *sorted(KEYWORDS),
    *[
        "(",
        ")",
        "[",
        "]",
        ",",
        ":",
        ".",
        "=",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "+",
        "-",
        "*",
        "/",
        "#",
        '"',
        "{",
        "}",
        "\n",
        "\\",
    ],
    "args",
    "args.a",
    "caller.groups",
    "session.tainted",
    "tool",
    "x",
    "db.query",
    "email.*",
    "/a+/i",
    "/(/",
    '"s"',
    '"{args.a}"',
    '"{"',
    "1",
    "1.5",
    "1e309",
    "len(",
    "has(",
    "rule r: on db.query",
    "when",
    "block",
    "\x00",
    "é",
]

source_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(FRAGMENTS), max_size=40).map(" ".join),
    st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join),
)


@SETTINGS
@given(source_text)
def test_the_parser_raises_only_its_own_error(text: str) -> None:
    try:
        module = parse_text(text, "fuzz.tw")
    except ParseError as exc:
        assert exc.diagnostics
        for diagnostic in exc.diagnostics:
            assert diagnostic.line >= 1 and diagnostic.col >= 1
            assert diagnostic.render().startswith("fuzz.tw:")
    else:
        assert module.file == "fuzz.tw"


def test_deep_nesting_is_handled() -> None:
    for text in ("let x = " + "(" * 5000 + "1" + ")" * 5000, "let x = " + "-" * 20000 + "1"):
        with pytest.raises(ParseError, match="expression nested too deeply") as info:
            parse_text(text, "deep.tw")
        assert len(info.value.diagnostics[0].source_line) < 200  # an excerpt, not the line


def test_deep_but_parseable_nesting_is_a_policy_error_not_a_crash() -> None:
    text = "rule r: on t.run when " + "not " * 600 + "true block"
    try:
        policy = compile_sources([("deep.tw", text)], SCHEMAS)
    except PolicyError as exc:
        assert "nested too deeply" in str(exc)
    else:
        assert policy.rules_for("t.run") == ["r"]


SCHEMAS = SchemaRegistry.from_dict(
    {
        "t.run": {
            "type": "object",
            "properties": {
                "n": {"type": "integer"},
                "s": {"type": "string"},
                "items": {"type": "array", "items": {"type": "string"}},
            },
        }
    }
)
ANYONE = Caller(sub="p", tools=("*",), groups=("g",))

RULE_FILES = {
    "a.tw": """
        let big = 10
        rule cap: on t.run when has(args.n) and args.n > big rewrite args.n = big
        rule drop_s: on t.* when has(args.s) and len(args.s) > 3 rewrite drop args.s
    """,
    "b.tw": """
        rule neg: on t.run when has(args.n) and args.n < 0 block because "negative {args.n}"
        rule many: on t.run when has(args.items) and len(args.items) > 2 escalate
    """,
    "c.tw": """
        rule set_s: on t.run when has(args.n) and args.n > 5 rewrite args.s = "capped"
        rule x_items: on t.run when has(args.items) and any i in args.items: i startswith "x"
            block
    """,
}

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
run_args = st.fixed_dictionaries(
    {},
    optional={
        "n": st.integers(-20, 20),
        "s": st.text(max_size=6),
        "items": st.lists(st.sampled_from(["a", "xa", "b", "x"]), max_size=4),
    },
)


def _decide(order: list[str], args: dict[str, Any]) -> tuple[Any, ...]:
    policy = compile_sources([(name, RULE_FILES[name]) for name in order], SCHEMAS)
    d = Firewall(schemas=SCHEMAS, rules=policy).decide(
        ToolCall(tool="t.run", args=args), caller=ANYONE
    )
    return (d.action, d.args, [str(r) for r in d.reasons], d.rules)


@SETTINGS
@given(st.permutations(sorted(RULE_FILES)), run_args)
def test_decisions_do_not_depend_on_the_order_files_are_loaded(
    order: list[str], args: dict[str, Any]
) -> None:
    assert _decide(order, args) == _decide(sorted(RULE_FILES), args)


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


# Expressions built from the grammar's pieces, well-formed or not, so that generated policies
# reach the checker and the compiler rather than stopping at the first token.
atoms = st.sampled_from(
    [
        "args.n",
        "args.s",
        "args.items",
        "args.items[0]",
        'args["odd-key"]',
        "args.nope",
        "args.n.deeper",
        "caller.groups",
        "caller.claims.x",
        "caller.nope",
        "session.tainted",
        "session.calls",
        "tool",
        "big",
        "unknown",
        '"text"',
        "3",
        "-2.5",
        "true",
        "null",
        '[1, "a"]',
        "/a+/i",
        "/(/",
        "/a/x",
        'count("t.*")',
        'called("zzz")',
        "len(args.s)",
        "has(args.n)",
        "has(1)",
        "path(args.s)",
        "host(3)",
        'replace(args.s, /a/, "b")',
        'replace(args.s, "a", "b")',
        "lower()",
        "nosuch(1)",
    ]
)
operators = st.sampled_from(
    [
        "and",
        "or",
        "==",
        "!=",
        "<",
        ">=",
        "in",
        "not in",
        "matches",
        "contains",
        "under",
        "+",
        "*",
        "/",
    ]
)


def _combine(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, operators, inner).map(" ".join),
        inner.map(lambda e: f"not ({e})"),
        inner.map(lambda e: f"any v in args.items: {e}"),
        inner.map(lambda e: f"all v in {e}: v == 1"),
    )


expressions = st.recursive(atoms, _combine, max_leaves=6)
actions = st.one_of(
    st.sampled_from(["block", "escalate", "rewrite drop args.s", "rewrite drop args.n.x"]),
    expressions.map(lambda e: f"rewrite args.n = {e}"),
)
rule_texts = st.tuples(
    st.sampled_from(["t.run", "t.*", "nope", "t.run, t.*"]),
    expressions,
    st.one_of(st.just(""), expressions.map(lambda e: f"unless {e}")),
    actions,
    st.sampled_from(["", 'because "x {args.n} {len(args.s)}"', 'because "{nosuch}"']),
).map(lambda p: f"let big = 10\nrule r: on {p[0]} when {p[1]} {p[2]} {p[3]} {p[4]}")


@SETTINGS
@given(rule_texts, run_args)
def test_loading_raises_only_policy_errors_and_decisions_never_raise(
    text: str, args: dict[str, Any]
) -> None:
    try:
        policy = compile_sources([("gen.tw", text)], SCHEMAS)
    except PolicyError as exc:
        assert exc.diagnostics
        return
    verdict = policy.evaluate("t.run", args, ANYONE, SessionState())
    assert verdict.action in tuple(Action)
    for entry in verdict.trace:
        if entry.outcome == "error":
            assert entry.action in (Action.BLOCK, Action.ESCALATE)

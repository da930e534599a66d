"""Rule files to a compiled policy (`load`): files and folders, order independence, encodings,
and only `PolicyError` whatever the text."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.policy.conftest import query
from toolwall import Action, Caller, Firewall, ToolCall
from toolwall.errors import PolicyError
from toolwall.policy import compile_sources, compile_text, load_policy
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state.memory import SessionState


def test_load_policy_reads_files_and_folders(tmp_path: Path, schemas: SchemaRegistry) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.tw").write_text("rule b: on db.query block", encoding="utf-8")
    (tmp_path / "a.tw").write_text("rule a: on db.query block", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not rules", encoding="utf-8")
    policy = load_policy([tmp_path], schemas)
    assert policy.rules_for("db.query") == ["a", "b"]
    same = load_policy([tmp_path / "sub" / "b.tw", tmp_path / "a.tw"], schemas)
    assert same.rules_for("db.query") == ["a", "b"]


def test_rule_files_with_a_byte_order_mark_and_crlf_load(
    tmp_path: Path, schemas: SchemaRegistry
) -> None:
    file = tmp_path / "win.tw"
    file.write_bytes(b"\xef\xbb\xbfrule r:\r\n    on db.query\r\n    block # done\r\n")
    assert load_policy([file], schemas).rules_for("db.query") == ["r"]


def test_loading_pauses_the_garbage_collector_and_restores_it(schemas: SchemaRegistry) -> None:

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


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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


def test_deep_but_parseable_nesting_is_a_policy_error_not_a_crash() -> None:
    text = "rule r: on t.run when " + "not " * 600 + "true block"
    try:
        policy = compile_sources([("deep.tw", text)], SCHEMAS)
    except PolicyError as exc:
        assert "nested too deeply" in str(exc)
    else:
        assert policy.rules_for("t.run") == ["r"]


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

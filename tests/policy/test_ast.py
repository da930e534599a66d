"""The syntax tree's walks: free references, calls, and references as written."""

from __future__ import annotations

from toolwall.policy import ast, parse_text


def _when(text: str) -> ast.Expr:
    rule = parse_text(f"rule r: on t when {text} block").statements[0]
    assert isinstance(rule, ast.Rule) and rule.when is not None
    return rule.when


def test_free_refs_leave_out_quantifier_variables_but_not_their_collections() -> None:
    expr = _when("any v in args.items[n]: v == company and all w in v: w == x")
    assert [r.dotted() for r in ast.free_refs(expr)] == ["args.items[...]", "n", "company", "x"]
    assert [r.root for r in ast.free_refs(expr, frozenset({"company", "n"}))] == ["args", "x"]


def test_calls_in_finds_calls_inside_calls_lists_and_indexes() -> None:
    expr = _when('len([host(args.u)]) > 0 or args.l[count("a")] == lower(upper("x"))')
    assert [c.func for c in ast.calls_in(expr)] == ["len", "host", "count", "lower", "upper"]


def test_dotted_upto_names_the_reference_as_written() -> None:
    expr = _when('args.a["odd-key"][0].b == 1')
    assert isinstance(expr, ast.Compare) and isinstance(expr.left, ast.Ref)
    ref = expr.left
    assert ref.dotted() == 'args.a["odd-key"][0].b'
    assert [ref.dotted_upto(i) for i in range(4)] == [
        "args",
        "args.a",
        'args.a["odd-key"]',
        'args.a["odd-key"][0]',
    ]

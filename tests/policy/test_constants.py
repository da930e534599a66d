"""`let` values folded at load time (`constants.fold`): the same values and the same errors as
the compiled closures give for the same expression inside a rule."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolwall import Caller
from toolwall.errors import PolicyError
from toolwall.policy import ast, compile_text, parse_text
from toolwall.policy.builtins.regexes import compile_regex
from toolwall.policy.compiler import Scope, compile_expr
from toolwall.policy.constants import constant_regex, fold
from toolwall.policy.env import Env
from toolwall.policy.errors import RuleEvalError
from toolwall.state.memory import SessionState

LETS: dict[str, Any] = {
    "company": ["acme.test", "acme-corp.test"],
    "n": 3,
    "workspace": "/srv/workspace",
    "secret": compile_regex("(token|key)=\\w+", "i"),
    "nested": {"a": [1, {"b": "x"}]},
}


def expression(text: str) -> ast.Expr:
    statement = parse_text(f"let x = {text}", "c.tw").statements[0]
    assert isinstance(statement, ast.Let)
    return statement.value


def folded(expr: ast.Expr) -> tuple[str, Any]:
    try:
        return "value", fold(expr, LETS)
    except RuleEvalError as exc:
        return "error", exc.message


def compiled(expr: ast.Expr) -> tuple[str, Any]:
    scope = Scope(dict(LETS))
    function = compile_expr(expr, scope)
    env = Env({}, Caller(), SessionState(), "", scope.max_depth)
    try:
        return "value", function(env)
    except RuleEvalError as exc:
        return "error", exc.message


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"a" + "b"', "ab"),
        ("[1, n, -n * 2]", [1, 3, -6]),
        ("n / 2 > 1 and not (n == 3.0 and false)", True),
        ('any d in company: d endswith "corp.test"', True),
        ('all d in company: domain("x@" + d) == d', True),
        ("nested.a[1].b", "x"),
        ('len(company) + len("abc")', 5),
        ('lower(upper("Ab"))', "ab"),
        ('replace("token=1 x", secret, "***")', "*** x"),
        ('"KEY=abc" matches secret', True),
        ('path(workspace + "/../etc") under workspace', False),
        ('host("http://0x7f.1/") == "127.0.0.1" and is_private("10.0.0.1")', True),
        ('scheme("HTTPS://acme.test") in ["http", "https"]', True),
        ("/a+/i", compile_regex("a+", "i")),
    ],
)
def test_fold(text: str, value: Any) -> None:
    assert folded(expression(text)) == ("value", value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('n + "a"', "`+` cannot combine an integer and a string"),
        ("company[5]", "missing field company[5]"),
        ("n.x", "n is an integer, not an object"),
        ("nested.a[1].b.c", "nested.a[1].b is a string, not an object"),
        ('host("not a url")', "host(): host 'not a url' contains a character"),
        ("any d in n: true", "`any d in ...` needs a list, not an integer"),
        ("n / 0", "division by zero"),
        ("not n", "`not` needs true or false, not an integer"),
    ],
)
def test_fold_refuses_with_the_message_a_rule_would_give(text: str, message: str) -> None:
    kind, said = folded(expression(text))
    assert kind == "error" and said.startswith(message), said
    assert compiled(expression(text)) == (kind, said)


def test_a_let_that_cannot_be_computed_is_a_load_error_naming_it() -> None:
    with pytest.raises(PolicyError, match=r"`let h` cannot be computed: host\(\): "):
        compile_text('let h = host("no host here")')


def test_quantifier_variables_shadow_and_are_restored() -> None:
    expr = expression("any n in [1, 2]: n == 2 and all n in [5]: n == 5")
    assert folded(expr) == ("value", True)
    assert folded(expression("n")) == ("value", 3)


def test_constant_regex_is_a_literal_or_a_let_bound_to_one() -> None:
    assert constant_regex(expression("/a/i"), LETS) == compile_regex("a", "i")
    assert constant_regex(expression("secret"), LETS) is LETS["secret"]
    assert constant_regex(expression("workspace"), LETS) is None
    assert constant_regex(expression('"a"'), LETS) is None


# Constant expressions from the language's pieces, well-typed or not: folding and the compiled
# closures must agree on each (the same value, or a rule error with the same message).
ATOMS = [
    '"a"',
    '"/srv/workspace/x"',
    '"x@Acme.Test"',
    '"http://[::1]:80/"',
    "3",
    "-2.5",
    "0",
    "true",
    "null",
    '[1, "a"]',
    "[]",
    "company",
    "company[0]",
    "company[9]",
    "n",
    "workspace",
    "nested",
    "nested.a",
    "secret",
    "len(company)",
    "len(n)",
    'lower("aB")',
    "lower(n)",
    'domain("a@b@Evil.Test.")',
    "domain(workspace)",
    "host(workspace)",
    'host("http://good.test\\\\@evil.test/")',
    "path(workspace)",
    "scheme(workspace)",
    'is_private("169.254.169.254")',
    'replace(workspace, /s/, "\\\\0\\\\0")',
    'replace(workspace, secret, "\\\\9")',
]
BINARY = ["and", "or", "==", "!=", "<", ">=", "in", "not in", "contains", "startswith"]
BINARY += ["endswith", "under", "+", "-", "*", "/"]


def _expressions(variable: bool) -> st.SearchStrategy[str]:
    atoms = st.sampled_from([*ATOMS, *(["v", "v[0]"] if variable else [])])

    def combine(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(BINARY), inner).map(lambda p: f"({' '.join(p)})"),
            inner.map(lambda e: f"(not {e})"),
            inner.map(lambda e: f"(-{e})"),
            inner.map(lambda e: f"({e} matches secret)"),
            inner.map(lambda e: f"[{e}]"),
        )

    return st.recursive(atoms, combine, max_leaves=5)


quantified = st.tuples(
    st.sampled_from(["any", "all"]), _expressions(False), _expressions(True)
).map(lambda p: f"{p[0]} v in {p[1]}: {p[2]}")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_expressions(False), quantified))
def test_folding_agrees_with_the_compiled_closures(text: str) -> None:
    expr = expression(text)
    assert folded(expr) == compiled(expr), text

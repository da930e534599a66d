"""Load-time checks of statements: one namespace across files, assertions checked like rules,
`let` values folded as constants."""

from __future__ import annotations

import pytest

from toolwall.errors import PolicyError
from toolwall.policy import check_sources, compile_sources, compile_text
from toolwall.schemas.registry import SchemaRegistry


def test_duplicate_names_across_files_are_an_error(schemas: SchemaRegistry) -> None:
    with pytest.raises(PolicyError) as info:
        compile_sources([("a.tw", "let x = 1"), ("b.tw", "rule x: on db.query block")], schemas)
    assert "b.tw:1:6: error: duplicate name `x`: already defined at a.tw:1:5" in str(info.value)


def test_assertions_are_checked_like_rules(schemas: SchemaRegistry) -> None:
    with pytest.raises(PolicyError) as info:
        compile_text("assert never allow fs.read when args.pth == 1", schemas, "p.tw")
    assert "p.tw:1:33: error: args.pth is not in the schema of fs.read" in str(info.value)
    with pytest.raises(PolicyError) as info:
        compile_text("assert never allow, allow fs.read when true", schemas, "p.tw")
    assert "action `allow` is listed twice" in str(info.value)


def _messages(text: str, schemas: SchemaRegistry) -> list[str]:
    diagnostics, _, _ = check_sources([("p.tw", text)], schemas)
    return [f"{d.line}:{d.col}: {d.severity}: {d.message}" for d in diagnostics]


def test_let_values_are_folded_in_dependency_order(schemas: SchemaRegistry) -> None:
    text = (
        'let b = a + ["z"]\nlet a = [lower("X"), domain("m@Acme.Test")]\nrule r: on db.query block'
    )
    diagnostics, _, lets = check_sources([("p.tw", text)], schemas)
    assert diagnostics == []
    assert lets == {"a": ["x", "acme.test"], "b": ["x", "acme.test", "z"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("let a = b\nlet b = a", "1:5: error: `let a` refers to itself (through other lets)"),
        ("let a = args.x", "1:9: error: a `let` value must be a constant; `args` differs"),
        ('let a = count("db.*")', "1:9: error: count() cannot be used in a `let` value"),
        ("let a = has(x)", "1:9: error: has() cannot be used in a `let` value"),
        ('let a = host("a b")', "1:9: error: `let a` cannot be computed: host(): host 'a b'"),
        ("let a = nope", "1:9: error: unknown name `nope`"),
        ("let a = 1\nlet b = a + true", "2:11: error: `+` cannot combine a number and a boolean"),
    ],
)
def test_let_values_must_be_constants_that_compute(
    text: str, message: str, schemas: SchemaRegistry
) -> None:
    assert any(m.startswith(message) for m in _messages(text, schemas)), _messages(text, schemas)


def test_calls_are_checked_against_the_registry(schemas: SchemaRegistry) -> None:
    found = _messages(
        'let words = /a/\nlet word = "a"\n'
        "rule r: on db.query when lenn(args.sql) > 1 or len(args.sql, 2) > 1 or len(args.limit) > 1"
        ' or count("nothing.*") > 0 or called(1) or has(1) or replace(args.sql, word, "")'
        ' == replace(args.sql, words, "") block',
        schemas,
    )
    assert found == [
        "3:26: error: unknown function `lenn()`; did you mean `len`? (known: called, "
        "caller_count_within, count, count_within, domain, has, host, is_private, len, lower, "
        "path, replace, scheme, upper)",
        "3:48: error: len() takes 1 argument, 2 given",
        "3:76: error: len() needs a string or list or object, but this is a number",
        '3:101: warning: "nothing.*" matches no known tool, so count() is always 0',
        "3:128: error: called() needs a string, but this is a number",
        "3:138: error: has() takes a field reference such as has(args.cc) or "
        "has(caller.claims.team)",
        "3:162: error: replace() needs a regex, and `word` is not one",
    ]

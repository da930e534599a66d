"""`FastContextualLexer` against Lark's own contextual lexer: the same tokens, everywhere.

The parser lexes with the fast lexer and falls back to Lark's on any error, so the one thing
that could go wrong is the fast lexer accepting a text with tokens Lark would not produce. These
tests parse every rule file in the repository, a generated policy and fuzzed text both ways and
require the same outcome: the same tree with every token at the same place, or both failing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from lark import Lark, Token, Tree
from lark.exceptions import ConfigurationError

from benchmarks.generated import write_policy
from tests.policy.strategies import source_text
from toolwall.policy import fastpath
from toolwall.policy.fastpath import fast_path
from toolwall.policy.grammar import build_parser, reference_parser
from toolwall.policy.lexer import FastContextualLexer
from toolwall.policy.parser import parse_text

ROOT = Path(__file__).resolve().parents[2]
RULE_FILES = sorted(
    p for p in ROOT.rglob("*.tw") if not any(part.startswith(".") for part in p.parts)
)


def fast_parser() -> Lark:
    parser = fast_path().parser
    assert parser is not None and fast_path().fast_lexer
    return parser


def outcome(parser: Lark, text: str, start: str = "start") -> Any:
    """The tree with every token's type, text and position, or the kind of failure."""
    try:
        return fastpath.outcome(parser, text, start)
    except RecursionError:
        return "too deep"


def same_outcome(text: str, start: str = "start") -> None:
    assert outcome(fast_parser(), text, start) == outcome(reference_parser(), text, start)


def test_every_rule_file_in_the_repository_lexes_the_same() -> None:
    assert len(RULE_FILES) > 50  # the demo, the examples and the golden broken files
    for path in RULE_FILES:
        same_outcome(path.read_text("utf-8"))


def test_a_generated_policy_lexes_the_same(tmp_path: Path) -> None:
    for path in write_policy(tmp_path, rules=500, tools=50, files=2):
        same_outcome(path.read_text("utf-8"))


def test_regex_literal_and_division_are_told_apart_by_the_parser_state() -> None:
    text = 'rule r: on t.x when args.a / 2 > 1 and args.s matches /a\\/b/i block because "x"'
    same_outcome(text)
    tree = fast_parser().parse(text, start="start")
    kinds = [t.type for t in tree.scan_values(lambda v: isinstance(v, Token))]
    assert "REGEX" in kinds and "SLASH" in kinds


def test_lines_and_columns_count_across_comments_and_blank_lines() -> None:
    text = '# head\n\n  rule r:   # note\n\ton\n   t.x\n block because "é ü"\n'
    same_outcome(text)
    tree = fast_parser().parse(text, start="start")
    pattern = next(tree.scan_values(lambda v: isinstance(v, Token) and v.type == "PATTERN"))
    assert (pattern.line, pattern.column, pattern.end_column) == (5, 4, 7)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source_text)
def test_any_text_lexes_the_same(text: str) -> None:
    same_outcome(text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source_text)
def test_any_interpolated_expression_lexes_the_same(text: str) -> None:
    same_outcome(text, start="expr")


def test_a_syntax_error_is_reported_by_the_reference_lexer() -> None:
    """The fast lexer has no diagnostics: the error users see is Lark's, with its hints."""
    from toolwall.policy.errors import ParseError

    with pytest.raises(ParseError) as info:
        parse_text("rule r: on t.x when args.a == @ block", "bad.tw")
    [diagnostic] = info.value.diagnostics
    assert (diagnostic.line, diagnostic.col) == (1, 31)
    assert "@" in diagnostic.message


def test_grammars_whose_lexing_it_does_not_reproduce_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="flags"):
        Lark('start: "a"i', parser="lalr", lexer=FastContextualLexer)
    with pytest.raises(ConfigurationError, match="callbacks"):
        Lark(
            "start: A\nA: /a/",
            parser="lalr",
            lexer=FastContextualLexer,
            lexer_callbacks={"A": lambda t: t},
        )


def test_both_parsers_are_built_from_the_same_grammar() -> None:
    fresh = build_parser("contextual")
    assert {t.name for t in fresh.terminals} == {t.name for t in fast_parser().terminals}
    assert isinstance(fast_parser().parse("let x = 1", start="start"), Tree)


KEYWORD_GRAMMAR = r"""
start: stmt*
stmt: "if" NAME "then" NAME ";"
    | NAME "=" NUMBER ";"
NAME: /[a-z]+/
NUMBER: /[0-9]+/
%ignore /\s+/
"""


@pytest.mark.parametrize(
    "text",
    ["if a then b;", "x = 1; if iffy then thenx;", "if = 1;", "then = 2;", "iff then b;", ""],
)
def test_keywords_a_regex_also_matches_are_lexed_as_lark_does(text: str) -> None:
    """Lark lexes `if` with NAME's regex and re-types it (our grammar's NAME excludes keywords
    itself, so this rule is exercised on a grammar of its own)."""
    kw: dict[str, Any] = {"parser": "lalr", "maybe_placeholders": False}
    fast = Lark(KEYWORD_GRAMMAR, lexer=FastContextualLexer, **kw)
    reference = Lark(KEYWORD_GRAMMAR, lexer="contextual", **kw)
    assert outcome(fast, text) == outcome(reference, text)

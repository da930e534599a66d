"""The parser's two tricks on Lark's internals: each is proven when it is set up, a trick that
fails its self-test is switched off (never on), and switching either off by hand changes no
parse, no diagnostic and no decision."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from lark import Lark, Token
from lark.exceptions import ConfigurationError
from lark.lexer import LexerState

from tests.policy.golden_tool import render
from toolwall import Caller, Firewall, ToolCall
from toolwall.policy import ParseError, fastpath, load_policy, parse_text
from toolwall.policy.fastpath import configure, fast_path, outcome, share_rule_names
from toolwall.policy.grammar import build_parser, reference_parser
from toolwall.policy.lexer import FastContextualLexer
from toolwall.schemas.registry import SchemaRegistry

ROOT = Path(__file__).resolve().parents[2]
RULE_FILES = sorted(
    p for p in ROOT.rglob("*.tw") if not any(part.startswith(".") for part in p.parts)
)
GOLDEN = sorted(p.stem for p in (ROOT / "tests" / "policy" / "golden").glob("*.tw"))
SCHEMAS = SchemaRegistry.load(ROOT / "schemas")
ALICE = Caller(sub="alice", tools=("*",), groups=("eng",), authenticated=True)
CALLS = [
    ("shell.run", {"command": "rm -rf /"}),
    ("fs.read", {"path": "/srv/workspace/q3.txt"}),
    ("fs.read", {"path": "/srv/workspace/../../etc/passwd"}),
    ("email.send", {"to": ["bob@acme.test", "eve@evil.test"], "subject": "s", "body": "b"}),
    ("email.send", {"to": ["bob@acme.test"], "subject": "s", "body": "b"}),
    ("db.query", {"sql": "select 1", "limit": 500, "debug": True}),
    ("rag.search", {"collection": "hr", "query": "pay"}),
    ("web.fetch", {"url": "http://169.254.169.254/latest/meta-data"}),
    ("web.fetch", {"url": "https://docs.acme.test/"}),
    ("bank.transfer", {"iban": "DE89370400440532013000", "amount": 10}),
]


@pytest.fixture(autouse=True)
def both_tricks_back_on() -> Iterator[None]:
    yield
    configure(fast_lexer=True, shared_rule_names=True)


def parse_results() -> list[Any]:
    """Every rule file of the repository parsed (the AST, or the rendered diagnostics), and
    every golden file checked (its rendered diagnostics)."""
    results: list[Any] = []
    for path in RULE_FILES:
        try:
            results.append(parse_text(path.read_text("utf-8"), path.name))
        except ParseError as exc:
            results.append([d.render() for d in exc.diagnostics])
    results.extend(render(name, SCHEMAS) for name in GOLDEN)
    return results


def decisions() -> list[Any]:
    firewall = Firewall(schemas=SCHEMAS, rules=load_policy([ROOT / "rules"], SCHEMAS))
    out = []
    for tool, args in CALLS:
        d = firewall.decide(ToolCall(tool=tool, args=args), caller=ALICE, session="s")
        out.append((d.action, d.args, [str(r) for r in d.reasons], d.rules))
    return out


@cache
def with_both_tricks() -> tuple[list[Any], list[Any]]:
    configure(fast_lexer=True, shared_rule_names=True)
    assert fast_path().fast_lexer and fast_path().shared_rule_names
    return parse_results(), decisions()


def test_both_tricks_pass_their_self_tests_on_this_lark() -> None:
    path = fast_path()
    assert path.fast_lexer and path.shared_rule_names
    assert path.parser is not None and path.parser is not reference_parser()
    assert path.parser.options.lexer is FastContextualLexer


@pytest.mark.parametrize(
    ("fast_lexer", "shared_rule_names"), [(False, True), (True, False), (False, False)]
)
def test_switching_a_trick_off_changes_no_parse_diagnostic_or_decision(
    fast_lexer: bool, shared_rule_names: bool
) -> None:
    assert len(RULE_FILES) > 50 and len(GOLDEN) >= 30
    parsed, decided = with_both_tricks()
    configure(fast_lexer=fast_lexer, shared_rule_names=shared_rule_names)
    path = fast_path()
    assert (path.fast_lexer, path.shared_rule_names) == (fast_lexer, shared_rule_names)
    if not (fast_lexer or shared_rule_names):
        assert path.parser is None  # the reference parser alone
    assert parse_results() == parsed
    assert decisions() == decided


def test_configure_leaves_a_switch_it_is_not_given() -> None:
    configure(fast_lexer=False)
    configure(shared_rule_names=False)
    assert (fastpath.FAST_LEXER, fastpath.SHARED_RULE_NAMES) == (False, False)
    configure(fast_lexer=True)
    assert (fast_path().fast_lexer, fast_path().shared_rule_names) == (True, False)


def set_up_again(caplog: pytest.LogCaptureFixture) -> fastpath.FastPath:
    """The fast path set up afresh (self-tests included), its warnings captured."""
    with caplog.at_level(logging.WARNING, "toolwall.policy.fastpath"):
        configure()
        return fast_path()


class _ShiftedColumns(FastContextualLexer):
    """A fast lexer gone wrong: every token one column to the right."""

    def lex(self, lexer_state: LexerState, parser_state: Any) -> Iterator[Token]:
        for token in super().lex(lexer_state, parser_state):
            yield _shifted(token)


def _shifted(token: Token) -> Token:
    moved = Token.new_borrow_pos(token.type, token.value, token)
    moved.column = (token.column or 0) + 1
    return moved


def test_a_fast_lexer_that_lexes_differently_is_switched_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(fastpath, "FastContextualLexer", _ShiftedColumns)
    path = set_up_again(caplog)
    assert not path.fast_lexer and path.shared_rule_names
    assert "lexes differently" in caplog.text
    assert path.parser is not None and path.parser.options.lexer == "contextual"
    text = (ROOT / "rules" / "assistant.tw").read_text("utf-8")
    assert outcome(path.parser, text) == outcome(reference_parser(), text)


def test_a_fast_lexer_lark_does_not_call_is_switched_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def contextual_whatever_asked(lexer: object) -> Lark:
        return build_parser("contextual")

    monkeypatch.setattr(fastpath, "build_parser", contextual_whatever_asked)
    path = set_up_again(caplog)
    assert not path.fast_lexer
    assert "did not use the fast lexer" in caplog.text


def test_a_fast_lexer_lark_refuses_is_switched_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refusing(lexer: object) -> Lark:
        if lexer is FastContextualLexer:
            raise ConfigurationError("custom lexers are gone")
        return build_parser(lexer)  # type: ignore[arg-type]

    monkeypatch.setattr(fastpath, "build_parser", refusing)
    path = set_up_again(caplog)
    assert not path.fast_lexer and path.shared_rule_names
    assert "cannot be set up (custom lexers are gone)" in caplog.text


def test_a_table_lark_keeps_elsewhere_is_left_alone_and_the_trick_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Elsewhere:
        parser = None  # no `.parser.parser.parser.parse_table`

    assert share_rule_names(Elsewhere()) is False  # type: ignore[arg-type]
    monkeypatch.setattr(fastpath, "share_rule_names", lambda parser: False)
    configure()
    path = fast_path()
    assert path.fast_lexer and not path.shared_rule_names
    assert path.parser is not None


def test_a_swap_that_changes_a_parse_is_switched_off_on_a_fresh_table(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    corrupted: list[Lark] = []

    def corrupting(parser: Lark) -> bool:
        # Claims success but drops what a state does on seeing `block`.
        for actions in parser.parser.parser.parser.parse_table.states.values():
            actions.pop("BLOCK", None)
        corrupted.append(parser)
        return True

    monkeypatch.setattr(fastpath, "share_rule_names", corrupting)
    path = set_up_again(caplog)
    assert path.fast_lexer and not path.shared_rule_names
    assert "shared rule names failed their self-test" in caplog.text
    assert corrupted and path.parser is not corrupted[0]
    assert parse_text("rule r: on t block").statements[0].action == "block"  # type: ignore[union-attr]


def test_sharing_rule_names_makes_keys_identical_and_keeps_the_table() -> None:
    parser = build_parser("contextual")
    lalr = parser.parser.parser.parser
    names = {r.origin.name: r.origin.name for r in lalr.callbacks}
    before = {state: dict(actions) for state, actions in lalr.parse_table.states.items()}
    keys = [k for actions in before.values() for k in actions if k in names]
    assert keys and not all(k is names[k] for k in keys)  # equal, not identical: the point
    assert share_rule_names(parser)
    after = lalr.parse_table.states
    assert after == before
    assert all(k is names[k] for actions in after.values() for k in actions if k in names)


def test_the_self_test_corpus_reaches_every_terminal() -> None:
    """A token kind the corpus never produces would be a kind the self-test never checks."""
    seen: set[str] = set()

    def record(token: Token) -> Token:
        seen.add(token.type)
        return token

    names = [t.name for t in reference_parser().terminals]
    recording = Lark(
        (ROOT / "toolwall" / "policy" / "grammar.lark").read_text("utf-8"),
        parser="lalr",
        lexer="contextual",
        start=["start", "expr"],
        lexer_callbacks=dict.fromkeys(names, record),
    )
    outcomes = []
    for start, text in fastpath.SELF_TEST_CORPUS:
        outcomes.append(outcome(recording, text, start))
    assert set(names) <= seen
    assert "syntax error" in outcomes and any(o != "syntax error" for o in outcomes)

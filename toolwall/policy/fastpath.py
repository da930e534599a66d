"""The parser's fast path: two tricks on Lark's internals, each proven when it is set up and
each with an off switch. Together they take about a fifth off parsing a large policy.

1. The fast lexer (`FAST_LEXER`): `toolwall.policy.lexer.FastContextualLexer`, a Lark custom
   lexer that makes the choices of Lark's contextual lexer with less work per token.
2. Shared rule names (`SHARED_RULE_NAMES`): after each reduction Lark's LALR loop looks up
   `states[state][rule.origin.name]`; the table holds an equal but distinct `Token` for each
   name, so each lookup ends in `Token.__eq__`, a Python call. `share_rule_names` swaps those
   keys for the rules' own (equal) name objects, so the dict matches by identity.

`fast_path()` sets the tricks up once per process (or after `configure`) and tests each: the
fast lexer must have lexed the texts of `SELF_TEST_CORPUS` itself; the swapped keys must be the
rules' own objects; and parsing the corpus must give exactly what the reference parser gives
(trees, and every token's type, text and position; a text the reference refuses must be refused).
A trick that did not take effect, or that changes anything, is switched off and logged as a
warning: a failing self-test only ever turns the fast path off, and with both tricks off the
reference parser is the only parser. `configure(fast_lexer=False)` (or setting the switch and
calling `configure()`) turns a trick off by hand; `fast_path()` says which are in effect.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from lark import Lark, Token
from lark.exceptions import UnexpectedInput

from toolwall.policy.grammar import build_parser, reference_parser
from toolwall.policy.lexer import FastContextualLexer

# The switches; `configure` applies a change. Off means the reference's way is used.
FAST_LEXER = True
SHARED_RULE_NAMES = True

log = logging.getLogger(__name__)

# Texts in which every terminal of the grammar occurs (a test holds it to that): comments and
# blank lines, CRLF, every keyword and operator, a regex beside a division, escapes, numbers of
# every form, globs, interpolation, an assertion; an expression alone; texts both must refuse.
SELF_TEST_CORPUS: Final[tuple[tuple[str, str], ...]] = (
    (
        "start",
        "# the self-test of the fast path\r\n"
        'let company = ["acme.test", "acme-corp.test"]\n'
        "let limit = 1.5e3\n\n"
        "taint web.fetch, email.*   # untrusted\n"
        "rule r1:\n"
        "    on fs.read, db.*\n"
        '    when args.a / 2 > 1 and args["odd-key"] matches /a\\/b\\s+/i or not (-args.n <= 3)\n'
        '    unless path(args.path) under "/srv" and any x in args.items: x startswith "a"\n'
        '    rewrite args.n = 100, drop args.debug, args.items[0] = "é ü\\"\\t"\n'
        '    because "{args.n} rows {{max}} for {caller.sub}"\n'
        'rule r2: on t.x when all g in caller.groups: g != null and g endswith "x" '
        'or 0.25 * 4 >= count("a.*") - 1 or session.tainted == true or caller.claims.k in '
        'company or args.s contains "q" or tool == "t.x" or false escalate\n'
        "rule r3: on *.run when args.n < 10 and args.m > 2E-3 block\n"
        'assert never allow, rewrite fs.read when not (path(args.path) under "/srv")\n',
    ),
    ("expr", 'replace(args.s, /(a)b/, "\\\\1") + lower("X") == has(args.z)'),
    ("start", "rule r: on t when args.a == @ block"),
    ("start", "rule r: on t when args.a = 1 block"),
    ("expr", "args.a /"),
)


@dataclass(frozen=True)
class FastPath:
    """The parser to try first (None: the reference alone) and the tricks it uses."""

    parser: Lark | None
    fast_lexer: bool
    shared_rule_names: bool


def configure(*, fast_lexer: bool | None = None, shared_rule_names: bool | None = None) -> None:
    """Switch tricks on or off (None: leave as is). The parser is set up again, with its
    self-tests, on the next parse."""
    global FAST_LEXER, SHARED_RULE_NAMES
    if fast_lexer is not None:
        FAST_LEXER = fast_lexer
    if shared_rule_names is not None:
        SHARED_RULE_NAMES = shared_rule_names
    fast_path.cache_clear()


@cache
def fast_path() -> FastPath:
    """The fast parser with the tricks that are switched on and pass their self-tests."""
    reference = reference_parser()
    parser = _with_fast_lexer(reference) if FAST_LEXER else None
    fast_lexer = parser is not None
    if not SHARED_RULE_NAMES:
        return FastPath(parser, fast_lexer, False)
    if parser is None:
        parser = build_parser("contextual")
    if share_rule_names(parser) and behaves_like(parser, reference):
        return FastPath(parser, fast_lexer, True)
    log.warning("toolwall.policy: shared rule names failed their self-test; switched off")
    if not fast_lexer:
        return FastPath(None, False, False)
    # The table may have been changed before the test failed: start again from a fresh one.
    return FastPath(build_parser(FastContextualLexer), True, False)


def _with_fast_lexer(reference: Lark) -> Lark | None:
    """A parser with `FastContextualLexer`, if it lexes the corpus itself and as the reference
    does; None (and a warning) otherwise."""
    try:
        parser = build_parser(FastContextualLexer)
    except Exception as exc:  # a Lark that no longer takes this custom lexer
        log.warning("toolwall.policy: the fast lexer cannot be set up (%s); switched off", exc)
        return None
    before = FastContextualLexer.texts_lexed
    if not behaves_like(parser, reference):
        log.warning("toolwall.policy: the fast lexer lexes differently from Lark; switched off")
        return None
    if FastContextualLexer.texts_lexed - before < len(SELF_TEST_CORPUS):
        log.warning("toolwall.policy: Lark did not use the fast lexer; switched off")
        return None
    return parser


def behaves_like(parser: Lark, reference: Lark) -> bool:
    """Whether `parser` gives on every corpus text exactly the outcome of `reference`."""
    try:
        return all(
            outcome(parser, text, start) == outcome(reference, text, start)
            for start, text in SELF_TEST_CORPUS
        )
    except Exception:  # a trick that breaks on this version of Lark: not the reference
        return False


def outcome(parser: Lark, text: str, start: str = "start") -> Any:
    """The tree with every token's type, text and position, or "syntax error"."""
    try:
        tree = parser.parse(text, start=start)
    except UnexpectedInput:
        return "syntax error"
    tokens = [
        (t.type, str(t), t.start_pos, t.end_pos, t.line, t.column, t.end_line, t.end_column)
        for t in tree.scan_values(lambda v: isinstance(v, Token))
    ]
    return tree, tokens


def share_rule_names(parser: Lark) -> bool:
    """Make the parse table's keys for grammar rules the very objects the rules carry.

    Equal keys are swapped for identical ones, so the table means exactly what it did. Returns
    whether every rule name in the table is now the rule's own object; where Lark keeps these
    elsewhere (another version), nothing is changed and the answer is False.
    """
    try:
        lalr = parser.parser.parser.parser
        table, rules = lalr.parse_table.states, lalr.callbacks
    except AttributeError:
        return False
    names = {rule.origin.name: rule.origin.name for rule in rules if hasattr(rule, "origin")}
    for actions in table.values():
        shared = {names.get(key, key): action for key, action in actions.items()}
        actions.clear()
        actions.update(shared)
    swapped = [key for actions in table.values() for key in actions if key in names]
    return bool(swapped) and all(key is names[key] for key in swapped)

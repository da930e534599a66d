"""`grammar.lark` as Lark parsers. The reference parser (Lark's own contextual lexer, Lark's
parse table as built) is the one whose errors users see; `fastpath` builds the faster one.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from lark import Lark
from lark.lexer import Lexer

# The grammar's start symbols: a whole file, and an expression inside a `because` string.
STARTS = ("start", "expr")


def build_parser(lexer: str | type[Lexer]) -> Lark:
    """A new LALR parser of the rule language with `lexer` (a Lark lexer name or class)."""
    grammar = resources.files("toolwall.policy").joinpath("grammar.lark").read_text("utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer=lexer,
        start=list(STARTS),
        # Positions come from the tokens (see `parser._Builder.loc`): Lark's
        # propagate_positions would triple the parse time of a large policy.
        propagate_positions=False,
        maybe_placeholders=False,
    )


@cache
def reference_parser() -> Lark:
    """The parser with Lark's own contextual lexer and parse table: its errors are the ones
    reported, and the fast path is tested against it."""
    return build_parser("contextual")

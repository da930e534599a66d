"""A faster lexer for the rule language that yields exactly the tokens of Lark's contextual lexer.

Lark's own lexer spends about 5 µs per token in Python: a blank and a token are two passes of its
scanner loop, a `LineCounter` object tracks lines, and `Token`'s constructor handles deprecated
spellings. A policy of 10,000 rules is about 170,000 tokens, so lexing was a third of loading it.

This lexer makes the same choices from the same definitions: per parser state, the terminals
that state accepts plus the ignored ones, in Lark's order (priority, longest possible match,
longest pattern text, name), one Python-`re` alternation, and Lark's rule that a keyword string a
regex terminal also matches is lexed as that keyword. Only the bookkeeping around the match is
leaner. It has no error reporting of its own: where it finds no token it raises, and the parser
(`toolwall.policy.parser`) parses the text again with Lark's lexer, whose diagnostics users see.
`toolwall.policy.fastpath` tests it against Lark's lexer whenever it sets the parser up (and
switches it off if it differs); `tests/policy/test_lexer.py` checks both lexers token for token
over every rule file we have and over generated text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

from lark import Token
from lark.common import LexerConf
from lark.exceptions import ConfigurationError, UnexpectedCharacters
from lark.lexer import Lexer, LexerState, PatternRE, PatternStr, TerminalDef


class _Scanner:
    """What one parser state can lex: a compiled alternation and the keyword re-typing."""

    __slots__ = ("keywords", "match")

    def __init__(self, terminals: list[TerminalDef], flags: int) -> None:
        # A keyword string that a regex terminal also matches whole is lexed by the regex and
        # re-typed (Lark's "unless" rule), so the two never compete in the alternation.
        self.keywords: dict[str, dict[str, str]] = {}
        embedded: set[str] = set()
        strings = [t for t in terminals if isinstance(t.pattern, PatternStr)]
        for regex in terminals:
            if not isinstance(regex.pattern, PatternRE):
                continue
            compiled = re.compile(regex.pattern.to_regexp(), flags)
            for string in strings:
                if string.priority != regex.priority:
                    continue
                value = string.pattern.value
                found = compiled.match(value)
                if found is not None and found.group(0) == value:
                    self.keywords.setdefault(regex.name, {})[value] = string.name
                    embedded.add(string.name)
        ordered = sorted(
            (t for t in terminals if t.name not in embedded),
            key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name),
        )
        alternation = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in ordered)
        self.match = re.compile(alternation, flags).match


class FastContextualLexer(Lexer):
    """Lark's contextual lexer, token for token, with less work per token.

    Pass the class as `Lark(..., parser="lalr", lexer=FastContextualLexer)`. Grammars with
    terminal flags, lexer callbacks or bytes input are refused: their lexing rules are not
    reproduced here.
    """

    __future_interface__ = 2  # lex(lexer_state, parser_state): the parser state picks terminals

    # Texts lexed by any instance: the self-test's proof that Lark really calls this lexer.
    texts_lexed: ClassVar[int] = 0

    def __init__(self, conf: LexerConf) -> None:
        if conf.callbacks or conf.use_bytes or conf.postlex is not None:
            raise ConfigurationError("FastContextualLexer: no lexer callbacks, bytes or postlex")
        if any(t.pattern.flags for t in conf.terminals):
            raise ConfigurationError("FastContextualLexer: terminal flags are not supported")
        self._terminals: Mapping[str, TerminalDef] = conf.terminals_by_name
        self._ignore = frozenset(conf.ignore)
        self._flags = conf.g_regex_flags
        self._by_state: dict[Any, _Scanner] = {}
        self._by_accepts: dict[frozenset[str], _Scanner] = {}

    def _scanner(self, state: Any, accepts: Iterable[str]) -> _Scanner:
        names = frozenset(name for name in accepts if name in self._terminals) | self._ignore
        scanner = self._by_accepts.get(names)
        if scanner is None:
            scanner = _Scanner([self._terminals[name] for name in names], self._flags)
            self._by_accepts[names] = scanner
        self._by_state[state] = scanner
        return scanner

    def lex(self, lexer_state: LexerState, parser_state: Any) -> Iterator[Token]:
        FastContextualLexer.texts_lexed += 1
        text: Any = lexer_state.text
        if isinstance(text, str):  # Lark 1.2 passes the text; 1.3 a slice of it
            pos, end = 0, len(text)
        else:
            text, pos, end = text.text, text.start, text.end
            if pos:
                raise ConfigurationError("FastContextualLexer lexes whole texts only")
        states = parser_state.parse_conf.states
        by_state = self._by_state
        ignore = self._ignore
        line, line_start = 1, 0
        while pos < end:
            state = parser_state.position
            scanner = by_state.get(state) or self._scanner(state, states[state])
            found = scanner.match(text, pos, end)
            if found is None:
                raise UnexpectedCharacters(text, pos, line, pos - line_start + 1)  # type: ignore[no-untyped-call]
            kind = found.lastgroup
            value = found.group()
            after = found.end()
            assert kind is not None  # every alternative is a named group
            if "\n" in value:
                end_line = line + value.count("\n")
                end_line_start = pos + value.rfind("\n") + 1
            else:
                end_line, end_line_start = line, line_start
            if kind not in ignore:
                retype = scanner.keywords.get(kind)
                if retype is not None:
                    kind = retype.get(value, kind)
                token = Token(
                    kind,
                    value,
                    pos,
                    line,
                    pos - line_start + 1,
                    end_line,
                    after - end_line_start + 1,
                    after,
                )
                lexer_state.last_token = token
                yield token
            pos, line, line_start = after, end_line, end_line_start

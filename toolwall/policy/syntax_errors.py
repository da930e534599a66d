"""Syntax errors in plain words: what Lark's exceptions become in a `Diagnostic`.

Where the text went wrong (the caret goes under the whole word as written, or just after the
last character when something is missing), what would have been valid there in a person's
words ("an expression", "an action (block, escalate or rewrite)"), and a hint for the mistakes
people make: characters from other languages (`&&`, `'...'`), keywords used as names, and broken
rules matched by example (`_EXAMPLES`, Lark's `match_examples`). The golden files in
`tests/policy/golden/` hold the exact wording.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from toolwall.policy import ast
from toolwall.policy.diagnostics import Diagnostic
from toolwall.policy.grammar import reference_parser

KEYWORDS = frozenset(
    {
        *("rule", "on", "when", "unless", "block", "escalate", "rewrite", "drop", "because"),
        *("let", "taint", "assert", "never", "allow", "and", "or", "not", "in", "any", "all"),
        *("true", "false", "null", "matches", "startswith", "endswith", "contains", "under"),
    }
)

# What each terminal means to a person writing rules.
_WORDS = {
    "NAME": "a name",
    "PATTERN": "a tool name or pattern (like email.send or email.*)",
    "STRING": 'a string ("...")',
    "REGEX": "a regex (/.../)",
    "INT": "a number",
    "FLOAT": "a number",
    "$END": "the end of the file",
}

_STATEMENT_KEYWORDS = {"let", "taint", "rule", "assert"}
_EXPRESSION_STARTS = {
    "a name",
    'a string ("...")',
    "a regex (/.../)",
    "a number",
    "`(`",
    "`[`",
    "`-`",
    "`not`",
    "`any`",
    "`all`",
    "`true`",
    "`false`",
    "`null`",
}
_OPERATORS = {
    "`==`",
    "`!=`",
    "`<`",
    "`<=`",
    "`>`",
    "`>=`",
    "`in`",
    "`matches`",
    "`startswith`",
    "`endswith`",
    "`contains`",
    "`under`",
    "`+`",
    "`-`",
    "`*`",
    "`/`",
    "`not`",
    "`and`",
    "`or`",
    "`.`",
    "`[`",
}

_WORD = re.compile(r'[^\s,#"(){}\[\]]+')

# Characters people reach for from other languages.
_CHAR_HINTS = {
    "&": "use `and` instead of `&&`",
    "|": "use `or` instead of `||`",
    "!": "use `not` (or `!=` to compare)",
    "'": 'strings are written in double quotes: "..."',
    ";": "statements need no `;`",
    "{": "a rule is written without braces: rule NAME: on PATTERN ... ACTION",
    "}": "a rule is written without braces: rule NAME: on PATTERN ... ACTION",
    "=": "use `==` to compare; `=` only appears in `let` and in `rewrite`",
    '"': 'a string must end on the line it starts: a closing `"` is missing',
}


@cache
def _terminal_words() -> dict[str, str]:
    words = dict(_WORDS)
    for term in reference_parser().terminals:
        if term.name in words:
            continue
        if term.pattern.type == "str":
            words[term.name] = f"`{term.pattern.value}`"
    return words


def _describe(names: Iterable[str]) -> str:
    table = _terminal_words()
    words = {table.get(n, n.lower()) for n in names}
    phrases: list[str] = []
    keyword_statements = {f"`{k}`" for k in _STATEMENT_KEYWORDS}
    if keyword_statements <= words:
        words -= keyword_statements
        words.discard("the end of the file")
        phrases.append("a statement (let, taint, rule or assert)")
    if len(words & _EXPRESSION_STARTS) >= 6:
        words -= _EXPRESSION_STARTS
        phrases.append("an expression")
    if len(words & _OPERATORS) >= 6:
        words -= _OPERATORS
        phrases.append("an operator")
    if {"`block`", "`escalate`", "`rewrite`"} <= words:
        words -= {"`block`", "`escalate`", "`rewrite`"}
        phrases.append("an action (block, escalate or rewrite)")
    phrases.extend(sorted(words))
    if not phrases:
        return "something else"
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " or " + phrases[-1]


def expected(exc: UnexpectedInput) -> str:
    """`unexpected X; expected Y` for a Lark exception."""
    if isinstance(exc, UnexpectedToken):
        found = "end of the text" if exc.token.type == "$END" else f"`{exc.token!s}`"
        return f"unexpected {found}; expected {_describe(exc.accepts or exc.expected)}"
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected character `{exc.char}`"
    return "unexpected end of the text"


# Broken inputs whose failure state has a better explanation than "expected X".
_EXAMPLES: dict[str, list[str]] = {
    "a rule needs `:` after its name: rule NAME: on PATTERN ...": [
        "rule r on a block",
        "rule r when",
    ],
    "a rule starts with `on PATTERN` after its name: rule NAME: on PATTERN ...": [
        "rule r: when true block",
        "rule r: block",
        "rule r: unless true block",
    ],
    "tool patterns are written without quotes: on email.send": [
        'rule r: on "a" block',
        'taint "a"',
    ],
    "a rule needs an action (block, escalate or rewrite) before `because`": [
        'rule r: on a because "x"',
        'rule r: on a when true because "x"',
        'rule r: on a unless true because "x"',
    ],
    "use `==` to compare; `=` only appears in `let` and in `rewrite`": [
        "rule r: on a when args.x = 1 block",
        "rule r: on a unless args.x = 1 block",
        "let x = args.y = 1",
    ],
    "a rewrite item is `args.PATH = EXPR` or `drop args.PATH`": [
        "rule r: on a rewrite block",
        "rule r: on a rewrite args.x",
        'rule r: on a rewrite args.x because "y"',
    ],
    "the reason after `because` is a string in double quotes": [
        "rule r: on a block because x",
        "rule r: on a block because",
    ],
    "a quantifier is written `any NAME in EXPR: EXPR`": [
        "let x = any in y: true",
        "let x = any r y: true",
        "let x = any r in y true",
        "let x = all in y: true",
        "let x = all r y: true",
        "let x = all r in y true",
    ],
    "`when` and `unless` come before the action: rule NAME: on P when EXPR ACTION": [
        "rule r: on a block when true",
        "rule r: on a escalate when true",
        "rule r: on a block unless true",
    ],
    "an assertion is written `assert never ACTION[, ACTION] PATTERN[, PATTERN] when EXPR`": [
        "assert allow a when true",
        "assert never a when true",
        "assert never allow a",
        "assert never allow a block",
    ],
}


def syntax_diagnostic(exc: UnexpectedInput, text: str, filename: str) -> Diagnostic:
    """The diagnostic of a text (`filename`) that Lark refused with `exc`."""
    line = getattr(exc, "line", 0) or 0
    col = getattr(exc, "column", 0) or 0
    width = 1
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        width = max(1, len(str(exc.token)))
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        # Point just after the last non-blank character: that is where something is missing.
        stripped = _strip_comments(text).rstrip()
        line = stripped.count("\n") + 1
        col = len(stripped) - (stripped.rfind("\n") + 1) + 1
    if line <= 0:
        line, col = 1, 1
    message = expected(exc)
    if isinstance(exc, UnexpectedToken) and exc.token.type in ("NAME", "PATTERN"):
        # Show the whole word as written (`fs.write`, not the `fs` the lexer fell back to).
        start = exc.token.start_pos or 0
        word = _WORD.match(text, start)
        if word is not None and len(word.group()) > len(str(exc.token)):
            message = message.replace(f"`{exc.token!s}`", f"`{word.group()}`", 1)
            width = len(word.group())
    hint = None
    if isinstance(exc, UnexpectedCharacters):
        hint = _CHAR_HINTS.get(exc.char)
        pos = exc.pos_in_stream or 0
        if exc.char == "=" and text[pos : pos + 2] == "==":
            hint = None
    if (
        isinstance(exc, UnexpectedToken)
        and exc.token.type == "PATTERN"
        and "PATTERN" not in (exc.accepts or exc.expected)
        and str(exc.token)[:1] in _CHAR_HINTS
    ):
        # Outside `on`/`taint`, a tool pattern is only what the lexer fell back to: the real
        # problem is the first character, which has a hint of its own.
        char = str(exc.token)[0]
        message = f"unexpected character `{char}`"
        hint = _CHAR_HINTS[char]
        width = 1
    if hint is None and isinstance(exc, UnexpectedToken | UnexpectedEOF):
        try:
            hint = exc.match_examples(
                lambda s: reference_parser().parse(s, start="start"), _EXAMPLES, use_accepts=True
            )
        except Exception:  # the examples are a nicety; a failure must not hide the error
            hint = None
        if hint is None and isinstance(exc, UnexpectedToken) and str(exc.token) == "=":
            hint = _CHAR_HINTS["="]
    found = str(exc.token) if isinstance(exc, UnexpectedToken) else ""
    accepts = set(exc.accepts or exc.expected) if isinstance(exc, UnexpectedToken) else set()
    # Examples are matched by parser state, which several mistakes share: keep a hint only
    # when the token it explains is the one found.
    if hint and "before `because`" in hint and found != "because":
        hint = None
    if hint and hint.startswith("`when` and `unless`") and found not in ("when", "unless"):
        hint = (
            "a rule has exactly one action" if found in ("block", "escalate", "rewrite") else None
        )
    if (
        hint is None
        and isinstance(exc, UnexpectedToken)
        and exc.token.type in ("PATTERN", "NAME")
        and "COMMA" in accepts
        and ("WHEN" in accepts or "TAINT" in accepts)
    ):
        hint = "tool patterns are separated by commas: on email.send, email.read"
    if isinstance(exc, UnexpectedToken) and accepts <= {"NAME"} and found in KEYWORDS:
        hint = (
            f"`{exc.token}` is a reserved word and cannot be a name (a field with that name "
            f'is written args["{exc.token}"])'
        )
    if (
        hint
        and hint.startswith("tool patterns are written without quotes")
        and not str(getattr(exc, "token", "")).startswith('"')
    ):
        hint = None  # that example shares its parser state with other mistakes
    if hint:
        message = f"{message} ({hint})" if hint.startswith("use") else f"{hint}; {message}"
    loc = ast.Loc(filename, line, col, line, col + width)
    return Diagnostic.at("error", loc, message, text)


def _strip_comments(text: str) -> str:
    out = []
    for raw in text.split("\n"):
        in_string = False
        cut = len(raw)
        for i, ch in enumerate(raw):
            if ch == '"' and (i == 0 or raw[i - 1] != "\\"):
                in_string = not in_string
            elif ch == "#" and not in_string:
                cut = i
                break
        out.append(raw[:cut])
    return "\n".join(out)

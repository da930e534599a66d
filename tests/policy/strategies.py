"""Hypothesis strategies shared by the rule language's tests."""

from __future__ import annotations

from hypothesis import strategies as st

from toolwall.policy.syntax_errors import KEYWORDS

# Any text, with lone surrogates (possible in JSON strings) and full-width and ideographic dots
# (IDNA maps them to `.`).
any_text = st.text(
    st.one_of(st.characters(), st.sampled_from(["\ud800", "\udfff", "\uff0e", "\u3002"]))
)

# Fragments of the language, so that generated text gets deep into the grammar, not only
# into the first token.
FRAGMENTS = [
    *sorted(KEYWORDS),
    *[
        "(",
        ")",
        "[",
        "]",
        ",",
        ":",
        ".",
        "=",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "+",
        "-",
        "*",
        "/",
        "#",
        '"',
        "{",
        "}",
        "\n",
        "\\",
    ],
    "args",
    "args.a",
    "caller.groups",
    "session.tainted",
    "tool",
    "x",
    "db.query",
    "email.*",
    "/a+/i",
    "/(/",
    '"s"',
    '"{args.a}"',
    '"{"',
    "1",
    "1.5",
    "1e309",
    "len(",
    "has(",
    "rule r: on db.query",
    "when",
    "block",
    "\x00",
    "é",
]

# Rule-file text: arbitrary, or fragments of the language joined with and without blanks.
source_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(FRAGMENTS), max_size=40).map(" ".join),
    st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join),
)

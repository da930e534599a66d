"""Strings aimed at the edges: the catalogue of tricky values, and mutations of the values a
policy mentions."""

from __future__ import annotations

import functools
import re
from typing import Any

from hypothesis import strategies as st

from toolwall.testing.hints import Hints
from toolwall.testing.strategies.common import HintsLike

# -- the catalogue of tricky values ------------------------------------------------------------

CONFUSABLES = {
    "a": "а",  # Cyrillic
    "e": "е",
    "o": "о",
    "p": "р",
    "c": "с",
    "x": "х",
    "i": "і",
    "s": "ѕ",
    "/": "∕",  # division slash
    ".": "․",  # one dot leader
    "@": "＠",  # fullwidth
}
BIDI_AND_INVISIBLE = [
    "\u202e",
    "\u202d",
    "\u2066",
    "\u2067",
    "\u2069",
    "\u200f",
    "\u200b",
    "\ufeff",
]
CONTROL = ["\x00", "\x1b[2J", "\r\n", "\n", "\t", "\x7f", "\x08", "\u0085", "\u2028"]
TRAVERSAL = [
    "../../../../etc/passwd",
    "/etc/passwd",
    "..",
    "../",
    "..%2f..%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/etc/passwd",
    "%252e%252e%252f",
    "..\\..\\windows\\win.ini",
    "....//....//etc/passwd",
    "//etc/passwd",
    "/./etc/./passwd",
    "~/.ssh/id_rsa",
    "/proc/self/environ",
    "file:///etc/passwd",
    "/etc/passwd\x00.txt",
    "．．／．．／etc／passwd",
]
URL_TRICKS = [
    "http://127.0.0.1/",
    "http://user:pass@127.0.0.1/",
    "http://127.0.0.1@evil.test/",
    "http://evil.test#@127.0.0.1/",
    "http://0x7f.1/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://017700000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://0/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[0:0:0:0:0:ffff:7f00:1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://localhost/",
    "http://LOCALHOST./",
    "HTTP://127.0.0.1/",
    "http://xn--80ak6aa92e.com/",
    "http://аррӏе.com/",
    "http://evil.test\\@example.com/",
    " http://127.0.0.1/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:25/",
    "javascript:alert(1)",
    "//127.0.0.1/",
    "http:/127.0.0.1/",
]
ADDRESS_TRICKS = [
    "a@evil.test",
    "a@evil.test@example.com",
    '"a@example.com"@evil.test',
    "a@EVIL.TEST",
    "a@evil.test.",
    "a@[127.0.0.1]",
    "a@evil.test\n",
    "a",
    "@",
]
HUGE_NUMBERS: list[Any] = [
    10**20,
    -(10**20),
    2**53 + 1,
    2**63,
    1e308,
    -1e308,
    5e-324,
    -0.0,
    0,
    -1,
    0.5,
]
JSON_TYPES: list[Any] = [None, True, False, 0, -1, 1.5, "", "0", "true", [], {}]


def hint_variants(literal: str) -> list[str]:
    """Strings near a literal the policy mentions: where `startswith`, `==` and `in` go wrong."""
    lit = literal
    variants = [
        lit,
        lit + "2",
        lit + "2/x",
        lit + "/x",
        lit + "-evil",
        lit + ".evil.test",
        lit + "/../etc/passwd",
        lit + "/..",
        lit + "/./x",
        lit + "//x",
        lit + "%2f..%2fx",
        lit + " ",
        " " + lit,
        lit + "\n",
        lit + "\x00",
        "x" + lit,
        "/x" + lit,
        lit.upper(),
        lit[:-1],
        "user@" + lit,
        "user@" + lit + ".evil.test",
        "user@evil-" + lit,
        "user@" + lit.upper(),
        lit + "@evil.test",
        "http://" + lit + "/",
        "http://" + lit + "@127.0.0.1/",
        "http://" + lit + ".evil.test/",
    ]
    return [v for v in dict.fromkeys(variants) if v]


@functools.lru_cache(maxsize=256)
def hinted_strings(hints: Hints) -> st.SearchStrategy[str] | None:
    options: list[st.SearchStrategy[str]] = []
    if hints.strings:
        options.append(
            st.sampled_from(hints.strings).flatmap(lambda s: st.sampled_from(hint_variants(s)))
        )
    for pattern in hints.regexes:
        regex = _python_regex(pattern)
        if regex is not None:
            options.append(st.from_regex(regex, fullmatch=False))
    return st.one_of(options) if options else None


@functools.lru_cache(maxsize=256)
def hinted_numbers(hints: Hints) -> st.SearchStrategy[float] | None:
    if not hints.numbers:
        return None
    return st.sampled_from(hints.numbers).flatmap(
        lambda n: st.sampled_from([n - 1, n, n + 1, -n, n * 10])
    )


def _python_regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def tricky_strings(hints: HintsLike = None, base: str = "") -> st.SearchStrategy[str]:
    """Strings that break naive checks: traversal, URL and address tricks, confusables, bidi
    and control characters, NUL, and variants of the policy's literals. Tricks that change a
    value in place (an inserted control character, confusable letters, an appended traversal)
    apply to `base`."""
    parsed = Hints.of(hints)
    return st.sampled_from(_TRICK_KINDS).flatmap(lambda kind: _trick(kind, parsed, base))


_TRICK_KINDS = ["hinted", "catalogue", "insert", "confusable", "append"]


def _trick(kind: str, hints: Hints, base: str) -> st.SearchStrategy[str]:
    hinted = hinted_strings(hints)
    if kind == "hinted" and hinted is not None:
        return hinted
    if kind == "insert":
        return st.tuples(
            st.sampled_from(BIDI_AND_INVISIBLE + CONTROL), st.integers(0, len(base))
        ).map(lambda t: base[: t[1]] + t[0] + base[t[1] :])
    if kind == "confusable":
        if confusable(base) != base:
            return st.just(confusable(base))
        words = [w for w in hints.strings if confusable(w) != w] or ["/etc/passwd", "admin"]
        return st.sampled_from(words).map(confusable)
    if kind == "append":
        return st.sampled_from(TRAVERSAL).map(lambda t: base.rstrip("/") + "/" + t)
    return _CATALOGUE


_CATALOGUE = st.sampled_from([*TRAVERSAL, *URL_TRICKS, *ADDRESS_TRICKS])


def confusable(text: str) -> str:
    return "".join(CONFUSABLES.get(ch, ch) for ch in text)

"""`toolwall.regex.finder`: the same answers as google-re2's `search`, without its Match."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT
from toolwall import regex
from toolwall.regex import Finder, finder

PATTERNS = [
    "a",
    "^a",
    "a$",
    "^$",
    "",
    "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$",
    "\\d+",
    "\\w\\s",
    "é|ü",
    "(a)(b)?",
    "^(?i)straße$",
    "\\x{1F600}",
    ".",
]


def compiled(pattern: str, case_sensitive: bool = True) -> object:
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = case_sensitive
    return re2.compile(pattern, options)


@settings(max_examples=500, deadline=None)
@given(
    pattern=st.sampled_from(PATTERNS),
    case_sensitive=st.booleans(),
    text=st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
    | st.sampled_from(["DE44500105175407324931", "DE44500105175407324931\n", "١٢٣", "Ä😀"]),
)
def test_finder_answers_as_search_does(pattern: str, case_sensitive: bool, text: str) -> None:
    regex = compiled(pattern, case_sensitive)
    expected = regex.search(text) is not None  # type: ignore[attr-defined]
    assert finder(regex)(text) is expected
    assert bool(Finder(regex).search(text)) is expected


def test_text_re2_cannot_take_raises_as_search_does() -> None:
    regex = compiled("a")
    with pytest.raises(UnicodeError):
        regex.search("a\ud800")  # type: ignore[attr-defined]
    with pytest.raises(UnicodeError):
        finder(regex)("a\ud800")


def test_an_object_without_re2_internals_is_searched_through_its_search() -> None:
    python_regex = re.compile("^ab")
    assert finder(python_regex)("abc") is True
    assert finder(python_regex)("cab") is False


# -- the self-test behind the direct match ------------------------------------------------------


def test_the_direct_match_is_in_use() -> None:
    # It passed its self-test with the installed google-re2; if this fails, a google-re2 release
    # moved its internals and every finder (correctly) uses the slower `search`.
    assert regex.direct_match()
    assert finder(compiled("a")) is not None and finder(compiled("a")).__name__ == "finds"


def _counts_characters_not_bytes(compiled: Any) -> Callable[[str], bool] | None:
    """A direct match that gets the text's length wrong (characters, not UTF-8 bytes), as a
    google-re2 release changing `Match`'s arguments could make it."""
    match = compiled._regexp.Match
    anchor = re2._Anchor.UNANCHORED

    def finds(text: str) -> bool:
        return bool(match(anchor, text.encode("utf-8"), 0, len(text))[0] != (-1, -1))

    return finds


def _without_internals(compiled: Any) -> Callable[[str], bool] | None:
    return None


def _internals_that_moved(compiled: Any) -> Callable[[str], bool] | None:
    return compiled._regexp.MatchSpan  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "direct", [_counts_characters_not_bytes, _without_internals, _internals_that_moved]
)
def test_a_direct_match_that_disagrees_with_search_fails_the_self_test(
    direct: Callable[[Any], Callable[[str], bool] | None],
) -> None:
    assert not regex.direct_agrees_with_search(direct)


def test_finders_use_search_when_the_self_test_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regex, "direct_match", lambda: False)
    pattern = compiled("x$")
    find = finder(pattern)
    assert find.__name__ == "<lambda>"  # search, not the direct match
    assert find("éx") and not find("xé")
    assert Finder(pattern).search("😀x")


def test_the_switch_turns_the_direct_match_off() -> None:
    probe = (
        "import re2, toolwall.regex as r\n"
        "print(r.direct_match(), r.finder(re2.compile('x$'))('éx'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), regex.DISABLE_ENV: "re2_match"}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout == "False True\n"

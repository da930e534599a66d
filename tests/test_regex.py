"""`toolwall.regex.finder`: the same answers as google-re2's `search`, without its Match."""

from __future__ import annotations

import re

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

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

"""RE2 regexes: `compile_regex`, `search` (`matches`) and `replace`."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolwall.policy.builtins.regexes import Regex, compile_regex, replace, search
from toolwall.policy.errors import BuiltinError

budget = settings(max_examples=200, deadline=None)


def test_compile_regex_matches_like_the_design_example() -> None:
    destructive = compile_regex(r"\brm\s+-[a-z]*r[a-z]*f|\bmkfs\b")
    assert search(destructive, "cd / && rm -rf --no-preserve-root /")
    assert search(destructive, "mkfs.ext4 /dev/sda")
    assert not search(destructive, "mkfsx /dev/sda")
    assert not search(destructive, "ls -la")
    assert destructive.search("rm -Rf x") is False  # case-sensitive without the i flag
    assert compile_regex(r"rm -Rf", "i").search("RM -rf x")


def test_compile_regex_is_cached_and_compares_by_source_and_flags() -> None:
    assert compile_regex("a+b") is compile_regex("a+b")
    assert compile_regex("a+b", "i") == compile_regex("a+b", "i")
    assert compile_regex("a+b", "i") != compile_regex("a+b")
    assert len({compile_regex("x"), compile_regex("x"), compile_regex("x", "i")}) == 2
    assert repr(compile_regex("a/b", "i")) == "/a/b/i"
    assert isinstance(compile_regex("x"), Regex)


@pytest.mark.parametrize(
    ("source", "flags", "message"),
    [
        (r"(a)\1", "", r"RE2 cannot compile /\(a\)\\1/: invalid escape sequence: \\1"),
        ("(?=a)b", "", "invalid perl operator"),
        ("(?<!a)b", "", "invalid perl operator"),
        ("(", "", "missing \\)"),
        ("a{2,1}", "", "invalid repetition size"),
        ("a", "x", "unknown regex flag 'x'"),
        ("a", "m", "unknown regex flag 'm'"),
        ("a", "ii", "given 2 times"),
        ("\ud800", "", "not valid Unicode"),
    ],
)
def test_compile_regex_rejects(source: str, flags: str, message: str) -> None:
    with pytest.raises(BuiltinError, match=message):
        compile_regex(source, flags)


def test_regexes_run_in_linear_time_on_hostile_input() -> None:
    # Catastrophic for a backtracking engine (2**n steps); RE2 answers in one pass.
    assert not search(compile_regex(r"^(a+)+$"), "a" * 50_000 + "!")
    assert not search(compile_regex(r"(x+x+)+y"), "x" * 50_000)
    assert replace("a" * 50_000 + "!", compile_regex(r"(a|aa)+!"), "ok") == "ok"


def test_newlines_do_not_slip_through_anchored_allow_lists() -> None:
    # `$` is the end of the text (Python's `re` also matches before a final newline), and `.`
    # stops at a newline unless the regex says (?s).
    assert not search(compile_regex(r"^ls$"), "ls\n")
    assert not search(compile_regex(r"^ls [a-z ]*$"), "ls x\nrm -rf /")
    assert not search(compile_regex(r"^ls .*$"), "ls x\nrm -rf /")
    assert search(compile_regex(r"(?s)^ls .*$"), "ls x\nrm -rf /")
    assert search(compile_regex(r"(?m)^rm"), "ls x\nrm -rf /")


def test_search_rejects_wrong_types() -> None:
    with pytest.raises(BuiltinError, match="expects a regex"):
        search("a+", "aaa")
    with pytest.raises(BuiltinError, match="a string on its left"):
        search(compile_regex("a"), 5)  # type: ignore[arg-type]
    with pytest.raises(BuiltinError, match="not valid Unicode"):
        search(compile_regex("a"), "a\ud800")


@pytest.mark.parametrize(
    ("subject", "source", "repl", "expected"),
    [
        ("hello world", r"o", "0", "hell0 w0rld"),
        ("hello world", r"(\w+) (\w+)", r"\2 \1", "world hello"),
        ("hello", r"l+", r"<\0>", "he<ll>o"),
        ("a.b", r"\.", r"\\", "a\\b"),
        ("ab", r"x*", "-", "-a-b-"),
        ("ab", r"(a)|(b)", r"[\1\2]", "[a][b]"),
        ("token=abc123 key=zz", r"(token|key)=\w+", r"\1=***", "token=*** key=***"),
        ("ABC abc", r"abc", "x", "ABC x"),
        ("$1 stays", r"stays", "$1", "$1 $1"),
        ("ä-ö", r"-", "ü", "äüö"),
        ("", r"x", "y", ""),
    ],
)
def test_replace(subject: str, source: str, repl: str, expected: str) -> None:
    assert replace(subject, compile_regex(source), repl) == expected


def test_replace_case_insensitive() -> None:
    assert replace("ABC abc", compile_regex("abc", "i"), "x") == "x x"


@pytest.mark.parametrize(
    ("repl", "message"),
    [
        (r"\n", "backslash must be followed by a digit"),
        ("\\", "backslash must be followed by a digit"),
        (r"\g<1>", "backslash must be followed by a digit"),
        (r"\2", "refers to group 2 but the regex has 1"),
        (r"x\9", "refers to group 9 but the regex has 1"),
    ],
)
def test_replace_rejects_bad_replacements(repl: str, message: str) -> None:
    regex = compile_regex("(a)")
    with pytest.raises(BuiltinError, match=message):
        replace("ab", regex, repl)


def test_replace_rejects_wrong_types() -> None:
    with pytest.raises(BuiltinError, match="expects a regex"):
        replace("a", "a", "b")
    with pytest.raises(BuiltinError, match="first argument"):
        replace(1, compile_regex("a"), "b")  # type: ignore[arg-type]
    with pytest.raises(BuiltinError, match="replacement"):
        replace("a", compile_regex("a"), None)  # type: ignore[arg-type]


safe_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)


@budget
@given(
    safe_text,
    st.sampled_from([r"a+", r"\d", r"(\w)(\w)?", r"[^a-z]+", r"x*", r" +|q", r"(b)|(c)"]),
    st.sampled_from(["", "-", "<>", "$", "%"]),
)
def test_replace_agrees_with_python_re_for_literal_replacements(
    subject: str, source: str, repl: str
) -> None:
    # For ASCII-only classes and a literal replacement, RE2 and Python's engine agree.
    expected = re.sub(source, repl, subject, flags=re.ASCII)
    assert replace(subject, compile_regex(source), repl) == expected

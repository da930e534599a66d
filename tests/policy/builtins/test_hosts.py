"""`domain(email)`: the domain after the last `@`, canonical like a host."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.policy.strategies import any_text
from toolwall.policy.builtins.hosts import domain
from toolwall.policy.errors import BuiltinError

budget = settings(max_examples=200, deadline=None)


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("bob@acme.test", "acme.test"),
        ("Bob@ACME.Test", "acme.test"),
        ("bob@acme.test.", "acme.test"),
        ("a@b@evil.test", "evil.test"),
        ("bob@acme.test@evil.test", "evil.test"),
        ('"bob@acme.test"@evil.test', "evil.test"),
        ("@evil.test", "evil.test"),
        ("bob@exämple.test", "xn--exmple-cua.test"),
        ("bob@ｅｘａｍｐｌｅ．test", "example.test"),
        ("bob@0x7f.1", "127.0.0.1"),
        ("bob@[::1]", "[::1]"),
    ],
)
def test_domain(email: str, expected: str) -> None:
    assert domain(email) == expected


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("bob", "no '@'"),
        ("", "no '@'"),
        ("bob@", "empty domain"),
        ("bob@evil.test@", "empty domain"),
        ("Bob <bob@evil.test>", "character hosts cannot contain"),
        ("bob@evil.test ", "character hosts cannot contain"),
        ("bob@evil.test\r\nBcc: x", "character hosts cannot contain"),
        ("bob@evil%2etest", "character hosts cannot contain"),  # no percent-decoding in mail
        ("bob@a..test", "empty label"),
        ("bob@evil.123", "not an IPv4 address"),
        ("bob@[IPv6:::1]", "not a valid IPv6 address"),
        ("bob@\ud800", "not a valid domain|not valid Unicode"),
    ],
)
def test_domain_rejects(email: str, message: str) -> None:
    with pytest.raises(BuiltinError, match=message):
        domain(email)


def test_domain_rejects_non_strings() -> None:
    with pytest.raises(BuiltinError, match=r"domain\(\) expects a string"):
        domain(["bob@acme.test"])  # type: ignore[arg-type]


@budget
@given(st.text(max_size=20), st.sampled_from(["acme.test", "evil.test", "ACME.test."]))
def test_domain_is_after_the_last_at(local: str, target: str) -> None:
    assert domain(f"{local}@{target}") == target.lower().rstrip(".")


@budget
@given(any_text)
def test_domain_raises_only_builtin_error(email: str) -> None:
    try:
        result = domain(email)
    except BuiltinError:
        return
    assert result == result.lower() and result.isascii()

"""`host(url)` and `scheme(url)`: the host a client would connect to, whatever the spelling."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.policy.strategies import any_text
from toolwall.policy.builtins.private import is_private
from toolwall.policy.builtins.urls import host, scheme
from toolwall.policy.errors import BuiltinError

budget = settings(max_examples=200, deadline=None)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # userinfo is stripped up to the last `@`
        ("http://good.test@evil.test/", "evil.test"),
        ("http://a:b@evil.test:80", "evil.test"),
        ("https://good.test:443@evil.test/x", "evil.test"),
        ("http://a@good.test@evil.test/", "evil.test"),
        ("http://good.test%40x@evil.test/", "evil.test"),
        ("http://evil.test%2F@good.test/", "good.test"),  # percent-encoded `/` is userinfo
        ("http://good.test#@evil.test/", "good.test"),
        ("http://good.test?@evil.test/", "good.test"),
        ("http://good.test/@evil.test/", "good.test"),
        # case, trailing dot, port
        ("HTTP://EVIL.TEST/", "evil.test"),
        ("http://Evil.Test./x", "evil.test"),
        ("http://evil.test.:8080/x", "evil.test"),
        ("http://evil.test:/x", "evil.test"),
        ("https://evil.test:65535", "evil.test"),
        # IDNA (UTS 46 + IDNA 2008)
        ("http://exämple.test/", "xn--exmple-cua.test"),
        ("http://EXÄMPLE.test/", "xn--exmple-cua.test"),
        ("http://xn--exmple-cua.test/", "xn--exmple-cua.test"),
        ("http://Straße.de/", "xn--strae-oqa.de"),
        ("http://ｅｘａｍｐｌｅ．ｔｅｓｔ/", "example.test"),  # full-width letters and dot
        ("http://example。test/", "example.test"),  # ideographic full stop
        ("http://example｡test/", "example.test"),  # half-width ideographic full stop
        ("http://ex\u00admple.test/", "exmple.test"),  # soft hyphen is ignored
        ("http://my_host.test/", "my_host.test"),  # underscores are real-world hosts
        # percent-decoding of the host
        ("http://evil%2etest/", "evil.test"),
        ("http://%65vil.test/", "evil.test"),
        ("http://ex%C3%A4mple.test/", "xn--exmple-cua.test"),
        ("http://127.0.0.%31/", "127.0.0.1"),
        # IPv4 in every form browsers accept
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f000001/", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://0X7F.0.0.1/", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://0177.1/", "127.0.0.1"),
        ("http://017700000001/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://127.0.1/", "127.0.0.1"),
        ("http://0x7f.0.0x0.01/", "127.0.0.1"),  # mixed
        ("http://127.0.0.1./", "127.0.0.1"),
        ("http://0x/", "0.0.0.0"),
        ("http://0/", "0.0.0.0"),
        ("http://00000000000000000000000000000000000000000000000001/", "0.0.0.1"),
        ("http://4294967295/", "255.255.255.255"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://１２７.０.０.１/", "127.0.0.1"),  # full-width digits map to ASCII first
        ("http://127。0。0。1/", "127.0.0.1"),
        # IPv6: canonical, in brackets; IPv4-mapped becomes IPv4
        ("http://[::1]/", "[::1]"),
        ("http://[0:0:0:0:0:0:0:1]:8080/", "[::1]"),
        ("http://[FE80::A:1]/", "[fe80::a:1]"),
        ("http://[2001:DB8:0:0:0:0:0:1]/", "[2001:db8::1]"),
        ("http://[::ffff:127.0.0.1]/", "127.0.0.1"),
        ("http://[::ffff:7f00:1]/", "127.0.0.1"),
        ("http://[::FFFF:169.254.169.254]/", "169.254.169.254"),
        ("http://user@[::1]:80/", "[::1]"),
        # missing scheme
        ("evil.test", "evil.test"),
        ("evil.test/path", "evil.test"),
        ("//evil.test/x", "evil.test"),
        ("evil.test:8080", "evil.test"),
        ("evil.test:8080/x?y", "evil.test"),
        ("localhost:8080/x", "localhost"),
        ("127.0.0.1:8080", "127.0.0.1"),
        ("[::1]:8080", "[::1]"),
        ("user@evil.test/x", "evil.test"),
        ("2130706433", "127.0.0.1"),
        # WHATWG special-scheme details
        (" \t http://evil.test/ \n", "evil.test"),
        ("http://ev\til\n.te\rst/", "evil.test"),  # tab and newlines are removed
        ("http:evil.test/", "evil.test"),
        ("http:/evil.test/", "evil.test"),
        ("http:///evil.test/", "evil.test"),
        ("http:\\\\evil.test\\x", "evil.test"),
        ("http://evil.test\\path", "evil.test"),  # backslash ends the authority
        ("http://evil.test\\@", "evil.test"),
        ("https://evil.test/a\\@good.test", "evil.test"),
        ("ws://evil.test/", "evil.test"),
        ("FTP://user:pw@evil.test/", "evil.test"),
        # other schemes with an authority get the same canonical host
        ("gopher://127.1:70/_x", "127.0.0.1"),
        ("ssh://git@GitHub.com/x.git", "github.com"),
        ("redis://0x7f.1:6379", "127.0.0.1"),
        ("file://evil.test/etc/passwd", "evil.test"),
        ("file:\\\\evil.test\\share", "evil.test"),
    ],
)
def test_host(url: str, expected: str) -> None:
    assert host(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty URL"),
        (" \t\n", "empty URL"),
        ("http://", "empty host"),
        ("http://user@/x", "empty host"),
        ("http://:80/", "empty host"),
        ("/etc/passwd", "is a path"),
        ("\\x", "is a path"),
        ("mailto:a@evil.test", "has no host"),
        ("javascript:alert(1)", "has no host"),
        ("data:text/html,hi", "has no host"),
        ("file:///etc/passwd", "has no host"),
        ("file:/etc/passwd", "has no host"),
        ("file://user@evil.test/", "character hosts cannot contain"),
        ("http://evil.test:99999/", "invalid port"),
        ("http://evil.test:8o/", "invalid port"),
        ("http://evil.test:0000080/", "invalid port"),
        ("http://[::1/", "unclosed"),
        ("http://[::1]x/", "after the IPv6 address"),
        ("http://[fe80::1%25eth0]/", "not a valid IPv6 address"),
        ("http://[::g]/", "not a valid IPv6 address"),
        ("http://[1:2:3:4:5:6:7:8:9]/", "not a valid IPv6 address"),
        ("http://[::ffff:127.0.0.01]/", "not a valid IPv6 address"),
        ("http://1.2.3.4.5/", "too many parts"),
        ("http://256.0.0.1/", "out of range"),
        ("http://127.0.0.256/", "out of range"),
        ("http://127.16777216/", "out of range"),
        ("http://4294967296/", "out of range"),
        ("http://0x100000000/", "out of range"),
        ("http://" + "9" * 1000 + "/", "out of range"),  # no quadratic int(), no ValueError
        ("http://evil.123/", "not an IPv4 address"),
        ("http://08.0.0.1/", "not an IPv4 address"),  # 08 is invalid octal
        ("http://0x7g.1/", "is not a valid domain|not an IPv4 address"),
        ("http://a..b/", "empty label"),
        ("http://.evil.test/", "empty label"),
        ("http://evil.test../", "empty label"),
        ("http://evil test/", "character hosts cannot contain"),
        ("http://evil<test/", "character hosts cannot contain"),
        ("http://evil%00.test/", "character hosts cannot contain"),
        ("http://evil%2ftest/", "character hosts cannot contain"),
        ("http://evil.test／good.test/", "character hosts cannot contain"),  # full-width solidus
        ("http://evil.test＠good.test/", "character hosts cannot contain"),  # full-width @
        ("http://ev%ffil.test/", "percent-encoded UTF-8"),
        ("http://xn--abc.test/", "punycode"),
        ("http://☃.test/", "not a valid domain"),
        ("http://a\u200db.test/", "not a valid domain"),
        ("http://\ud800.test/", "not a valid domain|not valid Unicode"),
        ("http://" + "a" * 5000 + ".test/", "too long"),
    ],
)
def test_host_rejects(url: str, message: str) -> None:
    with pytest.raises(BuiltinError, match=message):
        host(url)


@pytest.mark.parametrize(
    "url",
    [
        # Browsers connect to evil.test, requests/urllib3/httpx to good.test, or the reverse:
        # whichever host() answered, a rule could be bypassed by the other kind of client.
        "http://evil.test\\@good.test/",
        "http://good.test\\@evil.test/",
        "https://good.test:443\\@evil.test",
        "HTTP://good.test\\x@evil.test",
        "//good.test\\@evil.test/",
        "good.test\\@evil.test",
        "good.test:80\\@evil.test",
        "gopher://good.test\\@evil.test/",
        "http://0x7f.1\\@good.test/",
    ],
)
def test_host_rejects_urls_clients_disagree_on(url: str) -> None:
    with pytest.raises(BuiltinError, match="ambiguous"):
        host(url)


@pytest.mark.parametrize("value", [None, 3, b"http://x", {"url": "x"}])
def test_host_rejects_non_strings(value: object) -> None:
    with pytest.raises(BuiltinError, match=r"host\(\) expects a string"):
        host(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://evil.test/", "https"),
        ("HTTPS://evil.test/", "https"),
        ("  JaVa\tScript:alert(1)", "javascript"),
        ("java\nscript:alert(1)", "javascript"),
        ("git+ssh://host/x", "git+ssh"),
        ("mailto:a@b.test", "mailto"),
        ("file:///etc/passwd", "file"),
        ("file:123", "file"),  # a known scheme is never read as host:port
        ("gopher:70", "gopher"),
        ("evil.test/path", ""),
        ("evil.test:8080", ""),
        ("evil.test:8080/x", ""),
        ("localhost:8080", ""),
        ("//evil.test/x", ""),
        ("/etc/passwd", ""),
        ("", ""),
        ("1http://x", ""),
        ("ht tp://x", ""),
        ("ｈttp://evil.test", ""),
        ("http", ""),
    ],
)
def test_scheme(url: str, expected: str) -> None:
    assert scheme(url) == expected


def test_scheme_rejects_non_strings() -> None:
    with pytest.raises(BuiltinError, match=r"scheme\(\) expects a string"):
        scheme(None)  # type: ignore[arg-type]


url_alphabet = st.sampled_from(
    [*list("abcxyz019:/\\@.[]%?#_-+~ \t\n\x00"), "0x", "ff", "::", "%2e", "%40", "xn--", "ä", "。"]
)
url_like = st.lists(url_alphabet, max_size=30).map("".join)


@budget
@given(st.one_of(any_text, url_like, url_like.map(lambda s: "http://" + s)))
def test_host_raises_only_builtin_error(url: str) -> None:
    try:
        result = host(url)
    except BuiltinError:
        return
    assert result == result.lower()
    assert result.isascii()
    assert not result.endswith(".")
    # A canonical host is a fixed point: parsing it again gives it back.
    assert host("http://" + result + "/") == result
    assert isinstance(is_private(result), bool)


@budget
@given(st.one_of(any_text, url_like))
def test_scheme_never_raises_on_text(url: str) -> None:
    result = scheme(url)
    assert result == result.lower()


userinfo = st.lists(
    st.sampled_from([*list("abc:@;=!$&'()*+,%-._~"), "good.test", "127.0.0.1"]), max_size=20
).map("".join)


@budget
@given(userinfo, st.sampled_from(["evil.test", "127.0.0.1", "[::1]", "xn--exmple-cua.test"]))
def test_userinfo_never_changes_the_host(info: str, target: str) -> None:
    assert host(f"http://{info}@{target}/x") == target
    # Without a scheme, `a:@evil.test` reads as scheme `a:` with no host: an error is fine
    # (rules fail closed), another host never is.
    try:
        assert host(f"{info}@{target}") == target
    except BuiltinError:
        assert ":" in info


@budget
@given(st.integers(0, 2**128 - 1))
def test_ipv6_hosts_are_canonical(value: int) -> None:
    address = ipaddress.IPv6Address(value)
    result = host(f"http://[{address.exploded.upper()}]/")
    if address.ipv4_mapped is not None:
        assert result == str(address.ipv4_mapped)
    else:
        assert result == f"[{address.compressed}]"
    assert isinstance(is_private(result), bool)

"""`host(url)` and `scheme(url)`: what a real client would connect to for a URL.

Host parsing follows the WHATWG URL Standard (the parser browsers, Node and undici use); where
WHATWG and RFC 3986 parsers (Python's `urllib`, urllib3/requests, httpx) would read a URL as two
different hosts, `host()` raises instead of choosing one.
"""

from __future__ import annotations

import functools
from typing import Final

from toolwall.policy.builtins.common import (
    CACHE_INPUT_LIMIT,
    CACHE_SIZE,
    DEC_DIGITS,
    expect_str,
    show,
)
from toolwall.policy.builtins.hosts import Host, parse_host
from toolwall.policy.errors import BuiltinError

__all__ = ["host", "scheme"]

_SPECIAL_SCHEMES: Final = frozenset({"http", "https", "ws", "wss", "ftp"})
_SCHEME_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-."
)
_ASCII_LETTERS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# WHATWG strips leading and trailing "C0 control or space" and removes tab and newlines anywhere.
_C0_OR_SPACE: Final = "".join(chr(c) for c in range(0x21))
_TAB_NEWLINE: Final = str.maketrans("", "", "\t\n\r")


def _prepare(url: str) -> str:
    url = url.strip(_C0_OR_SPACE)
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.translate(_TAB_NEWLINE)
    return url


def _scheme_end(url: str) -> int:
    """Index of the `:` ending a syntactically valid scheme, or -1 when there is no scheme.

    `evil.test:8080` and `localhost:8080/x` are read as host and port, not as the scheme
    `evil.test`: people and agents write them that way, and a client given one either prepends
    `http://` or fails. Only names with a dot (no registered scheme has one that is used on the
    web) or `localhost` get that reading, so `gopher:70` and `file:123` keep their scheme.
    """
    if not url or url[0] not in _ASCII_LETTERS:
        return -1
    end = url.find(":")
    if end < 0 or not _SCHEME_CHARS.issuperset(url[:end]):
        return -1
    name = url[:end]
    if "." in name or name.lower() == "localhost":
        digits = end + 1
        while digits < len(url) and digits - end <= 6 and url[digits] in DEC_DIGITS:
            digits += 1
        if digits - end - 1 <= 5 and (digits == len(url) or url[digits] in "/?#\\"):
            return -1
    return end


def _authority_end(text: str, backslash: bool) -> int:
    """End of the authority: the first `/ ? #` (and `\\` when it is a delimiter)."""
    end = len(text)
    for delimiter in "/\\?#" if backslash else "/?#":
        found = text.find(delimiter, 0, end)
        if found >= 0:
            end = found
    return end


def _host_of_authority(authority: str) -> Host:
    """Strip `userinfo@` (up to the LAST `@`, as WHATWG and RFC 3986 do) and `:port`."""
    hostport = authority[authority.rfind("@") + 1 :]
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise BuiltinError(f"host {show(hostport)} has an unclosed '['")
        text, rest = hostport[: close + 1], hostport[close + 1 :]
        if rest and rest[0] != ":":
            raise BuiltinError(f"unexpected {show(rest)} after the IPv6 address")
        port = rest[1:]
    else:
        text, _, port = hostport.partition(":")
    if port and (len(port) > 5 or not DEC_DIGITS.issuperset(port) or int(port) > 65535):
        raise BuiltinError(f"invalid port {show(port)}")
    return parse_host(text, True)


def _host_of_url(url: str) -> Host:
    text = _prepare(url)
    if not text:
        raise BuiltinError("empty URL")
    end = _scheme_end(text)
    name = text[:end].lower() if end >= 0 else ""
    rest = text[end + 1 :] if end >= 0 else text
    if name == "file":
        # WHATWG file host: `file://HOST/...`; no userinfo or port, so `@` and `:` are errors.
        if rest[:2] not in ("//", "\\\\", "/\\", "\\/"):
            raise BuiltinError(f"file URL {show(url)} has no host")
        rest = rest[2:]
        host_text = rest[: _authority_end(rest, backslash=True)]
        if not host_text:
            raise BuiltinError(f"file URL {show(url)} has no host")
        return parse_host(host_text, True)
    if name and name not in _SPECIAL_SCHEMES:
        # Other schemes (gopher, ssh, redis, ...) have a host only as `scheme://authority`.
        # WHATWG would treat it as an opaque string; we canonicalise it like an http host because
        # the clients that speak those schemes resolve IP forms and IDNA the same way.
        if not rest.startswith("//"):
            raise BuiltinError(f"URL {show(url)} has no host")
        return _unambiguous(rest[2:], backslash_first=False, url=url)
    # No scheme: `//evil.test/x` or `evil.test/x` or `evil.test:8080`; a lone `/` is a path.
    if not name and rest[:1] in ("/", "\\") and rest[1:2] not in ("/", "\\"):
        raise BuiltinError(f"{show(url)} is a path, not a URL with a host")
    # Special schemes (and no scheme): WHATWG skips any run of `/` and `\` before the authority.
    whatwg_authority = rest.lstrip("/\\")
    host = _host_of_authority(whatwg_authority[: _authority_end(whatwg_authority, True)])
    # An RFC 3986 parser needs exactly `//` (or nothing, for no scheme) and does not stop at `\`.
    if rest.startswith("//") or not name:
        rfc_authority = rest[2:] if rest.startswith("//") else rest
        _check_same(host, rfc_authority, backslash=False, url=url)
    return host


def _unambiguous(authority: str, *, backslash_first: bool, url: str) -> Host:
    host = _host_of_authority(authority[: _authority_end(authority, backslash_first)])
    _check_same(host, authority, backslash=not backslash_first, url=url)
    return host


def _check_same(host: Host, authority: str, *, backslash: bool, url: str) -> None:
    """Raise when the other reading of the authority (backslash a delimiter or not) is a
    different valid host.

    `http://good.test\\@evil.test/` is good.test for a browser and evil.test for requests,
    urllib3 and httpx; `http://evil.test\\@good.test` the other way round. Whichever we answered,
    a rule about the host could be bypassed by the client that reads it the other way.
    """
    if "\\" not in authority[: _authority_end(authority, False)]:
        return  # no backslash inside the authority: every parser reads the same host
    try:
        other = _host_of_authority(authority[: _authority_end(authority, backslash)])
    except BuiltinError:
        return  # the other reading is no host at all: that client cannot connect anywhere
    if other.text != host.text:
        raise BuiltinError(
            f"URL {show(url)} is ambiguous: some clients connect to {host.text!r}, others to"
            f" {other.text!r} (a backslash in the authority)"
        )


@functools.lru_cache(maxsize=CACHE_SIZE)
def _host_of_url_cached(url: str) -> Host:
    return _host_of_url(url)


def _url_host(url: str) -> Host:
    try:
        if len(url) <= CACHE_INPUT_LIMIT:
            return _host_of_url_cached(url)
        return _host_of_url(url)
    except UnicodeError:
        # Lone surrogates (possible in JSON strings) cannot be encoded for percent-decoding.
        raise BuiltinError(f"URL {show(url)} is not valid Unicode") from None


def host(url: str) -> str:
    """The lower-case host a client would connect to for `url` (DSL: `host(url)`).

    Follows the WHATWG URL Standard's host parser, which is what browsers and fetch() connect to:
    tabs and newlines removed, userinfo stripped up to the last `@`, the port dropped,
    percent-decoding, IDNA (UTS 46 + IDNA 2008: `EXAMPLE.test`, `exämple.test` and full-width
    dots become canonical ASCII/punycode), and every IPv4 form browsers accept (`2130706433`,
    `0x7f.1`, `0177.0.0.1`, `127.1`) written as a dotted quad. For http, https, ws, wss and ftp a
    backslash ends the authority like `/` (so `http://evil.test\\path` is evil.test).

    Departures, all so rules compare one canonical name: the trailing dot is removed; IPv6 is
    compressed lower case in brackets (`[::1]`), and IPv4-mapped IPv6 (`[::ffff:7f00:1]`) is the
    IPv4 address; a URL without a scheme (`evil.test/x`, `//evil.test/x`, `evil.test:8080`) is
    read as http; other schemes with `//` get the same canonical host.

    Raises `BuiltinError` for no host (`mailto:`, `file:///x`, `/path`), an invalid host or port,
    and for URLs that WHATWG and RFC 3986 parsers (requests, urllib3, httpx) read as different
    hosts: `http://good.test\\@evil.test/` is good.test to a browser but evil.test to requests.
    """
    return _url_host(expect_str(url, "host")).text


def scheme(url: str) -> str:
    """The lower-case scheme of `url`, or "" when it has none (DSL: `scheme(url)`).

    Leading and trailing spaces and controls are ignored and tabs and newlines removed first, as
    WHATWG does, so `" JaVa\\tScript:x"` has the scheme "javascript". `evil.test:8080` has no
    scheme (it is a host and port; see `host`).
    """
    text = _prepare(expect_str(url, "scheme"))
    end = _scheme_end(text)
    return text[:end].lower() if end >= 0 else ""

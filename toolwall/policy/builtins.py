"""The builtin functions of the rule language, on attacker-controlled strings.

Every function here is pure, total on `str` (it returns a value or raises `BuiltinError`, nothing
else), runs in time linear in its input, and never touches the network or the file system. The
rule engine turns a `BuiltinError` into a rule error, and a rule error fails closed (a `block` or
`escalate` rule fires, a `rewrite` rule blocks), so when a value is ambiguous these functions
raise rather than guess.

- `host(url)`, `scheme(url)`, `domain(email)`: what a real client would connect to. Host parsing
  follows the WHATWG URL Standard's host parser (the one browsers, Node and undici use); where
  WHATWG and RFC 3986 parsers (Python's `urllib`, urllib3/requests, httpx) would read a URL as two
  different hosts, `host()` raises instead of choosing one.
- `norm_path(p)` (the language's `path()`), `under(child, parent)`: lexical POSIX paths.
- `is_private(host_or_ip)`: addresses and names that are not on the public internet.
- `compile_regex`, `search`, `replace`: RE2 regexes (linear time, no backreferences).

Per-decision functions cache their results (bounded `functools.lru_cache`), so a policy that
calls `host(args.url)` in ten rules parses the URL once.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any, Final, NamedTuple, final
from urllib.parse import unquote_to_bytes

import idna
import re2

from toolwall.regex import finder

__all__ = [
    "BuiltinError",
    "Regex",
    "compile_regex",
    "domain",
    "host",
    "is_private",
    "norm_path",
    "replace",
    "scheme",
    "search",
    "under",
]


class BuiltinError(ValueError):
    """A builtin cannot give a value for its input; the message says why.

    The rule engine reports it as a rule error, which fails closed.
    """


def _expect_str(value: object, function: str, what: str = "a string") -> str:
    if not isinstance(value, str):
        raise BuiltinError(f"{function}() expects {what}, not {type(value).__name__}")
    return value


def _show(value: str, limit: int = 60) -> str:
    """`value` for an error message: repr'd (so control characters are visible) and shortened."""
    if len(value) > limit:
        return repr(value[:limit]) + "..."
    return repr(value)


# Inputs up to this many characters are cached; longer ones (rare, and expensive to keep) are
# computed each time. The caches are bounded, so memory stays bounded whatever callers send.
_CACHE_INPUT_LIMIT: Final = 2048
_CACHE_SIZE: Final = 4096

# ---------------------------------------------------------------------------------------------
# Hosts
# ---------------------------------------------------------------------------------------------

# A parsed host: `kind` is one of the three below, `text` the canonical serialisation that
# `host()` returns, `ip` the address as an integer (0 for names).
_DOMAIN: Final = 0
_IPV4: Final = 4
_IPV6: Final = 6


class _Host(NamedTuple):
    kind: int
    text: str
    ip: int


# WHATWG "forbidden domain code points": none of these can be part of a host name, whether they
# were there literally, percent-encoded, or produced by IDNA mapping (full-width `／` -> `/`).
_FORBIDDEN_DOMAIN: Final = frozenset(
    [chr(c) for c in range(0x20)]
    + [" ", "#", "%", "/", ":", "<", ">", "?", "@", "[", "\\"]
    # `]`, `^`, `|` and DEL complete the WHATWG set.
    + ["]", "^", "|", "\x7f"]
)
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")
_OCT_DIGITS: Final = frozenset("01234567")
_DEC_DIGITS: Final = frozenset("0123456789")
_IPV6_CHARS: Final = _HEX_DIGITS | {":", "."}

# Longest host text accepted (after percent-decoding). DNS names are at most 253 octets; the
# margin leaves room for IDNA mappings that delete characters (soft hyphens, joiners).
_MAX_HOST_LENGTH: Final = 1024


def _ipv4_number(part: str) -> int | None:
    """WHATWG "IPv4 number parser": `0x` hex, leading-`0` octal, else decimal; None if invalid.

    Values that cannot fit an address are returned as 2**40 without converting the digits, so a
    ten-thousand-digit label costs one pass, not a quadratic `int()`.
    """
    if not part:
        return None
    digits, radix, allowed = part, 10, _DEC_DIGITS
    if part[:2] in ("0x", "0X"):
        digits, radix, allowed = part[2:], 16, _HEX_DIGITS
    elif len(part) > 1 and part[0] == "0":
        digits, radix, allowed = part[1:], 8, _OCT_DIGITS
    if not digits:
        return 0
    if not allowed.issuperset(digits):
        return None
    significant = digits.lstrip("0")
    if len(significant) > 12:
        return 2**40
    return int(significant or "0", radix)


def _ends_in_number(labels: list[str]) -> bool:
    """WHATWG "ends in a number": decides whether a host is parsed as IPv4 (and must be one)."""
    last = labels[-1]
    if last.isascii() and last.isdigit():
        return True
    return _ipv4_number(last) is not None


def _parse_ipv4(labels: list[str], original: str) -> _Host:
    """WHATWG IPv4 parser: 1 to 4 parts, each decimal, octal or hex; the last fills the rest.

    So `2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1` and `0x7f.0.0.1` are all 127.0.0.1, as in
    browsers and in `inet_aton`, which is what most HTTP clients connect through.
    """
    if len(labels) > 4:
        raise BuiltinError(
            f"host {_show(original)} looks like an IPv4 address but has too many parts"
        )
    numbers: list[int] = []
    for label in labels:
        number = _ipv4_number(label)
        if number is None:
            raise BuiltinError(
                f"host {_show(original)} ends in a number but is not an IPv4 address"
            )
        numbers.append(number)
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise BuiltinError(f"IPv4 address {_show(original)} is out of range")
    address = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        address += number << (8 * (3 - index))
    return _Host(_IPV4, _dotted(address), address)


def _dotted(address: int) -> str:
    return f"{address >> 24}.{(address >> 16) & 255}.{(address >> 8) & 255}.{address & 255}"


def _parse_ipv6(text: str, original: str) -> _Host:
    """An IPv6 address without brackets; IPv4-mapped addresses (::ffff:a.b.c.d) become IPv4.

    A dual-stack socket connecting to ::ffff:127.0.0.1 reaches 127.0.0.1, so the mapped form is
    the IPv4 address for every purpose a rule has. Zone identifiers (`%eth0`) are rejected, as
    WHATWG does.
    """
    if not text or len(text) > 45 or not _IPV6_CHARS.issuperset(text):
        raise BuiltinError(f"{_show(original)} is not a valid IPv6 address")
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError as error:
        raise BuiltinError(f"{_show(original)} is not a valid IPv6 address: {error}") from None
    mapped = address.ipv4_mapped
    if mapped is not None:
        return _Host(_IPV4, str(mapped), int(mapped))
    return _Host(_IPV6, f"[{address.compressed}]", int(address))


def _domain_to_ascii(text: str, original: str) -> str:
    """UTS 46 (non-transitional, no STD3 rules, as WHATWG) then IDNA 2008 for non-ASCII labels.

    The mapping lower-cases, applies NFC and turns full-width and ideographic dots into `.`, so
    `EXAMPLE.test`, `ｅｘａｍｐｌｅ．ｔｅｓｔ` and `example。test` are one host. Labels that are
    already ASCII are only lower-cased (underscores and leading hyphens, which real hosts have,
    stay legal, as in browsers); `xn--` labels must be valid punycode.
    """
    if text.isascii():
        mapped = text.lower()
    else:
        try:
            mapped = idna.uts46_remap(text, std3_rules=False, transitional=False)
        except (idna.IDNAError, UnicodeError) as error:
            raise BuiltinError(f"host {_show(original)} is not a valid domain: {error}") from None
    if mapped.isascii():
        labels = mapped.split(".")
    else:
        labels = []
        for label in mapped.split("."):
            if label.isascii():
                labels.append(label)
                continue
            try:
                labels.append(idna.alabel(label).decode("ascii"))
            except (idna.IDNAError, UnicodeError) as error:
                raise BuiltinError(
                    f"host {_show(original)} is not a valid domain: {error}"
                ) from None
    for label in labels:
        if label.startswith("xn--"):
            try:
                idna.ulabel(label)
            except (idna.IDNAError, UnicodeError) as error:
                raise BuiltinError(
                    f"host {_show(original)} has an invalid punycode label: {error}"
                ) from None
    return ".".join(labels)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parse_host(text: str, percent_decode: bool) -> _Host:
    """The WHATWG host parser (special schemes), plus: trailing dot removed, IPv4-mapped -> v4.

    Steps, in WHATWG's order: `[...]` is IPv6; otherwise percent-decode (UTF-8), domain to ASCII
    (IDNA), reject forbidden code points, and if the last label is a number parse the whole host
    as IPv4 (failing if it is not one). Empty labels are rejected (WHATWG keeps them, but no
    resolver can look them up, so they only serve to confuse comparisons).
    """
    original = text
    if not text:
        raise BuiltinError("empty host")
    if len(text) > 3 * _MAX_HOST_LENGTH:
        raise BuiltinError(f"host {_show(original)} is too long")
    if text[0] == "[":
        if text[-1] != "]":
            raise BuiltinError(f"host {_show(original)} has an unclosed '['")
        return _parse_ipv6(text[1:-1], original)
    if percent_decode and "%" in text:
        try:
            text = unquote_to_bytes(text).decode("utf-8")
        except UnicodeError:
            raise BuiltinError(
                f"host {_show(original)} is not valid percent-encoded UTF-8"
            ) from None
    if len(text) > _MAX_HOST_LENGTH:
        raise BuiltinError(f"host {_show(original)} is too long")
    if not _FORBIDDEN_DOMAIN.isdisjoint(text):
        raise BuiltinError(f"host {_show(original)} contains a character hosts cannot contain")
    ascii_host = _domain_to_ascii(text, original)
    # IDNA mapping can produce forbidden characters (full-width solidus -> "/"): check again.
    if not _FORBIDDEN_DOMAIN.isdisjoint(ascii_host):
        raise BuiltinError(f"host {_show(original)} contains a character hosts cannot contain")
    if ascii_host.endswith("."):
        ascii_host = ascii_host[:-1]
    if not ascii_host:
        raise BuiltinError(f"host {_show(original)} is empty")
    labels = ascii_host.split(".")
    if "" in labels:
        raise BuiltinError(f"host {_show(original)} has an empty label")
    if _ends_in_number(labels):
        return _parse_ipv4(labels, original)
    return _Host(_DOMAIN, ascii_host, 0)


# --- URLs ------------------------------------------------------------------------------------

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
        while digits < len(url) and digits - end <= 6 and url[digits] in _DEC_DIGITS:
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


def _host_of_authority(authority: str) -> _Host:
    """Strip `userinfo@` (up to the LAST `@`, as WHATWG and RFC 3986 do) and `:port`."""
    hostport = authority[authority.rfind("@") + 1 :]
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise BuiltinError(f"host {_show(hostport)} has an unclosed '['")
        text, rest = hostport[: close + 1], hostport[close + 1 :]
        if rest and rest[0] != ":":
            raise BuiltinError(f"unexpected {_show(rest)} after the IPv6 address")
        port = rest[1:]
    else:
        text, _, port = hostport.partition(":")
    if port and (len(port) > 5 or not _DEC_DIGITS.issuperset(port) or int(port) > 65535):
        raise BuiltinError(f"invalid port {_show(port)}")
    return _parse_host(text, True)


def _host_of_url(url: str) -> _Host:
    text = _prepare(url)
    if not text:
        raise BuiltinError("empty URL")
    end = _scheme_end(text)
    name = text[:end].lower() if end >= 0 else ""
    rest = text[end + 1 :] if end >= 0 else text
    if name == "file":
        # WHATWG file host: `file://HOST/...`; no userinfo or port, so `@` and `:` are errors.
        if rest[:2] not in ("//", "\\\\", "/\\", "\\/"):
            raise BuiltinError(f"file URL {_show(url)} has no host")
        rest = rest[2:]
        host_text = rest[: _authority_end(rest, backslash=True)]
        if not host_text:
            raise BuiltinError(f"file URL {_show(url)} has no host")
        return _parse_host(host_text, True)
    if name and name not in _SPECIAL_SCHEMES:
        # Other schemes (gopher, ssh, redis, ...) have a host only as `scheme://authority`.
        # WHATWG would treat it as an opaque string; we canonicalise it like an http host because
        # the clients that speak those schemes resolve IP forms and IDNA the same way.
        if not rest.startswith("//"):
            raise BuiltinError(f"URL {_show(url)} has no host")
        return _unambiguous(rest[2:], backslash_first=False, url=url)
    # No scheme: `//evil.test/x` or `evil.test/x` or `evil.test:8080`; a lone `/` is a path.
    if not name and rest[:1] in ("/", "\\") and rest[1:2] not in ("/", "\\"):
        raise BuiltinError(f"{_show(url)} is a path, not a URL with a host")
    # Special schemes (and no scheme): WHATWG skips any run of `/` and `\` before the authority.
    whatwg_authority = rest.lstrip("/\\")
    host = _host_of_authority(whatwg_authority[: _authority_end(whatwg_authority, True)])
    # An RFC 3986 parser needs exactly `//` (or nothing, for no scheme) and does not stop at `\`.
    if rest.startswith("//") or not name:
        rfc_authority = rest[2:] if rest.startswith("//") else rest
        _check_same(host, rfc_authority, backslash=False, url=url)
    return host


def _unambiguous(authority: str, *, backslash_first: bool, url: str) -> _Host:
    host = _host_of_authority(authority[: _authority_end(authority, backslash_first)])
    _check_same(host, authority, backslash=not backslash_first, url=url)
    return host


def _check_same(host: _Host, authority: str, *, backslash: bool, url: str) -> None:
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
            f"URL {_show(url)} is ambiguous: some clients connect to {host.text!r}, others to"
            f" {other.text!r} (a backslash in the authority)"
        )


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _host_of_url_cached(url: str) -> _Host:
    return _host_of_url(url)


def _url_host(url: str) -> _Host:
    try:
        if len(url) <= _CACHE_INPUT_LIMIT:
            return _host_of_url_cached(url)
        return _host_of_url(url)
    except UnicodeError:
        # Lone surrogates (possible in JSON strings) cannot be encoded for percent-decoding.
        raise BuiltinError(f"URL {_show(url)} is not valid Unicode") from None


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
    return _url_host(_expect_str(url, "host")).text


def scheme(url: str) -> str:
    """The lower-case scheme of `url`, or "" when it has none (DSL: `scheme(url)`).

    Leading and trailing spaces and controls are ignored and tabs and newlines removed first, as
    WHATWG does, so `" JaVa\\tScript:x"` has the scheme "javascript". `evil.test:8080` has no
    scheme (it is a host and port; see `host`).
    """
    text = _prepare(_expect_str(url, "scheme"))
    end = _scheme_end(text)
    return text[:end].lower() if end >= 0 else ""


def domain(email: str) -> str:
    """The domain of an e-mail address: after the LAST `@`, canonical like `host()`.

    `a@b@evil.test` is evil.test (that is where the mail goes). The domain is lower-cased,
    IDNA-normalised, loses a trailing dot, and numeric IPv4 forms are canonicalised. Unlike in a
    URL nothing is percent-decoded, and anything that is not a plain domain (a display name's
    `>`, spaces, an address literal `[...]` that is not IPv6) raises `BuiltinError`, as do a
    missing `@` and an empty domain.
    """
    text = _expect_str(email, "domain")
    at = text.rfind("@")
    if at < 0:
        raise BuiltinError(f"{_show(text)} is not an e-mail address (no '@')")
    part = text[at + 1 :]
    if not part:
        raise BuiltinError(f"e-mail address {_show(text)} has an empty domain")
    try:
        return _parse_host(part, False).text
    except UnicodeError:
        raise BuiltinError(f"e-mail address {_show(text)} is not valid Unicode") from None


# --- is_private ------------------------------------------------------------------------------


def _networks(*cidrs: str) -> tuple[tuple[int, int], ...]:
    """(network, mask) integer pairs: membership is one AND and one comparison."""
    result = []
    for cidr in cidrs:
        network = ipaddress.ip_network(cidr)
        result.append((int(network.network_address), int(network.netmask)))
    return tuple(result)


# IPv4 blocks not reachable on the public internet: the IANA special-purpose registry entries
# marked not globally reachable, plus multicast and limited broadcast (inside 240/4).
_PRIVATE_V4: Final = _networks(
    "0.0.0.0/8",  # "this network", 0.0.0.0 unspecified (Linux connects it to localhost)
    "10.0.0.0/8",  # RFC 1918
    "100.64.0.0/10",  # carrier-grade NAT (and Alibaba Cloud metadata 100.100.100.200)
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local, cloud metadata 169.254.169.254
    "172.16.0.0/12",  # RFC 1918
    "192.0.0.0/24",  # IETF protocol assignments (except .9 and .10, below)
    "192.0.2.0/24",  # TEST-NET-1
    "192.168.0.0/16",  # RFC 1918
    "198.18.0.0/15",  # benchmarking
    "198.51.100.0/24",  # TEST-NET-2
    "203.0.113.0/24",  # TEST-NET-3
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, and 255.255.255.255 broadcast
)
# Globally reachable anycast inside 192.0.0.0/24 (PCP and TURN anycast, RFC 7723 / RFC 8155).
_GLOBAL_V4: Final = frozenset({0xC0000009, 0xC000000A})

_V6_UNSPECIFIED: Final = 0
_V6_LOOPBACK: Final = 1
# Prefixes whose low 32 bits are an IPv4 address the packet ends up at.
_V6_EMBEDDING_V4: Final = _networks(
    "::ffff:0:0/96",  # IPv4-mapped
    "::ffff:0:0:0/96",  # SIIT IPv4-translated
    "64:ff9b::/96",  # NAT64 well-known prefix
)
_V6_GLOBAL_UNICAST: Final = _networks("2000::/3")[0]
_V6_6TO4: Final = _networks("2002::/16")[0]
_V6_TEREDO: Final = _networks("2001::/32")[0]
# Inside 2000::/3 but not routed on the internet: documentation, benchmarking, ORCHID.
_PRIVATE_V6_IN_GLOBAL: Final = _networks(
    "2001:db8::/32", "3fff::/20", "2001:2::/48", "2001:10::/28"
)

# Names that point into the local machine or network without any DNS lookup: localhost (RFC
# 6761), cloud metadata services, and special-use suffixes for private networks.
_PRIVATE_NAMES: Final = frozenset(
    {
        "localhost",
        "metadata",
        "metadata.google.internal",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
_PRIVATE_SUFFIXES: Final = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


def _in(address: int, networks: tuple[tuple[int, int], ...]) -> bool:
    return any(address & mask == network for network, mask in networks)


def _v4_private(address: int) -> bool:
    return _in(address, _PRIVATE_V4) and address not in _GLOBAL_V4


def _v6_private(address: int) -> bool:
    if address in (_V6_UNSPECIFIED, _V6_LOOPBACK):
        return True
    if _in(address, _V6_EMBEDDING_V4):
        return _v4_private(address & 0xFFFFFFFF)
    network, mask = _V6_GLOBAL_UNICAST
    if address & mask != network:
        # Outside 2000::/3 nothing is routed on the internet: IPv4-compatible ::a.b.c.d,
        # unique-local fc00::/7 (AWS metadata fd00:ec2::254), link-local fe80::/10, site-local,
        # multicast ff00::/8, discard 100::/64, local-use NAT64 64:ff9b:1::/48.
        return True
    network, mask = _V6_6TO4
    if address & mask == network:
        return _v4_private((address >> 80) & 0xFFFFFFFF)
    network, mask = _V6_TEREDO
    if address & mask == network:
        server, client = (address >> 64) & 0xFFFFFFFF, ~address & 0xFFFFFFFF
        return _v4_private(server) or _v4_private(client)
    return _in(address, _PRIVATE_V6_IN_GLOBAL)


def _name_private(name: str) -> bool:
    if name in _PRIVATE_NAMES or name.endswith(_PRIVATE_SUFFIXES):
        return True
    # A single-label name (`intranet`, `jenkins`) is completed with the resolver's search
    # domains, i.e. it names a host on the local network.
    return "." not in name


def is_private(host_or_ip: str) -> bool:
    """True when `host_or_ip` is not a public internet destination (DSL: `is_private(h)`).

    Accepts what `host()` returns or a bare host or IP (`[::1]`, `::1`, `0x7f.1`, `2130706433`,
    `LOCALHOST.`), canonicalised with the same rules as `host()`. True for:

    - IPv4: unspecified 0.0.0.0/8, loopback 127/8, RFC 1918, CGNAT 100.64/10, link-local
      169.254/16 (cloud metadata 169.254.169.254), IETF/documentation/benchmark blocks,
      multicast, reserved 240/4 and broadcast;
    - IPv6: `::`, `::1`, everything outside global unicast 2000::/3 (unique-local fc00::/7 with
      fd00:ec2::254, link-local fe80::/10, multicast, IPv4-compatible), documentation prefixes,
      and IPv4-mapped, SIIT, NAT64 (64:ff9b::/96), 6to4 and Teredo addresses whose IPv4 address
      is private;
    - names: `localhost` and `*.localhost`, `metadata`, `metadata.google.internal`,
      `instance-data`, the special-use suffixes `.local`, `.internal`, `.localdomain`,
      `.home.arpa`, and single-label names (resolved through the local search domains).

    Other names are False: there is no DNS resolution here, so `evil.test` resolving to
    127.0.0.1 (or a DNS-rebinding name) is not caught. Pair rules about private hosts with a
    resolver-side control (an egress proxy or a resolver that refuses private answers).
    Raises `BuiltinError` when the text is not a valid host.
    """
    text = _expect_str(host_or_ip, "is_private")
    try:
        if ":" in text and not text.startswith("["):
            try:
                parsed = _parse_ipv6(text, text)
            except BuiltinError:
                raise BuiltinError(
                    f"is_private() expects a host or an IP address, not {_show(text)}"
                    " (for a URL, use is_private(host(url)))"
                ) from None
        else:
            parsed = _parse_host(text, True)
    except UnicodeError:
        raise BuiltinError(f"host {_show(text)} is not valid Unicode") from None
    if parsed.kind == _IPV4:
        return _v4_private(parsed.ip)
    if parsed.kind == _IPV6:
        return _v6_private(parsed.ip)
    return _name_private(parsed.text)


# ---------------------------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------------------------

_CONTROL: Final = frozenset([chr(c) for c in range(0x20)] + ["\x7f"])


def _norm_path(path: str) -> str:
    if not path:
        raise BuiltinError("empty path")
    if not _CONTROL.isdisjoint(path):
        if "\x00" in path:
            raise BuiltinError(f"path {_show(path)} contains a NUL byte")
        raise BuiltinError(f"path {_show(path)} contains a control character")
    absolute = path[0] == "/"
    parts: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not absolute:
                parts.append("..")
            # `..` at the root stays at the root, as the kernel does.
            continue
        parts.append(segment)
    if absolute:
        return "/" + "/".join(parts)
    return "/".join(parts) or "."


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _norm_path_cached(path: str) -> str:
    return _norm_path(path)


def norm_path(p: str) -> str:
    """The normalised POSIX form of path `p` (DSL: `path(p)`).

    Lexical, like `os.path.normpath` but for security: repeated slashes (also a leading `//`),
    `.` segments and trailing slashes go, `..` removes the segment before it and stays at `/`
    at the root; a relative path stays relative (`a/../../b` is `../b`, `a/..` is `.`).

    Raises `BuiltinError` for an empty path, a NUL (no system call accepts one, so it can only
    be an attempt to truncate the path) and any other ASCII control character (U+0000-U+001F,
    U+007F): legal in POSIX names but used to spoof logs and prompts, never in an honest path.
    Not done, because they need the file system: symlinks are not resolved (so
    `/srv/ws/link/../x` is `/srv/ws/x` here even if `link` points elsewhere), `~` is not
    expanded, and case is significant. Backslash is an ordinary character (POSIX). Tools should
    still open files relative to their root without following symlinks.
    """
    text = _expect_str(p, "path")
    if len(text) <= _CACHE_INPUT_LIMIT:
        return _norm_path_cached(text)
    return _norm_path(text)


def under(child: str, parent: str) -> bool:
    """Whether path `child` is `parent` or inside it, after `norm_path` on both (DSL: `under`).

    Containment is by whole segments: `/srv/workspace2` is not under `/srv/workspace`, and
    `/srv/workspace/../etc` is `/etc`. A relative path is never under an absolute one (nor the
    reverse), since the directory it is relative to is unknown. Trailing slashes do not matter.
    Raises `BuiltinError` when either path is invalid (see `norm_path`).
    """
    child_path = norm_path(_expect_str(child, "under", "a path on its left"))
    parent_path = norm_path(_expect_str(parent, "under", "a path on its right"))
    if child_path.startswith("/") != parent_path.startswith("/"):
        return False
    if child_path == parent_path or parent_path == "/":
        return True
    if parent_path == ".":
        return child_path != ".." and not child_path.startswith("../")
    return child_path.startswith(parent_path + "/")


# ---------------------------------------------------------------------------------------------
# Regexes
# ---------------------------------------------------------------------------------------------

# `re2` has no type information; its compiled objects are handled as `Any` only in this section.
_RE2_TYPE: Final[type] = type(re2.compile(""))


@final
class Regex:
    """A compiled RE2 regex with the source and flags it was written with (`/source/flags`).

    Equal when source and flags are equal. Matching is linear in the subject's length.
    """

    __slots__ = ("_compiled", "_finds", "flags", "source")

    def __init__(self, source: str, flags: str, compiled: Any) -> None:
        self.source = source
        self.flags = flags
        self._compiled = compiled
        self._finds = finder(compiled)

    def search(self, subject: str) -> bool:
        """True when the regex matches anywhere in `subject` (not anchored)."""
        return search(self, subject)

    def __repr__(self) -> str:
        return f"/{self.source}/{self.flags}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Regex) and (self.source, self.flags) == (other.source, other.flags)

    def __hash__(self) -> int:
        return hash((self.source, self.flags))


def _message(error: Exception) -> str:
    text = error.args[0] if error.args else str(error)
    if isinstance(text, bytes):
        return text.decode("utf-8", "replace")
    return str(text)


@functools.lru_cache(maxsize=1024)
def _compile(source: str, flags: str) -> Regex:
    options = re2.Options()
    options.log_errors = False  # RE2 would otherwise print every rejected pattern to stderr
    if flags:
        options.case_sensitive = False
    try:
        compiled = re2.compile(source, options)
    except re2.error as error:
        raise BuiltinError(f"RE2 cannot compile /{source}/: {_message(error)}") from None
    except UnicodeError:
        raise BuiltinError(f"regex /{_show(source)}/ is not valid Unicode") from None
    return Regex(source, flags, compiled)


def compile_regex(source: str, flags: str = "") -> Regex:
    """Compile a rule regex `/source/flags` with RE2 (cached).

    RE2 syntax is Perl-like (`\\b \\s \\d`, `(?:...)`, `(?P<name>...)`, classes, `{n,m}`) but
    has no backreferences or lookaround: matching takes time linear in the input, so an argument
    can never make a rule slow. The only flag is `i` (case-insensitive). A pattern RE2 rejects,
    or any other flag, raises `BuiltinError` with RE2's message.
    """
    _expect_str(source, "regex", "a pattern string")
    _expect_str(flags, "regex", "a flags string")
    for flag in flags:
        if flag != "i":
            raise BuiltinError(f"unknown regex flag {flag!r} (the only flag is 'i')")
    if len(flags) > 1:
        raise BuiltinError(f"regex flag 'i' given {len(flags)} times")
    return _compile(source, flags)


def _compiled(regex: object, function: str) -> Any:
    if isinstance(regex, Regex):
        return regex._compiled
    if isinstance(regex, _RE2_TYPE):
        return regex
    raise BuiltinError(f"{function}() expects a regex, not {type(regex).__name__}")


def search(regex: object, s: str) -> bool:
    """True when `regex` (from `compile_regex`) matches anywhere in `s` (DSL: `s matches re`)."""
    finds = regex._finds if isinstance(regex, Regex) else finder(_compiled(regex, "matches"))
    text = _expect_str(s, "matches", "a string on its left")
    try:
        return finds(text)
    except UnicodeError:
        raise BuiltinError(f"{_show(text)} is not valid Unicode") from None


@functools.lru_cache(maxsize=1024)
def _rewrite_template(repl: str) -> tuple[tuple[str | int, ...], int]:
    """Parse an RE2 rewrite string into literal pieces and group numbers, and the largest group.

    RE2's syntax (`RE2::Replace`): `\\0` is the whole match, `\\1`-`\\9` a group, `\\\\` a
    backslash; a backslash before anything else is an error.
    """
    pieces: list[str | int] = []
    literal: list[str] = []
    highest = 0
    index = 0
    while True:
        found = repl.find("\\", index)
        if found < 0:
            literal.append(repl[index:])
            break
        literal.append(repl[index:found])
        following = repl[found + 1 : found + 2]
        if following == "\\":
            literal.append("\\")
        elif following in _DEC_DIGITS:
            pieces.append("".join(literal))
            literal = []
            pieces.append(int(following))
            highest = max(highest, int(following))
        else:
            raise BuiltinError(
                f"invalid replacement {_show(repl)}: a backslash must be followed by a digit"
                " (a group) or another backslash"
            )
        index = found + 2
    pieces.append("".join(literal))
    return tuple(piece for piece in pieces if piece != ""), highest


def replace(s: str, regex: object, repl: str) -> str:
    """`s` with every non-overlapping match of `regex` replaced by `repl` (DSL: `replace`).

    `repl` uses RE2's rewrite syntax: `\\0` the whole match, `\\1`-`\\9` groups (an unmatched
    group is empty), `\\\\` a backslash; everything else is literal (no `$1`, no `\\g<name>`,
    no `\\n` escape). A reference to a group the regex does not have raises `BuiltinError`.
    Empty matches are replaced too, as in Python (`replace("ab", /x*/, "-")` is `-a-b-`).
    """
    compiled = _compiled(regex, "replace")
    text = _expect_str(s, "replace", "a string as its first argument")
    template = _expect_str(repl, "replace", "a string as its replacement")
    pieces, highest = _rewrite_template(template)
    groups: int = compiled.groups
    if highest > groups:
        raise BuiltinError(
            f"replacement {_show(template)} refers to group {highest} but the regex has {groups}"
        )

    def expand(match: Any) -> str:
        return "".join(
            piece if isinstance(piece, str) else (match[piece] or "") for piece in pieces
        )

    try:
        result: str = compiled.sub(expand, text)
    except UnicodeError:
        raise BuiltinError(f"{_show(text)} is not valid Unicode") from None
    return result

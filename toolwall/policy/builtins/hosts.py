"""Host names as a client connects to them: the WHATWG URL Standard's host parser, and `domain()`.

`parse_host` is the parser `host(url)` and `is_private` also use: IDNA (UTS 46 + IDNA 2008),
every IPv4 form browsers accept written as a dotted quad, IPv6 compressed in brackets, and
IPv4-mapped IPv6 as the IPv4 address, so that rules compare one canonical name.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Final, NamedTuple
from urllib.parse import unquote_to_bytes

import idna

from toolwall.policy.builtins.common import CACHE_SIZE, DEC_DIGITS, expect_str, show
from toolwall.policy.errors import BuiltinError

__all__ = ["DOMAIN", "IPV4", "IPV6", "Host", "domain", "parse_host", "parse_ipv6"]

# A parsed host: `kind` is one of the three below, `text` the canonical serialisation that
# `host()` returns, `ip` the address as an integer (0 for names).
DOMAIN: Final = 0
IPV4: Final = 4
IPV6: Final = 6


class Host(NamedTuple):
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
    digits, radix, allowed = part, 10, DEC_DIGITS
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


def _parse_ipv4(labels: list[str], original: str) -> Host:
    """WHATWG IPv4 parser: 1 to 4 parts, each decimal, octal or hex; the last fills the rest.

    So `2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1` and `0x7f.0.0.1` are all 127.0.0.1, as in
    browsers and in `inet_aton`, which is what most HTTP clients connect through.
    """
    if len(labels) > 4:
        raise BuiltinError(
            f"host {show(original)} looks like an IPv4 address but has too many parts"
        )
    numbers: list[int] = []
    for label in labels:
        number = _ipv4_number(label)
        if number is None:
            raise BuiltinError(f"host {show(original)} ends in a number but is not an IPv4 address")
        numbers.append(number)
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise BuiltinError(f"IPv4 address {show(original)} is out of range")
    address = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        address += number << (8 * (3 - index))
    return Host(IPV4, _dotted(address), address)


def _dotted(address: int) -> str:
    return f"{address >> 24}.{(address >> 16) & 255}.{(address >> 8) & 255}.{address & 255}"


def parse_ipv6(text: str, original: str) -> Host:
    """An IPv6 address without brackets; IPv4-mapped addresses (::ffff:a.b.c.d) become IPv4.

    A dual-stack socket connecting to ::ffff:127.0.0.1 reaches 127.0.0.1, so the mapped form is
    the IPv4 address for every purpose a rule has. Zone identifiers (`%eth0`) are rejected, as
    WHATWG does.
    """
    if not text or len(text) > 45 or not _IPV6_CHARS.issuperset(text):
        raise BuiltinError(f"{show(original)} is not a valid IPv6 address")
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError as error:
        raise BuiltinError(f"{show(original)} is not a valid IPv6 address: {error}") from None
    mapped = address.ipv4_mapped
    if mapped is not None:
        return Host(IPV4, str(mapped), int(mapped))
    return Host(IPV6, f"[{address.compressed}]", int(address))


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
            raise BuiltinError(f"host {show(original)} is not a valid domain: {error}") from None
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
                    f"host {show(original)} is not a valid domain: {error}"
                ) from None
    for label in labels:
        if label.startswith("xn--"):
            try:
                idna.ulabel(label)
            except (idna.IDNAError, UnicodeError) as error:
                raise BuiltinError(
                    f"host {show(original)} has an invalid punycode label: {error}"
                ) from None
    return ".".join(labels)


@functools.lru_cache(maxsize=CACHE_SIZE)
def parse_host(text: str, percent_decode: bool) -> Host:
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
        raise BuiltinError(f"host {show(original)} is too long")
    if text[0] == "[":
        if text[-1] != "]":
            raise BuiltinError(f"host {show(original)} has an unclosed '['")
        return parse_ipv6(text[1:-1], original)
    if percent_decode and "%" in text:
        try:
            text = unquote_to_bytes(text).decode("utf-8")
        except UnicodeError:
            raise BuiltinError(
                f"host {show(original)} is not valid percent-encoded UTF-8"
            ) from None
    if len(text) > _MAX_HOST_LENGTH:
        raise BuiltinError(f"host {show(original)} is too long")
    if not _FORBIDDEN_DOMAIN.isdisjoint(text):
        raise BuiltinError(f"host {show(original)} contains a character hosts cannot contain")
    ascii_host = _domain_to_ascii(text, original)
    # IDNA mapping can produce forbidden characters (full-width solidus -> "/"): check again.
    if not _FORBIDDEN_DOMAIN.isdisjoint(ascii_host):
        raise BuiltinError(f"host {show(original)} contains a character hosts cannot contain")
    if ascii_host.endswith("."):
        ascii_host = ascii_host[:-1]
    if not ascii_host:
        raise BuiltinError(f"host {show(original)} is empty")
    labels = ascii_host.split(".")
    if "" in labels:
        raise BuiltinError(f"host {show(original)} has an empty label")
    if _ends_in_number(labels):
        return _parse_ipv4(labels, original)
    return Host(DOMAIN, ascii_host, 0)


def domain(email: str) -> str:
    """The domain of an e-mail address: after the LAST `@`, canonical like `host()`.

    `a@b@evil.test` is evil.test (that is where the mail goes). The domain is lower-cased,
    IDNA-normalised, loses a trailing dot, and numeric IPv4 forms are canonicalised. Unlike in a
    URL nothing is percent-decoded, and anything that is not a plain domain (a display name's
    `>`, spaces, an address literal `[...]` that is not IPv6) raises `BuiltinError`, as do a
    missing `@` and an empty domain.
    """
    text = expect_str(email, "domain")
    at = text.rfind("@")
    if at < 0:
        raise BuiltinError(f"{show(text)} is not an e-mail address (no '@')")
    part = text[at + 1 :]
    if not part:
        raise BuiltinError(f"e-mail address {show(text)} has an empty domain")
    try:
        return parse_host(part, False).text
    except UnicodeError:
        raise BuiltinError(f"e-mail address {show(text)} is not valid Unicode") from None

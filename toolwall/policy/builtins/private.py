"""`is_private(host_or_ip)`: addresses and names that are not on the public internet.

Integer (network, mask) tables, so membership is one AND and one comparison per block; no DNS.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from toolwall.policy.builtins.common import expect_str, show
from toolwall.policy.builtins.hosts import IPV4, IPV6, parse_host, parse_ipv6
from toolwall.policy.errors import BuiltinError

__all__ = ["is_private"]


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
    text = expect_str(host_or_ip, "is_private")
    try:
        if ":" in text and not text.startswith("["):
            try:
                parsed = parse_ipv6(text, text)
            except BuiltinError:
                raise BuiltinError(
                    f"is_private() expects a host or an IP address, not {show(text)}"
                    " (for a URL, use is_private(host(url)))"
                ) from None
        else:
            parsed = parse_host(text, True)
    except UnicodeError:
        raise BuiltinError(f"host {show(text)} is not valid Unicode") from None
    if parsed.kind == IPV4:
        return _v4_private(parsed.ip)
    if parsed.kind == IPV6:
        return _v6_private(parsed.ip)
    return _name_private(parsed.text)

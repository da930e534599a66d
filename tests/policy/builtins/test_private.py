"""`is_private(host_or_ip)`: every form of a private address, and public ones left alone."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolwall.policy.builtins.private import is_private
from toolwall.policy.builtins.urls import host
from toolwall.policy.errors import BuiltinError

budget = settings(max_examples=200, deadline=None)


def _v4_oracle(address: ipaddress.IPv4Address) -> bool:
    """ipaddress's notion of "not global", plus multicast (routed, but never to a public host)
    and the IANA registry's 192.0.0.0/24 (not globally reachable except .9 and .10), which
    Python 3.11 lists only partly."""
    in_ietf_block = address in ipaddress.ip_network("192.0.0.0/24") and str(address) not in (
        "192.0.0.9",
        "192.0.0.10",
    )
    return not address.is_global or address.is_multicast or in_ietf_block


ipv4_ints = st.one_of(
    st.integers(0, 2**32 - 1),
    # the interesting blocks, so every one of them is exercised at a modest budget
    st.sampled_from(
        [0, 10, 100, 127, 169, 172, 192, 198, 203, 224, 240, 255, 8, 1, 11, 101, 126, 128]
    ).flatmap(lambda first: st.integers(first << 24, (first << 24) | 0xFFFFFF)),
)


def _ipv4_forms(value: int) -> list[str]:
    a, b, c, d = (value >> 24) & 255, (value >> 16) & 255, (value >> 8) & 255, value & 255
    return [
        f"{a}.{b}.{c}.{d}",
        str(value),
        hex(value),
        "0" + oct(value)[2:],
        f"{a}.{(value & 0xFFFFFF)}",
        f"{a}.{b}.{(value & 0xFFFF)}",
        f"{hex(a)}.{oct(b).replace('0o', '0')}.{c}.{hex(d)}",
        f"[::ffff:{a}.{b}.{c}.{d}]",
        f"[::ffff:{value >> 16:x}:{value & 0xFFFF:x}]",
    ]


@budget
@given(ipv4_ints)
def test_is_private_of_host_agrees_with_ipaddress(value: int) -> None:
    address = ipaddress.IPv4Address(value)
    for form in _ipv4_forms(value):
        assert host(f"http://{form}/") == str(address), form
        assert is_private(host(f"http://user@{form}:80/x")) is _v4_oracle(address), form
        assert is_private(form) is _v4_oracle(address), form


@pytest.mark.parametrize(
    "value",
    [
        # loopback
        "127.0.0.1",
        "127.255.255.254",
        "localhost",
        "LOCALHOST.",
        "api.localhost",
        "::1",
        "[::1]",
        "[0:0:0:0:0:0:0:1]",
        "0x7f.1",
        "2130706433",
        "0177.0.0.1",
        "127.1",
        # RFC 1918
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "192.168.255.255",
        "0xa.1",
        # CGNAT, link-local, metadata
        "100.64.0.1",
        "100.127.255.255",
        "100.100.100.200",
        "169.254.0.1",
        "169.254.169.254",
        "0xa9fea9fe",
        "[fd00:ec2::254]",
        "fd00:ec2::254",
        "metadata",
        "metadata.google.internal",
        "METADATA.GOOGLE.INTERNAL.",
        "instance-data",
        # unspecified
        "0.0.0.0",
        "0",
        "0.1.2.3",
        "::",
        "[::]",
        # IPv6 local scopes
        "fe80::1",
        "[fe80::abcd:1]",
        "febf::1",
        "fc00::1",
        "fd00::1",
        "fdff:ffff::1",
        "fec0::1",
        "ff02::1",
        "100::1",
        "2001:db8::1",
        "3fff::1",
        "64:ff9b:1::1",
        # IPv4 embedded in IPv6
        "[::ffff:127.0.0.1]",
        "::ffff:10.0.0.1",
        "::ffff:7f00:1",
        "::ffff:0:a9fe:a9fe",  # SIIT
        "::127.0.0.1",  # IPv4-compatible (deprecated; not routed)
        "::8.8.8.8",
        "64:ff9b::7f00:1",  # NAT64
        "64:ff9b::192.168.0.1",
        "2002:7f00:1::",  # 6to4
        "2002:a9fe:a9fe::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        # multicast, broadcast, reserved, documentation
        "224.0.0.1",
        "239.255.255.250",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.0.1",
        "192.0.2.1",
        "198.18.0.1",
        "198.51.100.7",
        "203.0.113.9",
        # names that never leave the local network
        "printer.local",
        "db.internal",
        "host.localdomain",
        "router.home.arpa",
        "intranet",
        "jenkins",
    ],
)
def test_is_private(value: str) -> None:
    assert is_private(value) is True


@pytest.mark.parametrize(
    "value",
    [
        "8.8.8.8",
        "1.1.1.1",
        "172.32.0.1",
        "172.15.255.255",
        "192.169.0.1",
        "100.128.0.1",
        "100.63.255.255",
        "169.255.0.1",
        "11.0.0.1",
        "126.255.255.255",
        "128.0.0.1",
        "192.0.0.9",
        "192.0.0.10",
        "223.255.255.255",
        "134744072",  # 8.8.8.8 as an integer
        "2606:4700::1111",
        "[2a00:1450:4001::200e]",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::",
        "evil.test",
        "example.com",
        "localhost.evil.test",
        "metadata.evil.test",
        "internal.evil.test",
        "local.evil.test",
        "127.0.0.1.nip.io",  # resolves to loopback, but only DNS can tell (documented)
        "xn--exmple-cua.test",
    ],
)
def test_is_not_private(value: str) -> None:
    assert is_private(value) is False


@pytest.mark.parametrize(
    "value",
    ["", "localhost:8080", "http://127.0.0.1/", "evil test", "1.2.3.4.5", "[::1", "fe80::1%eth0"],
)
def test_is_private_rejects_what_is_not_a_host(value: str) -> None:
    with pytest.raises(BuiltinError):
        is_private(value)


def test_is_private_rejects_non_strings() -> None:
    with pytest.raises(BuiltinError, match=r"is_private\(\) expects a string"):
        is_private(2130706433)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "private"),
    [
        ("http://169.254.169.254/latest/meta-data/", True),
        ("http://[::ffff:a9fe:a9fe]/", True),
        ("http://0xa9.0xfe.0xa9.0xfe/", True),
        ("http://2852039166/", True),
        ("http://metadata.google.internal./computeMetadata/v1/", True),
        ("http://good.test@127.0.0.1:22/", True),
        ("http://LOCALHOST:8080/", True),
        ("http://[fd00::1]/", True),
        ("http://0/", True),
        ("https://evil.test/", False),
        ("http://good.test@93.184.216.34/", False),
    ],
)
def test_is_private_of_host(url: str, private: bool) -> None:
    assert is_private(host(url)) is private

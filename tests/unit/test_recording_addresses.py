"""The recording-download address filter: IPv6 forms that lead to a private IPv4 host
(NAT64, 6to4, IPv4-mapped) are judged by that host; tunnels it cannot judge are refused."""

from __future__ import annotations

import ipaddress

import pytest

from callpath.services import recording_fetch as fetch

REFUSED = [
    "64:ff9b::a9fe:a9fe",  # NAT64 well-known prefix -> 169.254.169.254 (cloud metadata)
    "64:ff9b::7f00:1",  # -> 127.0.0.1
    "64:ff9b::a00:1",  # -> 10.0.0.1
    "64:ff9b::c0a8:101",  # -> 192.168.1.1
    "64:ff9b::6440:1",  # -> 100.64.0.1 (carrier-grade NAT)
    "64:ff9b:1::808:808",  # local-use NAT64: whatever the site's translator maps
    "64:ff9b:1:ffff::1",
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "::10.0.0.1",  # IPv4-compatible (deprecated)
    "::8.8.8.8",
    "::1",
    "fe80::1",
    "fc00::1",
    "ff0e::1",  # multicast
    "224.0.0.1",
    "10.0.0.1",
    "169.254.169.254",
]
ALLOWED = [
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8: how an IPv6-only network reaches the world
    "2002:808:808::1",  # 6to4 of a public address
    "::ffff:8.8.8.8",
    "8.8.8.8",
    "2a00:1450:4010:c0e::8a",
]


@pytest.mark.parametrize("text", REFUSED)
def test_addresses_leading_to_private_hosts_are_refused(text: str) -> None:
    assert not fetch.is_public(ipaddress.ip_address(text))
    with pytest.raises(fetch.FetchError, match="refused") as raised:
        fetch.check_address(
            f"https://[{text}]/r.mp3" if ":" in text else f"https://{text}/r", allow_private=False
        )
    assert raised.value.permanent


@pytest.mark.parametrize("text", ALLOWED)
def test_public_addresses_pass(text: str) -> None:
    assert fetch.is_public(ipaddress.ip_address(text))
    fetch.check_address(
        f"https://[{text}]/r.mp3" if ":" in text else f"https://{text}/r", allow_private=False
    )


def test_allow_private_lets_a_nat64_address_through() -> None:
    fetch.check_address("https://[64:ff9b::a00:1]/r.mp3", allow_private=True)

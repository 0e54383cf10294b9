"""Which network addresses callpath may send to on its own: global unicast only.

IPv6 addresses that carry an IPv4 address (IPv4-mapped, NAT64's 64:ff9b::/96, 6to4) are
judged by that IPv4 address: a NAT64 gateway would carry `64:ff9b::a9fe:a9fe` to
169.254.169.254. Prefixes whose target cannot be judged (local-use NAT64 64:ff9b:1::/48,
Teredo, the deprecated IPv4-compatible ::/96) are refused. Used for recordings' downloads
and for every outbound delivery.
"""

from __future__ import annotations

import ipaddress

# RFC 6052 well-known NAT64 prefix: the IPv4 address is the last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_REFUSED_V6 = (
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # RFC 8215 local-use NAT64: any mapping at all
    ipaddress.IPv6Network("2001::/32"),  # Teredo: tunnels to an IPv4 host
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated), ::, ::1
)


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Global unicast, judged by the IPv4 address inside an IPv6 one that embeds it."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            return is_public(inner)
        if any(address in net for net in _REFUSED_V6):
            return False
    return address.is_global and not address.is_multicast


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64 (well-known prefix) or 6to4 address leads to."""
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.ipv4_mapped or address.sixtofour

"""Addresses as the model reads and writes them: special-purpose kinds, and the text of a
network as users write it.

Standard library only, so the prober can be bundled into the Ansible collection
(``scripts/build-collection.py``) and run on a managed host that has nothing but Python.
"""

from __future__ import annotations

import ipaddress
import socket
from enum import StrEnum

__all__ = ["SpecialAddress", "network_text", "special_kind"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SpecialAddress(StrEnum):
    """Kinds of address that name no single machine to reach: refused in a host's addresses
    unless the host says it means one (``special: [multicast]``), and never probed."""

    UNSPECIFIED = "unspecified"  #: 0.0.0.0 or :: (as a bare address, not 0.0.0.0/0)
    BROADCAST = "broadcast"  #: 255.255.255.255
    MULTICAST = "multicast"  #: 224.0.0.0/4, ff00::/8
    IPV4_MAPPED = "ipv4-mapped"  #: ::ffff:0:0/96, an IPv4 address in IPv6 clothing


_ALL_ONES_V4 = 0xFFFF_FFFF


def special_kind(network: _Network) -> SpecialAddress | None:
    """The kind of special-purpose address ``network`` is (or lies in), if any.

    Worked out on the address as an integer (a deployment of 50,000 hosts asks 50,000 times):
    a network lies in a range when its prefix is at least the range's and its leading bits
    are the range's.
    """
    address, prefix = int(network.network_address), network.prefixlen
    if network.version == 4:
        if prefix == 32 and address == 0:
            return SpecialAddress.UNSPECIFIED
        if prefix == 32 and address == _ALL_ONES_V4:
            return SpecialAddress.BROADCAST
        if prefix >= 4 and address >> 28 == 0xE:  # 224.0.0.0/4
            return SpecialAddress.MULTICAST
        return None
    if prefix == 128 and address == 0:
        return SpecialAddress.UNSPECIFIED
    if prefix >= 8 and address >> 120 == 0xFF:  # ff00::/8
        return SpecialAddress.MULTICAST
    if prefix >= 96 and address >> 32 == 0xFFFF:  # ::ffff:0:0/96
        return SpecialAddress.IPV4_MAPPED
    return None


def network_text(value: _Network) -> str:
    """``value`` as users write it: a single address without its prefix length.

    The text is the standard library's (RFC 5952 for IPv6).  An IPv6 address is written by the
    C library's ``inet_ntop``, which follows the same rules 8 times faster (a matrix of 50,000
    clients writes 50,000 of them), except where it writes the last 32 bits as IPv4
    (``::ffff:192.0.2.1``): those are left to the standard library.
    """
    address = value.network_address
    if value.version == 6:
        text = socket.inet_ntop(socket.AF_INET6, address.packed)
        if "." in text:
            text = str(address)
    else:
        text = str(address)
    return text if value.max_prefixlen == value.prefixlen else f"{text}/{value.prefixlen}"

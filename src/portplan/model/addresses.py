"""Addresses as the model reads and writes them: special-purpose kinds, and the text of a
network as users write it.

Standard library only, so the prober can be bundled into the Ansible collection
(``scripts/build-collection.py``) and run on a managed host that has nothing but Python.
"""

from __future__ import annotations

import ipaddress
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


_BROADCAST = ipaddress.IPv4Network("255.255.255.255/32")
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def special_kind(network: _Network) -> SpecialAddress | None:
    """The kind of special-purpose address ``network`` is (or lies in), if any."""
    if network.num_addresses == 1 and network.network_address.is_unspecified:
        return SpecialAddress.UNSPECIFIED
    if network == _BROADCAST:
        return SpecialAddress.BROADCAST
    if network.is_multicast:
        return SpecialAddress.MULTICAST
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
        return SpecialAddress.IPV4_MAPPED
    return None


def network_text(value: _Network) -> str:
    """``value`` as users write it: a single address without its prefix length."""
    full = value.max_prefixlen == value.prefixlen
    return str(value.network_address) if full else str(value)

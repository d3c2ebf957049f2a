"""The transport protocol of a flow: the one model type the prober needs.

Standard library only, so the prober can be bundled into the Ansible collection
(``scripts/build-collection.py``) and run on a managed host that has nothing but Python.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Protocol"]


class Protocol(StrEnum):
    """Protocol of a flow: a transport with ports, or ICMP (ICMPv6 for IPv6) with types."""

    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"

    @property
    def has_ports(self) -> bool:
        return self is not Protocol.ICMP

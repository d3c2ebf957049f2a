"""The values of iptables options the audit reads exactly: destination ports (``--dport``,
``--dports``) and ICMP types (``--icmp-type``, ``--icmpv6-type``), names included, each
checked as it is read: a value iptables would refuse is an error, never a silent range."""

from __future__ import annotations

import re

from portplan._errors import AuditError
from portplan._text import shown
from portplan.audit._input import port_span
from portplan.audit._match import ICMP_TYPES, ICMPV6_TYPES, icmp_ranges
from portplan.spaces import Ranges

__all__ = ["HELPER", "PASSIVE_TARGETS", "Unreadable", "icmp_types", "port_list"]

_BYTE = 255
_BYTE_DIGITS = 3
_ICMP_NAMES = {
    **{name: (number, None) for name, number in ICMP_TYPES.items()},
    "any": (None, None),
    "ping": (8, None),
    "pong": (0, None),
    "echo-request": (8, None),
    "network-unreachable": (3, 0),
    "host-unreachable": (3, 1),
    "protocol-unreachable": (3, 2),
    "port-unreachable": (3, 3),
    "fragmentation-needed": (3, 4),
    "network-prohibited": (3, 9),
    "host-prohibited": (3, 10),
    "communication-prohibited": (3, 13),
}
_ICMPV6_NAMES = {
    **{name: (number, None) for name, number in ICMPV6_TYPES.items()},
    "router-solicitation": (133, None),
    "router-advertisement": (134, None),
    "neighbour-solicitation": (135, None),
    "neighbor-solicitation": (135, None),
    "neighbour-advertisement": (136, None),
    "neighbor-advertisement": (136, None),
    "redirect": (137, None),
    "ping": (128, None),
    "pong": (129, None),
}


#: targets that change or record a packet and let it go on to the next rule (also as
#: iptables-nft's ``xt`` statements in nftables)
PASSIVE_TARGETS = frozenset(
    {
        "AUDIT", "CHECKSUM", "CLASSIFY", "CONNMARK", "CONNSECMARK", "CT", "DSCP", "ECN", "HL",
        "HMARK", "IDLETIMER", "LED", "LOG", "MARK", "NFLOG", "NOTRACK", "RATEEST", "SECMARK",
        "SET", "TCPMSS", "TCPOPTSTRIP", "TEE", "TOS", "TRACE", "TTL", "ULOG",
    }
)  # fmt: skip


#: a rule that gives connections a conntrack helper (``-j CT --helper ftp``): the connection
#: the helper expects (an FTP data connection, to the port the server names) begins RELATED
HELPER = re.compile(r"(?:-j|--jump) CT\b[^\n]*--helper\b")


class Unreadable(Exception):
    """A value the audit cannot turn into a set exactly."""


def port_list(text: str) -> Ranges:
    """``--dport``/``--dports``: ``PORT``, ``LOW:HIGH``, comma lists, each checked."""
    found = Ranges()
    for item in text.split(","):
        low, _, high = item.partition(":")
        if not low.isdigit() or (high and not high.isdigit()):
            raise Unreadable(f"port {item}")
        found = found | port_span(low, high or low)
    return found


def icmp_types(text: str, v6: bool) -> Ranges:
    """``--icmp-type``/``--icmpv6-type``: a name, ``TYPE`` or ``TYPE/CODE`` (each 0-255)."""
    names = _ICMPV6_NAMES if v6 else _ICMP_NAMES
    if text in names:
        kind, code = names[text]
    else:
        first, _, second = text.partition("/")
        if not first.isdigit() or (second and not second.isdigit()):
            raise Unreadable(f"icmp type {text}")
        if max(len(first), len(second)) > _BYTE_DIGITS or max(int(first), int(second or 0)) > _BYTE:
            raise AuditError(f"ICMP type {shown(text, 20)}: types and codes are 0-255")
        kind, code = int(first), int(second) if second else None
    if kind is None:
        return Ranges.span(0, 65535)
    return icmp_ranges(Ranges.point(kind), None if code is None else Ranges.point(code))

"""The IPv6 link traffic portplan's host rulesets accept ahead of the plan's rules, which IPv6
needs to keep working: it is never ``extra``, and a rule that accepts only it is not named
``unreadable`` for the hop limit or source port the audit does not read.

* neighbour discovery: router and neighbour solicitations and advertisements (ICMPv6 types
  133-136), from and to anywhere (the rulesets: hop limit 255 only);
* multicast listener queries (ICMPv6 type 130, RFC 3810) from a link-local address (the
  rulesets: hop limit 1 only): a host that never answers them drops out of the multicast
  groups an MLD-snooping switch forwards to it, its solicited-node group too, and stops
  hearing the neighbour solicitations for its own addresses;
* DHCPv6 replies (UDP to port 546, RFC 8415) from a link-local address (the rulesets: from
  port 547 only): the client asks a multicast address (``ff02::1:2``), so conntrack never sees
  the unicast reply as one;
* and, with egress, what the host sends on its link itself: its multicast listener reports
  (MLDv2 reports, ICMPv6 143, to ``ff02::16``; MLDv1 reports, 131, to a multicast address, the
  group's; MLDv1 dones, 132, to ``ff02::2``) from a link-local address or, during duplicate
  address detection, from ``::`` (the rulesets: hop limit 1 only), and its DHCPv6 client's
  requests (UDP to port 547 of ``ff02::1:2``) from a link-local address (the rulesets: from
  port 546 only).
"""

from __future__ import annotations

import ipaddress

from portplan.audit._match import icmp_ranges
from portplan.spaces import ICMPV6, UDP, Ranges, Space, address_span

__all__ = [
    "DHCPV6_REPLIES",
    "DHCPV6_REQUESTS",
    "INFRASTRUCTURE",
    "MLD_QUERIES",
    "MLD_REPORTS",
    "NEIGHBOUR_DISCOVERY",
]


def _span(network: str) -> Ranges:
    return address_span(ipaddress.IPv6Network(network))


_LINK_LOCAL = _span("fe80::/10")

#: IPv6 neighbour discovery: router and neighbour solicitations and advertisements
NEIGHBOUR_DISCOVERY = Space.of(
    6, protocols=Ranges.point(ICMPV6), ports=icmp_ranges(Ranges.span(133, 136))
)
#: multicast listener queries from a link-local address
MLD_QUERIES = Space.of(
    6,
    sources=_LINK_LOCAL,
    protocols=Ranges.point(ICMPV6),
    ports=icmp_ranges(Ranges.point(130)),
)
#: DHCPv6 replies to the client's port from a link-local address
DHCPV6_REPLIES = Space.of(
    6, sources=_LINK_LOCAL, protocols=Ranges.point(UDP), ports=Ranges.point(546)
)


def _reports() -> Space:
    found = Space.empty()
    for icmp_type, destination in ((143, "ff02::16/128"), (131, "ff00::/8"), (132, "ff02::2/128")):
        found |= Space.of(
            6,
            sources=_LINK_LOCAL | _span("::/128"),
            destinations=_span(destination),
            protocols=Ranges.point(ICMPV6),
            ports=icmp_ranges(Ranges.point(icmp_type)),
        )
    return found


#: multicast listener reports, each type to its destination, from a link-local address or ``::``
MLD_REPORTS = _reports()
#: DHCPv6 requests to the servers of the link from a link-local address
DHCPV6_REQUESTS = Space.of(
    6,
    sources=_LINK_LOCAL,
    destinations=_span("ff02::1:2/128"),
    protocols=Ranges.point(UDP),
    ports=Ranges.point(547),
)
#: all of it
INFRASTRUCTURE = NEIGHBOUR_DISCOVERY | MLD_QUERIES | DHCPV6_REPLIES | MLD_REPORTS | DHCPV6_REQUESTS

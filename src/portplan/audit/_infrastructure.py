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
  the unicast reply as one.
"""

from __future__ import annotations

import ipaddress

from portplan.audit._match import icmp_ranges
from portplan.spaces import ICMPV6, UDP, Ranges, Space, address_span

__all__ = ["DHCPV6_REPLIES", "INFRASTRUCTURE", "MLD_QUERIES", "NEIGHBOUR_DISCOVERY"]

_LINK_LOCAL = address_span(ipaddress.IPv6Network("fe80::/10"))

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
#: all of it
INFRASTRUCTURE = NEIGHBOUR_DISCOVERY | MLD_QUERIES | DHCPV6_REPLIES

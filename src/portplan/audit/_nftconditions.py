"""nftables conditions read into what a rule matches (:class:`~._match.MatchBuilder`).

The values a condition compares against (addresses, prefixes, ranges, numbers and names, and
the named sets and verdict maps of the ruleset) and the conditions themselves: ``ip``/``ip6``
headers, transport ports, ICMP types and codes, ``meta`` keys and ``ct state``.  A value or
condition it cannot read exactly raises :class:`~._nftshape.Unreadable`, which makes only that
rule unreadable; the rules and chains around them are read by :mod:`.nftables`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from portplan._errors import AuditError, PortplanError
from portplan.audit import _nftshape as _shape
from portplan.audit._input import MALFORMED
from portplan.audit._match import ICMP_TYPES, ICMPV6_TYPES, MatchBuilder, icmp_ranges
from portplan.audit._nftshape import Unreadable as _Unreadable
from portplan.audit._nftshape import flags
from portplan.audit._nftshape import text_of as _text
from portplan.audit._rules import Interface
from portplan.spaces import ALL_PORTS, PORTED, PROTOCOL_NUMBERS, Ranges, address_span

__all__ = ["PORT_PROTOCOLS", "Conditions"]

#: protocols whose destination port a ``<protocol> dport`` condition reads, by number
PORT_PROTOCOLS = {"tcp": 6, "udp": 17, "dccp": 33, "sctp": 132, "udplite": 136}


class Conditions:
    """The named sets and verdict maps of a ruleset, and the conditions of its rules."""

    def __init__(self, items: list[dict[str, Any]], where: str) -> None:
        self.items = items
        self.file = where
        self.sets: dict[tuple[str, str, str], tuple[str, Ranges | None]] = {}
        #: verdict maps: their (key, verdict) entries, or None when they change as packets pass
        self.maps: dict[tuple[str, str, str], list[Any] | None] = {}
        self.changed = _shape.changed_by_rules(items)  #: sets and maps the rules add to

    # -- values ---------------------------------------------------------------------------

    def _elements(self, value: Any) -> list[Any]:
        """The members of a set, a list or a single value (set elements without their
        timeouts and comments)."""
        if isinstance(value, dict) and "set" in value:
            items = list(value["set"])
        elif isinstance(value, list):
            items = value
        else:
            items = [value]
        return [i["elem"]["val"] if isinstance(i, dict) and "elem" in i else i for i in items]

    def _address(self, value: Any, family: int, table: tuple[str, str]) -> Ranges:
        found = Ranges()
        for item in self._elements(value):
            if isinstance(item, str) and item.startswith("@"):
                found = found | self._named(item[1:], table, f"ipv{family}_addr")
                continue
            try:
                if isinstance(item, str):
                    nets = [ipaddress.ip_network(item)]
                elif isinstance(item, dict) and "prefix" in item:
                    prefix = item["prefix"]
                    nets = [ipaddress.ip_network(f"{prefix['addr']}/{prefix['len']}", strict=False)]
                elif isinstance(item, dict) and "range" in item:
                    low, high = (ipaddress.ip_address(v) for v in item["range"])
                    nets = list(ipaddress.summarize_address_range(low, high))
                else:
                    raise _Unreadable(f"address {_text(item)}")
            except (ValueError, TypeError, KeyError) as exc:
                raise _Unreadable(f"address {_text(item)} ({exc})") from None
            for net in nets:
                if net.version != family:
                    raise _Unreadable(f"address {_text(item)} of another family")
                found = found | address_span(net)
        return found

    def _numbers(
        self, value: Any, table: tuple[str, str], kind: str, names: dict[str, int]
    ) -> Ranges:
        found = Ranges()
        for item in self._elements(value):
            if isinstance(item, bool):
                raise _Unreadable(str(item))
            if isinstance(item, int):
                found = found | Ranges.point(item)
            elif isinstance(item, str) and item.startswith("@"):
                found = found | self._named(item[1:], table, kind)
            elif isinstance(item, str) and item in names:
                found = found | Ranges.point(names[item])
            elif isinstance(item, dict) and "range" in item:
                low, high = (self._numbers(v, table, kind, names).low for v in item["range"])
                found = found | Ranges.span(low, high)
            else:
                raise _Unreadable(f"value {_text(item)}")
        return found

    def _named(self, name: str, table: tuple[str, str], kind: str) -> Ranges:
        found = self.sets.get((*table, name))
        if found is None:
            raise AuditError(f"{self.file}: a rule names set @{name}, which table {table} lacks")
        set_kind, members = found
        if members is None:
            raise _Unreadable(f"set @{name} (its members change as packets pass)")
        if set_kind != kind:
            raise _Unreadable(f"set @{name} of type {set_kind} where {kind} is compared")
        return members

    def read_set(self, body: dict[str, Any]) -> None:
        table = (body["family"], body["table"])
        kind = body.get("type")
        key = (*table, body["name"])
        if not isinstance(kind, str) or flags(body) & {"dynamic", "timeout"} or key in self.changed:
            self.sets[key] = (str(kind), None)
            return
        elements = body.get("elem", [])
        self.sets[key] = (kind, None)  # while reading it, in case it names itself
        try:
            if kind in ("ipv4_addr", "ipv6_addr"):
                members = self._address(elements, 4 if kind == "ipv4_addr" else 6, table)
            elif kind == "inet_service":
                members = self._numbers(elements, table, kind, {})
            elif kind == "inet_proto":
                members = self._numbers(elements, table, kind, PROTOCOL_NUMBERS)
            else:
                return
        except PortplanError:
            raise
        except (_Unreadable, *MALFORMED):
            return  # members it cannot read: rules that use the set are unreadable
        self.sets[key] = (kind, members)

    def read_map(self, body: dict[str, Any]) -> None:
        if body.get("map") != "verdict":
            return  # a map to addresses or marks: used by rewrites, which are reported anyway
        key = (body["family"], body["table"], body["name"])
        self.maps[key] = (
            None
            if flags(body) & {"dynamic", "timeout"} or key in self.changed
            else list(body.get("elem", []))
        )

    # -- conditions -----------------------------------------------------------------------

    def condition(self, match: dict[str, Any], built: MatchBuilder, table: tuple[str, str]) -> None:
        op = match.get("op", "==")
        left, right = match.get("left"), match.get("right")
        negate = op == "!="
        if op in ("<", ">", "<=", ">="):
            right = {"range": _comparison(op, right)}
            negate = False
        elif op not in ("==", "!=", "in"):
            raise _Unreadable(f"operator {op}")
        if not isinstance(left, dict):
            raise _Unreadable(_text(left))
        if "payload" in left:
            self._payload(left["payload"], right, negate, built, table)
        elif "meta" in left:
            self._meta(left["meta"].get("key"), right, negate, built, table)
        elif "ct" in left and left["ct"].get("key") == "state" and "dir" not in left["ct"]:
            states = {str(v) for v in self._elements(right)}
            text = f"ct state {'!= ' if negate else ''}{_text(right)}"
            built.states(states, negate=negate, text=text)
        else:
            raise _Unreadable(_text(left))

    def _payload(
        self,
        payload: dict[str, Any],
        right: Any,
        negate: bool,
        built: MatchBuilder,
        table: tuple[str, str],
    ) -> None:
        protocol, field = payload.get("protocol"), payload.get("field")
        if protocol in ("ip", "icmp") or protocol in ("ip6", "icmpv6"):
            # nft adds the family these headers imply (meta nfproto) to the rule itself
            built.family(4 if protocol in ("ip", "icmp") else 6)
        if protocol in ("ip", "ip6") and field in ("saddr", "daddr"):
            family = 4 if protocol == "ip" else 6
            side = "source" if field == "saddr" else "destination"
            built.addresses(family, side, self._address(right, family, table), negate=negate)
        elif (protocol, field) in (("ip", "protocol"), ("ip6", "nexthdr")):
            built.family(4 if protocol == "ip" else 6)
            numbers = self._numbers(right, table, "inet_proto", PROTOCOL_NUMBERS)
            built.protocol(numbers, negate=negate)
        elif protocol in PORT_PROTOCOLS and field == "dport":
            ports = self._numbers(right, table, "inet_service", {})
            built.destination_ports(Ranges.point(PORT_PROTOCOLS[protocol]), ports, negate=negate)
        elif protocol == "th" and field == "dport":
            if not built.protocols.issubset(PORTED):
                raise _Unreadable("th dport without meta l4proto naming ported protocols first")
            ports = self._numbers(right, table, "inet_service", {})
            built.destination_ports(None, ports, negate=negate)
        elif protocol == "arp":
            built.never = True  # an ARP header: no IP packet has one
        elif protocol in ("icmp", "icmpv6") and field in ("type", "code"):
            number = 1 if protocol == "icmp" else 58
            names = ICMP_TYPES if protocol == "icmp" else ICMPV6_TYPES
            values = self._numbers(right, table, "icmp_type", names)
            kinds = icmp_ranges(values) if field == "type" else _codes(values)
            built.icmp_types(number, kinds, negate=negate)
        else:
            raise _Unreadable(f"{protocol} {field}")

    def _meta(
        self,
        key: Any,
        right: Any,
        negate: bool,
        built: MatchBuilder,
        table: tuple[str, str],
    ) -> None:
        if key == "l4proto":
            built.protocol(
                self._numbers(right, table, "inet_proto", PROTOCOL_NUMBERS), negate=negate
            )
        elif key in ("nfproto", "protocol"):
            # the IP family, or in a netdev or bridge chain the frame's EtherType
            names = {str(v) for v in self._elements(right)}
            if not names <= {"ipv4", "ipv6", "ip", "ip6", "arp"}:
                raise _Unreadable(f"meta {key} {_text(right)}")
            families = {4 if n in ("ipv4", "ip") else 6 for n in names if n != "arp"}
            for family in (4, 6):
                if (family in families) == negate:
                    built.families.discard(family)
        elif key in ("iif", "oif", "iifname", "oifname"):
            names = {str(v) for v in self._elements(right)}
            outgoing = key in ("oif", "oifname")
            if names == {"lo"}:
                built.on_interface(
                    Interface.NOT_LOOPBACK if negate else Interface.LOOPBACK, outgoing=outgoing
                )
            elif "lo" not in names and not any("*" in n for n in names):
                built.on_interface(
                    Interface.NOT_OTHER if negate else Interface.OTHER, outgoing=outgoing
                )
                built.unreadable.append(f"{key} {'!= ' if negate else ''}{_text(right)}")
            else:
                raise _Unreadable(f"{key} {_text(right)}")
        else:
            raise _Unreadable(f"meta {key}")


def _comparison(op: str, value: Any) -> list[int]:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Unreadable(f"{op} {_text(value)}")
    return {
        "<": [0, value - 1],
        "<=": [0, value],
        ">": [value + 1, 65535],
        ">=": [value, 65535],
    }[op]


def _codes(codes: Ranges) -> Ranges:
    """ICMP codes of every type."""
    return Ranges.of((t * 256 + a, t * 256 + b) for t in range(256) for a, b in codes) & ALL_PORTS

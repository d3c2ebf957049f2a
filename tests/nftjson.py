"""A small interpreter for the kernel's view of a portplan nftables ruleset (``nft -j``).

It evaluates the base chains of a ruleset, as ``nft -j list ruleset`` prints them after the
kernel has accepted the file, for a new connection: IPv4 or IPv6, TCP or UDP, a destination
port, and the interface it comes in on (input) or goes out of (output).  It understands exactly
the statements portplan writes: ``ip``/``ip6`` ``saddr``/``daddr`` against an address, a prefix,
a range, a set or a named set; ``tcp``/``udp dport`` (and ``sport``, of the DHCPv6 replies
rule) against a port, a range or a set; ``ct state``; ``meta iif``/``oif``/``l4proto``; the
neighbour-discovery and multicast listener query rules (``icmpv6 type``, ``ip6 hoplimit``);
and the verdicts ``accept``, ``drop`` and ``reject``.  Anything else raises
:class:`Unsupported`, so a statement it does not know can never pass unnoticed.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

TERMINAL = ("accept", "drop", "reject")


class Unsupported(ValueError):
    """The ruleset holds something the interpreter does not understand."""


@dataclass(frozen=True, slots=True)
class Packet:
    """The first packet of a new connection, as a base chain sees it."""

    source: Address
    destination: Address
    protocol: str  #: ``tcp`` or ``udp``
    port: int  #: destination port
    interface: str = "eth0"  #: ``iif`` in the input hook, ``oif`` in the output hook
    ct_state: str = "new"
    hoplimit: int = 64
    sport: int = 40000  #: source port: an ephemeral one, as a client's connection has

    @property
    def family(self) -> int:
        return self.source.version


Member = Callable[[Any], bool]  #: membership in a named set (of addresses or of ports)


def _address_matcher(value: Any, sets: dict[str, Member]) -> Callable[[Address], bool]:
    if isinstance(value, str):
        if value.startswith("@"):
            if value[1:] not in sets:
                raise Unsupported(f"unknown set {value}")
            return sets[value[1:]]
        single = ipaddress.ip_address(value)
        return lambda a: a == single
    if isinstance(value, dict):
        if "prefix" in value:
            net = ipaddress.ip_network(f"{value['prefix']['addr']}/{value['prefix']['len']}")
            return lambda a: a.version == net.version and a in net
        if "range" in value:
            low, high = (ipaddress.ip_address(v) for v in value["range"])
            return lambda a: a.version == low.version and int(low) <= int(a) <= int(high)
        if "set" in value:
            members = [_address_matcher(v, sets) for v in value["set"]]
            return lambda a: any(m(a) for m in members)
    raise Unsupported(f"address match against {value!r}")


def _port_matcher(value: Any, sets: dict[str, Member]) -> Callable[[int], bool]:
    if isinstance(value, bool):
        raise Unsupported(f"port {value!r}")
    if isinstance(value, int):
        return lambda p: p == value
    if isinstance(value, str) and value.startswith("@"):
        if value[1:] not in sets:
            raise Unsupported(f"unknown set {value}")
        return sets[value[1:]]
    if isinstance(value, dict):
        if "range" in value:
            low, high = value["range"]
            if not (isinstance(low, int) and isinstance(high, int)):
                raise Unsupported(f"port range {value!r}")
            return lambda p: low <= p <= high
        if "set" in value:
            members = [_port_matcher(v, sets) for v in value["set"]]
            return lambda p: any(m(p) for m in members)
    raise Unsupported(f"port match against {value!r}")


def _names(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return set(value)
    if isinstance(value, dict) and "set" in value:
        return _names(value["set"])
    raise Unsupported(f"name match against {value!r}")


@dataclass(frozen=True, slots=True)
class Condition:
    """One test on one field of a packet; a rule's match is the conjunction of its conditions."""

    field: str  #: a :class:`Packet` attribute
    test: Member

    def __call__(self, packet: Packet) -> bool:
        return self.test(getattr(packet, self.field))


def _version(version: int) -> Condition:
    return Condition("source", lambda a: a.version == version)


def _match(expr: dict[str, Any], sets: dict[str, Member]) -> list[Condition]:
    """The conditions of one ``match`` (several when it implies a protocol or a family)."""
    op = expr.get("op")
    left, right = expr.get("left"), expr.get("right")
    if op not in ("==", "in"):
        raise Unsupported(f"match operator {op!r}")
    if not isinstance(left, dict):
        raise Unsupported(f"match on {left!r}")
    if "payload" in left:
        proto, fld = left["payload"].get("protocol"), left["payload"].get("field")
        if proto in ("ip", "ip6") and fld in ("saddr", "daddr"):
            version = 4 if proto == "ip" else 6
            addresses = _address_matcher(right, sets)
            where = "source" if fld == "saddr" else "destination"
            # `ip saddr` only matches IPv4 packets (nft adds the family test implicitly)
            return [_version(version), Condition(where, addresses)]
        if proto in ("tcp", "udp") and fld in ("dport", "sport"):
            ports = _port_matcher(right, sets)
            where = "port" if fld == "dport" else "sport"
            return [Condition("protocol", lambda p: p == proto), Condition(where, ports)]
        if proto in ("icmp", "icmpv6") and fld == "type":
            _names(right)  # any ICMP type: never a TCP or UDP packet
            return [Condition("protocol", lambda p: p == proto)]
        if proto == "ip6" and fld == "hoplimit" and isinstance(right, int):
            return [_version(6), Condition("hoplimit", lambda h: h == right)]
    if left.get("ct", {}).get("key") == "state":
        states = _names(right)
        return [Condition("ct_state", lambda c: c in states)]
    meta = left.get("meta", {}).get("key")
    if meta in ("iif", "oif", "iifname", "oifname"):
        interfaces = _names(right)
        return [Condition("interface", lambda i: i in interfaces)]
    if meta == "l4proto":
        protocols = _names(right)
        return [Condition("protocol", lambda p: p in protocols)]
    raise Unsupported(f"match on {left!r}")


@dataclass(frozen=True, slots=True)
class Rule:
    conditions: tuple[Condition, ...]
    verdict: str | None  #: ``accept``, ``drop``, ``reject``, or None (no verdict: goes on)
    text: str


def _rule(exprs: Sequence[dict[str, Any]], sets: dict[str, Member]) -> Rule:
    conditions: list[Condition] = []
    verdict: str | None = None
    for expr in exprs:
        if verdict is not None:
            raise Unsupported(f"statement after the verdict: {expr!r}")
        (kind,) = expr.keys()
        if kind == "match":
            conditions.extend(_match(expr["match"], sets))
        elif kind in TERMINAL:
            verdict = kind
        else:
            raise Unsupported(f"statement {kind!r}")
    return Rule(tuple(conditions), verdict, json.dumps(exprs))


@dataclass(frozen=True, slots=True)
class Chain:
    name: str
    hook: str
    policy: str
    rules: tuple[Rule, ...]

    def verdict(self, packet: Packet) -> str:
        for rule in self.rules:
            if rule.verdict is not None and all(c(packet) for c in rule.conditions):
                return rule.verdict
        return self.policy


@dataclass(frozen=True, slots=True)
class Ruleset:
    """The base chains of a ruleset, by hook (``input``, ``output``)."""

    chains: dict[str, Chain]

    @classmethod
    def parse(cls, text: str) -> Ruleset:
        items = json.loads(text)["nftables"]
        sets: dict[str, Member] = {}
        chains: dict[str, dict[str, Any]] = {}
        rules: dict[str, list[Rule]] = {}
        tables = set()
        for item in items:
            (kind,) = item.keys()
            body = item[kind]
            if kind == "metainfo":
                continue
            if kind == "table":
                tables.add((body["family"], body["name"]))
            elif kind == "set":
                sets[body["name"]] = _set_predicate(body, sets)
            elif kind == "chain":
                chains[body["name"]] = body
                rules[body["name"]] = []
            elif kind == "rule":
                rules[body["chain"]].append(_rule(body["expr"], sets))
            else:
                raise Unsupported(f"ruleset object {kind!r}")
        if len(tables) > 1 or any(family != "inet" for family, _name in tables):
            raise Unsupported(f"tables {sorted(tables)}: expected one inet table")
        by_hook: dict[str, Chain] = {}
        for name, body in chains.items():
            hook = body.get("hook")
            if hook is None:
                raise Unsupported(f"regular chain {name!r} (portplan writes base chains only)")
            if hook in by_hook:
                raise Unsupported(f"two base chains on hook {hook}")
            if body.get("type") != "filter" or body.get("prio") != 0:
                raise Unsupported(f"chain {name}: {body.get('type')} priority {body.get('prio')}")
            by_hook[hook] = Chain(name, hook, body.get("policy", "accept"), tuple(rules[name]))
        return cls(by_hook)

    def conditions(self) -> list[Condition]:
        """Every condition of every rule, for callers that group packets by what they match."""
        return [c for chain in self.chains.values() for r in chain.rules for c in r.conditions]

    def allows(self, hook: str, packet: Packet) -> bool:
        """Whether the chain on ``hook`` accepts the packet (no chain there: it does)."""
        chain = self.chains.get(hook)
        return chain is None or chain.verdict(packet) == "accept"


def _set_predicate(body: dict[str, Any], sets: dict[str, Member]) -> Member:
    kind = body.get("type")
    elements = body.get("elem", [])
    if kind in ("ipv4_addr", "ipv6_addr"):
        version = 4 if kind == "ipv4_addr" else 6
        matcher = _address_matcher({"set": elements}, sets)
        return lambda a: isinstance(a, Address) and a.version == version and matcher(a)
    if kind == "inet_service":
        ports = _port_matcher({"set": elements}, sets)
        return lambda p: isinstance(p, int) and ports(p)
    raise Unsupported(f"set {body.get('name')} of type {kind!r}")

"""nftables rulesets, as ``nft -j list ruleset`` prints them, read into packet sets.

Every base chain on the way of a host's own traffic (:mod:`._nfthooks` says which) is read with
its rules, and every regular chain they jump to.  The conditions the audit models
are read exactly: ``ip``/``ip6`` ``saddr``/``daddr``, ``ip protocol``, ``ip6 nexthdr``,
``meta l4proto``, ``meta nfproto``, ``tcp``/``udp``/``sctp``/``dccp``/``udplite``/``th dport``,
``icmp``/``icmpv6`` ``type`` and ``code``, ``ct state`` (a new connection's first packet is in
state ``new``, or ``untracked`` after ``notrack``: an accept of untracked or invalid packets is
read at its widest), ``meta iif``/``oif``/``iifname``/``oifname`` against ``lo``; against
addresses, prefixes, ranges, anonymous and named sets, with ``==``, ``!=``, ``in`` and
comparisons; and verdict maps, anonymous and named (a named map whose entries change as packets
pass is unreadable: its rule may accept, or drop, all it could match).  Anything else (a rate
limit, a mark, a source port, a concatenated set, another interface, a statement from
iptables-nft) is named in the rule's ``unreadable`` list: the audit then bounds the result
instead of guessing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from portplan._errors import AuditError, PortplanError
from portplan.audit import _nftshape as _shape
from portplan.audit._input import MALFORMED, load_json
from portplan.audit._iptvalues import PASSIVE_TARGETS
from portplan.audit._match import ICMP_TYPES, ICMPV6_TYPES, MatchBuilder, icmp_ranges
from portplan.audit._nfthooks import FAMILIES, Place, conntrack_families, idle_tables, place
from portplan.audit._nftshape import Unreadable as _Unreadable
from portplan.audit._nftshape import check_document, flags, reason, rule_text
from portplan.audit._nftshape import text_of as _text
from portplan.audit._rules import Chain, Hook, Interface, Rule, Ruleset, Verdict
from portplan.spaces import ALL_PORTS, PORTED, PROTOCOL_NUMBERS, Ranges, address_span

__all__ = ["read_nftables_json"]

_PORT_PROTOCOLS = {"tcp": 6, "udp": 17, "dccp": 33, "sctp": 132, "udplite": 136}
_VERDICTS = {
    "accept": Verdict.ACCEPT,
    "drop": Verdict.DROP,
    "reject": Verdict.REJECT,
    "return": Verdict.RETURN,
    "jump": Verdict.JUMP,
    "goto": Verdict.GOTO,
}
#: statements that neither decide nor narrow what a rule matches (``notrack`` decides nothing
#: itself: a rule that accepts untracked packets is read at its widest)
_PASSIVE = frozenset({"counter", "log", "mangle", "notrack", "ct helper", "set", "flow"})


class _Reader:
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
        elif protocol in _PORT_PROTOCOLS and field == "dport":
            ports = self._numbers(right, table, "inet_service", {})
            built.destination_ports(Ranges.point(_PORT_PROTOCOLS[protocol]), ports, negate=negate)
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

    # -- rules and chains -----------------------------------------------------------------

    def rules(self, body: dict[str, Any], families: frozenset[int]) -> Iterator[Rule]:
        """The rule (several for a verdict map), with what it matches."""
        table = (body["family"], body["table"])
        exprs = body.get("expr", [])
        text = rule_text(exprs)
        where = (
            f"table {body['family']} {body['table']} chain {body['chain']} "
            f"handle {body.get('handle')}"
        )
        built = MatchBuilder(families)
        verdict, target = Verdict.NONE, None
        vmap: dict[str, Any] | None = None
        either = False
        for expr in exprs:
            (kind,) = expr.keys()
            value = expr[kind]
            if kind == "match":
                try:
                    self.condition(value, built, table)
                except PortplanError:
                    raise
                except (_Unreadable, *MALFORMED) as exc:
                    built.unreadable.append(reason(exc, value))
            elif kind in _VERDICTS:
                verdict = _VERDICTS[kind]
                target = value.get("target") if isinstance(value, dict) else None
            elif kind == "vmap":
                vmap = value
            elif (rewrite := _shape.rewritten(kind, value)) is not None:
                built.unreadable.append(rewrite)
                built.rewrites = True
                if kind in ("dnat", "redirect"):
                    verdict = Verdict.ACCEPT  # it ends its NAT chain, as an accept does
            elif kind in _PASSIVE:
                continue
            elif kind in ("snat", "masquerade"):
                verdict = Verdict.ACCEPT  # the source is rewritten; it ends its NAT chain
            elif kind == "xt" and _xt_passive(value):
                continue  # an iptables-nft target that lets the packet go on (-j MARK)
            elif kind == "xt" and isinstance(value, dict) and value.get("type") == "match":
                built.unreadable.append(f"xt match {_text(value.get('name'))}")
            elif kind == "xt":
                built.unreadable.append(f"xt {_text(value)}")
                either = True  # a target the audit does not know: it may accept or drop
            else:
                built.unreadable.append(kind)
                if kind == "queue":
                    verdict = Verdict.ACCEPT  # a program decides: it may let the packet on
        comment = body.get("comment")
        if vmap is None:
            verdicts = (Verdict.ACCEPT, Verdict.DROP) if either else (verdict,)
            for each in verdicts:
                built.settle(each)
            match = built.space()
            for each in verdicts:
                yield Rule(
                    where=where,
                    text=text,
                    comment=comment,
                    match=match,
                    verdict=each,
                    target=f"{table[0]} {table[1]} {target}" if target else None,
                    interface=built.interface,
                    out_interface=built.out_interface,
                    unreadable=tuple(built.unreadable),
                    rewrites=built.rewrites,
                )
            return
        yield from self._vmap(vmap, built, table, (where, text, comment))

    def _vmap(
        self,
        vmap: dict[str, Any],
        built: MatchBuilder,
        table: tuple[str, str],
        common: tuple[str, str, str | None],
    ) -> Iterator[Rule]:
        data = vmap.get("data")
        if isinstance(data, str) and data.startswith("@"):
            elements = self.maps.get((*table, data[1:]))
            if elements is None:
                # its entries are not known: it may accept, or drop, all the rule could match
                why = f"verdict map {data} (its entries are not in the ruleset, or change)"
                _key_implies(vmap.get("key"), built)
                built.unreadable.append(why)
                for guess in (Verdict.ACCEPT, Verdict.DROP):
                    yield _rule(common, f"any entry : {guess}", built, guess)
                return
        else:
            elements = data.get("set", []) if isinstance(data, dict) else []
        for element in elements:
            key, action = element
            (kind,) = action.keys()
            verdict = _VERDICTS.get(kind)
            clone = MatchBuilder(frozenset(built.families))
            clone.__dict__.update({k: v for k, v in built.__dict__.items() if k != "unreadable"})
            clone.unreadable = list(built.unreadable)
            clone.untracked = list(built.untracked)
            condition = {"op": "==", "left": vmap["key"], "right": key}
            try:
                self.condition(condition, clone, table)
            except PortplanError:
                raise
            except (_Unreadable, *MALFORMED) as exc:
                clone.unreadable.append(reason(exc, condition))
            if verdict is None:
                clone.unreadable.append(f"verdict map entry {kind}")
                verdict = Verdict.ACCEPT
            target = action[kind].get("target") if isinstance(action[kind], dict) else None
            chain = f"{table[0]} {table[1]} {target}" if target else None
            yield _rule(common, f"{_text(key)} : {kind}", clone, verdict, chain)


def _rule(
    common: tuple[str, str, str | None],
    entry: str,
    built: MatchBuilder,
    verdict: Verdict,
    target: str | None = None,
) -> Rule:
    """The rule of one entry of a verdict map."""
    where, text, comment = common
    built.settle(verdict)
    return Rule(
        where=where,
        text=f"{text} ({entry})",
        comment=comment,
        match=built.space(),
        verdict=verdict,
        target=target,
        interface=built.interface,
        out_interface=built.out_interface,
        unreadable=tuple(built.unreadable),
    )


def _xt_passive(value: Any) -> bool:
    """Whether an ``xt`` statement is an iptables target that decides nothing."""
    return (
        isinstance(value, dict)
        and value.get("type") == "target"
        and value.get("name") in PASSIVE_TARGETS
    )


def _key_implies(key: Any, built: MatchBuilder) -> None:
    """What a map's key says whatever its entries: ``tcp dport`` only looks at TCP, ``ip
    saddr`` only at IPv4 (nft adds these dependencies to the rule itself)."""
    payload = key.get("payload") if isinstance(key, dict) else None
    if not isinstance(payload, dict):
        return
    protocol = payload.get("protocol")
    if protocol in _PORT_PROTOCOLS:
        built.protocol(Ranges.point(_PORT_PROTOCOLS[protocol]))
    elif protocol in ("ip", "icmp", "ip6", "icmpv6"):
        built.family(4 if protocol in ("ip", "icmp") else 6)


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


def read_nftables_json(text: str, where: str) -> Ruleset:
    """The ruleset of ``nft -j list ruleset`` output; :class:`AuditError` if it is not one."""
    try:
        data = load_json(text)
    except ValueError as exc:
        raise AuditError(
            f"{where}: not the JSON of `nft -j list ruleset` ({exc}); collect it with "
            "`nft -j list ruleset > FILE`, or give a ruleset in nft's text as nft:FILE"
        ) from None
    items = check_document(data, where)
    reader = _Reader(items, where)
    ruleset = Ruleset(platform="nftables", files=(where,))
    chains: dict[tuple[str, str, str], Chain] = {}
    order: list[tuple[tuple[int, int], Hook, str]] = []
    for item in items:
        if "set" in item:
            reader.read_set(item["set"])
        elif "map" in item:
            reader.read_map(item["map"])
    conntrack, idle = conntrack_families(items), idle_tables(items)
    for item in items:
        body = item.get("chain")
        if body is None:
            continue
        family = body.get("family")
        key = f"{family} {body['table']} {body['name']}"
        chain = Chain(
            key=key,
            name=body["name"],
            families=FAMILIES.get(family, frozenset()),
            where=f"table {family} {body['table']} chain {body['name']}",
        )
        chains[(family, body["table"], body["name"])] = chain
        ruleset.chains[key] = chain
        if body.get("hook") is None:
            continue
        found = place(body, conntrack, idle)
        if isinstance(found, str):
            ruleset.notes.append(f"{found} is not read")
        if not isinstance(found, Place):
            continue
        chain.policy = Verdict.DROP if body.get("policy") == "drop" else Verdict.ACCEPT
        chain.sees_loopback, chain.sees_network = found.sees_loopback, found.sees_network
        chain.only = found.only
        # what its rules rewrite (dnat, or a stateless ip daddr set) later chains see as
        # packets to another address or port, or from another
        ruleset.rewriting.setdefault(found.hook, []).append(key)
        order.append((found.rank, found.hook, key))
    for _rank, hook, key in sorted(order, key=lambda o: o[0]):
        ruleset.paths.setdefault(hook, []).append(key)
    for item in items:
        body = item.get("rule")
        if body is None:
            continue
        owner = chains.get((body["family"], body["table"], body["chain"]))
        if owner is None:
            raise AuditError(f"{where}: a rule of chain {body['chain']} before the chain itself")
        owner.rules.extend(reader.rules(body, owner.families))
    return ruleset

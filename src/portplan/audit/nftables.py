"""nftables rulesets, as ``nft -j list ruleset`` prints them, read into packet sets.

Every base chain on the way of a host's own traffic (:mod:`._nfthooks` says which) is read with
its rules, and every regular chain they jump to. The conditions the audit models are read
exactly: ``ip``/``ip6`` ``saddr``/``daddr``, ``ip protocol``, ``ip6 nexthdr``, ``meta
l4proto``, ``meta nfproto``, ``tcp``/``udp``/``sctp``/``dccp``/``udplite``/``th dport``,
``icmp``/``icmpv6`` ``type`` and ``code``, ``ct state`` (a new connection's first packet is in
state ``new``, or ``untracked`` after ``notrack``: an accept of untracked or invalid packets is
read at its widest, and so is one of related packets where a rule gives connections a conntrack
helper, whose expected connections begin related), ``meta iif``/``oif``/``iifname``/``oifname``
against ``lo``; against addresses, prefixes, ranges, anonymous and named sets, with ``==``,
``!=``, ``in`` and comparisons; and verdict maps, anonymous and named (a named map whose
entries change as packets pass is unreadable: its rule may accept, or drop, all it could
match). Anything else (a rate limit, a mark, a source port, a concatenated set, another
interface, a statement from iptables-nft) is named in the rule's ``unreadable`` list: the audit
then bounds the result instead of guessing.

This module reads the chains, their rules and statements, and verdict maps into entries;
:mod:`._nftconditions` reads the conditions and the values they compare against.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from portplan._errors import AuditError, PortplanError
from portplan._tools import nft_cut_short
from portplan.audit import _nftshape as _shape
from portplan.audit._input import MALFORMED, load_json
from portplan.audit._iptvalues import PASSIVE_TARGETS
from portplan.audit._match import MatchBuilder
from portplan.audit._nftconditions import PORT_PROTOCOLS, Conditions
from portplan.audit._nfthooks import (
    DORMANT,
    FAMILIES,
    Place,
    conntrack_families,
    helper_families,
    idle_tables,
    place,
)
from portplan.audit._nftshape import Unreadable as _Unreadable
from portplan.audit._nftshape import check_document, reason, rule_text
from portplan.audit._nftshape import text_of as _text
from portplan.audit._rules import Chain, Hook, Rule, Ruleset, Verdict
from portplan.spaces import Ranges

__all__ = ["read_nftables_json"]

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


class _Reader(Conditions):
    """The rules of a ruleset, with what they match."""

    def __init__(self, items: list[dict[str, Any]], where: str) -> None:
        super().__init__(items, where)
        #: the tables (family, name) with a verdict map whose entries the audit cannot read:
        #: its rules may jump or go to any chain of the table
        self.unread_maps: set[tuple[str, str]] = set()
        #: the families whose connections a rule gives a conntrack helper or an expectation
        self.helpers = helper_families(items)

    def rules(self, body: dict[str, Any], families: frozenset[int]) -> Iterator[Rule]:
        """The rule (several for a verdict map), with what it matches."""
        table = (body["family"], body["table"])
        exprs = body.get("expr", [])
        text = rule_text(exprs)
        where = (
            f"table {body['family']} {body['table']} chain {body['chain']} "
            f"handle {body.get('handle')}"
        )
        built = MatchBuilder(families, helpers=bool(self.helpers & families))
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
                self.unread_maps.add(table)
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
    if protocol in PORT_PROTOCOLS:
        built.protocol(Ranges.point(PORT_PROTOCOLS[protocol]))
    elif protocol in ("ip", "icmp", "ip6", "icmpv6"):
        built.family(4 if protocol in ("ip", "icmp") else 6)


def read_nftables_json(text: str, where: str) -> Ruleset:
    """The ruleset of ``nft -j list ruleset`` output; :class:`AuditError` if it is not one."""
    try:
        data = load_json(text)
    except ValueError as exc:
        version = nft_cut_short(text)
        if version is not None:
            raise AuditError(
                f'{where}: cut short after a table\'s "flags", as nft {version} prints '
                "the JSON of some rulesets with a dormant table (and would print it again); "
                "collect `nft list ruleset > FILE` (text) instead and give it as nft:FILE, "
                "which portplan lists in a network namespace of its own, its tables woken there"
            ) from None
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
            dormant=idle.get((str(family), str(body["table"]))) == DORMANT,
            forwards=body.get("hook") == "forward",
            regular=body.get("hook") is None,
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
    for (family, table, _name), chain in chains.items():
        chain.jumped_unnamed = (family, table) in reader.unread_maps
    return ruleset

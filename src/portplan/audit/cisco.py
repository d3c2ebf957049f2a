"""Cisco IOS and ASA extended access lists, read into a zone boundary's ruleset.

IOS: ``ip access-list extended NAME`` and ``ipv6 access-list NAME`` with their entries,
numbered ``access-list 100 ...`` lines; ASA: ``access-list NAME extended ...``.  Each list is
first match, with the implicit ``deny`` at its end; one IPv4 and one IPv6 list make the
boundary's filter (a family without a list is not filtered).  Read exactly: ``permit``,
``deny``, the protocols (``ip``, ``ipv6``, ``tcp``, ``udp``, ``icmp``, names and numbers),
addresses as ``any``/``any4``/``any6``, ``host A``, ``A WILDCARD`` (IOS), ``A MASK`` (ASA)
and ``A/LEN`` (IPv6), destination ports ``eq``, ``neq``, ``lt``, ``gt``, ``range`` (numbers
and the usual names), ICMP types (a number may be followed by its code), and ``established``
(which a new connection's first packet never meets).  An ASA list is one for both families,
its implicit deny too: ``any`` is every IPv4 and IPv6 address, ``any4`` and ``any6`` those of
one family, ``icmp6`` ICMPv6.  Source ports, ``object-group``, ``fragments``, ``time-range``,
DSCP and a non-contiguous wildcard are unreadable; ``remark`` and ``log`` are ignored.
"""

from __future__ import annotations

import ipaddress

from portplan._errors import AuditError
from portplan.audit._input import port_number
from portplan.audit._match import ICMP_TYPES, ICMPV6_TYPES, MatchBuilder, icmp_ranges
from portplan.audit._rules import Chain, Hook, Rule, Ruleset, Verdict
from portplan.spaces import PROTOCOL_NUMBERS, Ranges, family_span

__all__ = ["read_cisco_acls"]

_PORT_NAMES = {
    "ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53,
    "bootps": 67, "bootpc": 68, "tftp": 69, "www": 80, "http": 80, "pop3": 110,
    "sunrpc": 111, "ntp": 123, "netbios-ns": 137, "netbios-dgm": 138, "netbios-ssn": 139,
    "imap4": 143, "snmp": 161, "snmptrap": 162, "bgp": 179, "ldap": 389, "https": 443,
    "isakmp": 500, "syslog": 514, "ldaps": 636, "sqlnet": 1521,
    # ASA's literal names (IOS has none for RADIUS): its RADIUS ports are the old ones
    "radius": 1645, "radius-acct": 1646,
}  # fmt: skip
_OPERATORS = ("eq", "neq", "lt", "gt", "range")
#: ICMP type names: nftables' and the ones IOS and ASA also use
_CISCO_ICMP = {**ICMP_TYPES, "echo": 8, "unreachable": 3}
_CISCO_ICMPV6 = {
    **ICMPV6_TYPES,
    "echo": 128,
    "unreachable": 1,
    "neighbor-solicitation": 135,
    "neighbor-advertisement": 136,
    "router-solicitation": 133,
    "router-advertisement": 134,
}
_IGNORED = frozenset({"log", "log-input", "log-disable"})


class _Unreadable(Exception):
    pass


def _port(word: str) -> int:
    if word.isdigit():
        return port_number(word)  # 0-65535: a port beyond would match nothing, silently
    if word.startswith("-") and word[1:].isdigit():
        raise AuditError(f"port {word[:20]} is not a port number (0-65535)")
    if word in _PORT_NAMES:
        return _PORT_NAMES[word]
    raise _Unreadable(f"port {word}")


class _Entry:
    """The words of one entry, read left to right."""

    def __init__(self, words: list[str], family: int, asa: bool) -> None:
        self.words = words
        self.at = 0
        self.family = family
        self.asa = asa

    def peek(self) -> str | None:
        return self.words[self.at] if self.at < len(self.words) else None

    def take(self) -> str:
        word = self.peek()
        if word is None:
            raise AuditError(f"entry ends early: {' '.join(self.words)}")
        self.at += 1
        return word

    def address(self) -> Ranges:
        word = self.take()
        if word in ("any", "any4", "any6"):
            if (word == "any4" and self.family == 6) or (word == "any6" and self.family == 4):
                return Ranges()
            return family_span(self.family)
        if word == "host":
            return self._network(f"{self.take()}")
        if word in ("object", "object-group", "interface"):
            raise _Unreadable(f"{word} {self.take()}")
        if "/" in word:
            return self._network(word)
        mask = ipaddress.ip_address(self.take())
        base = ipaddress.ip_address(word)
        bits = int(mask)
        if not self.asa:  # IOS: a wildcard, the inverse of a netmask
            bits = (2**32 - 1) ^ bits
        prefix = bin(bits).count("1")
        if bits != ((2**32 - 1) << (32 - prefix)) & (2**32 - 1):
            raise _Unreadable(f"{word} {mask} (a non-contiguous mask)")
        return self._network(f"{base}/{prefix}", strict=False)

    def _network(self, text: str, *, strict: bool = True) -> Ranges:
        network = ipaddress.ip_network(text, strict=strict)
        if network.version != self.family:
            raise AuditError(f"address {text} in an IPv{self.family} access list")
        return Ranges.span(int(network.network_address), int(network.broadcast_address))

    def ports(self) -> Ranges | None:
        """A port operator and its operands, if one stands here."""
        operator = self.peek()
        if operator not in _OPERATORS:
            return None
        self.take()
        if operator == "range":
            first, last = _port(self.take()), _port(self.take())
            if first > last:
                raise AuditError(f"port range {first}-{last} is reversed: write the lower first")
            return Ranges.span(first, last)
        first = _port(self.take())
        if (operator, first) in (("lt", 0), ("gt", 65535)):
            raise AuditError(f"{operator} {first} matches no port: correct the entry")
        if operator == "eq":
            found = Ranges.point(first)
            while self.peek() is not None and (self.peek() or "").isdigit():
                found = found | Ranges.point(_port(self.take()))  # IOS: eq 80 443
            return found
        return {
            "neq": Ranges.span(0, 65535) - Ranges.point(first),
            "lt": Ranges.span(0, first - 1),
            "gt": Ranges.span(first + 1, 65535),
        }[operator]


def _byte(word: str | None) -> bool:
    """Whether ``word`` is written as a number (an ICMP type or code)."""
    return word is not None and word.isascii() and word.isdigit()


def _icmp(word: str, what: str) -> int:
    """An ICMP type or code number (0-255), or :class:`AuditError`."""
    value = int(word) if len(word) <= 3 else 256
    if value > 255:
        raise AuditError(f"ICMP {what} {word[:20]} is not a number 0-255")
    return value


def _rule(words: list[str], family: int, asa: bool, where: str, line: int, text: str) -> Rule:
    verdict = {"permit": Verdict.ACCEPT, "deny": Verdict.DROP}[words[0]]
    entry = _Entry(words[1:], family, asa)
    built = MatchBuilder(frozenset({family}))
    try:
        protocol = entry.take()
        if protocol in ("object", "object-group", "object-group-service"):
            raise _Unreadable(f"{protocol} {entry.take()}")
        number: int | None = None
        if protocol not in ("ip", "ipv6"):
            if protocol.isdigit():
                number = int(protocol) if protocol.isascii() and len(protocol) <= 3 else 256
                if number > 255:
                    raise AuditError(f"protocol {protocol[:20]} is not a protocol number (0-255)")
            elif protocol in PROTOCOL_NUMBERS or protocol == "icmp6":
                number = PROTOCOL_NUMBERS.get(protocol, 58)
            else:
                raise _Unreadable(f"protocol {protocol}")
            if family == 6 and protocol == "icmp" and not asa:
                number = 58  # IOS: 'icmp' in an IPv6 list is ICMPv6 (ASA says icmp6)
            built.protocol(Ranges.point(number))
        built.addresses(family, "source", entry.address())
        if entry.ports() is not None:
            built.unreadable.append("source ports")
        built.addresses(family, "destination", entry.address())
        ports = entry.ports()
        if ports is not None:
            if number not in (6, 17, 132):
                raise _Unreadable("ports of a protocol without ports")
            built.destination_ports(Ranges.point(number), ports)
        while (word := entry.peek()) is not None:
            entry.take()
            names = _CISCO_ICMPV6 if number == 58 else _CISCO_ICMP
            if word == "established":
                built.never = True  # ACK or RST set: never a new connection's first packet
            elif word in _IGNORED:
                continue
            elif number in (1, 58) and (_byte(word) or word in names):
                kind = names[word] if word in names else _icmp(word, "type")
                # a type's number may be followed by its code: 'permit icmp any any 3 4'
                code = (
                    _icmp(entry.take(), "code")
                    if word not in names and _byte(entry.peek())
                    else None
                )
                codes = None if code is None else Ranges.point(code)
                built.icmp_types(number, icmp_ranges(Ranges.point(kind), codes))
            else:
                raise _Unreadable(" ".join([word, *entry.words[entry.at :]]))
    except _Unreadable as exc:
        built.unreadable.append(str(exc))
    except ValueError as exc:
        raise AuditError(f"{where}: {exc}") from None
    return Rule(
        where=where,
        text=text,
        match=built.space(),
        verdict=verdict,
        unreadable=tuple(built.unreadable),
        line=line,
    )


def _standard_number(name: str) -> bool:
    """Whether an IOS access list's name is the number of a standard list (1-99, 1300-1999),
    which matches source addresses only; extended lists are 100-199 and 2000-2699.  (An ASA
    list may have such a number for its name: ``access-list 10 extended ...`` is extended.)"""
    return name.isdigit() and (1 <= int(name) <= 99 or 1300 <= int(name) <= 1999)


def read_cisco_acls(text: str, name: str) -> Ruleset:
    """The boundary filter of an IOS or ASA configuration holding its access lists."""
    ruleset = Ruleset(platform="cisco", files=(name,))
    current: Chain | None = None
    asa_lists: dict[str, Chain] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("!", 1)[0].rstrip()
        words = line.split()
        where = f"{name}:{number}"
        if not words:
            continue
        if words[0] == "no" or words[0] == "exit":
            current = None if words[0] == "exit" else current
            continue
        if words[:3] == ["ip", "access-list", "extended"] or words[:2] == ["ipv6", "access-list"]:
            family = 6 if words[0] == "ipv6" else 4
            list_name = words[3] if family == 4 else words[2]
            current = _chain(
                ruleset, f"{'ipv6' if family == 6 else 'ip'} {list_name}", family, where
            )
            continue
        if words[0] == "access-list" and len(words) > 2:
            asa = words[2] == "extended"
            if words[2] in ("standard", "webtype", "ethertype") or (
                not asa and _standard_number(words[1])
            ):
                continue  # a standard list (sources only) or an ASA list of another kind
            body = words[3:] if asa else words[2:]
            if not body or body[0] == "remark":
                continue
            if body[0] not in ("permit", "deny"):
                raise AuditError(f"{where}: not an access-list entry: {line.strip()[:60]}")
            # an ASA list is one for both families (its implicit deny too), where 'any' is
            # every IPv4 and IPv6 address; a numbered IOS list is IPv4 only
            sides: tuple[int, ...] = (4, 6) if asa else (6 if any(":" in w for w in body) else 4,)
            for family in sides:
                key = f"{'ipv6' if family == 6 else 'ip'} {words[1]}"
                chain = asa_lists.get(key) or _chain(ruleset, key, family, where)
                asa_lists[key] = chain
                if family in (_asa_families(body) if asa else sides):
                    chain.rules.append(_rule(body, family, asa, where, number, line.strip()))
            continue
        indented = raw[:1].isspace()
        if current is None:
            if not indented and words[0] in ("permit", "deny"):
                raise AuditError(
                    f"{where}: an access-list entry outside any extended access list: "
                    f"{line.strip()[:60]}; put it under its `ip access-list extended NAME`"
                )
            continue  # other configuration (a standard list, an interface): not the filter
        if words[0] == "sequence" or words[0].isdigit():
            words = words[2:] if words[0] == "sequence" else words[1:]
        if words and words[0] == "remark":
            continue
        if not words or words[0] not in ("permit", "deny"):
            if not indented:  # the next section of a configuration: the list has ended
                current = None
                continue
            raise AuditError(f"{where}: not an access-list entry: {line.strip()[:60]}")
        family = 6 if current.key.startswith("ipv6 ") else 4
        current.rules.append(_rule(words, family, False, where, number, line.strip()))
    families = [next(iter(c.families)) for c in ruleset.chains.values()]
    for family in (4, 6):
        if families.count(family) > 1:
            names = [c.name for c in ruleset.chains.values() if family in c.families]
            raise AuditError(
                f"{name} holds several IPv{family} access lists ({', '.join(names)}): give the "
                "file with the one applied to the boundary"
            )
    if not ruleset.chains:
        raise AuditError(f"{name}: no extended access list found")
    ruleset.paths[Hook.INPUT] = list(ruleset.chains)
    return ruleset


def _asa_families(body: list[str]) -> tuple[int, ...]:
    """The families an ASA entry applies to: those of its addresses, ``any4`` and ``any6``;
    ``any`` (and an object group) alone, both."""
    found = set()
    for word in body:
        if word == "any6" or ":" in word:
            found.add(6)
        elif word == "any4" or word.count(".") == 3:
            found.add(4)
    return tuple(sorted(found)) or (4, 6)


def _chain(ruleset: Ruleset, key: str, family: int, where: str) -> Chain:
    chain = ruleset.chains.get(key)
    if chain is None:
        chain = ruleset.chains[key] = Chain(
            key=key,
            name=key.split(" ", 1)[1],
            policy=Verdict.DROP,  # the implicit deny at the end of every list
            families=frozenset({family}),
            where=f"{where} (the implicit deny at the end)",
        )
    return chain

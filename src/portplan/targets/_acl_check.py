"""Read Aerleon's output back and prove it permits exactly what the plan asked for.

Aerleon has fail-open corners (a term whose addresses it cannot place may be dropped, or
widened to *any*), so the zone-boundary targets never hand out its text unchecked.  Each
function here parses one platform's rendering strictly — a line or element it does not
understand is an error, never skipped — and compares what it permits, per (family, protocol,
source network, destination network), with what the terms asked for.  Any difference, broader
or narrower, raises :class:`~portplan.errors.TargetError`.  Each filter must also end with the
deny of everything else and hold nothing after it.  ICMP permits are read as protocol
``icmp`` (ICMPv6 in family 6) with the ICMP type numbers in place of ports.  Cisco IOS and Junos
are read here; PAN-OS in :mod:`portplan.targets._acl_panos`, with the shared pieces below.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

from portplan._errors import TargetError
from portplan.model._types import Network
from portplan.model.ports import MAX_PORT, MIN_PORT, PortRange, PortSet

__all__ = [
    "ICMP",
    "Permits",
    "check_cisco",
    "check_juniper",
    "compare",
    "parse_icmp_types",
    "parse_network",
    "parse_ports",
]

_Key = tuple[int, str, Network, Network]  #: (family, protocol, source, destination)
Ranges = list[tuple[int, int]]
Permits = dict[_Key, PortSet]
_PROTOCOLS = ("tcp", "udp")
#: the protocol of ICMP permits (ICMPv6 in family 6), whose "ports" are ICMP type numbers
ICMP = "icmp"
_ICMP_TYPES = (0, 255)
_ANY = {4: ipaddress.ip_network("0.0.0.0/0"), 6: ipaddress.ip_network("::/0")}


class Collector:
    """Collects permitted port ranges per key; :meth:`result` merges them into port sets."""

    def __init__(self) -> None:
        self.ranges: dict[_Key, Ranges] = {}

    def add(self, family: int, protocol: str, src: Network, dst: Network, ranges: Ranges) -> None:
        key = (family, protocol, src, dst)
        known = self.ranges.get(key)
        if known is None:
            self.ranges[key] = list(ranges)
        else:
            known.extend(ranges)

    def result(self) -> Permits:
        # the ranges were checked when read (1 <= start <= end <= 65535); equal port sets are
        # shared, as most keys of a large policy hold one of a few port sets
        shared: dict[tuple[tuple[int, int], ...], PortSet] = {}
        result: Permits = {}
        for key, ranges in self.ranges.items():
            spelled = tuple(sorted(set(ranges)))
            ports = shared.get(spelled)
            if ports is None:
                ports = shared[spelled] = PortSet.of(
                    PortRange.model_construct(start=a, end=b) for a, b in spelled
                )
            result[key] = ports
        return result


def _describe(key: _Key, ports: PortSet | None) -> str:
    family, protocol, src, dst = key
    return f"IPv{family} {protocol} {src} -> {dst} {_what(key, ports)}"


def _what(key: _Key, ports: PortSet | None) -> str:
    shown = ",".join(str(r) for r in ports.ranges) if ports else "nothing"
    return f"{'types' if key[1] == ICMP else 'ports'} {shown}"


def compare(actual: Permits, expected: Permits, where: str) -> None:
    """``TargetError`` unless ``actual`` permits exactly ``expected``."""
    if actual == expected:
        return
    broader = [
        f"{_describe(k, v)} (plan: {_what(k, expected.get(k))})"
        for k, v in actual.items()
        if expected.get(k) != v and not set(v) <= set(expected.get(k) or ())
    ]
    narrower = [_describe(k, v) for k, v in expected.items() if actual.get(k) != v]
    parts = []
    if broader:
        parts.append(f"permits more than the plan: {'; '.join(broader[:5])}")
    if narrower:
        parts.append(f"differs from the plan for: {'; '.join(narrower[:5])}")
    raise TargetError(f"{where}: the rendered rules are not exactly the plan: {' / '.join(parts)}")


@lru_cache(maxsize=65536)
def _parse_network(text: str) -> Network:
    return ipaddress.ip_network(text, strict=True)


def parse_network(text: str, family: int, where: str) -> Network:
    """A network of ``family`` (strict: no host bits set)."""
    try:
        network = _parse_network(text)
    except ValueError as exc:
        raise TargetError(f"{where}: {text!r} is not a network: {exc}") from exc
    if network.version != family:
        raise TargetError(f"{where}: {text} is not an IPv{family} network")
    return network


_PORT_RE = re.compile(r"(\d{1,5})(?:-(\d{1,5}))?")


def parse_ports(items: Iterable[str], where: str) -> Ranges:
    """Ports and ranges (``443``, ``49152-65535``), each within 1-65535; at least one."""
    ranges: Ranges = []
    for item in items:
        match = _PORT_RE.fullmatch(item)
        if match is None:
            raise TargetError(f"{where}: {item!r} is not a port or a port range")
        start = int(match.group(1))
        end = int(match.group(2) or start)
        if not MIN_PORT <= start <= end <= MAX_PORT:
            raise TargetError(f"{where}: {item!r} is not a port range within 1-65535")
        ranges.append((start, end))
    if not ranges:
        raise TargetError(f"{where}: no ports")
    return ranges


def parse_icmp_types(items: Iterable[str], where: str) -> Ranges:
    """ICMP type numbers (0-255), as a rule lists them; none at all: every type."""
    ranges: Ranges = []
    for item in items:
        if not item.isdigit() or int(item) > _ICMP_TYPES[1]:
            raise TargetError(f"{where}: {item!r} is not an ICMP type number")
        ranges.append((int(item), int(item)))
    return ranges or [_ICMP_TYPES]


# -- Cisco IOS ----------------------------------------------------------------------------------


def _cisco_address(words: list[str], family: int, where: str) -> tuple[Network, list[str]]:
    """One address of an ACL line, and the words after it."""
    if not words:
        raise TargetError(f"{where}: an address is missing")
    if words[0] == "any":
        return _ANY[family], words[1:]
    if words[0] == "host" and len(words) > 1:
        bits = 32 if family == 4 else 128
        return parse_network(f"{words[1]}/{bits}", family, where), words[2:]
    if family == 6:
        return parse_network(words[0], 6, where), words[1:]
    if len(words) < 2:
        raise TargetError(f"{where}: an address without its wildcard mask")
    try:
        return _cisco_wildcard(words[0], words[1]), words[2:]
    except ValueError as exc:
        raise TargetError(f"{where}: {words[0]} {words[1]}: {exc}") from exc


@lru_cache(maxsize=65536)
def _cisco_wildcard(address: str, mask: str) -> Network:
    """The network an IPv4 address and wildcard mask match; ``ValueError`` if they are none."""
    base = int(ipaddress.IPv4Address(address))
    wildcard = int(ipaddress.IPv4Address(mask))
    # Only contiguous wildcards ending in ones match a network; anything else is refused
    # (Python would read 255.255.255.255 as a netmask, /32, where Cisco reads it as any).
    if wildcard & (wildcard + 1) or base & wildcard:
        raise ValueError("not a network and wildcard mask")
    return ipaddress.IPv4Network((base, 32 - wildcard.bit_length()))


def _cisco_ports(words: list[str], where: str) -> Ranges:
    if len(words) == 2 and words[0] == "eq":
        return parse_ports([words[1]], where)
    if len(words) == 3 and words[0] == "range":
        return parse_ports([f"{words[1]}-{words[2]}"], where)
    raise TargetError(f"{where}: {' '.join(words)!r} is not 'eq PORT' or 'range LOW HIGH'")


def check_cisco(text: str, names: Mapping[int, str], expected: Permits) -> None:
    """Check Cisco IOS named ACLs: one per family in ``names``, permits then the final deny."""
    heads = {4: ("ip access-list extended", "ip"), 6: ("ipv6 access-list", "ipv6")}
    actual = Collector()
    seen: dict[int, bool] = {}  # family → its final deny was seen
    family: int | None = None
    finished = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = " ".join(raw.split())
        where = f"line {number}"
        if not line or (family is None and line.startswith("!")):
            continue
        if family is None:
            for fam, (head, _ip) in heads.items():
                if line == f"no {head} {names.get(fam)}":
                    break
                if line == f"{head} {names.get(fam)}":
                    if fam in seen:
                        raise TargetError(f"{where}: ACL {names[fam]} appears twice")
                    family, finished = fam, False
                    seen[fam] = False
                    break
            else:
                raise TargetError(f"{where}: unexpected line outside an ACL: {line!r}")
            continue
        if line == "exit":
            if not finished:
                raise TargetError(f"{where}: ACL {names[family]} does not end with a deny")
            seen[family] = True
            family = None
            continue
        if line.startswith("remark ") or line == "remark":
            continue
        if finished:
            raise TargetError(f"{where}: a line after the final deny: {line!r}")
        words = line.split()
        if words == ["deny", heads[family][1], "any", "any"]:
            finished = True
            continue
        # ICMPv6 is the keyword icmp in an IPv6 ACL: IOS takes a type only after it
        icmp = len(words) > 1 and words[1] == "icmp"
        if len(words) < 2 or words[0] != "permit" or not (icmp or words[1] in _PROTOCOLS):
            raise TargetError(f"{where}: not a tcp/udp/icmp permit: {line!r}")
        src, rest = _cisco_address(words[2:], family, where)
        dst, rest = _cisco_address(rest, family, where)
        if icmp:  # nothing more (every type), or one type number
            if len(rest) > 1:
                raise TargetError(f"{where}: {' '.join(rest)!r} is not one ICMP type")
            actual.add(family, ICMP, src, dst, parse_icmp_types(rest, where))
        else:
            actual.add(family, words[1], src, dst, _cisco_ports(rest, where))
    if family is not None:
        raise TargetError(f"ACL {names[family]} is not closed with 'exit'")
    missing = [names[f] for f in names if not seen.get(f)]
    if missing:
        raise TargetError(f"ACL {', '.join(missing)} is missing or incomplete")
    compare(actual.result(), expected, "cisco")


# -- Junos --------------------------------------------------------------------------------------

_Statement = tuple[list[str], list["_Statement"] | None]


def _junos_statements(text: str) -> list[_Statement]:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)
    if "/*" in text or "*/" in text or "#" in text or '"' in text:
        raise TargetError("juniper: unexpected comment or quoting in the filter")
    tokens = re.findall(r"[{};\[\]]|[^\s{};\[\]]+", text)
    position = 0

    def block(depth: int) -> list[_Statement]:
        nonlocal position
        statements: list[_Statement] = []
        words: list[str] = []
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token == ";":
                statements.append((words, None))
                words = []
            elif token == "{":
                statements.append((words, block(depth + 1)))
                words = []
            elif token == "}":
                if depth == 0 or words:
                    raise TargetError("juniper: unbalanced braces")
                return statements
            else:
                words.append(token)
        if depth != 0 or words:
            raise TargetError("juniper: the filter ends early")
        return statements

    return block(0)


def _junos_term(term: list[_Statement], family: int, name: str, actual: Collector) -> bool:
    """Add a term's permits; True if it is the final deny."""
    found: dict[str, list[str]] = {}
    nets: dict[str, list[Network]] = {}
    action: str | None = None
    for words, children in term:
        if words == ["from"] and children is not None:
            for key, sub in children:
                where = f"juniper term {name}"
                if key in (["source-address"], ["destination-address"]) and sub is not None:
                    if any(s is not None or len(w) != 1 for w, s in sub):
                        raise TargetError(f"{where}: unexpected address entry")
                    nets[key[0]] = [parse_network(w[0], family, where) for w, _s in sub]
                elif (
                    sub is None
                    and len(key) >= 2
                    and key[0] in ("protocol", "next-header", "destination-port", "icmp-type")
                ):
                    if key[0] in found:
                        raise TargetError(f"{where}: {key[0]} appears twice")
                    found[key[0]] = [w for w in key[1:] if w not in ("[", "]")]
                else:
                    raise TargetError(f"{where}: unexpected match {' '.join(key)!r}")
        elif words[:1] == ["then"]:
            if action is not None:
                raise TargetError(f"juniper term {name}: two actions")
            if children is None and len(words) == 2:
                action = words[1]
            elif children is not None and len(children) == 1 and children[0][1] is None:
                action = " ".join(children[0][0])
            else:
                raise TargetError(f"juniper term {name}: unexpected action")
        else:
            raise TargetError(f"juniper term {name}: unexpected statement {' '.join(words)!r}")
    if action in ("discard", "reject"):
        if found or nets:
            raise TargetError(f"juniper term {name}: a deny that matches something specific")
        return True
    if action != "accept":
        raise TargetError(f"juniper term {name}: action {action!r} is not accept or the deny")
    protocol_key = "protocol" if family == 4 else "next-header"
    protocol = found.get(protocol_key, [])
    if not all(nets.values()):
        raise TargetError(f"juniper term {name}: an empty address list")
    # no address match is every address (the neighbour discovery term; anything else that
    # came out so compares as broader than the plan)
    sources = nets.get("source-address", [_ANY[family]])
    destinations = nets.get("destination-address", [_ANY[family]])
    if protocol == ["icmp" if family == 4 else "icmp6"]:
        if not set(found) <= {protocol_key, "icmp-type"}:
            raise TargetError(f"juniper term {name}: an ICMP term that matches more than types")
        types = parse_icmp_types(found.get("icmp-type", ()), f"juniper term {name}")
        for src in sources:
            for dst in destinations:
                actual.add(family, ICMP, src, dst, types)
        return False
    if (
        len(protocol) != 1
        or protocol[0] not in _PROTOCOLS
        or set(found)
        != {
            protocol_key,
            "destination-port",
        }
    ):
        raise TargetError(f"juniper term {name}: not one tcp/udp protocol with destination ports")
    ports = parse_ports(found["destination-port"], f"juniper term {name}")
    for src in sources:
        for dst in destinations:
            actual.add(family, protocol[0], src, dst, ports)
    return False


def check_juniper(text: str, names: Mapping[int, str], expected: Permits) -> None:
    """Check Junos firewall filters: one per family in ``names``, terms then the final deny."""
    actual = Collector()
    done: set[int] = set()
    for words, firewall in _junos_statements(text):
        if words != ["firewall"] or firewall is None or len(firewall) != 1:
            raise TargetError(f"juniper: unexpected top-level statement {' '.join(words)!r}")
        (family_words, family_block) = firewall[0]
        kinds = {"inet": 4, "inet6": 6}
        if (
            len(family_words) != 2
            or family_words[0] != "family"
            or family_words[1] not in kinds
            or family_block is None
            or len(family_block) != 1
        ):
            raise TargetError(f"juniper: unexpected {' '.join(family_words)!r}")
        family = kinds[family_words[1]]
        filter_words, filter_block = family_block[0]
        if filter_words != ["replace:", "filter", names.get(family, "")] or filter_block is None:
            raise TargetError(f"juniper: unexpected filter {' '.join(filter_words)!r}")
        if family in done:
            raise TargetError(f"juniper: filter {names[family]} appears twice")
        finished = False
        for term_words, term in filter_block:
            if term_words == ["interface-specific"] and term is None:
                continue
            if len(term_words) != 2 or term_words[0] != "term" or term is None:
                raise TargetError(f"juniper: unexpected statement {' '.join(term_words)!r}")
            if finished:
                raise TargetError(f"juniper: term {term_words[1]} after the final deny")
            finished = _junos_term(term, family, term_words[1], actual)
        if not finished:
            raise TargetError(f"juniper: filter {names[family]} does not end with a deny")
        done.add(family)
    missing = [names[f] for f in names if f not in done]
    if missing:
        raise TargetError(f"juniper: filter {', '.join(missing)} is missing")
    compare(actual.result(), expected, "juniper")

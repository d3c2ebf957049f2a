"""What a target's files let through, read back independently of portplan's own code.

Each reader parses one platform's syntax strictly (a statement it does not know fails the
test, it is never skipped) into a :data:`Space`: for each place that enforces rules (a host's
firewall in one direction, a NetworkPolicy's section, a security group, the interface facing a
zone, a zone boundary), the
packets allowed, as boxes of integer intervals (source addresses x destination addresses x
ports, or ICMP type numbers in place of ports).  :func:`same_packets` compares two spaces in a
canonical form, so that two spellings of one set of packets (networks collapsed or not, ranges
merged or split) are equal and anything broader or narrower is not.

Nothing here imports portplan: the readers and the oracle of ``test_targets_oracle`` must not
share the code they check.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from typing import Any

import yaml

Span = tuple[int, int]
Box = tuple[Span, ...]
#: (enforcement point, family, protocol, ...) -> the boxes it allows
Space = dict[tuple[Any, ...], list[Box]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

EVERY: dict[int, Span] = {4: (0, 2**32 - 1), 6: (0, 2**128 - 1)}
ALL_PORTS: Span = (1, 65535)
ALL_TYPES: Span = (0, 255)


def net(text: str) -> Network:
    return ipaddress.ip_network(text, strict=True)


def span(network: Network) -> Span:
    return int(network.network_address), int(network.broadcast_address)


def add(space: Space, key: tuple[Any, ...], *boxes: Box) -> None:
    space.setdefault(key, []).extend(boxes)


# -- comparing sets of boxes --------------------------------------------------------------------


def canonical(boxes: list[Box]) -> Any:
    """The union of ``boxes`` in a form equal for equal unions: along the first dimension,
    the maximal intervals over which the rest is the same, each with the rest's form."""
    boxes = [b for b in boxes if all(lo <= hi for lo, hi in b)]
    if not boxes:
        return ()
    if not boxes[0]:
        return True
    cuts = sorted({b[0][0] for b in boxes} | {b[0][1] + 1 for b in boxes})
    out: list[tuple[Span, Any]] = []
    for lo, nxt in itertools.pairwise(cuts):
        rest = canonical([b[1:] for b in boxes if b[0][0] <= lo and nxt - 1 <= b[0][1]])
        if rest == ():
            continue
        if out and out[-1][1] == rest and out[-1][0][1] == lo - 1:
            out[-1] = ((out[-1][0][0], nxt - 1), rest)
        else:
            out.append(((lo, nxt - 1), rest))
    return tuple(out)


def _inside(boxes: list[Box], point: tuple[int, ...]) -> bool:
    return any(all(lo <= x <= hi for (lo, hi), x in zip(b, point, strict=True)) for b in boxes)


def _witness(more: list[Box], less: list[Box]) -> tuple[int, ...] | None:
    """A point of ``more`` that ``less`` does not hold (on failure only: it may be slow)."""
    if not more:
        return None
    cuts = [
        sorted({x for b in more + less for x in (b[d][0], b[d][1] + 1)})
        for d in range(len(more[0]))
    ]
    for point in itertools.product(*(c[:-1] for c in cuts)):
        if _inside(more, point) and not _inside(less, point):
            return point
    return None


def _shown(key: tuple[Any, ...], point: tuple[int, ...]) -> str:
    """A point of a space as people read it: the addresses of its family, then the port."""
    parts = [p for k in key for p in (k if isinstance(k, tuple) else (k,))]
    family = next((p for p in parts if p in (4, 6)), 4)
    *addresses, port = point
    if family == 6:
        shown = [str(ipaddress.IPv6Address(a)) for a in addresses]
    else:
        shown = [str(ipaddress.IPv4Address(a)) if a < 2**32 else str(a) for a in addresses]
    return f"{key}: {' '.join(shown)} {port}"


def same_packets(actual: Space, expected: Space, what: str) -> None:
    """Fail unless ``actual`` allows exactly the packets of ``expected``, key by key."""
    broader, narrower = [], []
    for key in sorted(set(actual) | set(expected), key=repr):
        got, want = actual.get(key, []), expected.get(key, [])
        if canonical(got) == canonical(want):
            continue
        extra = _witness(got, want)
        if extra is not None:
            broader.append(_shown(key, extra))
        missing = _witness(want, got)
        if missing is not None:
            narrower.append(_shown(key, missing))
    assert not broader and not narrower, (
        f"{what}: broader than the plan at {broader[:5]}; narrower than the plan at {narrower[:5]}"
    )


# -- windows: New-NetFirewallRule -----------------------------------------------------------------

_WINDOWS_PARAMETERS = {
    "DisplayName",
    "Description",
    "Group",
    "Direction",
    "Action",
    "Profile",
    "Protocol",
    "LocalPort",
    "RemotePort",
    "IcmpType",
    "LocalAddress",
    "RemoteAddress",
}
#: lines a script may hold besides comments and New-NetFirewallRule (a prefix each)
_WINDOWS_OTHER = (
    "#Requires -RunAsAdministrator",
    "$ErrorActionPreference = 'Stop'",
    "Remove-NetFirewallRule -Group 'portplan' -ErrorAction SilentlyContinue",
    "Set-NetFirewallProfile -Profile ",
    "$others = @(Get-NetFirewallRule -Enabled True -Action Allow",
    "    Where-Object { $_.Group -ne 'portplan' })",
    "if ($others.Count -gt 0) {",
    "    Write-Warning (",
    "}",
)
_PS_ITEM = re.compile(r"'((?:[^']|'')*)'|([A-Za-z0-9_.]+)")
#: Windows' RPC port keywords: RPCEPMap is TCP 135; RPC the dynamic range, a port of its own
RPC_KEYWORD: Span = (0, 0)


def _ps_values(text: str) -> tuple[list[str], str]:
    """The comma list of values at the start of ``text``, and what follows it."""
    values = []
    while True:
        match = _PS_ITEM.match(text)
        assert match, f"not a PowerShell value: {text[:60]!r}"
        quoted, bare = match.groups()
        values.append(quoted.replace("''", "'") if quoted is not None else bare)
        text = text[match.end() :]
        if not text.startswith(", "):
            return values, text
        text = text[2:]


def windows_rules(script: str) -> Iterator[dict[str, list[str]]]:
    """Every New-NetFirewallRule of a script (its parameters); any other command fails.
    The byte-order mark the script begins with is not part of its text (PowerShell reads it
    as the file's encoding)."""
    joined = script.removeprefix("\ufeff").replace(" `\n    ", " ")
    for line in joined.splitlines():
        if not line.strip() or line.startswith("# ") or line == "#":
            continue
        if not line.startswith("New-NetFirewallRule "):
            assert line.startswith(_WINDOWS_OTHER), f"unexpected line: {line!r}"
            continue
        assert line.endswith(" | Out-Null"), line
        text = line.removeprefix("New-NetFirewallRule ").removesuffix(" | Out-Null")
        params: dict[str, list[str]] = {}
        while text:
            match = re.match(r"-(\w+) ", text)
            assert match, f"not a parameter: {text[:60]!r}"
            name = match.group(1)
            assert name in _WINDOWS_PARAMETERS and name not in params, f"parameter -{name}"
            params[name], text = _ps_values(text[match.end() :])
            text = text.removeprefix(" ")
        yield params


def _windows_addresses(values: list[str] | None, family: int) -> list[Span]:
    if values is None or values == ["Any"]:
        return [EVERY[family]]
    nets = [net(v) for v in values]
    return [span(n) for n in nets if n.version == family]


def windows_space(host: str, script: str) -> Space:
    """What one host's script allows: keys ``(host, direction, family, protocol)``, boxes
    (source, destination, port or ICMP type); ``RPC`` is protocol ``tcp-rpc``."""
    space: Space = {}
    for rule in windows_rules(script):
        assert rule["Action"] == ["Allow"] and rule["Group"] == ["portplan"], rule
        (direction,) = rule["Direction"]
        assert direction in ("Inbound", "Outbound")
        inbound = direction == "Inbound"
        (protocol,) = rule["Protocol"]
        local, remote = rule.get("LocalAddress"), rule.get("RemoteAddress")
        named = [v for values in (local, remote) for v in values or [] if v != "Any"]
        families = {net(v).version for v in named} or {4, 6}
        ports_by_protocol: list[tuple[str, Span]] = []
        if protocol in ("TCP", "UDP"):
            assert "IcmpType" not in rule
            assert ("LocalPort" in rule) != ("RemotePort" in rule) or (
                "LocalPort" not in rule and "RemotePort" not in rule
            ), rule
            tokens = rule.get("LocalPort") or rule.get("RemotePort") or ["1-65535"]
            for token in tokens:
                if token == "RPCEPMap":
                    assert inbound and protocol == "TCP" and "LocalPort" in rule
                    ports_by_protocol.append(("tcp", (135, 135)))
                elif token == "RPC":
                    assert inbound and protocol == "TCP" and "LocalPort" in rule
                    ports_by_protocol.append(("tcp-rpc", RPC_KEYWORD))
                else:
                    low, _, high = token.partition("-")
                    assert 1 <= int(low) <= int(high or low) <= 65535, token
                    ports_by_protocol.append((protocol.lower(), (int(low), int(high or low))))
        else:
            assert protocol in ("ICMPv4", "ICMPv6"), protocol
            assert "LocalPort" not in rule and "RemotePort" not in rule
            family = 4 if protocol == "ICMPv4" else 6
            assert families <= {family}, f"an {protocol} rule with other addresses: {rule}"
            families = {family}
            for token in rule.get("IcmpType", ["any"]):
                if token == "any":
                    ports_by_protocol.append(("icmp", ALL_TYPES))
                else:
                    assert token.isdigit(), f"ICMP type {token!r} (a code narrows it)"
                    ports_by_protocol.append(("icmp", (int(token), int(token))))
        # the port of an inbound rule is local, of an outbound one remote: both the destination
        assert ("LocalPort" not in rule) or inbound, "an outbound rule that names local ports"
        assert ("RemotePort" not in rule) or not inbound, "an inbound rule that names remote ports"
        for family in families:
            locals_ = _windows_addresses(local, family)
            remotes = _windows_addresses(remote, family)
            for proto, ports in ports_by_protocol:
                for mine in locals_:
                    for other in remotes:
                        box = (other, mine, ports) if inbound else (mine, other, ports)
                        add(space, (host, direction, family, proto), box)
    return space


# -- kubernetes: NetworkPolicy ---------------------------------------------------------------

NAMESPACE_LABEL = "kubernetes.io/metadata.name"


def kubernetes_space(text: str) -> tuple[Space, dict[str, dict[str, Any]]]:
    """What a file of NetworkPolicies allows: keys ``(policy host, section, protocol, peer)``
    where peer is ``("pods", namespace, labels)`` or ``("ip", family)``; boxes (peer address,
    port).  Also each policy by host, to check what it selects."""
    space: Space = {}
    policies: dict[str, dict[str, Any]] = {}
    for doc in yaml.safe_load_all(text):
        if doc is None:
            continue
        assert doc["apiVersion"] == "networking.k8s.io/v1" and doc["kind"] == "NetworkPolicy"
        host = doc["metadata"]["annotations"]["portplan/host"]
        assert host not in policies
        policies[host] = doc
        spec = doc["spec"]
        assert set(spec) <= {"podSelector", "policyTypes", "ingress", "egress"}, spec
        namespace = doc["metadata"]["namespace"]
        for section, side in (("ingress", "from"), ("egress", "to")):
            rules = spec.get(section)
            if rules is None:
                continue
            for rule in rules:
                assert set(rule) == {side, "ports"}, "a rule without peers or ports allows all"
                assert rule[side] and rule["ports"], "an empty list allows everything"
                ports: list[tuple[str, Span]] = []
                for port in rule["ports"]:
                    assert set(port) <= {"protocol", "port", "endPort"}, port
                    assert port["protocol"] in ("TCP", "UDP"), port
                    start = port["port"]
                    assert isinstance(start, int), "a named port"
                    end = port.get("endPort", start)
                    assert 1 <= start <= end <= 65535 and ("endPort" not in port or end > start)
                    ports.append((port["protocol"].lower(), (start, end)))
                for peer in rule[side]:
                    if "ipBlock" in peer:
                        assert set(peer) == {"ipBlock"} and set(peer["ipBlock"]) == {"cidr"}
                        block = net(peer["ipBlock"]["cidr"])
                        kind: tuple[Any, ...] = ("ip", block.version)
                        where = span(block)
                    else:
                        assert set(peer) <= {"podSelector", "namespaceSelector"}, peer
                        labels = peer["podSelector"]["matchLabels"]
                        assert labels and set(peer["podSelector"]) == {"matchLabels"}
                        peer_namespace = namespace
                        if "namespaceSelector" in peer:
                            selector = peer["namespaceSelector"]
                            assert selector == {
                                "matchLabels": {
                                    NAMESPACE_LABEL: selector["matchLabels"][NAMESPACE_LABEL]
                                }
                            }, "a namespace selector that names more than one namespace"
                            peer_namespace = selector["matchLabels"][NAMESPACE_LABEL]
                        kind = ("pods", peer_namespace, tuple(sorted(labels.items())))
                        where = (0, 0)
                    for protocol, ports_span in ports:
                        add(space, (host, section, protocol, kind), (where, ports_span))
    return space, policies


# -- aws: Terraform security groups -----------------------------------------------------------

_RESOURCE = re.compile(r'^(resource|variable) "(\w+)"(?: "([A-Za-z_][A-Za-z0-9_-]*)")? \{$')
_RULE_ATTRIBUTES = {
    "security_group_id",
    "description",
    "ip_protocol",
    "from_port",
    "to_port",
    "cidr_ipv4",
    "cidr_ipv6",
}


def hcl_blocks(text: str) -> list[tuple[str, str, dict[str, str]]]:
    """The top-level blocks: (type, name, attributes); nested blocks only as tags."""
    blocks: list[tuple[str, str, dict[str, str]]] = []
    current: dict[str, str] | None = None
    nested = 0
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if current is None:
            match = _RESOURCE.match(line)
            assert match, f"unexpected line outside a block: {line!r}"
            kind = match.group(2) if match.group(1) == "resource" else "variable"
            name = match.group(3) or match.group(2)
            current = {}
            blocks.append((kind, name, current))
            continue
        if line == "}":
            assert nested == 0
            current = None
            continue
        stripped = line.strip()
        if stripped.endswith("{"):
            nested += 1
            continue
        if stripped == "}":
            nested -= 1
            continue
        name, eq, value = stripped.partition(" = ")
        assert eq, line
        if nested == 0:
            assert name.strip() not in current, f"attribute {name} twice"
            current[name.strip()] = value.strip()
    assert current is None, "a block is not closed"
    names = [(kind, name) for kind, name, _ in blocks]
    assert len(names) == len(set(names)), "two resources share a name"
    return blocks


def _unquoted(value: str) -> str:
    assert value.startswith('"') and value.endswith('"'), value
    return value[1:-1]


def aws_space(text: str) -> tuple[Space, set[str]]:
    """What the security groups allow: keys ``(host, direction, family, protocol)``, boxes
    (source, destination, port or ICMP type); a group has no address of its own, so its side
    is every address.  Also the hosts that have a group."""
    space: Space = {}
    groups: dict[str, str] = {}  # Terraform name -> host
    blocks = hcl_blocks(text)
    for kind, name, attrs in blocks:
        if kind == "aws_security_group":
            host = _unquoted(attrs["name"]).removeprefix("portplan-")
            assert attrs["vpc_id"] == "var.vpc_id"
            groups[name] = host
    for kind, _name, attrs in blocks:
        if kind in ("variable", "aws_security_group"):
            continue
        assert kind in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule")
        assert set(attrs) <= _RULE_ATTRIBUTES, (
            f"unexpected attributes {set(attrs) - _RULE_ATTRIBUTES}"
        )
        group = attrs["security_group_id"]
        match = re.fullmatch(r"aws_security_group\.([A-Za-z_][A-Za-z0-9_-]*)\.id", group)
        assert match and match.group(1) in groups, group
        host = groups[match.group(1)]
        assert ("cidr_ipv4" in attrs) != ("cidr_ipv6" in attrs), "one peer CIDR per rule"
        peer = net(_unquoted(attrs.get("cidr_ipv4") or attrs["cidr_ipv6"]))
        assert (peer.version == 4) == ("cidr_ipv4" in attrs)
        protocol = _unquoted(attrs["ip_protocol"])
        inbound = kind.endswith("ingress_rule")
        if protocol == "-1":
            assert "from_port" not in attrs and "to_port" not in attrs
            proto, ports = "all", (0, 0)
        elif protocol in ("tcp", "udp"):
            low, high = int(attrs["from_port"]), int(attrs["to_port"])
            assert 1 <= low <= high <= 65535, attrs
            proto, ports = protocol, (low, high)
        else:
            assert protocol == ("icmp" if peer.version == 4 else "icmpv6"), attrs
            low, code = int(attrs["from_port"]), int(attrs["to_port"])
            assert code == -1, "an ICMP code narrows the type"
            proto, ports = "icmp", ALL_TYPES if low == -1 else (low, low)
            assert low == -1 or 0 <= low <= 255
        own = EVERY[peer.version]
        box = (span(peer), own, ports) if inbound else (own, span(peer), ports)
        add(space, (host, "in" if inbound else "out", peer.version, proto), box)
    return space, set(groups.values())


def _unfiltered(space: Space, zone: str, families: Iterable[int]) -> None:
    """An interface ACL (Cisco) or filter (Junos) is of one family: where the interface facing
    a zone has none of a family, all of that family from the zone passes it."""
    for family in families:
        everything = (EVERY[family], EVERY[family])
        add(space, (zone, family, "tcp"), (*everything, ALL_PORTS))
        add(space, (zone, family, "udp"), (*everything, ALL_PORTS))
        add(space, (zone, family, "icmp"), (*everything, ALL_TYPES))
        add(space, (zone, family, "other"), (*everything, (0, 0)))


# -- cisco IOS ------------------------------------------------------------------------------------

_CISCO_HEAD = re.compile(r"^(no )?(ip access-list extended|ipv6 access-list) (\S+)$")


def _cisco_address(words: list[str], family: int) -> tuple[Span, list[str]]:
    if words[0] == "any":
        return EVERY[family], words[1:]
    if words[0] == "host":
        address = ipaddress.ip_address(words[1])
        assert address.version == family
        return (int(address), int(address)), words[2:]
    if family == 6:
        return span(net(words[0])), words[1:]
    base, mask = int(ipaddress.IPv4Address(words[0])), int(ipaddress.IPv4Address(words[1]))
    assert mask & (mask + 1) == 0 and base & mask == 0, f"wildcard {words[0]} {words[1]}"
    return (base, base | mask), words[2:]


def cisco_space(zone: str, text: str) -> Space:
    """What the ACLs applied inbound on the interface facing a source zone permit: keys
    ``(source zone, family, protocol)``, boxes (source, destination, port or ICMP type).  Every
    ACL must end with the deny of everything, and nothing may be denied before it."""
    space: Space = {}
    stem = f"portplan-from-{zone}"
    family: int | None = None
    lines: list[str] = []
    seen: list[int] = []
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line or line.startswith("remark ") or line.startswith("!"):
            continue
        head = _CISCO_HEAD.match(line)
        if head and family is None:
            expected_name = stem if head.group(2).startswith("ip ") else f"{stem}-v6"
            assert head.group(3) == expected_name, line
            if not head.group(1):
                family, lines = (4 if head.group(2).startswith("ip ") else 6), []
            continue
        assert family is not None, f"outside an ACL: {line!r}"
        if line != "exit":
            lines.append(line)
            continue
        assert lines and lines[-1] == ("deny ip any any" if family == 4 else "deny ipv6 any any")
        for permit in lines[:-1]:
            words = permit.split()
            assert words[0] == "permit", f"a line before the final deny: {permit!r}"
            protocol = words[1]
            src, rest = _cisco_address(words[2:], family)
            dst, rest = _cisco_address(rest, family)
            if protocol in ("tcp", "udp"):
                if not rest:
                    ports = ALL_PORTS
                elif rest[0] == "eq" and len(rest) == 2:
                    ports = (int(rest[1]), int(rest[1]))
                else:
                    assert rest[0] == "range" and len(rest) == 3, permit
                    ports = (int(rest[1]), int(rest[2]))
            else:
                assert protocol in ("icmp", "58" if family == 6 else "icmp"), permit
                assert len(rest) <= 1 and all(w.isdigit() for w in rest), permit
                protocol = "icmp"
                ports = (int(rest[0]), int(rest[0])) if rest else ALL_TYPES
            add(space, (zone, family, protocol), (src, dst, ports))
        seen.append(family)
        family = None
    assert family is None and len(seen) == len(set(seen)), "an ACL twice or not closed"
    _unfiltered(space, zone, {4, 6} - set(seen))
    return space


# -- juniper Junos ------------------------------------------------------------------------------


def _junos_tree(text: str) -> list[tuple[list[str], Any]]:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)
    assert "/*" not in text and "#" not in text
    tokens = re.findall(r"[{};]|\[|\]|[^\s{};\[\]]+", text)
    position = 0

    def block() -> list[tuple[list[str], Any]]:
        nonlocal position
        out: list[tuple[list[str], Any]] = []
        words: list[str] = []
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token == ";":
                out.append((words, None))
                words = []
            elif token == "{":
                out.append((words, block()))
                words = []
            elif token == "}":
                assert not words
                return out
            elif token not in ("[", "]"):
                words.append(token)
        assert not words
        return out

    return block()


def juniper_space(zone: str, text: str) -> Space:
    """As :func:`cisco_space`, for Junos firewall filters (first match, accept terms, then
    the final discard or reject of everything)."""
    space: Space = {}
    stem = f"portplan-from-{zone}"
    families: list[int] = []
    for words, firewall in _junos_tree(text):
        assert words == ["firewall"], words
        for family_words, family_block in firewall:
            assert family_words[0] == "family" and family_words[1] in ("inet", "inet6")
            family = 4 if family_words[1] == "inet" else 6
            families.append(family)
            ((filter_words, terms),) = family_block
            name = stem if family == 4 else f"{stem}-v6"
            assert filter_words == ["replace:", "filter", name], filter_words
            finished = False
            for term_words, term in terms:
                if term_words == ["interface-specific"]:
                    continue
                assert term_words[0] == "term" and not finished, term_words
                matches: dict[str, list[str]] = {}
                action = None
                for statement, children in term:
                    if statement == ["from"]:
                        for key, sub in children:
                            assert key[0] not in matches, key
                            if sub is not None:
                                matches[key[0]] = [w[0] for w, _ in sub]
                            else:
                                matches[key[0]] = key[1:]
                    elif statement[0] == "then":
                        action = statement[1:] if children is None else children[0][0]
                    else:
                        raise AssertionError(f"unexpected statement {statement}")
                if action in (["discard"], ["reject"]):
                    assert not matches, "a deny of something specific"
                    finished = True
                    continue
                assert action == ["accept"], action
                known = {"source-address", "destination-address", "destination-port", "icmp-type"}
                protocol_key = "protocol" if family == 4 else "next-header"
                assert set(matches) <= known | {protocol_key}, matches
                sources = [span(net(a)) for a in matches.get("source-address", [])] or [
                    EVERY[family]
                ]
                dests = [span(net(a)) for a in matches.get("destination-address", [])] or [
                    EVERY[family]
                ]
                (protocol,) = matches[protocol_key]
                if protocol in ("tcp", "udp"):
                    assert "icmp-type" not in matches
                    ports = []
                    for item in matches.get("destination-port", ["1-65535"]):
                        low, _, high = item.partition("-")
                        ports.append((int(low), int(high or low)))
                else:
                    assert protocol == ("icmp" if family == 4 else "icmp6"), protocol
                    assert "destination-port" not in matches
                    protocol = "icmp"
                    ports = [(int(t), int(t)) for t in matches.get("icmp-type", [])] or [ALL_TYPES]
                for src, dst, port in itertools.product(sources, dests, ports):
                    add(space, (zone, family, protocol), (src, dst, port))
            assert finished, f"filter {name} does not end with a deny"
    assert len(families) == len(set(families))
    _unfiltered(space, zone, {4, 6} - set(families))
    return space


# -- palo alto PAN-OS ---------------------------------------------------------------------------


def paloalto_space(boundary: tuple[str, str], text: str) -> Space:
    """As :func:`cisco_space`, for a PAN-OS security policy (first match, allow rules, then
    the deny of each family)."""
    space: Space = {}
    root = ET.fromstring(text)
    (vsys,) = root.findall("./devices/entry/vsys/entry")
    addresses: dict[str, list[tuple[int, Span]]] = {"any": [(4, EVERY[4]), (6, EVERY[6])]}
    for entry in vsys.findall("./address/entry"):
        netmask, ip_range = entry.findtext("ip-netmask"), entry.findtext("ip-range")
        if netmask is not None:
            network = net(netmask)
            addresses[entry.get("name", "")] = [(network.version, span(network))]
        else:
            assert ip_range == "0.0.0.0-255.255.255.255", ET.tostring(entry)
            addresses[entry.get("name", "")] = [(4, EVERY[4])]
    for entry in vsys.findall("./address-group/entry"):
        members = [m.text or "" for m in entry.findall("./static/member")]
        addresses[entry.get("name", "")] = [a for m in members for a in addresses[m]]
    services: dict[str, list[tuple[str, Span]]] = {}
    for entry in vsys.findall("./service/entry"):
        (protocol,) = list(entry.find("protocol") or [])
        assert [c.tag for c in protocol] == ["port"], "a service that matches more than ports"
        spans = []
        for item in (protocol.findtext("port") or "").split(","):
            low, _, high = item.partition("-")
            spans.append((protocol.tag, (int(low), int(high or low))))
        services[entry.get("name", "")] = spans
    applications: dict[str, tuple[int, Span]] = {}
    for entry in vsys.findall("./application/entry"):
        default = entry.find("default")
        assert default is not None
        (ident,) = list(default)
        family = {"ident-by-icmp-type": 4, "ident-by-icmp6-type": 6}[ident.tag]
        assert [c.tag for c in ident] == ["type"], "an ICMP code narrows the type"
        number = int(ident.findtext("type") or "")
        applications[entry.get("name", "")] = (family, (number, number))

    def members(rule: ET.Element, tag: str) -> list[str]:
        return [m.text or "" for m in rule.findall(f"./{tag}/member")]

    denied: set[int] = set()
    for rule in vsys.findall("./rulebase/security/rules/entry"):
        assert members(rule, "from") == [boundary[0]] and members(rule, "to") == [boundary[1]]
        action = rule.findtext("action")
        negate = (rule.findtext("negate-source"), rule.findtext("negate-destination"))
        sources = [a for m in members(rule, "source") for a in addresses[m]]
        dests = [a for m in members(rule, "destination") for a in addresses[m]]
        if action in ("deny", "reset-client", "drop"):
            assert members(rule, "service") == ["any"] and members(rule, "application") == ["any"]
            if negate == (None, None):
                assert sources == [(4, EVERY[4])] and dests == [(4, EVERY[4])]
                denied.add(4)
            else:
                assert negate == ("yes", "yes") and sources == dests == [(4, EVERY[4])]
                denied.add(6)  # neither end IPv4: every IPv6 packet
            continue
        assert action == "allow" and negate == (None, None), ET.tostring(rule)
        apps, service_names = members(rule, "application"), members(rule, "service")
        allowed: list[tuple[int | None, str, Span]] = []
        if apps == ["any"]:
            for name in service_names:
                if name == "any":
                    allowed += [(None, p, ALL_PORTS) for p in ("tcp", "udp")]
                    allowed += [(None, "icmp", ALL_TYPES), (None, "other", (0, 0))]
                else:
                    allowed += [(None, p, s) for p, s in services[name]]
        else:
            assert service_names == ["application-default"], service_names
            allowed += [(applications[a][0], "icmp", applications[a][1]) for a in apps]
        for (f_src, src), (f_dst, dst), (f_app, protocol, ports) in itertools.product(
            sources, dests, allowed
        ):
            if f_src != f_dst or (f_app is not None and f_app != f_src):
                continue
            assert f_src not in denied, "an allow after the deny of its family"
            add(space, (*boundary, f_src, protocol), (src, dst, ports))
    assert denied, "the policy does not end with a deny"
    return space


def readers() -> dict[str, Any]:
    """The zone-firewall readers by target name: Cisco and Junos read the filters of the
    interface facing a source zone (``reader(zone, text)``), PAN-OS the rules of one boundary
    (``reader((source zone, destination zone), text)``)."""
    return {"cisco": cisco_space, "juniper": juniper_space, "paloalto": paloalto_space}


def icmp_types(names: Iterable[str], family: int) -> list[Span]:
    """The ICMP type numbers a flow's names stand for in ``family`` (every type for ``any``):
    written out here from RFC 792 and RFC 4443, not taken from portplan."""
    numbers = {
        "echo-request": (8, 128),
        "echo-reply": (0, 129),
        "destination-unreachable": (3, 1),
        "time-exceeded": (11, 3),
        "parameter-problem": (12, 4),
        "packet-too-big": (None, 2),
    }
    found: list[Span] = []
    for name in names:
        if name == "any":
            return [ALL_TYPES]
        number = numbers[name][0 if family == 4 else 1]
        if number is not None:
            found.append((number, number))
    return found

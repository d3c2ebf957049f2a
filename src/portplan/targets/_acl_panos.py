"""Read a PAN-OS security policy that Aerleon rendered back, and prove it permits exactly
what the plan asked for (as :mod:`portplan.targets._acl_check` does for Cisco and Junos).

Rules allow TCP and UDP through service objects of destination ports, with application
``any``; ICMP through custom applications that Aerleon defines, one per ICMP type
(``ident-by-icmp-type`` or, for ICMPv6, ``ident-by-icmp6-type``), with service
``application-default``.  Anything else in a rule, a service or an application is an error.
"""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET

from portplan._errors import TargetError
from portplan.model._types import Network
from portplan.targets._acl_check import (
    ICMP,
    Collector,
    Permits,
    Ranges,
    compare,
    parse_icmp_types,
    parse_ports,
)

__all__ = ["check_paloalto"]

_PROTOCOLS = ("tcp", "udp")
#: the element of a custom ICMP application that names its type, by IP version
_IDENT = {4: "ident-by-icmp-type", 6: "ident-by-icmp6-type"}

_RULE_TAGS = {
    "description",
    "to",
    "from",
    "source",
    "destination",
    "service",
    "action",
    "rule-type",
    "application",
    "tag",
    "negate-source",
    "negate-destination",
}


def _members(rule: ET.Element, tag: str) -> list[str]:
    element = rule.find(tag)
    if element is None:
        return []
    return [m.text or "" for m in element.findall("member")]


def check_paloalto(text: str, from_zone: str, to_zone: str, expected: Permits) -> None:
    """Check a PAN-OS security policy: allow rules exactly the plan, each family then denied."""
    where = f"paloalto {from_zone} -> {to_zone}"
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise TargetError(f"{where}: not well-formed XML: {exc}") from exc
    vsys = root.findall("./devices/entry/vsys/entry")
    if len(vsys) != 1:
        raise TargetError(f"{where}: expected one vsys")
    (config,) = vsys
    addresses: dict[str, Network | None] = {}  # None: the any-ipv4 range
    for entry in config.findall("./address/entry"):
        name = entry.get("name", "")
        netmask = entry.findtext("ip-netmask")
        if netmask is not None:
            addresses[name] = ipaddress.ip_network(netmask, strict=True)
        elif name == "any-ipv4" and entry.findtext("ip-range") == "0.0.0.0-255.255.255.255":
            addresses[name] = None
        else:
            raise TargetError(f"{where}: address {name!r} is neither a netmask nor any-ipv4")
    groups = {
        e.get("name", ""): [m.text or "" for m in e.findall("./static/member")]
        for e in config.findall("./address-group/entry")
    }
    services: dict[str, tuple[str, Ranges]] = {}
    for entry in config.findall("./service/entry"):
        name = entry.get("name", "")
        holder = entry.find("protocol")
        protocols = list(holder) if holder is not None else []
        if len(protocols) != 1 or protocols[0].tag not in _PROTOCOLS:
            raise TargetError(f"{where}: service {name!r} is not one of tcp/udp")
        (protocol,) = protocols
        if [child.tag for child in protocol] != ["port"]:
            raise TargetError(f"{where}: service {name!r} matches more than destination ports")
        ports = parse_ports((protocol.findtext("port") or "").split(","), f"{where} service {name}")
        services[name] = (protocol.tag, ports)

    applications = _icmp_applications(config, where)

    def resolve(names: list[str], rule: str) -> list[Network]:
        nets: list[Network] = []
        for name in names:
            for member in groups.get(name, [name]):
                net = addresses.get(member)
                if net is None:
                    raise TargetError(f"{where}: rule {rule} names {member!r}, not an address")
                nets.append(net)
        if not nets:
            raise TargetError(f"{where}: rule {rule} has no addresses (that would mean any)")
        return nets

    actual = Collector()
    denied: set[int] = set()
    last_deny = False
    for rule in config.findall("./rulebase/security/rules/entry"):
        name = rule.get("name", "")
        extra = {child.tag for child in rule} - _RULE_TAGS
        if extra:
            raise TargetError(f"{where}: rule {name} has unexpected {', '.join(sorted(extra))}")
        if _members(rule, "from") != [from_zone] or _members(rule, "to") != [to_zone]:
            raise TargetError(f"{where}: rule {name} is not from {from_zone} to {to_zone}")
        negate = (rule.findtext("negate-source"), rule.findtext("negate-destination"))
        action = rule.findtext("action")
        if action in ("deny", "reset-client"):
            if _members(rule, "source") != ["any-ipv4"] or _members(rule, "destination") != [
                "any-ipv4"
            ]:
                raise TargetError(f"{where}: deny rule {name} is not the deny of a whole family")
            if _members(rule, "service") != ["any"] or _members(rule, "application") != ["any"]:
                raise TargetError(f"{where}: deny rule {name} is limited to services")
            if negate == (None, None):
                family = 4
            elif negate == ("yes", "yes"):
                family = 6  # not any IPv4 on both ends: every IPv6 packet
            else:
                raise TargetError(f"{where}: deny rule {name} negates one end only")
            denied.add(family)
            last_deny = True
            continue
        if action != "allow" or negate != (None, None):
            raise TargetError(f"{where}: rule {name} is neither a plain allow nor the deny")
        src_nets = resolve(_members(rule, "source"), name)
        dst_nets = resolve(_members(rule, "destination"), name)
        families: set[int] = {n.version for n in (*src_nets, *dst_nets)}
        if len(families) != 1:
            raise TargetError(f"{where}: rule {name} mixes address families")
        (family,) = families
        if family in denied:
            raise TargetError(f"{where}: rule {name} comes after the deny of IPv{family}")
        allowed = _allowed(rule, name, family, services, applications, where)
        for proto, ports in allowed:
            for src in src_nets:
                for dst in dst_nets:
                    actual.add(family, proto, src, dst, ports)
        last_deny = False
    if not last_deny or denied != {4, 6}:
        raise TargetError(f"{where}: the policy does not end by denying everything else")
    compare(actual.result(), expected, where)


def _icmp_applications(config: ET.Element, where: str) -> dict[str, tuple[int, Ranges]]:
    """The custom applications of the policy: each one ICMP type (every code) of one family."""
    found: dict[str, tuple[int, Ranges]] = {}
    for entry in config.findall("./application/entry"):
        name = entry.get("name", "")
        default = entry.find("default")
        idents = list(default) if default is not None else []
        families = [f for f, tag in _IDENT.items() if [e.tag for e in idents] == [tag]]
        if len(families) != 1 or [c.tag for c in idents[0]] != ["type"]:
            raise TargetError(f"{where}: application {name!r} is not one ICMP type")
        types = parse_icmp_types([idents[0].findtext("type") or ""], f"{where} application {name}")
        found[name] = (families[0], types)
    return found


def _allowed(
    rule: ET.Element,
    name: str,
    family: int,
    services: dict[str, tuple[str, Ranges]],
    applications: dict[str, tuple[int, Ranges]],
    where: str,
) -> list[tuple[str, Ranges]]:
    """What an allow rule permits: (protocol, ports) of its services, or the ICMP types of
    its applications."""
    apps = _members(rule, "application")
    service_names = _members(rule, "service")
    if apps == ["any"]:
        if not service_names or any(s not in services for s in service_names):
            raise TargetError(f"{where}: rule {name} has services that are not tcp/udp ports")
        return [services[s] for s in service_names]
    if service_names != ["application-default"] or any(a not in applications for a in apps):
        raise TargetError(f"{where}: rule {name} names applications that are not ICMP types")
    if any(applications[a][0] != family for a in apps):
        raise TargetError(f"{where}: rule {name} names ICMP types of the other IP version")
    return [(ICMP, applications[a][1]) for a in apps]

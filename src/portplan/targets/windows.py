"""Windows Defender Firewall: one PowerShell script of ``New-NetFirewallRule`` calls per host.

Every rule names the host's own addresses of one family (``-LocalAddress``), the peers
(``-RemoteAddress``, always given: Windows reads a missing one as *Any*), the protocol and the
ports, so a rule never widens across families, hosts or ports.  The firewall is stateful: replies
to an allowed connection pass without a rule of their own.  The script stops at the first error
(``$ErrorActionPreference = 'Stop'``) and is re-runnable: it first removes every rule of group
``portplan``, then adds the plan's, then turns the firewall on for the profiles it covers with
inbound (and, with ``--egress``, outbound) traffic blocked unless a rule allows it.

RPC/DCOM.  For rows whose application protocol is ``msrpc`` and whose flow adds a dynamic
range (``dynamic: windows-rpc``), inbound TCP 135 becomes ``-LocalPort RPCEPMap`` and the
dynamic range ``-LocalPort RPC`` (Windows' own "RPC Endpoint Mapper" and "RPC Dynamic Ports"
keywords) instead of opening 49152-65535: the firewall then admits only the ports the RPC
runtime has handed to a registered endpoint, which is narrower than the range.  The keywords
follow the host's RPC configuration, so a restricted range in the deployment's
``dynamic_ranges`` must also be configured on the host; ``--set rpc=ports`` writes the planned
numbers instead.  Other ports of those rows (445) stay numbers.  Keywords exist only for inbound
rules: outbound rules keep the numbers.

Each script begins with a UTF-8 byte-order mark: Windows PowerShell 5.1 reads a script without
one in the ANSI code page, where the bytes of a letter such as ``ł`` (C5 82) read as ``Å`` and
the typographic quote U+201A, which would end a single-quoted string early.

Windows cannot reject (blocked traffic is dropped silently), so ``--default reject`` is refused.
It does not filter loopback traffic either: a loopback flow gets a comment, not a rule.  Other
enabled allow rules on the host (Windows' own, or local ones) still apply; the script ends with a
warning that counts them.

Settings (``--set``): ``profile=Domain,Private`` (default; any of Domain, Private, Public, or
``any`` for all three) and ``rpc=keywords|ports``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from portplan._errors import TargetError
from portplan._text import one_line
from portplan.model._types import Network, Protocol, network_text
from portplan.model.icmp import icmp_numbers
from portplan.model.ports import PortRange, PortSet
from portplan.plan import Plan, PlannedFlow
from portplan.targets.base import STATEFUL_CAPABILITIES, Capability, RuleOptions, Scope, Target
from portplan.targets.hostview import (
    Direction,
    collapse,
    family_icmp,
    header_name,
    hosts_to_render,
    is_everywhere,
    loopback_note,
    name_only_refusal,
    note_line,
    unreachable_lines,
    unreachable_note,
)

__all__ = ["WindowsTarget", "port_difference", "ps_quote", "render_host"]

GROUP = "portplan"
PROFILES = ("Domain", "Private", "Public")
DEFAULT_PROFILES = ("Domain", "Private")
#: the settings (`--set KEY=VALUE`); their values are checked by _settings
SETTINGS: Mapping[str, None] = {"profile": None, "rpc": None}
EPMAP_PORT = 135
KEYWORD_EPMAP = "RPCEPMap"  #: RPC Endpoint Mapper (TCP 135 of the RPCSS service)
KEYWORD_RPC = "RPC"  #: RPC Dynamic Ports
MSRPC = "msrpc"

# PowerShell ends a single-quoted string at any of these; each is escaped by doubling it.
_PS_QUOTES = "'\u2018\u2019\u201a\u201b"
#: the byte-order mark every script begins with: Windows PowerShell 5.1 reads a script without
#: one in the system's ANSI code page, where the UTF-8 bytes of letters such as "ł" or "т"
#: (C5 82, D1 82) read as "Å" or "Ñ" and U+201A, at which a single-quoted string ends
BOM = "\ufeff"


def ps_quote(text: str) -> str:
    """``text`` as a PowerShell single-quoted string: nothing inside is expanded."""
    clean = one_line(text)
    return "'" + "".join(c + c if c in _PS_QUOTES else c for c in clean) + "'"


def _addresses(networks: Sequence[Network]) -> str:
    return ", ".join(ps_quote(network_text(n)) for n in networks)


def port_difference(ports: PortSet, removed: PortSet) -> PortSet:
    """The ports of ``ports`` that are not in ``removed``."""
    left: list[PortRange] = []
    for r in ports.ranges:
        start = r.start
        for cut in removed.ranges:
            if cut.end < start or cut.start > r.end:
                continue
            if cut.start > start:
                left.append(PortRange(start=start, end=cut.start - 1))
            start = max(start, cut.end + 1)
        if start <= r.end:
            left.append(PortRange(start=start, end=r.end))
    return PortSet.of(left)


@dataclass(frozen=True, slots=True)
class _Key:
    direction: Direction
    family: int
    protocol: Protocol
    ports: PortSet  #: empty for ICMP
    icmp: tuple[str, ...]  #: ICMP: the family's message names (``("any",)``: every type)
    keyword: str | None  #: an RPC keyword standing for ``ports`` (inbound only)
    local: tuple[Network, ...]


@dataclass(slots=True)
class _Group:
    flows: dict[str, str] = field(default_factory=dict)  #: flow key -> purpose
    peers: list[Network] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Settings:
    profiles: tuple[str, ...]
    rpc_keywords: bool


def _settings(options: RuleOptions) -> _Settings:
    """The values of the settings (their keys checked by :meth:`Target.check_options`)."""
    profile_text = options.extra.get("profile", ",".join(DEFAULT_PROFILES))
    profiles: list[str] = []
    for word in (w.strip() for w in profile_text.split(",")):
        if word.lower() == "any":
            profiles.extend(PROFILES)
            continue
        match = [p for p in PROFILES if p.lower() == word.lower()]
        if not match:
            raise TargetError(
                f"target windows: profile={profile_text!r}: {word!r} is not a firewall profile; "
                f"give a comma list of {', '.join(PROFILES)}, or any"
            )
        profiles.append(match[0])
    rpc = options.extra.get("rpc", "keywords")
    if rpc not in ("keywords", "ports"):
        raise TargetError(f"target windows: rpc={rpc!r}: give rpc=keywords or rpc=ports")
    chosen = tuple(p for p in PROFILES if p in profiles)  # canonical order, no repeats
    return _Settings(profiles=chosen, rpc_keywords=rpc == "keywords")


def _parts(
    row: PlannedFlow, direction: Direction, settings: _Settings
) -> list[tuple[PortSet, str | None]]:
    """The row's ports, with the RPC keywords split off where they apply."""
    dynamic = row.dynamic_ports
    if (
        direction is not Direction.INBOUND
        or not settings.rpc_keywords
        or row.app_protocol != MSRPC
        or row.protocol is not Protocol.TCP
        or dynamic is None
    ):
        return [(row.ports, None)]
    parts: list[tuple[PortSet, str | None]] = []
    epmap = PortSet.of([PortRange.single(EPMAP_PORT)])
    if EPMAP_PORT in row.ports and EPMAP_PORT not in dynamic:
        parts.append((epmap, KEYWORD_EPMAP))
    numbers = port_difference(port_difference(row.ports, dynamic), epmap)
    if numbers:
        parts.append((numbers, None))
    parts.append((dynamic, KEYWORD_RPC))
    return sorted(parts, key=lambda part: part[0].ranges[0].start)


@dataclass(frozen=True, slots=True, kw_only=True)
class _HostPlan:
    groups: dict[_Key, _Group]
    loopback: tuple[str, ...]
    unreachable: tuple[str, ...]


def _host_plan(
    plan: Plan,
    host: str,
    addresses: tuple[Network, ...],
    options: RuleOptions,
    settings: _Settings,
) -> _HostPlan:
    groups: dict[_Key, _Group] = {}
    loopback: dict[str, None] = {}
    unreachable: dict[str, None] = {}
    own = {family: collapse(addresses, family) for family in (4, 6)}

    def add(direction: Direction, row: PlannedFlow, peers: tuple[Network, ...]) -> None:
        # both ends, this host too: a rule with no address of its own would accept nothing,
        # and the script would block everything else (management included)
        ends = ((row.source, row.source_addresses), (row.destination, row.destination_addresses))
        for end, nets in ends:
            if not nets:
                raise name_only_refusal(plan, row, end, "a Windows Firewall rule")
        for family in (4, 6):
            peer_nets = [n for n in peers if n.version == family]
            if not peer_nets:
                continue
            local = own[family]
            if not local:
                unreachable[unreachable_note(row, family)] = None
                continue
            icmp = family_icmp(row.protocol, row.icmp, family)
            if row.protocol is Protocol.ICMP and not icmp:
                continue  # no such message in this family (packet-too-big over IPv4)
            for ports, keyword in _parts(row, direction, settings):
                key = _Key(direction, family, row.protocol, ports, icmp, keyword, local)
                group = groups.setdefault(key, _Group())
                group.flows.setdefault(row.key, row.purpose)
                group.peers.extend(peer_nets)

    for row in plan.rows_of(host):
        if row.loopback:
            if row.destination == host:
                loopback[loopback_note(row)] = None
            continue
        if row.destination == host:
            add(Direction.INBOUND, row, row.source_addresses)
        if options.egress and row.source == host:
            add(Direction.OUTBOUND, row, row.destination_addresses)
    return _HostPlan(groups=groups, loopback=tuple(loopback), unreachable=tuple(unreachable))


def _port_values(ports: PortSet) -> str:
    return ", ".join(ps_quote(str(r)) for r in ports.ranges)


def _protocol(key: _Key, inbound: bool) -> tuple[str, str]:
    """The rule's name for its service (``TCP 443``, ``ICMPv4 echo-request``) and its
    protocol parameters: ports (or an RPC keyword), or the ICMP type numbers (none for every
    type: New-NetFirewallRule's -IcmpType defaults to any)."""
    if key.protocol is Protocol.ICMP:
        protocol = "ICMPv4" if key.family == 4 else "ICMPv6"
        numbers = icmp_numbers(key.icmp, key.family)
        if numbers is None:
            return f"{protocol} any type", f"-Protocol {protocol}"
        types = ", ".join(ps_quote(str(n)) for n in numbers)
        return f"{protocol} {', '.join(key.icmp)}", f"-Protocol {protocol} -IcmpType {types}"
    port_flag = "-LocalPort" if inbound else "-RemotePort"
    ports = ps_quote(key.keyword) if key.keyword else _port_values(key.ports)
    what = key.keyword or str(key.ports)
    name = f"{key.protocol.value.upper()} {what}"
    return name, f"-Protocol {key.protocol.value.upper()} {port_flag} {ports}"


def _rule(key: _Key, group: _Group, settings: _Settings) -> list[str]:
    inbound = key.direction is Direction.INBOUND
    flows = list(group.flows)
    what, protocol = _protocol(key, inbound)
    name = f"{GROUP} {'in' if inbound else 'out'} {what}: " + ", ".join(flows)
    description = "; ".join(f"{flow}: {purpose}" for flow, purpose in group.flows.items())
    # Windows Firewall refuses "|" in a rule's name and description (its rule store
    # separates fields with it)
    name, description = name.replace("|", "/"), description.replace("|", "/")
    peers = collapse(group.peers, key.family)
    # from (or to) anywhere: Windows' own keyword; the local addresses keep the family
    remote = ps_quote("Any") if is_everywhere(peers, key.family) else _addresses(peers)
    notes = [note_line(flow, purpose) for flow, purpose in group.flows.items()]
    return [
        *notes,
        f"New-NetFirewallRule -DisplayName {ps_quote(name)} `",
        f"    -Description {ps_quote(description)} `",
        f"    -Group {ps_quote(GROUP)} -Direction {'Inbound' if inbound else 'Outbound'} "
        f"-Action Allow -Profile {', '.join(settings.profiles)} `",
        f"    {protocol} `",
        f"    -LocalAddress {_addresses(key.local)} `",
        f"    -RemoteAddress {remote} | Out-Null",
    ]


def render_host(plan: Plan, host: str, options: RuleOptions, settings: _Settings) -> str:
    """The PowerShell script that installs ``host``'s rules (``settings`` read from ``options``)."""
    addresses = plan.host_addresses(host)
    view = _host_plan(plan, host, addresses, options, settings)
    profiles = ", ".join(settings.profiles)
    out = [
        f"{BOM}# portplan Windows Defender Firewall rules for host {host} "
        f"of deployment {header_name(plan.deployment)}.",
        "# Generated from the flow plan: every rule names the flows it implements; do not edit.",
        f"# Run in an elevated PowerShell: .\\{host}.ps1 (re-runnable: it first removes every rule "
        f"of group '{GROUP}').",
        f"# Rules apply to the {profiles} profile(s); "
        + (
            "stateful; ICMP by type (-IcmpType)."
            if any(key.protocol is Protocol.ICMP for key in view.groups)
            else "TCP/UDP only, stateful."
        ),
    ]
    if any(key.keyword for key in view.groups):
        out.append(
            f"# RPC: inbound TCP {EPMAP_PORT} is the {KEYWORD_EPMAP} keyword and the dynamic "
            f"range the {KEYWORD_RPC} keyword (RPC Dynamic Ports), not a port range."
        )
    out.extend(unreachable_lines(view.unreachable))
    out += [
        "#Requires -RunAsAdministrator",
        "",
        "$ErrorActionPreference = 'Stop'",
        f"Remove-NetFirewallRule -Group {ps_quote(GROUP)} -ErrorAction SilentlyContinue",
    ]
    for direction in (Direction.INBOUND, Direction.OUTBOUND):
        keys = [k for k in view.groups if k.direction is direction]
        if direction is Direction.OUTBOUND and not options.egress:
            continue
        out += ["", f"# --- {'inbound' if direction is Direction.INBOUND else 'outbound'} ---"]
        if direction is Direction.INBOUND:
            out.extend(
                f"# {flow} over loopback: Windows Firewall does not filter loopback traffic, "
                "so no rule is needed."
                for flow in view.loopback
            )
        if not keys:
            out.append("# nothing planned")
        for key in keys:
            out.extend(_rule(key, view.groups[key], settings))
    actions = "-DefaultInboundAction Block"
    if options.egress:
        actions += " -DefaultOutboundAction Block"
    out += [
        "",
        "# Enforce once every rule is in place: traffic no rule allows is dropped.",
        f"Set-NetFirewallProfile -Profile {profiles} -Enabled True {actions}",
    ]
    if not options.egress:
        out.append(
            "# Outbound traffic is not filtered here; the default outbound action is left as it is."
        )
    direction_filter = "" if options.egress else " -Direction Inbound"
    out += [
        "",
        "# Allow rules outside this group still apply: count them so they can be reviewed.",
        f"$others = @(Get-NetFirewallRule -Enabled True -Action Allow{direction_filter} |",
        f"    Where-Object {{ $_.Group -ne {ps_quote(GROUP)} }})",
        "if ($others.Count -gt 0) {",
        "    Write-Warning ('{0} enabled allow rule(s) outside group "
        + GROUP
        + " also apply on this host' -f $others.Count)",
        "}",
    ]
    return "\n".join(out) + "\n"


class WindowsTarget(Target):
    """Windows Defender Firewall with Advanced Security, through PowerShell's NetSecurity module."""

    name = "windows"
    description = (
        "Windows Defender Firewall: one PowerShell script per host (New-NetFirewallRule), "
        "stateful, RPC keywords for DCOM/WMI"
    )
    scope = Scope.HOST
    capabilities = STATEFUL_CAPABILITIES | {Capability.RPC_KEYWORDS}
    settings = SETTINGS
    reject_refusal = (
        "Windows Defender Firewall drops blocked traffic silently and has no reject action"
    )

    def render(self, plan: Plan, options: RuleOptions) -> dict[str, str]:
        self.check_options(options)
        settings = _settings(options)  # refuse bad settings even when no host is rendered
        files = {}
        for host in hosts_to_render(plan, options):
            files[f"{host}.ps1"] = render_host(plan, host, options, settings)
        return files

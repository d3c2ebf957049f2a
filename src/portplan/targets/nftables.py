"""nftables: one ``inet portplan`` table per host, stateful, with named address sets.

Each rule matches the family's source *and* destination addresses (``ip``/``ip6``), the
protocol and the port set, and ``ct state new``; replies pass through ``established,related``.
So a rule can never widen across families, hosts or ports.  The file replaces only the
``portplan`` table, atomically (``table … / delete table … / table … {}`` in one transaction).

With ``--set layout=shared`` the whole deployment gets one ruleset that every host loads
(:mod:`portplan.targets.sharedview`): because every rule matches both ends, a host accepts
only what is addressed to it (and, with egress, sends only what it may send).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from portplan._errors import TargetError
from portplan.model._types import Network, Protocol, network_text
from portplan.model.ports import PortSet
from portplan.plan import Plan
from portplan.targets.apply.nftables import NftablesApplier
from portplan.targets.base import DefaultAction, RuleOptions
from portplan.targets.hostview import (
    DHCPV6_COMMENT,
    DHCPV6_REQUEST_COMMENT,
    DHCPV6_SERVERS,
    LINK_LOCAL,
    LOOPBACK_SETTINGS,
    MLD_COMMENT,
    MLD_REPORT_COMMENT,
    MLD_REPORTS,
    Direction,
    HostRule,
    HostView,
    LinuxHostTarget,
    ViewCache,
    header_name,
    host_view,
    hosts_to_render,
    is_everywhere,
    note_lines,
    unreachable_lines,
)
from portplan.targets.sharedview import SharedRule, SharedView, shared_view

__all__ = ["NftablesTarget", "render_host", "render_shared"]

TABLE = "portplan"
#: the target's settings: loopback (see hostview) and the layout of the output
SETTINGS: Mapping[str, tuple[str, ...]] = {
    **LOOPBACK_SETTINGS,
    "layout": ("per-host", "shared"),
}
#: the file of ``layout=shared``
SHARED_FILE = "shared.nft"
_COMMENT_MAX = 120  # nft keeps at most 128 bytes of comment


def _elements(networks: Sequence[Network]) -> str:
    return ", ".join(network_text(n) for n in networks)


def _match(family: int, field: str, networks: Sequence[Network], set_name: str | None) -> str:
    keyword = "ip" if family == 4 else "ip6"
    if set_name is not None:
        return f"{keyword} {field} @{set_name}"
    if len(networks) == 1:
        return f"{keyword} {field} {network_text(networks[0])}"
    return f"{keyword} {field} {{ {_elements(networks)} }}"


def _one_or_set(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _service(family: int, protocol: Protocol, ports: PortSet, icmp: tuple[str, ...]) -> str:
    """``tcp dport 443``; for ICMP ``icmp type echo-request`` (``icmpv6`` over IPv6), or the
    whole protocol for every type (nft's type names are the model's)."""
    if protocol is Protocol.ICMP:
        keyword = "icmp" if family == 4 else "icmpv6"
        if icmp == ("any",):
            return f"meta l4proto {'icmp' if family == 4 else 'ipv6-icmp'}"
        return f"{keyword} type {_one_or_set(icmp)}"
    if not ports:
        raise TargetError(f"a {protocol.value} rule without ports would allow every port")
    return f"{protocol.value} dport {_one_or_set([str(r) for r in ports.ranges])}"


def _comment(rule: HostRule | SharedRule) -> str:
    text = rule.flows[0] + (f" +{len(rule.flows) - 1}" if len(rule.flows) > 1 else "")
    return text[:_COMMENT_MAX].replace('"', "'")


def _notes(rule: HostRule | SharedRule) -> list[str]:
    return [f"\t\t{note}" for note in note_lines(rule.flows, rule.purposes)]


def render_host(view: HostView, options: RuleOptions, accept_loopback: bool) -> str:
    """The nftables ruleset of one host."""
    sets: list[str] = []
    chains: dict[Direction, list[str]] = {Direction.INBOUND: [], Direction.OUTBOUND: []}
    named: dict[tuple[Network, ...], str] = {}  # one set per distinct address group
    for rule in view.rules:
        set_name = named.get(rule.peers)
        if set_name is None and len(rule.peers) > 1:
            set_name = named[rule.peers] = f"peers_v{rule.family}_{len(named) + 1}"
            sets.extend(_set_lines(set_name, rule.family, rule.peers, fold=False))
        inbound = rule.direction is Direction.INBOUND
        peer_field, local_field = ("saddr", "daddr") if inbound else ("daddr", "saddr")
        parts = [
            # from (or to) anywhere: no match on the peer; the local match keeps the family
            *(
                []
                if is_everywhere(rule.peers, rule.family)
                else [_match(rule.family, peer_field, rule.peers, set_name)]
            ),
            _match(rule.family, local_field, rule.local, None),
            _service(rule.family, rule.protocol, rule.ports, rule.icmp),
            "ct state new",
            "accept",
            f'comment "{_comment(rule)}"',
        ]
        notes = _notes(rule)
        # a loopback rule is inbound; with egress, its connection leaves through output first
        chains[rule.direction] += [*notes, "\t\t" + " ".join(['iif "lo"'] * rule.loopback + parts)]
        if rule.loopback and options.egress:
            chains[Direction.OUTBOUND] += [*notes, "\t\t" + " ".join(['oif "lo"', *parts])]

    header = [
        "#!/usr/sbin/nft -f",
        f"# portplan nftables ruleset for host {view.host} of deployment "
        f"{header_name(view.deployment)}.",
        "# Generated from the flow plan: every rule names the flows it implements; do not edit.",
        f"# Apply with `nft -f {view.host}.nft`: it replaces only table inet {TABLE}, atomically.",
    ]
    header.extend(unreachable_lines(view.unreachable))
    return _file(
        header,
        sets,
        _chains(options, accept_loopback, chains[Direction.INBOUND], chains[Direction.OUTBOUND]),
    )


def _file(header: list[str], sets: list[str], chains: list[str]) -> str:
    """The ruleset file: it replaces table inet portplan in one transaction."""
    out = [
        *header,
        "",
        f"table inet {TABLE}",
        f"delete table inet {TABLE}",
        "",
        f"table inet {TABLE} {{",
        *sets,
        *chains,
    ]
    return "\n".join(out) + "\n"


def _chains(
    options: RuleOptions, accept_loopback: bool, inbound: list[str], outbound: list[str]
) -> list[str]:
    """The base chains (input; output with egress) around the rules, and the table's end."""
    base = ["\t\tct state established,related accept", "\t\tct state invalid drop"]
    neighbour = (
        "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, "
        'nd-router-advert } ip6 hoplimit 255 accept comment "IPv6 neighbour discovery"'
    )
    # what conntrack cannot tie to anything the host sent: the router's multicast listener
    # queries (unanswered, an MLD-snooping switch stops forwarding the host's solicited-node
    # group, so neighbour solicitations for it no longer arrive) and the DHCPv6 server's
    # unicast replies to the client's requests to ff02::1:2; from the link only
    link = [
        f"\t\tip6 saddr {LINK_LOCAL} icmpv6 type mld-listener-query ip6 hoplimit 1 accept "
        f'comment "{MLD_COMMENT}"',
        f'\t\tip6 saddr {LINK_LOCAL} udp sport 547 udp dport 546 accept comment "{DHCPV6_COMMENT}"',
    ]
    # and what the host sends on the link itself: its listener reports (from :: before it has
    # a link-local address) and its DHCPv6 client's requests to the servers of the link
    link_out = [
        *(
            f"\t\tip6 saddr {{ ::, {LINK_LOCAL} }} ip6 daddr {destination} icmpv6 type {name} "
            f'ip6 hoplimit 1 accept comment "{MLD_REPORT_COMMENT}"'
            for name, _number, destination in MLD_REPORTS
        ),
        f"\t\tip6 saddr {LINK_LOCAL} ip6 daddr {DHCPV6_SERVERS} udp sport 546 udp dport 547 "
        f'accept comment "{DHCPV6_REQUEST_COMMENT}"',
    ]
    out = [
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy drop;",
        *base,
        *(['\t\tiif "lo" accept comment "loopback"'] if accept_loopback else []),
        neighbour,
        *link,
        *inbound,
        *_final(options),
        "\t}",
    ]
    if options.egress:
        out += [
            "",
            "\tchain output {",
            "\t\ttype filter hook output priority filter; policy drop;",
            *base,
            *(['\t\toif "lo" accept comment "loopback"'] if accept_loopback else []),
            neighbour,
            *link_out,
            *outbound,
            *_final(options),
            "\t}",
        ]
    out.append("}")
    return out


def _set_lines(
    name: str, family: int, networks: Sequence[Network], *, fold: bool = True
) -> list[str]:
    """A named set; with ``fold``, more than 8 elements are written one per line."""
    kind = "ipv4_addr" if family == 4 else "ipv6_addr"
    lines = [f"\tset {name} {{", f"\t\ttype {kind}", "\t\tflags interval"]
    if not fold or len(networks) <= 8:
        lines.append(f"\t\telements = {{ {_elements(networks)} }}")
    else:  # one per line: a host added or removed is a one-line diff
        lines.append("\t\telements = {")
        lines.extend(f"\t\t\t{network_text(n)}," for n in networks)
        lines.append("\t\t}")
    return [*lines, "\t}", ""]


def render_shared(view: SharedView, options: RuleOptions, accept_loopback: bool) -> str:
    """The one nftables ruleset every host of the deployment loads."""
    sets: list[str] = []
    named: dict[tuple[int, tuple[Network, ...]], str] = {}

    def match(family: int, field: str, networks: tuple[Network, ...]) -> str:
        if len(networks) == 1:
            return _match(family, field, networks, None)
        name = named.get((family, networks))
        if name is None:
            name = named[family, networks] = f"v{family}_{len(named) + 1}"
            sets.extend(_set_lines(name, family, networks))
        return _match(family, field, networks, name)

    inbound: list[str] = []
    outbound: list[str] = []
    for rule in view.rules:
        parts = [
            *(
                []
                if is_everywhere(rule.sources, rule.family)
                else [match(rule.family, "saddr", rule.sources)]
            ),
            match(rule.family, "daddr", rule.destinations),
            _service(rule.family, rule.protocol, rule.ports, rule.icmp),
            "ct state new",
            "accept",
            f'comment "{_comment(rule)}"',
        ]
        notes = _notes(rule)
        inbound += [*notes, "\t\t" + " ".join(['iif "lo"'] * rule.loopback + parts)]
        if options.egress:
            outbound += [*notes, "\t\t" + " ".join(['oif "lo"'] * rule.loopback + parts)]
    header = [
        "#!/usr/sbin/nft -f",
        f"# portplan nftables ruleset shared by the {len(view.hosts)} hosts of deployment "
        f"{header_name(view.deployment)}.",
        "# Every rule matches both ends, so each host accepts only what is addressed to it"
        + (" and sends only what it may send." if options.egress else "."),
        "# Generated from the flow plan: every rule names the flows it implements; do not edit.",
        f"# Apply on each host with `nft -f {SHARED_FILE}`: it replaces only table inet {TABLE}, "
        "atomically.",
    ]
    header += [f"# loopback flow, accepted with all loopback: {k}" for k in view.loopback_flows]
    header += [f"# not reachable: {u}" for u in view.unreachable]
    return _file(header, sets, _chains(options, accept_loopback, inbound, outbound))


def _final(options: RuleOptions) -> list[str]:
    if options.default is DefaultAction.REJECT:
        return [
            '\t\tmeta l4proto tcp reject with tcp reset comment "not in the plan"',
            '\t\treject with icmpx admin-prohibited comment "not in the plan"',
        ]
    return []


class NftablesTarget(LinuxHostTarget):
    """Linux nftables host firewall."""

    name = "nftables"
    description = (
        "Linux nftables: one inet table per host (or, with --set layout=shared, one ruleset "
        "every host loads), named sets, stateful, IPv4 and IPv6"
    )
    settings = SETTINGS
    applier = NftablesApplier

    def render(self, plan: Plan, options: RuleOptions) -> dict[str, str]:
        accept_loopback = self.accept_loopback(options)  # refuse unknown settings
        if options.extra.get("layout") == "shared":
            if options.hosts:
                raise TargetError(
                    "layout=shared writes one ruleset for every host: use --all-hosts "
                    "instead of --host"
                )
            shared = shared_view(plan, loopback_all=accept_loopback)
            return {SHARED_FILE: render_shared(shared, options, accept_loopback)}
        files = {}
        cache = ViewCache()
        for host in hosts_to_render(plan, options):
            view = host_view(
                plan, host, plan.host_addresses(host), egress=options.egress, cache=cache
            )
            files[f"{host}.nft"] = render_host(view, options, accept_loopback)
        return files

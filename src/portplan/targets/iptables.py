"""iptables: ``iptables-restore`` / ``ip6tables-restore`` files per host, stateful, with ipsets.

Each host gets ``<host>.v4`` and ``<host>.v6`` (the filter table of each family, always both: a
host with no address of a family still has a link-local IPv6 one) and, when address sets are
used, ``<host>.ipset`` for ``ipset restore``, to be loaded first.

Every rule matches the family's source *and* destination addresses, the protocol, the ports and
``--ctstate NEW``; replies pass through ``ESTABLISHED,RELATED`` and ``INVALID`` is dropped.  So
a rule can never widen across families, hosts or ports.

Design decisions:

* ``iptables-restore`` replaces the *whole* filter table of its family (every chain, also other
  tools' rules), so FORWARD cannot be left as it was.  Its policy is ``DROP``: a host firewall
  forwards nothing, and the plan names no forwarded flow, so forwarding would be broader than
  the plan.  Hosts that route for containers or VMs must not take this ruleset as it is.
* A peer (or local) address list of more than :data:`SET_THRESHOLD` networks becomes one
  ``hash:net`` ipset, so a rule stays one line; shorter lists give one rule per network, which
  reads better than a set of two.  A set is named after what it holds,
  ``portplan_v<family>_<hash>`` (the first :data:`SET_HASH_LENGTH` hex digits of the SHA-256
  of its family and members), so one name always means one membership: loading a new plan's
  sets never changes the members of a set the rules in force name (before the new rules are
  in, the old ones would match the new members: a peer of one plan reaching a port of the
  other, which neither plan opens).  Each set is filled under a temporary name and swapped
  in, so the ipset file can be re-applied atomically and a set never keeps a member the plan
  dropped.
* ``-m multiport`` takes at most :data:`MULTIPORT_MAX` ports, a range counting two; larger port
  sets are split over several rules.
* Loopback follows nftables: ``-i lo`` is accepted unless ``loopback=planned``, and planned
  loopback flows get ``-i lo`` rules.  With egress filtering their first packet also passes
  OUTPUT (``-o lo``), so the same rules are written there too, else planned loopback flows
  would be cut off under ``loopback=planned``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from portplan._errors import TargetError
from portplan._text import one_line
from portplan.model._types import Network, Protocol
from portplan.model.ports import PortRange, PortSet
from portplan.plan import Plan
from portplan.targets.apply.iptables import (
    LOOPBACK_COMMENT,
    NEIGHBOUR_COMMENT,
    UNPLANNED_COMMENT,
    IptablesApplier,
)
from portplan.targets.base import DefaultAction, RuleOptions
from portplan.targets.hostview import (
    DHCPV6_COMMENT,
    DHCPV6_REQUEST_COMMENT,
    DHCPV6_SERVERS,
    LINK_LOCAL,
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

__all__ = [
    "MULTIPORT_MAX",
    "SET_HASH_LENGTH",
    "SET_THRESHOLD",
    "IptablesTarget",
    "port_chunks",
    "render_host",
    "set_name",
]

#: An address list longer than this becomes an ipset (shorter: one rule per network).
SET_THRESHOLD = 4
#: Ports one ``-m multiport`` match holds; a range counts as two.
MULTIPORT_MAX = 15
SET_PREFIX = "portplan"
#: hex digits of a set's name that tell its members: ``portplan_v4_`` and these, with the
#: ``_tmp`` of the set it is filled under, within ipset's 31 characters
SET_HASH_LENGTH = 12
_SET_MAXELEM = 65536  # ipset's default maxelem, which the sets are created with
_COMMENT_MAX = 255  # xt_comment keeps 256 bytes with the NUL; nft-based iptables truncates silently


def _net(network: Network) -> str:
    return str(network)  # always with its prefix length, as iptables-save prints it


@dataclass(slots=True)
class _Sets:
    """Address sets of one host, one per distinct list, named after their members."""

    host: str
    named: dict[tuple[int, tuple[Network, ...]], str] = field(default_factory=dict)

    def name(self, family: int, networks: tuple[Network, ...]) -> str:
        key = (family, networks)
        found = self.named.get(key)
        if found is None:
            if len(networks) > _SET_MAXELEM:
                raise TargetError(
                    f"host {self.host}: {len(networks)} networks in one address set, more than "
                    f"an ipset holds ({_SET_MAXELEM})"
                )
            found = self.named[key] = set_name(family, networks)
        return found

    def members(self) -> dict[str, tuple[int, tuple[Network, ...]]]:
        """Each set's name → its family and members, in order of first use."""
        found: dict[str, tuple[int, tuple[Network, ...]]] = {}
        for (family, networks), name in self.named.items():
            found.setdefault(name, (family, networks))  # (one list in two orders: one set)
        return found


def set_name(family: int, networks: Sequence[Network]) -> str:
    """The name of the address set of ``family`` holding ``networks``: the same members
    (in any order) give the same name, other members another one."""
    members = "\n".join(sorted({_net(n) for n in networks}))
    digest = hashlib.sha256(f"portplan set v{family}\n{members}\n".encode()).hexdigest()
    return f"{SET_PREFIX}_v{family}_{digest[:SET_HASH_LENGTH]}"


def port_chunks(ports: PortSet) -> list[tuple[PortRange, ...]]:
    """``ports`` split into groups one ``-m multiport`` match can hold (a range counts two)."""
    chunks: list[tuple[PortRange, ...]] = []
    current: list[PortRange] = []
    used = 0
    for port_range in ports.ranges:
        cost = 1 if port_range.start == port_range.end else 2
        if used + cost > MULTIPORT_MAX:
            chunks.append(tuple(current))
            current, used = [], 0
        current.append(port_range)
        used += cost
    if current:
        chunks.append(tuple(current))
    return chunks


def _range(port_range: PortRange) -> str:
    if port_range.start == port_range.end:
        return str(port_range.start)
    return f"{port_range.start}:{port_range.end}"


def _port_match(protocol: str, chunk: Sequence[PortRange]) -> str:
    if len(chunk) == 1:
        return f"-p {protocol} -m {protocol} --dport {_range(chunk[0])}"
    return f"-p {protocol} -m multiport --dports {','.join(_range(r) for r in chunk)}"


def _clean(text: str) -> str:
    """Text safe inside a double-quoted iptables-restore word: printable ASCII, no quote or \\."""
    text = text.replace('"', "'").replace("\\", "/")
    return "".join(c if " " <= c <= "~" else "?" for c in text)


def _comment(flows: Sequence[str]) -> str:
    """The flow ids, as many as fit in an xt_comment, then how many more."""
    names = [_clean(f) for f in flows]
    text = ", ".join(names)
    if len(text) <= _COMMENT_MAX:
        return text
    for shown in range(len(names) - 1, 0, -1):
        text = ", ".join(names[:shown]) + f" +{len(names) - shown} more"
        if len(text) <= _COMMENT_MAX:
            return text
    more = f" +{len(names) - 1} more" if len(names) > 1 else ""
    return names[0][: _COMMENT_MAX - len(more)] + more


def _address_matches(
    family: int, networks: tuple[Network, ...], side: str, sets: _Sets
) -> list[str]:
    """``-s``/``-d`` per network, or one ``-m set`` match for a list above the threshold;
    every address of the family (anywhere) is no match at all: ``[""]``."""
    if is_everywhere(networks, family):
        return [""]
    if len(networks) > SET_THRESHOLD:
        return [f"-m set --match-set {sets.name(family, networks)} {side}"]
    flag = "-s" if side == "src" else "-d"
    return [f"{flag} {_net(n)}" for n in networks]


def _icmp_matches(family: int, icmp: tuple[str, ...]) -> list[str]:
    """One match per ICMP message (``-m icmp`` takes one type), or the protocol for every
    type; iptables' type names are the model's."""
    if family == 4:
        protocol, match = "-p icmp", "-m icmp --icmp-type"
    else:
        protocol, match = "-p ipv6-icmp", "-m icmp6 --icmpv6-type"
    if icmp == ("any",):
        return [protocol]
    return [f"{protocol} {match} {name}" for name in icmp]


def _service_matches(rule: HostRule) -> list[str]:
    """The protocol matches of one host rule: per port chunk, or per ICMP message."""
    if rule.protocol is Protocol.ICMP:
        return _icmp_matches(rule.family, rule.icmp)
    if not rule.ports:
        raise TargetError(
            f"flows {', '.join(rule.flows)} name no port: refusing a rule without one"
        )
    return [_port_match(rule.protocol.value, chunk) for chunk in port_chunks(rule.ports)]


def _rule_lines(rule: HostRule, chain: str, interface: str | None, sets: _Sets) -> list[str]:
    """The iptables rules of one host rule: every source x destination x port chunk (or
    ICMP message); a peer that is anywhere needs no address match."""
    services = _service_matches(rule)
    if rule.direction is Direction.INBOUND:
        sources, destinations = rule.peers, rule.local
    else:
        sources, destinations = rule.local, rule.peers
    src = _address_matches(rule.family, sources, "src", sets)
    dst = _address_matches(rule.family, destinations, "dst", sets)
    tail = f'-m conntrack --ctstate NEW -m comment --comment "{_comment(rule.flows)}" -j ACCEPT'
    lines = note_lines(rule.flows, rule.purposes)
    for s in src:
        for d in dst:
            for service in services:
                parts = [f"-A {chain}", *([s] if s else []), *([d] if d else [])]
                if interface is not None:
                    parts.append(interface)
                parts += [service, tail]
                lines.append(" ".join(parts))
    return lines


def _prefixed(network: str) -> str:
    """A network as iptables-save writes it: with its prefix length, ``/128`` for one address."""
    return network if "/" in network else f"{network}/128"


def _base(chain: str, family: int, accept_loopback: bool) -> list[str]:
    interface = "-i lo" if chain == "INPUT" else "-o lo"
    lines = [
        f"-A {chain} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
        f"-A {chain} -m conntrack --ctstate INVALID -j DROP",
    ]
    if accept_loopback:
        lines.append(f'-A {chain} {interface} -m comment --comment "{LOOPBACK_COMMENT}" -j ACCEPT')
    if family == 6:
        lines.extend(
            f"-A {chain} -p ipv6-icmp -m icmp6 --icmpv6-type {icmp_type} -m hl --hl-eq 255 "
            f'-m comment --comment "{NEIGHBOUR_COMMENT}" -j ACCEPT'
            for icmp_type in (133, 134, 135, 136)
        )
    if family == 6 and chain == "INPUT":  # from the link: see hostview.LINK_LOCAL
        lines += [
            f"-A {chain} -s {LINK_LOCAL} -p ipv6-icmp -m icmp6 --icmpv6-type 130 -m hl --hl-eq 1 "
            f'-m comment --comment "{MLD_COMMENT}" -j ACCEPT',
            f"-A {chain} -s {LINK_LOCAL} -p udp -m udp --sport 547 --dport 546 "
            f'-m comment --comment "{DHCPV6_COMMENT}" -j ACCEPT',
        ]
    if family == 6 and chain == "OUTPUT":  # to the link: listener reports, DHCPv6 requests
        lines += [
            f"-A {chain} -s {source} -d {_prefixed(destination)} -p ipv6-icmp -m icmp6 "
            f"--icmpv6-type {number} -m hl --hl-eq 1 "
            f'-m comment --comment "{MLD_REPORT_COMMENT}" -j ACCEPT'
            for _name, number, destination in MLD_REPORTS
            for source in ("::/128", LINK_LOCAL)
        ]
        lines.append(
            f"-A {chain} -s {LINK_LOCAL} -d {_prefixed(DHCPV6_SERVERS)} -p udp -m udp --sport 546 "
            f'--dport 547 -m comment --comment "{DHCPV6_REQUEST_COMMENT}" -j ACCEPT'
        )
    return lines


def _final(chain: str, family: int, options: RuleOptions) -> list[str]:
    if options.default is not DefaultAction.REJECT:
        return []
    prohibited = "icmp-admin-prohibited" if family == 4 else "icmp6-adm-prohibited"
    comment = f'-m comment --comment "{UNPLANNED_COMMENT}"'
    return [
        f"-A {chain} -p tcp {comment} -j REJECT --reject-with tcp-reset",
        f"-A {chain} {comment} -j REJECT --reject-with {prohibited}",
    ]


def _render_family(
    view: HostView, family: int, options: RuleOptions, accept_loopback: bool, sets: _Sets
) -> str:
    """The ``iptables-restore`` (family 4) or ``ip6tables-restore`` (6) file of one host."""
    inbound: list[str] = []
    outbound: list[str] = []
    for rule in view.rules:
        if rule.family != family:
            continue
        if rule.direction is Direction.OUTBOUND:
            outbound += _rule_lines(rule, "OUTPUT", None, sets)
            continue
        inbound += _rule_lines(rule, "INPUT", "-i lo" if rule.loopback else None, sets)
        if rule.loopback and options.egress:  # the connection's first packet passes OUTPUT too
            outbound += _rule_lines(rule, "OUTPUT", "-o lo", sets)
    used_sets = [name for name, (fam, _nets) in sets.members().items() if fam == family]

    tool = "iptables-restore" if family == 4 else "ip6tables-restore"
    label = f"IPv{family}"
    suffix = f"v{family}"
    header = [
        f"# portplan {tool} ruleset ({label}) for host {view.host} of deployment "
        f"{header_name(view.deployment)}.",
        "# Generated from the flow plan: every rule names the flows it implements; do not edit.",
        f"# Apply with `{tool} {view.host}.{suffix}`: it replaces the WHOLE {label} filter table,",
        "# atomically: every chain and rule in it, also those other tools (Docker, fail2ban) put "
        "there.",
        "# FORWARD drops everything: a host firewall forwards nothing the plan names.",
    ]
    if used_sets:
        header.append(
            f"# Needs the address sets {', '.join(used_sets)}: "
            f"`ipset restore -f {view.host}.ipset` first."
        )
    header.extend(unreachable_lines(one_line(u) for u in view.unreachable))
    output_policy = "DROP" if options.egress else "ACCEPT"
    out = [
        *header,
        "",
        "*filter",
        ":INPUT DROP [0:0]",
        ":FORWARD DROP [0:0]",
        f":OUTPUT {output_policy} [0:0]",
        *_base("INPUT", family, accept_loopback),
        *inbound,
        *_final("INPUT", family, options),
    ]
    if options.egress:
        out += [
            *_base("OUTPUT", family, accept_loopback),
            *outbound,
            *_final("OUTPUT", family, options),
        ]
    out.append("COMMIT")
    return "\n".join(out) + "\n"


def _render_sets(view: HostView, sets: _Sets) -> str:
    out = [
        f"# portplan address sets for host {view.host} of deployment "
        f"{header_name(view.deployment)}.",
        "# Generated from the flow plan; do not edit.",
        f"# Apply with `ipset restore -f {view.host}.ipset` before the iptables-restore files.",
        "# Re-appliable: each set is filled under a temporary name and swapped in atomically.",
    ]
    for name, (family, networks) in sets.members().items():
        kind = f"hash:net family {'inet' if family == 4 else 'inet6'}"
        temporary = f"{name}_tmp"
        out += [
            "",
            f"create {name} {kind} -exist",
            f"create {temporary} {kind} -exist",
            f"flush {temporary}",
            *(f"add {temporary} {_net(n)}" for n in networks),
            f"swap {temporary} {name}",
            f"destroy {temporary}",
        ]
    return "\n".join(out) + "\n"


def render_host(view: HostView, options: RuleOptions) -> dict[str, str]:
    """The files of one host: ``.ipset`` (when sets are used), ``.v4`` and ``.v6``."""
    return _render_host(view, options, IptablesTarget().accept_loopback(options))


def _render_host(view: HostView, options: RuleOptions, accept_loopback: bool) -> dict[str, str]:
    sets = _Sets(host=view.host)
    # Both families, always: a host with no IPv6 address in the deployment still has a
    # link-local one, and leaving ip6tables as it was would leave it open.
    rulesets: dict[str, str] = {}
    for family in (4, 6):
        rulesets[f"{view.host}.v{family}"] = _render_family(
            view, family, options, accept_loopback, sets
        )
    files: dict[str, str] = {}
    if sets.named:
        files[f"{view.host}.ipset"] = _render_sets(view, sets)
    files.update(rulesets)
    return files


class IptablesTarget(LinuxHostTarget):
    """Linux iptables/ip6tables host firewall, with ipset address sets."""

    name = "iptables"
    description = (
        "Linux iptables: iptables-restore and ip6tables-restore files per host, ipsets, stateful"
    )
    applier = IptablesApplier

    def render(self, plan: Plan, options: RuleOptions) -> dict[str, str]:
        accept_loopback = self.accept_loopback(options)  # refuse bad settings before any host
        files: dict[str, str] = {}
        cache = ViewCache()
        for host in hosts_to_render(plan, options):
            view = host_view(
                plan, host, plan.host_addresses(host), egress=options.egress, cache=cache
            )
            files.update(_render_host(view, options, accept_loopback))
        return files

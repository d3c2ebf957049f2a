"""AWS: Terraform for one VPC security group per host, one resource per rule.

``security-groups.tf`` holds a ``variable "vpc_id"``, an ``aws_security_group`` named
``portplan-<host>`` for every host the plan sends traffic to (and, with ``--egress``, every
machine that sends, a single one or a cluster's members; a network such as the Internet that
only sends gets none), and one
``aws_vpc_security_group_ingress_rule`` (``_egress_rule``) per peer CIDR, protocol and port
range, with ``cidr_ipv4``/``cidr_ipv6``, ``from_port``/``to_port``, ``ip_protocol`` and a
``description`` naming the flows.  The ports of one peer and protocol are
merged before they are split into ranges, so rules never overlap.

Why Terraform rather than CloudFormation: the output is meant to be reviewed like code, and
Terraform gives a readable diff of the file plus ``terraform plan``, which shows the exact
rules added and removed before ``apply``.  The AWS provider's current per-rule resources
(``aws_vpc_security_group_ingress_rule``/``_egress_rule``, provider 4.56 or later) give every
rule its own identity, description and address in the state, so a change of one flow touches one
resource; CloudFormation's inline ``SecurityGroupIngress`` lists are replaced as a whole and its
change sets are far less readable.

What a security group cannot say, and how that is handled:

- a destination address: a group applies to the network interfaces it is attached to, so
  attach ``portplan-<host>`` to that host's interfaces; the host's addresses are not used;
- loopback: traffic that never leaves the instance is not a security-group matter; loopback
  flows get a comment;
- rejecting: groups allow only, and drop the rest silently, so ``--default reject`` is refused.

Without ``--egress`` outbound traffic is not filtered: each group allows all outbound traffic
(``0.0.0.0/0`` and ``::/0``), the rule AWS gives every new group and Terraform removes, so it is
written out explicitly.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from portplan._errors import TargetError
from portplan.model._types import Network, Protocol
from portplan.model.icmp import icmp_numbers
from portplan.model.ports import PortSet
from portplan.plan import Plan, PlannedFlow
from portplan.targets.base import STATEFUL_CAPABILITIES, RuleOptions, Scope, Target
from portplan.targets.hostview import (
    Direction,
    header_name,
    name_only_refusal,
    note_line,
    skipped_hosts,
    unreachable_lines,
    unreachable_note,
)

__all__ = ["FILE_NAME", "AwsTarget", "group_description", "hcl_string", "render_file"]

FILE_NAME = "security-groups.tf"
GROUP_PREFIX = "portplan-"
DESCRIPTION_MAX = 255
#: inbound (and outbound) rules per security group and address family, unless raised
DEFAULT_RULE_QUOTA = 60
MIN_PROVIDER = "4.56"
#: the description of the allow-all egress rules of a group rendered without ``--egress``
ALL_EGRESS_DESCRIPTION = "egress not filtered (rules without --egress)"

# Characters AWS accepts in security group and rule descriptions.
_DESCRIPTION_BAD = re.compile(r"[^a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]")
_LABEL_BAD = re.compile(r"[^A-Za-z0-9_-]")
#: the ip_protocol of ICMP rules, by the peer's IP version
_ICMP_PROTOCOLS = {4: "icmp", 6: "icmpv6"}
_RESOURCE = {
    Direction.INBOUND: "aws_vpc_security_group_ingress_rule",
    Direction.OUTBOUND: "aws_vpc_security_group_egress_rule",
}


def hcl_string(text: str) -> str:
    """``text`` as a Terraform string literal: quoted, escaped, no interpolation."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("${", "$${")
        .replace("%{", "%%{")
    )
    return f'"{escaped}"'


def _description(text: str) -> str:
    clean = _DESCRIPTION_BAD.sub("_", " ".join(text.split()))
    return clean[:DESCRIPTION_MAX]


def _flows_description(flows: list[str]) -> str:
    """Flow ids joined, as many as fit in a description, then ``+N``."""
    text = ", ".join(flows)
    if len(text) <= DESCRIPTION_MAX:
        return _description(text)
    for count in range(len(flows) - 1, 0, -1):
        text = ", ".join(flows[:count]) + f" +{len(flows) - count}"
        if len(text) <= DESCRIPTION_MAX:
            return _description(text)
    return _description(f"{flows[0][: DESCRIPTION_MAX - 8]} +{len(flows) - 1}")


def _label(text: str) -> str:
    label = _LABEL_BAD.sub("_", text)
    return label if re.match(r"[A-Za-z_]", label) else f"h_{label}"


def _cidr_label(network: Network) -> str:
    return re.sub(r"[.:/]", "_", str(network))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Rule:
    direction: Direction
    protocol: str  #: the rule's ip_protocol: tcp, udp, icmp or icmpv6
    low: int  #: from_port: the first port, or the ICMP type (-1: every type)
    high: int  #: to_port: the last port, or the ICMP code (-1: every code)
    peer: Network
    flows: tuple[str, ...]

    @property
    def span(self) -> str:
        """The ports (``135``, ``49152-65535``) or the ICMP type (``8``, ``all``)."""
        if self.protocol in _ICMP_PROTOCOLS.values():
            return "all" if self.low < 0 else str(self.low)
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"

    def sort_key(self) -> tuple[int, str, int, int, int, int, int]:
        return (
            0 if self.direction is Direction.INBOUND else 1,
            self.protocol,
            self.low,
            self.high,
            self.peer.version,
            int(self.peer.network_address),
            self.peer.prefixlen,
        )


@dataclass(slots=True)
class _Group:
    """One host's security group, while it is being built."""

    host: str
    rows: dict[tuple[Direction, Protocol, Network], list[PlannedFlow]] = field(default_factory=dict)
    purposes: dict[tuple[Direction, str], str] = field(default_factory=dict)
    unreachable: dict[str, None] = field(default_factory=dict)

    def add(
        self,
        direction: Direction,
        row: PlannedFlow,
        peers: Iterable[Network],
        own: Collection[int],
    ) -> None:
        self.purposes.setdefault((direction, row.key), row.purpose)
        for peer in peers:
            if peer.version not in own:
                self.unreachable[unreachable_note(row, peer.version)] = None
                continue
            self.rows.setdefault((direction, row.protocol, peer), []).append(row)

    def rules(self) -> list[_Rule]:
        rules = []
        for (direction, protocol, peer), rows in self.rows.items():
            if protocol is Protocol.ICMP:
                rules.extend(_icmp_rules(direction, peer, rows))
                continue
            ports = PortSet.of(r for row in rows for r in row.ports.ranges)
            for span in ports.ranges:
                flows = dict.fromkeys(
                    row.key
                    for row in rows
                    if any(r.start <= span.end and span.start <= r.end for r in row.ports.ranges)
                )
                rules.append(
                    _Rule(
                        direction=direction,
                        protocol=protocol.value,
                        low=span.start,
                        high=span.end,
                        peer=peer,
                        flows=tuple(flows),
                    )
                )
        return sorted(rules, key=_Rule.sort_key)


def _icmp_rules(direction: Direction, peer: Network, rows: list[PlannedFlow]) -> list[_Rule]:
    """The ICMP rules towards one peer: one per type the rows name (every code of it), or one
    for every type when a row allows any; ICMPv6 for an IPv6 peer."""
    protocol = _ICMP_PROTOCOLS[peer.version]
    by_type: dict[int, dict[str, None]] = {}
    for row in rows:
        numbers = icmp_numbers(row.icmp, peer.version)
        for number in (-1,) if numbers is None else numbers:
            by_type.setdefault(number, {})[row.key] = None
    if -1 in by_type:  # every type: one rule, naming every flow
        flows = {key: None for named in by_type.values() for key in named}
        by_type = {-1: flows}
    return [
        _Rule(
            direction=direction,
            protocol=protocol,
            low=number,
            high=-1,
            peer=peer,
            flows=tuple(flows),
        )
        for number, flows in sorted(by_type.items())
    ]


def _groups(plan: Plan, options: RuleOptions) -> list[_Group]:
    groups: dict[str, _Group] = {}
    # a host known by name only may have either family: its group takes rules of both (a
    # rule of a family the instance has no address in matches nothing)
    families: dict[str, set[int]] = {
        name: {a.version for a in host.addresses} if host.addresses else {4, 6}
        for name, host in plan.hosts.items()
    }
    rows = [row for row in plan.rows if not row.loopback]
    # A network of machines that only sends (the Internet, a client subnet) gets no group: it is
    # not something a security group of this deployment is attached to; nor does a host
    # portplan does not manage (a CDN, a cloud service, anywhere).
    for row in rows:
        if plan.unmanaged(row.destination) is None:
            groups.setdefault(row.destination, _Group(row.destination))
        source = plan.hosts[row.source]
        if options.egress and not source.is_network and plan.unmanaged(row.source) is None:
            groups.setdefault(row.source, _Group(row.source))
    for row in rows:
        if row.destination in groups:
            if not row.source_addresses:
                raise name_only_refusal(plan, row, row.source, "a security group rule")
            groups[row.destination].add(
                Direction.INBOUND, row, row.source_addresses, families[row.destination]
            )
        if options.egress and row.source in groups:
            if not row.destination_addresses:
                raise name_only_refusal(plan, row, row.destination, "a security group rule")
            groups[row.source].add(
                Direction.OUTBOUND, row, row.destination_addresses, families[row.source]
            )
    return [groups[name] for name in plan.hosts if name in groups]  # deployment order


def _block(
    kind: str, labels: Iterable[str], attributes: list[tuple[str, str]], tail: Iterable[str] = ()
) -> list[str]:
    """An HCL block, attributes aligned as ``terraform fmt`` does; ``tail``: nested lines."""
    width = max(len(name) for name, _value in attributes)
    head = " ".join([kind, *(f'"{label}"' for label in labels)])
    return [
        head + " {",
        *(f"  {name.ljust(width)} = {value}" for name, value in attributes),
        *tail,
        "}",
    ]


def group_description(host: str, deployment: str) -> str:
    """The description of the security group of ``host`` (AWS's characters, 255 at most)."""
    return _description(f"portplan: planned traffic of host {host} in deployment {deployment}")


def _group_lines(group: _Group, label: str, plan: Plan, options: RuleOptions) -> list[str]:
    name = f"{GROUP_PREFIX}{group.host}"
    description = group_description(group.host, plan.deployment)
    out = [f"# --- {group.host} " + "-" * max(3, 92 - len(group.host))]
    out.extend(
        note_line(flow, purpose, "in  " if direction is Direction.INBOUND else "out ")
        for (direction, flow), purpose in group.purposes.items()
    )
    out.extend(unreachable_lines(group.unreachable))
    rules = group.rules()
    for direction in Direction:
        for family in (4, 6):
            count = sum(1 for r in rules if r.direction is direction and r.peer.version == family)
            if count > DEFAULT_RULE_QUOTA:
                out.append(
                    f"# note: {count} {'inbound' if direction is Direction.INBOUND else 'outbound'}"
                    f" IPv{family} rules: more than the default quota of {DEFAULT_RULE_QUOTA} per "
                    "security group; raise it in Service Quotas first"
                )
    out += _block(
        "resource",
        ("aws_security_group", label),
        [
            ("name", hcl_string(name)),
            ("description", hcl_string(description)),
            ("vpc_id", "var.vpc_id"),
        ],
        ["", "  tags = {", f"    Name = {hcl_string(name)}", "  }"],
    )
    group_id = f"aws_security_group.{label}.id"
    for rule in rules:
        cidr = "cidr_ipv4" if rule.peer.version == 4 else "cidr_ipv6"
        rule_label = f"{label}_{rule.protocol}_{rule.span}_{_cidr_label(rule.peer)}"
        out += [
            "",
            *_block(
                "resource",
                (_RESOURCE[rule.direction], rule_label),
                [
                    ("security_group_id", group_id),
                    ("description", hcl_string(_flows_description(list(rule.flows)))),
                    ("ip_protocol", hcl_string(rule.protocol)),
                    ("from_port", str(rule.low)),
                    ("to_port", str(rule.high)),
                    (cidr, hcl_string(str(rule.peer))),
                ],
            ),
        ]
    if not options.egress:
        for family, cidr, everything in (
            (4, "cidr_ipv4", ipaddress.ip_network("0.0.0.0/0")),
            (6, "cidr_ipv6", ipaddress.ip_network("::/0")),
        ):
            out += [
                "",
                *_block(
                    "resource",
                    (_RESOURCE[Direction.OUTBOUND], f"{label}_all_ipv{family}"),
                    [
                        ("security_group_id", group_id),
                        ("description", hcl_string(ALL_EGRESS_DESCRIPTION)),
                        ("ip_protocol", hcl_string("-1")),
                        (cidr, hcl_string(str(everything))),
                    ],
                ),
            ]
    return out


def _loopback_service(row: PlannedFlow) -> str:
    return row.opening if row.protocol is Protocol.ICMP else f"{row.protocol.value} {row.ports}"


def render_file(plan: Plan, options: RuleOptions) -> str:
    """``security-groups.tf`` for ``plan``."""
    groups = _groups(plan, options)
    labels: dict[str, str] = {}
    for group in groups:
        label = _label(group.host)
        if label in labels:
            raise TargetError(
                f"hosts {labels[label]!r} and {group.host!r} both become the Terraform name "
                f"{label!r}; rename one of them"
            )
        labels[label] = group.host
    out = [
        "# portplan AWS security groups (Terraform) for deployment "
        f"{header_name(plan.deployment)}.",
        "# Generated from the flow plan: every rule's description names the flows it implements; "
        "do not edit.",
        f"# Needs the hashicorp/aws provider {MIN_PROVIDER} or later "
        "(aws_vpc_security_group_ingress_rule/_egress_rule).",
        f"# Attach {GROUP_PREFIX}<host> to that host's network interfaces: a security group has "
        "no destination address.",
        "# Security groups are stateful and allow only: traffic no rule allows is dropped.",
    ]
    if not options.egress:
        out.append(
            "# Egress is not filtered (no --egress): each group allows all outbound traffic."
        )
    out.extend(
        f"# no security group for {host}: {why}"
        for host, why in skipped_hosts(plan).items()
        if not plan.hosts[host].is_network  # networks never get one; nothing to explain
    )
    loopback = dict.fromkeys(
        f"# {row.key} on {row.destination} ({_loopback_service(row)}) is loopback "
        "traffic, which never leaves the instance: not a security group matter, no rule"
        for row in plan.rows
        if row.loopback
    )
    out.extend(loopback)
    out += [
        "",
        *_block(
            "variable",
            ("vpc_id",),
            [
                ("description", hcl_string("ID of the VPC that holds the hosts")),
                ("type", "string"),
            ],
        ),
    ]
    for label, group in zip(labels, groups, strict=True):
        out += ["", *_group_lines(group, label, plan, options)]
    return "\n".join(out) + "\n"


class AwsTarget(Target):
    """AWS VPC security groups, as Terraform with the provider's per-rule resources."""

    name = "aws"
    description = (
        "AWS VPC security groups as Terraform: one group per host, one resource per peer CIDR, "
        "protocol and port range"
    )
    scope = Scope.DEPLOYMENT
    capabilities = STATEFUL_CAPABILITIES
    reject_refusal = "security groups only allow, and drop everything else silently"

    def render(self, plan: Plan, options: RuleOptions) -> dict[str, str]:
        self.check_options(options)
        return {FILE_NAME: render_file(plan, options)}

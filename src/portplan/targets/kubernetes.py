"""Kubernetes: one ``networking.k8s.io/v1`` NetworkPolicy per host that stands for pods.

A host with ``kubernetes: {cluster, namespace, pod_labels}`` is a set of pods.  For each such
host, ``<cluster>.yaml`` holds a policy ``portplan-<host>`` in the host's namespace that selects
its pods by ``pod_labels`` and allows exactly the planned ingress (and, with ``--egress``,
egress): sources that are pods of the same cluster are matched by ``podSelector`` (and by
``namespaceSelector`` on ``kubernetes.io/metadata.name`` when they run in another namespace, in
the *same* peer, so both must hold); every other source is matched by ``ipBlock`` on its
addresses.  Port ranges use ``endPort`` (Kubernetes 1.25 or later).  A policy's port is the
port on the pod: pods are reached where their service listens (a row's ``listen_ports``, when
its published port differs), and so are the pods of the same cluster that egress goes to;
egress to a peer outside the cluster keeps the port the pods connect to.

What a NetworkPolicy cannot say, and how that is handled:

- a destination address: a policy selects its pods by label, so the destination host's
  ``addresses`` are not used (the policy *is* the destination);
- the address family of a pod peer: a ``podSelector`` peer matches those pods over IPv4 and
  IPv6 alike (``ipBlock`` peers keep their family, and a family the destination has no address
  in is left out, as on the host targets; pods known by name keep both);
- loopback: traffic inside a pod is not subject to NetworkPolicy; loopback flows get a comment;
- rejecting: denied traffic is handled by the network plugin (usually dropped), so
  ``--default reject`` is refused.

Policies are additive and select pods by label, so two hosts of one namespace where the
``pod_labels`` of one also select the pods of the other would give those pods both hosts' rules:
that is refused.  It is refused too where one of the two is not managed (``managed: false``)
and a policy names the labels that overlap (its own pods, or a peer's): an unmanaged host's pods
are pods all the same, and such a selector lets through what the plan does not.  A host with
nothing planned towards it still gets a policy, with no ingress rule: it denies all.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from portplan._errors import TargetError
from portplan.model._types import Network, Protocol
from portplan.model.icmp import icmp_text
from portplan.model.kubernetes import Kubernetes
from portplan.model.ports import PortSet
from portplan.plan import Plan, PlannedFlow
from portplan.targets.base import STATEFUL_CAPABILITIES, RuleOptions, Scope, Target
from portplan.targets.hostview import (
    collapse,
    header_name,
    loopback_note,
    name_only_refusal,
    note_line,
    unreachable_lines,
    unreachable_note,
)

__all__ = ["KubernetesTarget", "render_cluster"]

API_VERSION = "networking.k8s.io/v1"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
MANAGED_BY = {"app.kubernetes.io/managed-by": "portplan"}
ANNOTATION = "portplan"  #: annotation prefix: portplan/ingress-N names the flows of rule N
#: why an ICMP row gets no rule (said in the file, and as a warning)
ICMP_REFUSAL = (
    "not expressible in a NetworkPolicy (its ports are TCP, UDP or SCTP): whether ICMP "
    "reaches the pods is up to the network plugin"
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Pods:
    """A peer that is the pods of a host in the same cluster."""

    namespace: str
    labels: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class _Rule:
    flows: dict[str, str] = field(default_factory=dict)  #: flow key -> purpose
    pods: dict[_Pods, None] = field(default_factory=dict)
    networks: list[Network] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Policy:
    host: str
    k8s: Kubernetes
    ingress: dict[tuple[Protocol, PortSet], _Rule]
    egress: dict[tuple[Protocol, PortSet], _Rule]
    loopback: tuple[str, ...]
    unreachable: tuple[str, ...]
    icmp: tuple[str, ...]  #: ICMP rows: a NetworkPolicy cannot express them
    selects: tuple[str, ...]  #: the hosts whose pod_labels it names: its own, its pod peers


def icmp_note(row: PlannedFlow) -> str:
    """An ICMP row a policy leaves out: flow, messages and ends."""
    return f"{row.key} (ICMP {icmp_text(row.icmp)}, {row.source} -> {row.destination})"


def _check(plan: Plan) -> dict[str, Kubernetes]:
    """The in-cluster hosts of ``plan`` that portplan manages; ``TargetError`` when there is
    none.  Their namespaces, labels and names are Kubernetes' (the deployment refuses others)."""
    pods = {
        name: h.kubernetes
        for name, h in plan.hosts.items()
        if h.kubernetes is not None and h.managed
    }
    if not pods:
        raise TargetError(
            f"deployment {plan.deployment!r} has no host with `kubernetes:`, so there is no pod "
            "to write a NetworkPolicy for; add `kubernetes: {cluster: NAME, namespace: NS, "
            "pod_labels: {app: NAME}}` to the hosts that are pods in a cluster"
        )
    return pods


def _check_overlaps(plan: Plan, cluster: str, policies: Iterable[_Policy]) -> None:
    """Refuse a selector of ``policies`` that also selects the pods of another host.

    The selectors are each policy's own ``podSelector`` and its pod peers; the pods are those of
    every host of ``cluster``, managed or not: an unmanaged host's pods are pods all the same,
    and a selector that reaches them (or theirs that reaches a managed host's) allows what the
    plan does not.  A peer's namespace is pinned by name, so only one namespace can overlap.
    """
    used = {host: None for policy in policies for host in policy.selects}
    in_cluster = {
        name: h.kubernetes
        for name, h in plan.hosts.items()
        if h.kubernetes is not None and h.kubernetes.cluster == cluster
    }
    for name in used:
        k8s = in_cluster[name]
        for other, other_k8s in in_cluster.items():
            if other == name or k8s.namespace != other_k8s.namespace:
                continue
            if k8s.pod_labels.items() <= other_k8s.pod_labels.items():
                raise TargetError(_overlap_message(plan, name, k8s, other, other_k8s))


def _overlap_message(
    plan: Plan, name: str, k8s: Kubernetes, other: str, other_k8s: Kubernetes
) -> str:
    unmanaged = [host for host in (name, other) if not plan.hosts[host].managed]
    if not unmanaged:
        consequence = "which would give each the other's rules"
    else:
        consequence = (
            f"and {' and '.join(repr(h) for h in unmanaged)} "
            f"{'is' if len(unmanaged) == 1 else 'are'} not managed by portplan but pods "
            f"all the same: a policy that names the labels of {name!r} would also allow "
            f"or apply to the pods of {other!r}, which the plan does not ask for"
        )
    return (
        f"hosts {name!r} and {other!r} are pods of one namespace "
        f"({k8s.cluster}/{k8s.namespace}) and the pod_labels of {name!r} "
        f"({_labels_text(k8s.pod_labels)}) also select the pods of {other!r} "
        f"({_labels_text(other_k8s.pod_labels)}), {consequence}; give each host a label the "
        "other's pods do not carry"
    )


def _labels_text(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in labels.items())


def _families(networks: Iterable[Network]) -> set[int]:
    return {n.version for n in networks}


def _policy(plan: Plan, host: str, k8s: Kubernetes, options: RuleOptions) -> _Policy:
    ingress: dict[tuple[Protocol, PortSet], _Rule] = {}
    egress: dict[tuple[Protocol, PortSet], _Rule] = {}
    loopback: dict[str, None] = {}
    unreachable: dict[str, None] = {}
    icmp: dict[str, None] = {}
    selects: dict[str, None] = {host: None}
    # A policy matches no address of its own pods; their families only leave out ipBlock
    # peers the pods cannot reach.  Pods known by name may have either family, so both stay
    # (an ipBlock of a family the pods lack matches nothing).
    own_families = _families(plan.host_addresses(host)) or {4, 6}

    def add(
        rules: dict[tuple[Protocol, PortSet], _Rule], row: PlannedFlow, peer: str, *, inbound: bool
    ) -> None:
        if row.protocol is Protocol.ICMP:
            icmp[icmp_note(row)] = None
            return
        peer_k8s = plan.hosts[peer].kubernetes
        pods: _Pods | None = None
        networks: list[Network] = []
        if peer_k8s is not None and peer_k8s.cluster == k8s.cluster:
            pods = _Pods(peer_k8s.namespace, tuple(peer_k8s.pod_labels.items()))
            selects.setdefault(peer)
        else:
            if not plan.host_addresses(peer):
                raise name_only_refusal(plan, row, peer, "a NetworkPolicy ipBlock")
            for network in plan.host_addresses(peer):
                if network.version in own_families:
                    networks.append(network)
                else:
                    unreachable[unreachable_note(row, network.version)] = None
        if pods is None and not networks:
            return
        # A policy matches the port on the pods, after whatever translated the port the
        # source connects to (a Service's port to its targetPort, a NodePort): pods are
        # reached where their service listens.  Egress to a peer outside the cluster keeps
        # the port the pods connect to.
        ports = row.listening_ports if inbound or pods is not None else row.ports
        rule = rules.setdefault((row.protocol, ports), _Rule())
        rule.flows.setdefault(row.key, row.purpose)
        if pods is not None:
            rule.pods.setdefault(pods)
        rule.networks.extend(networks)

    for row in plan.rows_of(host):
        if row.loopback:
            if row.destination == host:
                loopback[loopback_note(row)] = None
            continue
        if row.destination == host:
            add(ingress, row, row.source, inbound=True)
        if options.egress and row.source == host:
            add(egress, row, row.destination, inbound=False)
    return _Policy(
        host=host,
        k8s=k8s,
        ingress=ingress,
        egress=egress,
        loopback=tuple(loopback),
        unreachable=tuple(unreachable),
        icmp=tuple(icmp),
        selects=tuple(selects),
    )


def _peers(rule: _Rule, own_namespace: str) -> list[dict[str, Any]]:
    peers: list[dict[str, Any]] = []
    for pods in rule.pods:
        peer: dict[str, Any] = {"podSelector": {"matchLabels": dict(pods.labels)}}
        if pods.namespace != own_namespace:  # one peer: both selectors must hold
            peer["namespaceSelector"] = {"matchLabels": {NAMESPACE_LABEL: pods.namespace}}
        peers.append(peer)
    peers.extend(
        {"ipBlock": {"cidr": str(n)}} for family in (4, 6) for n in collapse(rule.networks, family)
    )
    return peers


def _ports(protocol: Protocol, ports: PortSet) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in ports.ranges:
        port: dict[str, Any] = {"protocol": protocol.value.upper(), "port": r.start}
        if r.end != r.start:
            port["endPort"] = r.end
        out.append(port)
    return out


def _document(policy: _Policy, plan: Plan, options: RuleOptions) -> dict[str, Any]:
    namespace = policy.k8s.namespace
    annotations = {f"{ANNOTATION}/deployment": plan.deployment, f"{ANNOTATION}/host": policy.host}
    spec: dict[str, Any] = {
        "podSelector": {"matchLabels": dict(policy.k8s.pod_labels)},
        "policyTypes": ["Ingress", "Egress"] if options.egress else ["Ingress"],
    }
    sections = [("ingress", "from", policy.ingress)]
    if options.egress:
        sections.append(("egress", "to", policy.egress))
    for section, side, rules in sections:
        items = []
        for number, ((protocol, ports), rule) in enumerate(rules.items(), start=1):
            annotations[f"{ANNOTATION}/{section}-{number}"] = ", ".join(rule.flows)
            items.append({side: _peers(rule, namespace), "ports": _ports(protocol, ports)})
        spec[section] = items
    return {
        "apiVersion": API_VERSION,
        "kind": "NetworkPolicy",
        "metadata": {
            "name": f"portplan-{policy.host}",
            "namespace": namespace,
            "labels": dict(MANAGED_BY),
            "annotations": annotations,
        },
        "spec": spec,
    }


def _notes(policy: _Policy, options: RuleOptions) -> list[str]:
    lines = [f"# --- {policy.host}: pods {_labels_text(policy.k8s.pod_labels)} ---"]
    sections = [("ingress", policy.ingress)]
    if options.egress:
        sections.append(("egress", policy.egress))
    for section, rules in sections:
        for number, rule in enumerate(rules.values(), start=1):
            lines.extend(
                note_line(flow, purpose, f"{section}-{number} ")
                for flow, purpose in rule.flows.items()
            )
    lines.extend(
        f"# {flow} over loopback: traffic inside a pod is not subject to NetworkPolicy; no rule"
        for flow in policy.loopback
    )
    lines.extend(f"# {ICMP_REFUSAL}: {note}" for note in policy.icmp)
    lines.extend(unreachable_lines(policy.unreachable))
    return lines


def render_cluster(plan: Plan, cluster: str, hosts: Iterable[str], options: RuleOptions) -> str:
    """The NetworkPolicies of one cluster, as one multi-document YAML file; ``TargetError``
    where a selector they use would also select the pods of another host."""
    out = [
        f"# portplan Kubernetes NetworkPolicies for cluster {cluster} "
        f"of deployment {header_name(plan.deployment)}.",
        "# Generated from the flow plan: annotation portplan/ingress-N (egress-N) names the flows "
        "of rule N; do not edit.",
        f"# Apply with `kubectl apply -f {cluster}.yaml`; every policy is labelled "
        "app.kubernetes.io/managed-by=portplan.",
        "# A NetworkPolicy selects its pods by label and cannot name a destination address: the "
        "hosts' addresses are used only for peers outside the cluster (ipBlock).",
    ]
    if options.egress:
        out.append(
            "# Egress is filtered too: what the plan does not name, DNS included, is denied."
        )
    policies = [
        _policy(plan, host, k8s, options)
        for host in hosts
        if (k8s := plan.hosts[host].kubernetes) is not None
    ]
    _check_overlaps(plan, cluster, policies)
    for policy in policies:
        host = policy.host
        for note in policy.icmp:
            log.warning("%s, so the policy of %s has no rule for %s", ICMP_REFUSAL, host, note)
        out += ["---", *_notes(policy, options)]
        document = yaml.dump(
            _document(policy, plan, options),
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            width=100,
        )
        out.append(document.rstrip("\n"))
    return "\n".join(out) + "\n"


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, but text that Kubernetes' YAML reader (go-yaml, YAML 1.1) takes for
    a boolean, a null or a number when written plainly is quoted: a namespace ``y`` or a label
    value ``1e3`` would be read as true or 1000, and the policy refused."""


#: what go-yaml reads as a boolean or a null when written plainly
_NOT_TEXT = frozenset(
    f(word)
    for word in ("y", "n", "yes", "no", "true", "false", "on", "off", "null")
    for f in (str.lower, str.capitalize, str.upper)
) | {"~", ""}
#: what it reads as a number (``1e3``, ``0x1f``, ``1_000``, ``.5``, ``.inf``) or a date
_NUMBER = re.compile(
    r"[-+]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+"
    r"|(\.[0-9_]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?|\.(inf|Inf|INF))"
    r"|\.(nan|NaN|NAN)|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?"
)


def _quoted_where_needed(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if value in _NOT_TEXT or _NUMBER.fullmatch(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'")
    return dumper.represent_str(value)


_Dumper.add_representer(str, _quoted_where_needed)


class KubernetesTarget(Target):
    """Kubernetes NetworkPolicy (networking.k8s.io/v1) for the hosts that are pods."""

    name = "kubernetes"
    description = (
        "Kubernetes NetworkPolicy: one file per cluster, one policy per host that is pods "
        "(podSelector, namespaceSelector, ipBlock, endPort)"
    )
    scope = Scope.DEPLOYMENT
    capabilities = STATEFUL_CAPABILITIES
    reject_refusal = (
        "a NetworkPolicy only allows, and the network plugin decides how denied traffic ends "
        "(usually dropped)"
    )

    def render(self, plan: Plan, options: RuleOptions) -> dict[str, str]:
        self.check_options(options)
        pods = _check(plan)
        clusters: dict[str, list[str]] = {}
        for name, k8s in pods.items():
            clusters.setdefault(k8s.cluster, []).append(name)
        return {
            f"{cluster}.yaml": render_cluster(plan, cluster, hosts, options)
            for cluster, hosts in clusters.items()
        }

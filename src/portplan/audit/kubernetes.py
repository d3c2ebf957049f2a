"""Kubernetes NetworkPolicies (YAML, as ``kubectl get networkpolicy -o yaml`` or a file for
``kubectl apply``) read into the ingress ruleset of one host that stands for pods.

The pods are the host's: the deployment gives it ``kubernetes: {cluster, namespace,
pod_labels}``.  The policies of its namespace whose ``podSelector`` selects those labels
decide: when none does, every connection is allowed; otherwise the union of their ingress
rules, each a set of peers times a set of ports.  Peers: ``ipBlock`` (``cidr`` less
``except``), and ``podSelector``/``namespaceSelector`` resolved to the deployment's hosts of
the same cluster whose labels they select (their addresses stand for the pods).  Read as
unreadable: ``matchExpressions``, a ``namespaceSelector`` on labels other than
``kubernetes.io/metadata.name``, named ports.  Egress rules are not read (``--egress`` is not
audited for this platform).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

import yaml

from portplan._errors import AuditError
from portplan.audit._match import MatchBuilder
from portplan.audit._rules import Chain, Hook, Rule, Ruleset, Verdict
from portplan.model.deployment import Host
from portplan.plan import Plan
from portplan.spaces import PROTOCOL_NUMBERS, Ranges, Space, address_span, networks_ranges

__all__ = ["read_network_policies"]

_NAMESPACE_KEY = "kubernetes.io/metadata.name"


def _documents(text: str, name: str) -> list[tuple[dict[str, Any], int]]:
    """The NetworkPolicies of a YAML stream (also inside a ``List``), with their lines."""
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise AuditError(f"{name}: not YAML: {exc}") from None
    found = []
    for node in nodes:
        if node is None:
            continue
        data = yaml.SafeLoader(text).construct_document(node)
        if isinstance(data, dict) and data.get("kind") == "List":
            pairs = zip(data.get("items") or [], _items(node), strict=False)
        else:
            pairs = zip([data], [node], strict=True)
        for item, item_node in pairs:
            if isinstance(item, dict) and item.get("kind") == "NetworkPolicy":
                found.append((item, item_node.start_mark.line + 1))
    return found


def _items(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "items" and isinstance(value, yaml.SequenceNode):
                return list(value.value)
    return [node]


def _selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool | None:
    """Whether a label selector selects ``labels``; ``None`` when it cannot be read."""
    if selector is None:
        return True
    if selector.get("matchExpressions"):
        return None
    wanted = selector.get("matchLabels") or {}
    return all(labels.get(k) == v for k, v in wanted.items())


class _Peers:
    """Peers of a rule resolved to the deployment's addresses."""

    def __init__(self, plan: Plan, cluster: str, namespace: str) -> None:
        self.pods = {
            name: host
            for name, host in plan.hosts.items()
            if host.kubernetes is not None and host.kubernetes.cluster == cluster
        }
        self.namespace = namespace

    def addresses(self, peer: Mapping[str, Any], unreadable: list[str]) -> dict[int, Ranges]:
        out = {4: Ranges(), 6: Ranges()}
        if "ipBlock" in peer:
            block = peer["ipBlock"]
            network = ipaddress.ip_network(str(block["cidr"]), strict=False)
            space = address_span(network)
            for excluded in block.get("except") or []:
                space = space - address_span(ipaddress.ip_network(str(excluded), strict=False))
            out[network.version] = space
            return out
        namespaces = self._namespaces(peer.get("namespaceSelector"), unreadable)
        pod_selector = peer.get("podSelector")
        for host in self.pods.values():
            assert host.kubernetes is not None  # chosen for it
            if namespaces is not None and host.kubernetes.namespace not in namespaces:
                continue
            selected = _selects(pod_selector, host.kubernetes.pod_labels)
            if selected is None:
                unreadable.append("podSelector.matchExpressions")
                selected = True
            if selected:
                for family in (4, 6):
                    out[family] = out[family] | networks_ranges(host.addresses, family)
        return out

    def _namespaces(self, selector: Any, unreadable: list[str]) -> set[str] | None:
        """The namespaces a peer's pods are in (``None``: any)."""
        if selector is None:
            return {self.namespace}
        labels = (selector or {}).get("matchLabels") or {}
        if selector.get("matchExpressions") or set(labels) - {_NAMESPACE_KEY}:
            unreadable.append("namespaceSelector on labels other than the namespace name")
            return None
        return {labels[_NAMESPACE_KEY]} if labels else None


def _ports(entry: Mapping[str, Any], built: MatchBuilder) -> None:
    protocol = str(entry.get("protocol", "TCP")).lower()
    number = PROTOCOL_NUMBERS.get(protocol)
    if number is None:
        built.unreadable.append(f"protocol {protocol}")
        return
    port = entry.get("port")
    if port is None:
        built.protocol(Ranges.point(number))
        return
    if not isinstance(port, int):
        built.unreadable.append(f"named port {port!r}")
        built.protocol(Ranges.point(number))
        return
    end = entry.get("endPort", port)
    built.destination_ports(Ranges.point(number), Ranges.span(port, int(end)))


def read_network_policies(text: str, name: str, plan: Plan, host: str) -> Ruleset:
    """The ingress ruleset the NetworkPolicies of ``text`` make for ``host``'s pods."""
    pods: Host = plan.hosts[host]
    if pods.kubernetes is None:
        raise AuditError(
            f"host {host} has no 'kubernetes:' in the deployment, so no NetworkPolicy selects it"
        )
    where = pods.kubernetes
    peers = _Peers(plan, where.cluster, where.namespace)
    chain = Chain(key=f"pods of {host}", name="ingress", policy=Verdict.ACCEPT, where=name)
    selecting = 0
    for policy, line in _documents(text, name):
        meta = policy.get("metadata") or {}
        spec = policy.get("spec") or {}
        if meta.get("namespace", "default") != where.namespace:
            continue
        selected = _selects(spec.get("podSelector") or {}, where.pod_labels)
        types = spec.get("policyTypes") or ["Ingress"]
        if selected is False or "Ingress" not in types:
            continue
        selecting += 1
        label = f"{name}:{line} NetworkPolicy {where.namespace}/{meta.get('name')}"
        for index, rule in enumerate(spec.get("ingress") or []):
            chain.rules.extend(
                _rules(rule or {}, peers, f"{label} ingress[{index}]", line, selected)
            )
    if selecting:
        chain.policy = Verdict.DROP  # selected pods accept only what some rule allows
    ruleset = Ruleset(platform="kubernetes", files=(name,), loopback_filtered=False)
    ruleset.chains[chain.key] = chain
    ruleset.paths[Hook.INPUT] = [chain.key]
    return ruleset


def _rules(
    rule: Mapping[str, Any], peers: _Peers, where: str, line: int, selected: bool | None
) -> list[Rule]:
    sources = rule.get("from")
    ports = rule.get("ports")
    out = []
    for port in ports or [None]:
        built = MatchBuilder()
        if selected is None:
            built.unreadable.append("podSelector.matchExpressions")
        if port is not None:
            _ports(port, built)
        if sources:
            reach = {4: Ranges(), 6: Ranges()}
            for peer in sources:
                found = peers.addresses(peer, built.unreadable)
                reach = {f: reach[f] | found[f] for f in (4, 6)}
            match = Space()
            for family in (4, 6):
                if reach[family]:
                    single = MatchBuilder()
                    single.__dict__.update(built.__dict__)
                    single.families = {family}
                    single.sources = {**built.sources, family: reach[family]}
                    match = match | single.space()
        else:
            match = built.space()
        text = f"from {sources or 'anywhere'} ports {port or 'all'}"
        out.append(
            Rule(
                where=where,
                text=text,
                match=match,
                verdict=Verdict.ACCEPT,
                unreadable=tuple(dict.fromkeys(built.unreadable)),
                line=line,
            )
        )
    return out

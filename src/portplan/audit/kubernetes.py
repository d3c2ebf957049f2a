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

from collections.abc import Mapping
from typing import Any

import yaml

from portplan._errors import AuditError
from portplan._text import one_line, shown
from portplan.audit._input import check_yaml_bounds, network, port_span
from portplan.audit._match import MatchBuilder
from portplan.audit._rules import Chain, Hook, Rule, Ruleset, Verdict
from portplan.model.deployment import Host
from portplan.plan import Plan
from portplan.spaces import PROTOCOL_NUMBERS, Ranges, Space, address_span, networks_ranges

__all__ = ["read_network_policies"]

_NAMESPACE_KEY = "kubernetes.io/metadata.name"
_HINT = "kubectl would refuse it: fix the policy"


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    """A mapping (``null``: empty), or :class:`AuditError` naming ``where``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AuditError(f"{where}: {shown(value, 40)} is not a mapping; {_HINT}")
    return value


def _sequence(value: Any, where: str) -> list[Any]:
    """A list (``null``: empty), or :class:`AuditError` naming ``where``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise AuditError(f"{where}: {shown(value, 40)} is not a list; {_HINT}")
    return value


def _documents(text: str, name: str) -> list[tuple[dict[str, Any], int]]:
    """The NetworkPolicies of a YAML stream (also inside a ``List``), with their lines."""
    check_yaml_bounds(text, name)
    found = []
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        documents = [(yaml.SafeLoader(text).construct_document(n), n) for n in nodes if n]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"{name}:{mark.line + 1}" if mark else name
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        raise AuditError(f"{at}: not YAML of NetworkPolicies: {what}; {_HINT}") from None
    except yaml.YAMLError as exc:
        raise AuditError(f"{name}: not YAML of NetworkPolicies: {one_line(str(exc))}") from None
    for data, node in documents:
        if isinstance(data, dict) and data.get("kind") == "List":
            items = _sequence(data.get("items"), f"{name}:{node.start_mark.line + 1}: items")
            pairs = zip(items, _items(node), strict=False)
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


def _selects(selector: Any, labels: Mapping[str, str], where: str) -> bool | None:
    """Whether a label selector selects ``labels``; ``None`` when it cannot be read."""
    if selector is None:
        return True
    selector = _mapping(selector, where)
    if selector.get("matchExpressions"):
        return None
    wanted = _mapping(selector.get("matchLabels"), f"{where}.matchLabels")
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

    def addresses(self, peer: Any, unreadable: list[str], where: str) -> dict[int, Ranges]:
        out = {4: Ranges(), 6: Ranges()}
        peer = _mapping(peer, where)
        if "ipBlock" in peer:
            block = _mapping(peer["ipBlock"], f"{where}.ipBlock")
            net = _network(block.get("cidr"), f"{where}.ipBlock.cidr")
            space = address_span(net)
            for index, excluded in enumerate(_sequence(block.get("except"), f"{where}.except")):
                space = space - address_span(_network(excluded, f"{where}.except[{index}]"))
            out[net.version] = space
            return out
        selector = _mapping(peer.get("namespaceSelector"), f"{where}.namespaceSelector")
        namespaces = self._namespaces(peer.get("namespaceSelector") and selector, unreadable)
        pod_selector = peer.get("podSelector")
        for host in self.pods.values():
            assert host.kubernetes is not None  # chosen for it
            if namespaces is not None and host.kubernetes.namespace not in namespaces:
                continue
            selected = _selects(pod_selector, host.kubernetes.pod_labels, f"{where}.podSelector")
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


def _network(value: Any, where: str) -> Any:
    """A CIDR of an ipBlock, or :class:`AuditError` naming ``where``."""
    try:
        return network(value) if isinstance(value, str) else network(None)
    except AuditError as exc:
        raise AuditError(f"{where}: {exc}; {_HINT}") from None


def _ports(entry: Mapping[str, Any], built: MatchBuilder, where: str) -> None:
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
    try:
        ports = port_span(port, entry.get("endPort", port), "port-endPort")
    except AuditError as exc:
        raise AuditError(f"{where}: {exc}; {_HINT}") from None
    built.destination_ports(Ranges.point(number), ports)


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
        meta = _mapping(policy.get("metadata"), f"{name}:{line}: metadata")
        spec = _mapping(policy.get("spec"), f"{name}:{line}: spec")
        if meta.get("namespace", "default") != where.namespace:
            continue
        label = f"{name}:{line} NetworkPolicy {where.namespace}/{meta.get('name')}"
        selected = _selects(spec.get("podSelector") or {}, where.pod_labels, f"{label} podSelector")
        types = _sequence(spec.get("policyTypes"), f"{label} policyTypes") or ["Ingress"]
        if selected is False or "Ingress" not in types:
            continue
        selecting += 1
        for index, rule in enumerate(_sequence(spec.get("ingress"), f"{label} ingress")):
            at = f"{label} ingress[{index}]"
            chain.rules.extend(_rules(_mapping(rule, at), peers, at, line, selected))
    if selecting:
        chain.policy = Verdict.DROP  # selected pods accept only what some rule allows
    ruleset = Ruleset(platform="kubernetes", files=(name,), loopback_filtered=False)
    ruleset.chains[chain.key] = chain
    ruleset.paths[Hook.INPUT] = [chain.key]
    return ruleset


def _rules(
    rule: Mapping[str, Any], peers: _Peers, where: str, line: int, selected: bool | None
) -> list[Rule]:
    sources = _sequence(rule.get("from"), f"{where}.from")
    ports = _sequence(rule.get("ports"), f"{where}.ports")
    out = []
    for index, port in enumerate(ports or [None]):
        built = MatchBuilder()
        if selected is None:
            built.unreadable.append("podSelector.matchExpressions")
        if port is not None:
            at = f"{where}.ports[{index}]"
            _ports(_mapping(port, at), built, at)
        if sources:
            reach = {4: Ranges(), 6: Ranges()}
            for number, peer in enumerate(sources):
                found = peers.addresses(peer, built.unreadable, f"{where}.from[{number}]")
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

"""Kubernetes NetworkPolicies (YAML, as ``kubectl get networkpolicy -o yaml`` or a file for
``kubectl apply``) read into the ingress ruleset of one host that stands for pods.

The pods are the host's: the deployment gives it ``kubernetes: {cluster, namespace,
pod_labels}``.  A policy without ``metadata.namespace`` is in the namespace kubectl applied it
to (its ``--namespace``, else its context's), which the file does not say: the caller says it
(``namespace``), or the policy is refused.  The policies of the host's namespace whose
``podSelector`` selects those labels decide: when none does, every connection is allowed;
otherwise the union of their ingress rules, each a set of peers times a set of ports.  Peers:
``ipBlock`` (``cidr`` less ``except``), and ``podSelector``/``namespaceSelector`` resolved to
the deployment's hosts of the same cluster whose labels they select (their addresses stand for
the pods; the pods of a host known by name only are unreadable, and may be any address).
Selectors are read with their ``matchExpressions`` (``In``, ``NotIn``, ``Exists``,
``DoesNotExist``).  Read as unreadable: a ``namespaceSelector`` on labels other than
``kubernetes.io/metadata.name``, named ports.  Egress rules are not read (``--egress`` is
refused for this platform: :func:`~portplan.audit.ruleset.audit_ruleset`).
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
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
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


def _conditions(selector: Any, where: str) -> list[tuple[str, str, set[str]]]:
    """A label selector's conditions: ``matchLabels`` as ``In`` one value, then its
    ``matchExpressions``, each (key, operator, values); :class:`AuditError` for what the API
    server refuses."""
    selector = _mapping(selector, where)
    found = [
        (str(k), "In", {str(v)})
        for k, v in _mapping(selector.get("matchLabels"), f"{where}.matchLabels").items()
    ]
    for index, raw in enumerate(_sequence(selector.get("matchExpressions"), where)):
        at = f"{where}.matchExpressions[{index}]"
        item = _mapping(raw, at)
        operator = item.get("operator")
        values = {str(v) for v in _sequence(item.get("values"), f"{at}.values")}
        if operator not in _OPERATORS or (operator in ("In", "NotIn")) != bool(values):
            raise AuditError(
                f"{at}: operator {shown(operator, 20)} with {len(values)} values; the operators "
                f"are {', '.join(_OPERATORS)} (In and NotIn with values, the others without); "
                f"{_HINT}"
            )
        found.append((str(item.get("key")), str(operator), values))
    return found


def _meets(labels: Mapping[str, str], key: str, operator: str, values: set[str]) -> bool:
    """Whether labels meet one condition of a label selector (``NotIn`` a missing label)."""
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return labels.get(key) not in values
    return (key in labels) == (operator == "Exists")


def _selects(selector: Any, labels: Mapping[str, str], where: str) -> bool:
    """Whether a label selector (``matchLabels`` and ``matchExpressions``) selects ``labels``
    (``None``, like ``{}``: every one)."""
    if selector is None:
        return True
    return all(_meets(labels, *c) for c in _conditions(selector, where))


class _Peers:
    """Peers of a rule resolved to the deployment's addresses."""

    def __init__(self, plan: Plan, cluster: str, namespace: str) -> None:
        self.pods = {
            name: host
            for name, host in plan.hosts.items()
            if host.kubernetes is not None and host.kubernetes.cluster == cluster
        }
        self.namespace = namespace

    def addresses(
        self, peer: Any, unreadable: list[str], where: str, unknown: list[str]
    ) -> dict[int, Ranges]:
        """The addresses of ``peer``; the pods of a host known by name only go to ``unknown``
        (their addresses are not in the plan: they may be any)."""
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
        namespaces = peer.get("namespaceSelector")  # none: the policy's own namespace
        conditions = (
            None if namespaces is None else _conditions(namespaces, f"{where}.namespaceSelector")
        )
        for host_name, host in self.pods.items():
            assert host.kubernetes is not None  # chosen for it
            if not self._in_namespace(host.kubernetes.namespace, conditions, unreadable):
                continue
            labels = host.kubernetes.pod_labels
            if _selects(peer.get("podSelector"), labels, f"{where}.podSelector"):
                if not host.addresses:
                    unknown.append(f"pods of {host_name!r}, a host known by name only")
                for family in (4, 6):
                    out[family] = out[family] | networks_ranges(host.addresses, family)
        return out

    def _in_namespace(
        self,
        namespace: str,
        conditions: list[tuple[str, str, set[str]]] | None,
        unreadable: list[str],
    ) -> bool:
        """Whether a peer's namespace selector (``None``: none) takes pods of ``namespace``:
        the audit knows a namespace's name label only, so a condition on another label may
        hold or not, and is read at its widest."""
        if conditions is None:
            return namespace == self.namespace
        labels = {_NAMESPACE_KEY: namespace}
        if not all(_meets(labels, *c) for c in conditions if c[0] == _NAMESPACE_KEY):
            return False
        if any(c[0] != _NAMESPACE_KEY for c in conditions):
            unreadable.append("namespaceSelector on labels other than the namespace name")
        return True


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


def read_network_policies(
    text: str, name: str, plan: Plan, host: str, namespace: str | None = None
) -> Ruleset:
    """The ingress ruleset the NetworkPolicies of ``text`` make for ``host``'s pods; those
    that name no namespace are in ``namespace`` (``None``: :class:`AuditError`, as the file
    does not say where kubectl put them)."""
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
        if _namespace(meta, namespace, f"{name}:{line}") != where.namespace:
            continue
        label = f"{name}:{line} NetworkPolicy {where.namespace}/{meta.get('name')}"
        selected = _selects(spec.get("podSelector") or {}, where.pod_labels, f"{label} podSelector")
        types = _sequence(spec.get("policyTypes"), f"{label} policyTypes") or ["Ingress"]
        if not selected or "Ingress" not in types:
            continue
        selecting += 1
        for index, rule in enumerate(_sequence(spec.get("ingress"), f"{label} ingress")):
            at = f"{label} ingress[{index}]"
            chain.rules.extend(_rules(_mapping(rule, at), peers, at, line))
    if selecting:
        chain.policy = Verdict.DROP  # selected pods accept only what some rule allows
    ruleset = Ruleset(platform="kubernetes", files=(name,), loopback_filtered=False)
    ruleset.chains[chain.key] = chain
    ruleset.paths[Hook.INPUT] = [chain.key]
    return ruleset


def _namespace(meta: Mapping[str, Any], given: str | None, where: str) -> str:
    """A policy's namespace: its own, else ``given``; :class:`AuditError` when neither says."""
    own = meta.get("namespace")
    if own not in (None, ""):  # kubectl reads an empty one as none
        return str(own)
    if given is None:
        raise AuditError(
            f"{where}: NetworkPolicy {shown(meta.get('name'), 40)} has no metadata.namespace: "
            "kubectl puts such a policy in the namespace of its --namespace option or of its "
            "current context, which the file does not say, so the audit cannot tell whose pods "
            "it selects (it does not take it as 'default'); give the namespace it was applied "
            "to with --namespace NAME, or write metadata.namespace in the policy"
        )
    return given


def _rules(rule: Mapping[str, Any], peers: _Peers, where: str, line: int) -> list[Rule]:
    sources = _sequence(rule.get("from"), f"{where}.from")
    ports = _sequence(rule.get("ports"), f"{where}.ports")
    out = []
    for index, port in enumerate(ports or [None]):
        built = MatchBuilder()
        if port is not None:
            at = f"{where}.ports[{index}]"
            _ports(_mapping(port, at), built, at)
        unknown: list[str] = []
        if sources:
            reach = {4: Ranges(), 6: Ranges()}
            for number, peer in enumerate(sources):
                at = f"{where}.from[{number}]"
                found = peers.addresses(peer, built.unreadable, at, unknown)
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
        if unknown:  # pods whose addresses the plan does not say: they may be any
            out.append(
                Rule(
                    where=where,
                    text=text,
                    match=built.space(),
                    verdict=Verdict.ACCEPT,
                    unreadable=tuple(dict.fromkeys([*built.unreadable, *unknown])),
                    line=line,
                )
            )
    return out

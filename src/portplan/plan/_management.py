"""The rows of the operator access a deployment declares (``management:``)."""

from __future__ import annotations

from portplan.model.deployment import Deployment
from portplan.model.ports import PortSet
from portplan.model.product import AppProtocol
from portplan.plan._legs import Leg, LegEnd, SourceEnd
from portplan.plan._rows import several_machines
from portplan.plan._types import MANAGEMENT, Decision, FlowFacts, Hop

__all__ = ["management_rows"]

#: the services that are TLS from the first byte: an entry naming one is ``tls``, as the
#: importer drafts a product's flow that names it
_TLS = frozenset({AppProtocol.HTTPS, AppProtocol.LDAPS, AppProtocol.TLS})


def management_rows(deployment: Deployment, out: list[Leg], decisions: list[Decision]) -> None:
    """Rows for the operator access the deployment declares (``management:``)."""
    hosts = deployment.hosts
    for access in deployment.management:
        key = f"{MANAGEMENT}/{access.id}"
        decision = Decision(
            key=key, product=MANAGEMENT, flow_id=access.id, reference="deployment management access"
        )
        decision.reasons.append("management access declared by the deployment: always kept")
        # by default every machine portplan writes a ruleset for: single hosts and the
        # members of clusters, not networks of machines, nor systems it does not manage
        # (a host written twice is one destination, one source: each row is one opening)
        targets = tuple(dict.fromkeys(access.destination or ())) or tuple(
            name for name, host in hosts.items() if host.managed and not host.is_network
        )
        facts = FlowFacts(
            key=key,
            product=MANAGEMENT,
            flow_id=access.id,
            hop=Hop.DIRECT,
            destination_component=MANAGEMENT,
            protocol=access.protocol,
            loopback=False,
            service=None,
            app_protocol=access.app_protocol.value if access.app_protocol else None,
            tls=access.app_protocol in _TLS,
            purpose=access.purpose,
            condition=None,
            configurable="yes",
            overrides=(),
            interface=None,
            reference=decision.reference,
            icmp=tuple(t.value for t in access.icmp),
        )
        ports = PortSet.of(access.ports or ())
        sources = [
            SourceEnd(src, MANAGEMENT, hosts[src].addresses, hosts[src].zone)
            for src in dict.fromkeys(access.source)
        ]
        ends = []
        for dst in targets:
            dst_host = hosts[dst]
            # a machine reaches itself locally; the members of a cluster (or the machines of
            # a network) reach each other over it, as a product's flows between them do
            mesh = several_machines(dst_host)
            pairs = tuple(source for source in sources if mesh or source.name != dst)
            if not mesh and any(source.name == dst for source in sources):
                decision.local.append(dst)
            if pairs:
                ends.append(
                    LegEnd(dst, dst_host.addresses, dst_host.zone, ports, None, None, pairs)
                )
                decision.rows += len(pairs)
        if decision.local:
            decision.reasons.append(
                f"{len(decision.local)} host pair(s) skipped: source and destination are the "
                f"same host ({', '.join(decision.local)}: local traffic, no rule)"
            )
        if ends:
            out.append(Leg(facts, tuple(ends)))
        decision.included = decision.rows > 0
        decisions.append(decision)

"""The rows of the operator access a deployment declares (``management:``)."""

from __future__ import annotations

from portplan.model.deployment import Deployment
from portplan.model.ports import PortSet
from portplan.plan._types import MANAGEMENT, Decision, FlowFacts, Hop, PlannedFlow

__all__ = ["management_rows"]


def management_rows(
    deployment: Deployment, out: list[PlannedFlow], decisions: list[Decision]
) -> None:
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
        targets = access.destination or tuple(
            name
            for name, host in hosts.items()
            if host.managed and (host.cluster or not host.is_group)
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
            app_protocol=None,
            tls=False,
            purpose=access.purpose,
            condition=None,
            configurable="yes",
            overrides=(),
            interface=None,
            reference=decision.reference,
        )
        ports = PortSet.of(access.ports)
        for dst in targets:
            for src in access.source:
                if src == dst:
                    continue
                out.append(
                    PlannedFlow(
                        facts=facts,
                        source=src,
                        source_component=MANAGEMENT,
                        source_addresses=hosts[src].addresses,
                        source_zone=hosts[src].zone,
                        destination=dst,
                        destination_addresses=hosts[dst].addresses,
                        destination_zone=hosts[dst].zone,
                        ports=ports,
                        listen_ports=None,
                    )
                )
                decision.rows += 1
        decision.included = decision.rows > 0
        decisions.append(decision)

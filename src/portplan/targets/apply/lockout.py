"""Would the new ruleset lock the operators out?  Asked of the rules the host firewalls render
(the host's view of the plan), not of the plan's rows: a row the target cannot express (an
IPv6-only admin network towards an IPv4-only server) keeps nobody's session open."""

from __future__ import annotations

import ipaddress
import os
from typing import NamedTuple

from portplan.model._types import Protocol
from portplan.plan import MANAGEMENT, Plan
from portplan.targets.hostview import Direction, host_view

__all__ = ["Lockout", "lockout_problems"]


class Lockout(NamedTuple):
    """A reason the new ruleset could lock the operator out."""

    text: str
    forcible: bool  #: --force may apply anyway (never when it cuts the session in use)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket names an IPv4 client this way
    return address


def lockout_problems(
    plan: Plan, host: str, ssh_connection: str | None = None, *, egress: bool = False
) -> list[Lockout]:
    """Reasons the new ruleset would lock the operator out of ``host`` (empty: none).

    ``ssh_connection`` is the value of ``SSH_CONNECTION`` ("client port server port", read from
    the environment when not given): a rule accepting exactly that session — its client
    address, the server address it reached, TCP, the server port — must be among the host's
    inbound rules.  And some rendered inbound rule must come from the deployment's
    ``management:`` access, so that operators keep a way in.
    """
    view = host_view(plan, host, plan.host_addresses(host), egress=egress)
    inbound = [r for r in view.rules if r.direction is Direction.INBOUND and not r.loopback]
    problems: list[Lockout] = []
    if ssh_connection is None:
        ssh_connection = os.environ.get("SSH_CONNECTION")
    if ssh_connection:
        parts = ssh_connection.split()
        try:
            client, server, port = _address(parts[0]), _address(parts[2]), int(parts[3])
        except (IndexError, ValueError):
            return [
                Lockout(
                    f"SSH_CONNECTION={ssh_connection!r} is not 'client port server port', so "
                    "the session it stands for cannot be checked; unset it if this is no SSH "
                    "session",
                    forcible=False,
                )
            ]
        kept = any(
            rule.protocol is Protocol.TCP
            and port in rule.ports
            and any(client in net for net in rule.peers)
            and any(server in net for net in rule.local)
            for rule in inbound
        )
        if not kept:
            problems.append(
                Lockout(
                    f"this SSH session from {client} to {server} port {port} is not accepted "
                    f"by {host}'s new ruleset: it would cut the session; declare it under "
                    "'management:' in the deployment (from the client's host to this one)",
                    forcible=False,
                )
            )
    if plan.hosts[host].is_group:
        return problems
    declared = any(r.product == MANAGEMENT and r.destination == host for r in plan.rows_of(host))
    rendered = any(f.startswith(f"{MANAGEMENT}/") for rule in inbound for f in rule.flows)
    if not rendered:
        why = (
            f"the deployment's management access to {host} cannot be expressed (no address "
            "family its sources and this host share)"
            if declared
            else f"the deployment declares no management access to {host}"
        )
        problems.append(
            Lockout(
                f"{why}; declare one under 'management:' (e.g. SSH from the admin network) "
                "so operators keep a way in",
                forcible=True,
            )
        )
    return problems

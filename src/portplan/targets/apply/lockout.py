"""Would the new ruleset lock the operators out?  Asked of the rules the host firewalls render
(the host's view of the plan), not of the plan's rows: a row the target cannot express (an
IPv6-only admin network towards an IPv4-only server) keeps nobody's session open."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from typing import NamedTuple

from portplan.model._types import Protocol
from portplan.plan import MANAGEMENT, Plan
from portplan.targets.hostview import Direction, HostRule, host_view

__all__ = ["Lockout", "lockout_problems", "sshd_sessions"]


class Lockout(NamedTuple):
    """A reason the new ruleset could lock the operator out."""

    text: str
    forcible: bool  #: --force may apply anyway (never when it cuts the session in use)


_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> _Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket names an IPv4 client this way
    return address


def sshd_sessions() -> list[tuple[str, str, int]]:
    """The TCP sessions open to sshd on this machine (in its network namespace): client
    address, server address, server port; empty when they cannot be read.

    Found from the sockets: the ports a process named ``sshd...`` listens on (seeing which
    process owns a socket takes root, as apply does), and the established connections to
    them.  An sshd started by systemd's socket activation is not seen this way.
    """
    import psutil  # noqa: PLC0415 - only apply asks, once

    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return []
    ports: set[int] = set()
    for item in connections:
        if item.status == psutil.CONN_LISTEN and item.pid is not None and item.laddr:
            try:
                if psutil.Process(item.pid).name().startswith("sshd"):
                    ports.add(item.laddr.port)
            except psutil.Error:
                continue
    found: set[tuple[str, str, int]] = set()
    for item in connections:
        local, remote = item.laddr, item.raddr
        if item.status == psutil.CONN_ESTABLISHED and local and remote and local.port in ports:
            found.add((remote.ip, local.ip, local.port))
    return sorted(found)


def _accepted(inbound: list[HostRule], client: _Address, server: _Address, port: int) -> bool:
    """Whether one of the inbound rules accepts a TCP connection from ``client`` to
    ``server`` on ``port``."""
    return any(
        rule.protocol is Protocol.TCP
        and port in rule.ports
        and any(client in net for net in rule.peers)
        and any(server in net for net in rule.local)
        for rule in inbound
    )


def lockout_problems(
    plan: Plan,
    host: str,
    ssh_connection: str | None = None,
    *,
    egress: bool = False,
    sessions: Sequence[tuple[str, str, int]] | None = None,
) -> list[Lockout]:
    """Reasons the new ruleset would lock the operator out of ``host`` (empty: none).

    ``ssh_connection`` is the value of ``SSH_CONNECTION`` ("client port server port", read from
    the environment when not given): a rule accepting exactly that session — its client
    address, the server address it reached, TCP, the server port — must be among the host's
    inbound rules.  Without it (``sudo`` and ``su -`` drop it), every SSH session open on this
    machine (``sessions``, :func:`sshd_sessions` when not given) is checked so, and one the
    new ruleset would not accept again can only be forced: whose it is cannot be told.  And
    some rendered inbound rule must come from the deployment's ``management:`` access, so
    that operators keep a way in.
    """
    view = host_view(plan, host, plan.host_addresses(host), egress=egress)
    inbound = [r for r in view.rules if r.direction is Direction.INBOUND and not r.loopback]
    problems: list[Lockout] = []
    if ssh_connection is None:
        ssh_connection = os.environ.get("SSH_CONNECTION")
    if not ssh_connection:
        for client_text, server_text, port in sshd_sessions() if sessions is None else sessions:
            client, server = _address(client_text), _address(server_text)
            if not _accepted(inbound, client, server, port):
                problems.append(
                    Lockout(
                        f"an SSH session from {client} to {server} port {port} is open on "
                        f"this machine, and {host}'s new ruleset would not accept it again "
                        "(SSH_CONNECTION is not set, as after sudo or su -, so whether it is "
                        "yours cannot be told); declare it under 'management:' in the "
                        "deployment, or give --force if it may lose its way back in",
                        forcible=True,
                    )
                )
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
        if not _accepted(inbound, client, server, port):
            problems.append(
                Lockout(
                    f"this SSH session from {client} to {server} port {port} is not accepted "
                    f"by {host}'s new ruleset: it would cut the session; declare it under "
                    "'management:' in the deployment (from the client's host to this one)",
                    forcible=False,
                )
            )
    if plan.hosts[host].is_network:  # a cluster's members are machines operators log in to
        return problems
    declared = any(
        r.product == MANAGEMENT and r.destination == host and r.protocol is not Protocol.ICMP
        for r in plan.rows_of(host)
    )
    # a way in is a connection operators can log in over: ping is not one
    rendered = any(
        f.startswith(f"{MANAGEMENT}/")
        for rule in inbound
        if rule.protocol is not Protocol.ICMP
        for f in rule.flows
    )
    if not rendered:
        # an entry from the host itself reaches it locally: no row, no rule, no way in
        own = [d.flow_id for d in plan.decisions if d.product == MANAGEMENT and host in d.local]
        add = "declare one under 'management:'"
        if declared:
            why = (
                f"the deployment's management access to {host} cannot be expressed (no "
                "address family its sources and this host share)"
            )
        elif own:
            entries = ", ".join(repr(flow) for flow in own)
            why = (
                f"the deployment's management access to {host} (management {entries}) comes "
                f"from {host} itself: a host's own traffic stays on it and needs no rule, so "
                "it is no way in for operators on other machines"
            )
            add = "add one under 'management:' from the machines operators work on"
        else:
            why = f"the deployment declares no management access to {host}"
        problems.append(
            Lockout(
                f"{why}; {add} (e.g. SSH from the admin network) so operators keep a way in",
                forcible=True,
            )
        )
    return problems

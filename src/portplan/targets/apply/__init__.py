"""Applying a host's ruleset on the machine itself, safely.

The sequence ``portplan apply`` follows, as ``iptables-apply`` does:

1. render the host's ruleset and check it with the platform's own checker (``nft -c``,
   ``iptables-restore --test``); a ruleset that fails is refused and nothing changes;
2. refuse a ruleset that would cut the operator's own SSH session (``SSH_CONNECTION``) or a
   management access the deployment declares (:func:`lockout_problems`);
3. save the running ruleset, apply the new one atomically;
4. keep it only if the operator confirms within the timeout; otherwise restore the saved one.

Each target that can be applied names its :class:`~portplan.targets.base.Applier`; this
package runs the commands, the CLI talks to the operator.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import replace
from typing import NamedTuple

from portplan._errors import TargetError
from portplan.model._types import Protocol
from portplan.plan import MANAGEMENT, Plan
from portplan.targets import get_target, target_names
from portplan.targets.base import Applier, RuleOptions, Scope

__all__ = ["Lockout", "applier_for", "lockout_problems"]


def applier_for(plan: Plan, host: str, target: str, options: RuleOptions) -> Applier:
    """Render ``host``'s ruleset for ``target`` and wrap it in the target's applier."""
    found = get_target(target)
    if found.applier is None or found.scope is not Scope.HOST:
        can = [n for n in target_names() if get_target(n).applier is not None]
        raise TargetError(
            f"target {target} cannot be applied here; apply supports {', '.join(can)}; "
            "use `portplan rules` to generate the other targets' files"
        )
    return found.applier(found.render(plan, replace(options, hosts=(host,))))


class Lockout(NamedTuple):
    """A reason the new ruleset could lock the operator out."""

    text: str
    forcible: bool  #: --force may apply anyway (never when it cuts the session in use)


def lockout_problems(plan: Plan, host: str, ssh_connection: str | None = None) -> list[Lockout]:
    """Reasons the new ruleset would lock the operator out of ``host`` (empty: none).

    ``ssh_connection`` is the value of ``SSH_CONNECTION`` ("client port server port"); the
    session it describes must be a planned flow into this host.
    """
    problems: list[Lockout] = []
    into_host = [r for r in plan.rows_of(host) if r.destination == host]
    if ssh_connection is None:
        ssh_connection = os.environ.get("SSH_CONNECTION")
    if ssh_connection:
        parts = ssh_connection.split()
        try:
            client = ipaddress.ip_address(parts[0])
            port = int(parts[3])
        except (IndexError, ValueError):
            return [
                Lockout(
                    f"SSH_CONNECTION={ssh_connection!r} is not 'client port server port'",
                    forcible=True,
                )
            ]
        allowed = any(
            row.protocol is Protocol.TCP
            and port in row.ports
            and any(client in net for net in row.source_addresses)
            for row in into_host
        )
        if not allowed:
            problems.append(
                Lockout(
                    f"this SSH session from {client} to port {port} is not in the plan for "
                    f"{host}: the new ruleset would cut it; declare it under 'management:' in "
                    "the deployment",
                    forcible=False,
                )
            )
    if not any(r.product == MANAGEMENT for r in into_host) and not plan.hosts[host].is_group:
        problems.append(
            Lockout(
                f"the deployment declares no management access to {host}; declare one under "
                "'management:' (e.g. SSH from the admin network) so operators keep a way in",
                forcible=True,
            )
        )
    return problems

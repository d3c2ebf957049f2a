"""What DNS says of the destinations verify reaches by name, as checks.

A destination host with a ``dns_name`` is reached by name: the name is resolved first (see
:mod:`portplan.probe.dns`), its declared addresses are probed as usual, and what DNS says
that the deployment does not is a ``dns-error`` check, decided without a packet sent: an
address the deployment does not declare for the host, or a name that does not resolve.  A
host known by name only declares no address: what its name resolves to is probed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import chain

from portplan.model.addresses import special_kind
from portplan.probe.checks import FlowCheck
from portplan.probe.dns import DNS_TIMEOUT, NameLookup, resolve_names
from portplan.probe.engine import Evidence, Outcome, PortProbe, PortResult

__all__ = ["MAX_NAME_ADDRESSES", "address_version", "name_checks", "resolve_checks"]

#: addresses probed at most for a host known by name only (the rest are named, not probed)
MAX_NAME_ADDRESSES = 16


def address_version(address: str) -> int:
    """4 or 6: the family of the address ``address``."""
    return ipaddress.ip_address(address).version


def _unprobed(
    check: FlowCheck, address: str, port: int | None, lookup: NameLookup, why: str
) -> FlowCheck:
    """A ``dns-error`` check of ``check``'s row: decided from DNS alone, never probed."""
    probe = PortProbe(
        address=address,
        port=port,
        protocol=check.probe.protocol,
        icmp_type=check.probe.icmp_type,
    )
    evidence = Evidence(elapsed_ms=lookup.elapsed_ms, note=why)
    return FlowCheck(
        row=check.row,
        probe=probe,
        result=PortResult(probe=probe, outcome=Outcome.DNS_ERROR, evidence=evidence),
        dns_name=lookup.name,
        lookup=lookup,
    )


def _row_name_checks(row_checks: list[FlowCheck], lookup: NameLookup) -> list[FlowCheck]:
    """The ``dns-error`` checks of one row reached by name, and notes on its probed checks."""
    first = row_checks[0]
    ports = list(dict.fromkeys(c.probe.port for c in row_checks))
    resolved = [ipaddress.ip_address(a) for a in lookup.addresses]
    declared = {n.network_address for n in first.row.destination_addresses}
    for check in row_checks:
        check.lookup = lookup
        if ipaddress.ip_address(check.probe.address) not in resolved:
            check.notes.append(
                f"{lookup.name} does not resolve to this address: the product would not "
                "reach it by name"
            )
    if not lookup.resolved:
        why = f"{lookup.name}: {lookup.error}"
        return [_unprobed(first, lookup.name, port, lookup, why) for port in ports]
    return [
        _unprobed(
            first,
            str(address),
            port,
            lookup,
            f"{lookup.name} resolves to {address}, which the deployment does not declare "
            f"for {first.row.destination}: not probed",
        )
        for address in resolved
        if address not in declared
        for port in ports
    ]


def _by_name_only(pending: list[FlowCheck], lookup: NameLookup) -> list[FlowCheck]:
    """The checks of one row to a host known by name only, once its name has resolved.

    The deployment declares the host by its name alone, so what the name resolves to here,
    now, is the host, as it is for the product: each address is probed, at most
    :data:`MAX_NAME_ADDRESSES` of them, but never a special-purpose one (multicast,
    broadcast, unspecified, IPv4-mapped), which is a ``dns-error``, as is a name that does not
    resolve.
    """
    first = pending[0]
    ports = list(dict.fromkeys(c.probe.port for c in pending))
    if not lookup.resolved:
        why = f"{lookup.name}: {lookup.error}"
        return [_unprobed(first, lookup.name, port, lookup, why) for port in ports]
    out: list[FlowCheck] = []
    usable: list[str] = []
    for text in lookup.addresses:
        kind = special_kind(ipaddress.ip_network(text))
        if kind is None:
            usable.append(text)
            continue
        why = (
            f"{lookup.name} resolves to {text}, a special-purpose address ({kind.value}): "
            "never probed"
        )
        out.extend(_unprobed(first, text, port, lookup, why) for port in ports)
    left = usable[MAX_NAME_ADDRESSES:]
    for index, text in enumerate(usable[:MAX_NAME_ADDRESSES]):
        source = next(
            (a for a in first.own_sources if address_version(a) == address_version(text)), None
        )
        for check in pending:
            notes = [*check.notes, f"{lookup.name} is known by name only: it resolves to {text}"]
            if source is None and first.own_sources:
                notes.append(_other_family(check.row.source, text, first.own_sources))
            if left and index == 0:
                notes.append(
                    f"{lookup.name} resolves to {len(usable)} addresses; the first "
                    f"{MAX_NAME_ADDRESSES} are probed, not {', '.join(left)}"
                )
            probe = replace(check.probe, address=text, source=source)
            out.append(replace(check, probe=probe, lookup=lookup, notes=notes))
    return out


def _other_family(source: str, address: str, own: Sequence[str]) -> str:
    """The note of a resolved address none of the source's addresses here is of the family
    of: the kernel chooses the address it is sent from."""
    return (
        f"sent from the address this machine's kernel chose for {address}: {source} sends from "
        f"no IPv{address_version(address)} address here ({', '.join(own)}), so the probe does "
        f"not come from {source} as the firewalls see it"
    )


def name_checks(checks: Sequence[FlowCheck], lookups: Mapping[str, NameLookup]) -> list[FlowCheck]:
    """``checks`` with what DNS said of each destination reached by name, row by row.

    Every declared address stays as planned (with a note where the name does not resolve to
    it); each address the name resolves to that the deployment does not declare for the host,
    and a name that does not resolve, add a ``dns-error`` check per port, already decided:
    nothing is ever probed that the plan does not hold.  A host known by name only declares
    no address: its name stands for whatever it resolves to (:func:`_by_name_only`).
    """
    # the probes expected blocked beside a row's ports share its row, not its ports
    rows: dict[tuple[int, bool], list[FlowCheck]] = {}
    for check in checks:
        rows.setdefault((id(check.row), check.expect_blocked), []).append(check)
    out: list[FlowCheck] = []
    for row_checks in rows.values():
        pending = [c for c in row_checks if c.result is None]  # not decided already
        name = pending[0].dns_name if pending else None
        lookup = lookups.get(name) if name is not None else None
        if lookup is None:
            out.extend(row_checks)
        elif pending[0].address is None:  # known by name only: the placeholders are replaced
            out.extend(c for c in row_checks if c.result is not None)
            out.extend(_by_name_only(pending, lookup))
        else:
            out.extend(chain(row_checks, _row_name_checks(pending, lookup)))
    return out


async def resolve_checks(checks: list[FlowCheck], *, timeout: float = DNS_TIMEOUT) -> None:
    """Resolve the destination names of ``checks`` up front and add what they say, in place."""
    names = [c.dns_name for c in checks if c.dns_name is not None and c.result is None]
    if names:
        checks[:] = name_checks(checks, await resolve_names(names, timeout=timeout))

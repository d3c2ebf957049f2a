"""Verifying a plan from this machine, as one plain function (the API and the CLI use it).

Kept apart from :mod:`portplan.probe.verify`, the engine's checks, which the Ansible
collection bundles and which must therefore need nothing beyond the standard library: this
module works from a :class:`~portplan.plan.Plan` and adds the probes of what must stay
blocked (:mod:`portplan.probe.blocked`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from portplan._errors import VerifyError
from portplan._text import choice_hint
from portplan.model.addresses import network_text
from portplan.model.protocol import Protocol
from portplan.plan import Plan, PlannedFlow
from portplan.probe.blocked import FORBIDDEN, blocked_probes, forbidden_gaps, forbidden_key
from portplan.probe.destinations import ANYWHERE, named_addresses
from portplan.probe.dns import DNS_TIMEOUT, NameLookup, resolve_names
from portplan.probe.engine import Evidence, Outcome, PortResult
from portplan.probe.local import (
    is_local,
    local_addresses,
    route_lookups,
    single_address,
    source_hosts,
)
from portplan.probe.outcomes import UDP_SILENCE_NOTE
from portplan.probe.planned import plan_checks, within
from portplan.probe.verify import FlowCheck, Skipped, default_deadline, run_checks

__all__ = ["Verification", "verify"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True, kw_only=True)
class Verification:
    """What :func:`verify` found: every probe with its outcome, and the rows it could not
    probe from here, with the reason."""

    sources: tuple[str, ...]  #: the hosts the flows were verified from
    checks: tuple[FlowCheck, ...]
    skipped: tuple[Skipped, ...]
    #: Ctrl-C stopped the run: the checks hold what was found until then, and every check
    #: not settled is ``unfinished``
    interrupted: bool = False

    @property
    def passed(self) -> bool:
        """Whether every probe passed (a flow not probed is not a failure), and there was
        one: a verification that probed nothing verified nothing."""
        return bool(self.checks) and all(check.passed for check in self.checks)


def verify(
    plan: Plan,
    *,
    sources: Sequence[str] | None = None,
    flows: Sequence[str] = (),
    timeout: float = 1.0,
    concurrency: int = 2048,
    second_look: bool = True,
    identify_services: bool = True,
    secrets: Mapping[str, bytes] | None = None,
    progress: Callable[[int, int], None] | None = None,
    deadline: float | None = None,
    expect_blocked: bool = False,
    from_addresses: Sequence[str] = (),
) -> Verification:
    """Probe, from this machine, every planned flow that starts on ``sources``.

    ``sources`` are hosts of the plan this machine stands for; by default, the hosts one of
    this machine's addresses belongs to.  ``flows`` limits the probes to those flow ids (or
    row keys); with ``expect_blocked``, to what must stay blocked around them, and a
    ``forbidden/<id>`` names a declared forbidden connection (see
    :mod:`portplan.probe.blocked`).
    Only addresses the plan holds are probed.  Blocks until every probe has an outcome;
    :class:`VerifyError` when there is nothing to verify from here.  ``progress`` is called
    with (probes done, probes planned) as probes complete.  ``deadline`` bounds the whole
    run, in seconds (default: :func:`default_deadline`); ports not settled by then are
    ``unfinished`` (and fail).  Ctrl-C while probing (``SIGINT``, which ``asyncio.run`` turns
    into the cancellation of the run) stops it the same way: what was found until then comes
    back, with ``interrupted`` set (it needs the main thread, where Python's own handler of
    ``SIGINT`` is in place); a second Ctrl-C raises ``KeyboardInterrupt`` at once.
    ``expect_blocked`` also probes connections the plan does not hold, each of which passes
    only when it is blocked (:mod:`portplan.probe.blocked`); it needs ``second_look``: a TCP
    port silent once may be one whose SYN was lost, and passing it as blocked would say closed
    of what is open.  ``from_addresses`` are the addresses to send from (addresses of the
    ``sources``, one per family); of a cluster, the member this machine is.

    A source must be a host portplan manages: ``anywhere`` (the clients of a listener-only
    row) and ``managed: false`` hosts run no verification (:class:`VerifyError`).
    """
    if expect_blocked and not second_look:
        raise VerifyError(
            "--expect-blocked needs the second look: a port silent once may be one whose SYN "
            "was lost on the way, and would pass as blocked; leave out --no-second-look"
        )
    local = local_addresses()
    if sources is None:
        sources = source_hosts(plan, local)
        if not sources:
            raise VerifyError(
                "none of this machine's addresses belongs to a host of the deployment; "
                "say which host this machine is (portplan verify --on HOST)"
            )
    unknown = [s for s in sources if s not in plan.hosts]
    if unknown:
        raise VerifyError(f"no host {unknown[0]!r} in deployment {plan.deployment}")
    for source in sources:
        _check_source(plan, source)
    lookups = _named_sources(plan, sources, timeout)
    _check_from(plan, sources, from_addresses, local, lookups)
    forbidden = _forbidden_flows(plan, flows, expect_blocked)
    checks: list[FlowCheck] = []
    skipped: list[Skipped] = []
    if not flows or len(forbidden) < len(flows):  # (only forbidden ones: no planned row)
        checks, skipped = plan_checks(
            plan,
            sources,
            flows=[f for f in flows if f not in forbidden],
            local=local,
            from_addresses=from_addresses,
            source_lookups=lookups,
        )
    if expect_blocked:
        for source in sources:
            checks.extend(_blocked_checks(plan, source, local, from_addresses, flows, lookups))
            gaps = forbidden_gaps(plan, source, flows, lookups)
            skipped.extend(Skipped(row=row, reason=reason) for row, reason in gaps)
    # (rows from anywhere are listed in every report, but start on none of these hosts)
    if not checks and not any(s.row.source in sources or flows for s in skipped):
        raise VerifyError(f"no planned flow starts on {', '.join(sources)}")
    seconds = default_deadline(checks) if deadline is None else deadline
    ends = time.monotonic() + seconds
    step = None
    if progress is not None:
        report, total, done = progress, len(checks), [0]

        def step(_result: PortResult) -> None:
            done[0] += 1
            report(done[0], total)

    stopped = asyncio.run(
        run_checks(
            checks,
            timeout=timeout,
            concurrency=concurrency,
            second_look=second_look,
            secrets=secrets or {},
            identify_services=identify_services,
            progress=step,
            deadline=ends,
        )
    )
    return Verification(
        sources=tuple(sources), checks=tuple(checks), skipped=tuple(skipped), interrupted=stopped
    )


def _forbidden_flows(plan: Plan, flows: Sequence[str], expect_blocked: bool) -> set[str]:
    """The ``flows`` that name a declared forbidden connection (``forbidden/<id>``), which
    only ``expect_blocked`` probes (:class:`VerifyError` without it, or for an unknown one)."""
    declared = {forbidden_key(f) for f in plan.forbidden}
    named = {f for f in flows if f in declared or f.startswith(f"{FORBIDDEN}/")}
    unknown = sorted(named - declared)
    if unknown:
        hint = choice_hint(
            unknown[0], declared, "forbidden connections", owner=f"deployment {plan.deployment}"
        )
        raise VerifyError(
            f"no forbidden connection {unknown[0]!r} in deployment {plan.deployment}: "
            f"--flow {FORBIDDEN}/ID names one of its forbidden: entries by id ({hint})"
        )
    if named and not expect_blocked:
        raise VerifyError(
            f"{sorted(named)[0]} is a forbidden connection: it is probed, to prove it "
            "blocked, only with --expect-blocked"
        )
    return named


def _blocked_checks(
    plan: Plan,
    source: str,
    local: set[IPAddress],
    from_addresses: Sequence[str],
    flows: Sequence[str] = (),
    lookups: Mapping[str, NameLookup] | None = None,
) -> list[FlowCheck]:
    """The checks of what must stay blocked from ``source`` (with ``flows``, of what those
    flows concern: :func:`~portplan.probe.blocked.blocked_probes`).

    A probe this machine would send from none of the source's addresses (the kernel's
    choice, outside them) is not sent: a firewall that blocks this machine proves nothing of
    the source, so it is ``local-error`` and does not pass.  For a source that is a network
    (a clients subnet), the kernel's choice counts when the network holds it; for a forbidden
    connection, only when it is among the source's addresses the entry forbids (the row's).
    """
    checks: list[FlowCheck] = []
    route = route_lookups()
    for row, probe, why in blocked_probes(plan, source, local, from_addresses, flows, lookups):
        notes = [why, UDP_SILENCE_NOTE] if probe.protocol is Protocol.UDP else [why]
        check = FlowCheck(row=row, probe=probe, expect_blocked=True, notes=notes)
        if probe.source is None:
            chosen = route(probe.address)
            if chosen is not None and within(plan, source, chosen) and _forbids(row, chosen):
                check.probe = replace(probe, source=str(chosen))
            else:
                note = _not_sent(source, probe.address, chosen, _entry_covers(plan, row))
                check.result = PortResult(
                    probe=probe,
                    outcome=Outcome.LOCAL_ERROR,
                    evidence=Evidence(attempts=0, note=note),
                )
        checks.append(check)
    return checks


def _forbids(row: PlannedFlow, chosen: IPAddress) -> bool:
    """Whether a probe from ``chosen`` is one ``row`` forbids: any, for a planned row; for a
    forbidden connection, one from the source's addresses it forbids (the row's)."""
    if row.product != FORBIDDEN:
        return True
    return any(chosen in n for n in row.source_addresses if n.version == chosen.version)


def _entry_covers(plan: Plan, row: PlannedFlow) -> str:
    """Which of the source's addresses ``row``, a forbidden connection from a network the
    source is in, forbids ('' where it forbids all of them)."""
    if row.product != FORBIDDEN or row.source_addresses == plan.host_addresses(row.source):
        return ""
    return f" that {row.key} forbids ({', '.join(network_text(n) for n in row.source_addresses)})"


def _not_sent(source: str, address: str, chosen: IPAddress | None, covers: str = "") -> str:
    whose = f"its kernel would send from {chosen}" if chosen is not None else "it has no route"
    return (
        f"not sent: this machine sends from none of {source}'s addresses{covers} towards "
        f"{address} "
        f"({whose}), so a probe from here would not come from {source} as the firewalls see "
        f"it, and a firewall that blocks it would prove nothing of {source}; run verify on the "
        "host, or name its address with --from-address"
    )


def _check_source(plan: Plan, source: str) -> None:
    """Refuse a source no verification can run on (see :func:`verify`)."""
    if source == ANYWHERE:
        raise VerifyError(
            "'anywhere' stands for any client of the rows that name only their listener; it is "
            "no machine to verify from. Verify from a host of the deployment; to probe those "
            "rows from a client, place 'any' on its host (components: {any: [HOST]})"
        )
    if not plan.hosts[source].managed:
        raise VerifyError(
            f"{source} is a system portplan does not manage (managed: false): no verification "
            "runs there. Verify from a host of the deployment that reaches it, or set "
            f"managed: true on {source} if portplan runs there after all"
        )


def _named_sources(plan: Plan, sources: Sequence[str], timeout: float) -> dict[str, NameLookup]:
    """What the names of the sources known by name only resolve to here: the addresses such
    a source sends from (one that is this machine's), by host."""
    names = {
        s: name for s in sources if (name := plan.hosts[s].dns_name) and plan.hosts[s].by_name_only
    }
    if not names:
        return {}
    found = asyncio.run(resolve_names(names.values(), timeout=max(DNS_TIMEOUT, timeout)))
    return {source: found[name] for source, name in names.items()}


def _check_from(
    plan: Plan,
    sources: Sequence[str],
    chosen: Sequence[str],
    local: set[IPAddress],
    lookups: Mapping[str, NameLookup],
) -> None:
    """Refuse a ``--from-address`` that is not a single address of a source (for a source
    known by name only, an address its name resolves to), or that this machine cannot send
    from, or two of one family."""
    families: dict[int, str] = {}
    for text in chosen:
        try:
            address = ipaddress.ip_address(text)
        except ValueError as exc:
            raise VerifyError(
                f"--from-address {text}: not an IP address; name one the deployment declares "
                "for the host this machine is"
            ) from exc
        owned = {
            ipaddress.ip_address(a)
            for s in sources
            for a in (single_address(n) for n in plan.host_addresses(s))
            if a
        } | {
            ipaddress.ip_address(a) for lookup in lookups.values() for a in named_addresses(lookup)
        }
        if address not in owned:
            raise VerifyError(
                f"--from-address {text} is not an address of {', '.join(sources)}: name one "
                "the deployment declares for the host this machine is (for a host known by "
                "name only, one its name resolves to)"
            )
        if address not in local and not is_local(str(address)):
            raise VerifyError(
                f"--from-address {text}: this machine cannot send from it (it is none of its "
                "addresses)"
            )
        if address.version in families:
            raise VerifyError(
                f"--from-address {families[address.version]} and {text}: one address per "
                "family (IPv4, IPv6)"
            )
        families[address.version] = text

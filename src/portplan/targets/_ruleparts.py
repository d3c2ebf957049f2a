"""Parts of a rule every target writes alike, whatever its syntax.

A family's networks collapsed into the fewest (and whether they are every address of the
family, so a rule needs no address match), the ICMP messages of a family, the refusal of a row
whose end is known by its DNS name only, and the comment lines naming flows and the rows a
ruleset could not place.  The host views (:mod:`.hostview`) and the shared and zone-boundary
terms build on them; :mod:`.hostview` re-exports them for the targets.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Iterator, Mapping

from portplan._errors import TargetError
from portplan._text import one_line
from portplan.model._types import Network, Protocol
from portplan.model.icmp import icmp_text, icmp_types
from portplan.plan import Plan, PlannedFlow

__all__ = [
    "EVERYWHERE",
    "NAME_MAX",
    "NOTE_MAX",
    "collapse",
    "family_icmp",
    "header_name",
    "is_everywhere",
    "loopback_note",
    "name_only_refusal",
    "note_line",
    "note_lines",
    "unreachable_lines",
    "unreachable_note",
]

#: the longest comment line naming one flow and its purpose
NOTE_MAX = 200
#: the most of a deployment's name a ruleset's header shows: ``ipset restore`` reads a line
#: 1023 bytes at a time (``iptables-restore`` 10239) and takes what a longer line holds past
#: that for a line of its own, a command
NAME_MAX = 120
#: every address of a family: a peer that is anywhere (the synthetic host, or 0.0.0.0/0)
EVERYWHERE: Mapping[int, Network] = {
    4: ipaddress.ip_network("0.0.0.0/0"),
    6: ipaddress.ip_network("::/0"),
}


def is_everywhere(networks: tuple[Network, ...], family: int) -> bool:
    """Whether collapsed ``networks`` are every address of ``family`` (a peer from anywhere):
    a rule then needs no address match on that side."""
    return networks == (EVERYWHERE[family],)


def family_icmp(protocol: Protocol, names: tuple[str, ...], family: int) -> tuple[str, ...]:
    """The ICMP messages of ``names`` that exist in ``family``: ``("any",)`` for every type,
    empty when none does (``packet-too-big`` over IPv4); empty for TCP and UDP too."""
    if protocol is not Protocol.ICMP:
        return ()
    kinds = icmp_types(names, family)
    return ("any",) if kinds is None else tuple(kind.value for kind in kinds)


def name_only_refusal(plan: Plan, row: PlannedFlow, host: str, what: str) -> TargetError:
    """The refusal of a row whose end ``host`` is known by its DNS name only, where ``what``
    (a host ruleset, a security group) has to match that end by address."""
    name = plan.hosts[host].dns_name
    return TargetError(
        f"flow {row.key} ({row.source} -> {row.destination}): host {host!r} is known by its DNS "
        f"name only ({name}), and {what} matches addresses, not names: give {host} its "
        "addresses in the deployment ('addresses:')"
    )


def collapse(networks: Iterable[Network], family: int) -> tuple[Network, ...]:
    """The networks of one family (4 or 6), collapsed: the same addresses in fewest networks,
    sorted (what :func:`ipaddress.collapse_addresses` gives, worked out on integers: it
    compares address objects in Python, a second for a few thousand rulesets)."""
    kind = ipaddress.IPv4Network if family == 4 else ipaddress.IPv6Network
    bits = 32 if family == 4 else 128
    spans = sorted(
        (start := int(n.network_address), start | ((1 << (bits - n.prefixlen)) - 1))
        for n in networks
        if isinstance(n, kind)
    )
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple(kind(block) for start, end in merged for block in _blocks(start, end, bits))


def _blocks(start: int, end: int, bits: int) -> Iterator[tuple[int, int]]:
    """The fewest CIDR blocks (address, prefix length) covering ``start``..``end``, in order."""
    while start <= end:
        # the largest block aligned at ``start`` that does not pass ``end``
        size = (start & -start).bit_length() - 1 if start else bits
        while start + (1 << size) - 1 > end:
            size -= 1
        yield start, bits - size
        start += 1 << size


@functools.lru_cache(maxsize=4096)  # the same flows are named in thousands of rulesets
def note_line(flow: str, purpose: str, prefix: str = "") -> str:
    """``# <prefix><flow>: <purpose>``, one comment line of at most :data:`NOTE_MAX`."""
    return f"# {prefix}{flow}: {one_line(purpose)}"[:NOTE_MAX]


def note_lines(flows: Iterable[str], purposes: Iterable[str]) -> list[str]:
    """One comment line per flow naming its purpose, without trailing blanks."""
    return [
        note_line(flow, purpose).rstrip() for flow, purpose in zip(flows, purposes, strict=True)
    ]


def header_name(name: str) -> str:
    """A deployment's name for a ruleset's header comment: on one line, at most
    :data:`NAME_MAX` characters (a longer one cut, ending ``...``)."""
    text = one_line(name)
    return text if len(text) <= NAME_MAX else text[: NAME_MAX - 3] + "..."


def unreachable_note(row: PlannedFlow, family: int) -> str:
    """A row that cannot be placed: this end has no address of ``family`` (4 or 6)."""
    return f"{row.key} ({row.source} -> {row.destination}: IPv{family})"


def unreachable_lines(notes: Iterable[str]) -> list[str]:
    """The comment lines of a ruleset's header naming the rows it could not place."""
    return [f"# not reachable (no address of that family here): {note}" for note in notes]


def loopback_note(row: PlannedFlow) -> str:
    """A loopback row, for targets that need no rule for it: flow, protocol and ports."""
    if row.protocol is Protocol.ICMP:
        return f"{row.key} (ICMP {icmp_text(row.icmp)})"
    return f"{row.key} ({row.protocol.value.upper()} {row.ports})"

"""The digest of a plan: what its rows ask to be proven, in 71 characters.

``portplan verify --format json`` writes it (``plan_digest``), and ``portplan report
--verify`` compares it with the digest of the plan it reports, so that results of another plan
of the same deployment (a host's addresses changed, a flow's ports, a service to identify)
verify none of its rows.

It covers what a probe of a row proves and what proving it takes, row by row: the flow id; the
source and destination hosts with their addresses, DNS name and whether they are clusters;
the protocol, ports and ICMP types; loopback; the application protocol verify identifies.  It
leaves out what no probe depends on (purposes, vendor references, conditions, zones), so that
editing a purpose keeps the results; and it does not depend on the order of the rows (the
order of hosts in the deployment, of flows in a product), so that reordering a file does too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from portplan.model._types import Network, network_text
from portplan.plan._legs import SourceEnd, plan_legs
from portplan.plan._types import FlowFacts, Plan

__all__ = ["plan_digest"]

#: the prime 2**255 - 19: row hashes are worked out modulo it
_PRIME = (1 << 255) - 19
_SEPARATOR = "\x1f"  # between fields: no name, address or id holds it


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()) % _PRIME


def plan_digest(plan: Plan) -> str:
    """``sha256:`` and 64 hex digits, the same for the same rows on every machine and run.

    A row's hash is the product of the hash of its flow leg and destination facts and that of
    its source's (each SHA-256, as a number modulo the prime 2**255 - 19), and the digest is
    the SHA-256 of the row count and the sum of the row hashes: a sum does not depend on the
    rows' order, and a product lets the rows of a leg's destination be summed at once from
    their sources' hashes (850,000 rows are a few thousand such sums).  Worked out once per
    plan.
    """
    found = plan._memo.get("digest")
    if isinstance(found, str):
        return found
    hosts: dict[tuple[str, int], str] = {}  # a host's text, by name and address tuple

    def host(name: str, addresses: Sequence[Network]) -> str:
        key = (name, id(addresses))  # rows share their hosts' address tuples
        text = hosts.get(key)
        if text is None:
            known = plan.hosts.get(name)
            text = hosts[key] = _SEPARATOR.join(
                (
                    name,
                    ",".join(sorted(network_text(n) for n in addresses)),
                    (known.dns_name or "") if known is not None else "",
                    "cluster" if known is not None and known.cluster else "",
                )
            )
        return text

    # by identity: the legs (kept by the plan) hold every source and list of sources
    source_hash: dict[int, int] = {}
    sources_sum: dict[int, int] = {}

    def sources_of(sources: tuple[SourceEnd, ...]) -> int:
        total = sources_sum.get(id(sources))
        if total is None:
            total = 0
            for end in sources:
                one = source_hash.get(id(end))
                if one is None:
                    one = source_hash[id(end)] = _hash(host(end.name, end.addresses))
                total += one
            sources_sum[id(sources)] = total = total % _PRIME
        return total

    total = count = 0
    for leg in plan_legs(plan).legs:
        facts = _facts(leg.facts)
        for end in leg.ends:
            head = _hash(
                _SEPARATOR.join((facts, host(end.destination, end.addresses), str(end.ports)))
            )
            total += head * sources_of(end.sources)
            count += len(end.sources)
    digest = hashlib.sha256(f"{count}:{total % _PRIME:064x}".encode()).hexdigest()
    plan._memo["digest"] = found = f"sha256:{digest}"
    return found


def _facts(facts: FlowFacts) -> str:
    return _SEPARATOR.join(
        (
            facts.key,
            facts.protocol.value,
            ",".join(facts.icmp),
            "loopback" if facts.loopback else "",
            facts.app_protocol or "",
        )
    )

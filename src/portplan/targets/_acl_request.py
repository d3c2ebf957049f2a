"""Aerleon's input for the zone-boundary targets (:mod:`portplan.targets.acl`).

One request per render: a policy per filter file, with one filter per address family, each
holding the file's exact terms and then its final deny (or reject) of everything else; a
network name per host and family, of safe characters only; a service per term's ports; and
comments made safe inside every platform's syntax.  What differs between platforms (the filter
header, the file suffix, how to apply it, ICMP and neighbour discovery) comes from the target,
through :class:`AclSyntax`.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from typing import Any

from portplan._errors import TargetError
from portplan.model._types import Network, Protocol
from portplan.plan import Plan
from portplan.targets._aerleon_run import Request
from portplan.targets.acl_terms import (
    NEIGHBOUR_DISCOVERY,
    TERM_NAME_MAX,
    AclTerm,
    FilterFile,
    digest,
    fit,
)
from portplan.targets.base import DefaultAction

__all__ = ["AclSyntax", "build_request"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_COMMENT_MAX = 300
#: no ``?`` either: typed or pasted at an IOS or Junos prompt, it asks for help instead
_COMMENT_SAFE = re.compile(r"[^A-Za-z0-9 .,:;()_+=@%&#<>!/'-]")
#: ICMP type names where Aerleon's differ from the model's: (family, model name) → Aerleon's
_AERLEON_ICMP = {(4, "destination-unreachable"): "unreachable"}
_TYPOGRAPHY = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": "'", "\u201d": "'", "\u2013": "-", "\u2014": "-"}
)

# -- Aerleon's input ----------------------------------------------------------------------------


def _comment(text: str) -> str:
    """Text safe inside any platform's comment: one line; no double quotes, braces, asterisks
    (so no ``*/``), backslashes or question marks (each made ``_``); typographic quotes and
    dashes made plain."""
    flat = _COMMENT_SAFE.sub("_", " ".join(text.translate(_TYPOGRAPHY).split()))
    if len(flat) > _COMMENT_MAX:
        flat = flat[: _COMMENT_MAX - 3].rsplit(" ", 1)[0] + "..."
    return flat


def _hosts_text(hosts: tuple[tuple[str, tuple[Network, ...]], ...]) -> str:
    names = [h for h, _nets in hosts]
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


class _Tokens:
    """Aerleon network names: one per (host, family), unique, of safe characters only."""

    def __init__(self) -> None:
        self.networks: dict[str, dict[str, list[dict[str, str]]]] = {}
        self._names: dict[tuple[str, int], str] = {}

    def of(self, host: str, family: int, networks: tuple[Network, ...]) -> str:
        name = self._names.get((host, family))
        if name is not None:
            return name
        base = re.sub(r"[^A-Za-z0-9_-]", "_", host)
        if base != host or len(base) > 40 or not base[0].isalnum():
            base = f"h{fit(base, 30)}-{digest(host)}"
        name = f"{base}_v{family}"
        if not _NAME_RE.match(name):
            raise TargetError(f"host {host!r}: no safe address name for it ({name!r})")
        if name in self.networks:
            raise TargetError(f"hosts {host!r} and another would share the address name {name}")
        self._names[host, family] = name
        self.networks[name] = {"values": [{"address": str(n)} for n in networks]}
        return name


class AclSyntax(typing.Protocol):
    """What a zone-boundary target tells the request about its platform."""

    @property
    def name(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def suffix(self) -> str: ...
    @property
    def apply_note(self) -> str: ...
    @property
    def icmp_any_refusal(self) -> str | None: ...
    @property
    def neighbour_discovery(self) -> bool: ...
    def header(self, unit: FilterFile, family: int) -> str:
        """Aerleon's target options of the filter of one file and family."""
        ...


def build_request(
    target: AclSyntax,
    plan: Plan,
    units: Mapping[FilterFile, tuple[AclTerm, ...]],
    default: DefaultAction,
) -> Request:
    """Aerleon's input for ``units`` (the files to write and their terms) on ``target``'s
    platform, each filter ending with ``default`` of everything else."""
    tokens = _Tokens()
    services: dict[str, list[dict[str, str | int]]] = {}
    policies: list[dict[str, Any]] = []
    files: dict[str, FilterFile] = {}
    final = "reject" if default is DefaultAction.REJECT else "deny"
    for index, (unit, terms) in enumerate(units.items(), start=1):
        filters = []
        destinations = ", ".join(b.destination_zone for b in unit.boundaries)
        for family in (4, 6):
            # a family no planned row uses still gets its filter, the deny alone: an
            # interface without a filter of a family passes all of that family
            family_terms = [t for t in terms if t.family == family]
            entries: list[dict[str, Any]] = []
            for term in family_terms:
                if not term.sources or not term.destinations:  # Aerleon: empty means any
                    raise TargetError(f"term {term.name} has no source or no destination")
                if term.icmp == ("any",) and target.icmp_any_refusal is not None:
                    raise TargetError(
                        f"flow {term.flow} allows ICMP of every type, which target "
                        f"{target.name} cannot express exactly: {target.icmp_any_refusal}; "
                        "name the message types in the flow's 'icmp:' list"
                    )
                entries.append(
                    {
                        "name": term.name,
                        "comment": _comment(
                            f"{term.flow} ({_hosts_text(term.sources)} -> "
                            f"{_hosts_text(term.destinations)}; {term.reference}): "
                            f"{term.purpose}"
                        ),
                        "source-address": " ".join(
                            tokens.of(h, family, n) for h, n in term.sources
                        ),
                        "destination-address": " ".join(
                            tokens.of(h, family, n) for h, n in term.destinations
                        ),
                        **_service(term, services),
                        "action": "accept",
                    }
                )
            if family == 6 and target.neighbour_discovery:
                entries.append(_neighbour_discovery(unit))
            entries.append(
                {
                    "name": fit(f"{final}-{unit.stem}-v{family}", TERM_NAME_MAX),
                    "comment": _comment(
                        f"everything else {unit.scope} over IPv{family}: not in the plan"
                    ),
                    "action": final,
                }
            )
            filters.append(
                {
                    "header": {
                        "targets": {target.platform: target.header(unit, family)},
                        "comment": _comment(
                            f"portplan {plan.deployment}: {unit.source_zone} to "
                            f"{destinations}, IPv{family}, "
                            f"{len(family_terms) or 'no'} "
                            f"term{'s' if len(family_terms) != 1 else ''} "
                            "from the flow plan, then "
                            f"{final} everything else. {target.apply_note} "
                            "Generated: do not edit."
                        ),
                    },
                    "terms": entries,
                }
            )
        name = f"f{index:04d}"
        policies.append({"filename": name, "filters": filters})
        files[name + target.suffix] = unit
    return Request(
        platform=target.platform,
        policies=policies,
        definitions={"networks": tokens.networks, "services": services},
        files=files,
    )


def _service(term: AclTerm, services: dict[str, list[dict[str, str | int]]]) -> dict[str, Any]:
    """The term's protocol and what it matches: a service of its ports (added to
    ``services``), or the ICMP types by Aerleon's names (none: every type)."""
    if term.protocol is Protocol.ICMP:
        kinds = (
            []
            if term.icmp == ("any",)
            else [_AERLEON_ICMP.get((term.family, n), n) for n in term.icmp]
        )
        protocol = "icmp" if term.family == 4 else "icmpv6"
        return {"protocol": protocol, **({"icmp-type": " ".join(kinds)} if kinds else {})}
    service = f"{term.name}_ports"
    services[service] = [
        {"port": str(r), "protocol": term.protocol.value} for r in term.ports.ranges
    ]
    return {"protocol": term.protocol.value, "destination-port": service}


def _neighbour_discovery(unit: FilterFile) -> dict[str, Any]:
    """The term that accepts IPv6 neighbour discovery: from and to any address."""
    return {
        "name": fit(f"nd-{unit.stem}-v6", TERM_NAME_MAX),
        "comment": _comment(
            "IPv6 neighbour discovery (solicitations, advertisements): without it, IPv6 does "
            "not work on the interface"
        ),
        "protocol": "icmpv6",
        "icmp-type": " ".join(NEIGHBOUR_DISCOVERY.values()),
        "action": "accept",
    }

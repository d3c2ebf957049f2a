"""Zone-boundary ACLs for network firewalls (Cisco IOS, Junos, PAN-OS), rendered by Aerleon.

A *zone boundary* is an ordered pair (source zone, destination zone) of the plan's rows whose
hosts sit in different zones; rows without zones, or within one zone, do not cross a firewall
and are not filtered here.

Cisco IOS and Junos filter an interface, which takes one filter per family and direction: each
source zone gets one file, ``from-<zone>.<ext>``, with the filters to apply inbound on the
interface facing it, holding the terms of every boundary from that zone (their destination
addresses keep each term to its destination zone).  PAN-OS rules name both zones, so there
each boundary gets its file, ``<source>-to-<destination>.xml``.  A file holds one filter per
address family (IPv4 and IPv6 are never mixed in one filter), each ending with one explicit
deny (or reject) of everything else.

Terms are exact: one term per flow leg, protocol, port set and group of hosts, where a group is
a set of sources that reach every one of a set of destinations in the plan (so the term's
sources x destinations is exactly the rows it stands for).  Addresses of different flows are
never merged, and no address is widened.

Aerleon (a separate package) renders the syntax.  portplan validates everything first (every
address a network of the filter's family, every port 1-65535, protocol tcp or udp, names of
safe characters) and builds Aerleon's input (:mod:`portplan.targets._acl_request`), runs
Aerleon in a separate process with a timeout (see :mod:`portplan.targets._aerleon_run`),
treats any Aerleon log record or warning it does not know as harmless as an error, removes the
repository tags Aerleon writes, and then parses the rendered text back and compares what it
permits with the plan (:mod:`portplan.targets._acl_check`, :mod:`portplan.targets._acl_panos`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import ClassVar

from portplan._errors import TargetError
from portplan.plan import Plan
from portplan.targets import _acl_check
from portplan.targets._acl_panos import check_paloalto
from portplan.targets._acl_request import build_request
from portplan.targets._aerleon_run import Request as _Request
from portplan.targets._aerleon_run import run_aerleon as _run_aerleon
from portplan.targets._aerleon_run import strip_tags as _strip_tags
from portplan.targets.acl_terms import (
    AclTerm,
    Boundary,
    FilterFile,
    Permits,
    boundary_terms,
    expected_permits,
    files_per_boundary,
    files_per_source_zone,
    with_neighbour_discovery,
)
from portplan.targets.base import (
    COMMON_CAPABILITIES,
    Capability,
    RuleOptions,
    Scope,
    Target,
)

__all__ = [
    "AclTarget",
    "AclTerm",
    "Boundary",
    "CiscoTarget",
    "FilterFile",
    "JuniperTarget",
    "PaloAltoTarget",
    "Permits",
    "boundary_terms",
    "expected_permits",
]

#: Seconds Aerleon may take before the worker is killed (``--set timeout=SECONDS``).
DEFAULT_TIMEOUT = 300.0
_MAX_TIMEOUT = 3600.0
#: Settings these targets understand (``RuleOptions.extra``); anything else is an error.
_SETTINGS: Mapping[str, None] = {"timeout": None}


# -- the targets --------------------------------------------------------------------------------


class AclTarget(Target):
    """Base of the Aerleon-rendered zone-boundary targets; subclasses name the platform."""

    scope = Scope.DEPLOYMENT
    capabilities = COMMON_CAPABILITIES
    settings = _SETTINGS  # timeout=SECONDS, checked by _options
    #: Aerleon's name of the platform, and the suffix of the files it writes.
    platform: ClassVar[str]
    suffix: ClassVar[str]
    #: the generator class Aerleon must have used (no plug-in may stand in for it)
    generator: ClassVar[str]
    #: how to apply the file, said in its header
    apply_note: ClassVar[str]
    max_zone_length: ClassVar[int] = 63
    #: the longest filter name the device takes, and whose limit it is (None: no known limit)
    max_filter_name: ClassVar[tuple[int, str] | None] = None
    #: the function of :mod:`portplan.targets._acl_check` that reads the file back
    checker: ClassVar[str]
    #: why the platform cannot allow ICMP of every type exactly (None: it can)
    icmp_any_refusal: ClassVar[str | None] = None
    #: whether the IPv6 filter accepts neighbour discovery before its final deny, which would
    #: drop it, and IPv6 with it, on the interface the filter is applied to
    neighbour_discovery: ClassVar[bool] = False

    # -- what subclasses provide ---------------------------------------------------------------

    def header(self, unit: FilterFile, family: int) -> str:
        """Aerleon's target options of the filter of one file and family."""
        raise NotImplementedError

    def filter_files(
        self, boundaries: Mapping[Boundary, tuple[AclTerm, ...]]
    ) -> dict[FilterFile, tuple[AclTerm, ...]]:
        """The files to write and their terms: one per source zone, with every boundary from
        it, since an interface takes one filter per family and direction (a filter per
        boundary, each ending in its deny of everything, would block the other boundaries of
        the interface it is applied to)."""
        return files_per_source_zone(boundaries)

    def filter_name(self, unit: FilterFile, family: int) -> str:
        return f"portplan-{unit.stem}" + ("-v6" if family == 6 else "")

    def filter_names(self, unit: FilterFile) -> dict[int, str]:
        """The filter name of each family: every file has both."""
        return {f: self.filter_name(unit, f) for f in (4, 6)}

    def check(self, text: str, unit: FilterFile, expected: Permits) -> None:
        """Parse the rendered file back; ``TargetError`` unless it permits exactly ``expected``."""
        check = getattr(_acl_check, self.checker)
        if self.neighbour_discovery:
            expected = with_neighbour_discovery(expected)
        check(text, self.filter_names(unit), expected)

    def finish(self, text: str) -> str:
        """Aerleon's text as the device must read it (checked after this)."""
        return text

    def unknown_setting(self, key: str, extra: Mapping[str, str]) -> str:
        unknown = ", ".join(repr(k) for k in sorted(extra) if k not in self.settings)
        return f"target {self.name} has no setting {unknown} (it knows: {', '.join(self.settings)})"

    # -- rendering -----------------------------------------------------------------------------

    def render(self, plan: Plan, options: RuleOptions) -> dict[str, str]:
        timeout = self._options(options)
        boundaries = boundary_terms(plan)
        if not boundaries:
            raise TargetError(
                f"target {self.name}: no planned flow crosses a zone boundary (give the hosts "
                "a 'zone:'; rows within one zone, or without zones, need no network firewall)"
            )
        for boundary in boundaries:
            for zone in (boundary.source_zone, boundary.destination_zone):
                if len(zone) > self.max_zone_length:
                    raise TargetError(
                        f"target {self.name}: zone {zone!r} is longer than "
                        f"{self.max_zone_length} characters"
                    )
        units = self.filter_files(boundaries)
        self._check_names(units)
        request = self._request(plan, units, options)
        rendered = _run_aerleon(request, timeout, self.generator)
        files: dict[str, str] = {}
        for aerleon_name, unit in request.files.items():
            text = rendered.get(aerleon_name)
            if text is None:
                raise TargetError(f"Aerleon wrote no {aerleon_name} for {unit.stem}")
            text = self.finish(_strip_tags(text))
            self.check(text, unit, expected_permits(units[unit]))
            files[f"{unit.stem}{self.suffix}"] = text
        unexpected = sorted(set(rendered) - set(request.files))
        if unexpected:
            raise TargetError(f"Aerleon wrote files nobody asked for: {', '.join(unexpected)}")
        return files

    def _check_names(self, units: Iterable[FilterFile]) -> None:
        """Two files of one name would overwrite each other, and two filters of one name
        replace each other on the device: the rows of one would have no rule at all."""
        stems: dict[str, FilterFile] = {}
        names: dict[str, FilterFile] = {}
        for unit in units:
            other = stems.setdefault(unit.stem, unit)
            if other != unit:
                raise TargetError(
                    f"target {self.name}: the rules {other.scope} and those {unit.scope} "
                    f"would both be named {unit.stem!r} (their file and filter names); rename "
                    "a zone so that no two read alike ('-to-' inside a zone name)"
                )
            filter_names = self.filter_names(unit).values()
            longest = max(filter_names, key=len)
            if self.max_filter_name is not None and len(longest) > self.max_filter_name[0]:
                limit, device = self.max_filter_name
                raise TargetError(
                    f"target {self.name}: a filter {unit.scope} would be named {longest!r}, "
                    f"{len(longest)} characters, more than the {limit} characters {device} "
                    f"allows; shorten zone {unit.source_zone!r} (to at most "
                    f"{_zone_limit(limit, longest, unit.source_zone)} characters)"
                )
            for name in filter_names:
                other = names.setdefault(name, unit)
                if other != unit:
                    raise TargetError(
                        f"target {self.name}: the filters {other.scope} and those {unit.scope} "
                        f"would both be named {name!r}; rename a zone ('-v6' at the end of a "
                        "zone name)"
                    )

    def _options(self, options: RuleOptions) -> float:
        if options.hosts:
            raise TargetError(
                f"target {self.name} renders the whole deployment, one file per zone "
                "or zone boundary; --host does not apply"
            )
        self.check_options(options)
        text = options.extra.get("timeout")
        if text is None:
            return DEFAULT_TIMEOUT
        try:
            timeout = float(text)
        except ValueError:
            timeout = -1.0
        if not 0 < timeout <= _MAX_TIMEOUT:
            raise TargetError(f"timeout={text!r}: give seconds, more than 0 and at most 3600")
        return timeout

    def _request(
        self, plan: Plan, units: Mapping[FilterFile, tuple[AclTerm, ...]], options: RuleOptions
    ) -> _Request:
        return build_request(self, plan, units, options.default)


#: an IPv6 ACL entry of protocol 58 (only IPv6 ACLs have one: IPv4 ICMP is written ``icmp``)
_ICMPV6_NUMBER = re.compile(r"^( (?:permit|deny) )58 ", re.MULTILINE)


def _zone_limit(limit: int, name: str, zone: str) -> int:
    """The longest zone that keeps ``name`` (which holds ``zone`` once) within ``limit``."""
    return limit - (len(name) - len(zone))


class CiscoTarget(AclTarget):
    """Cisco IOS named extended ACLs (``ip access-list extended`` and ``ipv6 access-list``)."""

    name = "cisco"
    description = (
        "Cisco IOS extended ACLs through Aerleon: one ACL per source zone and family, for the "
        "interface facing the zone, stateless"
    )
    platform = "cisco"
    suffix = ".acl"
    generator = "aerleon.lib.cisco.Cisco"
    checker = "check_cisco"
    neighbour_discovery = True
    apply_note = (
        "Apply inbound on the interface facing the source zone, as its only ACL of this "
        "family. Stateless: replies need the reverse ACL or inspection."
    )

    def header(self, unit: FilterFile, family: int) -> str:
        kind = "extended" if family == 4 else "inet6"
        return f"{self.filter_name(unit, family)} {kind}"

    def finish(self, text: str) -> str:
        """ICMPv6 as the keyword ``icmp``: Aerleon writes its number, 58, but IOS documents an
        ICMP type only after the keyword (``permit icmp any any 135``), so the neighbour
        discovery and planned ICMPv6 lines could be refused or not match as meant."""
        return _ICMPV6_NUMBER.sub(r"\1icmp ", text)


class JuniperTarget(AclTarget):
    """Junos firewall filters (``family inet`` and ``family inet6``)."""

    name = "juniper"
    description = (
        "Junos firewall filters through Aerleon: one filter per source zone and family, for the "
        "interface facing the zone, stateless"
    )
    platform = "juniper"
    suffix = ".jcl"
    generator = "aerleon.lib.juniper.Juniper"
    checker = "check_juniper"
    neighbour_discovery = True
    max_filter_name = (64, "Junos")
    apply_note = (
        "Apply as the input filter of this family on the interface facing the source zone. "
        "Stateless: replies need the reverse filter."
    )

    def header(self, unit: FilterFile, family: int) -> str:
        return f"{self.filter_name(unit, family)} {'inet' if family == 4 else 'inet6'}"


class PaloAltoTarget(AclTarget):
    """PAN-OS security policy rules between two zones, with address and service objects."""

    name = "paloalto"
    description = (
        "PAN-OS security rules through Aerleon: one policy per zone boundary, address "
        "objects, stateful"
    )
    capabilities = COMMON_CAPABILITIES | {Capability.ADDRESS_SETS, Capability.STATEFUL}
    platform = "paloalto"
    suffix = ".xml"
    generator = "aerleon.lib.paloaltofw.PaloAltoFW"
    apply_note = (
        "Merge into the candidate configuration with load config partial, never load it whole "
        "(it would replace the configuration), and review before commit."
    )
    max_zone_length = 31  # PAN-OS
    icmp_any_refusal = (
        "PAN-OS tells ICMP apart by App-ID, and the application 'icmp' Aerleon writes for every "
        "type leaves out what App-ID names otherwise (ping, traceroute)"
    )

    def filter_files(
        self, boundaries: Mapping[Boundary, tuple[AclTerm, ...]]
    ) -> dict[FilterFile, tuple[AclTerm, ...]]:
        """One file per boundary: every rule, the deny of each family too, names both zones,
        so the rules of one boundary leave the others' traffic alone."""
        return files_per_boundary(boundaries)

    def header(self, unit: FilterFile, family: int) -> str:
        return (
            f"from-zone {unit.source_zone} to-zone {unit.destination_zone} "
            f"{'inet' if family == 4 else 'inet6'}"
        )

    def check(self, text: str, unit: FilterFile, expected: Permits) -> None:
        if unit.destination_zone is None:
            raise TargetError(f"PAN-OS rules name both zones, not only {unit.source_zone}")
        check_paloalto(text, unit.source_zone, unit.destination_zone, expected)

"""Zone-boundary ACL targets (cisco, juniper, paloalto) rendered through Aerleon.

The central test parses the rendered Cisco ACLs back with a parser of its own (independent of
portplan's runtime check) and proves that the set of (source network, destination network,
protocol, port range) the ACL of the interface facing a source zone permits is exactly the
plan's rows from that zone across every zone boundary.
The others check the runtime guards: portplan's validation before Aerleon, Aerleon's warnings
as errors, the worker process and its timeout, and the read-back that refuses tampered output.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import examples
from portplan._errors import TargetError
from portplan.model._types import Network
from portplan.model.ports import PortRange, PortSet
from portplan.plan import Plan
from portplan.targets import DefaultAction, RuleOptions
from portplan.targets._acl_check import check_cisco, check_juniper
from portplan.targets._acl_panos import check_paloalto
from portplan.targets.acl import (
    AclTarget,
    Boundary,
    CiscoTarget,
    FilterFile,
    JuniperTarget,
    PaloAltoTarget,
    _Request,
    _run_aerleon,
    boundary_terms,
    expected_permits,
)
from portplan.targets.acl_terms import with_neighbour_discovery
from targetread import canonical, readers, span

TARGETS: dict[str, type[AclTarget]] = {
    "cisco": CiscoTarget,
    "juniper": JuniperTarget,
    "paloalto": PaloAltoTarget,
}
SUFFIX = {"cisco": ".acl", "juniper": ".jcl", "paloalto": ".xml"}

# -- a dual-stack deployment, so that IPv6 filters and family splits are exercised --------------


def dual_stack_data() -> dict[str, Any]:
    data = examples.example_data("shopping-contoso")
    hosts = data["hosts"]
    hosts["shop01"]["addresses"] = ["192.0.2.10", "2001:db8:10::10"]
    hosts["clients"]["addresses"] = ["198.51.100.0/24", "2001:db8:c::/64"]
    hosts["admin-pc"]["addresses"] = ["2001:db8:ad::5"]  # IPv6 only
    hosts["admin-pc"]["zone"] = "admins"
    hosts["mail01"]["zone"] = "dmz"
    del hosts["sql01"]["zone"]  # no zone: its rows cross no firewall
    return data


@pytest.fixture(scope="module")
def dual_stack(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return examples.plan_from_data(dual_stack_data(), tmp_path_factory.mktemp("acl"), "dual-stack")


@pytest.fixture(scope="module")
def plans(dual_stack: Plan) -> dict[str, Plan]:
    return {
        "shopping-contoso": examples.example_plan("shopping-contoso"),
        "smart-id-nexus": examples.example_plan("smart-id-nexus"),
        "dual-stack": dual_stack,
    }


# -- the plan side, computed straight from the rows --------------------------------------------

Key = tuple[Network, Network, str]


def collapse(networks: tuple[Network, ...], family: int) -> list[Network]:
    same = [n for n in networks if n.version == family]
    return list(ipaddress.collapse_addresses(same))  # type: ignore[arg-type]


def plan_crossing(plan: Plan) -> dict[tuple[str, int], dict[Key, PortSet]]:
    """(source zone, family) → (src, dst, protocol) → ports, from the rows that cross from the
    zone to another: what the interface facing the source zone must let through."""
    out: dict[tuple[str, int], dict[Key, PortSet]] = {}
    for row in plan.rows:
        if not row.source_zone or not row.destination_zone:
            continue
        if row.source_zone == row.destination_zone:
            continue
        for family in (4, 6):
            for src in collapse(row.source_addresses, family):
                for dst in collapse(row.destination_addresses, family):
                    side = out.setdefault((row.source_zone, family), {})
                    key = (src, dst, row.protocol.value)
                    side[key] = side[key] | row.ports if key in side else row.ports
    return out


def as_set(permits: dict[Key, PortSet]) -> set[tuple[Network, Network, str, int, int]]:
    return {
        (src, dst, proto, r.start, r.end)
        for (src, dst, proto), ports in permits.items()
        for r in ports.ranges
    }


# -- an independent reading of Cisco IOS ACLs ---------------------------------------------------

ACL_HEAD = re.compile(r"^(ip access-list extended|ipv6 access-list) (\S+)$")


def read_address(words: list[str], family: int) -> tuple[Network, list[str]]:
    if words[0] == "any":
        return ipaddress.ip_network("0.0.0.0/0" if family == 4 else "::/0"), words[1:]
    if words[0] == "host":
        return ipaddress.ip_network(words[1]), words[2:]
    if family == 6:
        return ipaddress.ip_network(words[0]), words[1:]
    wildcard = int(ipaddress.IPv4Address(words[1]))
    ones = bin(wildcard).count("1")
    assert wildcard == (1 << ones) - 1, f"non-contiguous wildcard {words[1]}"
    return ipaddress.ip_network(f"{words[0]}/{32 - ones}"), words[2:]


def read_cisco(text: str) -> dict[str, tuple[int, dict[Key, PortSet]]]:
    """ACL name → (family, what its permit lines allow); asserts the ACL's shape."""
    acls: dict[str, tuple[int, dict[Key, PortSet]]] = {}
    name: str | None = None
    family = 4
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        head = ACL_HEAD.match(line)
        if head:
            name, family, lines = head.group(2), 4 if head.group(1).startswith("ip ") else 6, []
        elif line == "exit":
            assert name is not None
            assert lines[-1] == ("deny ip any any" if family == 4 else "deny ipv6 any any")
            permits: dict[Key, PortSet] = {}
            if family == 6:  # IPv6 neighbour discovery comes first, on every interface
                assert lines[-3:-1] == ["permit icmp any any 135", "permit icmp any any 136"]
                lines = [*lines[:-3], lines[-1]]
            for permit in lines[:-1]:
                words = permit.split()
                assert words[0] == "permit" and words[1] in ("tcp", "udp"), permit
                src, rest = read_address(words[2:], family)
                dst, rest = read_address(rest, family)
                if rest[0] == "eq":
                    assert len(rest) == 2, permit
                    ports = PortSet.of([PortRange.single(int(rest[1]))])
                else:
                    assert rest[0] == "range" and len(rest) == 3, permit
                    ports = PortSet.of([PortRange(start=int(rest[1]), end=int(rest[2]))])
                key = (src, dst, words[1])
                permits[key] = permits[key] | ports if key in permits else ports
            acls[name] = (family, permits)
            name = None
        elif name is not None and line and not line.startswith("remark"):
            lines.append(line)
        elif name is None and line:
            assert line.startswith(("no ip access-list", "no ipv6 access-list", "!")), line
    assert name is None
    return acls


@pytest.mark.parametrize("deployment", ["shopping-contoso", "smart-id-nexus", "dual-stack"])
def test_cisco_acls_permit_exactly_the_rows_from_each_source_zone(
    plans: dict[str, Plan], deployment: str
) -> None:
    plan = plans[deployment]
    files = CiscoTarget().render(plan, RuleOptions())
    crossing = plan_crossing(plan)
    rendered: dict[tuple[str, int], dict[Key, PortSet]] = {}
    for file_name, text in files.items():
        assert file_name.startswith("from-"), file_name
        zone = file_name.removeprefix("from-").removesuffix(".acl")
        for acl, (family, permits) in read_cisco(text).items():
            suffix = "-v6" if family == 6 else ""
            assert acl == f"portplan-from-{zone}{suffix}"
            assert (zone, family) not in rendered, "two ACLs for one interface and family"
            rendered[zone, family] = permits
    # every source zone has an ACL of each family: one no planned row uses denies all of it
    # (an interface without an ACL of a family passes all of that family)
    zones = {key[0] for key in crossing}
    assert rendered.keys() == {(zone, family) for zone in zones for family in (4, 6)}
    for interface, permits in rendered.items():
        assert as_set(permits) == as_set(crossing.get(interface, {})), interface


@pytest.mark.parametrize("target", ["cisco", "juniper"])
def test_the_filter_on_the_admin_interface_passes_every_boundary_from_admin(
    plans: dict[str, Plan], target: str
) -> None:
    """smart-id-nexus's admin zone reaches both dmz and internal.  An interface takes one
    filter per family and direction, and the docs say to apply the filters inbound on the
    interface facing the source zone.  With a filter per boundary, each ending in its deny of
    everything, whichever one went on the admin interface blocked the other boundary's
    rows: following the docs was an outage.  Now the admin interface's one filter of each
    family passes the rows to both zones (first match, read back independently)."""
    plan = plans["smart-id-nexus"]
    files = TARGETS[target]().render(plan, RuleOptions())
    crossing = [
        r
        for r in plan.rows
        if r.source_zone and r.destination_zone and r.source_zone != r.destination_zone
    ]
    assert {r.destination_zone for r in crossing if r.source_zone == "admin"} == {
        "dmz",
        "internal",
    }
    # exactly one file, so one filter per family, for the interface facing each source zone
    suffix = SUFFIX[target]
    assert sorted(files) == sorted({f"from-{r.source_zone}{suffix}" for r in crossing})
    allowed = readers()[target]("admin", files[f"from-admin{suffix}"])
    reached: set[str] = set()
    for row in crossing:
        if row.source_zone != "admin":
            continue
        for family in (4, 6):
            for src in collapse(row.source_addresses, family):
                for dst in collapse(row.destination_addresses, family):
                    for r in row.ports.ranges:
                        packets = (span(src), span(dst), (r.start, r.end))
                        boxes = allowed.get(("admin", family, row.protocol.value), [])
                        # the row's packets add nothing to what the filter allows
                        assert canonical([*boxes, packets]) == canonical(boxes), row.key
                        reached.add(str(row.destination_zone))
    assert reached == {"dmz", "internal"}


def test_the_dual_stack_plan_has_ipv6_filters_and_family_splits(dual_stack: Plan) -> None:
    families = {
        (b.stem, t.family) for b, terms in boundary_terms(dual_stack).items() for t in terms
    }
    assert ("admins-to-servers", 6) in families  # admin-pc is IPv6 only
    assert ("admins-to-servers", 4) not in families
    assert ("clients-to-servers", 4) in families
    assert ("clients-to-servers", 6) in families
    assert not any("sql" in s for s, _f in families)  # sql01 has no zone


# -- term building ------------------------------------------------------------------------------


def test_terms_are_exact_groups_of_one_flow(plans: dict[str, Plan]) -> None:
    for plan in plans.values():
        rows = {
            (r.key, r.source, r.destination, r.protocol, r.ports)
            for r in plan.rows
            if r.source_zone and r.destination_zone and r.source_zone != r.destination_zone
        }
        for terms in boundary_terms(plan).values():
            for term in terms:
                assert term.sources and term.destinations
                for src, _ in term.sources:
                    for dst, _ in term.destinations:  # every pair is a row of this flow
                        assert (term.flow, src, dst, term.protocol, term.ports) in rows
                for _h, nets in (*term.sources, *term.destinations):
                    assert nets and all(n.version == term.family for n in nets)


def test_term_names_are_unique_across_the_deployment_and_short(plans: dict[str, Plan]) -> None:
    for plan in plans.values():
        names = [t.name for terms in boundary_terms(plan).values() for t in terms]
        assert len(names) == len(set(names))
        assert all(len(n) <= 51 and re.fullmatch(r"[a-z0-9][a-z0-9-]*", n) for n in names)


def test_rows_within_a_zone_or_without_zones_are_left_out(tmp_path: Path) -> None:
    data = examples.example_data("shopping-contoso")
    for host in data["hosts"].values():
        host["zone"] = "flat"
    plan = examples.plan_from_data(data, tmp_path)
    assert boundary_terms(plan) == {}
    with pytest.raises(TargetError, match="no planned flow crosses a zone boundary"):
        CiscoTarget().render(plan, RuleOptions())


# -- validation before Aerleon ------------------------------------------------------------------


def tampered(plan: Plan, **changes: Any) -> Plan:
    """The plan with its first crossing row changed (facts fields or row fields)."""
    rows = list(plan.rows)
    index = next(
        i
        for i, r in enumerate(rows)
        if r.source_zone and r.destination_zone and r.source_zone != r.destination_zone
    )
    row = rows[index]
    fact_fields = {f.name for f in dataclasses.fields(row.facts)}
    facts = dataclasses.replace(row.facts, **{k: v for k, v in changes.items() if k in fact_fields})
    rows[index] = dataclasses.replace(
        row, facts=facts, **{k: v for k, v in changes.items() if k not in fact_fields}
    )
    return dataclasses.replace(plan, rows=tuple(rows))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"protocol": "sctp"}, "is not tcp, udp or icmp"),
        ({"ports": PortSet.model_construct(ranges=())}, "no ports"),
        (
            {
                "ports": PortSet.model_construct(
                    ranges=(PortRange.model_construct(start=0, end=80),)
                )
            },
            "outside 1-65535",
        ),
        (
            {
                "ports": PortSet.model_construct(
                    ranges=(PortRange.model_construct(start=1, end=70000),)
                )
            },
            "outside 1-65535",
        ),
        ({"source_addresses": ("192.0.2.1",)}, "not an IP network"),
        ({"source_zone": "Not A Zone"}, "not a lower-case identifier"),
    ],
)
def test_portplan_validates_before_aerleon_sees_anything(
    changes: dict[str, Any], message: str
) -> None:
    plan = tampered(examples.example_plan("shopping-contoso"), **changes)
    with pytest.raises(TargetError, match=message):
        boundary_terms(plan)


def test_options_that_do_not_apply_are_refused() -> None:
    plan = examples.example_plan("shopping-contoso")
    with pytest.raises(TargetError, match="--host does not apply"):
        CiscoTarget().render(plan, RuleOptions(hosts=("shop01",)))
    with pytest.raises(TargetError, match="no setting 'loopback'"):
        CiscoTarget().render(plan, RuleOptions(extra={"loopback": "all"}))
    with pytest.raises(TargetError, match="timeout="):
        CiscoTarget().render(plan, RuleOptions(extra={"timeout": "soon"}))


def test_paloalto_refuses_zone_names_longer_than_pan_os_allows(tmp_path: Path) -> None:
    data = examples.example_data("shopping-contoso")
    data["hosts"]["clients"]["zone"] = "clients-" + "x" * 30
    plan = examples.plan_from_data(data, tmp_path)
    with pytest.raises(TargetError, match="longer than 31"):
        PaloAltoTarget().render(plan, RuleOptions())


def test_juniper_refuses_filter_names_longer_than_junos_allows(tmp_path: Path) -> None:
    """Junos takes filter names of at most 64 characters: a zone of 60 gave
    portplan-from-<zone>-v6, 77 characters, which the device refused on commit."""
    data = examples.example_data("shopping-contoso")
    data["hosts"]["clients"]["zone"] = "c" * 48  # portplan-from-ccc...-v6: 65 characters
    plan = examples.plan_from_data(data, tmp_path)
    with pytest.raises(TargetError, match=r"64 characters Junos allows; .* at most 47 characters"):
        JuniperTarget().render(plan, RuleOptions())
    data["hosts"]["clients"]["zone"] = "c" * 47  # 64 characters: accepted
    plan = examples.plan_from_data(data, tmp_path)
    files = JuniperTarget().render(plan, RuleOptions())
    names = re.findall(r"filter (\S+) \{", "".join(files.values()))
    assert names and max(len(n) for n in names) == 64


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_two_boundaries_that_read_alike_are_refused(target: str, tmp_path: Path) -> None:
    """Zones x-to-y -> z and x -> y-to-z are both boundary 'x-to-y-to-z': one PAN-OS file.
    The second boundary's file replaced the first's, so its rows had no rule at all.  Cisco
    and Junos files are named after the source zone alone, which no two zones share."""
    data = examples.example_data("shopping-contoso")
    data["hosts"]["clients"]["zone"] = "x-to-y"  # clients -> shop01
    data["hosts"]["shop01"]["zone"] = "z"
    data["hosts"]["admin-pc"]["zone"] = "x"  # admin-pc -> dc01
    data["hosts"]["dc01"]["zone"] = "y-to-z"
    plan = examples.plan_from_data(data, tmp_path)
    stems = [boundary.stem for boundary in boundary_terms(plan)]
    assert stems.count("x-to-y-to-z") == 2
    if target == "paloalto":
        with pytest.raises(TargetError, match="would both be named 'x-to-y-to-z'"):
            TARGETS[target]().render(plan, RuleOptions())
    else:
        files = TARGETS[target]().render(plan, RuleOptions())
        assert {f"from-x-to-y{SUFFIX[target]}", f"from-x{SUFFIX[target]}"} <= set(files)


@pytest.mark.parametrize("target", ["cisco", "juniper"])
def test_two_filters_of_one_name_are_refused(target: str, tmp_path: Path) -> None:
    """Zones x and x-v6 both send: x's IPv6 filter and x-v6's IPv4 filter would both be
    portplan-from-x-v6, and on a device the one loaded last replaced the other."""
    data = examples.example_data("shopping-contoso")
    data["hosts"]["clients"]["zone"] = "x"
    data["hosts"]["admin-pc"]["zone"] = "x-v6"
    plan = examples.plan_from_data(data, tmp_path)
    with pytest.raises(TargetError, match="would both be named 'portplan-from-x-v6'"):
        TARGETS[target]().render(plan, RuleOptions())


@pytest.mark.parametrize(
    ("target", "filter_head"),
    [
        ("cisco", "ipv6 access-list portplan-from-clients-v6"),
        ("juniper", "replace: filter portplan-from-clients-v6 {"),
        ("paloalto", '<entry name="deny-clients-to-servers-v6">'),
    ],
)
def test_a_family_no_row_uses_is_denied_not_left_unfiltered(target: str, filter_head: str) -> None:
    """Contoso's clients reach the servers over IPv4 only, and dc01 and dc02 have IPv6
    addresses.  Without an IPv6 filter the clients' interface passed every IPv6 packet from
    the clients to the servers; now the IPv6 filter holds the final deny alone."""
    plan = examples.example_plan("shopping-contoso")
    (terms,) = [t for b, t in boundary_terms(plan).items() if b.stem == "clients-to-servers"]
    assert {term.family for term in terms} == {4}
    stem = "clients-to-servers" if target == "paloalto" else "from-clients"
    text = TARGETS[target]().render(plan, RuleOptions())[f"{stem}{SUFFIX[target]}"]
    assert filter_head in text
    after = text.rsplit(filter_head, 1)[1]
    if target == "cisco":  # neighbour discovery, then the deny
        lines = [x for x in after.split("\nexit", 1)[0].splitlines() if x and "remark" not in x]
        assert lines == [
            " permit icmp any any 135",
            " permit icmp any any 136",
            " deny ipv6 any any",
        ]
    elif target == "juniper":
        assert "then discard;" in after and after.count("accept") == 1


@pytest.mark.parametrize(
    ("target", "neighbour_discovery", "deny"),
    [
        ("cisco", " permit icmp any any 135\n permit icmp any any 136\n", " deny ipv6 any any"),
        ("juniper", "next-header icmp6;\n                    icmp-type [ 135 136 ];", "discard;"),
    ],
)
def test_ipv6_filters_accept_neighbour_discovery_before_their_deny(
    dual_stack: Plan, target: str, neighbour_discovery: str, deny: str
) -> None:
    """An IPv6 ACL of Cisco IOS permits neighbour solicitations and advertisements
    implicitly, unless an explicit deny comes first: with the final deny alone, the interface
    dropped them, and no IPv6 flow of the plan could cross it.  Junos filters the same."""
    files = TARGETS[target]().render(dual_stack, RuleOptions())
    for name, text in files.items():
        ipv6 = text.rsplit("portplan-" + name.rsplit(".", 1)[0] + "-v6", 1)[1]
        assert ipv6.count(neighbour_discovery) == 1, name
        assert ipv6.index(neighbour_discovery) < ipv6.index(deny), name
    # PAN-OS does not apply its security policy to neighbour discovery
    assert not PaloAltoTarget.neighbour_discovery


def test_comments_cannot_break_out_of_the_platform_syntax() -> None:
    plan = tampered(
        examples.example_plan("shopping-contoso"),
        purpose='evil */ }\n permit ip any any\n"quoted" \u2019ok\u2019',
    )
    for target in TARGETS.values():
        files = target().render(plan, RuleOptions())  # the read-back check passes
        text = "".join(files.values())
        assert "\n permit ip any any" not in text
        assert "evil" in text and "'ok'" in text
    juniper = "".join(JuniperTarget().render(plan, RuleOptions()).values())
    # the only comment closers are Aerleon's own, alone on their line
    assert all(line.strip() == "*/" for line in juniper.splitlines() if "*/" in line)


def test_comments_hold_no_question_mark_that_a_prompt_reads_as_help() -> None:
    """Pasted at an IOS (or Junos) prompt, a ``?`` anywhere in a line, a remark too, shows
    the help and is dropped: a purpose ``Why? "x"`` gave ``remark ... Why? ?x?``. Every
    character a comment cannot carry is now ``_``, and ``?`` is one of them."""
    plan = tampered(examples.example_plan("shopping-contoso"), purpose='Why? "x"')
    for name, target in TARGETS.items():
        text = "".join(target().render(plan, RuleOptions()).values())
        assert "Why_ _x_" in text, name
        assert "Why?" not in text, name


# -- Aerleon in its own process, its warnings as errors -----------------------------------------


def small_request(terms: list[dict[str, Any]]) -> _Request:
    return _Request(
        platform="cisco",
        policies=[
            {
                "filename": "b0001",
                "filters": [{"header": {"targets": {"cisco": "t extended"}}, "terms": terms}],
            }
        ],
        definitions={
            "networks": {"A": {"values": [{"address": "192.0.2.1/32"}]}},
            "services": {"S": [{"port": "443", "protocol": "tcp"}]},
        },
        files={"b0001.acl": FilterFile("a", None, (Boundary("a", "b"),))},
    )


ACCEPT = {
    "name": "t1",
    "source-address": "A",
    "destination-address": "A",
    "protocol": "tcp",
    "destination-port": "S",
    "action": "accept",
}


def test_aerleon_runs_in_a_worker_and_answers() -> None:
    files = _run_aerleon(small_request([ACCEPT]), 60, "aerleon.lib.cisco.Cisco")
    assert "permit tcp host 192.0.2.1 host 192.0.2.1 eq 443" in files["b0001.acl"]
    assert "aerleon" not in sys.modules and "absl" not in sys.modules


@pytest.mark.parametrize(
    ("term", "message"),
    [
        # a service without the term's protocol: Aerleon warns and matches it anyway
        ({**ACCEPT, "protocol": ["tcp", "udp"]}, "not defined with protocol udp"),
        # an expired term is dropped with a warning
        ({**ACCEPT, "expiration": "2001-01-01"}, "expired"),
        # an unknown keyword is only a warning to Aerleon
        ({**ACCEPT, "colour": "blue"}, "Unexpected term keyword"),
    ],
)
def test_any_aerleon_warning_is_an_error(term: dict[str, Any], message: str) -> None:
    with pytest.raises(TargetError, match=f"not trusted.*{message}"):
        _run_aerleon(small_request([term]), 60, "aerleon.lib.cisco.Cisco")


def test_an_aerleon_error_is_a_target_error() -> None:
    with pytest.raises(TargetError, match="Aerleon refused the policy"):
        _run_aerleon(small_request([{**ACCEPT, "source-address": "NOPE"}]), 60, "x")


def test_a_worker_that_takes_too_long_is_stopped() -> None:
    with pytest.raises(TargetError, match=r"longer than 0\.01 s"):
        _run_aerleon(small_request([ACCEPT]), 0.01, "aerleon.lib.cisco.Cisco")


def test_a_generator_other_than_aerleons_own_is_refused() -> None:
    with pytest.raises(TargetError, match=r"not aerleon\.lib\.juniper\.Juniper"):
        _run_aerleon(small_request([ACCEPT]), 60, "aerleon.lib.juniper.Juniper")


def test_importing_the_targets_does_not_import_aerleon() -> None:
    code = (
        "import sys, portplan.targets.acl, portplan.targets._aerleon_worker;"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('aerleon', 'absl'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json;" + code], capture_output=True, check=True, text=True
    )
    assert json.loads(out.stdout) == []


# -- the read-back check refuses tampered output ------------------------------------------------


def rendered(target: str, plan: Plan) -> tuple[str, FilterFile, Any]:
    files = TARGETS[target]().render(plan, RuleOptions())
    units = TARGETS[target]().filter_files(boundary_terms(plan))
    unit = next(u for u in units if f"{u.stem}{TARGETS[target].suffix}" in files)
    text = files[f"{unit.stem}{TARGETS[target].suffix}"]
    expected = expected_permits(units[unit])
    if TARGETS[target].neighbour_discovery:
        expected = with_neighbour_discovery(expected)
    return text, unit, expected


CISCO_TAMPERING = [
    ("host 192.0.2.10 eq 8443", "any eq 8443"),  # wider destination
    ("eq 8443", "range 8443 8444"),  # wider ports
    ("198.51.100.0 0.0.0.255", "198.51.100.0 0.0.1.255"),  # wider source
    ("198.51.100.0 0.0.0.255", "198.51.0.0 255.255.255.255"),  # a netmask where a wildcard goes
    (" deny ip any any", " deny ip any any\n permit ip any any"),  # after the final deny
    (" deny ip any any", " permit ip any any\n deny ip any any"),  # a line it cannot read
    (" deny ip any any\n", ""),  # no final deny
    ("eq 8443", "eq 8080"),  # narrower/different: still not the plan
    (" permit icmp any any 136\n", ""),  # no neighbour advertisements
    (" permit icmp any any 135", " permit icmp any any"),  # every ICMPv6 type
    (" permit icmp any any 135", " permit 58 any any 135"),  # a number IOS does not match
]


@pytest.mark.parametrize(("old", "new"), CISCO_TAMPERING)
def test_the_cisco_check_refuses_anything_but_the_plan(
    plans: dict[str, Plan], old: str, new: str
) -> None:
    text, unit, expected = rendered("cisco", plans["shopping-contoso"])
    names = CiscoTarget().filter_names(unit)
    check_cisco(text, names, expected)
    assert old in text
    with pytest.raises(TargetError):
        check_cisco(text.replace(old, new, 1), names, expected)


JUNIPER_TAMPERING = [
    ("192.0.2.10/32;", "192.0.2.0/24;"),
    ("destination-port 8443;", ""),
    ("protocol tcp;", "protocol udp;"),
    ("then accept;", "then { accept; count x; }"),
    ("discard;", "accept;"),
    ("198.51.100.0/24;", "198.51.100.0/24;\n 0.0.0.0/0;"),
    ("icmp-type [ 135 136 ];", "icmp-type 135;"),  # no neighbour advertisements
    ("destination-address {\n                        192.0.2.10/32;\n                    }", ""),
]


@pytest.mark.parametrize(("old", "new"), JUNIPER_TAMPERING)
def test_the_juniper_check_refuses_anything_but_the_plan(
    plans: dict[str, Plan], old: str, new: str
) -> None:
    text, unit, expected = rendered("juniper", plans["shopping-contoso"])
    names = JuniperTarget().filter_names(unit)
    check_juniper(text, names, expected)
    assert old in text
    with pytest.raises(TargetError):
        check_juniper(text.replace(old, new, 1), names, expected)


PALOALTO_TAMPERING = [
    ("<ip-netmask>192.0.2.10/32</ip-netmask>", "<ip-netmask>192.0.2.0/24</ip-netmask>"),
    ("<port>8443</port>", "<port>1-65535</port>"),
    ("<member>clients_v4</member>\n                  </source>", "<member>any</member></source>"),
    ("<action>deny</action>", "<action>allow</action>"),
    ("<member>servers</member>", "<member>other</member>"),
    ("<action>allow</action>", "<action>allow</action><negate-source>yes</negate-source>"),
]


@pytest.mark.parametrize(("old", "new"), PALOALTO_TAMPERING)
def test_the_paloalto_check_refuses_anything_but_the_plan(
    plans: dict[str, Plan], old: str, new: str
) -> None:
    text, unit, expected = rendered("paloalto", plans["shopping-contoso"])
    assert unit.destination_zone is not None
    check_paloalto(text, unit.source_zone, unit.destination_zone, expected)
    assert old in text
    with pytest.raises(TargetError):
        check_paloalto(text.replace(old, new, 1), unit.source_zone, unit.destination_zone, expected)


# -- every target on the dual-stack plan; default action ----------------------------------------


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_target_renders_the_dual_stack_plan_and_checks_it(
    dual_stack: Plan, target: str
) -> None:
    files = TARGETS[target]().render(dual_stack, RuleOptions())
    suffix = TARGETS[target].suffix
    boundaries = sorted(boundary_terms(dual_stack))
    if target == "paloalto":
        assert list(files) == [f"{b.stem}{suffix}" for b in boundaries]
    else:  # one per source zone, in order
        assert list(files) == [
            f"from-{z}{suffix}" for z in dict.fromkeys(b.source_zone for b in boundaries)
        ]
    text = "".join(files.values())
    assert "$Id" not in text and "$Date" not in text and "$Revision" not in text
    assert "2001:db8:ad::5" in text and "2001:db8:10::10" in text


@pytest.mark.parametrize(
    ("target", "drop", "reject"),
    [
        ("cisco", "deny ip any any", "deny ip any any"),
        ("juniper", "discard;", "reject;"),
        ("paloalto", "<action>deny</action>", "<action>reset-client</action>"),
    ],
)
def test_the_default_action_ends_every_filter(target: str, drop: str, reject: str) -> None:
    plan = examples.example_plan("smart-id-nexus")
    dropped = TARGETS[target]().render(plan, RuleOptions())
    rejected = TARGETS[target]().render(plan, RuleOptions(default=DefaultAction.REJECT))
    assert dropped.keys() == rejected.keys()
    for name in dropped:
        assert drop in dropped[name]
        assert reject in rejected[name]


def test_the_aerleon_worker_imports_nothing_from_the_working_folder(tmp_path: Path) -> None:
    # run from a folder others can write to (/tmp, a shared repository), the worker must not
    # take a package found there for its own: it ran `python -m` there, working folder first
    planted = tmp_path / "portplan"
    planted.mkdir()
    imported = tmp_path / "imported"
    (planted / "__init__.py").write_text(f"open({str(imported)!r}, 'w').close()\n")
    out = tmp_path / "acls"
    result = subprocess.run(
        # (-P: this portplan itself does not look in the working folder either)
        [sys.executable, "-P", "-m", "portplan", "rules",
         str(examples.EXAMPLES / "smart-id-nexus.yaml"),
         "-t", "cisco", "-o", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not imported.exists()
    assert any(out.iterdir())

"""The lockout guard of `portplan apply` asks the rules the host will really have: the
session's own client and server address, and management access that can be rendered."""

from __future__ import annotations

from pathlib import Path

import pytest

import examples
from portplan._errors import PortplanError
from portplan.plan import MANAGEMENT
from portplan.targets import RuleOptions, get_target
from portplan.targets.apply import lockout_problems

SESSION = "203.0.113.5 50000 192.0.2.40 22"  #: from the admin network to da01's address


def test_a_session_the_management_rule_accepts_is_kept() -> None:
    plan = examples.example_plan("smart-id-nexus")
    assert lockout_problems(plan, "da01", SESSION) == []


def test_a_session_to_another_address_than_the_hosts_is_cut() -> None:
    plan = examples.example_plan("smart-id-nexus")
    # the same client and port, but to an address da01's ruleset does not accept on
    problems = lockout_problems(plan, "da01", "203.0.113.5 50000 198.51.100.99 22")
    assert [p.forcible for p in problems] == [False]
    assert "to 198.51.100.99 port 22 is not accepted by da01's new ruleset" in problems[0].text


def test_a_session_from_outside_the_admin_network_is_cut() -> None:
    plan = examples.example_plan("smart-id-nexus")
    problems = lockout_problems(plan, "da01", "192.0.2.200 50000 192.0.2.40 22")
    assert [p.forcible for p in problems] == [False]


def test_an_ipv4_mapped_client_is_the_ipv4_client() -> None:
    plan = examples.example_plan("smart-id-nexus")
    assert lockout_problems(plan, "da01", "::ffff:203.0.113.5 50000 ::ffff:192.0.2.40 22") == []


def test_management_access_that_cannot_be_rendered_is_no_access(tmp_path: Path) -> None:
    data = examples.example_data("smart-id-nexus")
    data["hosts"]["admin-net"]["addresses"] = ["2001:db8:ad::/64"]  # IPv6 only; da01 is IPv4
    plan = examples.plan_from_data(data, tmp_path)
    assert any(r.key == "management/ssh" and r.destination == "da01" for r in plan.rows)
    problems = lockout_problems(plan, "da01", "", sessions=())
    assert [p.forcible for p in problems] == [True]
    assert "management access to da01 cannot be expressed" in problems[0].text
    # and a session from there is not accepted either: it cannot be
    cut = lockout_problems(plan, "da01", "2001:db8:ad::5 50000 192.0.2.40 22")
    assert [p.forcible for p in cut] == [False, True]


def test_management_from_the_host_itself_is_named_as_no_way_in() -> None:
    # Contoso's RDP access comes from admin-pc to every managed host, admin-pc too: its own
    # traffic stays on it (no row, no rule). apply said the deployment "declares no management
    # access", though an entry names admin-pc; it now says why that entry does not count
    plan = examples.example_plan("shopping-contoso")
    problems = lockout_problems(plan, "admin-pc", "", sessions=())
    assert [p.forcible for p in problems] == [True]
    assert problems[0].text == (
        "the deployment's management access to admin-pc (management 'rdp') comes from "
        "admin-pc itself: a host's own traffic stays on it and needs no rule, so it is no way "
        "in for operators on other machines; add one under 'management:' from the machines "
        "operators work on (e.g. SSH from the admin network) so operators keep a way in"
    )


def test_no_management_at_all_can_be_forced(tmp_path: Path) -> None:
    data = examples.example_data("shopping-contoso")
    del data["management"]
    plan = examples.plan_from_data(data, tmp_path)
    problems = lockout_problems(plan, "admin-pc", "", sessions=())
    assert [p.forcible for p in problems] == [True]
    assert "declares no management access to admin-pc;" in problems[0].text


def test_a_garbled_ssh_connection_cannot_be_forced() -> None:
    plan = examples.example_plan("smart-id-nexus")
    problems = lockout_problems(plan, "da01", "not an ssh connection")
    assert [p.forcible for p in problems] == [False]


def test_without_ssh_connection_every_open_session_is_checked() -> None:
    plan = examples.example_plan("smart-id-nexus")
    # sudo and su - drop SSH_CONNECTION: the sessions open on the machine stand in for it
    kept = ("203.0.113.5", "192.0.2.40", 22)
    assert lockout_problems(plan, "da01", "", sessions=[kept]) == []
    problems = lockout_problems(
        plan, "da01", "", sessions=[kept, ("192.0.2.200", "192.0.2.40", 22)]
    )
    assert [p.forcible for p in problems] == [True]
    assert "an SSH session from 192.0.2.200 to 192.0.2.40 port 22 is open" in problems[0].text
    assert "SSH_CONNECTION is not set" in problems[0].text
    # a session SSH_CONNECTION names is the one checked: the others are not asked about
    assert (
        lockout_problems(plan, "da01", SESSION, sessions=[("192.0.2.200", "192.0.2.40", 22)]) == []
    )


def test_a_cluster_without_management_access_is_named(tmp_path: Path) -> None:
    data = examples.example_data("smart-id-nexus")
    data["hosts"]["da01"]["cluster"] = True
    data["hosts"]["da01"]["addresses"] = ["192.0.2.40", "192.0.2.41"]
    data["management"] = []
    plan = examples.plan_from_data(data, tmp_path)
    problems = lockout_problems(plan, "da01", "", sessions=())
    assert [p.forcible for p in problems] == [True]
    assert "declares no management access to da01" in problems[0].text


def test_management_ping_is_rendered_but_is_no_way_in(tmp_path: Path) -> None:
    data = examples.example_data("smart-id-nexus")
    data["management"] = [
        {"id": "ping", "from": "admin-net", "protocol": "icmp", "purpose": "monitoring"}
    ]
    plan = examples.plan_from_data(data, tmp_path)
    (ping,) = {r.key: r for r in plan.rows if r.destination == "da01" and r.product == MANAGEMENT}
    ruleset = get_target("nftables").render(plan, RuleOptions(hosts=("da01",)))["da01.nft"]
    assert "ip saddr 203.0.113.0/28 ip daddr 192.0.2.40 icmp type echo-request" in ruleset
    assert ping == "management/ping"
    problems = lockout_problems(plan, "da01", "", sessions=())
    assert [p.forcible for p in problems] == [True]
    assert "declares no management access to da01" in problems[0].text


def test_management_over_icmp_names_messages_not_ports(tmp_path: Path) -> None:
    data = examples.example_data("smart-id-nexus")
    data["management"] = [
        {"id": "ping", "from": "admin-net", "protocol": "icmp", "ports": 22, "purpose": "x"}
    ]
    with pytest.raises(PortplanError, match="an icmp connection has no ports"):
        examples.plan_from_data(data, tmp_path)

"""iptables rules in real network namespaces: exactly the plan gets through, nothing else.

The same end-to-end check as ``test_netns_nftables`` for the iptables target: every host of
each example loads ``<host>.ipset`` (``ipset restore``), ``<host>.v4`` (``iptables-restore``)
and ``<host>.v6`` (``ip6tables-restore``) in its own namespace, and every node probes every
other node on every planned port, the ports just outside each range, over TCP and UDP, from
each of its addresses.  What gets through must be exactly what the plan names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import examples
import netns
import plancheck
from plancheck import OUTSIDER, Lab
from portplan.plan import Plan
from portplan.targets import DefaultAction, RuleOptions, get_target

DEPLOYMENTS = ("shopping-contoso", "smart-id-nexus")
TOOLS = ("iptables-restore", "ip6tables-restore", "ipset")

pytestmark = pytest.mark.netns


@pytest.fixture(scope="module", autouse=True)
def namespaces_available() -> Iterator[None]:
    """Skip (with the reason) where namespaces cannot be built; never leak one."""
    with netns.guard(*TOOLS):
        yield


def load(topo: netns.Topology, node: netns.Node, host: str, files: dict[str, str]) -> None:
    """Load one host's files in a node: the address sets first, then each family's table."""
    topo.load(node, host, files)


def apply(lab: Lab, files: dict[str, str]) -> set[str]:
    """Load each host's files in its node; the hosts that got any."""
    managed = {name.rpartition(".")[0] for name in files}
    assert managed == plancheck.needs_rules(lab.plan)
    for host in sorted(managed):
        load(lab.topo, lab.nodes[host], host, files)
    return managed


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_exactly_the_plan_gets_through(deployment: str) -> None:
    plan = examples.example_plan(deployment)
    files = get_target("iptables").render(plan, RuleOptions())
    with netns.topology() as topo:
        lab = plancheck.build_lab(topo, plan)
        managed = apply(lab, files)
        outcome = plancheck.run(lab, plancheck.matrix(lab, managed=managed, egress=False))
        assert plancheck.check_spots(outcome, plancheck.SPOT_CHECKS[deployment]) == []
        plancheck.assert_exact(lab, outcome)


@pytest.mark.parametrize("loopback", ["all", "planned"])
@pytest.mark.parametrize("default", [DefaultAction.DROP, DefaultAction.REJECT])
def test_egress_blocks_what_the_source_does_not_plan_to_send(
    loopback: str, default: DefaultAction
) -> None:
    plan = examples.example_plan("shopping-contoso")
    options = RuleOptions(egress=True, default=default, extra={"loopback": loopback})
    files = get_target("iptables").render(plan, options)
    with netns.topology() as topo:
        lab = plancheck.build_lab(topo, plan)
        managed = apply(lab, files)
        checks = plancheck.matrix(lab, managed=managed, egress=True, loopback_all=loopback == "all")
        outcome = plancheck.run(lab, checks)
        spots = [
            ("shop01", "sql01", "tcp", 1433, True),
            ("shop01", "cm01", "tcp", 49152, True),
            ("shop01", OUTSIDER, "tcp", 1433, False),
            ("shop01", OUTSIDER, "tcp", 49152, False),
            ("sql01", "shop01", "tcp", 8443, False),
            ("clients", "clients", "tcp", 8000, True),
        ]
        assert plancheck.check_spots(outcome, spots) == []
        assert any(c.destination == OUTSIDER for c in checks)
        plancheck.assert_exact(lab, outcome)


def test_ipv6_is_filtered_on_a_host_without_ipv6_in_the_plan() -> None:
    """shop01 has only IPv4 in the plan, yet its machine has an IPv6 link-local address."""
    plan = examples.example_plan("shopping-contoso")
    files = get_target("iptables").render(plan, RuleOptions())
    with netns.topology() as topo:
        before, after = plancheck.link_local_before_and_after(
            topo, plan, "shop01", "admin-pc", lambda node: load(topo, node, "shop01", files)
        )
    assert before and all(r in netns.PASSED for r in before), "the probes cannot reach shop01"
    assert not any(r in netns.PASSED for r in after), (
        f"IPv6 to shop01 passes (no shop01.v6 among {sorted(files)}): {after}"
    )


def _state(topo: netns.Topology, node: netns.Node) -> str:
    """The node's filter tables and address sets, without counters and comment lines."""
    parts = []
    for argv in (["iptables-save", "-t", "filter"], ["ip6tables-save", "-t", "filter"]):
        saved = topo.exec(node, argv).stdout.splitlines()
        parts += [line.split(" [")[0] for line in saved if not line.startswith("#")]
    parts += topo.exec(node, ["ipset", "save"]).stdout.splitlines()
    return "\n".join(parts)


@pytest.mark.parametrize("tamper", list(plancheck.TAMPERS.values()), ids=list(plancheck.TAMPERS))
def test_free_text_stays_in_comments(tamper: Callable[[Plan], Plan]) -> None:
    """Names and purposes are free text: they must neither become rules nor break the files."""
    plan = examples.example_plan("smart-id-nexus")
    plain = get_target("iptables").render(plan, RuleOptions())
    odd = get_target("iptables").render(tamper(plan), RuleOptions())
    with netns.topology() as topo:
        node = topo.add_node("checker")
        load(topo, node, "traefik01", plain)  # both families
        expected = _state(topo, node)
        try:
            load(topo, node, "traefik01", odd)
        except netns.NetnsError as exc:
            pytest.fail(f"the files do not load: {exc}")
        assert _state(topo, node) == expected

"""nftables rules in real network namespaces: exactly the plan gets through, nothing else.

Each example deployment is built as namespaces on one bridge (``netns``, ``plancheck``), every
host loads its generated ruleset with ``nft -f``, and every node probes every other node from
each of its addresses: every planned port (ends and a sample of long ranges such as the Windows
RPC range), the ports just outside each range, on TCP and UDP.  An "outsider" node holds
documentation addresses that no host covers.  What gets through must be exactly what the plan
names: planned flows connect from their real source namespaces, and a wrong source, a wrong
port or a wrong protocol is blocked.  With egress filtering, the source's own output chain
must block what it does not plan to send.

The interpreter of ``nftjson`` is checked against the same probes, so the property test that
relies on it (``test_nft_property``) stands on observed kernel behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import examples
import netns
import plancheck
from nftjson import Packet, Ruleset
from plancheck import OUTSIDER, Lab, Outcome
from portplan.plan import Plan
from portplan.targets import DefaultAction, RuleOptions, get_target

DEPLOYMENTS = ("shopping-contoso", "smart-id-nexus")

pytestmark = pytest.mark.netns


@pytest.fixture(scope="module", autouse=True)
def namespaces_available() -> Iterator[None]:
    """Skip (with the reason) where namespaces cannot be built; never leak one."""
    with netns.guard("nft"):
        yield


def apply(lab: Lab, files: dict[str, str]) -> set[str]:
    """Load each host's ruleset in its node; the hosts that got one."""
    managed = {name.removesuffix(".nft") for name in files}
    assert managed == plancheck.needs_rules(lab.plan)
    for host in sorted(managed):
        lab.topo.nft(lab.nodes[host], files[f"{host}.nft"])
    return managed


def interpreter_disagrees(lab: Lab, outcome: Outcome) -> list[str]:
    """Probes whose observed result the nft -j interpreter does not predict."""
    rulesets = {
        name: Ruleset.parse(lab.topo.nft_json(node)) for name, node in lab.topo.nodes.items()
    }
    wrong = []
    for check, result in outcome:
        p = check.probe
        source = p.source if p.source is not None else p.destination  # loopback: to itself
        lo = check.source == check.destination
        packet = Packet(source, p.destination, p.protocol, p.port, "lo" if lo else "eth0")
        predicted = rulesets[check.source].allows("output", packet) and rulesets[
            check.destination
        ].allows("input", packet)
        if predicted != (result in netns.PASSED):
            wrong.append(f"{check.describe()}: got {result}, interpreter says {predicted}")
    return wrong


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_exactly_the_plan_gets_through(deployment: str) -> None:
    plan = examples.example_plan(deployment)
    files = get_target("nftables").render(plan, RuleOptions())
    with netns.topology() as topo:
        lab = plancheck.build_lab(topo, plan)
        managed = apply(lab, files)
        outcome = plancheck.run(lab, plancheck.matrix(lab, managed=managed, egress=False))
        assert plancheck.check_spots(outcome, plancheck.SPOT_CHECKS[deployment]) == []
        plancheck.assert_exact(lab, outcome)
        # without egress filtering, hosts reach the unfiltered outsider: the positive control
        # for the egress test below
        to_outsider = [passed for c, passed in outcome if c.destination == OUTSIDER]
        assert to_outsider and all(r in netns.PASSED for r in to_outsider)
        assert interpreter_disagrees(lab, outcome) == []


@pytest.mark.parametrize("loopback", ["all", "planned"])
def test_egress_blocks_what_the_source_does_not_plan_to_send(loopback: str) -> None:
    plan = examples.example_plan("shopping-contoso")
    options = RuleOptions(egress=True, extra={"loopback": loopback})
    files = get_target("nftables").render(plan, options)
    with netns.topology() as topo:
        lab = plancheck.build_lab(topo, plan)
        managed = apply(lab, files)
        checks = plancheck.matrix(lab, managed=managed, egress=True, loopback_all=loopback == "all")
        outcome = plancheck.run(lab, checks)
        spots = [
            ("shop01", "sql01", "tcp", 1433, True),
            ("shop01", "cm01", "tcp", 49152, True),
            # the outsider has no firewall: only shop01's own output chain stops these
            ("shop01", OUTSIDER, "tcp", 1433, False),
            ("shop01", OUTSIDER, "tcp", 49152, False),
            ("clients", OUTSIDER, "tcp", 8443, False),
            ("sql01", "shop01", "tcp", 8443, False),
            (OUTSIDER, "shop01", "tcp", 8443, False),
            ("clients", "clients", "tcp", 8000, True),  # the planned loopback agent
        ]
        assert plancheck.check_spots(outcome, spots) == []
        to_outsider = [c for c in checks if c.destination == OUTSIDER]
        assert to_outsider and not any(c.expected for c in to_outsider)
        plancheck.assert_exact(lab, outcome)
        assert interpreter_disagrees(lab, outcome) == []


@pytest.mark.parametrize("egress", [False, True], ids=["ingress", "egress"])
def test_one_shared_ruleset_on_every_host_is_exactly_the_plan(egress: bool) -> None:
    # layout=shared: every host loads the same file; each must accept only its own flows
    plan = examples.example_plan("smart-id-nexus")
    options = RuleOptions(egress=egress, extra={"layout": "shared"})
    files = get_target("nftables").render(plan, options)
    assert set(files) == {"shared.nft"}
    with netns.topology() as topo:
        lab = plancheck.build_lab(topo, plan)
        managed = plancheck.needs_rules(plan)
        for host in sorted(managed):
            lab.topo.nft(lab.nodes[host], files["shared.nft"])
        outcome = plancheck.run(lab, plancheck.matrix(lab, managed=managed, egress=egress))
        assert plancheck.check_spots(outcome, plancheck.SPOT_CHECKS["smart-id-nexus"]) == []
        plancheck.assert_exact(lab, outcome)
        assert interpreter_disagrees(lab, outcome) == []


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_nft_accepts_every_file(deployment: str) -> None:
    plan = examples.example_plan(deployment)
    cases = {
        "default": RuleOptions(),
        "egress-reject": RuleOptions(egress=True, default=DefaultAction.REJECT),
    }
    if deployment == "smart-id-nexus":  # shopping-contoso's hosts overlap: no shared layout
        cases["shared-egress-reject"] = RuleOptions(
            egress=True, default=DefaultAction.REJECT, extra={"layout": "shared"}
        )
    problems = []
    with netns.topology() as topo:
        node = topo.add_node("checker")
        for case, options in cases.items():
            for name, text in get_target("nftables").render(plan, options).items():
                try:
                    topo.nft(node, text, check_only=True)
                    topo.nft(node, text)  # and it really loads, twice (it replaces its table)
                    topo.nft(node, text)
                except netns.NetnsError as exc:
                    problems.append(f"{case}/{name}: {exc}")
    assert problems == []


@pytest.mark.parametrize(
    "tamper",
    list(plancheck.TAMPERS.values()),
    ids=list(plancheck.TAMPERS),
)
def test_free_text_stays_in_comments(tamper: Callable[[Plan], Plan]) -> None:
    """Names and purposes are free text: they must neither become nft syntax nor break it."""
    plan = examples.example_plan("smart-id-nexus")
    plain = get_target("nftables").render(plan, RuleOptions())["da01.nft"]
    odd = get_target("nftables").render(tamper(plan), RuleOptions())["da01.nft"]
    with netns.topology() as topo:
        node = topo.add_node("checker")
        topo.nft(node, plain)
        expected = topo.exec(node, ["nft", "list", "ruleset"]).stdout
        try:
            topo.nft(node, odd)
        except netns.NetnsError as exc:
            pytest.fail(f"the ruleset does not load: {exc}")
        assert topo.exec(node, ["nft", "list", "ruleset"]).stdout == expected


def test_ipv6_is_filtered_on_a_host_without_ipv6_in_the_plan() -> None:
    plan = examples.example_plan("shopping-contoso")
    files = get_target("nftables").render(plan, RuleOptions())
    with netns.topology() as topo:
        before, after = plancheck.link_local_before_and_after(
            topo, plan, "shop01", "admin-pc", lambda node: topo.nft(node, files["shop01.nft"])
        )
    assert before and all(r in netns.PASSED for r in before), "the probes cannot reach shop01"
    assert not any(r in netns.PASSED for r in after), after

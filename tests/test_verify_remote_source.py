"""A managed host of ``verify --inventory`` sends each planned probe from the source's own
address, as ``portplan verify --on SOURCE`` does at home, also where the destination is a
loopback address (a lab on 127.0.0.0/8): only a loopback row (``loopback: true``, on the
host's own 127.0.0.1) goes from the kernel's choice.  A probe sent from no address of its
source verifies no row in the report, so the two ways of verifying must agree.  On loopback
addresses of this machine only."""

from __future__ import annotations

from pathlib import Path

from portplan import load_plan
from portplan.fanout.work import plan_fanout
from portplan.load.inventory import InventoryHost
from portplan.probe.remote import probe_requests
from test_verify_rows import _deployment, _report, _verify, port  # noqa: F401 (a fixture)


def test_a_managed_host_sends_to_a_loopback_destination_from_the_sources_address(
    tmp_path: Path,
    port: int,  # noqa: F811 (the fixture)
) -> None:
    # src (127.0.0.2) fetches from repo (127.0.0.4, listening); every host is this machine
    deployment = _deployment(tmp_path, port, repo={"addresses": ["127.0.0.4"]})
    home = _report(_verify(deployment, "--on", "src", "--flow", "fetch"), 0)
    assert [(c["source_address"], c["outcome"]) for c in home["checks"]] == [("127.0.0.2", "open")]

    plan = load_plan(deployment)
    inventory = {h: InventoryHost(name=h, variables={}, groups=()) for h in plan.hosts}
    fanout = plan_fanout(plan, inventory, where="the inventory", flows=["fetch"])
    found = probe_requests(fanout.sources["src"].requests, timeout=0.3)
    assert [(c["source_address"], c["outcome"]) for c in found["checks"]] == [("127.0.0.2", "open")]

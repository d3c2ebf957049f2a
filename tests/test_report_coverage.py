"""`report --verify` passes a row only when its results probed every concrete source and
destination address and port the row holds, from that source: the members of a cluster, the
addresses a name resolved to, a name-only source.  The results are made by real `portplan
verify` runs on loopback addresses of this machine (127.0.0.0/8 and ::1) only."""

from __future__ import annotations

import json
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import machine
from portplan import load_plan, verify
from portplan._errors import OverlayError
from portplan.cli import cli
from portplan.plan import Plan, plan_digest
from portplan.probe.records import check_from_record, check_record
from portplan.publish import Overlay, Status, overlay_rows, read_overlay

PRODUCT: dict[str, Any] = {
    "id": "cov",
    "name": "Coverage",
    "version": "1",
    "document": {"title": "Coverage ports"},
    "components": {
        "client": {"name": "Client", "kind": "client"},
        "server": {"name": "Server"},
        "node": {"name": "Node"},
        "repo": {"name": "Repository"},
        "pool": {"name": "Pool"},
        "puller": {"name": "Puller", "kind": "client"},
    },
    "flows": [
        {"id": "gossip", "row": 1, "from": "node", "to": "node", "protocol": "tcp",
         "ports": "PORT", "purpose": "cluster members talk to each other"},
        {"id": "feed", "row": 2, "from": "node", "to": "server", "protocol": "tcp",
         "ports": "PORT", "purpose": "each member feeds the server"},
        {"id": "fetch", "row": 3, "from": "client", "to": "repo", "protocol": "tcp",
         "ports": "PORT", "purpose": "fetch updates by name"},
        {"id": "spread", "row": 4, "from": "client", "to": "pool", "protocol": "tcp",
         "ports": "PORT", "purpose": "a pool with a network in it"},
        {"id": "pull", "row": 5, "from": "puller", "to": "server", "protocol": "tcp",
         "ports": "PORT", "purpose": "a machine known by its name pulls from the server"},
    ],
}  # fmt: skip

#: the addresses the listeners of :func:`port` hold: every destination of the deployment
LISTENING = ("127.0.0.1", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.9")


@pytest.fixture
def port() -> Iterator[int]:
    """A free TCP port, listening on every destination address of the deployment."""
    sockets = []
    try:
        first = socket.create_server(("127.0.0.1", 0))
        sockets.append(first)
        number = first.getsockname()[1]
        for address in LISTENING[1:]:
            sockets.append(socket.create_server((address, number)))
        yield number
    finally:
        for sock in sockets:
            sock.close()


def deployment(tmp_path: Path, port: int, **hosts: dict[str, Any]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "cov.yaml").write_text(
        yaml.safe_dump(PRODUCT, sort_keys=False).replace("PORT", str(port))
    )
    data = {
        "name": "cov",
        "hosts": {
            "src": {"addresses": ["127.0.0.2"]},
            "srv": {"addresses": ["127.0.0.3"]},
            "nodes": {"addresses": ["127.0.0.4", "127.0.0.5", "127.0.0.6"], "cluster": True},
            "repo": {"dns_name": "localhost", "managed": False},
            "pool": {"addresses": ["127.0.0.9", "127.0.1.0/29"]},
            "nm": {"dns_name": "localhost"},  # managed: verify runs on it
            **hosts,
        },
        "products": {
            "cov": {
                "file": "cov.yaml",
                "components": {
                    "client": "src",
                    "server": "srv",
                    "node": "nodes",
                    "repo": "repo",
                    "pool": "pool",
                    "puller": "nm",
                },
            }
        },
    }
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def verified(path: Path, *args: str) -> dict[str, Any]:
    """The JSON results of `portplan verify` of ``path`` with ``args``."""
    done = CliRunner().invoke(
        cli, ["verify", str(path), "--format", "json", "--timeout", "0.3", "--no-identify", *args]
    )
    assert done.exit_code in (0, 1), done.output
    return machine.document(done.stdout, "verify")


def overlay(results: dict[str, Any], name: str = "verify.json") -> Overlay:
    return read_overlay(json.dumps(results), name, "verify")


def row_of(plan: Plan, flow: str) -> int:
    (index,) = [i for i, r in enumerate(plan.rows) if r.key == f"cov/{flow}"]
    return index


def gaps(plan: Plan, index: int, *overlays: Overlay) -> list[str]:
    """The evidence of the row's unchecked findings."""
    found = overlay_rows(plan, overlays)
    return [f.evidence for _o, f in found.findings.get(index, ()) if f.status is Status.UNCHECKED]


# ---------------------------------------------------------------------------------------------
# the members of a cluster


def test_a_mesh_row_passes_only_when_every_member_probed_the_others(
    tmp_path: Path, port: int
) -> None:
    path = deployment(tmp_path, port)
    plan = load_plan(path)
    gossip = row_of(plan, "gossip")
    member = {
        address: overlay(
            verified(path, "--on", "nodes", "--from-address", address, "--flow", "gossip"),
            f"{address}.json",
        )
        for address in ("127.0.0.4", "127.0.0.5", "127.0.0.6")
    }
    # 127.0.0.5 reached the two others: the others were never probed from 127.0.0.4 or .6
    one = overlay_rows(plan, [member["127.0.0.5"]])
    assert one.status[gossip] is Status.UNCHECKED
    (gap,) = gaps(plan, gossip, member["127.0.0.5"])
    assert gap.startswith(
        "from 127.0.0.4 to 127.0.0.5, 127.0.0.6; from 127.0.0.6 to 127.0.0.4, 127.0.0.5 not "
        "probed by these results (each member of nodes is a machine of its own:"
    ), gap
    every = overlay_rows(plan, list(member.values()))
    assert every.status[gossip] is Status.PASSED


def test_a_row_from_a_cluster_passes_only_when_every_member_probed_it(
    tmp_path: Path, port: int
) -> None:
    path = deployment(tmp_path, port)
    plan = load_plan(path)
    feed = row_of(plan, "feed")
    member = [
        overlay(verified(path, "--on", "nodes", "--from-address", address, "--flow", "feed"))
        for address in ("127.0.0.4", "127.0.0.5", "127.0.0.6")
    ]
    assert overlay_rows(plan, member[:1]).status[feed] is Status.UNCHECKED
    missing = (
        "from 127.0.0.6 to 127.0.0.3 not probed by these results (each member of nodes is a "
        "machine of its own: run verify on each, --from-address naming it, and give every file)"
    )
    assert gaps(plan, feed, *member[:2]) == [missing, missing]  # in each file's column
    assert overlay_rows(plan, member).status[feed] is Status.PASSED


def test_a_cluster_member_known_only_as_a_network_leaves_its_rows_unchecked(
    tmp_path: Path, port: int
) -> None:
    path = deployment(
        tmp_path, port, nodes={"addresses": ["127.0.0.4", "127.0.1.0/29"], "cluster": True}
    )
    plan = load_plan(path)
    feed = row_of(plan, "feed")
    results = overlay(verified(path, "--on", "nodes", "--from-address", "127.0.0.4"))
    assert overlay_rows(plan, [results]).status[feed] is Status.UNCHECKED
    assert gaps(plan, feed, results) == [
        "the members of nodes in 127.0.1.0/29 are not known one by one, so no results come "
        "from each of them: this row cannot be verified"
    ]


# ---------------------------------------------------------------------------------------------
# destinations known by name, and networks


def test_a_row_to_a_name_only_host_passes_only_when_each_address_it_resolved_to_was_probed(
    tmp_path: Path, port: int
) -> None:
    path = deployment(tmp_path, port)
    plan = load_plan(path)
    fetch = row_of(plan, "fetch")
    results = verified(path, "--on", "src", "--flow", "fetch")
    (probed,) = results["checks"]  # localhost resolves to 127.0.0.1 alone here
    assert (probed["address"], probed["outcome"], probed["source_address"]) == (
        "127.0.0.1",
        "open",
        "127.0.0.2",
    )
    assert probed["dns"]["addresses"] == ["127.0.0.1"]
    assert overlay_rows(plan, [overlay(results)]).status[fetch] is Status.PASSED
    # had the name resolved to a second address that was not probed (past the 16 verify
    # probes of a name, say), the row holds it all the same
    lookup = {**probed["dns"], "addresses": ["127.0.0.1", "127.0.0.10"]}
    partial = {**results, "checks": [{**probed, "dns": lookup}]}
    assert overlay_rows(plan, [overlay(partial)]).status[fetch] is Status.UNCHECKED
    assert gaps(plan, fetch, overlay(partial)) == [
        "destination 127.0.0.10 not probed by these results"
    ]
    # without the lookup, what the name stood for is not known: nothing says it was all probed
    unknown = {**results, "checks": [{**c, "dns": None} for c in results["checks"]]}
    assert overlay_rows(plan, [overlay(unknown)]).status[fetch] is Status.UNCHECKED
    assert gaps(plan, fetch, overlay(unknown)) == [
        "these results do not say what localhost resolved to (dns), so nothing shows that "
        "every address of repo was probed"
    ]


def test_a_row_to_a_host_with_a_network_is_never_passed_by_its_single_addresses(
    tmp_path: Path, port: int
) -> None:
    path = deployment(tmp_path, port)
    plan = load_plan(path)
    spread = row_of(plan, "spread")
    results = verified(path, "--on", "src", "--flow", "spread")
    assert [(c["address"], c["outcome"]) for c in results["checks"]] == [("127.0.0.9", "open")]
    assert [n["reason"] for n in results["not_probed"]] == [
        "the destination's network 127.0.1.0/29: its machines are not known one by one, so "
        "none is probed"
    ]
    results["not_probed"] = []  # the report does not need verify's word for it
    assert overlay_rows(plan, [overlay(results)]).status[spread] is Status.UNCHECKED
    assert gaps(plan, spread, overlay(results)) == [
        "pool's network 127.0.1.0/29: its machines are not known one by one, so no probe covers it"
    ]


def test_a_lookup_holding_no_address_is_refused(tmp_path: Path, port: int) -> None:
    results = verified(deployment(tmp_path, port), "--on", "src", "--flow", "fetch")
    results["checks"][0]["dns"]["addresses"] = ["localhost"]
    with pytest.raises(OverlayError, match=r"checks\[0\]\.dns\.addresses\[0\] is not an IP"):
        overlay(results)


# ---------------------------------------------------------------------------------------------
# a source known by name only


def test_a_source_known_by_name_only_is_credited_with_what_its_name_resolves_to(
    tmp_path: Path, port: int
) -> None:
    path = deployment(tmp_path, port)
    plan = load_plan(path)
    pull = row_of(plan, "pull")
    results = verified(path, "--on", "nm", "--flow", "pull")
    (probed,) = results["checks"]
    # nm is localhost, which resolves to 127.0.0.1 here: sent from there, as nm
    assert (probed["source_address"], probed["outcome"]) == ("127.0.0.1", "open")
    assert (probed["source_dns"]["name"], probed["source_dns"]["addresses"]) == (
        "localhost",
        ["127.0.0.1"],
    )
    assert overlay_rows(plan, [overlay(results)]).status[pull] is Status.PASSED
    named = verified(path, "--on", "nm", "--flow", "pull", "--from-address", "127.0.0.1")
    assert [c["source_address"] for c in named["checks"]] == ["127.0.0.1"]
    refused = CliRunner().invoke(
        cli, ["verify", str(path), "--on", "nm", "--from-address", "127.0.0.2"]
    )
    assert refused.exit_code == 2, refused.output
    assert "--from-address 127.0.0.2 is not an address of nm" in refused.output
    # sent from an address the name did not resolve to, or with no word of what it resolved
    # to: nothing makes it nm's probe
    for edited in ({"source_address": "127.0.0.2"}, {"source_dns": None}):
        found = overlay_rows(plan, [overlay({**results, "checks": [{**probed, **edited}]})])
        assert pull not in found.status
        assert len(found.unmatched) == 1


def test_the_source_lookup_comes_back_from_a_managed_hosts_records(
    tmp_path: Path, port: int
) -> None:
    # verify --inventory reads each host's records back into checks, and writes them again
    plan = load_plan(deployment(tmp_path, port))
    (check,) = verify(plan, sources=["nm"], flows=["pull"], identify_services=False).checks
    record = check_record(check)
    assert record["source_dns"]["addresses"] == ["127.0.0.1"]
    assert check_record(check_from_record(record, check.row)) == record
    older = {k: v for k, v in record.items() if k != "source_dns"}  # an older collection's
    assert check_from_record(older, check.row).source_lookup is None


@pytest.mark.parametrize(("other", "addresses"), [("lo", ["127.0.0.1"]), ("lan", ["127.0.0.0/30"])])
def test_a_name_only_source_is_never_credited_with_another_hosts_address(
    tmp_path: Path, port: int, other: str, addresses: list[str]
) -> None:
    # the deployment declares 127.0.0.1 for lo (or a network holding it for lan): a probe from
    # there is that host's as the firewalls see it, whatever nm's name resolves to
    path = deployment(tmp_path, port, **{other: {"addresses": addresses}})
    plan = load_plan(path)
    pull = row_of(plan, "pull")
    results = verified(path, "--on", "nm", "--flow", "pull")
    assert [c["source_address"] for c in results["checks"]] == ["127.0.0.1"]
    found = overlay_rows(plan, [overlay(results)])
    assert found.status[pull] is Status.UNCHECKED
    [(_overlay, placed)] = found.findings[pull]
    assert placed.outcome == "open, not from nm"
    assert placed.evidence.startswith(
        f"localhost (nm) resolved to 127.0.0.1, which the deployment declares for {other}: "
        f"the probe came from {other} as the firewalls see it: tcp/"
    ), placed.evidence


# ---------------------------------------------------------------------------------------------
# results of another plan


def edit_flow(path: Path, flow: str, **fields: object) -> None:
    """Change ``flow`` of the product beside the deployment ``path``."""
    product = path.parent / "cov.yaml"
    data = yaml.safe_load(product.read_text())
    next(f for f in data["flows"] if f["id"] == flow).update(fields)
    product.write_text(yaml.safe_dump(data, sort_keys=False))


def test_the_plan_digest_is_of_what_verify_proves(tmp_path: Path, port: int) -> None:
    path = deployment(tmp_path, port)
    digest = plan_digest(load_plan(path))
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert plan_digest(load_plan(path)) == digest  # every run
    # the order of hosts in the file and a flow's purpose change no probe
    data = yaml.safe_load(path.read_text())
    data["hosts"] = dict(reversed(data["hosts"].items()))
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    edit_flow(path, "fetch", purpose="fetch updates, reworded")
    assert plan_digest(load_plan(path)) == digest
    # what a probe proves, or what proving it takes, changes it
    for change in ({"ports": port + 1}, {"app_protocol": "http"}, {"protocol": "udp"}):
        edit_flow(path, "fetch", **change)
        assert plan_digest(load_plan(path)) != digest, change
        edit_flow(path, "fetch", protocol="tcp", ports=port, app_protocol=None)
    assert plan_digest(load_plan(path)) == digest
    moved = deployment(tmp_path / "moved", port, srv={"addresses": ["127.0.0.13"]})
    assert plan_digest(load_plan(moved)) != digest


def test_results_of_another_plan_verify_no_row(tmp_path: Path, port: int) -> None:
    path = deployment(tmp_path, port)
    results = verified(path, "--on", "src", "--flow", "fetch")
    assert results["plan_digest"] == plan_digest(load_plan(path))
    # fetch must now answer HTTP: the results opened the port and identified nothing, and
    # their ports and addresses are still the row's
    edit_flow(path, "fetch", app_protocol="http")
    plan = load_plan(path)
    fetch = row_of(plan, "fetch")
    found = overlay_rows(plan, [overlay(results)])
    assert found.status[fetch] is Status.UNCHECKED
    [(_overlay, placed)] = found.findings[fetch]
    assert placed.outcome == "open, of another plan"
    assert placed.evidence.startswith(
        f"verified another plan ({results['plan_digest'][:19]}..., this plan "
        f"{plan_digest(plan)[:19]}...): tcp/{port} 127.0.0.1: open"
    ), placed.evidence
    [(_overlay, notice)] = found.notices
    assert notice.startswith(
        "verify.json: results of another plan than this one (the deployment or a product has "
        "changed since verify ran): their failures are shown, their passes verify no row; "
        "run verify again"
    ), notice
    # a failure stays a failure
    failed = {**results["checks"][0], "outcome": "refused", "passed": False}
    found = overlay_rows(plan, [overlay({**results, "checks": [failed]})])
    assert found.status[fetch] is Status.FAILED
    # a document that does not say which plan it verified is read as before, with a notice
    older = {k: v for k, v in results.items() if k != "plan_digest"}
    found = overlay_rows(plan, [overlay(older)])
    assert found.status[fetch] is Status.PASSED
    [(_overlay, notice)] = found.notices
    assert notice.startswith("verify.json does not say which plan it verified"), notice
    assert (
        overlay_rows(load_plan(deployment(tmp_path / "same", port)), [overlay(results)]).notices
        == ()
    )


@pytest.mark.graphviz
@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_the_report_says_which_results_are_of_another_plan(tmp_path: Path, port: int) -> None:
    path = deployment(tmp_path, port)
    results = tmp_path / "verify.json"
    results.write_text(json.dumps(verified(path, "--on", "src", "--flow", "fetch")))
    edit_flow(path, "fetch", app_protocol="http")
    done = CliRunner().invoke(cli, ["report", str(path), "--verify", str(results)])
    assert done.exit_code == 0, done.stderr
    assert f"{results}: results of another plan than this one" in done.stderr
    assert "results of another plan than this one" in done.stdout  # in the summary
    assert 'class="st-passed"' not in done.stdout

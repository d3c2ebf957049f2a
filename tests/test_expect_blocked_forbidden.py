"""What ``verify --expect-blocked`` probes of a deployment's ``forbidden:`` entries, on
loopback (client 127.0.0.2, server 127.0.0.3) with real listeners: every port of an entry,
from every source it forbids, and what no probe reaches listed as not probed."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

import machine
from portplan import load_plan
from portplan._text import EXPECTED_BLOCKED
from portplan.cli import cli
from portplan.probe.blocked import blocked_probes, forbidden_gaps
from portplan.publish import Status, overlay_rows, read_overlay

#: the product both expect-blocked test files bind (tests/data/edges-product.yaml)
PRODUCT: dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parent / "data" / "edges-product.yaml").read_text()
)


def _forbidding(tmp_path: Path, ports: list[int] | str) -> Path:
    """A deployment on loopback (client 127.0.0.2, server 127.0.0.3) that forbids TCP
    ``ports`` from client to server."""
    (tmp_path / "product.yaml").write_text(yaml.safe_dump(PRODUCT))
    deployment = {
        "name": "forbids",
        "hosts": {"client": {"addresses": ["127.0.0.2"]}, "server": {"addresses": ["127.0.0.3"]}},
        "forbidden": [{"id": "admin", "from": "client", "to": "server", "ports": ports,
                       "purpose": "no administration"}],
        "products": {"edges": {"file": "product.yaml",
                               "components": {"client": "client", "server": "server"}}},
    }  # fmt: skip
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(deployment))
    return path


def _verify_blocked(path: Path) -> tuple[int, dict[str, Any], str]:
    """``verify --expect-blocked`` of the forbidden connection alone (the planned rows'
    ports have no listener here)."""
    result = CliRunner().invoke(
        cli,
        ["verify", str(path), "--on", "client", "--expect-blocked", "--no-identify",
         "--flow", "forbidden/admin", "--format", "json", "--timeout", "0.5"],
    )  # fmt: skip
    return result.exit_code, machine.document(result.stdout, "verify"), result.stdout


def test_every_port_of_a_forbidden_connection_is_probed(tmp_path: Path) -> None:
    """A forbidden connection of five ports is probed on all five: its fifth port open (a
    real listener) fails the run.  Only the first four were probed once, and it passed."""
    with socket.socket() as server:
        server.bind(("127.0.0.3", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port > 7
        code, report, _out = _verify_blocked(_forbidding(tmp_path, [1, 3, 5, 7, port]))
    assert code == 1
    found = {c["port"]: (c["outcome"], c["passed"]) for c in report["checks"]}
    assert set(found) == {1, 3, 5, 7, port}
    assert found[port] == ("open", False)
    assert report["not_probed"] == []


def test_a_sampled_forbidden_range_is_not_proven_blocked(tmp_path: Path) -> None:
    """A forbidden range of more than 64 ports is sampled, as a planned row's is: the ports
    left out are listed as not probed, and the report does not count them blocked."""
    code, report, out = _verify_blocked(_forbidding(tmp_path, "1000-2000"))
    assert code == 0  # every port probed is blocked (nothing listens: refused)
    probed = [c["port"] for c in report["checks"]]
    assert len(probed) == 64 and {1000, 2000} <= set(probed)
    assert report["not_probed"] == [
        {
            "flow": "forbidden/admin",
            "source": "client",
            "destination": "server",
            "reason": "64 of the 1001 forbidden ports 1000-2000 probed (range sampled): the "
            "other 937 are not proven blocked",
        }
    ]
    plan = load_plan(tmp_path / "deployment.yaml")
    found = overlay_rows(plan, [read_overlay(out, "verify.json")])
    assert found.unmatched == ()
    (gap,) = [f for _o, f in found.blocked if f.status is Status.UNCHECKED]
    assert (gap.flow, gap.outcome) == ("forbidden/admin", "not probed")


def test_what_must_stay_blocked_from_a_source_known_by_name_only_is_probed(
    tmp_path: Path,
) -> None:
    """A source known by name only (``localhost``, which resolves to this machine's
    127.0.0.1): the probes of what must stay blocked go from what its name resolves to.
    They were left out, unsaid, and a forbidden port open (a real listener) passed."""
    with socket.socket() as server:
        server.bind(("127.0.0.3", 0))
        server.listen()
        port = server.getsockname()[1]
        path = _forbidding(tmp_path, [port])
        deployment = yaml.safe_load(path.read_text())
        deployment["hosts"]["client"] = {"dns_name": "localhost"}
        path.write_text(yaml.safe_dump(deployment))
        result = CliRunner().invoke(
            cli,
            ["verify", str(path), "--on", "client", "--expect-blocked", "--no-identify",
             "--format", "json", "--timeout", "0.5"],
        )  # fmt: skip
    report = machine.document(result.stdout, "verify")
    blocked = {
        (c["flow"], c["port"]): (c["outcome"], c["passed"], c["source_address"])
        for c in report["checks"]
        if c["notes"] and c["notes"][0].startswith(EXPECTED_BLOCKED)
    }
    assert blocked == {
        ("edges/web", 8079): ("refused", True, "127.0.0.1"),
        ("edges/web", 8081): ("refused", True, "127.0.0.1"),
        ("edges/radius", 1811): ("closed", True, "127.0.0.1"),
        ("edges/radius", 1813): ("closed", True, "127.0.0.1"),
        ("forbidden/admin", port): ("open", False, "127.0.0.1"),
    }
    assert result.exit_code == 1


def test_forbidden_destinations_no_probe_reaches_are_not_proven_blocked(tmp_path: Path) -> None:
    """A forbidden connection towards a host known by name only, a network, and an IPv6
    address of a source without one: none is probed, and each is listed as not probed (they
    were left out unsaid, and the run passed on the one address probed)."""
    path = _forbidding(tmp_path, [22])
    deployment = yaml.safe_load(path.read_text())
    deployment["hosts"].update(
        {
            "named": {"dns_name": "repository.example.com"},
            "subnet": {"addresses": ["127.0.1.0/24"]},
            "dual": {"addresses": ["127.0.0.4", "2001:db8::4"]},
        }
    )
    deployment["forbidden"][0]["to"] = ["named", "subnet", "dual"]
    path.write_text(yaml.safe_dump(deployment))
    code, report, out = _verify_blocked(path)
    assert code == 0  # nothing listens on 127.0.0.4:22: refused, blocked
    assert [(c["address"], c["port"], c["passed"]) for c in report["checks"]] == [
        ("127.0.0.4", 22, True)
    ]
    gaps = {(s["destination"], s["reason"]) for s in report["not_probed"]}
    assert gaps == {
        ("named", "named is known by name only (repository.example.com): verify "
         "--expect-blocked probes only the addresses a deployment declares, so none of named "
         "is proven blocked; declare its addresses to prove it"),
        ("subnet", "the destination's network 127.0.1.0/24: its machines are not known one by "
         "one, so none is probed and it is not proven blocked"),
        ("dual", "client has no IPv6 address, so it cannot reach 2001:db8::4 (no firewall rule "
         "can be written for it either): not probed"),
    }  # fmt: skip
    plan = load_plan(path)
    found = overlay_rows(plan, [read_overlay(out, "verify.json")])
    assert sorted(f.status.value for _o, f in found.blocked) == ["passed"] + ["unchecked"] * 3


def test_a_connection_forbidden_from_a_network_is_probed_from_a_host_in_it(
    tmp_path: Path,
) -> None:
    """``from: clients`` (127.0.0.0/24) forbids it from ws01 (127.0.0.2) too, as the plan
    reads it (a row from ws01 on that port would be refused): ``verify --on ws01`` probes
    it (it did not, and an open forbidden port passed), on the families the network holds
    ws01's addresses of (none from ws01's IPv6 address, which the entry does not forbid)."""
    with socket.socket() as server:
        server.bind(("127.0.0.3", 0))
        server.listen()
        port = server.getsockname()[1]
        path = _forbidding(tmp_path, [port])
        deployment = yaml.safe_load(path.read_text())
        deployment["hosts"] = {
            "clients": {"addresses": ["127.0.0.0/24"]},
            "client": {"addresses": ["127.0.0.2", "2001:db8::2"]},
            "server": {"addresses": ["127.0.0.3", "2001:db8::3"]},
        }
        deployment["forbidden"][0]["from"] = "clients"
        path.write_text(yaml.safe_dump(deployment))
        plan = load_plan(path)
        probes = blocked_probes(plan, "client", {ipaddress.ip_address("127.0.0.2")})
        forbidden = [(p.address, p.port) for row, p, _w in probes if row.key == "forbidden/admin"]
        assert forbidden == [("127.0.0.3", port)]
        code, report, _out = _verify_blocked(path)
    assert code == 1
    assert [
        (c["port"], c["outcome"], c["passed"], c["source_address"]) for c in report["checks"]
    ] == [(port, "open", False, "127.0.0.2")]
    assert report["not_probed"] == []


def test_forbidden_icmp_messages_no_probe_asks_for_are_not_proven_blocked(
    tmp_path: Path,
) -> None:
    """An echo request is the one ICMP message a probe sends: a forbidden entry's other
    messages are listed as not probed (nothing was said of them)."""
    path = _forbidding(tmp_path, [22])
    deployment = yaml.safe_load(path.read_text())
    deployment["forbidden"] = [
        {"id": "ping", "from": "client", "to": "server", "protocol": "icmp",
         "icmp": ["echo-request", "echo-reply"], "purpose": "no ping"},
    ]  # fmt: skip
    path.write_text(yaml.safe_dump(deployment))
    plan = load_plan(path)
    probes = blocked_probes(plan, "client", {ipaddress.ip_address("127.0.0.2")})
    assert [
        (row.key, p.address, p.icmp_type)
        for row, p, _w in probes
        if row.key.startswith("forbidden/")
    ] == [("forbidden/ping", "127.0.0.3", "echo-request")]
    assert [(row.key, why) for row, why in forbidden_gaps(plan, "client")] == [
        ("forbidden/ping", "forbidden ICMP echo-reply: verify sends ICMP echo requests (ping) "
         "only, and no probe can ask for the other messages: not proven blocked"),
    ]  # fmt: skip


def test_a_connection_forbidden_from_a_network_is_sent_from_the_address_it_covers(
    tmp_path: Path,
) -> None:
    """A host with two addresses, one in ``clients``: the probe of what ``from: clients``
    forbids goes from that one.  It went from the host's first address, which the entry
    does not cover, so a firewall that blocked that address alone passed the run.  Named
    with --from-address, an address the entry does not cover sends nothing (not sent)."""
    path = _forbidding(tmp_path, [22])
    deployment = yaml.safe_load(path.read_text())
    deployment["hosts"] = {
        "clients": {"addresses": ["127.0.1.0/24"]},
        "client": {"addresses": ["127.0.0.2", "127.0.1.2"]},
        "server": {"addresses": ["127.0.0.3"]},
    }
    deployment["forbidden"][0]["from"] = "clients"
    path.write_text(yaml.safe_dump(deployment))
    code, report, _out = _verify_blocked(path)
    assert code == 0  # nothing listens on 127.0.0.3:22: refused, blocked
    assert [(c["source_address"], c["outcome"]) for c in report["checks"]] == [
        ("127.0.1.2", "refused")
    ]
    result = CliRunner().invoke(
        cli,
        ["verify", str(path), "--on", "client", "--expect-blocked", "--no-identify",
         "--flow", "forbidden/admin", "--from-address", "127.0.0.2", "--format", "json",
         "--timeout", "0.5"],
    )  # fmt: skip
    report = machine.document(result.stdout, "verify")
    assert [(c["source_address"], c["outcome"]) for c in report["checks"]] == [
        (None, "local-error")
    ]
    assert "127.0.1.2" in report["checks"][0]["evidence"]["note"]
    assert result.exit_code == 1


def test_an_entry_forbidden_from_part_of_the_sources_network_is_not_proven_blocked(
    tmp_path: Path,
) -> None:
    """The source is a network (127.0.1.0/24) and the entry forbids a half of it: the plan
    refuses that half, no probe from the source as a whole tells it apart, and it was left
    out unsaid.  It is listed as not probed now."""
    path = _forbidding(tmp_path, [22])
    deployment = yaml.safe_load(path.read_text())
    deployment["hosts"]["client"]["addresses"] = ["127.0.1.0/24"]
    deployment["hosts"]["half"] = {"addresses": ["127.0.1.0/25"]}
    deployment["forbidden"][0]["from"] = "half"
    path.write_text(yaml.safe_dump(deployment))
    plan = load_plan(path)
    assert [r.key for r, _p, _w in blocked_probes(plan, "client") if "forbidden" in r.key] == []
    assert [(row.key, why) for row, why in forbidden_gaps(plan, "client")] == [
        ("forbidden/admin", "admin forbids part of client's addresses (127.0.1.0/25): no probe "
         "from client as a whole tells that part apart, so it is not proven blocked"),
    ]  # fmt: skip

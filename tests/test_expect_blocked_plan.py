"""What ``verify --expect-blocked`` plans to probe, worked out from the plan alone (nothing is
sent): only addresses a probe may go to, each from the source host as the firewalls see it."""

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
from portplan.probe.blocked import blocked_probes
from portplan.probe.local import is_local, kernel_source, local_addresses
from portplan.probe.outcomes import Outcome
from portplan.probe.planned import plan_checks
from portplan.probe.verification import verify
from portplan.publish import Status, overlay_rows, read_overlay

LOOP = Path(__file__).resolve().parent / "data" / "loop-deployment.yaml"
#: the product both expect-blocked test files bind (tests/data/edges-product.yaml)
PRODUCT: dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parent / "data" / "edges-product.yaml").read_text()
)


#: PRODUCT with a second client, batch, the only one the plan lets reach the server's database
WITH_BATCH: dict[str, Any] = {
    **PRODUCT,
    "components": {**PRODUCT["components"], "batch": {"name": "Batch", "kind": "client"}},
    "flows": [
        *PRODUCT["flows"],
        {"id": "db", "row": 3, "from": "batch", "to": "server", "protocol": "tcp",
         "ports": 5432, "purpose": "loads"},
    ],
}  # fmt: skip


def _plan(tmp_path: Path, deployment: dict[str, Any], product: dict[str, Any] = PRODUCT) -> Any:
    (tmp_path / "product.yaml").write_text(yaml.safe_dump(product))
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(deployment))
    return load_plan(path)


def test_special_purpose_addresses_are_never_probed_as_expected_blocked(tmp_path: Path) -> None:
    # a broadcast or multicast address names no machine: verify never probes it (and a UDP
    # datagram to a broadcast address fails here with EACCES, which reads as "rejected")
    plan = _plan(
        tmp_path,
        {
            "name": "special",
            "hosts": {
                "client": {"addresses": ["127.0.0.2"]},
                "server": {"addresses": ["127.0.0.3"]},
                "everyone": {"special": ["broadcast"], "addresses": ["255.255.255.255"]},
                "group": {"special": ["multicast"], "addresses": ["224.0.0.251"]},
            },
            "forbidden": [
                {"id": "mdns", "from": "client", "to": ["group", "everyone"], "protocol": "udp",
                 "ports": 5353, "purpose": "no discovery"},
            ],
            "products": {
                "edges": {
                    "file": "product.yaml",
                    "components": {"client": "client", "server": ["server", "everyone", "group"]},
                }
            },
        },
    )  # fmt: skip
    probes = list(blocked_probes(plan, "client", {ipaddress.ip_address("127.0.0.2")}))
    assert probes
    assert {p.address for _row, p, _why in probes} == {"127.0.0.3"}


def _not_held() -> str:
    """An address of 203.0.113.0/24 this machine does not hold (a source only: no probe is
    ever sent to it)."""
    held = local_addresses()
    network = ipaddress.ip_network("203.0.113.0/24")
    return str(next(a for a in network.hosts() if a not in held and not is_local(str(a))))


def test_a_blocked_probe_this_machine_cannot_send_from_the_source_is_not_probed(
    tmp_path: Path,
) -> None:
    # this machine holds none of client's addresses: a probe from here would come from the
    # kernel's choice, which a firewall may well block while it lets client through
    elsewhere = _not_held()
    (tmp_path / "product.yaml").write_text(yaml.safe_dump(PRODUCT))
    path = tmp_path / "deployment.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "elsewhere",
                "hosts": {
                    "client": {"addresses": [elsewhere]},  # a source only: nothing goes there
                    "server": {"addresses": ["127.0.0.3"]},
                },
                "forbidden": [
                    {"id": "ssh", "from": "client", "to": "server", "ports": 22,
                     "purpose": "no shell"},
                ],
                "products": {
                    "edges": {
                        "file": "product.yaml",
                        "components": {"client": "client", "server": "server"},
                    }
                },
            }
        )
    )  # fmt: skip
    result = CliRunner().invoke(
        cli,
        ["verify", str(path), "--on", "client", "--expect-blocked", "--no-identify",
         "--format", "json", "--timeout", "0.2"],
    )  # fmt: skip
    assert result.exit_code == 1
    report = machine.document(result.stdout, "verify")
    blocked = [c for c in report["checks"] if c["notes"][0].startswith(EXPECTED_BLOCKED)]
    # beside web's and radius's ports, and the forbidden one: none sent, none passes
    assert len(blocked) == 5
    for check in blocked:
        assert (check["outcome"], check["passed"], check["source_address"]) == (
            "local-error",
            False,
            None,
        )
        assert check["evidence"]["attempts"] == 0
        assert check["evidence"]["note"].startswith(
            "not sent: this machine sends from none of client's addresses towards 127.0.0.3 (its "
            "kernel would send from 127.0.0.1), so a probe from here would not come from client"
        )
    # the planned rows are probed as before, with the note that says where they came from
    planned = [c for c in report["checks"] if c not in blocked]
    assert {c["port"] for c in planned} == {8080, 1812}
    assert all(
        c["notes"][0].startswith("sent from 127.0.0.1, the address this machine's kernel chose")
        for c in planned
    )


def test_a_blocked_probe_from_a_network_source_is_sent_from_the_address_it_holds(
    tmp_path: Path,
) -> None:
    # clients is a network: the kernel's choice towards the server lies in it (127.0.0.1)
    plan = _plan(
        tmp_path,
        {
            "name": "subnet",
            "hosts": {
                "client": {"addresses": ["127.0.0.0/29"]},
                "server": {"addresses": ["127.0.0.9"]},
            },
            "products": {
                "edges": {
                    "file": "product.yaml",
                    "components": {"client": "client", "server": "server"},
                }
            },
        },
    )
    found = verify(
        plan,
        sources=("client",),
        expect_blocked=True,
        identify_services=False,
        timeout=0.2,
    )
    blocked = [c for c in found.checks if c.expect_blocked]
    assert {(c.probe.protocol.value, c.probe.port) for c in blocked} == {
        ("tcp", 8079), ("tcp", 8081), ("udp", 1811), ("udp", 1813)
    }  # fmt: skip
    for check in blocked:
        assert check.probe.source == "127.0.0.1"
        assert check.outcome in (Outcome.REFUSED, Outcome.CLOSED)


def test_what_a_destination_name_says_stays_on_the_planned_ports(tmp_path: Path) -> None:
    # server is reached by name: localhost resolves to addresses the deployment does not
    # declare for it (dns-error checks of the planned row, never probed); the ports beside
    # the planned ones, probed as expected blocked on the same row, are no planned ports
    plan = _plan(
        tmp_path,
        {
            "name": "named",
            "hosts": {
                "client": {"addresses": ["127.0.0.2"]},
                "server": {"addresses": ["127.0.0.3"], "dns_name": "localhost"},
            },
            "products": {
                "edges": {
                    "file": "product.yaml",
                    "components": {"client": "client", "server": "server"},
                }
            },
        },
    )
    found = verify(
        plan,
        sources=("client",),
        expect_blocked=True,
        identify_services=False,
        timeout=0.2,
    )
    dns_errors = {
        (c.row.key, c.probe.port, c.expect_blocked)
        for c in found.checks
        if c.outcome is Outcome.DNS_ERROR
    }
    assert dns_errors == {("edges/web", 8080, False), ("edges/radius", 1812, False)}
    blocked = {(c.probe.address, c.probe.port) for c in found.checks if c.expect_blocked}
    assert blocked == {("127.0.0.3", p) for p in (8079, 8081, 1811, 1813)}


def test_a_probe_of_another_sources_row_names_the_host_it_was_sent_from(tmp_path: Path) -> None:
    # db is planned from batch, not from client: the probe that client cannot reach it is
    # client's (a report reading "batch -> server tcp/5432 filtered, pass" says the opposite
    # of the plan)
    plan = _plan(
        tmp_path,
        {
            "name": "others",
            "hosts": {
                "client": {"addresses": ["127.0.0.2"]},
                "batch": {"addresses": ["127.0.0.4"], "zone": "batch"},
                "server": {"addresses": ["127.0.0.3"]},
            },
            "products": {
                "edges": {
                    "file": "product.yaml",
                    "components": {"client": "client", "batch": "batch", "server": "server"},
                }
            },
        },
        WITH_BATCH,
    )
    probes = list(blocked_probes(plan, "client", {ipaddress.ip_address("127.0.0.2")}))
    (other,) = [(row, probe, why) for row, probe, why in probes if row.key == "edges/db"]
    row, probe, why = other
    assert (probe.address, probe.port, probe.source) == ("127.0.0.3", 5432, "127.0.0.2")
    assert (row.source, row.source_addresses, row.source_zone) == (
        "client",
        plan.hosts["client"].addresses,
        None,
    )
    planned = next(r for r in plan.rows if r.key == "edges/db")
    assert (row.destination, row.ports, row.facts) == ("server", planned.ports, planned.facts)
    assert why == "expected blocked: edges/db is planned from batch, not from client"


def test_expect_blocked_without_the_second_look_is_refused() -> None:
    """A TCP port silent once may be one whose SYN was lost: with one look, it would pass
    as blocked while it is open."""
    result = CliRunner().invoke(
        cli,
        ["verify", str(LOOP), "--on", "client", "--expect-blocked", "--no-second-look"],
    )
    assert result.exit_code == 2, result.output
    assert "--expect-blocked needs the second look" in result.output
    assert "leave out --no-second-look" in result.output


def test_a_network_source_this_machine_is_in_is_not_said_to_send_from_elsewhere(
    tmp_path: Path,
) -> None:
    """Verify from a clients subnet: where the address the kernel sends from is in the
    subnet, the probe does come from it (no note says otherwise); where it is not, the note
    names the address it went from."""
    for subnet, inside in (("127.0.0.0/24", True), ("127.9.0.0/24", False)):
        plan = _plan(
            tmp_path,
            {
                "name": "subnet",
                "hosts": {
                    "clients": {"addresses": [subnet]},
                    "server": {"addresses": ["127.0.0.3"]},
                },
                "products": {
                    "edges": {
                        "file": "product.yaml",
                        "components": {"client": "clients", "server": "server"},
                    }
                },
            },
        )
        checks, _skipped = plan_checks(plan, ("clients",), local=local_addresses())
        assert checks
        chosen = kernel_source("127.0.0.3")
        assert chosen is not None and chosen.is_loopback
        for check in checks:
            notes = [n for n in check.notes if "this machine's kernel chose" in n]
            if inside:  # sent from the kernel's choice, named: the report credits the row
                assert check.probe.source == str(chosen)
                assert notes == [], check.notes
            else:
                assert check.probe.source is None
                assert len(notes) == 1
                assert notes[0].startswith(f"sent from {chosen}, the address this machine's")


def test_a_clients_subnet_this_machine_is_in_is_credited_by_the_report(tmp_path: Path) -> None:
    """verify from a clients subnet this machine is in, then report --verify: the probe went
    from an address of the subnet, said so (source_address), and the row passes."""
    with socket.socket() as server:
        server.bind(("127.0.0.3", 0))
        server.listen()
        port = server.getsockname()[1]
        product = {**PRODUCT, "flows": [{**PRODUCT["flows"][0], "ports": port}]}
        (tmp_path / "product.yaml").write_text(yaml.safe_dump(product))
        deployment = {
            "name": "subnet",
            "hosts": {"clients": {"addresses": ["127.0.0.0/24"]},
                      "server": {"addresses": ["127.0.0.3"]}},
            "products": {"edges": {"file": "product.yaml",
                                   "components": {"client": "clients", "server": "server"}}},
        }  # fmt: skip
        (tmp_path / "deployment.yaml").write_text(yaml.safe_dump(deployment))
        result = CliRunner().invoke(
            cli,
            ["verify", str(tmp_path / "deployment.yaml"), "--on", "clients", "--no-identify",
             "--format", "json", "--timeout", "0.5"],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = machine.document(result.stdout, "verify")
    (check,) = report["checks"]
    assert check["outcome"] == "open" and check["source_address"] == str(kernel_source("127.0.0.3"))
    plan = load_plan(tmp_path / "deployment.yaml")
    found = overlay_rows(plan, [read_overlay(result.stdout, "verify.json")])
    assert set(found.status.values()) == {Status.PASSED}


def test_another_sources_port_is_probed_from_a_subnet_address_that_is_not_that_source(
    tmp_path: Path,
) -> None:
    """batch (127.0.0.4) is one machine of the clients' subnet (127.0.0.0/29), and only it
    may reach the database: verify --expect-blocked from another machine of the subnet (this
    one, 127.0.0.1 towards the server) must probe that port as blocked, since the plan never
    lets 127.0.0.1 there (a ruleset open to the whole subnet would be too broad); it was
    left out, unsaid, as if the plan let the whole subnet through."""
    plan = _plan(
        tmp_path,
        {
            "name": "subnet-others",
            "hosts": {
                "clients": {"addresses": ["127.0.0.0/29"]},
                "batch": {"addresses": ["127.0.0.4"]},
                "server": {"addresses": ["127.0.0.9"]},
            },
            "products": {
                "edges": {
                    "file": "product.yaml",
                    "components": {"client": "clients", "batch": "batch", "server": "server"},
                }
            },
        },
        WITH_BATCH,
    )
    chosen = kernel_source("127.0.0.9")
    assert chosen is not None and str(chosen) != "127.0.0.4"
    found = verify(
        plan,
        sources=("clients",),
        expect_blocked=True,
        identify_services=False,
        timeout=0.2,
    )
    database = [c for c in found.checks if c.row.key == "edges/db"]
    assert [(c.probe.address, c.probe.port, c.probe.source) for c in database] == [
        ("127.0.0.9", 5432, str(chosen))
    ]
    (check,) = database
    assert check.expect_blocked and check.outcome is Outcome.REFUSED and check.passed
    # clients' own port stays planned: never probed as blocked
    assert not [c for c in found.checks if c.expect_blocked and c.probe.port == 8080]


def test_a_network_destination_is_not_probed_and_the_way_to_check_it_is_named(
    tmp_path: Path,
) -> None:
    """A row towards a clients subnet cannot be probed (its machines are not known one by
    one): the reason said "probe it from a member with --on", which no --on can do (the row
    starts on the server); it names what does check it, the subnet's ruleset, with audit."""
    plan = _plan(
        tmp_path,
        {
            "name": "to-subnet",
            "hosts": {
                "client": {"addresses": ["127.0.1.0/24"]},
                "server": {"addresses": ["127.0.0.3"]},
            },
            "products": {
                "edges": {
                    "file": "product.yaml",
                    "components": {"client": "server", "server": "client"},
                }
            },
        },
    )
    checks, skipped = plan_checks(plan, ("server",), local={ipaddress.ip_address("127.0.0.3")})
    assert checks == []
    assert {s.row.key for s in skipped} == {"edges/web", "edges/radius"}
    for item in skipped:
        assert item.reason == (
            "the destination is a network, not one address: its machines are not known one by "
            "one, so none is probed; check what reaches them with portplan audit --host client "
            "on one of them"
        )

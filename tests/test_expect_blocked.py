"""``portplan verify --expect-blocked`` in namespaces: the generated ruleset keeps blocked what
the plan does not hold, and a ruleset with one port too many fails.

Two namespaces on one bridge: ``src`` (192.0.2.2), where the real CLI runs, and ``dst``
(198.51.100.2), which loads its generated nftables ruleset and listens on every port probed
(so an opening answers ``open``).  The plan: src reaches dst on TCP 443 and UDP 1812; another
host (not in the namespaces, only a source) reaches dst on TCP 5432; the deployment forbids
TCP 22 from src to dst.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import machine
import netns
from portplan import load_plan
from portplan.targets import DefaultAction, RuleOptions, get_target

pytestmark = pytest.mark.netns

SRC, DST = "192.0.2.2", "198.51.100.2"
PRODUCT = {
    "id": "blocked-1",
    "name": "Blocked",
    "version": "1",
    "document": {"title": "Blocked ports"},
    "components": {
        "client": {"name": "Client", "kind": "client"},
        "batch": {"name": "Batch", "kind": "client"},
        "server": {"name": "Server"},
    },
    "flows": [
        {"id": "web", "row": 1, "from": "client", "to": "server", "protocol": "tcp",
         "ports": 443, "purpose": "Pages."},
        {"id": "radius", "row": 2, "from": "client", "to": "server", "protocol": "udp",
         "ports": 1812, "purpose": "RADIUS."},
        {"id": "db", "row": 3, "from": "batch", "to": "server", "protocol": "tcp",
         "ports": 5432, "purpose": "Batch loads."},
    ],
}  # fmt: skip
DEPLOYMENT = {
    "name": "blocked-lab",
    "hosts": {
        "src": {"addresses": [SRC]},
        "dst": {"addresses": [DST]},
        "batch01": {"addresses": ["203.0.113.5"]},
    },
    "products": {
        "blocked-1": {
            "file": "product.yaml",
            "components": {"client": "src", "server": "dst", "batch": "batch01"},
        }
    },
    "forbidden": [
        {"id": "ssh", "from": "src", "to": "dst", "ports": 22, "purpose": "No shell from clients."}
    ],
}
#: every port the test listens on: planned, beside them, other sources', forbidden, extra
PORTS = (22, 442, 443, 444, 1811, 1812, 1813, 5432, 8080)


@pytest.fixture(scope="module", autouse=True)
def namespaces_available() -> Iterator[None]:
    with netns.guard("nft"):
        yield


@pytest.fixture
def deployment(tmp_path: Path) -> Path:
    (tmp_path / "product.yaml").write_text(yaml.safe_dump(PRODUCT))
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump(DEPLOYMENT))
    return path


def run_verify(
    deployment: Path,
    extra_rule: str | None,
    default: DefaultAction = DefaultAction.DROP,
    *flags: str,
) -> tuple[int, dict[str, object], str]:
    plan = load_plan(deployment)
    options = RuleOptions(hosts=("dst",), default=default)
    (ruleset,) = get_target("nftables").render(plan, options).values()
    if extra_rule is not None:
        anchor = 'comment "IPv6 neighbour discovery"\n'
        ruleset = ruleset.replace(anchor, f"{anchor}\t\t{extra_rule}\n")
    with netns.topology() as topo:
        src = topo.add_node("src", [ipaddress.ip_address(SRC)])
        dst = topo.add_node("dst", [ipaddress.ip_address(DST)])
        topo.nft(dst, ruleset)
        address = ipaddress.ip_address(DST)
        topo.listen(dst, [(p, address, port) for port in PORTS for p in ("tcp", "udp")])
        done = subprocess.run(
            ["ip", "netns", "exec", src.netns, sys.executable, "-m", "portplan", "verify",
             str(deployment), "--on", "src", "--expect-blocked", "--format", "json",
             "--timeout", "0.5", "--no-identify", *flags],
            capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    return done.returncode, machine.document(done.stdout, "verify"), done.stderr


def blocked(report: dict[str, object]) -> dict[tuple[str, int], tuple[str, bool]]:
    checks = report["checks"]
    assert isinstance(checks, list)
    return {
        (c["protocol"], c["port"]): (c["outcome"], c["passed"])
        for c in checks
        if any(n.startswith("expected blocked") for n in c["notes"])
    }


def test_the_generated_ruleset_keeps_blocked_what_the_plan_does_not_hold(
    deployment: Path,
) -> None:
    code, report, err = run_verify(deployment, None, DefaultAction.REJECT)
    assert code == 0, err
    found = blocked(report)
    # beside the planned ports, the other source's port, and the forbidden one
    assert set(found) == {
        ("tcp", 442), ("tcp", 444), ("udp", 1811), ("udp", 1813), ("tcp", 5432), ("tcp", 22),
    }  # fmt: skip
    assert all(passed for _outcome, passed in found.values())
    # the reject answers TCP with a reset and UDP with an ICMP error: both say no
    assert {outcome for outcome, _passed in found.values()} <= {"refused", "rejected"}
    assert found[("udp", 1811)] == found[("udp", 1813)] == ("rejected", True)
    planned = [c for c in report["checks"] if c["port"] in (443, 1812)]  # type: ignore[attr-defined]
    assert planned and all(c["passed"] and c["outcome"] == "open" for c in planned)


def test_udp_silence_does_not_prove_a_port_blocked(deployment: Path) -> None:
    # the default drop: TCP silence is a firewall's, but a UDP service that never answers is
    # silent too, so an expected-blocked UDP port that stays silent does not pass
    code, report, _err = run_verify(deployment, None)
    assert code == 1
    found = blocked(report)
    assert {key: found[key] for key in found if key[0] == "udp"} == {
        ("udp", 1811): ("open|filtered", False),
        ("udp", 1813): ("open|filtered", False),
    }
    assert all(passed and outcome == "filtered" for (p, _), (outcome, passed) in found.items()
               if p == "tcp")  # fmt: skip
    udp = [c for c in report["checks"] if c["port"] == 1811]  # type: ignore[attr-defined]
    assert any(n.startswith("for UDP only an answer that says no") for n in udp[0]["notes"])


@pytest.mark.parametrize(
    ("rule", "port"),
    [
        ("tcp dport 444 accept", 444),  # one port too many beside the planned one
        ("ip saddr 192.0.2.0/24 tcp dport 5432 accept", 5432),  # a source the plan does not name
        ("tcp dport 22 accept", 22),  # the forbidden one
    ],
)
def test_one_extra_open_port_fails(deployment: Path, rule: str, port: int) -> None:
    code, report, _err = run_verify(deployment, rule, DefaultAction.REJECT)
    assert code == 1
    found = blocked(report)
    assert found[("tcp", port)] == ("open", False)
    assert [key for key, (_o, passed) in found.items() if not passed] == [("tcp", port)]


@pytest.mark.parametrize(
    ("flows", "planned", "expected"),
    [
        # its own ports' neighbours, and what is forbidden towards its destination
        (("web",), [("tcp", 443)], {("tcp", 442), ("tcp", 444), ("tcp", 22)}),
        (("blocked-1/radius",), [("udp", 1812)], {("udp", 1811), ("udp", 1813), ("tcp", 22)}),
        # planned from another source: its ports from this host, and the forbidden ones
        (("db",), [], {("tcp", 5432), ("tcp", 22)}),
        # a forbidden connection by the name the report gives it: that one alone
        (("forbidden/ssh",), [], {("tcp", 22)}),
        (("web", "forbidden/ssh"), [("tcp", 443)], {("tcp", 442), ("tcp", 444), ("tcp", 22)}),
    ],
)
def test_flow_limits_the_blocked_probes_to_what_the_flows_concern(
    deployment: Path,
    flows: tuple[str, ...],
    planned: list[tuple[str, int]],
    expected: set[tuple[str, int]],
) -> None:
    selected = [option for flow in flows for option in ("--flow", flow)]
    code, report, err = run_verify(deployment, None, DefaultAction.REJECT, *selected)
    assert code == 0, err
    assert set(blocked(report)) == expected
    checks = report["checks"]
    assert isinstance(checks, list)
    assert [(c["protocol"], c["port"]) for c in checks if c["outcome"] == "open"] == planned


def test_a_forbidden_flow_is_probed_only_with_expect_blocked(deployment: Path) -> None:
    with netns.namespace() as bare:  # (refused before anything is sent; nothing could leave)
        done = subprocess.run(
            ["ip", "netns", "exec", bare, sys.executable, "-m", "portplan", "verify",
             str(deployment), "--on", "src", "--flow", "forbidden/ssh"],
            capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "forbidden/ssh is a forbidden connection" in done.stderr
    assert "--expect-blocked" in done.stderr
    assert done.stdout == ""
    # a forbidden id that is not there is refused as well, with the closest one named
    with netns.namespace() as bare:
        done = subprocess.run(
            ["ip", "netns", "exec", bare, sys.executable, "-m", "portplan", "verify",
             str(deployment), "--on", "src", "--flow", "forbidden/shh", "--expect-blocked"],
            capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "no forbidden connection 'forbidden/shh'" in done.stderr
    assert "did you mean 'forbidden/ssh'?" in done.stderr
    assert done.stdout == ""

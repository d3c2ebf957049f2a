"""Special-purpose addresses (``0.0.0.0``, ``::``, multicast, broadcast) a host may declare
(``special: [...]``) are never an address of this machine: not one to send from, nor one
to listen on, nor one the collection's ``probe`` module aims at.  Planning only: nothing here
is sent, and nothing is bound but on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from portplan import load_plan
from portplan._errors import VerifyError
from portplan.model.protocol import Protocol
from portplan.plan import Plan
from portplan.probe.listen import Binding, listen_plan, serve
from portplan.probe.local import is_local, is_own, own_addresses
from portplan.probe.outcomes import Outcome
from portplan.probe.planned import plan_checks
from portplan.probe.remote import RequestError
from portplan.probe.remote import _checks as remote_checks
from portplan.probe.verification import verify

PORT = 18443
PRODUCT = {
    "id": "web-1",
    "name": "Web",
    "version": "1",
    "document": {"title": "Web ports"},
    "components": {"browser": {"name": "Browser", "kind": "client"}, "site": {"name": "Site"}},
    "flows": [
        {"id": "https", "row": 1, "from": "browser", "to": "site", "protocol": "tcp",
         "ports": PORT, "purpose": "Pages."},
    ],
}  # fmt: skip
#: what a host may declare with special: [...], and what binding it would do here
SPECIAL = ["0.0.0.0", "::", "239.1.1.1", "255.255.255.255"]


def _plan(tmp_path: Path, pc: dict[str, Any], www: dict[str, Any]) -> Plan:
    (tmp_path / "web.yaml").write_text(yaml.safe_dump(PRODUCT, sort_keys=False))
    deployment = {
        "name": "special",
        "hosts": {"pc": pc, "www": www},
        "products": {"web-1": {"file": "web.yaml", "components": {"browser": "pc", "site": "www"}}},
    }
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(deployment, sort_keys=False))
    return load_plan(path)


def _special_source(tmp_path: Path) -> Plan:
    # pc's one real address (198.51.100.9, RFC 5737) is no address of this machine
    pc = {"addresses": ["198.51.100.9", *SPECIAL], "special": ["unspecified", "multicast",
          "broadcast"]}  # fmt: skip
    return _plan(tmp_path, pc, {"addresses": ["127.0.0.9"]})


@pytest.mark.parametrize("address", SPECIAL)
def test_a_special_purpose_address_is_never_this_machines(address: str) -> None:
    assert not is_local(address)
    assert not is_own(address)


def test_a_host_declaring_special_addresses_is_not_this_machine_for_them(tmp_path: Path) -> None:
    plan = _special_source(tmp_path)
    assert own_addresses(plan, "pc") == []
    checks, _skipped = plan_checks(plan, ["pc"], local=set())
    assert checks
    for check in checks:  # the kernel's choice, said so: not sent "from 0.0.0.0" as pc's
        assert check.probe.source is None
        assert any("this machine holds none of pc's addresses" in n for n in check.notes)
    with pytest.raises(VerifyError, match="cannot send from it"):
        verify(plan, sources=["pc"], from_addresses=["0.0.0.0"])


def test_the_probe_module_sends_from_no_special_purpose_address() -> None:
    # planned only: nothing is sent to 192.0.2.80 (RFC 5737)
    request = {"flow": "web-1/https", "source": "pc", "destination": "www",
               "address": "192.0.2.80", "protocol": "tcp", "ports": [PORT],
               "source_addresses": ["0.0.0.0", "::"], "expect": "blocked"}  # fmt: skip
    (check,) = remote_checks(request, 0, {})
    assert check.probe.source is None
    assert check.outcome is Outcome.LOCAL_ERROR  # not sent: this host is not pc


def test_no_listener_is_planned_on_a_special_purpose_address(tmp_path: Path) -> None:
    www = {"addresses": ["127.0.0.9", *SPECIAL], "special": ["unspecified", "multicast",
           "broadcast"]}  # fmt: skip
    plan = _plan(tmp_path, {"addresses": ["198.51.100.9"]}, www)
    # what `verify --inventory --listen` gives a destination: every single address it declares
    declared = ["127.0.0.9", *SPECIAL]
    bindings = listen_plan(plan, "www", declared).bindings
    assert [(b.address, b.port) for b in bindings] == [("127.0.0.9", PORT)]


@pytest.mark.parametrize("address", [*SPECIAL, ""])
def test_a_listener_is_never_opened_on_every_address_or_a_group(address: str) -> None:
    # what the collection's listen module may be given: nothing is bound (the old code bound
    # 0.0.0.0, '::' and '' to every address of this machine)
    binding = Binding(address=address, port=PORT, protocol=Protocol.TCP, flows=("web-1/https",))
    opened, failed = asyncio.run(serve([binding], duration=0.05))
    assert opened == []
    ((refused, why),) = failed
    assert refused == binding
    assert "never listened on" in why


@pytest.mark.parametrize("address", [*SPECIAL, "::ffff:192.0.2.1", "ff02::1"])
def test_the_probe_module_refuses_a_special_purpose_destination(address: str) -> None:
    # planned only: the request is refused before anything is sent
    request = {"flow": "web-1/https", "source": "pc", "destination": "www",
               "address": address, "protocol": "udp", "ports": [PORT]}  # fmt: skip
    with pytest.raises(RequestError, match=r"special-purpose address .*: never probed"):
        remote_checks(request, 0, {})


@pytest.mark.parametrize("declared", [["192.0.2.10"], ["192.0.2.0/29", "2001:db8::10"]])
def test_the_probe_module_refuses_an_address_the_destination_does_not_declare(
    declared: list[str],
) -> None:
    # planned only: an address outside the destination's declared ones is never probed
    request = {"flow": "web-1/https", "source": "pc", "destination": "www",
               "address": "192.0.2.77", "destination_addresses": declared,
               "protocol": "tcp", "ports": [PORT]}  # fmt: skip
    with pytest.raises(RequestError, match=r"192.0.2.77 is not among the destination's"):
        remote_checks(request, 0, {})
    inside = {**request, "address": "192.0.2.3" if "/" in declared[0] else declared[0]}
    assert [c.row.key for c in remote_checks(inside, 0, {})] == ["web-1/https"]

"""`portplan apply --on HOST` on a machine that is not HOST, in network namespaces: where the
host has single addresses and this machine holds none of them, apply refuses (exit status
2, nothing changed) unless --force, which it names in a warning; --check, which changes
nothing, does not ask."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import examples
import netns
from applying import apply_da01 as apply

pytestmark = pytest.mark.netns

SMART_ID = examples.EXAMPLES / "smart-id-nexus.yaml"


@pytest.fixture
def namespace() -> Iterator[str]:
    reason = netns.unavailable("nft")
    if reason:
        pytest.skip(reason)
    with netns.namespace() as name:
        yield name


def ruleset(ns: str) -> str:
    return netns.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"]).stdout


def test_a_machine_without_the_hosts_addresses_is_refused(namespace: str) -> None:
    netns.hold_addresses(namespace, "192.0.2.50")  # pgsql01's, not da01's
    before = ruleset(namespace)
    refused = apply(namespace, "--confirm-timeout", "1")
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 2, said
    assert "this machine holds none of da01's addresses (192.0.2.40)" in said
    assert "those of pgsql01 of the deployment" in said and "nothing was changed" in said
    assert "--force" in said and "Traceback" not in said
    assert ruleset(namespace) == before


def test_force_applies_on_a_machine_without_the_hosts_addresses_and_says_so(
    namespace: str,
) -> None:
    forced = apply(namespace, "--confirm-timeout", "1", "--force")
    said = " ".join(forced.stderr.split())
    assert forced.returncode == 1, said  # applied, not confirmed, rolled back
    assert "warning: --force overrides the check that this is da01: this machine holds" in said
    assert said.index("overrides the check") < said.index("portplan: applied.")


def test_a_machine_holding_one_of_the_hosts_addresses_goes_ahead(namespace: str) -> None:
    netns.hold_addresses(namespace, "192.0.2.40")
    went = apply(namespace, "--confirm-timeout", "1")
    assert went.returncode == 1 and "previous ruleset is restored" in went.stderr, went.stderr
    assert "none of da01's addresses" not in went.stderr


def test_check_only_does_not_ask_which_machine_this_is(namespace: str) -> None:
    checked = apply(namespace, "--check")
    assert checked.returncode == 0, checked.stderr


def test_a_machine_holding_an_address_of_the_hosts_network_goes_ahead(
    namespace: str, tmp_path: Path
) -> None:
    # da01 declared by its address and a network (its other interfaces' addresses); this
    # machine holds one address of that network. Before: refused, as holding "none of da01's
    # addresses (192.0.2.40)"
    deployment = tmp_path / "deployment.yaml"
    text = SMART_ID.read_text()
    declared = "    addresses: [192.0.2.40]\n"
    assert text.count(declared) == 1
    deployment.write_text(text.replace(declared, "    addresses: [192.0.2.40, 198.51.100.64/27]\n"))
    netns.hold_addresses(namespace, "198.51.100.70")
    went = apply(namespace, "--confirm-timeout", "1", deployment=deployment)
    assert went.returncode == 1 and "previous ruleset is restored" in went.stderr, went.stderr
    assert "none of da01's addresses" not in went.stderr


def test_a_machine_outside_the_hosts_network_is_refused_naming_it(
    namespace: str, tmp_path: Path
) -> None:
    deployment = tmp_path / "deployment.yaml"
    text = SMART_ID.read_text()
    declared = "    addresses: [192.0.2.40]\n"
    deployment.write_text(text.replace(declared, "    addresses: [192.0.2.40, 198.51.100.64/27]\n"))
    netns.hold_addresses(namespace, "198.51.100.7")  # (outside 198.51.100.64/27)
    before = ruleset(namespace)
    refused = apply(namespace, "--confirm-timeout", "1", deployment=deployment)
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 2, said
    assert "this machine holds none of da01's addresses (192.0.2.40, 198.51.100.64/27)" in said
    assert ruleset(namespace) == before

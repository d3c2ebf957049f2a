"""An IPv6 address in a port cell is reported, never read as ports: its first group
(``2001`` of ``2001:db8::1``) is a number, and was drafted as a port the vendor never named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from portplan.cli import cli
from portplan.importer._portread import read_ports


@pytest.mark.parametrize(
    ("cell", "address", "ports"),
    [
        ("2001:db8::1 443, 8443", "2001:db8::1", [443, 8443]),  # was ports 2001 and 8443
        ("2001:db8::/32", "2001:db8::/32", None),  # was port 2001
        ("[2001:db8::1]:443", "[2001:db8::1]:443", None),  # was a parameter of the address
        (
            "2001:0db8:0000:0000:0000:0000:0000:0001",
            "2001:0db8:0000:0000:0000:0000:0000:0001",
            None,
        ),
        ("fe80::1%eth0", "fe80::1%eth0", None),
    ],
)
def test_an_ipv6_address_in_a_port_cell_is_reported_never_ports(
    tmp_path: Path, cell: str, address: str, ports: list[int] | None
) -> None:
    page = tmp_path / "ports.csv"
    page.write_text(f'Source,Destination,Port,Protocol\nA,B,"{cell}",TCP\nA,B,22,TCP\n')
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "-o", str(out)])
    assert result.exit_code == 1
    product = yaml.safe_load(out.read_text())
    drafted = [f["ports"] for f in product["flows"]]
    assert drafted == ([ports] if ports else []) + [[22]]
    assert "parameters" not in product
    (line,) = [x for x in result.stderr.splitlines() if not x.startswith("portplan:")]
    assert line == (
        f"{page}:2:5: column 'Port': could not read {address!r}: an IPv6 address, not a port"
    )


@pytest.mark.parametrize("cell", ["8000:8100", "10:30:00", "TCP:443"])
def test_colons_that_make_no_ipv6_address_are_not_reported_as_one(cell: str) -> None:
    assert not any("IPv6" in f.message for f in read_ports(cell).faults)

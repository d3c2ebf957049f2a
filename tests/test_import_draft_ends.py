"""`portplan import` of the ends of a flow and of the words around a port: a draft names no
component, port or parameter the vendor did not write (the corpus' fourth round: VMware View's
Source/Port/Target/Port tables, Cisco ISE's port cells with notes)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from portplan.cli import cli
from portplan.load.product import load_product
from portplan.model import Product


def drafted(doc: Path, text: str) -> tuple[int, str, Product]:
    """``portplan import`` of ``text`` written to ``doc``: the exit status, standard error and
    the draft, loaded (so validated)."""
    doc.write_text(text)
    out = doc.with_name(f"{doc.name}.yaml")
    result = CliRunner().invoke(cli, ["import", str(doc), "-o", str(out)])
    return result.exit_code, result.stderr, load_product(out)


def test_a_version_bound_after_or_is_part_of_the_name_not_a_second_end(tmp_path: Path) -> None:
    """VMware View's ``View Client 4.5 or earlier`` drafted two destinations, ``View Client
    4.5`` and ``earlier``: a component the vendor never named, reached on the row's port."""
    code, stderr, product = drafted(
        tmp_path / "ports.csv",
        "Source,Target,Port,Protocol\n"
        "View Connection Server,View Client 4.5 or earlier,50002,UDP\n"
        "View Connection Server,View Agent 4.6 and later,4172,UDP\n"
        "Backup server,repository or gateway server,2500,TCP\n",
    )
    assert code == 0, stderr
    names = {k: c.name for k, c in product.components.items()}
    assert [[names[d] for d in f.destination] for f in product.flows] == [
        ["View Client 4.5 or earlier"],
        ["View Agent 4.6 and later"],
        ["repository", "gateway server"],
    ]


def test_a_port_column_after_the_source_is_the_source_port_not_the_targets(
    tmp_path: Path,
) -> None:
    """VMware View's ``Source | Port | Target | Port`` tables: both ``Port`` columns were read
    as the target's, so ``View Connection Server, 4172 -> View Agent, 50002`` drafted the
    agent listening on 4172 and 50002, a port the vendor gave the source only.  The first is
    now the source's port: reported, kept as the row's column, never a port of the flow."""
    doc = tmp_path / "ports.csv"
    code, stderr, product = drafted(
        doc,
        "Source,Port,Target,Port,Protocol\n"
        "View Connection Server,4172,View Agent 4.6 or later,50002,UDP\n",
    )
    assert code == 1
    assert f"{doc}:2:24: column 'Port': source port '4172' is not modelled" in stderr
    (flow,) = product.flows
    assert [str(p) for p in flow.ports or ()] == ["50002"]
    assert flow.columns == {"Port": "4172"}
    # one Port column only, or no destination column before the second: the heading decides
    code, stderr, product = drafted(
        tmp_path / "one.csv", "Source,Port,Target,Protocol\nServer,443,Agent,TCP\n"
    )
    assert code == 0, stderr
    assert [str(p) for f in product.flows for p in f.ports or ()] == ["443"]

"""`portplan import` of every corpus document against the product modelled from it by hand
(tests/data/vendor-docs/*/product.yaml): the same flows up to ids and wording.

Flows are matched by vendor row (the table's position and the row's number) and compared on
what a firewall sees: protocol, listening ports, published ports and ICMP types (a port
parameter counts as its default; one without a default as "left to the deployment"), and on
who connects to whom up to a renaming of components that is the same in every row.  A row the
import lists as unread is not compared, but must be one the import reports.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

import pytest

from portplan.importer import Field, import_document
from portplan.importer.draft import draft_yaml
from portplan.load.product import load_product
from portplan.model import ANY, ParamRef, PortRange, PortSet, Product
from portplan.model.product import Flow

CORPUS = Path(__file__).resolve().parent / "data" / "vendor-docs"
FOLDERS = sorted(p for p in CORPUS.iterdir() if (p / "SOURCE.md").is_file())

Key = tuple[int, int]  #: (table position, row number)

#: rows whose description adds a flow the cells do not hold, which the hand model reads and the
#: import cannot: the import must give the rest (document, table position, row) -> why
FROM_PROSE: dict[tuple[str, int, int], str] = {
    ("paloalto-pan-os-6.1-ports", 0, 9): "with a third-party MDM the gateway uses its port",
}
Signature = tuple[str, str, bool, tuple[str, ...]]


def _ports(
    product: Product, items: Iterable[PortRange | ParamRef] | None
) -> tuple[list[PortRange], int]:
    """The ports of ``items`` (a parameter counts as its default) and how many are left open."""
    ranges: list[PortRange] = []
    left_open = 0
    for item in items or ():
        if isinstance(item, PortRange):
            ranges.append(item)
            continue
        default = product.parameters[item.name].default
        if default is None:
            left_open += 1
        else:
            ranges.extend(default)
    return ranges, left_open


def _opened(product: Product, flows: Iterable[Flow]) -> dict[str, Signature]:
    """What a row's flows open, per protocol: listening and published ports, whether a port is
    left to the deployment, ICMP types (how the row is cut into flows does not matter)."""
    parts: dict[str, tuple[list[PortRange], list[PortRange], bool, set[str]]] = {}
    for flow in flows:
        listen, published, left, types = parts.setdefault(
            flow.protocol.value, ([], [], False, set())
        )
        ranges, left_listen = _ports(product, flow.ports)
        listen.extend(ranges)
        if flow.published is not None:
            ranges, left_published = _ports(product, flow.published.ports)
            published.extend(ranges)
            left_listen += left_published
        types.update(t.value for t in flow.icmp)
        parts[flow.protocol.value] = (listen, published, left or left_listen > 0, types)
    return {
        protocol: (str(PortSet.of(listen)), str(PortSet.of(published)), left, tuple(sorted(types)))
        for protocol, (listen, published, left, types) in parts.items()
    }


def _within(imported: dict[str, Signature], hand: dict[str, Signature]) -> bool:
    """Whether everything ``imported`` opens, ``hand`` opens too (per protocol)."""
    for protocol, (listen, published, _left, types) in imported.items():
        if protocol not in hand:
            return False
        theirs = hand[protocol]
        for mine, whole in ((listen, theirs[0]), (published, theirs[1])):
            if mine and (
                not whole or PortSet.parse(mine).union(PortSet.parse(whole)) != PortSet.parse(whole)
            ):
                return False
        if not set(types) <= set(theirs[3]):
            return False
    return True


def _by_row(product: Product) -> dict[Key, list[Flow]]:
    position = {s.id: i for i, s in enumerate(product.sections)}
    rows: dict[Key, list[Flow]] = defaultdict(list)
    for flow in product.flows:
        rows[(position[flow.section] if flow.section else 0, flow.row)].append(flow)
    return rows


def _document(folder: Path) -> Path:
    (document,) = [
        f for f in folder.iterdir() if f.is_file() and f.name not in ("SOURCE.md", "product.yaml")
    ]
    return document


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_the_import_equals_the_hand_model_up_to_ids_and_wording(
    folder: Path, tmp_path: Path
) -> None:
    hand = load_product(folder / "product.yaml")
    reading = import_document(_document(folder))
    draft = draft_yaml(reading)
    (tmp_path / "draft.yaml").write_text(draft.text)
    imported = load_product(tmp_path / "draft.yaml")
    assert len(hand.sections) == len(reading.tables), "one section per vendor table"

    unread_rows: set[Key] = set()
    for position, table in enumerate(reading.tables):
        for row in table.rows:
            where = {str(c.origin or c.where) for c in row.row.cells} | {str(row.row.where)}
            if any(str(u.where) in where for u in draft.unread):
                unread_rows.add((position, row.number))

    # a table with no column (nor title) that names who talks says nothing the renaming could
    # check: the draft's ends are its stand-ins (any client, the product), the hand model's
    # come from the prose
    ends = {Field.SOURCE, Field.DESTINATION, Field.SUBCOMPONENT, Field.PEER, Field.COMPONENT}
    silent = {
        position
        for position, table in enumerate(reading.tables)
        if table.arrow is None and not {r.field for r in table.roles if r} & ends
    }
    hand_rows, imported_rows = _by_row(hand), _by_row(imported)
    renaming: dict[str, Counter[str]] = defaultdict(Counter)
    for key in sorted(set(hand_rows) | set(imported_rows)):
        mine = hand_rows.get(key, [])
        theirs = imported_rows.get(key, [])
        if key in unread_rows:  # what the import did draft of a row it reports is right
            assert _within(_opened(imported, theirs), _opened(hand, mine)), (folder.name, key)
            continue
        # what the row opens; a hand model may cut a row into other flows (a destination each,
        # one of them conditional; a flow per line of a cell), which open the same
        if (folder.name, *key) in FROM_PROSE:
            mine = [
                f for f in mine if _opened(imported, theirs).items() >= _opened(hand, [f]).items()
            ]
            assert mine, (folder.name, key, "the import gives none of the hand model's flows")
        assert _opened(hand, mine) == _opened(imported, theirs), (
            folder.name,
            "table",
            key[0] + 1,
            "row",
            key[1],
        )
        for flow in theirs if key[0] not in silent else ():
            match = next((f for f in mine if f.protocol is flow.protocol), None)
            assert match is not None
            for ours, hands in ((flow.source, match.source), (flow.destination, match.destination)):
                # 'any' is what a table without a source column says; the hand model may name
                # the source its prose gives ("forwarders send to indexers on 9997")
                if len(ours) == 1 and len(hands) == 1 and ours[0] != ANY:
                    renaming[ours[0]][hands[0]] += 1
    # one renaming for the whole document: an imported component is one hand component
    conflicts = {k: dict(v) for k, v in renaming.items() if len(v) > 1}
    assert not conflicts, (folder.name, conflicts)

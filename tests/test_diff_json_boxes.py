"""``portplan diff --format json`` holds every box a change opens or closes, however many: the
delta (CSV) lists each, and a close left out of the JSON is a port left open by whoever
applies it."""

from __future__ import annotations

import csv
import io

import machine
from portplan.diff import Change, ChangeKind, PlanDiff
from portplan.report.diff import diff_csv, diff_json
from portplan.spaces import TCP, Ranges, Space

#: one box per port: 10.8.0.0/21 but one address of its own, to 10.0.1.10 (as a subnet's
#: row gone while each of its hosts keeps a port of its own)
HOST, SUBNET, DESTINATION = 0x0A080000, (0x0A080000, 0x0A0807FF), 0x0A00010A


def closed(count: int) -> Space:
    out = Space.empty()
    for port in range(1, count + 1):
        sources = Ranges.of([SUBNET]) - Ranges.point(HOST + 2 * port)
        out = out | Space.of(
            4,
            sources=sources,
            destinations=Ranges.point(DESTINATION),
            protocols=Ranges.point(TCP),
            ports=Ranges.point(port),
        )
    return out


def test_a_close_of_more_than_a_thousand_boxes_is_whole_in_the_json() -> None:
    space = closed(1003)
    change = Change(
        kind=ChangeKind.CLOSE,
        flow="management/all",
        source="clients",
        destination="app01",
        protocol="tcp",
        reference="r",
        opened=Space.empty(),
        closed=space,
        causes=(),
    )
    found = PlanDiff(old="old", new="new", changes=[change])
    lines = list(csv.DictReader(io.StringIO(diff_csv(found))))
    assert len(lines) == len(space.normalised().boxes) == 1003
    data = machine.document(diff_json(found), "diff")
    (record,) = data["changes"]
    assert len(record["close"]) == 1003
    assert sorted(r["ports"][0][0] for r in record["close"]) == list(range(1, 1004))

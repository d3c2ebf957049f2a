"""The plan keeps its rows as flow legs (plan._legs); everything read from the legs equals what
the rows themselves give, one by one.

A plan whose rows are a plain tuple (``dataclasses.replace(plan, rows=...)``, as tests and
tampering checks make) is read through one leg per row: the row-by-row reading.  Every
output read from the legs (the streamed CSV, each host's view, the hosts that get rulesets
and those skipped) is compared with that reading, for every example deployment and a
deployment of 50 hosts.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import pytest

import examples
from portplan import load_plan
from portplan._errors import TargetError
from portplan.plan import Leg, Plan, PlanRows, SourceEnd, legs_of, plan_legs
from portplan.report import matrix
from portplan.report.matrix import matrix_bytes
from portplan.targets.hostview import host_view, rule_hosts, skipped_hosts

NAMES = ["shopping-contoso", "smart-id-nexus", "smart-id-k8s", "search-cluster"]
#: a cluster whose members only send (tests/data/cluster-sends/)
CLUSTER_SENDS = Path(__file__).resolve().parent / "data" / "cluster-sends" / "deployment.yaml"


def _plans(name: str, tmp_path: Path) -> tuple[Plan, Plan]:
    """The plan of ``name`` as planned (legs) and with its rows as a plain tuple."""
    if name == "fifty-hosts":
        plan = load_plan(examples.fifty_host_deployment(tmp_path))
    elif name == "cluster-sends":
        plan = load_plan(CLUSTER_SENDS)
    else:
        plan = examples.example_plan(name)
    assert isinstance(plan.rows, PlanRows)
    return plan, dataclasses.replace(plan, rows=tuple(plan.rows))


@pytest.fixture(params=[*NAMES, "fifty-hosts", "cluster-sends"])
def plans(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Plan, Plan]:
    return _plans(request.param, tmp_path)


def test_the_rows_of_the_legs_are_the_rows(plans: tuple[Plan, Plan]) -> None:
    plan, by_row = plans
    rows = plan.rows
    assert isinstance(rows, PlanRows)
    assert len(rows) == len(tuple(rows)) > 0
    assert rows == by_row.rows and plan == by_row
    assert rows[0] is next(iter(rows))  # made once: every reading sees the same objects
    remade = [row for leg in legs_of(by_row.rows) for row in leg.rows()]
    assert remade == list(rows)
    assert [row for leg in rows.legs for row in leg.rows()] == list(rows)


def test_the_csv_read_from_the_legs_is_the_csv_row_by_row(plans: tuple[Plan, Plan]) -> None:
    plan, by_row = plans
    assert matrix_bytes(plan, "csv") == matrix_bytes(by_row, "csv")


def test_the_csv_is_made_a_few_lines_at_a_time_even_within_a_leg_end(
    plans: tuple[Plan, Plan], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A destination with 50,000 sources is written a chunk of lines at a time, not as one
    string of many megabytes; chunks of 2 lines here (the fifty-host
    deployment's leg ends have more)."""
    plan, by_row = plans
    monkeypatch.setattr(matrix, "_CHUNK", 2)
    chunks = list(matrix._csv_chunks(plan))
    assert "".join(chunks).encode() == matrix_bytes(by_row, "csv")
    # at most a chunk's worth past the chunk size (and the header)
    assert max(len(list(csv.reader(io.StringIO(chunk)))) for chunk in chunks) <= 4


def test_a_leg_end_with_more_sources_than_a_chunk_is_among_the_plans(tmp_path: Path) -> None:
    """(so that the test above splits a leg end's lines, joined and line by line)"""
    ends = [
        end
        for name in NAMES
        for leg in plan_legs(examples.example_plan(name)).legs
        for end in leg.ends
    ]
    ends += [end for leg in plan_legs(_plans("fifty-hosts", tmp_path)[0]).legs for end in leg.ends]
    assert max(len(end.sources) for end in ends) > 4
    assert max(len(end.sources) for end in ends if len({s.zone for s in end.sources}) > 1) > 2


def test_a_leg_end_whose_sources_lie_in_several_zones_is_among_the_examples() -> None:
    """(so that the CSV's line-by-line branch is compared above, not only the joined one)"""
    zones = [
        {source.zone for source in end.sources}
        for name in NAMES
        for leg in plan_legs(examples.example_plan(name)).legs
        for end in leg.ends
    ]
    assert any(len(found) > 1 for found in zones)


@pytest.mark.parametrize("egress", [False, True])
def test_host_views_from_the_legs_are_the_views_row_by_row(
    plans: tuple[Plan, Plan], egress: bool
) -> None:
    plan, by_row = plans
    assert rule_hosts(plan) == rule_hosts(by_row)
    assert list(skipped_hosts(plan).items()) == list(skipped_hosts(by_row).items())
    compared = 0
    for host in plan.hosts:
        addresses = plan.host_addresses(host)
        try:
            view = host_view(plan, host, addresses, egress=egress)
        except TargetError as refused:  # a host known by name only: the same refusal
            with pytest.raises(TargetError) as again:
                host_view(by_row, host, addresses, egress=egress)
            assert str(again.value) == str(refused)
            continue
        assert view == host_view(by_row, host, addresses, egress=egress)
        compared += bool(view.rules)
    assert compared > 0


def _rule_hosts_row_by_row(plan: Plan) -> tuple[str, ...]:
    """rule_hosts as its docstring says, row by row (the destination, then the source)."""
    skipped = {name for name in plan.hosts if plan.unmanaged(name) is not None}
    # a network of machines only when rows end on it; a cluster's members are machines
    networks = {name for name, host in plan.hosts.items() if host.is_group and not host.cluster}
    seen: dict[str, None] = {}
    for row in plan.rows:
        if row.destination not in skipped:
            seen.setdefault(row.destination)
        if row.source not in networks and row.source not in skipped:
            seen.setdefault(row.source)
    return tuple(seen)


def _skipped_row_by_row(plan: Plan) -> dict[str, str]:
    """skipped_hosts row by row (the source, then the destination)."""
    skipped: dict[str, str] = {}
    for row in plan.rows:
        for host in (row.source, row.destination):
            why = plan.unmanaged(host)
            if why is not None:
                skipped.setdefault(host, why)
    return skipped


def _with_shared_sources(plan: Plan) -> Plan:
    """``plan`` and two more legs that share one list of sources, an unmanaged host first,
    towards an unmanaged host and a managed one: where the order of what is met matters."""
    legs = plan_legs(plan).legs
    unmanaged = [name for name in plan.hosts if plan.unmanaged(name) is not None]
    managed = [name for name in plan.hosts if plan.unmanaged(name) is None]
    assert len(unmanaged) >= 2 and len(managed) >= 2
    ends = {end.destination: end for leg in legs for end in leg.ends}
    sources = tuple(
        SourceEnd(name, "client", plan.hosts[name].addresses, plan.hosts[name].zone)
        for name in (unmanaged[1], managed[0], unmanaged[0], managed[1])
    )
    template = next(iter(ends.values()))
    extra = [
        Leg(
            legs[0].facts,
            (template._replace(destination=destination, sources=sources),),
        )
        for destination in (unmanaged[0], managed[1])
    ]
    return dataclasses.replace(plan, rows=PlanRows([*extra, *legs, *extra]))


def test_the_hosts_read_from_the_legs_are_those_row_by_row(plans: tuple[Plan, Plan]) -> None:
    plan = plans[0]
    assert rule_hosts(plan) == _rule_hosts_row_by_row(plan)
    # (in plan order: a dict's == would not see the order)
    assert list(skipped_hosts(plan).items()) == list(_skipped_row_by_row(plan).items())


def test_so_are_they_when_legs_share_a_list_of_sources() -> None:
    plan = _with_shared_sources(examples.example_plan("search-cluster"))
    assert rule_hosts(plan) == _rule_hosts_row_by_row(plan)
    # (in plan order: a dict's == would not see the order)
    assert list(skipped_hosts(plan).items()) == list(_skipped_row_by_row(plan).items())

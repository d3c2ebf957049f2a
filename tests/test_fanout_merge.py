"""``verify --inventory`` merges what each source host returned: every planned probe is in the
report exactly once, with the host's record or an honest reason why there is none.

Pure planning and merging (no Ansible here): the records are those the probe module would
return, made from the planned checks with :func:`~portplan.probe.records.check_record`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from examples import example_data, example_plan
from portplan import load_plan
from portplan._errors import InventoryError
from portplan.fanout.merge import HostResult, merge
from portplan.fanout.work import Fanout, outside_limit, plan_fanout
from portplan.load.inventory import InventoryHost
from portplan.probe.bynames import name_checks
from portplan.probe.dns import NameLookup
from portplan.probe.outcomes import Evidence, Outcome, PortResult
from portplan.probe.records import check_record
from portplan.probe.verify import FlowCheck


def _fanout(example: str) -> Fanout:
    plan = example_plan(example)
    inventory = {h: InventoryHost(name=h, variables={}, groups=()) for h in plan.hosts}
    return plan_fanout(plan, inventory, where="the inventory inventory.yml")


def _open(check: FlowCheck, address: str | None = None) -> dict[str, Any]:
    """The record of ``check`` found open (at ``address``, for a name resolved there)."""
    probe = check.probe if address is None else replace(check.probe, address=address)
    done = replace(
        check,
        probe=probe,
        result=PortResult(probe=probe, outcome=Outcome.OPEN, evidence=Evidence()),
        temporary_listener=True,
        notes=list(check.notes),
    )
    return check_record(done)


def _all_open(fanout: Fanout) -> dict[str, HostResult]:
    return {
        host: HostResult(records=tuple(_open(c) for c in work.checks), elapsed=0.1)
        for host, work in fanout.sources.items()
    }


def _key(check: FlowCheck) -> tuple[str, str, int | None]:
    return (check.row.key, check.probe.address, check.probe.port)


def test_every_record_is_merged() -> None:
    fanout = _fanout("shopping-contoso")
    merged = merge(fanout, _all_open(fanout))
    planned = [_key(c) for w in fanout.sources.values() for c in w.checks]
    assert sorted(_key(c) for c in merged.checks) == sorted(planned)
    assert merged.passed


@pytest.mark.parametrize("keep", [0, 1])
def test_a_probe_the_host_did_not_report_is_not_run(keep: int) -> None:
    # a host that answers "ok" with fewer records than it was asked for (none at all, or
    # all but the last) has not verified the rest: they are in the report, and they fail
    fanout = _fanout("shopping-contoso")
    results = _all_open(fanout)
    host, work = next(iter(fanout.sources.items()))
    kept = work.checks[:keep] if keep == 0 else work.checks[:-1]
    results[host] = HostResult(records=tuple(_open(c) for c in kept), elapsed=0.1)
    merged = merge(fanout, results)

    planned = [_key(c) for w in fanout.sources.values() for c in w.checks]
    assert sorted(_key(c) for c in merged.checks) == sorted(planned)
    missing = [c for c in merged.checks if c.row.source == host and _key(c) not in map(_key, kept)]
    assert len(missing) == len(work.checks) - len(kept)
    for check in missing:
        assert check.outcome is Outcome.NOT_RUN
        assert not check.passed
        assert check.result is not None and check.result.evidence.note is not None
        assert check.result.evidence.note.startswith(f"{host}: ")
        assert "no result" in check.result.evidence.note
    assert not merged.passed


def test_a_cluster_member_leaves_out_only_itself() -> None:
    # the member that probes a mesh row does not probe its own address (portplan.probe.remote):
    # that probe is not missing; any other member's is
    fanout = _fanout("search-cluster")
    results = _all_open(fanout)
    work = fanout.sources["search"]
    own = work.requests[0]["source_addresses"]
    assert own == ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
    mesh = [c for c in work.checks if c.row.source == c.row.destination]
    assert mesh
    itself = [c for c in mesh if c.probe.address == "192.0.2.11"]
    others = [c for c in work.checks if c not in itself]
    results["search"] = HostResult(records=tuple(_open(c) for c in others), elapsed=0.1)
    merged = merge(fanout, results)
    assert merged.passed
    mine = [c for c in merged.checks if c.row.source == "search"]
    assert not any(c.probe.address == "192.0.2.11" for c in mine)
    # a host that leaves out another member has not verified that path
    dropped = [c for c in mesh if c.probe.address == "192.0.2.12"][:1]
    results["search"] = HostResult(
        records=tuple(_open(c) for c in others if c not in dropped), elapsed=0.1
    )
    merged = merge(fanout, results)
    assert not merged.passed
    assert {_key(c) for c in merged.checks if c.outcome is Outcome.NOT_RUN} == set(
        map(_key, dropped)
    )
    # two members left out of every mesh row: which one the host is, nothing says
    results["search"] = HostResult(
        records=tuple(_open(c) for c in others if c.probe.address != "192.0.2.12"), elapsed=0.1
    )
    merged = merge(fanout, results)
    assert {_key(c) for c in merged.checks if c.outcome is Outcome.NOT_RUN} == {
        _key(c) for c in mesh if c.probe.address in ("192.0.2.11", "192.0.2.12")
    }


def test_a_name_resolved_there_is_every_address_it_resolved_to() -> None:
    fanout = _fanout("search-cluster")
    results = _all_open(fanout)
    work = fanout.sources["dash01"]
    (named,) = [c for c in work.checks if c.dns_name is not None]
    others = [c for c in work.checks if c is not named]
    resolved = [_open(named, "192.0.2.80"), _open(named, "2001:db8::80")]
    results["dash01"] = HostResult(records=(*(_open(c) for c in others), *resolved), elapsed=0.1)
    merged = merge(fanout, results)
    assert merged.passed
    got = [
        c.probe.address
        for c in merged.checks
        if c.row.key == named.row.key and c.row.source == "dash01"
    ]
    assert got == ["192.0.2.80", "2001:db8::80"]


@pytest.mark.parametrize("stray", ["address", "row"])
def test_a_record_the_host_was_not_asked_for_fails_that_host_only(stray: str) -> None:
    # a record for a planned row but another destination address (or for a row of another
    # source) is no result of anything the host was asked: that host's results are not used,
    # each of its probes is not-run with the reason, and every other host's results stand
    fanout = _fanout("shopping-contoso")
    results = _all_open(fanout)
    (host, work), (other, other_work) = list(fanout.sources.items())[:2]
    first = work.checks[0]
    if stray == "address":
        record, shown = _open(first, "203.0.113.99"), "203.0.113.99"
    else:
        record, shown = _open(other_work.checks[0]), other_work.checks[0].row.key
    results[host] = HostResult(records=(*(_open(c) for c in work.checks), record), elapsed=0.1)
    merged = merge(fanout, results)

    planned = [_key(c) for w in fanout.sources.values() for c in w.checks]
    assert sorted(_key(c) for c in merged.checks) == sorted(planned)
    mine = [c for c in merged.checks if c.row.source == host]
    assert len(mine) == len(work.checks)
    for check in mine:
        assert check.outcome is Outcome.NOT_RUN
        assert not check.passed
        assert check.result is not None and check.result.evidence.note is not None
        note = check.result.evidence.note
        assert note.startswith(f"{host}: returned a result for ")
        assert shown in note and "not asked to probe" in note
        assert "none of its results are used" in note
    rest = [c for c in merged.checks if c.row.source != host]
    assert rest and all(c.outcome is Outcome.OPEN and c.passed for c in rest)
    assert {c.row.source for c in rest} >= {other}
    assert not merged.passed


@pytest.mark.parametrize(
    "lookup",
    [
        # the name also resolves to an address the deployment does not declare for sql01
        NameLookup(name="sql01.example.com", addresses=("192.0.2.20", "192.0.2.99")),
        # the name does not resolve
        NameLookup(name="sql01.example.com", addresses=(), error="no such name"),
    ],
    ids=["an-undeclared-address", "no-such-name"],
)
def test_what_a_destination_name_says_on_the_host_is_merged(
    lookup: NameLookup, tmp_path: Path
) -> None:
    """A destination with addresses and a name: the host probes the declared addresses and
    adds a dns-error record for what the name says beside them (portplan.probe.bynames); the
    merge takes it (it refused it as a probe it was not asked for, and the run ended)."""
    data = example_data("shopping-contoso")
    data["hosts"]["sql01"]["dns_name"] = "sql01.example.com"
    (tmp_path / "d.yaml").write_text(yaml.safe_dump(data))
    plan = load_plan(tmp_path / "d.yaml")
    inventory = {h: InventoryHost(name=h, variables={}, groups=()) for h in plan.hosts}
    fanout = plan_fanout(plan, inventory, where="the inventory inventory.yml")
    results = _all_open(fanout)
    host, work = next((h, w) for h, w in fanout.sources.items() if any(
        c.dns_name == "sql01.example.com" for c in w.checks))  # fmt: skip
    on_host = name_checks(work.checks, {"sql01.example.com": lookup})
    errors = [c for c in on_host if c.result is not None]
    assert errors and all(c.outcome is Outcome.DNS_ERROR for c in errors)
    records = [_open(c) for c in work.checks] + [check_record(c) for c in errors]
    results[host] = HostResult(records=tuple(records), elapsed=0.1)
    merged = merge(fanout, results)
    mine = [c for c in merged.checks if c.row.source == host]
    assert len(mine) == len(work.checks) + len(errors)
    assert [c for c in mine if c.outcome is Outcome.DNS_ERROR] == errors
    assert not any(c.outcome is Outcome.NOT_RUN for c in mine)
    assert not merged.passed  # a dns-error fails, as it does with --on


@pytest.mark.parametrize("flows", [(), ("updates",)], ids=["every-flow", "one-flow"])
def test_the_sources_limit_leaves_out_are_reported_not_probed(flows: tuple[str, ...]) -> None:
    # --limit dash: only dash01 probes; every row of another managed source is in the report
    # as not probed, outside the limit, and the rows nobody can probe still say why
    plan = example_plan("search-cluster")
    everything = plan_fanout(
        plan, {h: InventoryHost(name=h, variables={}, groups=()) for h in plan.hosts},
        where="the inventory inventory.yml", flows=flows,
    )  # fmt: skip
    dash = InventoryHost(name="dash", variables={"portplan_host": "dash01"}, groups=())
    inventory = {"dash": dash}
    fanout = plan_fanout(
        plan, inventory, where="the inventory inventory.yml", flows=flows, limit="dash"
    )

    assert list(fanout.sources) == ["dash01"]
    assert fanout.sources["dash01"].checks == everything.sources["dash01"].checks
    wanted = [r for r in plan.rows if not flows or r.flow_id in flows]
    outside = {r.source for r in wanted if r.source not in ("dash01", "anywhere", "monitor")}
    assert fanout.left_out == [s for s in ("search", "admin-net") if s in outside]
    reason = {s: outside_limit(s, "dash") for s in fanout.left_out}
    assert "--limit dash leaves out" in reason["search"]
    # each row of a left-out source once, with that reason; every other row as without --limit
    expected = [
        (s.row.key, s.row.source, s.row.destination, s.reason)
        for s in everything.skipped
        if s.row.source not in fanout.left_out
    ] + [
        (r.key, r.source, r.destination, reason[r.source])
        for r in wanted
        if r.source in fanout.left_out
    ]
    got = [(s.row.key, s.row.source, s.row.destination, s.reason) for s in fanout.skipped]
    assert sorted(got) == sorted(expected)
    assert any(s.row.source == "anywhere" for s in fanout.skipped) == (not flows)
    order = [plan.rows.index(s.row) for s in fanout.skipped]
    assert order == sorted(order)  # in plan order, as verify lists them

    merged = merge(fanout, _all_open(fanout))
    assert merged.skipped == tuple(fanout.skipped)
    assert merged.passed


def test_a_host_the_inventory_lacks_is_named_once() -> None:
    # da01 is both a source and a destination of listeners: one problem, not two
    plan = example_plan("smart-id-nexus")
    inventory = {
        h: InventoryHost(name=h, variables={}, groups=()) for h in plan.hosts if h != "da01"
    }
    with pytest.raises(InventoryError) as caught:
        plan_fanout(plan, inventory, where="the inventory inventory.yml", listeners=True)
    message = str(caught.value)
    assert message.count("deployment host 'da01' is not in the inventory") == 1
    assert message.count("deployment host") == 1

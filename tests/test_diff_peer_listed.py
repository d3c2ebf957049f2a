"""``portplan diff``: a row whose packets change in part is listed with the packets a zone
firewall opens or closes, and its destination's own rules change for the rest too.

clients -> app01 (flow ``web``) changes its ports; the row clients -> appnet (flow ``net``,
10.3.0.0/24, app01's subnet) needs tcp/443 on the same zone boundary all along.  So tcp/443
is nothing to open or close on the zone firewall, and still a rule app01's own firewall gains
(or loses): the diff lists the zone's change and app01's own.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from portplan.diff import ChangeKind
from portplan.targets.base import RuleOptions
from portplan.targets.nftables import NftablesTarget
from test_diff_rows import compare, side

PRODUCT = """\
id: pl
name: PL
version: "1"
vendor: t
document: {title: PL, layout: flat}
components: {client: {name: C}, app: {name: A}, net: {name: N}}
flows:
  - {id: web, row: 1, from: client, to: app, protocol: tcp, ports: PORTS, purpose: w}
  - {id: net, row: 2, from: client, to: net, protocol: tcp, ports: 443, purpose: n}
"""

DEPLOYMENT = """\
name: pl
hosts:
  clients: {addresses: [10.1.0.0/24], zone: users}
  app01: {addresses: [10.3.0.10], zone: data}
  appnet: {addresses: [10.3.0.0/24], zone: data}
products:
  pl: {file: FILE, components: {client: clients, app: app01, net: appnet}}
"""


def deployment(folder: Path, name: str, ports: str) -> str:
    (folder / f"{name}.p.yaml").write_text(PRODUCT.replace("PORTS", ports))
    return DEPLOYMENT.replace("FILE", f"{name}.p.yaml")


def app01_rules(folder: Path, text: str) -> str:
    _bundle, plan = side(folder, "rules.yaml", text)
    rendered = NftablesTarget().render(plan, RuleOptions())
    return "".join(v for k, v in rendered.items() if "app01" in k)


@pytest.mark.parametrize(
    ("old", "new", "narrowed", "widened", "detail"),
    [
        # a port gained that the subnet's row needed already, one lost
        ("447", "443", "447", None, "app01's rules for source 10.1.0.0/24 gain tcp/443"),
        # a port lost that the subnet's row still needs, one gained
        ("[443, 447]", "445", "447", "445", "app01's rules for source 10.1.0.0/24 lose tcp/443"),
    ],
)
def test_a_port_the_subnet_needs_changes_the_destination_s_own_rules_beside_the_listed(
    tmp_path: Path, old: str, new: str, narrowed: str, widened: str | None, detail: str
) -> None:
    old_text, new_text = deployment(tmp_path, "old", old), deployment(tmp_path, "new", new)
    # app01's own firewall does gain (lose) tcp/443 from the clients
    rule = re.compile(r"10\.1\.0\.0/24 ip daddr 10\.3\.0\.10 tcp dport [^\n]*\b443\b")
    gains = rule.search(app01_rules(tmp_path, new_text)) is not None
    assert gains != (rule.search(app01_rules(tmp_path, old_text)) is not None)
    found = compare(tmp_path, old_text, new_text)
    kinds = [(c.kind, c.flow, c.source, c.destination) for c in found.changes]
    listed = [(ChangeKind.WIDEN, "pl/web", "clients", "app01")] if widened else []
    listed.append((ChangeKind.NARROW, "pl/web", "clients", "app01"))
    assert kinds == [*listed, (ChangeKind.PEER, "pl/web", "clients", "app01")]
    # the zone firewall: only the port no other row needs
    narrow = found.changes[len(listed) - 1]
    assert [list(b.ports) for b in narrow.closed.boxes] == [[(int(narrowed), int(narrowed))]]
    if widened:
        assert [list(b.ports) for b in found.changes[0].opened.boxes] == [[(445, 445)]]
    # app01's own: the port the zone firewall does not show, and not the listed one again
    peer = found.changes[-1]
    assert (peer.detail, bool(peer.opened), bool(peer.closed)) == (detail, False, False)
    assert found.summary() == f"{len(listed) - 1} to open, 1 to close, 1 to change"


def test_a_row_changed_where_no_other_row_overlaps_gives_no_peer_change(tmp_path: Path) -> None:
    # the listed packets are app01's own change entire: nothing more to say
    old_text, new_text = deployment(tmp_path, "old", "8443"), deployment(tmp_path, "new", "8444")
    found = compare(tmp_path, old_text, new_text)
    assert [c.kind for c in found.changes] == [ChangeKind.WIDEN, ChangeKind.NARROW]


def test_a_host_renamed_whose_row_gains_a_port_is_an_open_and_a_rehost(tmp_path: Path) -> None:
    # app01 renamed app02, its address kept, and web gains tcp/447: the zone firewall opens
    # tcp/447; app02's own rules, which are new, hold tcp/443 too, which the old app01 row
    # needed (and the subnet's row needs) all along
    old_text = deployment(tmp_path, "old", "443")
    new_text = deployment(tmp_path, "new", "[443, 447]").replace("app01", "app02")
    found = compare(tmp_path, old_text, new_text)
    web = [(c.kind, c.destination, c.detail) for c in found.changes if c.flow == "pl/web"]
    assert web == [
        (ChangeKind.OPEN, "app02", None),
        (
            ChangeKind.REHOST,
            "app02",
            "host app02 added: its own rules hold tcp/443 (other rows needed it)",
        ),
        (
            ChangeKind.REHOST,
            "app01",
            "host app01 removed: its own rules held tcp/443 (other rows need it still)",
        ),
    ]
    (opened,) = [c for c in found.changes if c.kind is ChangeKind.OPEN]
    assert [list(b.ports) for b in opened.opened.boxes] == [[(447, 447)]]

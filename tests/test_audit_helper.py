"""Conntrack helpers: the connection a helper expects (an FTP data connection, to the port the
server names in its reply) begins ``related``, not ``new``, so a rule that accepts related
packets lets it in, wherever the plan does not name its port.  Where the ruleset gives
connections a helper (``ct helper set``, ``-j CT --helper``), such a rule is read at its widest,
as unreadable; without one, related packets are no new connection's.

The client 10.0.0.2 of ``tests/data/audit/deployment.yaml`` was seen to reach the server's tcp
40000 through ``ct-helper.nft`` after the server answered PASV on tcp 18081 with that port,
while the audit of that ruleset said it held no finding.
"""

from __future__ import annotations

import pytest

from portplan.audit import FindingKind
from portplan.audit.iptables import read_iptables_save
from test_audit_hand_written import CLIENT, DATA, TCP, audit, files, nft, packet

#: the data connection the helper lets in: to a port no planned flow names
DATA_CONNECTION = packet(CLIENT, TCP, 40000)


@pytest.mark.netns
def test_an_nft_accept_of_related_packets_lets_in_what_a_helper_expects() -> None:
    result = audit(nft("ct-helper.nft"))
    extras = [f.packets for f in result.findings if f.kind is FindingKind.EXTRA]
    assert any(s is not None and DATA_CONNECTION in s for s in extras)
    (unreadable,) = [f for f in result.findings if f.kind is FindingKind.UNREADABLE]
    assert "related" in unreadable.message and "helper" in unreadable.message
    assert "ct state" in (unreadable.rule_text or "")
    assert not result.passed


def test_an_iptables_accept_of_related_packets_lets_in_what_a_helper_expects() -> None:
    result = audit(files("ct-helper.v4"))
    extras = [f.packets for f in result.findings if f.kind is FindingKind.EXTRA]
    assert any(s is not None and DATA_CONNECTION in s for s in extras)
    (unreadable,) = [f for f in result.findings if f.kind is FindingKind.UNREADABLE]
    assert "RELATED" in (unreadable.rule_text or "") and "helper" in unreadable.message


def test_without_a_helper_related_packets_are_no_new_connections() -> None:
    """The same ruleset without its helper rule: related packets are ICMP errors and the
    like, no new connection's; nothing beyond the plan, nothing unreadable."""
    text = (DATA / "ct-helper.v4").read_text()
    kept = "\n".join(line for line in text.splitlines() if "--helper" not in line) + "\n"
    result = audit(read_iptables_save([("no-helper.v4", kept, 4)]))
    assert result.findings == []

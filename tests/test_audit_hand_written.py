"""Hand-written rulesets (``tests/data/audit``) whose constructs the audit once read too
narrowly, so that what they let pass beyond the plan vanished from its findings.

Each is audited for the server of ``deployment.yaml`` (client 10.0.0.2, server 10.0.0.3):
what it may let pass beyond the plan must be an ``extra`` finding, and what the audit cannot
read exactly an ``unreadable`` one.  nftables text is loaded in a network namespace of the
test's own and read back as the kernel holds it.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
from pathlib import Path

import pytest

import netns
from portplan import load_plan
from portplan._errors import AuditError
from portplan._tools import nft_cut_short, nft_flags_from_text
from portplan.audit import AuditResult, FindingKind, Ruleset, Verdict, audit_ruleset
from portplan.audit._nfthooks import idle_tables
from portplan.audit.collect import RulesetFile, read_ruleset, ruleset_kind
from portplan.audit.iptables import read_ipsets, read_iptables_save
from portplan.audit.listening import audit_listening
from portplan.audit.nftables import read_nftables_json
from portplan.audit.ruleset import permitted
from portplan.audit.sockets import read_sockets
from portplan.plan import Plan
from portplan.report.audit import annotated_copy
from portplan.spaces import Packet, address_span

DATA = Path(__file__).resolve().parent / "data" / "audit"
CLIENT, SERVER, OUTSIDER = "10.0.0.2", "10.0.0.3", "10.0.0.9"
TCP, UDP = 6, 17


def plan() -> Plan:
    return load_plan(DATA / "deployment.yaml")


def packet(source: str, protocol: int, port: int) -> Packet:
    return Packet(4, ipaddress.ip_address(source), ipaddress.ip_address(SERVER), protocol, port)


def nft_json(name: str) -> str:
    """``nft -j list ruleset`` of ``tests/data/audit/NAME`` loaded in a namespace of its own."""
    return nft_json_of((DATA / name).read_text())


def nft_json_of(text: str) -> str:
    """``nft -j list ruleset`` of the ruleset ``text`` loaded in a namespace of its own."""
    reason = netns.unavailable("nft")
    if reason is not None:
        pytest.skip(reason)
    with netns.namespace() as space:
        netns.run(["ip", "netns", "exec", space, "nft", "-f", "-"], stdin=text)
        return netns.run(["ip", "netns", "exec", space, "nft", "-j", "list", "ruleset"]).stdout


def nft(name: str) -> Ruleset:
    """``tests/data/audit/NAME`` as the kernel holds it, from a namespace of its own."""
    return read_nftables_json(nft_json(name), name)


def files(*names: str) -> Ruleset:
    """The ruleset of files of ``tests/data/audit``, each ``[KIND:]NAME``."""
    given = []
    for name in names:
        kind, _, file = name.rpartition(":")
        given.append(RulesetFile(file, (DATA / file).read_text(), kind or None))
    return read_ruleset(given, plan(), "server")


def audit(ruleset: Ruleset) -> AuditResult:
    return audit_ruleset(plan(), "server", ruleset)


#: an outsider's packets the plan does not name: what a ruleset open to all lets through
OUTSIDERS = [packet(OUTSIDER, TCP, 3306), packet(OUTSIDER, TCP, 22), packet(OUTSIDER, UDP, 53)]


def extra(result: AuditResult) -> list[Packet]:
    """Packets of the probe list (the outsiders', and a planned one) that some extra finding
    permits."""
    probes = [*OUTSIDERS, packet(CLIENT, TCP, 18080)]
    permits = [f.packets for f in result.findings if f.kind is FindingKind.EXTRA]
    return [p for p in probes if any(s is not None and p in s for s in permits)]


def kinds(result: AuditResult) -> set[str]:
    return {f.kind.value for f in result.findings}


# -- nftables verdict maps -------------------------------------------------------------------


@pytest.mark.netns
def test_a_named_verdict_map_is_read_from_the_ruleset() -> None:
    result = audit(nft("vmap-named.nft"))
    assert extra(result) == [packet(OUTSIDER, TCP, 3306), packet(OUTSIDER, TCP, 22)]
    assert kinds(result) == {"extra"}


@pytest.mark.netns
def test_a_verdict_map_it_cannot_know_may_accept_all_it_could_match() -> None:
    result = audit(nft("vmap-dynamic.nft"))
    assert extra(result) == [packet(OUTSIDER, TCP, 3306), packet(OUTSIDER, TCP, 22)]
    assert kinds(result) == {"extra", "unreadable"}


@pytest.mark.netns
def test_a_set_its_rules_add_to_may_hold_any_source() -> None:
    """Port knocking: nft lists a set that a rule adds to without the flag dynamic."""
    result = audit(nft("set-added.nft"))
    assert extra(result) == [packet(OUTSIDER, TCP, 22)]
    (unreadable,) = [f for f in result.findings if f.kind is FindingKind.UNREADABLE]
    assert "@knocked" in unreadable.message and "change as packets pass" in unreadable.message


@pytest.mark.netns
def test_a_dormant_table_filters_nothing() -> None:
    """Whatever nft prints for the flag (1.0.6 prints a stray word), nothing is closed."""
    result = audit(nft("dormant.nft"))
    assert extra(result) == OUTSIDERS
    assert "dormant" in " ".join(result.notes)


@pytest.mark.netns
@pytest.mark.parametrize(
    ("flags", "closed"), [("dormant", False), (["dormant", "owner"], False), ("owner", True)]
)
def test_a_table_is_read_as_its_flags_say(flags: object, closed: bool) -> None:
    """As newer nft prints a table's flags: dormant opens everything, owner changes nothing."""
    document = json.loads(nft_json("dormant.nft"))
    (table,) = [i["table"] for i in document["nftables"] if "table" in i]
    table["flags"] = flags
    (meta,) = [i["metainfo"] for i in document["nftables"] if "metainfo" in i]
    meta["version"] = "1.1.1"  # not 1.0.6, whose JSON garbles every table's flags
    result = audit(read_nftables_json(json.dumps(document), "dormant.json"))
    assert extra(result) == ([] if closed else OUTSIDERS)
    assert kinds(result) == (set() if closed else {"extra"})


@pytest.mark.netns
def test_nft_1_0_6_json_flags_may_always_be_dormant() -> None:
    """nft 1.0.6 may print a dormant table's flags as a flag's name (the next table's): any
    flags its JSON prints may be dormant, so nothing the table stops is taken as closed."""
    result = audit(nft("dormant-named.nft"))
    assert extra(result) == OUTSIDERS
    assert "nft 1.0.6 prints a table's flags wrongly" in " ".join(
        result.notes + [f.message for f in result.findings]
    )


def test_flags_the_text_does_not_give_keep_the_1_0_6_reading() -> None:
    """A table the text listing does not show (changed between the two reads) keeps nft
    1.0.6's stray word, and the document is not marked as read from the text: that table may
    still be dormant, not taken as filtering on the word's say-so."""
    document = {
        "nftables": [
            {"metainfo": {"version": "1.0.6"}},
            {"table": {"family": "inet", "name": "fw", "flags": "persist"}},
            {"table": {"family": "inet", "name": "other", "flags": "fw"}},
        ]
    }
    text = "table inet other {\n\tflags dormant\n}\n"
    repaired = json.loads(nft_flags_from_text(json.dumps(document), text))
    assert repaired["nftables"][0] == {"metainfo": {"version": "1.0.6"}}
    assert [i["table"]["flags"] for i in repaired["nftables"][1:]] == ["persist", ["dormant"]]
    items = repaired["nftables"]
    assert "wrongly" in idle_tables(items)[("inet", "fw")]
    everything = text + "table inet fw {\n\tflags dormant\n}\n"
    marked = json.loads(nft_flags_from_text(json.dumps(document), everything))["nftables"]
    assert idle_tables(marked) == {("inet", "fw"): "dormant", ("inet", "other"): "dormant"}


@pytest.mark.netns
def test_an_nft_text_ruleset_is_read_with_its_tables_flags() -> None:
    """Given as text (nft:FILE), the flags are read from nft's text listing: exactly dormant."""
    result = audit(files("nft:dormant-named.nft"))
    assert extra(result) == OUTSIDERS
    notes = " ".join(result.notes)
    assert "(its table is dormant: its chains see no packet)" in notes
    assert "wrongly" not in notes


@pytest.mark.netns
def test_a_dormant_tables_rules_are_neither_shadowed_nor_unreadable() -> None:
    """A dormant table's rules see no packet: none shadows or is shadowed, none is an
    unreadable finding, and the annotated copy marks each of them as dormant instead of
    saying it serves a flow; the active table's are found as ever."""
    text = (DATA / "dormant-findings.nft").read_text()
    # nft 1.0.6 may cut this ruleset's JSON short after a dormant table's "flags" (the stray
    # word it prints there is not text): the table is loaded awake and given its flags as
    # newer nft prints them
    assert "  flags dormant\n" in text
    document = json.loads(nft_json_of(text.replace("  flags dormant\n", "")))
    for item in document["nftables"]:
        if item.get("table", {}).get("name") == "idle":
            item["table"]["flags"] = ["dormant"]
        if "metainfo" in item:
            item["metainfo"]["version"] = "1.1.1"  # not 1.0.6, whose JSON garbles flags
    ruleset = read_nftables_json(json.dumps(document), "dormant-findings.json")
    result = audit_ruleset(plan(), "server", ruleset, annotate=True)
    found = sorted((f.kind.value, f.rule) for f in result.findings)
    assert found == [
        ("extra", "table inet fw chain input handle 4"),
        ("shadowed", "table inet fw chain input handle 3"),
        ("unreadable", "table inet fw chain input handle 4"),
    ]
    effects = [(r.where.split(" handle")[0], r.effect) for r in result.rules]
    idle = "dormant table: sees no packet"
    assert effects == [
        *[("table inet idle chain input", idle)] * 4,
        *[("table inet idle chain more", idle)] * 2,
        ("table inet fw chain input", "blocks"),
        ("table inet fw chain input", "no effect here"),
        ("table inet fw chain input", "serves"),
    ]
    (listing,) = annotated_copy(result, {}).values()
    assert f"# portplan: {idle}\ntable inet idle chain more handle" in listing


@pytest.mark.netns
def test_a_text_ruleset_nft_lists_cut_short_is_read_with_its_tables_woken() -> None:
    """nft 1.0.6 stops ``nft -j list ruleset`` of this ruleset right after the dormant
    table's ``"flags":`` (and exits 0): nft:FILE was refused as not nft's JSON, advising to
    give it as nft:FILE.  It is listed again with its tables woken in portplan's namespace,
    each given the flags its text listing says, and audited as the dormant test above."""
    printed = nft_json("dormant-findings.nft")
    if nft_cut_short(printed) is not None:  # this machine's nft has the bug: refused as ever
        with pytest.raises(AuditError, match=r"cut short after a table's \"flags\", as nft "):
            read_nftables_json(printed, "dormant-findings.json")
    ruleset = files("nft:dormant-findings.nft")
    assert (
        "table inet idle chain input (its table is dormant: its chains see no packet) is not read"
        in ruleset.notes
    )
    result = audit_ruleset(plan(), "server", ruleset)
    assert sorted((f.kind.value, f.rule) for f in result.findings) == [
        ("extra", "table inet fw chain input handle 4"),
        ("shadowed", "table inet fw chain input handle 3"),
        ("unreadable", "table inet fw chain input handle 4"),
    ]


#: a table owned by the process that loaded it (firewalld's, say), which drops ssh
OWNED = """\
table inet fw {
  # flags owner: written so by nft list ruleset
  flags owner
  chain input { type filter hook input priority 0; policy accept;
    tcp dport 22 drop
  }
}
"""


@pytest.mark.netns
def test_a_text_ruleset_with_an_owned_table_is_refused_not_read_without_it() -> None:
    """The kernel removes a table with the flag ``owner`` when the process that loaded it
    ends: ``nft -f`` in portplan's namespace left none of it, and the ruleset was audited
    without the table (its drop of ssh read as nothing).  It is refused, naming the line."""
    printed = nft_json_of(OWNED)  # (skipped where nft cannot run)
    assert '"table"' not in printed  # gone as soon as nft -f ended
    with pytest.raises(AuditError) as raised:
        read_ruleset([RulesetFile("owned.nft", OWNED, "nft")], plan(), "server")
    assert str(raised.value).startswith(
        "owned.nft:3: a table with the flag owner (and not persist), which the kernel removes"
    )
    # a comment that names the flag, a set's flags: read as ever
    kept = OWNED.replace("  flags owner\n", "  set s { type ipv4_addr; flags interval; }\n")
    ruleset = read_ruleset([RulesetFile("kept.nft", kept, "nft")], plan(), "server")
    assert "inet fw input" in ruleset.chains


@pytest.mark.netns
def test_a_text_ruleset_with_an_include_is_refused_not_read_with_this_machine_s_files() -> None:
    """``nft -f`` in portplan's namespace reads an ``include`` from the machine that audits:
    a pattern that matches no file there is no error, and the ruleset was audited without the
    host's rules it loads (or with this machine's own).  It is refused, naming the line."""
    text = (
        'include "/nonexistent-portplan-test/*.nft"  # the ssh drop of the host\n'
        "table inet fw {\n"
        "  chain input { type filter hook input priority 0; policy accept; }\n"
        "}\n"
    )
    assert '"table"' in nft_json_of(text)  # nft loads it, the include read as nothing
    with pytest.raises(AuditError) as raised:
        read_ruleset([RulesetFile("main.nft", text, "nft")], plan(), "server")
    assert str(raised.value).startswith(
        "main.nft:1: an include, which nft would read from this machine, not from the host"
    )
    # a comment, a string that names it: read as ever
    kept = text.replace('include "/nonexistent-portplan-test/*.nft"  ', "")
    kept = kept.replace("policy accept; }", 'policy accept; comment "include x"; }')
    ruleset = read_ruleset([RulesetFile("kept.nft", kept, "nft")], plan(), "server")
    assert "inet fw input" in ruleset.chains


def iptables_saved(text: str) -> str:
    """``iptables-save`` of the IPv4 ruleset ``text`` loaded in a namespace of its own."""
    reason = netns.unavailable("iptables-restore", "iptables-save")
    if reason is not None:
        pytest.skip(reason)
    with netns.namespace() as space:
        netns.run(["ip", "netns", "exec", space, "iptables-restore"], stdin=text)
        return netns.run(["ip", "netns", "exec", space, "iptables-save"]).stdout


def _as_the_kernel_holds(name: str, text: str) -> tuple[Ruleset, dict[str, str]]:
    """The ruleset ``text`` (file ``name``: ``.nft`` or an IPv4 iptables file) loaded in a
    namespace and read back as the kernel holds it, and the ``iptables-save`` text by file
    name (for the annotated copy; none for nftables)."""
    if name.endswith(".nft"):
        return read_nftables_json(nft_json_of(text), name), {}
    texts = {name: iptables_saved(text)}
    return read_iptables_save([(name, texts[name], 4)]), texts


def _client_reaches(name: str, text: str, ports: tuple[int, ...] = (18080,)) -> list[bool]:
    """Whether the client (192.0.2.2) reaches each tcp port of ``ports`` on the server
    (192.0.2.3), which loads ``text`` moved to 192.0.2.0/24 and listens on tcp 18080 (a
    ruleset may redirect other ports there)."""
    moved = text.replace("10.0.0.", "192.0.2.")
    near, far = ipaddress.ip_address("192.0.2.2"), ipaddress.ip_address("192.0.2.3")
    with netns.guard("nft", "iptables-restore"), netns.topology() as net:
        net.add_node("client", [near])
        server = net.add_node("server", [far])
        net.load(server, "server", {f"server.{name.rpartition('.')[2]}": moved})
        net.listen(server, [("tcp", far, 18080)])
        probes = [netns.Probe("tcp", far, port) for port in ports]
        return [r in netns.PASSED for r in net.probe({"client": probes})["client"]]


def _idle_chains_read(name: str, *, shadowed_in: str) -> tuple[dict[str, list[str]], str]:
    """The audit of the ruleset file ``name`` (the client reaching the server's tcp 18080
    through it, loaded as the kernel holds it): with and without --egress, one finding of the
    shadowed or unreadable kinds, a shadowed rule of the chain ``shadowed_in``; each chain's
    rules' effects in the annotated copy, and that copy."""
    text = (DATA / name).read_text()
    assert _client_reaches(name, text) == [True]
    ruleset, texts = _as_the_kernel_holds(name, text)
    chain_of = {r.where: c.name.lower() for c in ruleset.chains.values() for r in c.rules}
    for egress in (False, True):
        result = audit_ruleset(plan(), "server", ruleset, egress=egress, annotate=True)
        judged = [
            (f.kind.value, chain_of[f.rule or ""])
            for f in result.findings
            if f.kind in (FindingKind.SHADOWED, FindingKind.UNREADABLE)
        ]
        assert judged == [("shadowed", shadowed_in)]
    effects: dict[str, list[str]] = {}
    for rule in result.rules:  # iptables-save lists user chains in an order of its own
        effects.setdefault(chain_of[rule.where], []).append(rule.effect)
    (listing,) = annotated_copy(result, texts).values()
    return effects, listing


@pytest.mark.netns
@pytest.mark.parametrize("name", ["forward.nft", "forward.v4"])
def test_chains_only_forwarded_traffic_passes_are_neither_shadowed_nor_unreadable(
    name: str,
) -> None:
    """The forward chain drops tcp 18080 before it accepts the client's, yet the client
    reaches the server's 18080: no packet of the host's own passes that chain, nor the chain
    only it jumps to.  None of their rules is shadowed, shadows or is unreadable, and the
    annotated copy says whose traffic they see instead of 'serves' or 'blocks'; the chain the
    input chain jumps to as well is read as ever (its drop is shadowed)."""
    effects, listing = _idle_chains_read(name, shadowed_in="both")
    forwarded = "forwarded traffic only: not the host's own"
    assert effects == {
        "input": ["serves", "serves"],
        "forward": [forwarded] * 5,
        "routed": [forwarded] * 2,
        "both": ["serves", "no effect here"],
    }
    assert f"# portplan: {forwarded}\n" in listing
    assert "serves loop-1.0/web, loop-1.0/radius" not in listing  # was the mark rule's


@pytest.mark.netns
@pytest.mark.parametrize("name", ["unreached.nft", "unreached.v4"])
def test_chains_no_base_chain_leads_to_are_neither_shadowed_nor_unreadable(name: str) -> None:
    """The chain nothing jumps to drops tcp 18080 before it accepts the client's, yet the
    client reaches the server's 18080: no packet passes that chain, nor the chain only it
    jumps to, nor the chain of a table (iptables: of another table) no base chain leads to.
    None of their rules is shadowed, shadows or is unreadable, and the annotated copy says
    that no base chain leads to them instead of 'blocks' or 'serves'; the chain the input
    chain reaches through another (a jump, then a goto) is read as ever (its drop is
    shadowed)."""
    effects, listing = _idle_chains_read(name, shadowed_in="used")
    unreached = "no base chain leads here: sees no packet"
    assert effects == {
        "input": ["serves", "serves"],
        "via": ["serves"],
        "used": ["serves", "no effect here"],
        "unused": [unreached] * 4,
        "deeper": [unreached] * 2,
        "spare": [unreached] * 2,
    }
    assert f"# portplan: {unreached}\n" in listing
    assert "# portplan: blocks" not in listing  # was the unreached chains' drops'


@pytest.mark.netns
def test_a_chain_a_verdict_map_may_jump_to_is_read() -> None:
    """A verdict map whose entries time out may jump to any chain of its table, listed in its
    entries or not: both chains are read as ever (each one's accept is shadowed)."""
    ruleset = nft("vmap-jump.nft")
    assert ruleset.idle() == {}
    result = audit_ruleset(plan(), "server", ruleset, annotate=True)
    shadowed = [
        (f.rule or "").split(" handle")[0]
        for f in result.findings
        if f.kind is FindingKind.SHADOWED
    ]
    assert shadowed == ["table inet fw chain listed", "table inet fw chain unlisted"]
    assert "no base chain leads here: sees no packet" not in {r.effect for r in result.rules}


@pytest.mark.netns
@pytest.mark.parametrize("name", ["output-way.nft", "output-way.v4"])
def test_output_chains_are_shadowed_or_unreadable_as_the_packets_the_host_sends_decide(
    name: str,
) -> None:
    """Rules of the output chain see what the server sends, with or without --egress: its
    accept of tcp 18080 to the client is shadowed (the probe is stopped), its accept of tcp
    18081 is not (the probe passes, though every packet addressed to the server would meet the
    drop before it), a condition on the incoming interface matches nothing sent (not
    unreadable), one on the outgoing interface is unreadable.  The chain both ways jump to is
    read against both: the accept of udp 18119 takes effect for what the server sends (the
    probe passes), the accept of udp 18120 in neither way."""
    text = (DATA / name).read_text()
    moved = text.replace("10.0.0.", "192.0.2.")
    near, far = ipaddress.ip_address("192.0.2.2"), ipaddress.ip_address("192.0.2.3")
    with netns.guard("nft", "iptables-restore"), netns.topology() as net:
        client = net.add_node("client", [near])
        server = net.add_node("server", [far])
        net.load(server, "server", {f"server.{name.rpartition('.')[2]}": moved})
        net.listen(client, [("tcp", near, 18080), ("tcp", near, 18081), ("udp", near, 18119)])
        probes = [("tcp", 18080), ("tcp", 18081), ("udp", 18119)]
        sent = net.probe({"server": [netns.Probe(p, near, port) for p, port in probes]})
        assert [r in netns.PASSED for r in sent["server"]] == [False, True, True]
    ruleset, _texts = _as_the_kernel_holds(name, text)
    chain_of = {r.where: c.name.lower() for c in ruleset.chains.values() for r in c.rules}
    port_of = {
        r.where: int(re.findall(r"\b18\d\d\d\b", r.text)[0])
        for c in ruleset.chains.values()
        for r in c.rules
        if re.search(r"\b18\d\d\d\b", r.text)
    }
    for egress in (False, True):
        result = audit_ruleset(plan(), "server", ruleset, egress=egress)
        judged = sorted(
            (f.kind.value, f.direction, chain_of[f.rule or ""], port_of[f.rule or ""])
            for f in result.findings
            if f.kind in (FindingKind.SHADOWED, FindingKind.UNREADABLE)
        )
        assert judged == [
            ("shadowed", "inbound", "both", 18120),
            ("shadowed", "outbound", "output", 18080),
            ("unreadable", "outbound", "output", 18083),
        ]


def _sent(text: str, suffix: str, sender: str, probes: list[tuple[str, int]]) -> list[bool]:
    """Whether each probe ``(protocol, port)`` from ``sender`` (``client`` 192.0.2.2 or
    ``server`` 192.0.2.3, which alone loads ``text`` moved to 192.0.2.0/24) reaches the other,
    which listens on each."""
    moved = text.replace("10.0.0.", "192.0.2.")
    address = {
        name: ipaddress.ip_address(f"192.0.2.{n}") for name, n in (("client", 2), ("server", 3))
    }
    (receiver,) = {"client", "server"} - {sender}
    with netns.guard("nft", "iptables-restore"), netns.topology() as net:
        nodes = {name: net.add_node(name, [address[name]]) for name in ("client", "server")}
        net.load(nodes[sender], sender, {f"{sender}.{suffix}": moved})
        net.listen(nodes[receiver], [(p, address[receiver], port) for p, port in probes])
        jobs = {sender: [netns.Probe(p, address[receiver], port) for p, port in probes]}
        return [r in netns.PASSED for r in net.probe(jobs)[sender]]


@pytest.mark.netns
@pytest.mark.parametrize("name", ["output-way.nft", "output-way.v4"])
def test_the_annotated_copy_reads_output_chains_against_what_the_host_sends(name: str) -> None:
    """With or without --egress, each rule is annotated for the packets of its chain's way,
    a chain both ways jump to for both.  Loaded on the server, which sends nothing the plan
    names: the output chain's accept of tcp 18081 lets it send that (the probe passes) and is
    ``not in plan``, not ``no effect here``; its jump to the chain both ways reach serves no
    flow (the plan's loop-1.0/radius comes in through the input chain's jump): it blocks what
    that chain drops of what the server sends (udp 18120: the probe is stopped), and that
    chain's accept of udp 18119 is ``not in plan``.  Loaded on the client, which sends every
    flow of the plan: that jump, and the accept of udp 18118-18126 from the client it
    reaches, serve loop-1.0/radius (udp 18121 passes), the drops of udp 18119 and tcp 18081
    to the server block (their probes are stopped)."""
    text = (DATA / name).read_text()
    suffix = name.rpartition(".")[2]
    assert _sent(text, suffix, "server", [("tcp", 18081), ("udp", 18120)]) == [True, False]
    sent = _sent(text, suffix, "client", [("udp", 18121), ("udp", 18119), ("tcp", 18081)])
    assert sent == [True, False, False]
    ruleset, _texts = _as_the_kernel_holds(name, text)
    named = {}  # where → (chain, first port or None, verdict): one rule each here
    for chain in ruleset.chains.values():
        for rule in chain.rules:
            ports = re.findall(r"\b18\d\d\d\b", rule.text)
            named[rule.where] = (chain.name.lower(), int(ports[0]) if ports else None, rule.verdict)
    assert len(set(named.values())) == len(named)
    for egress in (False, True):
        effects = {}
        for host in ("server", "client"):
            result = audit_ruleset(plan(), host, ruleset, egress=egress, annotate=True)
            effects[host] = {named[r.where]: (r.effect, r.flows) for r in result.rules}
        on_server, on_client = effects["server"], effects["client"]
        radius = ("serves", ("loop-1.0/radius",))
        assert on_server[("output", 18081, Verdict.ACCEPT)] == ("not in plan", ())
        assert on_server[("output", None, Verdict.JUMP)] == ("blocks", ())
        assert on_server[("input", None, Verdict.JUMP)] == radius
        assert on_server[("both", 18119, Verdict.ACCEPT)] == ("not in plan", ())
        assert on_server[("both", 18118, Verdict.ACCEPT)] == radius
        assert on_client[("output", None, Verdict.JUMP)] == radius
        assert on_client[("both", 18118, Verdict.ACCEPT)] == radius
        assert on_client[("both", 18119, Verdict.DROP)] == ("blocks", ())
        assert on_client[("output", 18081, Verdict.DROP)] == ("blocks", ())


# -- a jump, goto or return on a condition it cannot read -------------------------------------


def bounds(ruleset: Ruleset, probe: Packet) -> tuple[bool, bool]:
    """Whether ``probe`` surely passes, and whether it may pass."""
    low, high = permitted(plan(), "server", ruleset)
    return probe in low, probe in high


@pytest.mark.netns
def test_a_jump_on_another_interface_may_be_skipped() -> None:
    """Only eth0 goes through from_lan: the input policy accepts the rest."""
    ruleset = nft("jump-iif.nft")
    result = audit(ruleset)
    assert extra(result) == OUTSIDERS
    assert kinds(result) == {"extra", "unreadable"}
    assert any("the policy accept of chain inet fw input" in f.message for f in result.findings)
    assert bounds(ruleset, packet(CLIENT, TCP, 18080)) == (True, True)
    assert bounds(ruleset, packet(OUTSIDER, TCP, 3306)) == (False, True)


def test_an_iptables_jump_on_another_interface_may_be_skipped() -> None:
    ruleset = files("jump-iif.v4")
    result = audit(ruleset)
    assert packet(OUTSIDER, TCP, 3306) in extra(result)
    assert kinds(result) == {"extra", "unreadable"}
    assert bounds(ruleset, packet(CLIENT, TCP, 18080)) == (True, True)
    assert bounds(ruleset, packet(OUTSIDER, TCP, 3306)) == (False, True)


def test_an_iptables_goto_on_another_interface_may_be_taken() -> None:
    ruleset = files("goto-iif.v4")
    result = audit(ruleset)
    assert extra(result) == [packet(OUTSIDER, TCP, 3306)]
    # what comes in on eth1 ends in SUB, which does not accept the planned flows: they do not
    # surely pass
    assert kinds(result) == {"extra", "missing", "unreadable"}
    assert bounds(ruleset, packet(CLIENT, TCP, 18080)) == (False, True)
    assert bounds(ruleset, packet(OUTSIDER, TCP, 3306)) == (False, True)


@pytest.mark.netns
def test_a_return_on_another_interface_may_be_taken() -> None:
    """guard returns what comes in on eth1; input then accepts tcp 3306."""
    ruleset = nft("return-iif.nft")
    result = audit(ruleset)
    assert extra(result) == [packet(OUTSIDER, TCP, 3306)]
    assert kinds(result) == {"extra", "unreadable"}
    assert bounds(ruleset, packet(CLIENT, TCP, 18080)) == (True, True)
    assert bounds(ruleset, packet(OUTSIDER, TCP, 3306)) == (False, True)


# -- untracked connections ---------------------------------------------------------------------


@pytest.mark.netns
def test_an_accept_of_untracked_packets_may_accept_new_connections() -> None:
    """notrack makes a new connection's packets untracked; ct state untracked accepts them."""
    result = audit(nft("notrack.nft"))
    assert packet(OUTSIDER, TCP, 3306) in extra(result)
    (unreadable,) = [f for f in result.findings if f.kind is FindingKind.UNREADABLE]
    assert "untracked" in unreadable.message and "ct state" in (unreadable.rule_text or "")


@pytest.mark.parametrize("name", ["notrack.v4", "ct-notrack.v4"])
def test_an_iptables_accept_of_untracked_packets_may_accept_new_connections(name: str) -> None:
    result = audit(files(name))
    assert packet(OUTSIDER, TCP, 3306) in extra(result)
    (unreadable,) = [f for f in result.findings if f.kind is FindingKind.UNREADABLE]
    assert "UNTRACKED" in (unreadable.rule_text or "")  # not the notrack rule: it decides nothing


# -- AWS security groups -------------------------------------------------------------------------


def test_a_prefix_list_or_an_unknown_group_may_be_any_source() -> None:
    result = audit(files("aws:sg.json"))
    assert extra(result) == OUTSIDERS
    unreadable = " ".join(f.message for f in result.findings if f.kind is FindingKind.UNREADABLE)
    assert "pl-0123456789abcdef0" in unreadable and "sg-9999" in unreadable
    assert kinds(result) == {"extra", "unreadable"}


# -- ipsets ---------------------------------------------------------------------------------------


def test_an_ipset_netmask_widens_each_member() -> None:
    result = audit(files("netmask.v4", "ipset:netmask.ipset"))
    permits = [f.packets for f in result.findings if f.kind is FindingKind.EXTRA]
    assert any(s is not None and packet(OUTSIDER, TCP, 18080) in s for s in permits)
    assert kinds(result) == {"extra"}
    sets = read_ipsets("create wide hash:ip family inet6 netmask 64\nadd wide 2001:db8::1\n", "x")
    assert sets["wide"] == (6, address_span(ipaddress.ip_network("2001:db8::/64")))


def test_an_ipset_its_rules_add_to_may_hold_any_source() -> None:
    """Port knocking: -j SET --add-set fills the set that a later rule accepts."""
    result = audit(files("set-added.v4", "ipset:set-added.ipset"))
    assert extra(result) == [packet(OUTSIDER, TCP, 22)]
    (unreadable,) = [f for f in result.findings if f.kind is FindingKind.UNREADABLE]
    assert "knocked" in unreadable.message and "change as packets pass" in unreadable.message


# -- the family of an iptables-save file -----------------------------------------------------------


def test_an_iptables_file_is_ipv4_whatever_its_comments_say() -> None:
    text = (DATA / "family-comment.v4").read_text()
    assert ruleset_kind(text, "family-comment.v4") == "iptables"
    ruleset = files("family-comment.v4")
    assert ruleset.families == frozenset({4})
    result = audit(ruleset)
    assert packet(OUTSIDER, TCP, 3306) in extra(result)


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("# Generated by ip6tables-save v1.8.7\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", 6),
        ("# Generated by iptables-nft-save v1.8.7\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", 4),
        ("*filter\n:INPUT DROP [0:0]\n-A INPUT -p ipv6-icmp -j ACCEPT\nCOMMIT\n", 6),
        ("*filter\n:INPUT DROP [0:0]\n-A INPUT -s 2001:db8::/32 -j ACCEPT\nCOMMIT\n", 6),
        ("*filter\n:INPUT DROP [0:0]\n-A INPUT -s 192.0.2.0/24 -j ACCEPT\nCOMMIT\n", 4),
        (
            "*filter\n:INPUT DROP [0:0]\n"
            '-A INPUT -m comment --comment "ip6tables" -p icmp -j ACCEPT\nCOMMIT\n',
            4,
        ),
    ],
)
def test_the_family_is_told_from_the_files_structure(text: str, family: int) -> None:
    assert ruleset_kind(text, "x") == ("ip6tables" if family == 6 else "iptables")
    assert read_iptables_save([("x", text, None)]).families == frozenset({family})


def test_a_file_that_does_not_say_its_family_is_refused() -> None:
    text = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n"
    with pytest.raises(ValueError, match="iptables:FILE or ip6tables:FILE"):
        read_iptables_save([("x", text, None)])


# -- iptables matches ------------------------------------------------------------------------------


def test_not_syn_matches_no_new_connection() -> None:
    result = audit(files("not-syn.v4"))
    assert extra(result) == [packet(OUTSIDER, TCP, 3306), packet(OUTSIDER, TCP, 22)]
    assert kinds(result) == {"extra"}


def test_protocol_zero_is_every_protocol() -> None:
    result = audit(files("protocol-zero.v4"))
    assert extra(result) == OUTSIDERS
    assert kinds(result) == {"extra"}


# -- listening sockets -----------------------------------------------------------------------------


def test_a_localized_netstat_lists_its_tcp_listeners() -> None:
    """German ``netstat -ano``: a listener's state reads ABHÖREN; its foreign address is
    ``0.0.0.0:0`` in every language."""
    path = DATA.parent / "sockets" / "server-netstat-ano-de.txt"
    sockets = read_sockets(path.read_text(), path.name)
    assert sorted((s.protocol, str(s.address), s.port) for s in sockets) == [
        ("tcp", "0.0.0.0", 3389),
        ("tcp", "0.0.0.0", 18080),
        ("tcp", "::", 3389),
        ("udp", "0.0.0.0", 18118),
    ]
    result = audit_listening(plan(), "server", sockets, source=path.name)
    unplanned = {f.message.split(" listens")[0] for f in result.findings if f.flow is None}
    assert "tcp 0.0.0.0:3389 by pid 1100" in unplanned


def test_a_chain_of_jumps_too_deep_is_not_called_a_loop() -> None:
    chains = [f"C{i}" for i in range(70)]
    text = "*filter\n:INPUT DROP [0:0]\n" + "".join(f":{c} - [0:0]\n" for c in chains)
    text += "-A INPUT -j C0\n"
    text += "".join(f"-A {a} -j {b}\n" for a, b in itertools.pairwise(chains))
    text += "-A C69 -s 10.0.0.2/32 -p tcp -m tcp --dport 18080 -j ACCEPT\nCOMMIT\n"
    deep = read_iptables_save([("deep.v4", text, 4)])
    with pytest.raises(AuditError, match="jumps more than 64 chains deep") as caught:
        audit(deep)
    assert "loop" not in str(caught.value)


# -- targets that are not chains -----------------------------------------------------------------


def test_iptables_targets_that_let_the_packet_go_on_decide_nothing() -> None:
    """MARK, CONNMARK, TCPMSS, CHECKSUM (a libvirt host's mangle table), LOG and a rule with no
    target: no finding, and no refusal of a target as a missing chain."""
    assert kinds(audit(files("targets.v4"))) == set()


def test_an_iptables_target_it_does_not_know_may_accept_or_drop() -> None:
    ruleset = files("synproxy.v4")
    result = audit(ruleset)
    assert extra(result) == [packet(OUTSIDER, TCP, 3306)]
    (unreadable,) = [f for f in result.findings if f.kind is FindingKind.UNREADABLE]
    assert "-j SYNPROXY --sack-perm" in unreadable.message
    assert kinds(result) == {"extra", "unreadable"}
    assert bounds(ruleset, packet(OUTSIDER, TCP, 3306)) == (False, True)


def _xt(expr: list[object]) -> dict[str, object]:
    return {"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "expr": expr}}


def test_iptables_nft_statements_are_read_as_the_iptables_targets_they_are() -> None:
    """``nft -j list ruleset`` of rules iptables-nft wrote with ``-m recent --set`` (a match,
    no target), ``-j CHECKSUM`` and ``-j SYNPROXY`` (targets nft cannot say)."""
    chain = {"family": "ip", "table": "filter", "name": "INPUT", "type": "filter",
             "hook": "input", "prio": 0, "policy": "drop"}  # fmt: skip
    dport = {"payload": {"protocol": "tcp", "field": "dport"}}

    def port(number: int) -> dict[str, object]:
        return {"match": {"op": "==", "left": dport, "right": number}}

    client = {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                        "right": CLIENT}}  # fmt: skip
    udp = {"payload": {"protocol": "udp", "field": "dport"}}
    planned = [
        _xt([client, {"match": {"op": "==", "left": dport,
                                "right": {"set": [18080, 18081, 18090]}}}, {"accept": None}]),
        _xt([client, {"match": {"op": "==", "left": udp, "right": {"range": [18118, 18126]}}},
             {"accept": None}]),
    ]  # fmt: skip
    items = [
        {"table": {"family": "ip", "name": "filter"}},
        {"chain": chain},
        *planned,
        _xt([port(22), {"xt": {"type": "match", "name": "recent"}}, {"counter": {}}]),
        _xt([port(68), {"xt": {"type": "target", "name": "CHECKSUM"}}]),
    ]
    ruleset = read_nftables_json(json.dumps({"nftables": items}), "xt.json")
    assert kinds(audit(ruleset)) == set()
    items.append(_xt([port(3306), {"counter": {}}, {"xt": {"type": "target", "name": "SYNPROXY"}}]))
    ruleset = read_nftables_json(json.dumps({"nftables": items}), "xt.json")
    result = audit(ruleset)
    assert extra(result) == [packet(OUTSIDER, TCP, 3306)]
    assert kinds(result) == {"extra", "unreadable"}
    assert bounds(ruleset, packet(OUTSIDER, TCP, 3306)) == (False, True)


# -- NAT rewrites ----------------------------------------------------------------------------------


@pytest.mark.netns
@pytest.mark.parametrize("name", ["stateless-snat.nft", "stateless-raw.nft"])
def test_a_stateless_nat_of_the_source_is_named_as_a_rewrite_of_the_source(name: str) -> None:
    """An outsider given the client's address (by name, or by the raw bits of the header):
    the finding does not say the destination."""
    result = audit(nft(name))
    rewrites = [f for f in result.findings if f.kind is FindingKind.EXTRA]
    assert rewrites
    for finding in rewrites:
        assert "rewrites the address or port" in finding.message
        assert "destination" not in finding.message
    assert any(
        f.packets is not None and packet(OUTSIDER, TCP, 18080) in f.packets for f in rewrites
    )
    # the unreadable finding names the field rewritten as nft writes it (was "None None set")
    (unreadable,) = [f for f in result.findings if f.kind is FindingKind.UNREADABLE]
    written = "@nh,96,32 set" if name == "stateless-raw.nft" else "ip saddr set"
    assert f"exactly: {written}: " in unreadable.message


@pytest.mark.netns
@pytest.mark.parametrize("name", ["nat-redirect.nft", "nat-dnat.v4", "stateless-nat.nft"])
def test_a_nat_rewrite_before_the_filter_may_let_other_ports_in(name: str) -> None:
    """The kernel lets the client's tcp 22 through to the service on 18080 (the filter sees
    18080): the audit says it may pass, naming the rewrite, and that 22 does not surely.  The
    kernel's topology takes documentation addresses only: 10.0.0.x is 192.0.2.x there."""
    assert _client_reaches(name, (DATA / name).read_text(), (22, 23)) == [True, False]
    ruleset = nft(name) if name.endswith(".nft") else files(name)
    result = audit(ruleset)
    (rewrite,) = [f for f in result.findings if f.kind is FindingKind.EXTRA]
    assert rewrite.packets is not None and packet(CLIENT, TCP, 22) in rewrite.packets
    assert "rewrites the address or port" in rewrite.message
    assert bounds(ruleset, packet(CLIENT, TCP, 22)) == (False, True)
    assert bounds(ruleset, packet(CLIENT, TCP, 23)) == (False, False)
    assert bounds(ruleset, packet(CLIENT, TCP, 18080)) == (True, True)

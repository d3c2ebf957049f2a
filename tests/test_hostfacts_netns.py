"""The ruleset the collection's ``facts`` module gathers (:func:`portplan.probe.hostfacts.ruleset`)
is read as ``portplan audit --live`` reads it, from real rules in a network namespace of the
test's own: nft's JSON, or the iptables tools' files where nft is missing, cannot print the
rules (iptables-nft with an ipset match) or cannot see them (iptables-legacy); each file is
one ``audit --ruleset KIND:FILE`` reads, the families apart.

Which tools a host has is set by the ``PATH`` the gatherer runs with: a folder of links named
as on such a host (``iptables-save`` to the nft or the legacy variant), nothing else.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import netns
import portplan
from portplan.audit._rules import Verdict
from portplan.audit.collect import RulesetFile, read_ruleset

pytestmark = pytest.mark.netns

TOOLS = ("nft", "iptables-nft", "iptables-legacy", "ipset")
SRC = Path(portplan.__file__).resolve().parents[1]
GATHER = "import json; from portplan.probe.hostfacts import ruleset; print(json.dumps(ruleset()))"
#: audit --live's reading of the same machine: each input chain's policy and rules' verdicts
LIVE = (
    "import json; from portplan.audit.collect import live_ruleset; "
    "print(json.dumps({c.key: [c.policy, [r.verdict for r in c.rules], c.where] "
    "for c in live_ruleset().chains.values() if c.name.lower() == 'input'}))"
)


@pytest.fixture(scope="module", autouse=True)
def namespaces_available() -> Iterator[None]:
    with netns.guard(*TOOLS):
        yield


@pytest.fixture
def ns() -> Iterator[str]:
    with netns.namespace() as name:
        yield name


def _sh(ns: str, *commands: str) -> None:
    for command in commands:
        netns.run(["ip", "netns", "exec", ns, "sh", "-ec", command])


def _tools(folder: Path, links: Mapping[str, str]) -> Path:
    """A folder holding only ``links`` (name → the tool it runs), the gatherer's PATH."""
    folder.mkdir()
    for name, target in links.items():
        found = shutil.which(target)
        assert found is not None, target
        (folder / name).symlink_to(found)
    return folder


def _gather(ns: str, path: Path, script: str = GATHER) -> dict[str, Any]:
    env = {"PATH": str(path), "PYTHONPATH": str(SRC), "LC_ALL": "C.UTF-8"}
    done = subprocess.run(
        [shutil.which("ip") or "ip", "netns", "exec", ns, sys.executable, "-c", script],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def _inputs(found: Mapping[str, Any]) -> dict[str, tuple[Verdict | None, list[Verdict]]]:
    """Each input chain's policy and its rules' verdicts, as audit reads the gathered files
    (every rule read exactly: nothing in them is beyond audit)."""
    files = [RulesetFile(f"{f['kind']} (gathered)", f["text"], f["kind"]) for f in found["files"]]
    chains = read_ruleset(files).chains.values()
    inputs = [c for c in chains if c.name.lower() == "input"]
    assert all(rule.exact for chain in inputs for rule in chain.rules)
    return {c.key: (c.policy, [rule.verdict for rule in c.rules]) for c in inputs}


DROP, ACCEPT = Verdict.DROP, Verdict.ACCEPT


NFT_VARIANT = {
    "nft": "nft",
    "ipset": "ipset",
    "iptables-save": "iptables-nft-save",
    "ip6tables-save": "ip6tables-nft-save",
}
LEGACY_VARIANT = {
    "nft": "nft",
    "ipset": "ipset",
    "iptables-save": "iptables-legacy-save",
    "ip6tables-save": "ip6tables-legacy-save",
}


def test_rules_only_iptables_nft_can_print_are_read_with_iptables_save(
    ns: str, tmp_path: Path
) -> None:
    # an ipset match is an xt match in nft's JSON, which audit cannot read: the iptables
    # tools print it, and ipset save gives the set
    _sh(
        ns,
        "ipset create admins hash:net && ipset add admins 192.0.2.0/28",
        "iptables-nft -P INPUT DROP",
        "iptables-nft -A INPUT -p tcp --dport 22 -m set --match-set admins src -j ACCEPT",
        "ip6tables-nft -A INPUT -s 2001:db8::1 -p tcp --dport 80 -j ACCEPT",
    )
    found = _gather(ns, _tools(tmp_path / "bin", NFT_VARIANT))
    assert (found["tool"], found["format"], found["error"]) == ("iptables", "iptables-save", None)
    assert [f["kind"] for f in found["files"]] == ["iptables", "ip6tables", "ipset"]
    assert "--match-set admins src" in found["text"]
    assert "create admins hash:net" in found["files"][2]["text"]
    assert _inputs(found) == {
        "ip filter INPUT": (DROP, [ACCEPT]),
        "ip6 filter INPUT": (ACCEPT, [ACCEPT]),
    }


def test_iptables_legacy_rules_nft_does_not_see_are_read(ns: str, tmp_path: Path) -> None:
    # nft is installed, but the rules are iptables-legacy's: nft shows no table at all
    _sh(
        ns,
        "iptables-legacy -P INPUT DROP",
        "iptables-legacy -A INPUT -p tcp --dport 3333 -j ACCEPT",
        "ip6tables-legacy -P INPUT DROP",
    )
    tools = _tools(tmp_path / "bin", LEGACY_VARIANT)
    found = _gather(ns, tools)
    assert (found["tool"], found["error"]) == ("iptables", None)
    assert "-A INPUT -p tcp -m tcp --dport 3333 -j ACCEPT" in found["text"]
    assert _inputs(found) == {"ip filter INPUT": (DROP, [ACCEPT]), "ip6 filter INPUT": (DROP, [])}
    # and audit --live reads the same rules there (it read nft's empty ruleset)
    live = _gather(ns, tools, LIVE)
    assert {k: v[:2] for k, v in live.items()} == {
        "ip filter INPUT": ["drop", ["accept"]],
        "ip6 filter INPUT": ["drop", []],
    }
    assert all(
        v[2].startswith(("iptables-save (live)", "ip6tables-save (live)")) for v in live.values()
    )


def test_without_nft_each_family_is_a_file_of_its_own(ns: str, tmp_path: Path) -> None:
    # one text of both families read as one file gave IPv4 the IPv6 chain's policy
    _sh(
        ns,
        "iptables-nft -P INPUT DROP",
        "iptables-nft -A INPUT -p tcp --dport 22 -j ACCEPT",
        "ip6tables-nft -A INPUT -p tcp --dport 80 -j ACCEPT",
    )
    tools = {k: v for k, v in NFT_VARIANT.items() if k != "nft"}
    found = _gather(ns, _tools(tmp_path / "bin", tools))
    assert (found["tool"], found["error"]) == ("iptables", None)
    assert [f["kind"] for f in found["files"]] == ["iptables", "ip6tables", "ipset"]
    assert "--dport 80" not in found["text"]  # the IPv4 file only
    assert _inputs(found) == {
        "ip filter INPUT": (DROP, [ACCEPT]),
        "ip6 filter INPUT": (ACCEPT, [ACCEPT]),
    }


def test_an_nftables_ruleset_is_nfts_json(ns: str, tmp_path: Path) -> None:
    _sh(
        ns,
        "nft add table inet portplan && nft add chain inet portplan input "
        "'{ type filter hook input priority 0; policy drop; }' && "
        "nft add rule inet portplan input tcp dport 22 accept",
    )
    found = _gather(ns, _tools(tmp_path / "bin", NFT_VARIANT))
    assert (found["tool"], found["format"], found["error"]) == ("nftables", "json", None)
    assert found["files"] == [{"kind": "nftables", "text": found["text"]}]
    assert _inputs(found) == {"inet portplan input": (DROP, [ACCEPT])}


#: a dormant table, then one named as a flag: nft 1.0.6's JSON may say the first's flags are
#: "persist" (a stray word), which would read as a table that filters
DORMANT = (
    "nft add table inet fw '{ flags dormant; }' && nft add chain inet fw input "
    "'{ type filter hook input priority 0; policy drop; }' && nft add table inet persist"
)
#: audit --live's notes on the same machine
LIVE_NOTES = (
    "import json; from portplan.audit.collect import live_ruleset; "
    "print(json.dumps(live_ruleset().notes))"
)


def test_a_tables_flags_are_read_from_nfts_text(ns: str, tmp_path: Path) -> None:
    _sh(ns, DORMANT)
    path = _tools(tmp_path / "bin", NFT_VARIANT)
    found = _gather(ns, path)
    tables = [i["table"] for i in json.loads(found["text"])["nftables"] if "table" in i]
    assert [(t["name"], t.get("flags")) for t in tables] == [("fw", ["dormant"]), ("persist", None)]
    dormant = (
        "table inet fw chain input (its table is dormant: its chains see no packet) is not read"
    )
    files = [RulesetFile("gathered", f["text"], f["kind"]) for f in found["files"]]
    assert dormant in read_ruleset(files).notes
    assert dormant in _gather(ns, path, LIVE_NOTES)


#: a table its owner holds (`flags owner`, firewalld's): `nft list ruleset` names the owner in a
#: comment on the table's line (`table inet fw { # progname nft`); its JSON garbles the flag
OWNED = (
    "add table inet fw { flags owner; }\n"
    "add chain inet fw input { type filter hook input priority 0; policy drop; }\n"
)


def test_the_flags_of_a_table_an_owner_holds_are_read_from_nfts_text(
    ns: str, tmp_path: Path
) -> None:
    """nft 1.0.6 printed the owner flag as a stray word (the table's name) and the text
    listing's table line ends in `# progname nft`: the flags were not found in the text, so
    the stray word stood and the table read as one that may be dormant."""
    owner = subprocess.Popen(
        [shutil.which("ip") or "ip", "netns", "exec", ns, "nft", "-i"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert owner.stdin is not None
        owner.stdin.write(OWNED)
        owner.stdin.flush()
        for _ in range(100):  # the owner's session holds the table while it runs
            listed = netns.run(["ip", "netns", "exec", ns, "nft", "list", "tables"]).stdout
            if "inet fw" in listed:
                break
            time.sleep(0.05)
        path = _tools(tmp_path / "bin", NFT_VARIANT)
        found = _gather(ns, path)
        tables = [i["table"] for i in json.loads(found["text"])["nftables"] if "table" in i]
        assert [(t["name"], t.get("flags")) for t in tables] == [("fw", ["owner"])]
        assert _gather(ns, path, LIVE_NOTES) == []
    finally:
        owner.communicate(timeout=10)


def test_neither_tool_is_said(ns: str, tmp_path: Path) -> None:
    found = _gather(ns, _tools(tmp_path / "bin", {}))
    assert found == {
        "tool": None,
        "format": None,
        "text": None,
        "files": [],
        "error": "nft is not installed, and iptables-save is not installed",
    }


#: audit --live's error on the same machine, or null
LIVE_ERROR = (
    "import json\nfrom portplan._errors import AuditError\n"
    "from portplan.audit.collect import live_ruleset\n"
    "try:\n    print(json.dumps([len(live_ruleset().chains)]))\n"
    "except AuditError as exc:\n    print(json.dumps(str(exc)))\n"
)


def test_a_live_ruleset_nft_lists_cut_short_is_refused_saying_so(ns: str, tmp_path: Path) -> None:
    """nft 1.0.6 stops ``nft -j list ruleset`` of this ruleset right after the dormant table's
    ``"flags":``: --live said it was not nft's JSON and to give a ruleset as nft:FILE, as if
    the machine's JSON were a file of the user's.  It says what nft did, naming its version,
    and how to have the ruleset read: its text listing as nft:FILE."""
    rules = Path(__file__).resolve().parent / "data" / "audit" / "dormant-findings.nft"
    netns.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], stdin=rules.read_text())
    printed = netns.run(["ip", "netns", "exec", ns, "nft", "-j", "list", "ruleset"]).stdout
    found = _gather(ns, _tools(tmp_path / "bin", NFT_VARIANT), LIVE_ERROR)
    if not printed.rstrip().endswith('"flags":'):  # this machine's nft prints it whole
        assert found == [3]
        return
    version = re.search(r'"metainfo": \{"version": "([^"]+)"', printed)
    assert version is not None
    assert found == (
        f"nft -j list ruleset (live): nft {version.group(1)} printed its JSON of this "
        "machine's ruleset cut short after a table's \"flags\" (a bug of that version with "
        "dormant tables); save `nft list ruleset > FILE` and audit it as --ruleset nft:FILE, "
        "which portplan lists in a network namespace of its own, its tables woken there"
    )

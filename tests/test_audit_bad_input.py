"""Malformed collected files (tests/data/audit/bad/): every ruleset and socket reader of
``portplan audit`` refuses them with one clear error naming the file (and the line or the
place in the document), exit 2, no traceback, in bounded time and memory; a condition of one
nftables rule it cannot read makes that rule unreadable, not the file an error."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import examples
from portplan.cli import cli
from test_bad_corpus import SECONDS, run_jobs

BAD = Path(__file__).resolve().parent / "data" / "audit" / "bad"
NEXUS = str(examples.EXAMPLES / "smart-id-nexus.yaml")
K8S = str(examples.EXAMPLES / "smart-id-k8s.yaml")

#: file → what the error says (the file's name, with its line where it has lines, precedes it)
EXPECTED = {
    "ipt_badaddr.txt": ":5: '999.1.1.1/33' is not an IP address or network",
    "ipt_badmask.txt": ":5: '10.0.0.0/255.0.255.0' is not an IP address or network",
    "ipt_badport.txt": ":5: port 99999 is not a port number (0-65535)",
    "ipt_badrange.txt": ":5: port range 30-20 is reversed",
    "ipt_hugeport.txt": ":5: port (a number of 5001 digits) is not a port number",
    "ipt_icmp.txt": ":5: ICMP type '999/999': types and codes are 0-255",
    # a file of another kind, or another family, said what was wrong, not what to do
    "ipt_outside.txt": ":1: a line outside a table (*filter ... COMMIT); give the output of",
    "ipt_v6addr.txt": ":5: address 2001:db8::1 in an IPv4 ruleset; give the IPv4 rules as",
    "aws_notjson.json": "(Expecting value: line 1 column 1 (char 0)); give the output of `aws",
    "win_notjson.json": "docs/audit.md (Expecting value: line 1 column 1 (char 0)); export it",
    # and Python's own words: "list indices must be integers or slices, not str"
    "win_list.json": "(no object with 'rules' and 'profiles'); export it with the one-liner",
    "win_nokeys.json": "(no object with 'rules' and 'profiles'); export it with the one-liner",
    "aws_badcidr.json": "IpRanges[0].CidrIp: '10.0.0.0/99' is not an IP address or network",
    "aws_groups_null.json": ": not the JSON of `aws ec2 describe-security-groups`",
    "aws_groups_str.json": ": SecurityGroups: ['x'] is not a list of objects",
    "aws_nocidr.json": "IpRanges[0].CidrIp: None is not a CIDR",
    "aws_pair_str.json": "UserIdGroupPairs: ['x'] is not a list of objects",
    "aws_port_str.json": "IpPermissions[0]: port 'a' is not a port number",
    "aws_port_rev.json": "IpPermissions[0]: FromPort-ToPort 90-80 is reversed",
    "aws_prefix_str.json": "PrefixListIds: ['x'] is not a list of objects",
    "aws_ranges_str.json": "IpRanges: '10.0.0.0/8' is not a list of objects",
    "k8s_badcidr.yaml": ":1 NetworkPolicy smart-id/p ingress[0].from[0].ipBlock.cidr: '10.0.0.0/99",
    "k8s_except_bad.yaml": "ingress[0].from[0].except[0]: 'zzz' is not an IP address",
    "k8s_nocidr.yaml": "ingress[0].from[0].ipBlock.cidr: None is not an IP address",
    "k8s_from_str.yaml": "ingress[0].from: 'x' is not a list",
    "k8s_ingress_str.yaml": "smart-id/p ingress: 'x' is not a list",
    "k8s_ports_str.yaml": "ingress[0].ports[0]: 'x' is not a mapping",
    "k8s_selector_str.yaml": "smart-id/p podSelector: 'x' is not a mapping",
    "k8s_meta_str.yaml": ":1: metadata: 'x' is not a mapping",
    "k8s_labels_list.yaml": "podSelector.matchLabels: ['a'] is not a mapping",
    "k8s_pytag.yaml": ":2: not YAML of NetworkPolicies: could not determine a constructor",
    "k8s_deep.yaml": ":2: lists and mappings nested more than 64 deep",
    "k8s_laughs.yaml": ":7: aliases repeat more than 100000 values",
    "nft_items_null.json": ': cannot be read as nft JSON: not an object whose "nftables" is a list',
    "nft_items_int.json": ": cannot be read as nft JSON: 1 is not an object, at nftables[0];",
    "nft_chain_str.json": "'x' is not an object, at nftables[0].chain;",
    "nft_chain_nokeys.json": "None is not a name, at nftables[0].chain.family;",
    "nft_chain_hooklist.json": "['input'] is not a word, at nftables[0].chain.hook;",
    "nft_rule_exprstr.json": "'accept' is not a list of statements, at nftables[1].rule.expr;",
    "nft_rule_exprnull.json": "None is not a list of statements, at nftables[1].rule.expr;",
    "nft_match_str.json": "'x' is not a match (left, op, right), at nftables[1].rule.expr[0].match",
    "nft_vmap_bad.json": "[1] is not a [key, verdict] pair, at nftables[0].map.elem[0];",
    "nft_vmap_inline_bad.json": "at nftables[1].rule.expr[0].vmap.data.set[0];",
    "nft_set_flags_str.json": "5 is not a list of flags, at nftables[0].set.flags;",
    "nft_jump_str.json": "'x' names no target chain, at nftables[1].rule.expr[0].jump;",
    # a mistake in an nft text ruleset was "nft failed" (exit 3), at a line of /dev/stdin
    "nftt_badport.nft": ":4:13: nft cannot read it: Service out of range",
    "nftt_typo.nft": ":4:26: nft cannot read it: syntax error, unexpected newline",
    "win_rule_str.json": ": rules[0] is 'x', not a rule object",
    # a Cisco port beyond 65535 or a reversed range matched nothing, silently; 5000 digits
    # told to call sys.set_int_max_str_digits()
    "cis_badport.txt": ":2: port 99999 is not a port number (0-65535)",
    "cis_badrange.txt": ":2: port range 90-80 is reversed",
    "cis_lt0.txt": ":2: lt 0 matches no port",
    "cis_gtmax.txt": ":2: gt 65535 matches no port",
    "cis_negport.txt": ":2: port -1 is not a port number (0-65535)",
    "cis_hugeport.txt": ":2: port (a number of 5000 digits) is not a port number (0-65535)",
    "cis_badicmp.txt": ":2: ICMP type 999 is not a number 0-255",
    "cis_badprotocol.txt": ":2: protocol 999 is not a protocol number (0-255)",
    "s_ss_badport.txt": ":1: local port 99999 is not a port number (0-65535)",
    "s_ss_hugeport.txt": ":1: local port (a number of 5000 digits) is not a port number",
    "s_ns_win3.txt": ":5: local port 70000 is not a port number (0-65535)",
    # a YAML file given as netstat's output was read as a host where nothing listens
    "s_ns_not_netstat.txt": ": holds no line of netstat output (no 'Proto' heading, no socket)",
    # an address or a line it cannot read said what was wrong, not what to do
    "s_ss_badaddr.txt": ":1: '999.0.0.3' is not an IP address; give the listing as the tool",
    "s_ss_noport.txt": ":1: no port in '127.0.0.3:-1'; give the listing as the tool printed it",
    "s_ss_short.txt": ":1: not a line of `ss -tulpnH`: tcp LISTEN; give the output of `ss -tulpnH`",
    # ss output given as netstat's: each line passed over as a socket that does not listen,
    # so every planned port was reported planned-not-listening
    "s_ns_ss_output.txt": ":1: not a line of netstat output (no ADDRESS:PORT where its local",
    "s_ns_badaddr.txt": ":1: '999.0.0.1' is not an IP address; give the listing as the tool",
    "s_w_nolocal.json": "LocalPort ({'bogus': 1}); collect it with the one-liner of docs/audit.md",
    "s_w_port_big.json": ": tcp[0]: LocalPort (a number of 41 digits) is not a port number",
    "s_w_port_neg.json": ": tcp[0]: LocalPort -1 is not a port number (0-65535)",
    "s_w_port_float.json": ": tcp[0]: LocalPort inf is not a port number (0-65535)",
    # JSON's \ud800 escape alone (half a surrogate pair): a traceback writing --format json
    "aws_half_pair.json": "IpRanges[0].Description holds half of a surrogate pair (\\ud800)",
    "win_half_pair_key.json": "profiles[0] holds half of a surrogate pair (\\udc00) in a key",
    "s_w_half_pair.json": "tcp[0].OwningProcess holds half of a surrogate pair",
}
#: the reader of each file prefix: its option, its kind, and the deployment and host
READERS = {
    "ipt": ("--ruleset", "iptables", NEXUS, "da01"),
    "nft": ("--ruleset", "nftables", NEXUS, "da01"),
    "nftt": ("--ruleset", "nft", NEXUS, "da01"),  # nft's text
    "aws": ("--ruleset", "aws", NEXUS, "da01"),
    "win": ("--ruleset", "windows", NEXUS, "da01"),
    "k8s": ("--ruleset", "kubernetes", K8S, "idm01"),
    "cis": ("--ruleset", "cisco", NEXUS, "internet:dmz"),  # a boundary, not a host
    "s_ss": ("--sockets", "ss", NEXUS, "da01"),
    "s_ns": ("--sockets", "netstat", NEXUS, "da01"),
    "s_w": ("--sockets", "windows", NEXUS, "da01"),
}


def _argv(path: Path) -> list[str]:
    prefix = next(p for p in sorted(READERS, key=len, reverse=True) if path.name.startswith(p))
    option, kind, deployment, host = READERS[prefix]
    where = "--boundary" if kind == "cisco" else "--host"
    return ["audit", deployment, where, host, option, f"{kind}:{path}"]


def _assert_refused(record: dict[str, Any], path: Path, message: str) -> None:
    name = path.name
    assert record["crash"] is None, f"{name}: {record['crash']}"
    assert record["code"] == 2, f"{name}: exit {record['code']}\n{record['stderr']}"
    assert record["stdout"] == "", name
    assert "Traceback" not in record["stderr"], name
    assert record["seconds"] < SECONDS, f"{name}: {record['seconds']:.1f} s"
    error = record["stderr"].strip()
    assert error.startswith(f"portplan: error: {path}"), f"{name}: {error}"
    assert message in error, f"{name}: {error}"
    assert len(error.splitlines()) == 1, f"{name}: one paragraph: {error}"


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Documents nested 100,000 deep (too large to keep in git)."""
    folder = tmp_path_factory.mktemp("deep")
    files = {"nft_deep.json": '{"nftables": ' + "[" * 100_000, "s_w_deep.json": "[" * 100_000}
    for name, text in files.items():
        (folder / name).write_text(text)
    return {name: folder / name for name in files}


@pytest.fixture(scope="module")
def reports(deep: dict[str, Path]) -> dict[str, dict[str, Any]]:
    cases = [BAD / name for name in EXPECTED] + list(deep.values())
    return run_jobs([(path.name, _argv(path), None) for path in cases])


def test_every_bad_file_has_its_expectation() -> None:
    assert sorted(p.name for p in BAD.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_bad_collected_file_is_refused_where_its_mistake_is(
    name: str, reports: dict[str, dict[str, Any]]
) -> None:
    _assert_refused(reports[name], BAD / name, EXPECTED[name])


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nft_deep.json", "not the JSON of `nft -j list ruleset` (lists or objects nested too"),
        ("s_w_deep.json", "cannot be read as Windows sockets JSON: lists or objects nested too"),
    ],
)
def test_nesting_beyond_the_stack_is_refused(
    name: str, message: str, deep: dict[str, Path], reports: dict[str, dict[str, Any]]
) -> None:
    _assert_refused(reports[name], deep[name], message)


@pytest.mark.parametrize(
    "right",
    [
        {"prefix": {"addr": "10.0.0.0"}},  # no len
        {"range": ["10.0.0.1"]},  # one end only
        "x",
    ],
)
def test_an_nft_condition_of_an_odd_shape_makes_its_rule_unreadable(
    tmp_path: Path, right: Any
) -> None:
    rule = [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                       "right": right}}, {"accept": None}]  # fmt: skip
    chain = {"family": "inet", "table": "t", "name": "input", "hook": "input", "prio": 0,
             "type": "filter", "policy": "drop"}  # fmt: skip
    document = {"nftables": [{"chain": chain}, {"rule": {"family": "inet", "table": "t",
                                                          "chain": "input", "handle": 2,
                                                          "expr": rule}}]}  # fmt: skip
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(document))
    argv = ["audit", NEXUS, "--host", "da01", "--ruleset", f"nftables:{path}", "--format", "json"]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 1, result.output
    findings = json.loads(result.stdout)["audits"][0]["findings"]
    assert any(f["kind"] == "unreadable" for f in findings), findings


def test_a_text_ruleset_given_as_json_is_told_how_to_give_it(tmp_path: Path) -> None:
    """``nftables:`` is the JSON of ``nft -j``; a ruleset in nft's text given so is refused
    with the kind that reads it."""
    ruleset = tmp_path / "host.nft"
    ruleset.write_text("table inet filter {\n}\n")
    result = CliRunner().invoke(
        cli, ["audit", NEXUS, "--host", "idm01", "--ruleset", f"nftables:{ruleset}"]
    )
    assert result.exit_code == 2, result.output
    assert "host.nft: not the JSON of `nft -j list ruleset`" in result.output
    assert "give a ruleset in nft's text as nft:FILE" in result.output


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["audit", NEXUS, "--host", "da01", "--ruleset"], "(give a ruleset collected on the host "),
        (
            ["audit", NEXUS, "--host", "da01", "--sockets"],
            "(give the listening sockets collected on the host ",
        ),
        (
            ["matrix", NEXUS, "--host", "da01", "--against"],
            "(give a ruleset collected on the host ",
        ),
        (["report", NEXUS, "-o", "-", "--verify"], "(give a results file of portplan "),
        (["import", str(examples.EXAMPLES / "products"), "--map"], "(give a column map file)"),
    ],
)
def test_a_fifo_given_for_another_file_is_told_what_to_give(
    tmp_path: Path, argv: list[str], hint: str
) -> None:
    # the hint said "give a product or deployment file" whatever the option read
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = CliRunner().invoke(cli, [*argv, str(fifo)])
    assert result.exit_code == 2, result.output
    assert f"{fifo}: error: is a FIFO (named pipe), not a regular file {hint}" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("text", ["", "\n\n", "# ipset save of no set\n"])
def test_an_empty_ruleset_of_no_named_kind_is_told_to_name_it(tmp_path: Path, text: str) -> None:
    """``ipset save`` on a host without sets writes nothing: its kind cannot be told."""
    sets = tmp_path / "sets.txt"
    sets.write_text(text)
    result = CliRunner().invoke(cli, ["audit", NEXUS, "--host", "da01", "--ruleset", str(sets)])
    assert result.exit_code == 2, result.output
    assert "sets.txt: the file holds no rule, so its kind cannot be told from it" in result.output
    assert f"ipset:{sets}" in result.output
    named = CliRunner().invoke(
        cli, ["audit", NEXUS, "--host", "da01", "--ruleset", f"ipset:{sets}"]
    )
    assert "holds no rule" not in named.output


@pytest.mark.parametrize("existing", [False, True], ids=["new", "overwrite"])
def test_a_sockets_file_it_cannot_read_writes_no_annotated_copy(
    tmp_path: Path, existing: bool
) -> None:
    # the annotated copy was written (over the user's file, with --overwrite), then the
    # sockets file refused: exit 2, "nothing was written", and the copy there all the same
    v4 = examples.GOLDEN / "rules" / "iptables" / "smart-id-nexus" / "default" / "da01.v4"
    copy = tmp_path / "annotated.v4"
    if existing:
        copy.write_text("the user's own file\n")
    sockets = tmp_path / "sockets.txt"
    sockets.write_bytes(b"tcp LISTEN 0 128 0.0.0.0:22 \xff\n")
    argv = ["audit", NEXUS, "--host", "da01", "--ruleset", f"iptables:{v4}"]
    argv += ["--annotate", str(copy), "--sockets", str(sockets)]
    result = CliRunner().invoke(cli, argv + (["--overwrite"] if existing else []))
    assert result.exit_code == 2, result.output
    assert "sockets.txt:1:1: error: is not UTF-8 text" in result.stderr
    assert "nothing was written" in result.stderr
    if existing:
        assert copy.read_text() == "the user's own file\n"
    else:
        assert not copy.exists()


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]], ids=["new", "overwrite"])
def test_annotate_and_output_naming_one_file_are_refused_before_any_write(
    tmp_path: Path, overwrite: list[str]
) -> None:
    # the annotated copy was written, then the report either refused (exit 2, the copy left
    # behind) or written over it (the copy lost)
    v4 = examples.GOLDEN / "rules" / "iptables" / "smart-id-nexus" / "default" / "da01.v4"
    out = tmp_path / "audit.txt"
    also = str(tmp_path / "new" / ".." / "audit.txt")  # the same file, spelt otherwise
    argv = ["audit", NEXUS, "--host", "da01", "--ruleset", str(v4), "--annotate", str(out)]
    result = CliRunner().invoke(cli, [*argv, "-o", also, *overwrite])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"portplan: error: --annotate and -o name one file, {out}: give each its own\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_annotate_into_a_folder_written_with_a_slash_makes_the_folder(tmp_path: Path) -> None:
    # `--annotate ann/` of one ruleset wrote a file named `ann`: the '/' was dropped
    v4 = examples.GOLDEN / "rules" / "iptables" / "smart-id-nexus" / "default" / "da01.v4"
    folder = tmp_path / "ann"
    argv = ["audit", NEXUS, "--host", "da01", "--ruleset", str(v4), "--annotate", f"{folder}/"]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    assert folder.is_dir()
    assert [p.name for p in folder.iterdir()] == ["da01.v4"]
    assert "# portplan: serves management/ssh\n" in (folder / "da01.v4").read_text()


def test_an_empty_annotate_path_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `--annotate "$DIR"` with DIR unset wrote the copy into the current folder
    monkeypatch.chdir(tmp_path)
    v4 = examples.GOLDEN / "rules" / "iptables" / "smart-id-nexus" / "default" / "da01.v4"
    argv = ["audit", NEXUS, "--host", "da01", "--ruleset", str(v4), "--annotate", ""]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "portplan: error: --annotate is empty; give a file name, or a folder (ending in '/')\n"
    )
    assert list(tmp_path.iterdir()) == []

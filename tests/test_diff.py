"""``portplan diff``: two plans compared as packet sets, each change with its causes.

The golden case is ``examples/shopping-contoso.yaml`` against ``tests/data/diff/contoso-changed
.yaml``: AppClarity switched off, IIS moved from 8443 to 9443, the Shopping database moved to a
new host, cm01's RPC range widened from 49152-65535 to 1024-65535, dc02 re-addressed.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

import examples
import machine
from portplan.cli import cli
from portplan.diff import ChangeKind, diff_plans
from portplan.load.deployment import load_deployment, swap_products
from portplan.pipeline import plan_bundle
from portplan.spaces import ports_text
from portplan.targets.aws import ALL_EGRESS_DESCRIPTION
from portplan.targets.aws_delta import _rules  # the target's own rules, before the commands
from portplan.targets.base import RuleOptions

DATA = Path(__file__).resolve().parent / "data" / "diff"
OLD = examples.EXAMPLES / "shopping-contoso.yaml"
CHANGED = DATA / "contoso-changed.yaml"
CATALOG_SHOPPING = (
    Path(__file__).resolve().parent.parent / "src/portplan/load/catalog/shopping-6.1.yaml"
)


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, bytes, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "160", **(env or {})})
    return result.exit_code, result.stdout_bytes, result.stderr


def changes_of(old: Path, new: Path) -> dict[tuple[str, str, str, str], tuple[str, str]]:
    """(kind, flow, source, destination) → (ports opened, ports closed)."""
    old_bundle, new_bundle = load_deployment(old), load_deployment(new)
    found = diff_plans(
        plan_bundle(old_bundle), plan_bundle(new_bundle), old_side=old_bundle, new_side=new_bundle
    )
    out = {}
    for change in found.changes:
        opened = ",".join(ports_text(b.ports) for b in change.opened.normalised())
        closed = ",".join(ports_text(b.ports) for b in change.closed.normalised())
        out[(change.kind.value, change.flow, change.source, change.destination)] = (opened, closed)
    return out


def test_each_cause_gives_exactly_its_sets() -> None:
    found = changes_of(OLD, CHANGED)
    # the RPC range: only the new part of the range is opened
    assert found["widen", "shopping-6.1/central-wmi", "shop01", "cm01"] == ("1024-49151", "")
    # ... and from the admin PC, RDP (3389) is already open to cm01 by the management access
    assert found["widen", "shopping-6.1/console-wmi", "admin-pc", "cm01"] == (
        "1024-3388,3390-49151",
        "",
    )
    # the parameter: 9443 opened and 8443 closed, once, for the two flows that need them
    assert found["widen", "shopping-6.1/website-https", "clients", "shop01"] == ("9443", "")
    assert found["narrow", "shopping-6.1/website-https", "clients", "shop01"] == ("", "8443")
    assert not any(key[1] == "shopping-6.1/client-https" for key in found)
    # the feature: AppClarity's port is closed
    assert found["close", "shopping-6.1/central-appclarity", "shop01", "appclarity01"] == (
        "",
        "8335",
    )
    # the host moved: SQL opened to sql02, closed to sql01
    assert found["open", "shopping-6.1/website-sql", "shop01", "sql02"] == ("1433", "")
    assert found["close", "shopping-6.1/website-sql", "shop01", "sql01"] == ("", "1433")
    # re-addressed: the same port to the new address, closed to the old one
    assert found["readdress", "shopping-6.1/website-ldap", "shop01", "dc02"] == ("389", "389")


def test_the_same_plan_is_identical_and_exits_0() -> None:
    code, out, _err = run("diff", str(OLD), str(OLD))
    assert code == 0
    assert out.decode() == "identical: nothing to open, nothing to close\n"


GOLDEN_FORMATS = [
    ("table", "table.txt"),
    ("json", "diff.json"),
    ("csv", "delta.csv"),
    ("junit", "junit.xml"),
]


@pytest.mark.parametrize(("fmt", "name"), GOLDEN_FORMATS)
def test_golden_diff_of_the_changed_contoso(
    golden: Callable[[str, bytes], None], fmt: str, name: str
) -> None:
    code, out, err = run("diff", "examples/shopping-contoso.yaml",
                         "tests/data/diff/contoso-changed.yaml", "--format", fmt)  # fmt: skip
    assert code == 1, err
    golden(f"diff/contoso-changed/{name}", out)
    if fmt == "json":
        data = machine.document(out.decode(), "diff")
        assert data["summary"] == {"open": 7, "close": 5, "change": 7}


def test_xlsx_has_open_and_close_sheets(tmp_path: Path) -> None:
    target = tmp_path / "delta.xlsx"
    code, _out, err = run("diff", str(OLD), str(CHANGED), "--format", "xlsx", "-o", str(target))
    assert code == 1, err
    book = openpyxl.load_workbook(io.BytesIO(target.read_bytes()))
    assert book.sheetnames == ["Open", "Close"]
    opened = list(book["Open"].iter_rows(values_only=True))
    assert opened[0][0] == "change"
    assert ("widen", "shopping-6.1/central-wmi") in {(r[0], r[1]) for r in opened[1:]}
    closed = {(r[0], r[1]) for r in book["Close"].iter_rows(min_row=2, values_only=True)}
    assert ("close", "shopping-6.1/central-appclarity") in closed
    again = tmp_path / "again.xlsx"
    run("diff", str(OLD), str(CHANGED), "--format", "xlsx", "-o", str(again))
    assert again.read_bytes() == target.read_bytes()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_file_at_a_git_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / "deploy").mkdir(parents=True)
    path = repo / "deploy" / "prod.yaml"
    shutil.copy(OLD, path)

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
             *args], check=True, capture_output=True)  # fmt: skip

    git("init", "-q")
    # links out of the tree are left out of the copy, not a reason to fail
    (repo / "absolute").symlink_to("/etc/passwd")
    (repo / "relative").symlink_to("../../outside")
    git("add", ".")
    git("commit", "-q", "-m", "first")
    data = yaml.safe_load(path.read_text())
    data["products"]["shopping-6.1"]["features"]["appclarity"] = False
    path.write_text(yaml.safe_dump(data))
    monkeypatch.chdir(repo)
    code, out, err = run("diff", "git:HEAD:deploy/prod.yaml", "deploy/prod.yaml")
    assert code == 1, err
    assert "feature appclarity switched off" in out.decode()
    assert out.decode().endswith("0 to open, 1 to close, 0 to change\n")
    code, _out, err = run("diff", "git:NOPE:deploy/prod.yaml", "deploy/prod.yaml")
    assert code == 2 and "no revision 'NOPE'" in err
    # a revision git would read as an option (--output=FILE empties FILE) is refused
    precious = tmp_path / "precious.txt"
    precious.write_text("precious\n")
    code, _out, err = run("diff", f"git:--output={precious}:deploy/prod.yaml", "deploy/prod.yaml")
    assert code == 2 and "a revision does not start with '-'" in err
    assert precious.read_text() == "precious\n"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_folder_or_an_absent_path_at_a_git_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    (repo / "deploy").mkdir(parents=True)
    shutil.copy(OLD, repo / "deploy" / "prod.yaml")
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "first"]):
        author = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
        subprocess.run(["git", "-C", str(repo), *author, *args], check=True, capture_output=True)
    monkeypatch.chdir(repo)
    for spec in ("git:HEAD:deploy", "git:HEAD:deploy/"):
        code, out, err = run("diff", spec, "deploy/prod.yaml")
        assert (code, out) == (2, b""), err
        assert err == (
            f"portplan: error: {spec}: deploy is a folder at HEAD, not a file (it holds "
            "prod.yaml); give a file in it, such as git:HEAD:deploy/prod.yaml\n"
        )
    code, _out, err = run("diff", "git:HEAD:deploy/staging.yaml", "deploy/prod.yaml")
    assert code == 2
    assert err == (
        "portplan: error: git:HEAD:deploy/staging.yaml: deploy/staging.yaml does not exist at "
        "HEAD; check the path (`git ls-tree --name-only HEAD -- deploy/` lists what is there)\n"
    )
    code, _out, err = run("diff", "git:v9:deploy/prod.yaml", "deploy/prod.yaml")
    assert code == 2
    assert err.startswith(f"portplan: error: git:v9:deploy/prod.yaml: no revision 'v9' in {repo}")
    assert err.endswith(
        "; give a commit, branch or tag of that repository (`git log --oneline` lists its "
        "commits)\n"
    )
    assert len(err.splitlines()) == 1


def test_a_file_whose_folder_is_gone_from_the_work_tree_is_read_at_its_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the folder moved since: `git -C old/deploy` failed, "not in a git work tree"
    repo = tmp_path / "repo"
    (repo / "old" / "deploy").mkdir(parents=True)
    shutil.copy(OLD, repo / "old" / "deploy" / "prod.yaml")
    author = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "first"]):
        subprocess.run(["git", "-C", str(repo), *author, *args], check=True, capture_output=True)
    (repo / "new").mkdir()
    subprocess.run(["git", "-C", str(repo), "mv", "old/deploy", "new/deploy"], check=True)
    monkeypatch.chdir(repo / "new")
    code, out, err = run("diff", "git:HEAD:../old/deploy/prod.yaml", "deploy/prod.yaml")
    assert (code, err) == (0, ""), err
    assert out == b"identical: nothing to open, nothing to close\n"
    # a missing name followed by `..` is not walked past: nothing outside the revision
    code, _out, err = run("diff", "git:HEAD:nope/../../../../etc/hostname", "deploy/prod.yaml")
    assert code == 2
    assert "is not in a git work tree" in err
    assert err.rstrip().endswith(
        "; give PATH as a file in a git work tree, relative to the current folder"
    ), err


def test_a_product_version_swapped(tmp_path: Path) -> None:
    product = yaml.safe_load(CATALOG_SHOPPING.read_text())
    product["id"], product["version"] = "shopping-6.2", "6.2"
    flow = next(f for f in product["flows"] if f["id"] == "central-appclarity")
    flow["ports"] = [8335, 8336]
    new = tmp_path / "shopping-6.2.yaml"
    new.write_text(yaml.safe_dump(product, sort_keys=False))
    code, out, err = run("diff", str(OLD), "--product", f"shopping-6.1={new}", "--format", "json")
    assert code == 1, err
    data = machine.document(out.decode(), "diff")
    (change,) = data["changes"]
    assert change["kind"] == ChangeKind.WIDEN.value
    assert change["flow"] == "shopping-6.2/central-appclarity"
    assert change["open"][0]["ports"] == [[8336, 8336]]
    assert change["causes"] == ["vendor row changed: Shopping 6.1 -> 6.2, flow central-appclarity"]


def _line_of(text: str, written: str, after: str = "") -> int:
    """The 1-based line of the first line that is ``written``, after the first one that is
    ``after`` (when given)."""
    lines = text.splitlines()
    start = lines.index(after) if after else 0
    return lines.index(written, start) + 1


@pytest.mark.parametrize("given_as", ["old", "new", "stdin"])
def test_what_a_swap_reveals_is_located_in_the_users_own_file(
    tmp_path: Path, given_as: str
) -> None:
    """The deployment validates, and the product swapped in lacks what its binding names:
    each problem is at the line and column the user wrote it (the swap is made on the data,
    never on a re-written copy of the file, whose lines are others)."""
    text = OLD.read_text()
    text = text.replace("      website: shop01\n", "      website: [\n        shop01 ]\n")
    deployment = tmp_path / "contoso.yaml"
    deployment.write_text(text)
    search = examples.EXAMPLES / "products" / "example-search-2.0.yaml"
    swap = ("--product", f"shopping-6.1={search}")
    if given_as == "old":
        result = CliRunner().invoke(cli, ["diff", str(deployment), *swap])
    elif given_as == "new":
        result = CliRunner().invoke(cli, ["diff", str(OLD), str(deployment), *swap])
    else:
        result = CliRunner().invoke(cli, ["diff", str(OLD), "-", *swap], input=text)
    assert result.exit_code == 2, result.stderr
    name = "<stdin>" if given_as == "stdin" else str(deployment)
    products = "products:"
    expected = {
        f"{name}:{_line_of(text, '      appclarity: true', products)}:7: error: "
        "example-search-2.0 has no feature 'appclarity'",
        f"{name}:{_line_of(text, '    parameters:', products) + 1}:7: error: "
        "example-search-2.0 has no port parameter 'website_port'",
        f"{name}:{_line_of(text, '      website: [', products)}:7: error: "
        "example-search-2.0 has no component 'website'",
        f"{name}:{_line_of(text, '      appclarity: appclarity01', products)}:7: error: "
        "example-search-2.0 has no component 'appclarity'",
    }
    lines = result.stderr.splitlines()
    for line in expected:
        assert any(found.startswith(line) for found in lines), (line, result.stderr)
    assert "14 problems found" in result.stderr and "Traceback" not in result.stderr


def test_a_swap_of_a_product_for_one_the_deployment_has_is_refused(tmp_path: Path) -> None:
    """Swapping a product for another the deployment already binds would drop one binding."""
    data = examples.example_data("shopping-contoso")
    data["products"]["smart-id-21.04"] = {"components": {}}
    deployment = tmp_path / "two.yaml"
    deployment.write_text(yaml.safe_dump(data, sort_keys=False))
    code, out, err = run("diff", str(deployment), "--product", "shopping-6.1=smart-id-21.04")
    assert (code, out) == (2, b""), err
    assert "already has a product 'smart-id-21.04'" in err and "Traceback" not in err


def test_a_product_file_swapped_in_is_never_written_over(tmp_path: Path) -> None:
    product = tmp_path / "shopping-6.1.yaml"
    product.write_text(CATALOG_SHOPPING.read_text())
    before = product.read_bytes()
    code, out, err = run(
        "diff", str(OLD), "--product", f"shopping-6.1={product}", "-o", str(product), "--overwrite"
    )
    assert (code, out) == (2, b""), err
    assert "it is one of the input files" in err
    assert product.read_bytes() == before


def test_a_swapped_product_keeps_the_users_lines_in_the_plan(tmp_path: Path) -> None:
    """The new side's plan names an overridden port parameter at the line the user wrote."""
    text = OLD.read_text()
    line = _line_of(text, "      website_port: 8443")
    bundle, renamed = swap_products(OLD, None, [("shopping-6.1", "shopping-6.1")])
    assert renamed == {"shopping-6.1": "shopping-6.1"}
    assert bundle.where(("products", "shopping-6.1", "parameters", "website_port")) == (
        f"{OLD.name}:{line}"
    )
    reasons = {r for decision in plan_bundle(bundle).decisions for r in decision.reasons}
    assert (
        f"port parameter overridden: website_port=8443 (vendor default 443) ({OLD.name}:{line})"
        in reasons
    )


def test_one_product_swapped_twice_is_refused(tmp_path: Path) -> None:
    # the second swap replaced the first without a word: the edited product was asked, the
    # catalog's compared, and the plans said "identical"
    product = yaml.safe_load(CATALOG_SHOPPING.read_text())
    flow = next(f for f in product["flows"] if f["id"] == "central-appclarity")
    flow["ports"] = [8335, 8336]
    new = tmp_path / "shopping-edited.yaml"
    new.write_text(yaml.safe_dump(product, sort_keys=False))
    first, second = f"shopping-6.1={new}", "shopping-6.1=shopping-6.1"
    code, out, err = run("diff", str(OLD), "--product", first, "--product", second)
    assert code == 2, err
    assert out == b""
    assert err == (
        f"portplan: error: --product shopping-6.1 is given twice, with two products ({first!r}, "
        f"{second!r}); give it once\n"
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((str(OLD),), "give NEW"),
        (("-", "-"), "only one side can come from standard input: give the other as a file"),
        ((str(OLD), "--product", "nope=shopping-6.1"), "no product 'nope'"),
        ((str(OLD), "/no/such.yaml"), "no such file"),
    ],
)
def test_bad_input_exits_2(args: tuple[str, ...], words: str) -> None:
    code, _out, err = run("diff", *args)
    assert code == 2 and words in err, err


def test_aws_delta_takes_the_old_groups_to_the_new(
    golden: Callable[[str, bytes], None],
) -> None:
    """The script authorizes exactly the new target's rules the old lacks and revokes the
    others: applied to the old rules, it gives the new ones."""
    code, out, err = run("diff", "examples/shopping-contoso.yaml",
                         "tests/data/diff/contoso-changed.yaml", "--delta", "aws")  # fmt: skip
    assert code == 1, err  # the plans differ, as `diff` without --delta says
    golden("diff/contoso-changed/aws-delta.sh", out)
    old = set(_rules(plan_bundle(load_deployment(OLD)), RuleOptions()))
    new = set(_rules(plan_bundle(load_deployment(CHANGED)), RuleOptions()))
    text = out.decode()

    def keys(verb: str) -> set[tuple[str, str, str, str]]:
        found = set()
        for line in text.splitlines():
            if line.startswith(f"aws ec2 {verb}-security-group-ingress"):
                host = line.split("sg portplan-", 1)[1].split(")", 1)[0]
                fields = dict(p.split("=", 1) for p in line.split("'")[1].split(",")[:3])
                peer = line.split("Cidr")[1].split("=", 1)[1].split(",")[0].split("}")[0]
                found.add((host, fields["FromPort"], fields["ToPort"], peer))
        return found

    def simple(rules: set[tuple[object, ...]]) -> set[tuple[str, str, str, str]]:
        return {(str(k[0]), str(k[3]), str(k[4]), str(k[5])) for k in rules}

    assert keys("authorize") == simple(new - old)
    assert keys("revoke") == simple(old - new)


#: what AWS gives a new VPC security group on its own: all traffic out to 0.0.0.0/0 (and to ::/0
#: in some VPCs); the delta must leave the group exactly as security-groups.tf would
_V4_ALL = "'IpProtocol=-1,IpRanges=[{CidrIp=0.0.0.0/0}]'"
_V6_ALL = "'IpProtocol=-1,Ipv6Ranges=[{CidrIpv6=::/0}]'"
_V6_CHECK = '[ "$(all_out_v6 "$(sg portplan-sql02)")" = 0 ]'


def _delta(*options: str) -> list[str]:
    code, out, err = run("-q", "diff", str(OLD), str(CHANGED), "--delta", "aws", *options)
    assert code == 1, err
    return out.decode().splitlines()


def test_aws_delta_with_egress_revokes_the_default_egress_of_a_new_group(
    golden: Callable[[str, bytes], None],
) -> None:
    lines = _delta("--egress")
    golden("diff/contoso-changed/aws-delta-egress.sh", ("\n".join(lines) + "\n").encode())
    create = next(i for i, line in enumerate(lines) if "create-security-group" in line)
    assert "--group-name portplan-sql02 " in lines[create]
    assert lines[create + 1] == (
        'aws ec2 revoke-security-group-egress --group-id "$(sg portplan-sql02)" '
        f"--ip-permissions {_V4_ALL} >/dev/null"
    )
    # ::/0 only where AWS added it: revoking an absent rule would stop the script (set -e)
    assert lines[create + 2] == (
        f"{_V6_CHECK} || aws ec2 revoke-security-group-egress --group-id "
        f'"$(sg portplan-sql02)" --ip-permissions {_V6_ALL} >/dev/null'
    )
    first_rule = next(i for i, line in enumerate(lines) if "-security-group-" in line and
                      "sg portplan-" in line and i > create + 2)  # fmt: skip
    assert first_rule == create + 3  # before any planned rule is authorized
    # every allow-all rule the script touches is one it revokes
    assert not [line for line in lines if "IpProtocol=-1" in line and "authorize" in line]


def test_aws_delta_without_egress_leaves_outbound_open_as_terraform_does() -> None:
    lines = _delta()
    assert not [line for line in lines if "revoke-security-group-egress" in line]
    create = next(i for i, line in enumerate(lines) if "create-security-group" in line)
    # security-groups.tf gives each group all_ipv4 and all_ipv6: AWS adds the first itself
    assert lines[create + 1] == (
        f"{_V6_CHECK.replace('= 0', '!= 0')} || aws ec2 authorize-security-group-egress "
        '--group-id "$(sg portplan-sql02)" --ip-permissions '
        "'IpProtocol=-1,Ipv6Ranges=[{CidrIpv6=::/0,"
        'Description="egress not filtered (rules without --egress)"}]\' >/dev/null'
    )


def test_aws_delta_exits_as_diff_does() -> None:
    """0 when the plans are identical, 1 when they differ (README's exit status table)."""
    code, out, err = run("-q", "diff", str(OLD), str(OLD), "--delta", "aws")
    assert code == 0, err
    assert b"0 rules to authorize, 0 to revoke." in out
    assert not [line for line in out.decode().splitlines() if line.startswith("aws ec2 ")]
    code, out, err = run("-q", "diff", str(OLD), str(CHANGED), "--delta", "aws")
    assert code == 1, err
    assert b"aws ec2 authorize-security-group-ingress" in out


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (("--egress",), "--egress goes with --delta"),
        (("--delta", "aws", "--format", "json"), "--format json does not apply to --delta"),
    ],
)
def test_an_option_that_would_do_nothing_is_refused(options: tuple[str, ...], words: str) -> None:
    code, out, err = run("diff", str(OLD), str(CHANGED), *options)
    assert (code, out) == (2, b""), err
    assert words in err and "Traceback" not in err


def test_a_csv_cell_a_spreadsheet_would_run_starts_with_a_quote(tmp_path: Path) -> None:
    old = examples.hostile_deployment(tmp_path, title="=HYPERLINK(1)", name="old")
    new = examples.hostile_deployment(tmp_path, title="=HYPERLINK(1)", ports=5433, name="new")
    code, out, err = run("diff", str(old), str(new), "--format", "csv")
    assert code == 1, err
    rows = list(csv.DictReader(io.StringIO(out.decode())))
    assert [r["reference"] for r in rows] == ["'=HYPERLINK(1) > row 1"] * 2
    assert [r["ports"] for r in rows] == ["5433", "5432"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("website_port: 8443", "website_port: 0443"),  # octal to PyYAML, a mistake to portplan
        ("name: contoso-shopping", "name: !!python/object/apply:os.system [id]"),
    ],
)
def test_a_swapped_deployment_is_read_and_checked_as_any_other(
    tmp_path: Path, change: str, expected: str
) -> None:
    (tmp_path / "products").symlink_to(examples.EXAMPLES / "products")
    new = tmp_path / "new.yaml"
    text = OLD.read_text()
    assert change in text
    new.write_text(text.replace(change, expected))
    code, _out, err = run("diff", str(OLD), str(new), "--product", "shopping-6.1=shopping-6.1")
    assert code == 2, err
    assert f"{new}:" in err and "Traceback" not in err


_PERMISSION = re.compile(
    r"^aws ec2 (authorize|revoke)-security-group-(ingress|egress) --group-id "
    r"\"\$\(sg portplan-([^)]+)\)\" --ip-permissions 'IpProtocol=(\w+),FromPort=(-?\d+),"
    r"ToPort=(-?\d+),Ip(?:v6)?Ranges=\[\{CidrIp(?:v6)?=([^,}]+)",
    re.MULTILINE,
)


def _search(directory: Path, name: str, **hosts: dict[str, object]) -> Path:
    """``examples/search-cluster.yaml`` with RFC 5737 addresses only and ``hosts`` changed,
    written to ``directory/NAME.yaml``."""
    data = examples.example_data("search-cluster")
    for host in data["hosts"].values():
        if "addresses" in host:
            host["addresses"] = [a for a in host["addresses"] if ":" not in a]
    data["hosts"].update(hosts)
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    if not (directory / "products").exists():
        (directory / "products").symlink_to(examples.EXAMPLES / "products")
    return path


_UPDATES_ADDRESSED = {"addresses": ["203.0.113.80"], "managed": False}
_UPDATES_MANAGED = {"dns_name": "updates.example.com"}  # a group of its own, by name only
_DASH_MOVED = {"addresses": ["198.51.100.20"], "zone": "internal"}


@pytest.mark.parametrize(
    ("old_hosts", "new_hosts", "egress"),
    [
        ({}, {"dash01": _DASH_MOVED}, False),  # a zone move: no security group changes
        (
            {"updates": _UPDATES_ADDRESSED},
            {"updates": _UPDATES_ADDRESSED, "dash01": _DASH_MOVED},
            True,
        ),
        ({"updates": _UPDATES_ADDRESSED}, {}, False),  # to a name, unmanaged: no group either
        ({}, {"updates": _UPDATES_MANAGED}, False),  # a new group for a name-only host
        ({"updates": _UPDATES_MANAGED}, {}, False),
    ],
)
def test_aws_delta_of_zone_moves_and_name_only_hosts_gives_the_new_rules(
    tmp_path: Path,
    old_hosts: dict[str, dict[str, object]],
    new_hosts: dict[str, dict[str, object]],
    egress: bool,
) -> None:
    old, new = _search(tmp_path, "old", **old_hosts), _search(tmp_path, "new", **new_hosts)
    extra = ("--egress",) if egress else ()
    code, out, err = run("-q", "diff", str(old), str(new), "--delta", "aws", *extra)
    assert code == run("-q", "diff", str(old), str(new))[0] == 1, err  # the plans differ
    options = RuleOptions(egress=egress)
    rules = {
        tuple(str(part) for part in key)
        for key in _rules(plan_bundle(load_deployment(old)), options)
    }
    commands = _PERMISSION.findall(out.decode())
    counted = re.search(r"(\d+) rules? to authorize, (\d+) to revoke", out.decode())
    assert counted and len(commands) == int(counted[1]) + int(counted[2])  # every one parsed
    for verb, side, host, *permission in commands:
        key = (host, "in" if side == "ingress" else "out", *permission)
        (rules.add if verb == "authorize" else rules.remove)(key)
    new_rules = _rules(plan_bundle(load_deployment(new)), options)
    assert rules == {tuple(str(part) for part in key) for key in new_rules}


def test_aws_delta_refusal_names_the_side_that_cannot_be_expressed(tmp_path: Path) -> None:
    """With --egress a group's outbound rule to a name-only host cannot be written: the
    refusal says which plan holds the name, also when it is the old one (whose groups the
    target never rendered)."""
    named = _search(tmp_path, "named")  # updates.example.com, by name only
    addressed = _search(tmp_path, "addressed", updates=_UPDATES_ADDRESSED)
    code, out, err = run("diff", str(named), str(addressed), "--delta", "aws", "--egress")
    assert (code, out) == (2, b""), err
    assert f"error: {named} (the old plan): flow example-search-2.0/updates" in err
    assert "renders no security groups for that plan" in err and "Traceback" not in err
    code, out, err = run("diff", str(addressed), str(named), "--delta", "aws", "--egress")
    assert (code, out) == (2, b""), err
    assert f"error: {named} (the new plan): flow example-search-2.0/updates" in err
    assert "known by its DNS name only (updates.example.com)" in err


def test_aws_delta_gives_a_rule_whose_flows_changed_their_names(tmp_path: Path) -> None:
    """The same packets serving a renamed flow: no rule to add or revoke, but the description
    that traces the rule to its flows must follow, as security-groups.tf does."""
    old = _search(tmp_path, "old")
    renamed = tmp_path / "renamed"
    (renamed / "products").mkdir(parents=True)
    product = (examples.EXAMPLES / "products" / "example-search-2.0.yaml").read_text()
    assert "  - id: dashboard-web\n" in product
    (renamed / "products" / "example-search-2.0.yaml").write_text(
        product.replace("  - id: dashboard-web\n", "  - id: dashboard-https\n")
    )
    new = renamed / "new.yaml"
    new.write_text(old.read_text())
    code, out, err = run("-q", "diff", str(old), str(new), "--delta", "aws")
    # the same packets: the plans are identical for `diff` (exit 0), descriptions aside
    assert code == run("-q", "diff", str(old), str(new))[0] == 0, err
    text = out.decode()
    assert "0 rules to authorize, 0 to revoke, 1 description to update." in text
    [update] = [line for line in text.splitlines() if "descriptions" in line and "aws" in line]
    assert update.startswith("aws ec2 update-security-group-rule-descriptions-ingress ")
    assert 'Description="example-search-2.0/dashboard-https"' in update
    code, terraform, err = run("-q", "rules", str(new), "-t", "aws")
    assert code == 0, err
    assert b'"example-search-2.0/dashboard-https"' in terraform


def _many_flows(directory: Path, count: int) -> Path:
    """``_search``'s deployment in ``directory``, its product given ``count`` more flows from
    the nodes to the dashboard's port 5601, with ids long enough that their list in a rule's
    description is cut at AWS's 255 characters."""
    product = yaml.safe_load(
        (examples.EXAMPLES / "products" / "example-search-2.0.yaml").read_text()
    )
    product["flows"] += [
        {"id": f"dashboard-plugin-callback-of-node-number-{n}", "row": 100 + n, "from": "node",
         "to": "dashboard", "protocol": "tcp", "ports": 5601, "purpose": "A plug-in calls back."}
        for n in range(count)
    ]  # fmt: skip
    (directory / "products").mkdir(parents=True)
    (directory / "products" / "example-search-2.0.yaml").write_text(yaml.safe_dump(product))
    return _search(directory, "deployment")


def test_aws_delta_descriptions_are_security_groups_tf_s(tmp_path: Path) -> None:
    """A rule serving more flows than a description holds: the script authorizes it, and
    updates it when a flow past the cut goes, with the very description security-groups.tf
    gives it (the flows that fit, then +N), never one cut inside a flow id."""
    old, new = _many_flows(tmp_path / "old", 12), _many_flows(tmp_path / "new", 11)
    terraform = {}
    for path in (old, new):
        code, out, err = run("-q", "rules", str(path), "-t", "aws")
        assert code == 0, err
        blocks = re.findall(
            r'"(dash01_tcp_5601_192_0_2_11_32)" \{\n.*?description\s+= "([^"]*)"',
            out.decode(),
            re.S,
        )
        terraform[path] = blocks[0][1]
    assert terraform[old].endswith(" +8") and terraform[new].endswith(" +7"), terraform
    code, out, err = run("-q", "diff", str(_search(tmp_path, "plain")), str(old), "--delta", "aws")
    assert code == 1, err
    [added] = [line for line in out.decode().splitlines() if "CidrIp=192.0.2.11/32" in line
               and "FromPort=5601" in line]  # fmt: skip
    assert f'Description="{terraform[old]}"' in added
    code, out, err = run("-q", "diff", str(old), str(new), "--delta", "aws")
    assert code == 0, err  # the flow that goes has the packets of those that stay
    updates = [line for line in out.decode().splitlines() if "CidrIp=192.0.2.11/32" in line]
    assert len(updates) == 1 and "update-security-group-rule-descriptions-ingress" in updates[0]
    assert f'Description="{terraform[new]}"' in updates[0]


def test_aws_delta_creates_a_group_as_security_groups_tf_has_it() -> None:
    """A new host's group: the description and Name tag of its aws_security_group, and (without
    --egress) its allow-all egress rules described as the file describes them; AWS's own
    0.0.0.0/0 rule has no description."""
    code, terraform, err = run("-q", "rules", str(CHANGED), "-t", "aws")
    assert code == 0, err
    group = re.search(
        r'resource "aws_security_group" "sql02" \{\n\s+name\s+= "([^"]+)"\n'
        r'\s+description\s+= "([^"]+)"', terraform.decode()
    )  # fmt: skip
    assert group, terraform
    name, description = group.groups()
    lines = _delta()
    [create] = [line for line in lines if "create-security-group" in line]
    assert f"--group-name {name} --description '{description}' " in create
    assert f"'ResourceType=security-group,Tags=[{{Key=Name,Value={name}}}]'" in create
    described = f'Description="{ALL_EGRESS_DESCRIPTION}"'
    assert terraform.decode().count(described.replace("Description=", "description       = ")) > 0
    [update] = [line for line in lines if "update-security-group-rule-descriptions-egress" in line]
    assert update.startswith(
        'aws ec2 update-security-group-rule-descriptions-egress --group-id "$(sg portplan-sql02)" '
    )
    assert f"IpRanges=[{{CidrIp=0.0.0.0/0,{described}}}]" in update
    assert f"Ipv6Ranges=[{{CidrIpv6=::/0,{described}}}]" in update
    assert not [line for line in _delta("--egress") if "descriptions-egress" in line]


def test_aws_delta_says_when_a_group_passes_the_rule_quota_on_the_way(tmp_path: Path) -> None:
    """40 administrators' addresses move from SSH on 22 to 2222: before and after, each group
    holds 40 SSH rules and a few others, under AWS's default quota of 60, but the script
    authorizes the 40 new ones before it revokes the 40 old, and AWS would refuse the 61st:
    the script says so first, as security-groups.tf does for a group past the quota."""
    admins = {"addresses": [f"203.0.113.{n}" for n in range(1, 41)], "zone": "admin"}
    old = _search(tmp_path, "old", **{"admin-net": admins})
    data = yaml.safe_load(old.read_text())
    data["management"][0]["ports"] = 2222
    new = tmp_path / "new.yaml"
    new.write_text(yaml.safe_dump(data, sort_keys=False))
    code, out, err = run("-q", "diff", str(old), str(new), "--delta", "aws")
    assert code == 1, err
    notes = [line for line in out.decode().splitlines() if line.startswith("# note:")]
    assert notes == [
        f"# note: portplan-{host} holds up to {count} inbound IPv4 rules while this script runs "
        "(new rules are authorized before old ones are revoked): more than the default quota of "
        "60 per security group; raise it in Service Quotas first, or AWS refuses the rule past "
        "it and the script stops there"
        # 80 SSH rules, and the 9 (search) and 3 (dash01) rules of the other flows
        for host, count in (("search", 89), ("dash01", 83))
    ], notes
    code, out, err = run("-q", "diff", str(old), str(old), "--delta", "aws")
    assert "# note:" not in out.decode()  # 40 rules that stay: nothing to refuse


def test_a_management_entry_added_or_removed_is_said_so(tmp_path: Path) -> None:
    """An entry new under ``management:`` is "added", one gone "removed": "changed" sent the
    engineer looking for an edit that was never made."""
    source = examples.EXAMPLES / "search-cluster.yaml"
    deployment = yaml.safe_load(source.read_text())
    assert [m["id"] for m in deployment["management"]] == ["ssh"]
    deployment["management"] = [{**deployment["management"][0], "id": "shell", "ports": 2222}]
    shutil.copytree(examples.EXAMPLES / "products", tmp_path / "products")
    new = tmp_path / "search-cluster.yaml"
    new.write_text(yaml.safe_dump(deployment, sort_keys=False))
    old_bundle, new_bundle = load_deployment(source), load_deployment(new)
    found = diff_plans(
        plan_bundle(old_bundle), plan_bundle(new_bundle), old_side=old_bundle, new_side=new_bundle
    )
    causes = {(c.kind.value, c.flow): c.causes for c in found.changes}
    assert causes
    for (kind, flow), why in causes.items():
        assert kind in ("open", "close"), (kind, flow)
        expected = (
            "management access shell added" if kind == "open" else ("management access ssh removed")
        )
        assert why == (expected,), (kind, flow, why)


def test_a_host_that_gets_no_ruleset_any_more_is_warned_of(tmp_path: Path) -> None:
    """A host made unmanaged (or removed) gets no ruleset from the new plan, and rules, apply
    and audit no longer know it; what was applied there keeps its openings. diff said only
    "host ... removed" among a row's causes, and docs/audit.md that host firewalls need no
    delta: now it warns of each such host and says where the way to remove it is."""
    source = examples.EXAMPLES / "search-cluster.yaml"
    deployment = yaml.safe_load(source.read_text())
    deployment["hosts"]["dash01"]["managed"] = False
    shutil.copytree(examples.EXAMPLES / "products", tmp_path / "products")
    new = tmp_path / "search-cluster.yaml"
    new.write_text(yaml.safe_dump(deployment, sort_keys=False))
    code, _out, err = run("diff", str(source), str(new))
    assert code == 1, err
    assert (
        "host dash01 is no longer managed, so the new plan writes no ruleset for it: a "
        "ruleset applied there from the old plan keeps filtering and keeps its openings until "
        "it is replaced or removed on that machine (docs/targets.md: 'A host that leaves the "
        "plan')"
    ) in " ".join(err.split())
    assert err.count("writes no ruleset") == 1  # the other hosts keep theirs
    del deployment["hosts"]["dash01"]
    deployment["hosts"]["dash02"] = {"addresses": ["198.51.100.21"], "zone": "dmz"}
    deployment["products"]["example-search-2.0"]["components"]["dashboard"] = "dash02"
    new.write_text(yaml.safe_dump(deployment, sort_keys=False))
    code, _out, err = run("diff", str(source), str(new))
    assert code == 1, err
    assert "host dash01 is no longer in the deployment, so" in " ".join(err.split())
    code, _out, err = run("diff", str(source), str(source))
    assert (code, "no ruleset" in err) == (0, False)


_AGENT_PRODUCT = """\
id: agentish
name: Agentish
version: "1.0"
document:
  title: ports
components:
  client: {name: Client, kind: client}
  agent: {name: Agent, parent: client}
  server: {name: Server}
features:
  agent: {description: The agent on each client., default: false}
flows:
  - {id: web, row: 1, from: client, to: server, protocol: tcp, ports: 443, purpose: The portal.}
  - {id: agent, row: 2, loopback: true, from: client, to: agent, protocol: tcp, ports: 8000,
     purpose: The browser asks the agent., condition: agent}
"""


def test_a_network_that_only_sends_now_is_not_said_to_be_in_no_row(tmp_path: Path) -> None:
    """A clients subnet gets a ruleset while a row ends on it (its machines' loopback agent);
    with that row gone it only sends, and gets none.  The warning said it "takes part in no
    row of the new plan", untrue: it is still every row's source."""
    (tmp_path / "product.yaml").write_text(_AGENT_PRODUCT)
    for agent in ("on", "off"):
        deployment = {
            "name": "agentish",
            "hosts": {"clients": {"addresses": ["198.51.100.0/24"]},
                      "server": {"addresses": ["192.0.2.10"]}},
            "products": {"agentish": {"file": "product.yaml", "features": {"agent": agent == "on"},
                                      "components": {"client": "clients", "server": "server"}}},
        }  # fmt: skip
        (tmp_path / f"{agent}.yaml").write_text(yaml.safe_dump(deployment))
    code, _out, err = run("diff", str(tmp_path / "on.yaml"), str(tmp_path / "off.yaml"))
    said = " ".join(err.split())
    assert code == 1, err
    assert "takes part in no row" not in said
    assert (
        "host clients is a network of machines that no row of the new plan ends on (it only "
        "sends), so the new plan writes no ruleset for it"
    ) in said


def test_a_networkpolicy_the_new_plan_does_not_write_is_warned_of(tmp_path: Path) -> None:
    """A NetworkPolicy is named after its host, in the host's namespace: after a rename, a
    move to another namespace or cluster, or `kubernetes:` taken away, `kubectl apply -f` of
    the new policies leaves the old one in force with its openings. diff said nothing of it
    (a rename only warned of a machine's ruleset)."""
    source = examples.EXAMPLES / "smart-id-k8s.yaml"
    deployment = yaml.safe_load(source.read_text())
    hosts = deployment["hosts"]
    hosts["pa01"]["kubernetes"]["namespace"] = "access"
    del hosts["msg01"]["kubernetes"]
    shutil.copytree(examples.EXAMPLES / "products", tmp_path / "products")
    new = tmp_path / "smart-id-k8s.yaml"
    new.write_text(yaml.safe_dump(deployment, sort_keys=False))
    code, _out, err = run("diff", str(source), str(new))
    assert code == 1, err
    said = " ".join(err.split())
    for host in ("pa01", "msg01"):
        assert (
            f"the NetworkPolicy portplan-{host} in namespace smart-id of cluster prod is not "
            "in the new plan's policies, and `kubectl apply -f` of them leaves it in force "
            f"with its openings: delete it (kubectl delete networkpolicy portplan-{host} -n "
            "smart-id)"
        ) in said
    assert said.count("NetworkPolicy") == 2  # idm01 and the others keep theirs
    assert "writes no ruleset" not in said  # no machine's ruleset is left behind here

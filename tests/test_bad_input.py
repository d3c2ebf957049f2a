"""Bad input: every kind of mistake in a product or deployment file is reported, located and hinted.

Each case writes one small bad YAML file (a minimal product below, or a real example deployment
with one line changed), runs the CLI and checks the contract of an error report:

* exit status 2, nothing on standard output, no traceback;
* one ``FILE:LINE:COL: error: MESSAGE (HINT)`` line per problem, then the summary line;
* the exact line and column of the mistake (counted by hand from the text written here; the
  ``edit`` helper checks that the changed text really starts on the line given);
* the key part of the message and the hint (the did-you-mean suggestion where there is one);
* the input files are only read: same bytes, same modification time, no new files beside them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from portplan.cli import cli
from portplan.cli.verify import MAX_COMMUNITY
from portplan.probe.identify._snmp_v2c import get_request

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SHOPPING = (EXAMPLES / "shopping-contoso.yaml").read_text(encoding="utf-8")
SMART_ID = (EXAMPLES / "smart-id-nexus.yaml").read_text(encoding="utf-8")
K8S = (EXAMPLES / "smart-id-k8s.yaml").read_text(encoding="utf-8")
_PA01_PODS = (
    "    kubernetes: {cluster: prod, namespace: smart-id, pod_labels: {app: physical-access}}\n"
)

# A minimal valid product.  Line numbers, for computing expected locations by hand:
#  5 "  title: Demo ports"       23 "    to: website"     27 "  - id: lab-portal"
# 20 "  - id: web"               24 "    protocol: tcp"   31 "    protocol: udp"
# 21 "    row: 1"                25 "    ports: 443"      32 "    ports: 8080"
# 22 "    from: client"          26 "    purpose: ..."    34 "    condition: lab and not exchange"
PRODUCT = """\
id: demo-1.0
name: Demo
version: "1.0"
document:
  title: Demo ports
components:
  website:
    name: Website
  portal:
    name: Lab portal
  client:
    name: Client
    kind: client
features:
  lab:
    description: A lab environment.
  exchange:
    description: Exchange is available.
flows:
  - id: web
    row: 1
    from: client
    to: website
    protocol: tcp
    ports: 443
    purpose: Browse the website.
  - id: lab-portal
    row: 2
    from: client
    to: portal
    protocol: udp
    ports: 8080
    purpose: Reach the lab portal.
    condition: lab and not exchange
"""

SYNTAX_HINT = "fix the indentation, quoting or brackets at that spot"
UNCLOSED_HINT = "add the closing bracket or quote that matches this one"
CONDITION_HINT = "join feature names with 'and', 'or', 'not' and parentheses: 'a and not b'"
ADDRESS_HINT = "write an address such as 192.0.2.10 or a network such as 198.51.100.0/24"
DNS_NAME_HINT = "write a host name such as shop01.example.com: labels of letters, digits and '-'"
DOUBLE_AND = (
    "condition 'lab and and exchange': expected a feature name, 'not' or '(' but found 'and'"
)


def edit(text: str, old: str, new: str, *, line: int) -> str:
    """Replace the one occurrence of ``old``, which must start on ``line`` (1-based)."""
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    start = text.index(old)
    assert text.count("\n", 0, start) + 1 == line, f"{old!r} does not start on line {line}"
    return text.replace(old, new)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _state(paths: list[Path]) -> dict[Path, object]:
    """Contents and modification times of the files, and the listing of their directories."""
    state: dict[Path, object] = {}
    for path in paths:
        state[path] = (path.read_bytes(), path.stat().st_mtime_ns)
        state[path.parent] = sorted(p.name for p in path.parent.iterdir())
    return state


def invoke(*args: str | Path) -> Result:
    """Run the CLI; check that the files given were only read and nothing was written by them."""
    files = [a for a in args if isinstance(a, Path)]
    before = _state(files)
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert _state(files) == before, "an input file or its directory changed"
    return result


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if ": error: " in line]


def assert_failed(result: Result) -> None:
    """Exit status 2, a clean report on stderr, no traceback, nothing on stdout."""
    assert result.exit_code == 2, f"exit status {result.exit_code}\n{result.output}"
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == ""


def assert_error(
    result: Result, path: Path, line: int, column: int, message: str, hint: str
) -> None:
    """Exactly one error line says ``message``; it is at path:line:column and gives ``hint``."""
    found = [e for e in error_lines(result) if message in e]
    assert len(found) == 1, f"expected one error saying {message!r}; stderr:\n{result.stderr}"
    location, _, rest = found[0].partition(": error: ")
    assert location == f"{path}:{line}:{column}", f"wrong location:\n{found[0]}"
    assert f"({hint}" in rest, f"hint {hint!r} missing:\n{found[0]}"
    assert rest.index(message) < rest.index(f"({hint}"), found[0]
    assert rest.endswith(")"), found[0]


def assert_count(result: Result, count: int) -> None:
    """``count`` error lines, then the summary line, and nothing else on stderr."""
    lines = result.stderr.splitlines()
    errors = error_lines(result)
    assert len(errors) == count, f"expected {count} problem(s); stderr:\n{result.stderr}"
    plural = "s" if count != 1 else ""
    assert lines[-1].startswith(f"portplan: {count} problem{plural} found"), result.stderr
    assert len(lines) == count + 1, result.stderr


@dataclass(frozen=True)
class Case:
    """A bad file with one mistake, and what the report must say about it."""

    text: str
    line: int
    column: int
    message: str
    hint: str


def _assert_one_error(directory: Path, name: str, command: str, case: Case) -> None:
    """``case.text``, written to ``directory/name``, makes ``command`` report its one error only."""
    path = write(directory, name, case.text)
    result = invoke(command, path)
    assert_failed(result)
    assert_error(result, path, case.line, case.column, case.message, case.hint)
    assert_count(result, 1)


# -- products ----------------------------------------------------------------------------------

PRODUCT_CASES = [
    pytest.param(
        # the first entry listing a platform won, silently: which range the vendor means for
        # it is for the modeller to say, not for portplan to pick
        Case(
            text=PRODUCT
            + "dynamic_ranges:\n"  # line 35
            + "  rpc:\n"
            + "    description: Windows RPC.\n"
            + "    by_platform:\n"
            + "      - platforms: [windows-xp]\n"
            + "        ports: 1025-5000\n"  # line 40
            + "      - platforms: [windows-7, windows-xp]\n"
            + "        ports: 49152-65535\n",
            line=41,
            column=32,
            message="dynamic range 'rpc' lists platform 'windows-xp' twice (also by_platform[0])",
            hint="give each platform one range: remove it from one of the entries",
        ),
        id="dynamic-range-platform-listed-twice",
    ),
    pytest.param(
        Case(
            text=edit(
                PRODUCT,
                "    purpose: Browse the website.\n",
                "    purpose: Browse: the website.\n",
                line=26,
            ),
            line=26,
            column=20,
            message="YAML syntax error: mapping values are not allowed",
            hint=SYNTAX_HINT,
        ),
        id="yaml-syntax-colon-in-plain-value",
    ),
    pytest.param(
        # the unclosed '[' is the mistake; the parser only notices it on the next line
        Case(
            text=edit(PRODUCT, "    ports: 443\n", "    ports: [443, 8443\n", line=25),
            line=25,
            column=12,
            message="YAML syntax error: unclosed bracket: did not find expected ',' or ']', "
            "noticed at line 26, column 12",
            hint=UNCLOSED_HINT,
        ),
        id="yaml-syntax-unclosed-bracket",
    ),
    *(
        pytest.param(
            # the hint writes the escape of this very character, not of another one
            Case(
                text=edit(PRODUCT, "  title: Demo ports\n", f"  title: Demo{char}ports\n", line=5),
                line=5,
                column=14,
                message=f"character U+{ord(char):04X} is not allowed in YAML",
                hint=f"remove it, or write it as an escape in double quotes ({escape})",
            ),
            id=f"yaml-character-U+{ord(char):04X}",
        )
        for char, escape in [("\x00", "\\x00"), ("\x1b", "\\x1B"), ("\ufffe", "\\uFFFE")]
    ),
    pytest.param(
        # the unclosed quote is the mistake; the parser only notices it at the end of the file
        Case(
            text=edit(PRODUCT, "  title: Demo ports\n", '  title: "Demo ports\n', line=5),
            line=5,
            column=10,
            message="YAML syntax error: unclosed quoted text: found unexpected end of stream",
            hint=UNCLOSED_HINT,
        ),
        id="yaml-syntax-unclosed-quote",
    ),
    pytest.param(
        Case(
            text=edit(PRODUCT, "    ports: 443\n", "    ports: 443\n    ports: 8443\n", line=25),
            line=26,
            column=5,
            message="duplicate key 'ports' (first written at line 25)",
            hint="keep one of them",
        ),
        id="duplicate-yaml-key",
    ),
    pytest.param(
        Case(
            text=edit(PRODUCT, "    protocol: tcp\n", "    protocol: 7\n", line=24),
            line=24,
            column=15,
            message="flows[0].protocol: 7 is not allowed",
            hint="use one of 'tcp', 'udp' or 'icmp'",
        ),
        id="wrong-type-number-for-protocol",
    ),
    pytest.param(
        Case(
            text=edit(PRODUCT, "    row: 1\n", "    row: one\n", line=21),
            line=21,
            column=10,
            message="flows[0].row: input should be a valid integer",
            hint="see `portplan schema` for the format",
        ),
        id="wrong-type-text-for-row",
    ),
    pytest.param(
        # YAML has lists, not tuples: the message must speak the file's language
        Case(
            text=edit(
                PRODUCT,
                "  title: Demo ports\n",
                "  title: Demo ports\n  notes: Ports as of 2024.\n",
                line=5,
            ),
            line=6,
            column=10,
            message="document.notes: expected a list, found str",
            hint="write a YAML list: [a, b] or one '- item' line per entry",
        ),
        id="wrong-type-text-for-list",
    ),
    pytest.param(
        Case(
            text=edit(PRODUCT, "    ports: 443\n", "    prots: 443\n", line=25),
            line=25,
            column=5,
            message="unknown key 'prots' in flows[0]",
            hint="did you mean 'ports'?",
        ),
        id="unknown-key-in-flow",
    ),
    pytest.param(
        Case(
            text=edit(PRODUCT, "    to: website\n", "    to: websiet\n", line=23),
            line=23,
            column=9,
            message="flow 'web' refers to unknown component 'websiet'",
            hint="did you mean 'website'?",
        ),
        id="unknown-component",
    ),
    pytest.param(
        Case(
            text=edit(
                PRODUCT,
                "    condition: lab and not exchange\n",
                "    condition: exchnage\n",
                line=34,
            ),
            line=34,
            column=16,
            message="flow 'lab-portal' refers to unknown feature 'exchnage'",
            hint="did you mean 'exchange'?",
        ),
        id="unknown-feature-in-condition",
    ),
    pytest.param(
        # the column is that of the unknown name inside the condition (16 + len("lab and not "))
        Case(
            text=edit(
                PRODUCT,
                "    condition: lab and not exchange\n",
                "    condition: lab and not exchnage\n",
                line=34,
            ),
            line=34,
            column=28,
            message="flow 'lab-portal' refers to unknown feature 'exchnage'",
            hint="did you mean 'exchange'?",
        ),
        id="unknown-feature-inside-compound-condition",
    ),
    pytest.param(
        # a condition has no length limit: the unknown name was printed in full, a line of
        # 100,000 characters; it is named as every long value is, by its start and length
        Case(
            text=edit(
                PRODUCT,
                "    condition: lab and not exchange\n",
                f"    condition: lab and not {'x' * 100_000}\n",
                line=34,
            ),
            line=34,
            column=28,
            message="flow 'lab-portal' refers to unknown feature "
            f"'{'x' * 44}... (100002 characters)",
            hint="known features: exchange, lab",
        ),
        id="unknown-feature-of-100000-characters",
    ),
    pytest.param(
        Case(
            text=edit(PRODUCT, "    ports: 443\n", "    ports: 0\n", line=25),
            line=25,
            column=12,
            message="flows[0].ports: port 0 is outside 1-65535",
            hint="ports run from 1 to 65535",
        ),
        id="port-0",
    ),
    pytest.param(
        Case(
            text=edit(PRODUCT, "    ports: 443\n", "    ports: [443, 70000]\n", line=25),
            line=25,
            column=18,
            message="flows[0].ports[1]: port 70000 is outside 1-65535",
            hint="ports run from 1 to 65535",
        ),
        id="port-70000",
    ),
    pytest.param(
        Case(
            text=edit(PRODUCT, "    ports: 443\n", "    ports: 9000-8000\n", line=25),
            line=25,
            column=12,
            message="flows[0].ports: range 9000-8000 is reversed; write it as 8000-9000",
            hint="write the lower port first",
        ),
        id="reversed-range",
    ),
    pytest.param(
        Case(
            text=edit(PRODUCT, "  - id: lab-portal\n", "  - id: web\n", line=27),
            line=27,
            column=9,
            message="duplicate flow id 'web' (also flows[0])",
            hint="give every flow its own id",
        ),
        id="duplicate-flow-id",
    ),
    pytest.param(
        # the second 'and' is at offset 8 of the condition, which starts in column 16
        Case(
            text=edit(
                PRODUCT,
                "    condition: lab and not exchange\n",
                "    condition: lab and and exchange\n",
                line=34,
            ),
            line=34,
            column=24,
            message=DOUBLE_AND,
            hint=CONDITION_HINT,
        ),
        id="condition-syntax-double-and",
    ),
    pytest.param(
        # the condition ends (the ')' is missing) after column 16 + len("not (rbac") - 1
        Case(
            text=edit(
                PRODUCT,
                "    condition: lab and not exchange\n",
                "    condition: not (rbac\n",
                line=34,
            ),
            line=34,
            column=25,
            message="condition 'not (rbac': expected ')' but found the end of the condition",
            hint=CONDITION_HINT,
        ),
        id="condition-syntax-unclosed-parenthesis",
    ),
    pytest.param(
        # quoted: the condition's text starts in column 17, after the quote in column 16
        Case(
            text=edit(
                PRODUCT,
                "    condition: lab and not exchange\n",
                '    condition: "lab and and exchange"\n',
                line=34,
            ),
            line=34,
            column=25,
            message=DOUBLE_AND,
            hint=CONDITION_HINT,
        ),
        id="condition-syntax-in-quoted-value",
    ),
    pytest.param(
        # an empty list opens no message; leaving 'icmp' out means ping: it was read as ping
        Case(
            text=edit(
                PRODUCT,
                "    protocol: udp\n    ports: 8080\n",
                "    protocol: icmp\n    icmp: []\n",
                line=31,
            ),
            line=32,
            column=11,
            message="flows[1].icmp: an empty list names no ICMP message",
            hint="correct the value",
        ),
        id="icmp-empty-list",
    ),
    pytest.param(
        # pydantic alone reads "no" as false; a quoted word is not a switch
        Case(
            text=edit(PRODUCT, "    ports: 443\n", '    ports: 443\n    tls: "no"\n', line=25),
            line=26,
            column=10,
            message="flows[0].tls: 'no' is not a switch: write true or false, unquoted",
            hint="correct the value",
        ),
        id="switch-as-quoted-word",
    ),
]


@pytest.mark.parametrize("command", ["validate", "show"])
@pytest.mark.parametrize("case", PRODUCT_CASES)
def test_bad_product(tmp_path: Path, command: str, case: Case) -> None:
    _assert_one_error(tmp_path, "product.yaml", command, case)


# -- deployments -------------------------------------------------------------------------------


def dns_name_case(value: str, message: str) -> Case:
    """shop01 of the Shopping example given ``dns_name: VALUE``, which is refused."""
    return Case(
        text=edit(
            SHOPPING,
            "    addresses: [192.0.2.10]\n",
            f"    addresses: [192.0.2.10]\n    dns_name: {value}\n",
            line=9,
        ),
        line=10,
        column=15,  # after "    dns_name: "
        message=f"hosts.shop01.dns_name: {message}",
        hint=DNS_NAME_HINT,
    )


DEPLOYMENT_CASES = [
    pytest.param(
        Case(
            # the hint was an id's ("lower-case letters, digits, '_' and '-'"), which a host
            # name is not: DC02 and dc02.contoso.example are host names
            text=edit(SHOPPING, "  dc02:\n", '  "dc 02":\n', line=20),
            line=20,
            column=3,
            message="hosts.dc 02: 'dc 02' is not a valid host name",
            hint="use letters of either case, digits, '_', '.' and '-', starting with a letter "
            "or digit",
        ),
        id="host-name-with-a-space",
    ),
    pytest.param(
        Case(
            text=edit(SHOPPING, "  dc02:\n", "  dc01:\n", line=20),
            line=20,
            column=3,
            message="duplicate key 'dc01' (first written at line 16)",
            hint="keep one of them",
        ),
        id="duplicate-host",
    ),
    pytest.param(
        Case(
            text=edit(SHOPPING, "hosts:\n", "hostz:\n", line=7),
            line=7,
            column=1,
            message="unknown key 'hostz' in the top level",
            hint="did you mean 'hosts'?",
        ),
        id="unknown-top-level-key",
    ),
    pytest.param(
        Case(
            text=edit(
                SHOPPING, "    platform: windows-11\n", "    platfrom: windows-11\n", line=42
            ),
            line=42,
            column=5,
            message="unknown key 'platfrom' in hosts.admin-pc",
            hint="did you mean 'platform'?",
        ),
        id="unknown-host-key",
    ),
    pytest.param(
        Case(
            text=edit(SHOPPING, "      appclarity: true\n", "      appclarty: true\n", line=52),
            line=52,
            column=7,
            message="shopping-6.1 has no feature 'appclarty'",
            hint="did you mean 'appclarity'?",
        ),
        id="unknown-feature",
    ),
    pytest.param(
        Case(
            text=edit(SHOPPING, "      website: shop01\n", "      websiet: shop01\n", line=57),
            line=57,
            column=7,
            message="shopping-6.1 has no component 'websiet'",
            hint="did you mean 'website'?",
        ),
        id="unknown-component",
    ),
    pytest.param(
        Case(
            text=edit(SHOPPING, "      website: shop01\n", "      website: shop1\n", line=57),
            line=57,
            column=16,
            message="component 'website' is placed on unknown host 'shop1'",
            hint="did you mean 'shop01'?",
        ),
        id="unknown-host",
    ),
    pytest.param(
        Case(
            text=edit(
                SHOPPING,
                "      active_directory: [dc01, dc02]\n",
                "      active_directory: [dc01, dc2]\n",
                line=63,
            ),
            line=63,
            column=32,
            message="component 'active_directory' is placed on unknown host 'dc2'",
            hint="did you mean 'dc02'?",
        ),
        id="unknown-host-in-list",
    ),
    pytest.param(
        Case(
            text=edit(SHOPPING, "  shopping-6.1:\n", "  shoping-6.1:\n", line=50),
            line=50,
            column=3,
            message="no product 'shoping-6.1' in the catalog",
            hint="did you mean 'shopping-6.1'?",
        ),
        id="unknown-product",
    ),
    pytest.param(
        Case(
            text=edit(
                SHOPPING, "      website_port: 8443\n", "      website_port: 70000\n", line=55
            ),
            line=55,
            column=21,
            message="products.shopping-6.1.parameters.website_port: port 70000 is outside 1-65535",
            hint="ports run from 1 to 65535",
        ),
        id="parameter-port-70000",
    ),
    pytest.param(
        Case(
            text=edit(
                SMART_ID,
                "      scim_port: 9090\n",
                "      scim_port: 9090\n      rabbitmq_ports: [5673, 15673]\n",
                line=59,
            ),
            line=60,
            column=7,
            message=(
                "parameter 'rabbitmq_ports' of smart-id-21.04 is fixed at 5672,15672 and cannot "
                "be overridden"
            ),
            hint="remove the override",
        ),
        id="override-of-fixed-port",
    ),
    pytest.param(
        Case(
            text=edit(
                SHOPPING, "    addresses: [192.0.2.20]\n", "    addresses: [192.0.2.300]\n", line=13
            ),
            line=13,
            column=17,
            message=(
                "hosts.sql01.addresses[0]: '192.0.2.300' is not an IPv4/IPv6 address or CIDR "
                "network"
            ),
            hint=ADDRESS_HINT,
        ),
        id="invalid-address",
    ),
    pytest.param(
        Case(
            text=edit(
                SHOPPING,
                "    addresses: [198.51.100.5]\n",
                "    addresses: [198.51.100.5/24]\n",
                line=41,
            ),
            line=41,
            column=17,
            message=(
                "hosts.admin-pc.addresses[0]: '198.51.100.5/24' has host bits set; write the "
                "network 198.51.100.0/24 or the single address 198.51.100.5"
            ),
            hint=ADDRESS_HINT,
        ),
        id="address-with-host-bits",
    ),
    pytest.param(
        dns_name_case(
            "shop_01.example.com",
            "DNS name 'shop_01.example.com': label 'shop_01' may hold only letters, digits and '-'",
        ),
        id="dns-name-with-underscore",
    ),
    pytest.param(
        dns_name_case("192.0.2.10", "'192.0.2.10' is not a DNS name: its last label is all digits"),
        id="dns-name-that-is-an-address",
    ),
    pytest.param(
        dns_name_case(
            f"{'a' * 64}.example.com",
            f"DNS name '{'a' * 64}.example.com': label {'a' * 20}... is 64 characters long; "
            "at most 63 are allowed",
        ),
        id="dns-name-label-too-long",
    ),
    pytest.param(
        dns_name_case(
            f"{'abc.' * 63}test",
            f"DNS name {'abc.' * 10}... is 256 characters long; at most 253 are allowed",
        ),
        id="dns-name-too-long",
    ),
    pytest.param(
        # a name stands for one machine; 'clients' is a network
        Case(
            text=edit(
                SHOPPING,
                "    addresses: [198.51.100.0/24]\n",
                "    addresses: [198.51.100.0/24]\n    dns_name: clients.example.com\n",
                line=46,
            ),
            line=47,
            column=15,
            message="hosts.clients.dns_name: a DNS name stands for one machine, but this host is "
            "a group (198.51.100.0/24 is a network)",
            hint="give the machine a host of its own with its address, or remove dns_name",
        ),
        id="dns-name-on-a-group-host",
    ),
    pytest.param(
        # external_database: true needs external_database_port, which has no vendor default; the
        # report points at the product's 'parameters:' (line 58), where the value must be added
        Case(
            text=edit(SMART_ID, "      external_database_port: 5433\n", "", line=60),
            line=58,
            column=5,
            message="flow smart-id-21.04/da-external-database needs port parameter "
            "'external_database_port', which has no vendor default",
            hint="set it under products.smart-id-21.04.parameters.external_database_port",
        ),
        id="parameter-without-default",
    ),
    pytest.param(
        # placements written at the top level, not under the product: a deployment still (it
        # has hosts and products), told of its one stray key, not read as a product
        Case(
            text=SHOPPING + "components:\n  website: shop01\n",
            line=SHOPPING.count("\n") + 1,
            column=1,
            message="unknown key 'components' in the top level",
            hint="known keys here: description, forbidden, hosts",
        ),
        id="components-at-the-top-level",
    ),
    pytest.param(
        # pydantic alone reads "off" (and 0) as false: a ruleset would silently not be made
        Case(
            text=edit(
                SHOPPING,
                "    addresses: [192.0.2.10]\n",
                "    addresses: [192.0.2.10]\n    managed: 0\n",
                line=9,
            ),
            line=10,
            column=14,
            message="hosts.shop01.managed: 0 is not a switch: write true or false, unquoted",
            hint="correct the value",
        ),
        id="switch-as-number",
    ),
    pytest.param(
        # an empty list is not "every managed host" (leaving 'to' out is): SSH to all of them
        # is far more than a list of none asks for
        Case(
            text=edit(
                SMART_ID, "    from: admin-net\n", "    from: admin-net\n    to: []\n", line=79
            ),
            line=80,
            column=9,
            message="management[0].to: an empty list names no host",
            hint="name the hosts; where leaving the key out has a meaning",
        ),
        id="management-to-no-host",
    ),
    pytest.param(
        Case(
            text=edit(
                SMART_ID,
                "    from: admin-net\n",
                "    from: admin-net\n    protocol: icmp\n    icmp: []\n",
                line=79,
            ),
            line=81,
            column=11,
            message="management[0].icmp: an empty list names no ICMP message",
            hint="correct the value",
        ),
        id="management-icmp-empty-list",
    ),
    pytest.param(
        Case(
            text=edit(
                SMART_ID,
                "management:\n",
                "forbidden:\n  - {id: no-db, to: [], ports: 5432, purpose: None}\nmanagement:\n",
                line=77,
            ),
            line=78,
            column=21,
            message="forbidden[0].to: an empty list names no host",
            hint="name the hosts; where leaving the key out has a meaning",
        ),
        id="forbidden-to-no-host",
    ),
    # names Kubernetes refuses passed validate and matrix, and only `rules -t kubernetes`
    # refused them, naming no file or line
    pytest.param(
        Case(
            text=edit(K8S, _PA01_PODS, _PA01_PODS.replace("smart-id", "smart_id"), line=28),
            line=28,
            column=44,
            message="hosts.pa01.kubernetes.namespace: 'smart_id' is not a valid Kubernetes "
            "namespace",
            hint="use lower-case letters, digits and '-'",
        ),
        id="kubernetes-namespace",
    ),
    pytest.param(
        Case(
            text=edit(K8S, _PA01_PODS, _PA01_PODS.replace("physical-access", "'pa 1'"), line=28),
            line=28,
            column=72,
            message="hosts.pa01.kubernetes.pod_labels.app: 'pa 1' is not a valid Kubernetes "
            "label value",
            hint="write the label as the pods carry it",
        ),
        id="kubernetes-label-value",
    ),
    pytest.param(
        Case(
            text=edit(K8S, _PA01_PODS, _PA01_PODS.replace("{app:", "{-app:"), line=28),
            line=28,
            column=67,
            message="hosts.pa01.kubernetes.pod_labels.-app: '-app' is not a valid Kubernetes "
            "label key",
            hint="write the label as the pods carry it",
        ),
        id="kubernetes-label-key",
    ),
    pytest.param(
        # a prefix of two dots in a row, or a '/' with no prefix, passed: the API server
        # refuses both
        Case(
            text=edit(K8S, _PA01_PODS, _PA01_PODS.replace("{app:", "{a..b/app:"), line=28),
            line=28,
            column=67,
            message="hosts.pa01.kubernetes.pod_labels.a..b/app: 'a..b/app' is not a valid "
            "Kubernetes label key",
            hint="write the label as the pods carry it",
        ),
        id="kubernetes-label-key-prefix-dots",
    ),
    pytest.param(
        Case(
            text=edit(K8S, _PA01_PODS, _PA01_PODS.replace("{app:", "{/app:"), line=28),
            line=28,
            column=67,
            message="hosts.pa01.kubernetes.pod_labels./app: '/app' is not a valid Kubernetes "
            "label key",
            hint="write the label as the pods carry it",
        ),
        id="kubernetes-label-key-empty-prefix",
    ),
    pytest.param(
        Case(
            text=edit(
                edit(K8S, "  pa01:\n", "  pa..01:\n", line=25),
                "      physical_access: pa01\n",
                "      physical_access: pa..01\n",
                line=72,
            ),
            line=25,
            column=3,
            message="host 'pa..01' stands for pods, and 'portplan-pa..01', the name of its "
            "NetworkPolicy, is not a name Kubernetes takes",
            hint="rename the host: at most 244 lower-case letters",
        ),
        id="kubernetes-policy-name-dots",
    ),
    pytest.param(
        Case(
            text=edit(
                edit(K8S, "  pa01:\n", "  PA01:\n", line=25),
                "      physical_access: pa01\n",
                "      physical_access: PA01\n",
                line=72,
            ),
            line=25,
            column=3,
            message="host 'PA01' stands for pods, and 'portplan-PA01', the name of its "
            "NetworkPolicy, is not a name Kubernetes takes",
            hint="rename the host: at most 244 lower-case letters",
        ),
        id="kubernetes-policy-name",
    ),
    *(
        pytest.param(
            # a key YAML reads as null or a number was placed at 'hosts:' (9:1), not at itself,
            # and told "input should be a valid string" without what to do
            Case(
                text=edit(SHOPPING, "  mail01:\n", f"  {key}:\n", line=33),
                line=33,
                column=3,
                message=f"hosts: the key {spelt} is read as {what}, not as a name",
                hint="put the key in quotes to make it text, or write the name meant",
            ),
            id=f"host-key-{key}",
        )
        for key, spelt, what in (
            ("~", "null", "no value (null)"),
            ("null", "null", "no value (null)"),
            ("1.5", "1.5", "a number"),
            ("123", "123", "a number"),
            ("false", "false", "a switch (true or false)"),
        )
    ),
    *(
        pytest.param(
            # YAML 1.2 reads 1 and 2 as numbers: a feature is on or off (or a choice), and a
            # number is neither, not silently "on" (1) nor two errors for one value
            Case(
                text=edit(
                    SHOPPING, "      appclarity: true\n", f"      appclarity: {value}\n", line=52
                ),
                line=52,
                column=19,
                message=f"products.shopping-6.1.features.appclarity: {shown} is neither on or "
                "off nor a choice",
                hint="write true or false, or for a feature with choices one of them",
            ),
            id=f"feature-set-to-{value}",
        )
        for value, shown in (
            ("1", "1"),
            ("0", "0"),
            ("2", "2"),
            ("1.0", "1.0"),
            ("[true]", "[True]"),
        )
    ),
]


@pytest.mark.parametrize("command", ["validate", "matrix"])
@pytest.mark.parametrize("case", DEPLOYMENT_CASES)
def test_bad_deployment(tmp_path: Path, command: str, case: Case) -> None:
    _assert_one_error(tmp_path, "deployment.yaml", command, case)


def test_file_that_is_neither_product_nor_deployment(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.yaml", "title: Firewall notes\nitems: [a, b]\n")
    result = invoke("validate", path)
    assert_failed(result)
    assert_error(
        result,
        path,
        1,
        1,
        "neither a product (with 'flows:') nor a deployment (with 'hosts:')",
        "see `portplan schema product` and `portplan schema deployment`",
    )
    assert_count(result, 1)


@pytest.mark.parametrize(
    ("command", "text", "line", "message", "hint"),
    [
        (
            "show",
            SHOPPING,
            4,
            "a deployment file (it has 'hosts:'), not a product",
            "give a product file, or a catalog id (`portplan catalog` lists them)",
        ),
        (
            "matrix",
            PRODUCT,
            1,
            "a product file (it has 'flows:'), not a deployment",
            "give the deployment that binds it to machines: with 'hosts:' and 'products:' "
            "(see `portplan schema deployment`)",
        ),
    ],
    ids=["deployment-to-show", "product-to-matrix"],
)
def test_a_file_of_the_other_kind_is_one_error_saying_so(
    tmp_path: Path, command: str, text: str, line: int, message: str, hint: str
) -> None:
    # was one error per required key missing and per key of the other kind (8 or 9 lines)
    path = write(tmp_path, "given.yaml", text)
    result = invoke(command, path)
    assert_failed(result)
    assert_error(result, path, line, 1, message, hint)
    assert_count(result, 1)


@pytest.mark.parametrize(("command", "what"), [("show", "product"), ("matrix", "deployment")])
def test_a_file_holding_only_null_is_named_and_explained(
    tmp_path: Path, command: str, what: str
) -> None:
    # `~` is valid YAML (null): it must get its diagnostic, not "0 problems found"
    path = write(tmp_path, f"{what}.yaml", "~\n")
    result = invoke(command, path)
    assert_failed(result)
    assert_error(
        result,
        path,
        1,
        1,
        f"a {what} file must be a YAML mapping at the top level",
        f"start with the keys of a {what} (see `portplan schema {what}`)",
    )
    assert_count(result, 1)


# -- every problem in one run ------------------------------------------------------------------


def test_validate_reports_the_problems_of_every_file(tmp_path: Path) -> None:
    product = write(
        tmp_path, "product.yaml", edit(PRODUCT, "    to: website\n", "    to: websiet\n", line=23)
    )
    broken = write(
        tmp_path,
        "broken.yaml",
        edit(
            PRODUCT,
            "    purpose: Browse the website.\n",
            "    purpose: Browse: the website.\n",
            line=26,
        ),
    )
    deployment = write(
        tmp_path,
        "deployment.yaml",
        edit(SHOPPING, "      appclarity: true\n", "      appclarty: true\n", line=52),
    )
    result = invoke("validate", product, broken, deployment)
    assert_failed(result)
    assert_error(result, product, 23, 9, "unknown component 'websiet'", "did you mean 'website'?")
    assert_error(result, broken, 26, 20, "YAML syntax error", SYNTAX_HINT)
    assert_error(
        result, deployment, 52, 7, "has no feature 'appclarty'", "did you mean 'appclarity'?"
    )
    assert_count(result, 3)


def test_a_product_given_beside_the_deployment_that_uses_it_is_reported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deployment reads its product file too: a problem there is one problem, said once
    at the path the user gave, not once per way it was reached (it was said twice, and
    counted as two)."""
    monkeypatch.chdir(tmp_path)
    product = write(
        tmp_path, "product.yaml", edit(PRODUCT, "    to: website\n", "    to: websiet\n", line=23)
    )
    deployment = write(
        tmp_path,
        "deployment.yaml",
        "name: demo-site\n"
        "hosts:\n"
        "  web01: {addresses: [192.0.2.10]}\n"
        "  lab01: {addresses: [192.0.2.20]}\n"
        "products:\n"
        "  demo-1.0:\n"
        "    file: product.yaml\n"
        "    components: {website: web01, portal: lab01, client: lab01}\n",
    )
    for files in ([deployment, product], [product, deployment]):
        result = invoke("validate", *(Path(f.name) for f in files))
        assert_failed(result)
        assert_error(
            result,
            Path("product.yaml"),
            23,
            9,
            "unknown component 'websiet'",
            "did you mean 'website'?",
        )
        assert_count(result, 1)


# A deployment of the minimal product above, in a file of its own; line numbers:
#  3 "  web01: ..."   8 "    file: product.yaml"   10 "    components:"
#  4 "  lab01: ..."   9 "    features: {lab: true}" 11 "      website: web01"
#  5 "    addresses: [192.0.2.20]"  (lab01's)       12 "      portal: lab01"
DEMO_DEPLOYMENT = """\
name: demo-site
hosts:
  web01: {addresses: [192.0.2.10]}
  lab01:
    addresses: [192.0.2.20]
management: []
products:
  demo-1.0:
    file: product.yaml
    features: {lab: true}
    components:
      website: web01
      portal: lab01
      client: lab01
"""
BROKEN_PRODUCT = edit(PRODUCT, "    to: website\n", "    to: websiet\n", line=23)


@pytest.mark.parametrize("command", ["validate", "matrix"])
def test_a_deployment_schema_error_does_not_hide_its_product_file_problems(
    tmp_path: Path, command: str
) -> None:
    """A deployment that fails its schema still names its product files: their problems are
    reported in the same run, after the deployment's (they were found only once the
    deployment was fixed); its placements are checked against its hosts, which are valid."""
    product = write(tmp_path, "product.yaml", BROKEN_PRODUCT)
    deployment = write(
        tmp_path,
        "deployment.yaml",
        edit(
            edit(DEMO_DEPLOYMENT, "management: []\n", "management: 7\n", line=6),
            "      portal: lab01\n",
            "      portal: lab02\n",
            line=13,
        ),
    )
    result = invoke(command, deployment)
    assert_failed(result)
    assert_error(result, deployment, 6, 13, "management: expected a list", "write a YAML list")
    assert_error(result, product, 23, 9, "unknown component 'websiet'", "did you mean 'website'?")
    assert_error(
        result, deployment, 13, 15, "placed on unknown host 'lab02'", "did you mean 'lab01'?"
    )
    assert_count(result, 3)
    errors = error_lines(result)
    assert "management" in errors[0] and "websiet" in errors[1], result.stderr


@pytest.mark.parametrize("command", ["validate", "matrix"])
def test_a_deployment_whose_hosts_fail_their_schema_still_reads_its_products(
    tmp_path: Path, command: str
) -> None:
    """With a host that fails its schema, the placements are not checked (against which
    hosts?), but the product files are still read; a binding that fails its schema is still
    read for the file it names."""
    product = write(tmp_path, "product.yaml", BROKEN_PRODUCT)
    deployment = write(
        tmp_path,
        "deployment.yaml",
        edit(
            edit(
                DEMO_DEPLOYMENT,
                "    addresses: [192.0.2.20]\n",
                "    addresses: [192.0.2.300]\n",
                line=5,
            ),
            "    features: {lab: true}\n",
            "    features: [lab]\n",
            line=10,
        ),
    )
    result = invoke(command, deployment)
    assert_failed(result)
    assert_error(result, deployment, 5, 17, "192.0.2.300", ADDRESS_HINT)
    assert_error(
        result,
        deployment,
        10,
        15,
        "products.demo-1.0.features: input should be a valid dictionary",
        "see `portplan schema` for the format",
    )
    assert_error(result, product, 23, 9, "unknown component 'websiet'", "did you mean 'website'?")
    assert_count(result, 3)


@pytest.mark.parametrize("command", ["validate", "matrix"])
def test_a_broken_product_file_does_not_hide_the_placements_on_unknown_hosts(
    tmp_path: Path, command: str
) -> None:
    """A component placed on a host the deployment does not declare is its own problem, in
    the deployment: a product file that does not load does not hide it."""
    product = write(tmp_path, "product.yaml", BROKEN_PRODUCT)
    deployment = write(
        tmp_path,
        "deployment.yaml",
        edit(DEMO_DEPLOYMENT, "      portal: lab01\n", "      portal: lab02\n", line=13),
    )
    result = invoke(command, deployment)
    assert_failed(result)
    assert_error(result, product, 23, 9, "unknown component 'websiet'", "did you mean 'website'?")
    assert_error(
        result, deployment, 13, 15, "placed on unknown host 'lab02'", "did you mean 'lab01'?"
    )
    assert_count(result, 2)


def test_validate_of_a_link_to_itself_is_a_problem_of_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link that leads back to itself cannot be read: one problem at its name, exit 2, no
    traceback (matching each problem to the paths given met the loop, a RuntimeError)."""
    monkeypatch.chdir(tmp_path)
    Path("loop.yaml").symlink_to("loop.yaml")
    result = invoke("validate", "loop.yaml")
    assert_failed(result)
    assert error_lines(result) == [
        "loop.yaml: error: cannot read file: Too many levels of symbolic links (check the path)"
    ]
    assert_count(result, 1)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ('"a\\0b.yaml"', "a file name holds no nul character (\\0)"),
        ('""', "an empty file name"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "matrix"])
def test_a_product_file_name_no_system_opens_is_a_problem_where_written(
    tmp_path: Path, command: str, written: str, message: str
) -> None:
    """A nul character in a product's ``file:`` crashed the path's resolution (ValueError,
    a traceback); an empty one named the deployment's folder."""
    deployment = write(
        tmp_path,
        "deployment.yaml",
        edit(DEMO_DEPLOYMENT, "    file: product.yaml\n", f"    file: {written}\n", line=9),
    )
    result = invoke(command, deployment)
    assert_failed(result)
    assert_error(result, deployment, 9, 11, f"products.demo-1.0.file: {message}", "correct")
    assert_count(result, 1)


def test_a_flow_without_a_part_among_the_numbered_flows_of_its_row(tmp_path: Path) -> None:
    """Flows of one vendor row are numbered all or none: an unnumbered one would be the whole
    row in the matrix's reference, beside its own part 2."""
    text = edit(PRODUCT, "    row: 2\n", "    row: 1\n    part: 2\n", line=28)
    product = write(tmp_path, "product.yaml", text)
    result = invoke("validate", product)
    assert_failed(result)
    assert_error(
        result,
        product,
        21,
        10,
        "flow 'web' has no part, where other flows of row 1 are numbered",
        "number every flow of the row: 'part: 1', 'part: 2'",
    )
    assert_count(result, 1)


# One mistake of a name the deployment uses across its sections, and where its report is:
# (old, new, line of old, the product file's text, (line, column, message, hint)).
NAME_MISTAKES = {
    "reserved-host-name": (
        "  lab01:\n",
        "  lab01:\n    addresses: [192.0.2.20]\n  anywhere:\n",
        4,
        PRODUCT,
        (6, 3, "the host name 'anywhere' is reserved", "rename the host"),
    ),
    "reserved-product-id": (
        "  demo-1.0:\n",
        "  management:\n",
        8,
        edit(PRODUCT, "id: demo-1.0\n", "id: management\n", line=1),
        (8, 3, "the product id 'management' is reserved", "give the product another id"),
    ),
    "duplicate-management-id": (
        "management: []\n",
        "management:\n  - {id: ssh, from: web01, ports: 22, purpose: SSH}\n"
        "  - {id: ssh, from: lab01, ports: 23, purpose: Telnet}\n",
        6,
        PRODUCT,
        (
            8,
            10,
            "duplicate management access id 'ssh' (also management[0])",
            "give every entry of 'management:' its own id",
        ),
    ),
    "duplicate-forbidden-id": (
        "management: []\n",
        "forbidden:\n  - {id: sql, to: web01, ports: 1433, purpose: No SQL}\n"
        "  - {id: sql, to: lab01, ports: 1434, purpose: No SQL browser}\n",
        6,
        PRODUCT,
        (
            8,
            10,
            "duplicate forbidden connection id 'sql' (also forbidden[0])",
            "give every entry of 'forbidden:' its own id",
        ),
    ),
    "management-unknown-host": (
        "management: []\n",
        "management:\n  - {id: ssh, from: admn, ports: 22, purpose: SSH}\n",
        6,
        PRODUCT,
        (7, 21, "management access 'ssh' names unknown host 'admn'", "known hosts: lab01, web01"),
    ),
    "forbidden-unknown-host": (
        "management: []\n",
        "forbidden:\n  - {id: sql, to: [web01, db01], ports: 1433, purpose: No SQL}\n",
        6,
        PRODUCT,
        (7, 27, "forbidden connection 'sql' names unknown host 'db01'", "did you mean 'web01'?"),
    ),
    "host-dynamic-range": (
        "    addresses: [192.0.2.20]\n",
        "    addresses: [192.0.2.20]\n    dynamic_ranges: {rpc: 50000-50100}\n",
        5,
        PRODUCT,
        (
            6,
            22,
            "no product in this deployment has a dynamic range 'rpc'",
            "each of its products declares no dynamic ranges",  # not "this file": a deployment
        ),
    ),
}


@pytest.mark.parametrize("command", ["validate", "matrix"])
@pytest.mark.parametrize("mistake", NAME_MISTAKES)
def test_a_deployment_schema_error_does_not_hide_its_names_problems(
    tmp_path: Path, command: str, mistake: str
) -> None:
    """The checks of the names a deployment uses across its sections (hosts named by
    management and forbidden entries, reserved and duplicate ids, hosts' dynamic ranges) run
    on the sections valid on their own when another part fails its schema: each problem is
    reported once, after the schema's, in the same run (it was found only in a later one)."""
    old, new, line, product_text, (at, column, message, hint) = NAME_MISTAKES[mistake]
    write(tmp_path, "product.yaml", product_text)
    text = edit(DEMO_DEPLOYMENT, old, new, line=line)
    deployment = write(tmp_path, "deployment.yaml", text)
    assert_count(invoke(command, deployment), 1)  # the mistake alone, as before
    broken = write(
        tmp_path, "deployment.yaml", edit(text, "name: demo-site\n", 'name: " "\n', line=1)
    )
    result = invoke(command, broken)
    assert_failed(result)
    assert_error(result, broken, 1, 7, "the deployment's name is empty", "correct the value")
    assert_error(result, broken, at, column, message, hint)
    assert_count(result, 2)
    assert "name is empty" in error_lines(result)[0], result.stderr


# (edits, expected problems as (line, column, message, hint)); every edit is one mistake
SCHEMA_EDITS = [
    ("    ports: 443\n", "    prots: 443\n", 25),
    ("    protocol: udp\n", "    protocol: 7\n", 31),
    ("    ports: 8080\n", "    ports: 70000\n", 32),
]
SCHEMA_PROBLEMS = [
    (25, 5, "unknown key 'prots' in flows[0]", "did you mean 'ports'?"),
    (31, 15, "flows[1].protocol: 7 is not allowed", "use one of 'tcp', 'udp' or 'icmp'"),
    (32, 12, "flows[1].ports: port 70000 is outside 1-65535", "ports run from 1 to 65535"),
]
REFERENCE_EDITS = [
    ("    to: website\n", "    to: websiet\n", 23),
    ("    ports: 8080\n", "    ports: lab_port\n", 32),
    ("    condition: lab and not exchange\n", "    condition: exchnage\n", 34),
]
REFERENCE_PROBLEMS = [
    (23, 9, "flow 'web' refers to unknown component 'websiet'", "did you mean 'website'?"),
    (
        32,
        12,
        "flow 'lab-portal' refers to unknown port parameter 'lab_port'",
        "this file declares no port parameters",
    ),
    (34, 16, "flow 'lab-portal' refers to unknown feature 'exchnage'", "did you mean 'exchange'?"),
]
MIXED_EDITS = [SCHEMA_EDITS[0], SCHEMA_EDITS[2], REFERENCE_EDITS[0], REFERENCE_EDITS[2]]
MIXED_PROBLEMS = [
    SCHEMA_PROBLEMS[0],
    SCHEMA_PROBLEMS[2],
    REFERENCE_PROBLEMS[0],
    REFERENCE_PROBLEMS[2],
]


@pytest.mark.parametrize(
    ("edits", "problems"),
    [
        pytest.param(SCHEMA_EDITS, SCHEMA_PROBLEMS, id="schema-problems"),
        pytest.param(REFERENCE_EDITS, REFERENCE_PROBLEMS, id="reference-problems"),
        pytest.param(MIXED_EDITS, MIXED_PROBLEMS, id="schema-and-reference-problems"),
    ],
)
def test_product_with_several_problems_reports_them_all(
    tmp_path: Path,
    edits: list[tuple[str, str, int]],
    problems: list[tuple[int, int, str, str]],
) -> None:
    text = PRODUCT
    for old, new, line in edits:
        text = edit(text, old, new, line=line)
    path = write(tmp_path, "product.yaml", text)
    result = invoke("validate", path)
    assert_failed(result)
    for line, column, message, hint in problems:
        assert_error(result, path, line, column, message, hint)
    assert_count(result, len(problems))


# -- files named by options --------------------------------------------------------------------

LOOP = Path(__file__).resolve().parent / "data" / "loop-deployment.yaml"


@pytest.mark.parametrize("option", ["--radius-secret-file", "--snmp-community-file"])
@pytest.mark.parametrize(
    ("kind", "message"),
    [
        pytest.param("fifo", "is a FIFO (named pipe), not a regular file", id="fifo"),
        pytest.param(
            "device",
            "is a character device, not a regular file (give a file holding the secret)",
            id="device",
        ),
        pytest.param("empty", "is empty", id="empty"),
        pytest.param("blank", "is empty", id="blank"),
    ],
)
def test_a_secret_file_that_holds_no_secret_is_refused(
    tmp_path: Path, kind: str, message: str, option: str
) -> None:
    # a FIFO or /dev/zero was read to its end: a hang, or memory exhausted; an empty file
    # verified without the secret (the RADIUS secret, the SNMP community), silently
    secret = tmp_path / "secret"
    if kind == "fifo":
        os.mkfifo(secret)
    elif kind == "device":
        secret = Path("/dev/zero")
    else:
        secret.write_bytes(b"" if kind == "empty" else b" \n\t\n")
    verify = ["verify", str(LOOP), "--on", "client", "--flow", "closed"]
    result = subprocess.run(
        [sys.executable, "-m", "portplan", *verify, option, str(secret)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(f"{secret}: error: "), result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("given", ["file", "environment"])
def test_an_snmp_community_no_datagram_can_carry_is_refused(tmp_path: Path, given: str) -> None:
    # every snmp row failed to send its GetRequest (OSError: Message too long), one by one
    community = b"c" * (MAX_COMMUNITY + 1)
    secret = tmp_path / "community"
    secret.write_bytes(community)
    verify = ["verify", str(LOOP), "--on", "client", "--flow", "closed"]
    option = ["--snmp-community-file", str(secret)] if given == "file" else []
    environment = {**os.environ, "PORTPLAN_SNMP_COMMUNITY": community.decode()}
    result = subprocess.run(
        [sys.executable, "-m", "portplan", *verify, *option],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=environment if given == "environment" else None,
    )
    assert result.returncode == 2, result.stderr
    where = str(secret) if given == "file" else "PORTPLAN_SNMP_COMMUNITY"
    assert result.stderr.startswith(f"{where}: error: holds a community of 65,001 bytes"), (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert "cccc" not in result.stderr  # the secret itself is never shown


def test_the_longest_community_accepted_fits_in_one_datagram() -> None:
    assert len(get_request(b"c" * MAX_COMMUNITY, 2**31 - 1)) <= 65_507


def test_several_outputs_into_a_file_are_refused_as_usage(tmp_path: Path) -> None:
    # rules of every host to -o FILE: "cannot write FILE/host.nft: File exists", exit 3
    deployment = write(tmp_path, "shopping.yaml", SHOPPING)
    (tmp_path / "products").symlink_to(EXAMPLES / "products")
    mine = tmp_path / "rules.nft"
    mine.write_text("mine\n")
    argv = ["rules", deployment, "-t", "nftables", "--all-hosts", "-o", mine, "--overwrite"]
    result = invoke(*argv)
    assert_failed(result)
    assert result.stderr == (
        f"portplan: error: {mine} is a file, not a folder: give -o FOLDER for the 10 files to "
        "write\n"
    )
    assert mine.read_text() == "mine\n"


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["matrix", ""], "DEPLOYMENT"),
        (["validate", str(EXAMPLES / "shopping-contoso.yaml"), ""], "FILES..."),
        (["show", ""], "PRODUCT"),
        (["diff", "", str(EXAMPLES / "shopping-contoso.yaml")], "OLD"),
        (["diff", str(EXAMPLES / "shopping-contoso.yaml"), ""], "[NEW]"),
        (["diagram", ""], "DEPLOYMENT|PRODUCT"),
        (["rules", "", "-t", "nftables"], "DEPLOYMENT"),
        (["verify", str(EXAMPLES / "shopping-contoso.yaml"), "--snmp-community-file", ""], None),
        (["import", ""], "FILE"),
    ],
    ids=[
        "matrix",
        "validate",
        "show",
        "diff-old",
        "diff-new",
        "diagram",
        "rules",
        "verify-file",
        "import",
    ],
)
def test_an_empty_file_argument_is_refused_as_empty(argv: list[str], name: str | None) -> None:
    # "$DEPLOYMENT" unset: pathlib reads "" as ".", and the error named "." as a directory
    result = invoke(*argv)
    assert_failed(result)
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"portplan: error: Invalid value for '{name or argv[-2]}': is empty;")
    assert ".:" not in line and "directory" not in line


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        pytest.param(["verify", LOOP, "--on", "client", "--timeout"], "--timeout", id="timeout"),
        pytest.param(["verify", LOOP, "--on", "client", "--deadline"], "--deadline", id="deadline"),
        pytest.param(["listen", LOOP, "--on", "server", "--duration"], "--duration", id="listen"),
        pytest.param(["diagram", LOOP, "--layout-timeout"], "--layout-timeout", id="diagram"),
        pytest.param(["report", LOOP, "--layout-timeout"], "--layout-timeout", id="report"),
    ],
)
@pytest.mark.parametrize("nan", ["nan", "NaN", "-nan"])
def test_seconds_that_are_not_a_number_are_refused(
    argv: list[str | Path], option: str, nan: str
) -> None:
    # nan passed click's range (every comparison with it is false): listen stopped at once,
    # verify probed on, diagram crashed with a traceback
    result = invoke(*argv, nan)
    assert_failed(result)
    assert result.stderr.startswith(f"portplan: error: Invalid value for '{option}': "), (
        result.stderr
    )
    assert f"{nan!r} is not a number" in result.stderr


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_an_inventory_that_is_a_fifo_or_a_device_is_refused(tmp_path: Path, kind: str) -> None:
    # ansible-inventory waited on a FIFO for 120 s ("did not read it", exit 3) and read
    # /dev/zero into memory
    inventory = tmp_path / "inventory.yml"
    if kind == "fifo":
        os.mkfifo(inventory)
    else:
        inventory = Path("/dev/zero")
    result = subprocess.run(
        [sys.executable, "-m", "portplan", "verify", str(LOOP), "--inventory", str(inventory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stderr
    what = "a FIFO (named pipe)" if kind == "fifo" else "a character device"
    assert result.stderr == (
        f"portplan: error: inventory {inventory} is {what}, not a file or a folder; give "
        "an inventory file, a folder of them or an inventory script\n"
    )


# -- --debug and valid files -------------------------------------------------------------------


def test_debug_shows_a_traceback(tmp_path: Path) -> None:
    path = write(
        tmp_path, "product.yaml", edit(PRODUCT, "    to: website\n", "    to: websiet\n", line=23)
    )
    for args in (("--debug", "validate", path), ("validate", "--debug", path)):
        result = invoke(*args)  # --debug before or after the command
        assert result.exit_code == 2  # the same exit status, with the traceback before the error
        assert "Traceback (most recent call last)" in result.stderr
        assert "InputError" in result.stderr
        assert "unknown component 'websiet'" in result.stderr

    # in a real process: --debug shows the traceback, without it there is none
    before = _state([path])
    command = [sys.executable, "-m", "portplan"]
    debug = subprocess.run(
        [*command, "--debug", "validate", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    plain = subprocess.run(
        [*command, "validate", str(path)], capture_output=True, text=True, check=False, timeout=120
    )
    assert _state([path]) == before
    assert debug.returncode == 2
    assert "Traceback (most recent call last)" in debug.stderr
    assert "InputError" in debug.stderr
    assert plain.returncode == 2
    assert "Traceback" not in plain.stderr
    assert f"{path}:23:9: error: flow 'web' refers to unknown component 'websiet'" in plain.stderr


@pytest.mark.parametrize(
    ("command", "name", "text"),
    [
        pytest.param("validate", "product.yaml", PRODUCT, id="validate-product"),
        pytest.param("show", "product.yaml", PRODUCT, id="show-product"),
        pytest.param("validate", "shopping.yaml", SHOPPING, id="validate-shopping"),
        pytest.param("validate", "smart-id.yaml", SMART_ID, id="validate-smart-id"),
        pytest.param("matrix", "shopping.yaml", SHOPPING, id="matrix-shopping"),
        pytest.param("matrix", "smart-id.yaml", SMART_ID, id="matrix-smart-id"),
    ],
)
def test_valid_file_passes(tmp_path: Path, command: str, name: str, text: str) -> None:
    path = write(tmp_path, name, text)
    result = invoke(command, path)
    assert result.exit_code == 0, result.output
    assert "error" not in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout
    if command == "validate":
        assert result.stdout.startswith(f"{path}: ok: ")


def test_an_empty_icmp_list_is_refused_only_where_the_protocol_is_icmp(tmp_path: Path) -> None:
    # of a tcp flow, an empty list names no message and opens none: harmless, not an error
    text = edit(PRODUCT, "    ports: 443\n", "    ports: 443\n    icmp: []\n", line=25)
    result = invoke("validate", write(tmp_path, "product.yaml", text))
    assert result.exit_code == 0, result.output

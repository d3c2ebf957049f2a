"""`portplan apply -t iptables` between two plans whose address sets differ, in network
namespaces, with real packets: at no step of the apply (sets, IPv4 table, IPv6 table, the
clean-up once kept) nor of its rollback does the host accept a connection that neither the
old nor the new plan accepts.

The old plan lets five peers (one address set per family) reach the server's port 22; the new
one lets five *other* peers (their own sets) reach port 443.  A set of one name must never
change its members under the rules that name it: the old rules with the new members would let
the new peers reach port 22.  Each step is observed by wrapping the tools apply runs (the real
ones run): after each one that changes the server's firewall, it waits while the test probes.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import netns
from portplan.model import PortSet, Protocol
from portplan.targets import RuleOptions
from portplan.targets.hostview import Direction, HostRule, HostView
from portplan.targets.iptables import render_host
from test_apply_rollback import iptables_state, run_in

pytestmark = pytest.mark.netns

SERVER = ("192.0.2.10", "2001:db8::10")
#: the peers of each plan (more than SET_THRESHOLD networks a family: each family gets a set)
PEERS = {
    plan: [f"198.51.100.{first + n}" for n in (1, 3, 5, 7, 9)]
    + [f"2001:db8::{first + n:x}" for n in (1, 3, 5, 7, 9)]  # never adjacent: not collapsed
    for plan, first in (("old", 0), ("new", 20))
}
PORT = {"old": 22, "new": 443}  #: the one port each plan opens to its peers
PROBED = (0, 4, 5, 9)  #: the peers probes come from: the first and last of each family

PRODUCT = """\
id: window-{plan}
name: Window {plan}
version: "1.0"
document:
  title: ports
components:
  client:
    name: Client
    kind: client
  server:
    name: Server
flows:
  - id: service
    row: 1
    from: client
    to: server
    protocol: tcp
    ports: {port}
    purpose: The one service.
"""
DEPLOYMENT = """\
name: window
hosts:
  server:
    addresses: [{server}]
  peers:
    addresses: [{peers}]
products:
  window-{plan}:
    file: product-{plan}.yaml
    components:
      client: peers
      server: server
"""

#: a wrapper for a tool apply runs: the real tool runs (unless it is the one $FAILING); then,
#: when it may have changed the watched namespace's firewall, the wrapper waits (at most
#: 30 s) until the test has probed
WRAPPER = """\
#!/bin/sh
if [ "$FAILING" = "{name}" ]; then  # refuses to load the new ruleset; restores as the tool
  case " $* " in *" --test "*|*" --help "*|*" --counters "*) ;;
  *) cat > /dev/null; echo "{name}: refused by the test" >&2; exit 1;; esac
fi
{real} "$@"
status=$?
case " $* " in *" --test "*|*" --help "*|*" -V "*|" list "*|" save "*) exit $status;; esac
[ -n "$PAUSES" ] && [ "$(readlink /proc/self/ns/net)" = "$WATCHED" ] || exit $status
echo "{name} $* -> $status" > "$PAUSES/step.new" && mv "$PAUSES/step.new" "$PAUSES/step"
waited=0
while [ -e "$PAUSES/step" ] && [ $waited -lt 600 ]; do sleep 0.05; waited=$((waited + 1)); done
exit $status
"""


@dataclass
class Lab:
    topo: netns.Topology
    server: netns.Node
    peers: netns.Node
    folder: Path  #: the deployments, the wrappers, the pause file

    def probes(self) -> list[netns.Probe]:
        """From the first and last peer of each plan and family, to both planned ports."""
        found = []
        for plan in PEERS.values():
            for source in (plan[i] for i in PROBED):
                address = ipaddress.ip_address(source)
                for server in SERVER:
                    target = ipaddress.ip_address(server)
                    if target.version == address.version:
                        found += [
                            netns.Probe("tcp", target, port, address) for port in PORT.values()
                        ]
        return found

    def passed(self) -> set[tuple[str, int]]:
        """(peer, port) of each probe that connected."""
        probes = self.probes()
        results = self.topo.probe({"peers": probes})["peers"]
        return {
            (str(p.source), p.port)
            for p, result in zip(probes, results, strict=True)
            if result in netns.PASSED
        }


def allowed(plan: str) -> set[tuple[str, int]]:
    """What ``plan`` lets through among :meth:`Lab.probes`."""
    return {(str(ipaddress.ip_address(PEERS[plan][i])), PORT[plan]) for i in PROBED}


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    reason = netns.unavailable("iptables-restore", "ip6tables-restore", "ipset")
    if reason:
        pytest.skip(reason)
    for plan, port in PORT.items():
        (tmp_path / f"product-{plan}.yaml").write_text(PRODUCT.format(plan=plan, port=port))
        (tmp_path / f"{plan}.yaml").write_text(
            DEPLOYMENT.format(plan=plan, server=", ".join(SERVER), peers=", ".join(PEERS[plan]))
        )
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    for tool in ("ipset", "iptables-restore", "ip6tables-restore"):
        real = shutil.which(tool)
        assert real is not None
        (bin_folder / tool).write_text(WRAPPER.format(real=real, name=tool))
        (bin_folder / tool).chmod(0o755)
    with netns.topology() as topo:
        server = topo.add_node("server", [ipaddress.ip_address(a) for a in SERVER])
        peers = topo.add_node(
            "peers", [ipaddress.ip_address(a) for plan in PEERS.values() for a in plan]
        )
        topo.listen(
            server,
            [("tcp", ipaddress.ip_address(a), port) for a in SERVER for port in PORT.values()],
        )
        yield Lab(topo, server, peers, tmp_path)


def _rule(plan: str, family: int) -> HostRule:
    peers = tuple(
        ipaddress.ip_network(p) for p in PEERS[plan] if ipaddress.ip_address(p).version == family
    )
    local = next(s for s in SERVER if ipaddress.ip_address(s).version == family)
    return HostRule(
        direction=Direction.INBOUND,
        family=family,
        protocol=Protocol.TCP,
        ports=PortSet.parse(str(PORT[plan])),
        loopback=False,
        local=(ipaddress.ip_network(local),),
        peers=peers,
        flows=(f"window-{plan}/service",),
        purposes=("The one service.",),
    )


def rendered(plan: str) -> dict[str, str]:
    """The server's files for ``plan``: one address set per family."""
    view = HostView(
        host="server",
        deployment="window",
        addresses=tuple(ipaddress.ip_network(s) for s in SERVER),
        rules=(_rule(plan, 4), _rule(plan, 6)),
        unreachable=(),
    )
    return render_host(view, RuleOptions())


def test_the_sets_of_a_new_plan_give_the_old_rules_no_new_members(lab: Lab) -> None:
    """The first step of an apply, the address sets, alone: the old rules still decide, and
    they must still accept exactly the old plan's connections."""
    old, new = rendered("old"), rendered("new")
    lab.topo.load(lab.server, "server", old)
    assert lab.passed() == allowed("old")  # (the probes see the rules)
    lab.topo.exec(lab.server, ["ipset", "restore", "-exist"], stdin=new["server.ipset"])
    passed = lab.passed()
    assert passed <= allowed("old") | allowed("new"), sorted(passed - allowed("old"))


Steps = list[tuple[str, set[tuple[str, int]]]]


def apply_in_steps(
    lab: Lab, plan: str, answer: str, *, failing: str = ""
) -> tuple[int, str, Steps]:
    """`portplan apply` of ``plan`` on the server, answering ``answer`` to its prompt (with
    ``failing``, that tool refuses the new ruleset); the connections that passed after each
    step that changed the server's firewall."""
    watched = lab.topo.exec(lab.server, ["readlink", "/proc/self/ns/net"]).stdout.strip()
    pauses = lab.folder / "pauses"
    pauses.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    env.update(
        PATH=f"{lab.folder / 'bin'}:{env['PATH']}",
        PAUSES=str(pauses),
        WATCHED=watched,
        FAILING=failing,
    )
    said = lab.folder / f"apply-{len(list(lab.folder.glob('apply-*')))}.err"
    steps: Steps = []
    with said.open("w") as stderr:
        process = subprocess.Popen(
            ["ip", "netns", "exec", lab.server.netns, sys.executable, "-m", "portplan",
             "apply", str(lab.folder / f"{plan}.yaml"), "--on", "server", "-t", "iptables",
             "--force", "--confirm-timeout", "60"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr, text=True,
            env=env,
        )  # fmt: skip
        assert process.stdin is not None
        answered = False
        deadline = time.monotonic() + 180
        try:
            step = pauses / "step"
            while process.poll() is None or step.exists():
                assert time.monotonic() < deadline, said.read_text()
                if step.exists():
                    steps.append((step.read_text().strip(), lab.passed()))
                    step.unlink()
                elif not answered and "Type 'yes'" in said.read_text():
                    process.stdin.write(answer + "\n")
                    process.stdin.flush()
                    answered = True
                time.sleep(0.05)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
            process.stdin.close()
    return process.returncode, said.read_text(), steps


def assert_never_broader(steps: Steps, *plans: str) -> None:
    """After no step did a connection pass that none of ``plans`` accepts."""
    either = set().union(*(allowed(plan) for plan in plans))
    broader = [(what, sorted(passed - either)) for what, passed in steps if passed - either]
    assert broader == [], broader


def set_names(ns: str) -> set[str]:
    return set(run_in(ns, "ipset", "list", "-n").split())


def sets_of(plan: str) -> set[str]:
    """The address sets ``plan``'s rules name."""
    text = rendered(plan)["server.ipset"]
    return set(re.findall(r"^create (\S+) ", text, re.MULTILINE)) - set(
        re.findall(r"^create (\S+_tmp) ", text, re.MULTILINE)
    )


def applied_old(lab: Lab) -> str:
    """The old plan, applied and kept; the server's tables and sets then."""
    status, said, _steps = apply_in_steps(lab, "old", "yes")  # (over no firewall at all)
    assert status == 0, said
    assert lab.passed() == allowed("old")
    assert set_names(lab.server.netns) == sets_of("old")
    return iptables_state(lab.server.netns)


@pytest.mark.parametrize("answer", ["yes", "no"])
def test_no_step_of_an_apply_accepts_what_neither_plan_does(lab: Lab, answer: str) -> None:
    before = applied_old(lab)
    status, said, steps = apply_in_steps(lab, "new", answer)
    assert_never_broader(steps, "old", "new")
    assert len(steps) >= 5, steps  # the sets, each family's table; and destroying or restoring
    if answer == "yes":
        assert status == 0, said
        assert lab.passed() == allowed("new")
        # the old plan's sets are gone once the new one is kept, and only then
        assert set_names(lab.server.netns) == sets_of("new")
        destroyed = [what for what, _passed in steps if what.startswith("ipset destroy")]
        assert sorted(destroyed) == sorted(f"ipset destroy {n} -> 0" for n in sets_of("old"))
    else:
        assert status == 1, said
        assert lab.passed() == allowed("old")
        assert iptables_state(lab.server.netns) == before  # sets and members too


def test_a_failing_second_family_brings_the_old_rules_and_sets_back(lab: Lab) -> None:
    before = applied_old(lab)
    status, said, steps = apply_in_steps(lab, "new", "yes", failing="ip6tables-restore")
    assert status == 3, said
    assert "the previous ruleset is back" in said
    assert_never_broader(steps, "old", "new")
    assert lab.passed() == allowed("old")
    assert iptables_state(lab.server.netns) == before


@pytest.mark.parametrize("answer", ["yes", "no"])
def test_applying_the_same_plan_again_changes_nothing(lab: Lab, answer: str) -> None:
    applied_old(lab)
    before = same_members(lab.server.netns)
    status, said, steps = apply_in_steps(lab, "old", answer)
    assert status == (0 if answer == "yes" else 1), said
    assert steps and all(passed == allowed("old") for _what, passed in steps), steps
    assert same_members(lab.server.netns) == before


def same_members(ns: str) -> str:
    """:func:`iptables_state` without what a set filled anew changes but its members: its
    hash's seed (``initval``), and so the order ``ipset save`` lists the members in."""
    lines = iptables_state(ns).splitlines()
    sets = [line for line in lines if line.startswith(("create ", "add "))]
    seeded = sorted(re.sub(r" initval 0x[0-9a-f]+", "", line) for line in sets)
    return "\n".join([*(line for line in lines if line not in sets), *seeded])


def test_a_set_another_table_still_uses_is_left_with_a_warning(lab: Lab) -> None:
    applied_old(lab)
    ns = lab.server.netns
    used, *unused = sorted(sets_of("old"))
    run_in(ns, "iptables", "-t", "mangle", "-A", "PREROUTING", "-m", "set", "--match-set",
           used, "src", "-j", "ACCEPT")  # fmt: skip
    status, said, steps = apply_in_steps(lab, "new", "yes")
    assert status == 0, said
    assert_never_broader(steps, "old", "new")
    assert set_names(ns) == sets_of("new") | {used}
    said = " ".join(said.split())
    assert f"warning: the address set {used}, which the new rules do not use, is left" in said
    assert f"`ipset destroy {used}`" in said and all(name not in said for name in unused)

"""Benchmark ``portplan verify --inventory`` against a shell loop of ``portplan verify --on``.

Builds, in network namespaces on one bridge (tests/netns.py; RFC 5737 addresses, nothing
leaves the namespaces): ``--sources`` source hosts (default 50), each running its own sshd
(Debian's openssh-server, tests/sshlab.py), one destination that listens on half of the
probed TCP ports (the other half are refused), and a controller.  The deployment is a product
whose client component (on every source) reaches the server on ``--probes`` ports (default
200, in flows of 50).

Then, for each ``--forks`` value (default 1, 10, 20 and 50), from the controller namespace:
``portplan verify DEPLOYMENT --inventory INVENTORY --forks N --format json`` (every source
probing through Ansible over SSH, with the standard library Python of the hosts), recording
wall time, the share of it spent probing on the slowest source (the rest is Ansible: SSH,
module transfer, start-up), the peak memory of the controller (portplan and every process it
starts, their proportional set sizes summed, sampled every 50 ms) and whether every one of
the sources x probes outcomes is right.  And, as the peer: a shell loop that starts
``portplan verify DEPLOYMENT --on SOURCE`` inside each source namespace at once (``&``, then
``wait``), the way an operator would without Ansible, with its wall time and accuracy.

Run it as root: ``.venv/bin/python benchmarks/fanout.py`` (``--help`` for options; needs
``ip``, ``nft``, Debian's ``openssh-server`` and ansible-core, ansible-runner from
``pip install -e '.[test]'``).  It prints a Markdown table and writes
``benchmarks/out/fanout.json``.  A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import yaml
from _common import OUT_DIR, ROOT, commit_line, finish, header, mib

sys.path.insert(0, str(ROOT / "tests"))  # the namespace and sshd harness of the tests
import netns
import sshlab
from ansible_env import environment

DST_ADDRESS = ipaddress.ip_address("198.51.100.10")
CONTROLLER_ADDRESS = ipaddress.ip_address("203.0.113.250")
FIRST_PORT = 20001
PORTS_PER_FLOW = 50
SSH_PORT = 2222
RUN_TIMEOUT = 1800.0


def source_address(index: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address("192.0.2.10") + index


def deployment(directory: Path, sources: int, probes: int) -> Path:
    """The product (client -> server, PORTS_PER_FLOW ports a flow) on ``sources`` clients."""
    ports = list(range(FIRST_PORT, FIRST_PORT + probes))
    flows = [
        {
            "id": f"ports-{ports[i]}-{ports[min(i + PORTS_PER_FLOW, probes) - 1]}",
            "row": n,
            "from": "client",
            "to": "server",
            "protocol": "tcp",
            "ports": f"{ports[i]}-{ports[min(i + PORTS_PER_FLOW, probes) - 1]}",
            "purpose": "benchmark ports",
        }
        for n, i in enumerate(range(0, probes, PORTS_PER_FLOW), start=1)
    ]
    product = {
        "id": "bench-fanout",
        "name": "Benchmark fan-out",
        "version": "1",
        "document": {"title": "Benchmark fan-out"},
        "components": {"client": {"name": "Client", "kind": "client"}, "server": {"name": "S"}},
        "flows": flows,
    }
    (directory / "bench-fanout.yaml").write_text(yaml.safe_dump(product, sort_keys=False))
    hosts: dict[str, Any] = {
        f"src{i:02d}": {"addresses": [str(source_address(i))]} for i in range(sources)
    }
    hosts["dst"] = {"addresses": [str(DST_ADDRESS)]}
    path = directory / "deployment.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "fanout-benchmark",
                "hosts": hosts,
                "products": {
                    "bench-fanout": {
                        "file": "bench-fanout.yaml",
                        "components": {
                            "client": [f"src{i:02d}" for i in range(sources)],
                            "server": "dst",
                        },
                    }
                },
            },
            sort_keys=False,
        )
    )
    return path


class PeakMemory:
    """The peak of a process tree's memory (summed PSS), sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            try:
                tree = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            for process in tree:
                try:  # PSS: pages shared between Ansible's forks counted once, in shares
                    total += process.memory_full_info().pss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            self.peak = max(self.peak, total)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5)
        return self.peak


def expected(probes: int) -> dict[int, str]:
    half = probes // 2
    return {FIRST_PORT + i: ("open" if i < half else "refused") for i in range(probes)}


def accuracy(checks: list[dict[str, Any]], probes: int, sources: int) -> dict[str, Any]:
    truth = expected(probes)
    right = sum(1 for c in checks if truth.get(c["port"]) == c["outcome"])
    return {
        "checks": len(checks),
        "expected": probes * sources,
        "right": right,
        "outcomes": dict(Counter(c["outcome"] for c in checks)),
    }


def run_inventory(
    topo: netns.Topology, controller: netns.Node, path: Path, inventory: Path, forks: int,
    out: Path, probes: int, sources: int,
) -> dict[str, Any]:  # fmt: skip
    argv = [
        "ip", "netns", "exec", controller.netns, sys.executable, "-m", "portplan", "verify",
        str(path), "--inventory", str(inventory), "--forks", str(forks), "--format", "json",
        "-o", str(out),
    ]  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(
        argv,
        env=environment(ANSIBLE_HOST_KEY_CHECKING="false"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    memory = PeakMemory(process.pid)
    _stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
    wall = time.monotonic() - started
    peak = memory.stop()
    if process.returncode not in (0, 1):
        raise SystemExit(f"verify --inventory failed ({process.returncode}): {stderr}")
    match = re.search(r"in ([\d.]+) s, of which ([\d.]+) s probing", stderr)
    report = json.loads(out.read_text())
    return {
        "forks": forks,
        "wall_s": round(wall, 2),
        "ansible_wall_s": float(match.group(1)) if match else None,
        "probing_s": float(match.group(2)) if match else None,
        "peak_pss": peak,
        **accuracy(report["checks"], probes, sources),
    }


def run_loop(nodes: list[netns.Node], path: Path, directory: Path, probes: int) -> dict[str, Any]:
    script = "\n".join(
        [
            *(
                f"ip netns exec {node.netns} {sys.executable} -m portplan -q verify {path} "
                f"--on {node.name} --format json -o {directory / node.name}.json &"
                for node in nodes
            ),
            "wait",
        ]
    )
    started = time.monotonic()
    subprocess.run(["bash", "-c", script], env=environment(), timeout=RUN_TIMEOUT, check=False)
    wall = time.monotonic() - started
    checks = []
    for node in nodes:
        report = directory / f"{node.name}.json"
        if report.exists():
            checks.extend(json.loads(report.read_text())["checks"])
    return {"wall_s": round(wall, 2), **accuracy(checks, probes, len(nodes))}


def measure(sources: int, probes: int, forks: list[int]) -> dict[str, Any]:
    reason = netns.unavailable("nft") or sshlab.unavailable()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    netns.remove_stale_namespaces()
    with tempfile.TemporaryDirectory(prefix="portplan-fanout-") as tmp:
        directory = Path(tmp)
        path = deployment(directory, sources, probes)
        with netns.topology() as topo, sshlab.ssh_lab(directory, SSH_PORT) as lab:
            dst = topo.add_node("dst", [DST_ADDRESS])
            half = probes // 2
            topo.listen(dst, [("tcp", DST_ADDRESS, FIRST_PORT + i) for i in range(half)])
            controller = topo.add_node("controller", [CONTROLLER_ADDRESS])
            nodes = []
            for i in range(sources):
                node = topo.add_node(f"src{i:02d}", [source_address(i)])
                lab.start(topo, node, source_address(i))
                nodes.append(node)
            inventory = directory / "inventory.yml"
            inventory.write_text(lab.inventory({n.name: n.addresses[0] for n in nodes}))
            results: dict[str, Any] = {"inventory": []}
            for count in forks:
                print(f"verify --inventory --forks {count}...", file=sys.stderr)
                out = directory / f"inventory-{count}.json"
                results["inventory"].append(
                    run_inventory(topo, controller, path, inventory, count, out, probes, sources)
                )
            print("shell loop of verify --on...", file=sys.stderr)
            loop_dir = directory / "loop"
            loop_dir.mkdir()
            results["loop"] = run_loop(nodes, path, loop_dir, probes)
    return results


def markdown(results: dict[str, Any]) -> str:
    sources, probes = results["sources"], results["probes"]
    lines = [
        f"# `verify --inventory`: {sources} sources x {probes} probes",
        "",
        "| how | wall | probing on the slowest source | Ansible's share | controller peak memory "
        "| right |",
        "|---|---|---|---|---|---|",
    ]
    for r in results["inventory"]:
        share = (
            f"{(r['ansible_wall_s'] - r['probing_s']) / r['ansible_wall_s']:.0%}"
            if r["probing_s"] is not None and r["ansible_wall_s"]
            else ""
        )
        lines.append(
            f"| `--inventory --forks {r['forks']}` | {r['wall_s']:.1f} s | "
            f"{r['probing_s']} s | {share} | {mib(r['peak_pss'])} | "
            f"{r['right']} of {r['expected']} |"
        )
    loop = results["loop"]
    lines.append(
        f"| shell loop of `verify --on`, all at once | {loop['wall_s']:.1f} s | | | | "
        f"{loop['right']} of {loop['expected']} |"
    )
    lines += ["", commit_line(results), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=50, help="source hosts (namespaces)")
    parser.add_argument("--probes", type=int, default=200, help="probes from each source")
    parser.add_argument(
        "--forks", type=int, nargs="+", default=[1, 10, 20, 50], help="--forks values to measure"
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR / "fanout.json")
    args = parser.parse_args(argv)
    results = header("fanout")
    results.update(sources=args.sources, probes=args.probes)
    results.update(measure(args.sources, args.probes, args.forks))
    finish(results, args.out, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

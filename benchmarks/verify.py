"""Benchmark ``portplan verify`` against ``nmap -sT`` on a network-namespace destination.

Builds two network namespaces joined by one veth pair (source 192.0.2.1, destination
192.0.2.2, RFC 5737 addresses; nothing leaves the namespaces) and measures two cases:

* **mixed**: 6,000 TCP ports on the destination: 2,000 open (a Python server in the
  destination namespace listening on all of them, with its open-files limit raised), 2,000
  refused (nothing listens) and 2,000 dropped (``nft ... drop`` in the destination's input
  hook).
* **icmp**: 200 TCP ports that the destination rejects with
  ``reject with icmpx admin-prohibited``, under the kernel's default ICMP rate limit (a burst
  of 6, then 1 error per second per peer).

For each case it runs, inside the source namespace, the real ``portplan verify`` CLI on a
generated deployment (a product with one flow per 50 ports: verify samples a row of more
than 64 ports) -- in the mixed case twice: as it runs by default, with its second look at
silent ports, and with ``--no-second-look``, which like nmap's ``--max-retries 0`` reports
silence at once -- and ``nmap -sT -Pn -n --max-retries 0 -T5 -p PORTS ADDRESS -oX FILE``, and
records wall time, CPU time (``resource.getrusage(RUSAGE_CHILDREN)`` before and after: user +
system of the child) and each tool's per-port accuracy against the ground truth (portplan:
``open`` / ``refused`` / ``filtered`` / ``rejected``; nmap: ``open`` / ``closed`` /
``filtered``, and for the icmp case the reason nmap gives, ``host-unreach`` when the ICMP
error arrived, ``no-response`` when it did not).

Run it as root: ``.venv/bin/python benchmarks/verify.py`` (``--help`` for options; needs
``ip``, ``nft`` and ``nmap``).  The default run takes about four minutes, nearly all of it
the icmp case, where the rate limit lets one rejection through per second.  It prints a
Markdown table
and writes the results to ``benchmarks/out/verify.json``.  This is a benchmark, not a test:
nothing here asserts a time or an accuracy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from _common import OUT_DIR, commit_line, finish, header  # the benchmarks folder is on sys.path

SRC_ADDRESS = "192.0.2.1"
DST_ADDRESS = "192.0.2.2"
OPEN_FIRST = 20001  #: open ports start here, then refused, then dropped, each block contiguous
ICMP_FIRST = 40001
PORTS_PER_FLOW = 50  #: verify probes every port of a row of at most 64
NMAP = ["nmap", "-sT", "-Pn", "-n", "--max-retries", "0", "-T5"]

#: Accepts on every TCP port given and closes; raises its open-files limit first.
SERVER = r"""
import resource, selectors, socket, sys
first, count = int(sys.argv[1]), int(sys.argv[2])
_soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
sel = selectors.DefaultSelector()
for port in range(first, first + count):
    s = socket.socket()
    s.bind(("0.0.0.0", port))
    s.listen(1024)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        try:
            key.fileobj.accept()[0].close()
        except OSError:
            pass
"""


def run(*argv: str, stdin: str | None = None, timeout: float = 60) -> str:
    done = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


@contextlib.contextmanager
def namespaces() -> Iterator[tuple[str, str]]:
    """A source and a destination namespace on one veth pair; always deleted."""
    token = secrets.token_hex(3)
    src, dst = f"pp-v-{token}-bsrc", f"pp-v-{token}-bdst"
    created: list[str] = []
    try:
        for name in (src, dst):
            run("ip", "netns", "add", name)
            created.append(name)
            run("ip", "-n", name, "link", "set", "lo", "up")
        a, b = f"pv{token}b0", f"pv{token}b1"
        run("ip", "link", "add", a, "netns", src, "type", "veth", "peer", b, "netns", dst)
        for name, device, address in ((src, a, SRC_ADDRESS), (dst, b, DST_ADDRESS)):
            run("ip", "-n", name, "addr", "add", f"{address}/24", "dev", device)
            run("ip", "-n", name, "link", "set", device, "up")
        yield src, dst
    finally:
        for name in created:
            subprocess.run(["ip", "netns", "del", name], check=False, timeout=30)


@contextlib.contextmanager
def server(dst: str, first: int, count: int) -> Iterator[None]:
    process = subprocess.Popen(
        ["ip", "netns", "exec", dst, sys.executable, "-c", SERVER, str(first), str(count)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise SystemExit("the listener in the destination namespace did not start")
        yield
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def deployment(directory: Path, ports: Sequence[int]) -> Path:
    """A product with one client -> server flow per PORTS_PER_FLOW ports, and its deployment."""
    flows = []
    for row, start in enumerate(range(0, len(ports), PORTS_PER_FLOW), start=1):
        chunk = ports[start : start + PORTS_PER_FLOW]
        flows.append(
            {
                "id": f"ports-{chunk[0]}-{chunk[-1]}",
                "row": row,
                "from": "client",
                "to": "server",
                "protocol": "tcp",
                "ports": f"{chunk[0]}-{chunk[-1]}",
                "purpose": "benchmark ports",
            }
        )
    product = {
        "id": "bench-ports",
        "name": "Benchmark ports",
        "version": "1",
        "document": {"title": "Benchmark ports"},
        "components": {"client": {"name": "Client", "kind": "client"}, "server": {"name": "S"}},
        "flows": flows,
    }
    (directory / "bench-ports.yaml").write_text(yaml.safe_dump(product, sort_keys=False))
    path = directory / "deployment.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "verify-benchmark",
                "hosts": {
                    "src": {"addresses": [SRC_ADDRESS]},
                    "dst": {"addresses": [DST_ADDRESS]},
                },
                "products": {
                    "bench-ports": {
                        "file": "bench-ports.yaml",
                        "components": {"client": "src", "server": "dst"},
                    }
                },
            },
            sort_keys=False,
        )
    )
    return path


def measured(argv: Sequence[str], timeout: float) -> dict[str, Any]:
    """Run a command to completion: wall seconds, CPU seconds (user, system), exit status."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, stdin=None
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    user = after.ru_utime - before.ru_utime
    system = after.ru_stime - before.ru_stime
    return {
        "wall_s": round(wall, 2),
        "cpu_user_s": round(user, 2),
        "cpu_system_s": round(system, 2),
        "cpu_s": round(user + system, 2),
        "exit_status": done.returncode,
        "stderr": done.stderr[-2000:],
    }


def _port_list(text: str) -> list[int]:
    ports: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        ports.extend(range(int(low), int(high or low) + 1))
    return ports


def nmap_states(path: Path) -> dict[int, tuple[str, str]]:
    """Port -> (state, reason) from nmap's XML, listed ports and collapsed extraports alike."""
    root = ET.parse(path).getroot()
    found: dict[int, tuple[str, str]] = {}
    for port in root.iter("port"):
        state = port.find("state")
        if state is not None:
            found[int(port.get("portid", "0"))] = (
                state.get("state", ""),
                state.get("reason", ""),
            )
    for extra in root.iter("extraports"):
        for reasons in extra.iter("extrareasons"):
            for number in _port_list(reasons.get("ports", "")):
                found[number] = (extra.get("state", ""), reasons.get("reason", ""))
    return found


def compare(truth: dict[int, str], seen: dict[int, str]) -> dict[str, Any]:
    wrong = {port: seen.get(port) for port, want in truth.items() if seen.get(port) != want}
    return {
        "correct": len(truth) - len(wrong),
        "total": len(truth),
        "accuracy": round((len(truth) - len(wrong)) / len(truth), 4),
        "outcomes": dict(Counter(seen.get(port, "missing") for port in truth)),
        "wrong_examples": {str(p): w for p, w in sorted(wrong.items())[:10]},
    }


def run_portplan(
    src: str,
    work: Path,
    ports: list[int],
    truth: dict[int, str],
    timeout: float,
    budget: float,
    *options: str,
) -> dict[str, Any]:
    plan = deployment(work, ports)
    report = work / "verify.json"
    argv = ["ip", "netns", "exec", src, sys.executable, "-m", "portplan", "verify", str(plan)]
    argv += ["--on", "src", "--format", "json", "--timeout", f"{timeout:g}", "-o", str(report)]
    argv += options
    result = measured(argv, budget)
    checks = json.loads(report.read_text())["checks"]
    seen = {c["port"]: c["outcome"] for c in checks}
    result.update(compare(truth, seen))
    again = [c for c in checks if c["evidence"]["attempts"] > 1]
    result["probed_again"] = len(again)
    result["most_attempts"] = max((c["evidence"]["attempts"] for c in checks), default=0)
    result["options"] = list(options)
    result["probes"] = len(checks)
    return result


def run_nmap(
    src: str,
    work: Path,
    ports: list[int],
    truth: dict[int, str],
    budget: float,
    *,
    with_reason: bool = False,
) -> dict[str, Any]:
    """nmap's per-port state (``with_reason``: "state (reason)") against ``truth``."""
    report = work / "nmap.xml"
    spec = f"{ports[0]}-{ports[-1]}"
    argv = ["ip", "netns", "exec", src, *NMAP, "-p", spec, DST_ADDRESS, "-oX", str(report)]
    result = measured(argv, budget)
    states = nmap_states(report)
    seen = {
        port: f"{state} ({why})" if with_reason else state for port, (state, why) in states.items()
    }
    result.update(compare(truth, seen))
    result["reasons"] = dict(Counter(f"{s} ({why})" for s, why in states.values()))
    result["command"] = " ".join([*NMAP, "-p", spec, DST_ADDRESS])
    return result


def mixed_case(per_kind: int, timeout: float, skip_nmap: bool) -> dict[str, Any]:
    opened = list(range(OPEN_FIRST, OPEN_FIRST + per_kind))
    refused = list(range(opened[-1] + 1, opened[-1] + 1 + per_kind))
    dropped = list(range(refused[-1] + 1, refused[-1] + 1 + per_kind))
    ports = opened + refused + dropped
    ruleset = (
        "table inet pp_v_bench {\n chain input {\n  type filter hook input priority 0;\n"
        f"  tcp dport {dropped[0]}-{dropped[-1]} drop\n }}\n}}\n"
    )
    out: dict[str, Any] = {"ports": len(ports), "open": per_kind, "refused": per_kind}
    out["dropped"] = per_kind
    with (
        namespaces() as (src, dst),
        server(dst, opened[0], per_kind),
        tempfile.TemporaryDirectory(prefix="portplan-bench-") as tmp,
    ):
        run("ip", "netns", "exec", dst, "nft", "-f", "-", stdin=ruleset)
        work = Path(tmp)
        truth = dict.fromkeys(opened, "open") | dict.fromkeys(refused, "refused")
        truth |= dict.fromkeys(dropped, "filtered")
        print(f"mixed: portplan verify, {len(ports)} ports ...", file=sys.stderr)
        budget = 600 + per_kind * 3.0
        out["portplan"] = run_portplan(src, work, ports, truth, timeout, budget)
        print(f"  {out['portplan']['wall_s']} s", file=sys.stderr)
        print("mixed: portplan verify --no-second-look ...", file=sys.stderr)
        quick = run_portplan(src, work, ports, truth, timeout, budget, "--no-second-look")
        out["portplan_no_second_look"] = quick
        print(f"  {quick['wall_s']} s", file=sys.stderr)
        if not skip_nmap:
            print("mixed: nmap ...", file=sys.stderr)
            nmap_truth = {p: "closed" if s == "refused" else s for p, s in truth.items()}
            out["nmap"] = run_nmap(src, work, ports, nmap_truth, 600)
            print(f"  {out['nmap']['wall_s']} s", file=sys.stderr)
    return out


def icmp_case(count: int, timeout: float, skip_nmap: bool) -> dict[str, Any]:
    ports = list(range(ICMP_FIRST, ICMP_FIRST + count))
    ruleset = (
        "table inet pp_v_bench {\n chain input {\n  type filter hook input priority 0;\n"
        f"  tcp dport {ports[0]}-{ports[-1]} reject with icmpx admin-prohibited\n }}\n}}\n"
    )
    out: dict[str, Any] = {"ports": count}
    with namespaces() as (src, dst), tempfile.TemporaryDirectory(prefix="portplan-bench-") as tmp:
        run("ip", "netns", "exec", dst, "nft", "-f", "-", stdin=ruleset)
        out["icmp_ratelimit_ms"] = int(run("ip", "netns", "exec", dst, "sysctl", "-n",
                                           "net.ipv4.icmp_ratelimit"))  # fmt: skip
        work = Path(tmp)
        print(f"icmp: portplan verify, {count} ports ...", file=sys.stderr)
        truth = dict.fromkeys(ports, "rejected")
        out["portplan"] = run_portplan(src, work, ports, truth, timeout, 600 + count * 3.0)
        print(f"  {out['portplan']['wall_s']} s", file=sys.stderr)
        if not skip_nmap:
            time.sleep(10)  # let the destination's ICMP token bucket fill up again
            print("icmp: nmap ...", file=sys.stderr)
            # nmap has no "rejected": a port is right when nmap saw the reject, that is
            # "filtered" with the reason host-unreach (not no-response)
            truth = dict.fromkeys(ports, "filtered (host-unreach)")
            out["nmap"] = run_nmap(src, work, ports, truth, 600, with_reason=True)
            print(f"  {out['nmap']['wall_s']} s", file=sys.stderr)
    return out


def _row(case: str, tool: str, r: dict[str, Any], detail: str) -> str:
    return (
        f"| {case} | {tool} | {r['wall_s']:.1f} s | {r['cpu_s']:.2f} s "
        f"({r['cpu_user_s']:.2f} user + {r['cpu_system_s']:.2f} sys) "
        f"| {r['correct']:,} / {r['total']:,} | {detail} |"
    )


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counter.items(), key=lambda kv: -kv[1]))


def _again(result: dict[str, Any]) -> str:
    if not result["probed_again"]:
        return "none probed again"
    return (
        f"{result['probed_again']:,} probed again (second look), "
        f"at most {result['most_attempts']} times"
    )


def markdown(results: dict[str, Any]) -> str:
    lines = [
        commit_line(results, f"; portplan --timeout {results['timeout_s']:g} s"),
        "",
        "| case | tool | wall | CPU | correct ports | outcomes |",
        "|---|---|---|---|---|---|",
    ]
    mixed = results.get("mixed")
    if mixed:
        case = f"{mixed['ports']:,} TCP ports (open / refused / dropped)"
        for key, tool in (
            ("portplan", "portplan verify"),
            ("portplan_no_second_look", "portplan verify --no-second-look"),
        ):
            p = mixed.get(key)
            if p:
                detail = f"{_counts(p['outcomes'])}; {_again(p)}"
                lines.append(_row(case, tool, p, detail))
        if "nmap" in mixed:
            lines.append(
                _row(case, "nmap -sT -T5", mixed["nmap"], _counts(mixed["nmap"]["outcomes"]))
            )
    icmp = results.get("icmp")
    if icmp:
        case = f"{icmp['ports']} TCP ports rejected (ICMP admin-prohibited, rate-limited)"
        p = icmp["portplan"]
        detail = f"{_counts(p['outcomes'])}; {_again(p)}"
        lines.append(_row(case, "portplan verify", p, detail))
        if "nmap" in icmp:
            n = icmp["nmap"]
            lines.append(_row(case, "nmap -sT -T5", n, _counts(n["reasons"])))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=2000, help="open/refused/dropped (2000)")
    parser.add_argument("--icmp-ports", type=int, default=200, help="rejected ports (200)")
    parser.add_argument("--timeout", type=float, default=0.5, help="portplan --timeout (0.5)")
    parser.add_argument("--skip-mixed", action="store_true", help="only the icmp case")
    parser.add_argument("--skip-icmp", action="store_true", help="only the mixed case")
    parser.add_argument("--skip-nmap", action="store_true", help="only portplan")
    parser.add_argument(
        "--json",
        type=Path,
        default=OUT_DIR / "verify.json",
        help="where to write the results (benchmarks/out/verify.json)",
    )
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces)")
    tools = ["ip", "nft"] + ([] if args.skip_nmap else ["nmap"])
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        parser.error(f"needs {', '.join(missing)} (apt-get install nmap nftables iproute2)")

    results: dict[str, Any] = {
        **header("verify"),
        "timeout_s": args.timeout,
        "nmap": None if args.skip_nmap else run("nmap", "--version").splitlines()[0].strip(),
    }
    if not args.skip_mixed:
        results["mixed"] = mixed_case(args.per_kind, args.timeout, args.skip_nmap)
    if not args.skip_icmp:
        results["icmp"] = icmp_case(args.icmp_ports, args.timeout, args.skip_nmap)
    finish(results, args.json, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

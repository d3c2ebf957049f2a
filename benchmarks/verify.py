"""Benchmark ``portplan verify`` against ``nmap -sT`` on a network-namespace destination.

Builds two network namespaces joined by one veth pair (source 192.0.2.1, destination
192.0.2.2, RFC 5737 addresses; nothing leaves the namespaces) and measures three cases:

* **waiting**: 6,000 TCP ports on the destination: 2,000 open whose service waits for the
  client (an asyncio holder in the destination namespace: 1,000 answer HTTP, 1,000 TLS, and
  the plan names those protocols, so verify identifies every one), 2,000 refused (nothing
  listens) and 2,000 dropped (``nft ... drop`` in the destination's input hook).
* **mixed**, at 600, 6,000 and 30,000 TCP ports (``--scales``): a third open (a server that
  accepts and closes at once), a third refused, a third dropped; no protocol named.  For the
  6,000-port scale the benchmark also measures the floor: a bare connect sweep of every port
  at once (epoll, 0.1 s for the silent ones), and that plus the kernel's first SYN
  retransmission (1 s), which a second look must outlast.
* **icmp**: 200 TCP ports that the destination rejects with
  ``reject with icmpx admin-prohibited``, under the kernel's default ICMP rate limit (a burst
  of 6, then 1 error per second per peer).

For each case it runs, inside the source namespace, the real ``portplan verify`` CLI on a
generated deployment (a product with one flow per 50 ports: verify samples a row of more
than 64 ports) -- in the waiting and mixed cases twice: as it runs by default, with its
second look at silent ports, and with ``--no-second-look``, which like nmap's
``--max-retries 0`` reports silence at once -- and ``nmap -sT -Pn -n --max-retries 0 -T5 -p
PORTS ADDRESS -oX FILE``, one after the other in each of ``--runs`` rounds (paired: the
medians compare runs made under the same load), and records wall time, CPU time
(``resource.getrusage(RUSAGE_CHILDREN)`` before and after: user + system of the child) and
each tool's per-port accuracy against the ground truth (portplan: ``open`` / ``refused`` /
``filtered`` / ``rejected``, and in the waiting case ``open http`` / ``open tls`` only when
the identification matched; nmap: ``open`` / ``closed`` / ``filtered``, and for the icmp case
the reason nmap gives, ``host-unreach`` when the ICMP error arrived, ``no-response`` when it
did not).

Run it as root: ``.venv/bin/python benchmarks/verify.py`` (``--help`` for options; needs
``ip``, ``nft``, ``openssl`` and ``nmap``).  The default run takes about eight minutes, half
of it the icmp case, where the rate limit lets one rejection through per second.  It prints a
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
import statistics
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
ICMP_FIRST = 50001
PORTS_PER_FLOW = 50  #: verify probes every port of a row of at most 64
NMAP = ["nmap", "-sT", "-Pn", "-n", "--max-retries", "0", "-T5"]
#: the kernel's initial retransmission timeout: a SYN is sent again after 1 s
SYN_RETRANSMISSION_S = 1.0

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

#: Holds ports whose service waits for the client: HTTP on the first block (answers a request,
#: then closes), TLS on the second (completes the handshake, then waits for the client to
#: close).  Neither says a word first.
HOLDER = r"""
import asyncio, resource, ssl, sys
http_first, tls_first, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
certificate, key = sys.argv[4], sys.argv[5]
_soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
ANSWER = b"HTTP/1.1 204 No Content\r\nServer: holder\r\nContent-Length: 0\r\n\r\n"

async def http(reader, writer):
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ANSWER)
        await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()

async def tls(reader, writer):
    try:
        await reader.read()
    except Exception:
        pass
    finally:
        writer.close()

async def main():
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    for port in range(http_first, http_first + count):
        await asyncio.start_server(http, "0.0.0.0", port, backlog=1024)
    for port in range(tls_first, tls_first + count):
        await asyncio.start_server(tls, "0.0.0.0", port, backlog=1024, ssl=context)
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""

#: The floor: every port connected at once (non-blocking, epoll), a silent one given 0.1 s
#: after the last SYN was sent; prints the seconds it took and how many answered.
SWEEP = r"""
import errno, select, socket, sys, time
address, ports = sys.argv[1], [int(p) for p in sys.argv[2].split(",")]
started = time.monotonic()
poll, socks = select.epoll(), {}
for port in ports:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    if s.connect_ex((address, port)) in (0, errno.EINPROGRESS):
        socks[s.fileno()] = s
        poll.register(s, select.EPOLLOUT)
    else:
        s.close()
last = time.monotonic()
answered = 0
while socks and (left := last + 0.1 - time.monotonic()) > 0:
    for fd, _ in poll.poll(left):
        s = socks.pop(fd)
        poll.unregister(fd)
        s.close()
        answered += 1
for s in socks.values():
    s.close()
print(time.monotonic() - started, answered)
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
def server(dst: str, script: str, *args: str) -> Iterator[int]:
    """``script`` run in the destination namespace until the block ends (it prints "ready");
    the block gets its process id (``ip netns exec`` becomes the interpreter)."""
    process = subprocess.Popen(
        ["ip", "netns", "exec", dst, sys.executable, "-c", script, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise SystemExit("the listener in the destination namespace did not start")
        yield process.pid
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed ECDSA certificate and its key for the TLS holder."""
    cert, key = directory / "holder.crt", directory / "holder.key"
    curve = "ec_paramgen_curve:prime256v1"
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", curve, "-nodes",
        "-keyout", str(key), "-out", str(cert), "-subj", "/CN=dst", "-days", "2")  # fmt: skip
    return cert, key


def deployment(directory: Path, ports: Sequence[int], protocols: dict[int, str]) -> Path:
    """A product with one client -> server flow per PORTS_PER_FLOW ports, and its deployment;
    a flow whose first port is in ``protocols`` names that application protocol."""
    flows = []
    for row, start in enumerate(range(0, len(ports), PORTS_PER_FLOW), start=1):
        chunk = ports[start : start + PORTS_PER_FLOW]
        flow = {
            "id": f"ports-{chunk[0]}-{chunk[-1]}",
            "row": row,
            "from": "client",
            "to": "server",
            "protocol": "tcp",
            "ports": f"{chunk[0]}-{chunk[-1]}",
            "purpose": "benchmark ports",
        }
        if chunk[0] in protocols:
            flow["app_protocol"] = protocols[chunk[0]]
        flows.append(flow)
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
        "wall_s": round(wall, 3),
        "cpu_user_s": round(user, 3),
        "cpu_system_s": round(system, 3),
        "cpu_s": round(user + system, 3),
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


def _seen(check: dict[str, Any]) -> str:
    """A check's outcome, with the protocol it was identified as (``open http``)."""
    ident = check["identification"]
    if check["outcome"] != "open" or ident is None:
        return str(check["outcome"])
    if ident["matches"]:
        return f"open {ident['protocol']}"
    return f"open, not identified ({ident['error'] or ident['protocol']})"


def run_portplan(
    src: str, plan: Path, truth: dict[int, str], timeout: float, budget: float, *options: str
) -> dict[str, Any]:
    report = plan.parent / "verify.json"
    argv = ["ip", "netns", "exec", src, sys.executable, "-m", "portplan", "verify", str(plan)]
    argv += ["--on", "src", "--format", "json", "--timeout", f"{timeout:g}", "-o", str(report)]
    argv += ["--overwrite", *options]
    result = measured(argv, budget)
    checks = json.loads(report.read_text())["checks"]
    result.update(compare(truth, {c["port"]: _seen(c) for c in checks}))
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


def sweep(src: str, ports: list[int]) -> float:
    """Seconds of the bare connect sweep (the floor of a first pass without retries)."""
    argv = ["ip", "netns", "exec", src, sys.executable, "-c", SWEEP, DST_ADDRESS]
    out = run(*argv, ",".join(map(str, ports)))
    return float(out.split()[0])


def cpu_of(pid: int) -> float:
    """The CPU seconds (user + system) process ``pid`` has used so far (``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time (its accuracy and outcomes), with the median wall and CPU
    times of all runs, and the worst accuracy seen."""
    ordered = sorted(runs, key=lambda r: r["wall_s"])
    middle = dict(ordered[(len(ordered) - 1) // 2])
    for key in ("wall_s", "cpu_s", "cpu_user_s", "cpu_system_s"):
        middle[key] = round(statistics.median(r[key] for r in runs), 3)
    middle["wall_samples"] = [r["wall_s"] for r in runs]
    middle["cpu_samples"] = [r["cpu_s"] for r in runs]
    middle["least_correct"] = min(r["correct"] for r in runs)
    if all("listener_cpu_s" in r for r in runs):
        middle["listener_cpu_s"] = round(statistics.median(r["listener_cpu_s"] for r in runs), 2)
    return middle


def _blocks(per_kind: int, first: int = OPEN_FIRST) -> tuple[list[int], list[int], list[int]]:
    opened = list(range(first, first + per_kind))
    refused = list(range(opened[-1] + 1, opened[-1] + 1 + per_kind))
    dropped = list(range(refused[-1] + 1, refused[-1] + 1 + per_kind))
    return opened, refused, dropped


def _drop(ports: list[int]) -> str:
    return (
        "table inet pp_v_bench {\n chain input {\n  type filter hook input priority 0;\n"
        f"  tcp dport {ports[0]}-{ports[-1]} drop\n }}\n}}\n"
    )


def _paired(
    src: str,
    work: Path,
    variants: Sequence[tuple[str, Path, dict[int, str], tuple[str, ...]]],
    ports: list[int],
    runs: int,
    timeout: float,
    skip_nmap: bool,
    label: str,
    listener: int | None = None,
) -> dict[str, Any]:
    """Each portplan variant (key, plan, truth, options), then nmap, ``runs`` times; with the
    CPU time the ``listener`` process (its id) spent during each run."""
    budget = 600 + len(ports)
    samples: dict[str, list[dict[str, Any]]] = {key: [] for key, *_ in variants}
    if not skip_nmap:
        samples["nmap"] = []
    truth = variants[0][2]
    nmap_truth = {p: "closed" if s == "refused" else s.split()[0] for p, s in truth.items()}
    for number in range(1, runs + 1):
        print(f"{label}: run {number} of {runs} ...", file=sys.stderr)
        for key, plan, want, options in variants:
            before = cpu_of(listener) if listener else 0.0
            samples[key].append(run_portplan(src, plan, want, timeout, budget, *options))
            if listener:
                samples[key][-1]["listener_cpu_s"] = round(cpu_of(listener) - before, 2)
        if not skip_nmap:
            before = cpu_of(listener) if listener else 0.0
            samples["nmap"].append(run_nmap(src, work, ports, nmap_truth, budget))
            if listener:
                samples["nmap"][-1]["listener_cpu_s"] = round(cpu_of(listener) - before, 2)
        print(
            "  " + ", ".join(f"{k} {v[-1]['wall_s']:.2f} s" for k, v in samples.items()),
            file=sys.stderr,
        )
    return {key: _median(value) for key, value in samples.items()}


def _both(
    key: str, plan: Path, truth: dict[int, str]
) -> list[tuple[str, Path, dict[int, str], tuple[str, ...]]]:
    """The default run and the ``--no-second-look`` one of ``plan``."""
    return [(key, plan, truth, ()), (f"{key}_no_second_look", plan, truth, ("--no-second-look",))]


def waiting_case(per_kind: int, runs: int, timeout: float, skip_nmap: bool) -> dict[str, Any]:
    """Open ports whose service waits for the client: named by no protocol (verify waits for
    first bytes that never come, to tell ``portplan listen``), and identified (HTTP, TLS)."""
    opened, refused, dropped = _blocks(per_kind)
    http, tls = opened[: per_kind // 2], opened[per_kind // 2 :]
    ports = opened + refused + dropped
    out: dict[str, Any] = {"ports": len(ports), "http": len(http), "tls": len(tls)}
    out |= {"refused": per_kind, "dropped": per_kind}
    with (
        tempfile.TemporaryDirectory(prefix="portplan-bench-") as tmp,
        namespaces() as (src, dst),
    ):
        work = Path(tmp)
        cert, key = certificate(work)
        holder = server(dst, HOLDER, str(http[0]), str(tls[0]), str(len(http)), str(cert), str(key))
        with holder as listener:
            run("ip", "netns", "exec", dst, "nft", "-f", "-", stdin=_drop(dropped))
            (work / "plain").mkdir()
            (work / "identified").mkdir()
            plain = deployment(work / "plain", ports, {})
            protocols = dict.fromkeys(http[::PORTS_PER_FLOW], "http")
            protocols |= dict.fromkeys(tls[::PORTS_PER_FLOW], "tls")
            identified = deployment(work / "identified", ports, protocols)
            blocked = dict.fromkeys(refused, "refused") | dict.fromkeys(dropped, "filtered")
            truth = dict.fromkeys(opened, "open") | blocked
            named = dict.fromkeys(http, "open http") | dict.fromkeys(tls, "open tls") | blocked
            variants = _both("portplan", plain, truth) + _both("identified", identified, named)
            out |= _paired(
                src, work, variants, ports, runs, timeout, skip_nmap, "waiting", listener
            )
    return out


def mixed_case(
    per_kind: int, runs: int, timeout: float, skip_nmap: bool, floor: bool
) -> dict[str, Any]:
    """Open ports that accept and close, refused and dropped ones; no protocol named."""
    opened, refused, dropped = _blocks(per_kind)
    ports = opened + refused + dropped
    out: dict[str, Any] = {"ports": len(ports), "open": per_kind, "refused": per_kind}
    out["dropped"] = per_kind
    with (
        namespaces() as (src, dst),
        server(dst, SERVER, str(opened[0]), str(per_kind)),
        tempfile.TemporaryDirectory(prefix="portplan-bench-") as tmp,
    ):
        run("ip", "netns", "exec", dst, "nft", "-f", "-", stdin=_drop(dropped))
        work = Path(tmp)
        plan = deployment(work, ports, {})
        truth = dict.fromkeys(opened, "open") | dict.fromkeys(refused, "refused")
        truth |= dict.fromkeys(dropped, "filtered")
        label = f"mixed {len(ports)}"
        out |= _paired(src, work, _both("portplan", plan, truth), ports, runs, timeout,
                       skip_nmap, label)  # fmt: skip
        if floor:
            sweeps = [sweep(src, ports) for _ in range(runs)]
            out["floor_no_retries_s"] = round(statistics.median(sweeps), 3)
            out["floor_sweep_samples"] = [round(s, 3) for s in sweeps]
            out["floor_second_look_s"] = round(out["floor_no_retries_s"] + SYN_RETRANSMISSION_S, 3)
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
        plan = deployment(work, ports, {})
        out["portplan"] = run_portplan(src, plan, truth, timeout, 600 + count * 3.0)
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
        f"| {case} | {tool} | {r['wall_s']:.2f} s | {r['cpu_s']:.2f} s "
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


_TOOLS = (
    ("portplan", "portplan verify"),
    ("portplan_no_second_look", "portplan verify --no-second-look"),
    ("identified", "portplan verify, HTTP and TLS identified"),
    ("identified_no_second_look", "portplan verify --no-second-look, HTTP and TLS identified"),
    ("nmap", "nmap -sT -T5 --max-retries 0"),
)


def _case_rows(case: str, found: dict[str, Any]) -> list[str]:
    lines = []
    for key, tool in _TOOLS:
        r = found.get(key)
        if not r:
            continue
        detail = _counts(r["outcomes"]) + ("" if key == "nmap" else f"; {_again(r)}")
        lines.append(_row(case, tool, r, detail))
    return lines


def _ratios(case: str, found: dict[str, Any]) -> list[str]:
    nmap = found.get("nmap")
    if not nmap:
        return []
    lines = []
    for key, tool in _TOOLS[:4]:
        r = found.get(key)
        if not r:
            continue
        lines.append(
            f"| {case} | {tool} | {r['wall_s'] / nmap['wall_s']:.2f}x "
            f"| {r['cpu_s'] / nmap['cpu_s']:.2f}x |"
        )
    return lines


def markdown(results: dict[str, Any]) -> str:
    runs = results["runs"]
    lines = [
        commit_line(results, f"; portplan --timeout {results['timeout_s']:g} s"),
        "",
        f"Medians of {runs} paired runs (wall and CPU each the median of its own samples; the "
        "outcomes are those of the run of median wall time, the correct count the run's).",
        "",
        "| case | tool | wall | CPU | correct ports | outcomes |",
        "|---|---|---|---|---|---|",
    ]
    cases: list[tuple[str, dict[str, Any]]] = []
    waiting = results.get("waiting")
    if waiting:
        cases.append(
            (
                f"{waiting['ports']:,} TCP ports: {waiting['http'] + waiting['tls']:,} open "
                "waiting for the client, refused, dropped",
                waiting,
            )
        )
    for mixed in results.get("mixed", []):
        cases.append((f"{mixed['ports']:,} TCP ports (open / refused / dropped)", mixed))
    for case, found in cases:
        lines.extend(_case_rows(case, found))
    icmp = results.get("icmp")
    if icmp:
        case = f"{icmp['ports']} TCP ports rejected (ICMP admin-prohibited, rate-limited)"
        p = icmp["portplan"]
        lines.append(_row(case, "portplan verify", p, f"{_counts(p['outcomes'])}; {_again(p)}"))
        if "nmap" in icmp:
            n = icmp["nmap"]
            lines.append(_row(case, "nmap -sT -T5", n, _counts(n["reasons"])))
    ratios = [line for case, found in cases for line in _ratios(case, found)]
    if ratios:
        lines += ["", "| case | tool | wall / nmap's | CPU / nmap's |", "|---|---|---|---|"]
        lines += ratios
    if waiting:
        spent = [
            f"{tool} {waiting[key]['listener_cpu_s']:.2f} s"
            for key, tool in _TOOLS
            if "listener_cpu_s" in waiting.get(key, {})
        ]
        if spent:
            lines += [
                "",
                "CPU the waiting case's listener (HTTP and TLS, in the destination namespace, on "
                "the same cores) used during each tool's run (medians): " + "; ".join(spent) + ".",
            ]
    for mixed in results.get("mixed", []):
        if "floor_no_retries_s" in mixed:
            default = mixed["portplan"]["wall_s"]
            lines += [
                "",
                f"Floor at {mixed['ports']:,} ports: a bare connect sweep "
                f"{mixed['floor_no_retries_s']:.2f} s (median); with one SYN retransmission "
                f"window {mixed['floor_second_look_s']:.2f} s. portplan verify (default) "
                f"{default:.2f} s = {default / mixed['floor_second_look_s']:.2f}x that floor.",
            ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=2000, help="waiting case (2000)")
    parser.add_argument(
        "--scales",
        default="200,2000,10000",
        help="mixed case: open/refused/dropped ports of each scale (200,2000,10000)",
    )
    parser.add_argument("--runs", type=int, default=3, help="paired runs per case (3)")
    parser.add_argument("--icmp-ports", type=int, default=200, help="rejected ports (200)")
    parser.add_argument("--timeout", type=float, default=0.5, help="portplan --timeout (0.5)")
    parser.add_argument("--skip-waiting", action="store_true", help="no waiting case")
    parser.add_argument("--skip-mixed", action="store_true", help="no mixed case")
    parser.add_argument("--skip-icmp", action="store_true", help="no icmp case")
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
    tools = ["ip", "nft", "openssl"] + ([] if args.skip_nmap else ["nmap"])
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        parser.error(f"needs {', '.join(missing)} (apt-get install nmap nftables iproute2 openssl)")

    results: dict[str, Any] = {
        **header("verify"),
        "timeout_s": args.timeout,
        "runs": args.runs,
        "nmap": None if args.skip_nmap else run("nmap", "--version").splitlines()[0].strip(),
    }
    if not args.skip_waiting:
        results["waiting"] = waiting_case(args.per_kind, args.runs, args.timeout, args.skip_nmap)
    if not args.skip_mixed:
        results["mixed"] = [
            mixed_case(int(n), args.runs, args.timeout, args.skip_nmap, floor=int(n) == 2000)
            for n in args.scales.split(",")
        ]
    if not args.skip_icmp:
        results["icmp"] = icmp_case(args.icmp_ports, args.timeout, args.skip_nmap)
    finish(results, args.json, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

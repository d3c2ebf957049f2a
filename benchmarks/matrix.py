"""Benchmark ``portplan matrix`` on a large Shopping 6.1 deployment.

Generates a deployment with 10,000 individual client hosts (one IPv6 documentation address
each, 2001:db8::/32) and 50 servers (RFC 5737 IPv4 documentation addresses), with features set
so that every one of the product's 25 flows applies, then measures:

* the end-to-end CLI, ``portplan matrix FILE --format csv -o OUT``: wall time (best and median
  of N runs) and peak RSS of the child process (from ``os.wait4``);
* in process: ``load_deployment``, ``build_plan`` and ``matrix_bytes(plan, "csv")`` separately
  (best and median of N runs; the first ``load_deployment`` also loads the catalog product, so
  it is reported on its own), and the peak of traced Python allocations of each stage
  (``tracemalloc``, in a separate pass because tracing slows everything down);
* the number of matrix rows;
* end to end again, for 10,000 and 50,000 clients (``--scales``), as CSV and as the XLSX
  change request (``--formats``): wall time and peak RSS.

Run it as ``.venv/bin/python benchmarks/matrix.py`` (``--help`` for options).  It prints a
Markdown table and writes the results to ``benchmarks/out/matrix.json``.  This is a benchmark,
not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import csv
import gc
import ipaddress
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from _common import (  # the benchmarks folder is on sys.path
    OUT_DIR,
    commit_line,
    finish,
    header,
    mib,
    peak_rss_bytes,
    summary,
)

from portplan.load.deployment import load_deployment
from portplan.plan import build_plan
from portplan.report.matrix import matrix_bytes

GOAL_SECONDS = 1.0
#: (format, clients) -> (seconds, MiB): the goals of the change requests at scale
SCALE_GOALS = {
    ("csv", 10_000): (1.0, None),
    ("csv", 50_000): (3.0, 500),
    ("xlsx", 10_000): (5.0, 300),
    ("xlsx", 50_000): (20.0, 600),
}

#: Address blocks used: RFC 5737 (IPv4) and RFC 3849 (IPv6) documentation ranges only.
SERVER_NET = ipaddress.ip_network("192.0.2.0/24")
ADMIN_NET = ipaddress.ip_network("198.51.100.0/24")
DMZ_NET = ipaddress.ip_network("203.0.113.0/24")
CLIENT_NET = ipaddress.ip_network("2001:db8:c1::/48")

#: The 50 servers: (name prefix, count, network, first host number, platform, zone, components).
SERVER_ROLES: tuple[tuple[str, int, Any, int, str | None, str, tuple[str, ...]], ...] = (
    ("web", 2, SERVER_NET, 10, "windows-server-2022", "servers", ("website",)),
    ("svc", 2, SERVER_NET, 20, "windows-server-2022", "servers", ("central_service",)),
    ("sql", 2, SERVER_NET, 30, "windows-server-2019", "servers", ("shopping_database",)),
    ("dc", 4, SERVER_NET, 40, "windows-server-2022", "servers", ("active_directory",)),
    ("cm", 10, SERVER_NET, 100, "windows-server-2019", "servers", ("receiver", "sms_provider")),
    ("cmsql", 10, SERVER_NET, 150, "windows-server-2019", "servers", ("cm_site_database",)),
    ("mail", 2, DMZ_NET, 10, None, "dmz", ("smtp_gateway", "pop3_server")),
    ("appclarity", 2, DMZ_NET, 20, None, "dmz", ("appclarity",)),
    ("admin", 16, ADMIN_NET, 10, "windows-11", "admins", ("admin_console",)),
)

#: Every flow of Shopping 6.1 applies: the two negated conditions (``not rbac``,
#: ``lab and not exchange``) need rbac and exchange off.
FEATURES = {
    "remote_database": True,
    "rbac": False,
    "appclarity": True,
    "lab": True,
    "exchange": False,
    "remote_site_database": True,
    "remote_admin_console": True,
}


def deployment_data(clients: int) -> dict[str, Any]:
    """A Shopping 6.1 deployment with ``clients`` single-address client hosts and 50 servers."""
    hosts: dict[str, Any] = {}
    components: dict[str, list[str]] = {}
    for prefix, count, net, first, os_name, zone, comps in SERVER_ROLES:
        for index in range(1, count + 1):
            name = f"{prefix}{index:02d}"
            host: dict[str, Any] = {"addresses": [str(net[first + index - 1])], "zone": zone}
            if os_name:
                host["platform"] = os_name
            hosts[name] = host
            for comp in comps:
                components.setdefault(comp, []).append(name)
    # one site server with a restricted RPC range, to exercise per-host dynamic ranges
    hosts["cm01"]["dynamic_ranges"] = {"windows-rpc": "50000-50999"}
    assert len(hosts) == 50, len(hosts)
    client_names = []
    for index in range(1, clients + 1):
        name = f"client{index:05d}"
        hosts[name] = {
            "addresses": [str(CLIENT_NET[index])],
            "platform": "windows-11" if index % 2 else "windows-10",
            "zone": "clients",
        }
        client_names.append(name)
    components["client"] = client_names
    return {
        "name": f"shopping-{clients}-clients",
        "description": f"Benchmark: Shopping 6.1 with {clients} client hosts and 50 servers.",
        "hosts": hosts,
        "products": {
            "shopping-6.1": {
                "features": FEATURES,
                "parameters": {"website_port": 8443},
                "components": components,
            }
        },
    }


def write_deployment(path: Path, clients: int) -> None:
    text = yaml.safe_dump(deployment_data(clients), sort_keys=False, width=100)
    path.write_text(text, encoding="utf-8")


# -- measuring ---------------------------------------------------------------------------------


def run_cli(portplan: Path, args: list[str]) -> tuple[float, int, int, str]:
    """Run the CLI once: (wall seconds, peak RSS in bytes, exit status, stderr)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([str(portplan), *args], stdout=subprocess.DEVNULL, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    return wall, peak_rss_bytes(usage.ru_maxrss), proc.returncode, stderr


def bench_cli(portplan: Path, deployment: Path, out: Path, runs: int) -> dict[str, Any]:
    walls: list[float] = []
    rss: list[int] = []
    for _ in range(runs):
        wall, peak, status, stderr = run_cli(
            portplan, ["matrix", str(deployment), "--format", "csv", "-o", str(out), "--overwrite"]
        )
        if status != 0:
            raise SystemExit(f"portplan matrix failed with status {status}:\n{stderr}")
        walls.append(wall)
        rss.append(peak)
        print(f"  cli run: {wall:.3f} s, peak RSS {peak / 2**20:.0f} MiB", file=sys.stderr)
    with out.open(newline="", encoding="utf-8") as handle:
        csv_rows = sum(1 for _ in csv.reader(handle)) - 1
    return {
        "wall_s": summary(walls),
        "peak_rss_bytes": max(rss),
        "csv_rows": csv_rows,
        "csv_bytes": out.stat().st_size,
    }


def bench_scales(
    portplan: Path, work: Path, scales: list[int], formats: list[str], runs: int
) -> list[dict[str, Any]]:
    """``portplan matrix --format FORMAT -o FILE`` end to end for each number of clients and
    format: wall time (median of ``runs``) and the largest peak RSS."""
    found = []
    for clients in scales:
        deployment = work / f"shopping-{clients}-clients.yaml"
        if not deployment.exists():
            write_deployment(deployment, clients)
        for fmt in formats:
            out = work / f"matrix-{clients}.{fmt}"
            walls, rss = [], []
            for _ in range(runs):
                out.unlink(missing_ok=True)
                args = ["matrix", str(deployment), "--format", fmt, "-o", str(out)]
                wall, peak, status, stderr = run_cli(portplan, args)
                if status != 0:
                    raise SystemExit(f"portplan matrix failed with status {status}:\n{stderr}")
                walls.append(wall)
                rss.append(peak)
                print(f"  {clients} clients, {fmt}: {wall:.2f} s, {peak / 2**20:.0f} MiB",
                      file=sys.stderr)  # fmt: skip
            found.append(
                {
                    "clients": clients,
                    "format": fmt,
                    "wall_s": summary(walls),
                    "peak_rss_bytes": max(rss),
                    "output_bytes": out.stat().st_size,
                }
            )
    return found


def _time(func: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - start, result


def bench_in_process(deployment: Path, runs: int) -> dict[str, Any]:

    gc.collect()
    first_load, _bundle = _time(load_deployment, deployment)
    del _bundle
    loads: list[float] = []
    plans: list[float] = []
    renders: list[float] = []
    rows = 0
    for _ in range(runs):
        # each run starts from the same heap: nothing of the previous run is alive
        gc.collect()
        seconds, bundle = _time(load_deployment, deployment)
        loads.append(seconds)
        seconds, plan = _time(build_plan, bundle)
        plans.append(seconds)
        rows = len(plan.rows)
        seconds, data = _time(matrix_bytes, plan, "csv")
        renders.append(seconds)
        del bundle, plan, data
        print(
            f"  in-process run: load {loads[-1]:.3f} s, plan {plans[-1]:.3f} s, "
            f"csv {renders[-1]:.3f} s",
            file=sys.stderr,
        )
    return {
        "load_deployment_first_s": first_load,
        "load_deployment_s": summary(loads),
        "build_plan_s": summary(plans),
        "matrix_bytes_csv_s": summary(renders),
        "rows": rows,
    }


def bench_memory(deployment: Path) -> dict[str, Any]:
    """Peak traced Python allocations of each stage, each on top of what the previous kept."""

    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        bundle = load_deployment(deployment)
        load_current, load_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        plan = build_plan(bundle)
        plan_current, plan_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        data = matrix_bytes(plan, "csv")
        _render_current, render_peak = tracemalloc.get_traced_memory()
        del data
    finally:
        tracemalloc.stop()
    return {
        "load_deployment_peak_bytes": load_peak - base,
        "bundle_retained_bytes": load_current - base,
        "build_plan_peak_bytes": plan_peak - load_current,
        "plan_retained_bytes": plan_current - load_current,
        "matrix_bytes_csv_peak_bytes": render_peak - plan_current,
        "overall_peak_bytes": max(load_peak, plan_peak, render_peak) - base,
    }


# -- report ------------------------------------------------------------------------------------


def _sec(summary: dict[str, Any]) -> str:
    return f"{summary['best']:.3f} s / {summary['median']:.3f} s"


def markdown(results: dict[str, Any]) -> str:
    cli = results["cli"]
    proc = results["in_process"]
    mem = results["memory"]
    lines = [
        f"Deployment: {results['clients']} clients + {results['servers']} servers, "
        f"{mib(results['deployment_bytes'])} of YAML; {proc['rows']} matrix rows "
        f"(CSV: {cli['csv_rows']} rows, {mib(cli['csv_bytes'])}).",
        commit_line(results),
        "",
        f"In process: cyclic garbage collector {'on' if results['in_process_gc'] else 'off'}.",
        "",
        "| measure | best / median | peak memory |",
        "|---|---|---|",
        f"| `portplan matrix --format csv -o` (CLI, {cli['wall_s']['runs']} runs) "
        f"| {_sec(cli['wall_s'])} | {mib(cli['peak_rss_bytes'])} RSS |",
        f"| `load_deployment` (first call, loads the catalog product too) "
        f"| {proc['load_deployment_first_s']:.3f} s | |",
        f"| `load_deployment` ({proc['load_deployment_s']['runs']} runs) "
        f"| {_sec(proc['load_deployment_s'])} "
        f"| {mib(mem['load_deployment_peak_bytes'])} traced |",
        f"| `build_plan` ({proc['build_plan_s']['runs']} runs) "
        f"| {_sec(proc['build_plan_s'])} | {mib(mem['build_plan_peak_bytes'])} traced |",
        f"| `matrix_bytes(plan, 'csv')` ({proc['matrix_bytes_csv_s']['runs']} runs) "
        f"| {_sec(proc['matrix_bytes_csv_s'])} "
        f"| {mib(mem['matrix_bytes_csv_peak_bytes'])} traced |",
        f"| all stages in process | | {mib(mem['overall_peak_bytes'])} traced |",
        "",
        f"Goal: matrix under {GOAL_SECONDS:g} s (CLI median "
        f"{cli['wall_s']['median']:.2f} s: "
        f"{'met' if cli['wall_s']['median'] < GOAL_SECONDS else 'NOT met'}).",
    ]
    scales = results.get("scales")
    if scales:
        lines += [
            "",
            "End to end, `portplan matrix DEPLOYMENT --format FORMAT -o FILE` "
            f"(median of {scales[0]['wall_s']['runs']} runs, largest peak RSS):",
            "",
            "| clients | format | wall (median) | peak RSS | output | goal |",
            "|---|---|---|---|---|---|",
        ]
        for m in scales:
            seconds, memory = SCALE_GOALS.get((m["format"], m["clients"]), (None, None))
            goal = (
                ""
                if seconds is None
                else f"under {seconds:g} s" + (f" and {memory} MiB" if memory else "")
            )
            if seconds is not None:
                met = m["wall_s"]["median"] < seconds and (
                    memory is None or m["peak_rss_bytes"] < memory * 2**20
                )
                goal += ": met" if met else ": NOT met"
            lines.append(
                f"| {m['clients']:,} | {m['format']} | {m['wall_s']['median']:.2f} s "
                f"| {mib(m['peak_rss_bytes'])} | {mib(m['output_bytes'])} | {goal} |"
            )
    return "\n".join(lines) + "\n"


def report_json(results: dict[str, Any]) -> str:
    return json.dumps(results, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000, help="client hosts (10000)")
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (5)")
    parser.add_argument("--skip-cli", action="store_true", help="in-process measurements only")
    parser.add_argument(
        "--scales",
        default="10000,50000",
        help="clients of the end-to-end runs of every format (10000,50000; '' for none)",
    )
    parser.add_argument("--formats", default="csv,xlsx", help="formats of those runs (csv,xlsx)")
    parser.add_argument(
        "--no-gc",
        action="store_true",
        help="measure in process with the cyclic garbage collector off, as the CLI runs",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the deployment and CSV in benchmarks/out/ instead of a temp dir",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=OUT_DIR / "matrix.json",
        help="where to write the results (benchmarks/out/matrix.json)",
    )
    args = parser.parse_args(argv)
    if args.clients > CLIENT_NET.num_addresses - 2:
        parser.error("too many clients for the address block")

    portplan = Path(sys.executable).parent / "portplan"
    OUT_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="portplan-bench-") as tmp:
        work = OUT_DIR if args.keep else Path(tmp)
        deployment = work / f"shopping-{args.clients}-clients.yaml"
        write_deployment(deployment, args.clients)
        print(f"deployment: {deployment}", file=sys.stderr)
        results: dict[str, Any] = {
            **header("matrix"),
            "clients": args.clients,
            "servers": sum(role[1] for role in SERVER_ROLES),
            "deployment_bytes": deployment.stat().st_size,
            "goal_s": GOAL_SECONDS,
        }
        if not args.skip_cli:
            results["cli"] = bench_cli(portplan, deployment, work / "matrix.csv", args.runs)
            scales = [int(n) for n in args.scales.split(",") if n]
            formats = [f for f in args.formats.split(",") if f]
            results["scales"] = bench_scales(
                portplan, work, scales, formats, max(3, args.runs // 2)
            )
        if args.no_gc:
            gc.disable()  # gc.collect() between runs still works
        results["in_process_gc"] = gc.isenabled()
        results["in_process"] = bench_in_process(deployment, args.runs)
        results["memory"] = bench_memory(deployment)
    # without the CLI's numbers there is no table to print: the results themselves instead
    finish(results, args.json, report_json if args.skip_cli else markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

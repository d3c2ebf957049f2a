"""Benchmark firewall rule generation: portplan's nftables target against Aerleon's renderings.

Generates, in a temporary directory, a synthetic product model with 200 flows across eight
components and a deployment of 5,000 hosts in six zones (4,800 IPv6-only clients from the
documentation block 2001:db8::/32 and 200 servers and admin workstations on RFC 5737 IPv4
addresses, some dual-stack), then measures, each in a fresh process, on the same plan:

* ``nftables``: portplan's own nftables target, one ruleset per host, for every host;
* ``nftables-shared``: the same target with ``--set layout=shared``: one ruleset that every
  host loads (each rule matches both ends, so each host accepts only its own traffic);
* ``juniper``, ``cisco``, ``paloalto``: the zone-boundary targets of
  :mod:`portplan.targets.acl` (portplan's terms, Aerleon in a worker process, then the
  read-back check), one file per source zone (Cisco, Junos) or zone boundary (PAN-OS);
* ``aerleon-nftables``: the same zone-boundary policy rendered by Aerleon's own nftables
  generator (a ``forward`` chain per boundary and family) through the same worker.  It is a
  baseline for size and time only: nothing reads that output back.

For each: the time of ``render(plan, options)`` alone (the plan is built first; best and median
of N runs), with a breakdown for the Aerleon targets (term building, the worker, the read-back
check); the peak of traced Python allocations during one render (``tracemalloc``, in a separate
pass); the peak RSS of the measuring process and, for the Aerleon targets, of the worker (in
that separate pass, forked from a small probe process so that its number is its own); and the
size of the output (bytes, files, lines).  A
``plan-only`` process gives the RSS every measurement starts from.  For the Aerleon targets it
also times Aerleon's ``api.Generate`` call alone, on the very request portplan's worker gets,
in a process of its own (the render time of those targets is end to end: portplan's terms,
the worker's start-up and JSON, Aerleon, the read-back check).  Last, ``portplan rules -t
nftables --all-hosts -o FOLDER/`` end to end, writing every file.  Ratios are Aerleon over
each portplan variant.  ``--hosts 20000`` measures a deployment of 20,000 hosts.

Run it as ``.venv/bin/python benchmarks/rules.py`` (``--help`` for options).  It prints a
Markdown table and writes ``benchmarks/out/rules.json``.  This is a benchmark, not a test:
nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Mapping
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

#: Address blocks: RFC 5737 (IPv4) and RFC 3849 (IPv6) documentation ranges only.
NET_A = ipaddress.ip_network("192.0.2.0/24")
NET_B = ipaddress.ip_network("198.51.100.0/24")
NET_C = ipaddress.ip_network("203.0.113.0/24")
CLIENT_V6 = ipaddress.ip_network("2001:db8:c1::/48")
DMZ_V6 = ipaddress.ip_network("2001:db8:d::/64")
INFRA_V6 = ipaddress.ip_network("2001:db8:1::/64")

#: component → (host count, zone, IPv4 block and first host number, IPv6 block or None)
COMPONENTS: dict[str, tuple[int, str, Any, int, Any]] = {
    "portal": (4, "dmz", NET_B, 10, DMZ_V6),
    "web": (16, "dmz", NET_B, 20, None),
    "app": (40, "app", NET_A, 10, None),
    "db": (20, "data", NET_A, 60, None),
    "dir": (6, "infra", NET_A, 90, INFRA_V6),
    "mon": (4, "infra", NET_A, 100, None),
    "admin": (110, "admins", NET_C, 10, None),
}
HOSTS = 5000
#: client flows first (they carry the 4,800 clients), then the server flows, cycled
CLIENT_FLOWS = [("client", "portal")] * 4 + [("client", "dir")] * 2
SERVER_PAIRS = [
    ("web", "app"),
    ("app", "db"),
    ("app", "dir"),
    ("web", "dir"),
    ("portal", "web"),
    ("mon", "app"),
    ("mon", "db"),
    ("mon", "web"),
    ("admin", "web"),
    ("admin", "app"),
    ("admin", "db"),
    ("admin", "dir"),
    ("app", "app"),  # within one zone: nftables rules, no zone boundary
]
#: portplan's own renderings first (the ratios compare each Aerleon variant with them)
PORTPLAN_VARIANTS = ("nftables", "nftables-shared")
VARIANTS = (*PORTPLAN_VARIANTS, "juniper", "cisco", "paloalto", "aerleon-nftables")
#: the options of each variant (all others: the defaults)
OPTIONS = {"nftables-shared": {"layout": "shared"}}


def flow_ports(index: int) -> tuple[str, list[int | str]]:
    """A protocol and ports for flow ``index``: single ports, some UDP, some ranges, some pairs."""
    protocol = "udp" if index % 5 == 4 else "tcp"
    ports: list[int | str] = [10000 + index]
    if index % 7 == 3:
        ports = [f"{20000 + 10 * index}-{20009 + 10 * index}"]
    elif index % 11 == 5:
        ports.append(30000 + index)
    return protocol, ports


def product_data(flows: int) -> dict[str, Any]:
    components: dict[str, Any] = {"client": {"name": "Client", "kind": "client"}}
    components.update({c: {"name": c.title()} for c in COMPONENTS})
    pairs = CLIENT_FLOWS + [
        SERVER_PAIRS[i % len(SERVER_PAIRS)] for i in range(flows - len(CLIENT_FLOWS))
    ]
    flow_list = []
    for index, (source, destination) in enumerate(pairs):
        protocol, ports = flow_ports(index)
        flow_list.append(
            {
                "id": f"f{index:03d}-{source}-{destination}",
                "row": index + 1,
                "from": source,
                "to": destination,
                "protocol": protocol,
                "ports": ports,
                "purpose": f"Synthetic flow {index} from {source} to {destination}.",
            }
        )
    return {
        "id": "synthetic-1.0",
        "name": "Synthetic",
        "version": "1.0",
        "vendor": "portplan benchmarks",
        "document": {"title": "Synthetic communication ports"},
        "components": components,
        "flows": flow_list,
    }


def deployment_data(total: int = HOSTS) -> dict[str, Any]:
    hosts: dict[str, Any] = {}
    placement: dict[str, list[str]] = {}
    for component, (count, zone, net, first, v6) in COMPONENTS.items():
        for index in range(count):
            name = f"{component}{index + 1:03d}"
            addresses = [str(net[first + index])]
            if v6 is not None:
                addresses.append(str(v6[first + index]))
            hosts[name] = {"addresses": addresses, "zone": zone}
            placement.setdefault(component, []).append(name)
    clients = total - len(hosts)
    for index in range(1, clients + 1):
        name = f"client{index:05d}"
        hosts[name] = {"addresses": [str(CLIENT_V6[index])], "zone": "clients"}
        placement.setdefault("client", []).append(name)
    assert len(hosts) == total, len(hosts)
    return {
        "name": "rules-benchmark",
        "description": f"Benchmark: {total} hosts in six zones.",
        "hosts": hosts,
        "products": {"synthetic-1.0": {"file": "synthetic.yaml", "components": placement}},
    }


def write_inputs(folder: Path, flows: int, hosts: int = HOSTS) -> Path:
    (folder / "synthetic.yaml").write_text(
        yaml.safe_dump(product_data(flows), sort_keys=False), encoding="utf-8"
    )
    deployment = folder / "rules-benchmark.yaml"
    data = deployment_data(hosts)
    deployment.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return deployment


# -- one measurement, in a fresh process --------------------------------------------------------


def _target(variant: str) -> Any:
    from portplan.targets import get_target  # noqa: PLC0415 - only the measured child loads portplan

    if variant in PORTPLAN_VARIANTS:
        return get_target("nftables")
    if variant != "aerleon-nftables":
        return get_target(variant)
    from portplan.targets.acl import AclTarget, Boundary, FilterFile, Permits  # noqa: PLC0415
    from portplan.targets.acl_terms import AclTerm, files_per_boundary  # noqa: PLC0415

    class AerleonNftables(AclTarget):
        """Aerleon's nftables generator on the zone-boundary policy (benchmark baseline)."""

        name = "aerleon-nftables"
        description = "benchmark only"
        capabilities = frozenset()
        platform = "nftables"
        suffix = ".nft"
        generator = "aerleon.lib.nftables.Nftables"
        apply_note = "Benchmark baseline."

        def filter_files(
            self, boundaries: Mapping[Boundary, tuple[AclTerm, ...]]
        ) -> dict[FilterFile, tuple[AclTerm, ...]]:
            return files_per_boundary(boundaries)  # a forward chain per boundary and family

        def header(self, unit: FilterFile, family: int) -> str:
            return f"{'inet' if family == 4 else 'inet6'} forward 0"

        def check(self, text: str, unit: FilterFile, expected: Permits) -> None:
            pass  # a size and time baseline: not read back

    return AerleonNftables()


def measure(variant: str, deployment: Path, runs: int) -> dict[str, Any]:
    """Time, memory and size of one target's render of the plan (run in a child process)."""
    # only the measured child process loads portplan
    from portplan.pipeline import load_plan  # noqa: PLC0415 - see above
    from portplan.targets import RuleOptions, acl  # noqa: PLC0415 - see above

    plan = load_plan(deployment)
    result: dict[str, Any] = {"variant": variant, "rows": len(plan.rows)}
    if variant == "plan-only":
        result["self_peak_rss_bytes"] = _rss(resource.RUSAGE_SELF)
        return result
    target = _target(variant)
    options = RuleOptions(extra=OPTIONS.get(variant, {}))
    parts: dict[str, list[float]] = {"terms": [], "worker": [], "check": []}
    requests: list[Any] = []  # what the Aerleon targets ask their worker
    aerleon = variant not in PORTPLAN_VARIANTS
    if aerleon:  # time the stages of the Aerleon targets
        timed_terms, timed_run = acl.boundary_terms, acl._run_aerleon
        check = type(target).check

        def terms_wrapper(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return timed_terms(*args)
            finally:
                parts["terms"].append(time.perf_counter() - start)

        def run_wrapper(*args: Any) -> Any:
            requests.append(args[0])
            start = time.perf_counter()
            try:
                return timed_run(*args)
            finally:
                parts["worker"].append(time.perf_counter() - start)

        def check_wrapper(self: Any, *args: Any) -> None:
            start = time.perf_counter()
            try:
                check(self, *args)
            finally:
                parts["check"].append(time.perf_counter() - start)

        acl.boundary_terms = terms_wrapper  # type: ignore[assignment]
        acl._run_aerleon = run_wrapper  # type: ignore[assignment]
        type(target).check = check_wrapper  # type: ignore[method-assign]
    walls = []
    files: dict[str, str] = {}
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        files = target.render(plan, options)
        walls.append(time.perf_counter() - start)
        print(f"  {variant}: {walls[-1]:.2f} s", file=sys.stderr)
    data = [text.encode() for text in files.values()]
    result.update(
        {
            "render_s": summary(walls),
            "files": len(files),
            "output_bytes": sum(len(d) for d in data),
            "output_lines": sum(d.count(b"\n") for d in data),
        }
    )
    if aerleon:
        result["stages_s"] = {
            stage: summary(list(samples)) for stage, samples in parts.items() if samples
        }
        # each file once per run; the check runs once per file
        check_per_run = [
            sum(parts["check"][i * len(files) : (i + 1) * len(files)]) for i in range(runs)
        ]
        result["stages_s"]["check"] = summary(check_per_run)
        result["generate_alone_s"] = generate_alone(requests[0], runs)
    del files, data
    # before the traced pass: tracemalloc's own bookkeeping would count in the RSS
    result["self_peak_rss_bytes"] = _rss(resource.RUSAGE_SELF)
    gc.collect()
    with tempfile.NamedTemporaryFile("r") as rss_file:
        if aerleon:  # the worker's own peak RSS, through a small probe process
            run = subprocess.run

            def probed(command: list[str], *args: Any, **kwargs: Any) -> Any:
                probe = [sys.executable, "-c", _RSS_PROBE, rss_file.name]
                return run([*probe, *command], *args, **kwargs)

            subprocess.run = probed  # type: ignore[assignment]
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            target.render(plan, options)
            result["render_traced_peak_bytes"] = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        peaks = [int(line) for line in rss_file.read().split()]
    result["worker_peak_rss_bytes"] = peak_rss_bytes(max(peaks)) if peaks else None
    return result


#: Aerleon's generate call on a request of portplan's worker, timed alone: Aerleon imported
#: and the naming definitions parsed first (untimed), then ``api.Generate`` only, ``runs``
#: times, each on definitions of its own; prints the seconds as JSON.
_GENERATE_ALONE = """
import json, sys, time
from aerleon import api
from aerleon.lib import naming
request, runs = json.load(open(sys.argv[1])), int(sys.argv[2])
seconds = []
for _ in range(runs):
    definitions = naming.Naming()
    definitions.ParseDefinitionsObject(request["definitions"], "portplan")
    start = time.perf_counter()
    files = api.Generate(request["policies"], definitions)
    seconds.append(time.perf_counter() - start)
    assert files, "Aerleon wrote nothing"
print(json.dumps(seconds))
"""


def generate_alone(request: Any, runs: int) -> dict[str, Any]:
    """Aerleon's ``api.Generate`` alone on ``request`` (as the worker gets it), in a process
    of its own with the worker's environment; without portplan's term building, the worker's
    start-up and JSON, and the read-back check."""
    import os  # noqa: PLC0415 - only the measuring child needs it

    payload = {
        "platform": request.platform,
        "policies": request.policies,
        "definitions": request.definitions,
    }
    env = dict(os.environ, PYTHONHASHSEED="0")  # as the worker runs
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        json.dump(payload, handle)
        handle.flush()
        done = subprocess.run(
            [sys.executable, "-c", _GENERATE_ALONE, handle.name, str(runs)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
    return summary(json.loads(done.stdout.strip().splitlines()[-1]))


#: Runs a command and appends its peak RSS (its ``ru_maxrss``) to a file.  A child's peak RSS
#: includes the time between fork and exec, when it is a copy of its parent; forked from this
#: small process instead of the measuring one, the worker's number is its own.
_RSS_PROBE = """
import resource, subprocess, sys
status = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "a") as out:
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=out)
sys.exit(status)
"""


def _rss(who: int) -> int:
    return peak_rss_bytes(resource.getrusage(who).ru_maxrss)


def run_measure(variant: str, deployment: Path, runs: int, timeout: float) -> dict[str, Any]:
    """Run :func:`measure` in a fresh interpreter (a clean heap for every variant)."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [
                *(sys.executable, __file__, "--measure", variant),
                *("--deployment", str(deployment), "--runs", str(runs)),
            ],
            stdout=out,
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise SystemExit(f"{variant}: no result within {timeout:g} s") from None
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{variant}: the measuring process failed ({proc.returncode})")
        out.seek(0)
        result: dict[str, Any] = json.loads(out.read())
    result["process_wall_s"] = wall
    return result


# -- report -------------------------------------------------------------------------------------


def cli_per_host(deployment: Path, runs: int) -> dict[str, Any]:
    """``portplan rules DEPLOYMENT -t nftables --all-hosts -o FOLDER/`` end to end (Python's
    start-up, loading, planning, rendering and writing every file), a new folder each run."""
    walls = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="portplan-rules-out-") as out:
            argv = [sys.executable, "-m", "portplan", "rules", str(deployment), "-t", "nftables"]
            argv += ["--all-hosts", "-o", f"{out}/rules/", "-q"]
            start = time.perf_counter()
            subprocess.run(argv, check=True)
            walls.append(time.perf_counter() - start)
            print(f"  nftables CLI: {walls[-1]:.2f} s", file=sys.stderr)
    return summary(walls)


def ratios(results: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """For each portplan variant: each Aerleon variant's numbers over portplan's."""
    start_rss = results["measurements"]["plan-only"]["self_peak_rss_bytes"]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for own in PORTPLAN_VARIANTS:
        base = results["measurements"].get(own)
        if base is None:
            continue
        base_rss = base["self_peak_rss_bytes"] - start_rss
        out[own] = {}
        for variant in VARIANTS:
            m = results["measurements"].get(variant)
            if m is None or variant in PORTPLAN_VARIANTS:
                continue
            rss = m["self_peak_rss_bytes"] - start_rss + (m["worker_peak_rss_bytes"] or 0)
            out[own][variant] = {
                "render_median": m["render_s"]["median"] / base["render_s"]["median"],
                "generate_alone": m["generate_alone_s"]["median"] / base["render_s"]["median"],
                "output_bytes": m["output_bytes"] / base["output_bytes"],
                "traced_peak": m["render_traced_peak_bytes"] / base["render_traced_peak_bytes"],
                "rss_over_plan": rss / base_rss if base_rss > 0 else float("nan"),
            }
    return out


def markdown(results: dict[str, Any]) -> str:
    ms = results["measurements"]
    start_rss = ms["plan-only"]["self_peak_rss_bytes"]
    lines = [
        f"Deployment: {results['hosts']} hosts, {results['flows']} flows, "
        f"{ms['plan-only']['rows']} plan rows; the plan alone: {mib(start_rss)} RSS.",
        commit_line(results),
        "",
        "| variant | render best / median | traced peak | process RSS | worker RSS "
        "| files | output | lines |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        m = ms.get(variant)
        if m is None:
            continue
        lines.append(
            f"| {variant} | {m['render_s']['best']:.2f} s / {m['render_s']['median']:.2f} s "
            f"| {mib(m['render_traced_peak_bytes'])} | {mib(m['self_peak_rss_bytes'])} "
            f"| {mib(m['worker_peak_rss_bytes'])} | {m['files']} "
            f"| {mib(m['output_bytes'])} | {m['output_lines']} |"
        )
    lines += [
        "",
        "Stages of the Aerleon targets (median seconds per render; the render time above is "
        "end to end: portplan's terms, the worker, the read-back check), and Aerleon's "
        "`api.Generate` call timed alone in a process of its own:",
        "",
        "| variant | terms | Aerleon worker | read-back check | Aerleon generate alone |",
        "|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        m = ms.get(variant, {})
        stages = m.get("stages_s")
        if stages:
            lines.append(
                f"| {variant} | {stages['terms']['median']:.2f} "
                f"| {stages['worker']['median']:.2f} | {stages['check']['median']:.2f} "
                f"| {m['generate_alone_s']['median']:.2f} |"
            )
    cli = results.get("cli_per_host_s")
    if cli:
        lines += [
            "",
            f"`portplan rules -t nftables --all-hosts -o FOLDER/` end to end ({results['hosts']:,} "
            f"files): best {cli['best']:.2f} s, median {cli['median']:.2f} s of {cli['runs']}.",
        ]
    for own, against in results["ratios"].items():
        lines += [
            "",
            f"Ratios, Aerleon variant / portplan {own} (RSS: the measuring process's peak "
            "above the plan-only process, plus the worker's peak):",
            "",
            "| variant | render time (end to end) | generate alone | output size | traced peak "
            "| RSS |",
            "|---|---|---|---|---|---|",
        ]
        for variant, r in against.items():
            lines.append(
                f"| {variant} | {r['render_median']:.2f}x | {r['generate_alone']:.2f}x "
                f"| {r['output_bytes']:.2f}x | {r['traced_peak']:.2f}x "
                f"| {r['rss_over_plan']:.2f}x |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=200, help="product flows (200)")
    parser.add_argument("--hosts", type=int, default=HOSTS, help=f"hosts ({HOSTS})")
    parser.add_argument("--runs", type=int, default=3, help="renders per variant (3)")
    parser.add_argument(
        "--only", action="append", choices=VARIANTS, help="measure only this variant (repeatable)"
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds per variant before giving up (1800)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the generated product and deployment"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=OUT_DIR / "rules.json",
        help="where to write the results (benchmarks/out/rules.json)",
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--deployment", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:  # the child process of one measurement
        print(json.dumps(measure(args.measure, args.deployment, args.runs)))
        return 0
    if args.flows < len(CLIENT_FLOWS) + len(SERVER_PAIRS):
        parser.error(f"at least {len(CLIENT_FLOWS) + len(SERVER_PAIRS)} flows")

    variants = ["plan-only", *[v for v in VARIANTS if not args.only or v in args.only]]
    for own in reversed(PORTPLAN_VARIANTS):
        if own not in variants:
            variants.insert(1, own)  # the ratios need them
    OUT_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="portplan-rules-") as tmp:
        work = OUT_DIR / "rules-input" if args.keep else Path(tmp)
        work.mkdir(exist_ok=True)
        deployment = write_inputs(work, args.flows, args.hosts)
        print(f"deployment: {deployment}", file=sys.stderr)
        results: dict[str, Any] = {
            **header("rules"),
            "hosts": args.hosts,
            "flows": args.flows,
            "measurements": {},
        }
        for variant in variants:
            print(f"measuring {variant}", file=sys.stderr)
            runs = 1 if variant == "plan-only" else args.runs
            results["measurements"][variant] = run_measure(variant, deployment, runs, args.timeout)
        print("measuring the per-host CLI end to end", file=sys.stderr)
        results["cli_per_host_s"] = cli_per_host(deployment, args.runs)
    results["ratios"] = ratios(results)
    finish(results, args.json, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

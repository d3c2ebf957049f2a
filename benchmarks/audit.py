"""Benchmark ``portplan audit --ruleset`` and ``portplan diff`` on large inputs.

* **audit**: the 5,000-host deployment of ``rules.py`` (200 flows, 323,700 rows) and a
  hand-written style ruleset for its busiest host, ``portal001`` (19,200 rows end on it: 4,800
  IPv6 clients times 4 flows): one rule per source host and protocol with the ports it needs,
  as people write rulesets without address sets, plus extra rules for admin workstations on a
  port the plan does not name, to 5,000 rules in all.  Written twice: as ``nft -j list
  ruleset`` JSON (an ``inet`` table, input chain policy drop) and as ``ip6tables-save`` and
  ``iptables-save`` files.  The audit must find exactly the extra rules, and nothing missing.
* **diff**: two Shopping deployments with 10,000 clients each (``matrix.py``'s generator),
  the second with ``website_port`` moved, AppClarity switched off and one domain controller
  re-addressed.

For each: the end-to-end CLI (best and median of N runs, peak RSS of the child) and, in
process, the parse and compare steps.  Run it as ``.venv/bin/python benchmarks/audit.py``; it
prints a Markdown table and writes ``benchmarks/out/audit.json``.  A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matrix as matrix_bench  # the benchmarks folder is on sys.path
import rules as rules_bench
import yaml
from _common import OUT_DIR, commit_line, finish, header, mib, summary

from portplan.audit import audit_ruleset
from portplan.audit.collect import RulesetFile, read_ruleset
from portplan.diff import diff_plans
from portplan.load.deployment import load_deployment
from portplan.pipeline import plan_bundle
from portplan.plan import Plan

HOST = "portal001"
RULES = 5000
EXTRA_PORT = 2222


def _rules_of(plan: Plan) -> list[tuple[int, str, str, str, list[tuple[int, int]]]]:
    """(family, source, destination, protocol, port ranges) per source host and protocol."""
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for row in plan.rows_of(HOST):
        if row.destination != HOST:
            continue
        entry = grouped.setdefault((row.source, row.protocol.value), {"row": row, "ports": set()})
        entry["ports"] |= {(r.start, r.end) for r in row.ports.ranges}
    out = []
    for (_source, protocol), entry in grouped.items():
        row = entry["row"]
        for family in (4, 6):
            sources = [n for n in row.source_addresses if n.version == family]
            destinations = [n for n in row.destination_addresses if n.version == family]
            if sources and destinations:
                out.append(
                    (
                        family,
                        str(sources[0]),
                        str(destinations[0]),
                        protocol,
                        sorted(entry["ports"]),
                    )
                )
    admins = [h for h in plan.hosts if h.startswith("admin")]
    v4 = next(str(n) for n in plan.hosts[HOST].addresses if n.version == 4)
    index = 0
    while len(out) < RULES:
        source = str(plan.hosts[admins[index % len(admins)]].addresses[0])
        out.append((4, source, v4, "tcp", [(EXTRA_PORT + index // len(admins),) * 2]))
        index += 1
    return out


def nft_json(rules: list[tuple[int, str, str, str, list[tuple[int, int]]]]) -> str:
    items: list[dict[str, Any]] = [
        {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
        {"table": {"family": "inet", "name": "fw", "handle": 1}},
        {"chain": {"family": "inet", "table": "fw", "name": "input", "handle": 1,
                   "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
    ]  # fmt: skip
    for handle, (family, source, destination, protocol, ports) in enumerate(rules, 2):
        ip = "ip" if family == 4 else "ip6"
        elements: list[Any] = [a if a == b else {"range": [a, b]} for a, b in ports]
        right = elements[0] if len(elements) == 1 else {"set": elements}
        expr = [
            {"match": {"op": "==", "left": {"payload": {"protocol": ip, "field": "saddr"}},
                       "right": source.split("/")[0]}},
            {"match": {"op": "==", "left": {"payload": {"protocol": ip, "field": "daddr"}},
                       "right": destination.split("/")[0]}},
            {"match": {"op": "==", "left": {"payload": {"protocol": protocol, "field": "dport"}},
                       "right": right}},
            {"accept": None},
        ]  # fmt: skip
        items.append(
            {"rule": {"family": "inet", "table": "fw", "chain": "input", "handle": handle,
                      "expr": expr}}
        )  # fmt: skip
    return json.dumps({"nftables": items})


def iptables_save(
    rules: list[tuple[int, str, str, str, list[tuple[int, int]]]], family: int
) -> str:
    lines = ["*filter", ":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]"]
    for fam, source, destination, protocol, ports in rules:
        if fam != family:
            continue
        text = ",".join(str(a) if a == b else f"{a}:{b}" for a, b in ports)
        match = (
            f"-m multiport --dports {text}" if len(ports) > 1 else f"-m {protocol} --dport {text}"
        )
        lines.append(f"-A INPUT -s {source} -d {destination} -p {protocol} {match} -j ACCEPT")
    return "\n".join([*lines, "COMMIT"]) + "\n"


def _timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


def bench_audit(folder: Path, runs: int, portplan: Path) -> dict[str, Any]:
    deployment = rules_bench.write_inputs(folder, 200)
    plan = plan_bundle(load_deployment(deployment))
    rules = _rules_of(plan)
    extra = sum(1 for r in rules if r[4][0][0] >= EXTRA_PORT and r[3] == "tcp" and r[0] == 4)
    (folder / "ruleset.json").write_text(nft_json(rules))
    (folder / "rules.v4").write_text(iptables_save(rules, 4))
    (folder / "rules.v6").write_text(iptables_save(rules, 6))
    out: dict[str, Any] = {"rules": len(rules), "extra_rules": extra}
    for name, files in (
        ("nftables", ["ruleset.json"]),
        ("iptables", ["rules.v4", "rules.v6"]),
    ):
        texts = [RulesetFile(f, (folder / f).read_text()) for f in files]
        parses, audits, findings = [], [], 0
        for _ in range(runs):
            seconds, ruleset = _timed(lambda texts=texts: read_ruleset(texts))
            parses.append(seconds)
            seconds, result = _timed(lambda ruleset=ruleset: audit_ruleset(plan, HOST, ruleset))
            audits.append(seconds)
            findings = len(result.findings)
            kinds = sorted({f.kind.value for f in result.findings})
            print(f"  {name}: parse {parses[-1]:.2f} s, audit {audits[-1]:.2f} s, "
                  f"{findings} findings {kinds}", file=sys.stderr)  # fmt: skip
        args = ["audit", str(deployment), "--host", HOST, "--format", "json",
                "-o", str(folder / "audit.json"), "--overwrite"]  # fmt: skip
        for file in files:
            args += ["--ruleset", str(folder / file)]
        walls, peaks = [], []
        for _ in range(runs):
            wall, peak, status, stderr = matrix_bench.run_cli(portplan, args)
            if status not in (0, 1):
                raise SystemExit(f"portplan audit failed ({status}): {stderr}")
            walls.append(wall)
            peaks.append(peak)
        out[name] = {
            "parse_s": summary(parses),
            "audit_s": summary(audits),
            "findings": findings,
            "cli_wall_s": summary(walls),
            "cli_peak_rss_bytes": max(peaks),
        }
    return out


def bench_diff(folder: Path, runs: int, portplan: Path, clients: int) -> dict[str, Any]:
    old = matrix_bench.deployment_data(clients)
    new = matrix_bench.deployment_data(clients)
    binding = new["products"]["shopping-6.1"]
    binding["parameters"]["website_port"] = 9443
    binding["features"]["appclarity"] = False
    new["hosts"]["dc01"]["addresses"] = ["192.0.2.99"]
    paths = []
    for name, data in (("old.yaml", old), ("new.yaml", new)):
        path = folder / name
        path.write_text(yaml.safe_dump(data, sort_keys=False, width=100))
        paths.append(path)
    old_bundle, new_bundle = load_deployment(paths[0]), load_deployment(paths[1])
    old_plan, new_plan = plan_bundle(old_bundle), plan_bundle(new_bundle)
    compares = []
    changes = summary_text = None
    for _ in range(runs):
        seconds, found = _timed(
            lambda: diff_plans(old_plan, new_plan, old_side=old_bundle, new_side=new_bundle)
        )
        compares.append(seconds)
        changes, summary_text = len(found.changes), found.summary()
        print(f"  diff in process: {seconds:.2f} s, {summary_text}", file=sys.stderr)
    walls, peaks = [], []
    for _ in range(runs):
        wall, peak, status, stderr = matrix_bench.run_cli(
            portplan, ["diff", str(paths[0]), str(paths[1]), "--format", "json",
                       "-o", str(folder / "diff.json"), "--overwrite"]
        )  # fmt: skip
        if status not in (0, 1):
            raise SystemExit(f"portplan diff failed ({status}): {stderr}")
        walls.append(wall)
        peaks.append(peak)
        print(f"  diff cli: {wall:.2f} s, peak RSS {mib(peak)}", file=sys.stderr)
    return {
        "clients": clients,
        "rows": [len(old_plan.rows), len(new_plan.rows)],
        "compare_s": summary(compares),
        "changes": changes,
        "summary": summary_text,
        "cli_wall_s": summary(walls),
        "cli_peak_rss_bytes": max(peaks),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=10000)
    args = parser.parse_args()
    portplan = Path(sys.executable).with_name("portplan")
    results = header("audit")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        results["audit"] = bench_audit(folder, args.runs, portplan)
        results["diff"] = bench_diff(folder, args.runs, portplan, args.clients)
    finish(results, OUT_DIR / "audit.json", report)


def report(results: dict[str, Any]) -> str:
    audit, diff = results["audit"], results["diff"]
    lines = [
        "| benchmark | in process (median) | CLI (median) | peak RSS | result |",
        "|---|---|---|---|---|",
    ]
    for name in ("nftables", "iptables"):
        entry = audit[name]
        lines.append(
            f"| audit, {audit['rules']:,}-rule {name} ruleset, 5,000-host plan | parse "
            f"{entry['parse_s']['median']:.2f} s + audit {entry['audit_s']['median']:.2f} s | "
            f"{entry['cli_wall_s']['median']:.2f} s | {mib(entry['cli_peak_rss_bytes'])} | "
            f"{entry['findings']} findings ({audit['extra_rules']} extra rules) |"
        )
    lines.append(
        f"| diff of two {diff['clients']:,}-client deployments ({diff['rows'][0]:,} rows) | "
        f"{diff['compare_s']['median']:.2f} s | {diff['cli_wall_s']['median']:.2f} s | "
        f"{mib(diff['cli_peak_rss_bytes'])} | {diff['summary']} |"
    )
    return "\n".join(lines) + "\n" + commit_line(results) + "\n"


if __name__ == "__main__":
    main()

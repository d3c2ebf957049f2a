"""Benchmark ``portplan --help`` start-up, and show which imports it pays for.

Measures, as subprocesses (best and median of N runs, default 20):

* ``python -c pass``: the interpreter's own start-up, the floor nothing can go below;
* ``python -c "import portplan.cli"``: importing the command line module;
* ``portplan --help`` and ``portplan --version`` through the installed console script.

Then runs ``python -X importtime -c "import portplan.cli"`` a few times and prints the slowest
imports (cumulative and self time, median over the runs), and checks that the heavy libraries
(pydantic, PyYAML, rich, openpyxl) are not imported by ``import portplan.cli`` nor by
``portplan --help``: they belong inside the commands that need them.

Run it as ``.venv/bin/python benchmarks/startup.py``.  It prints Markdown and writes the results
to ``benchmarks/out/startup.json``.  This is a benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from _common import (  # the benchmarks folder is on sys.path
    OUT_DIR,
    commit_line,
    finish,
    header,
    summary,
)

GOAL_SECONDS = 0.05  # issue 13: "--help stays under 0.05 s"

#: Libraries that must stay out of ``portplan --help`` (imported inside the commands instead).
HEAVY = ("pydantic", "pydantic_core", "yaml", "rich", "openpyxl")

#: Runs ``import portplan.cli`` (no arguments) or the CLI with the given arguments, then writes
#: the heavy modules it imported to stderr as JSON.
_PROBE = """
import json, runpy, sys
if sys.argv[1:]:
    sys.argv[0] = "portplan"
    try:
        runpy.run_module("portplan", run_name="__main__")
    except SystemExit:
        pass
else:
    import portplan.cli
sys.stderr.write(json.dumps(sorted(m for m in HEAVY if m in sys.modules)))
"""


def time_command(argv: list[str], runs: int) -> dict[str, Any]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - start)
    return summary(samples)


def import_times(python: str, runs: int) -> dict[str, dict[str, Any]]:
    """Median self and cumulative import time (microseconds) of every module, over ``runs``."""
    self_us: dict[str, list[int]] = defaultdict(list)
    cumulative_us: dict[str, list[int]] = defaultdict(list)
    depth: dict[str, int] = {}
    for _ in range(runs):
        proc = subprocess.run(
            [python, "-X", "importtime", "-c", "import portplan.cli"],
            capture_output=True,
            text=True,
            check=True,
        )
        for line in proc.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            own, cumulative, name = line[len("import time:") :].split("|")
            module = name.strip()
            depth[module] = (len(name) - len(name.lstrip()) - 1) // 2
            self_us[module].append(int(own))
            cumulative_us[module].append(int(cumulative))
    return {
        module: {
            "self_us": int(statistics.median(self_us[module])),
            "cumulative_us": int(statistics.median(cumulative_us[module])),
            "depth": depth[module],
        }
        for module in self_us
    }


def heavy_imports(python: str, args: list[str]) -> list[str]:
    proc = subprocess.run(
        [python, "-c", f"HEAVY = {HEAVY!r}\n{_PROBE}", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(proc.stderr))


def markdown(results: dict[str, Any], top: int) -> str:
    timings = results["timings"]
    lines = [
        commit_line(results),
        "",
        "| command | best | median |",
        "|---|---|---|",
    ]
    for label, timing in timings.items():
        lines.append(f"| `{label}` | {timing['best']:.3f} s | {timing['median']:.3f} s |")
    help_median = timings["portplan --help"]["median"]
    lines += [
        "",
        f"Goal: `portplan --help` under {GOAL_SECONDS:g} s (median {help_median:.3f} s: "
        f"{'met' if help_median < GOAL_SECONDS else 'NOT met'}).",
        "",
        f"Heavy libraries ({', '.join(HEAVY)}) imported by `import portplan.cli`: "
        f"{', '.join(results['heavy']['import portplan.cli']) or 'none'}; "
        f"by `portplan --help`: {', '.join(results['heavy']['portplan --help']) or 'none'}.",
        "",
        f"Slowest imports of `import portplan.cli` (median of {results['importtime_runs']} "
        "`-X importtime` runs; top-level = imported by portplan.cli or the interpreter itself):",
        "",
        "| module | cumulative | self |",
        "|---|---|---|",
    ]
    modules = results["imports"]
    shallow = [m for m in modules if modules[m]["depth"] <= 1]
    for module in sorted(shallow, key=lambda m: -modules[m]["cumulative_us"])[:top]:
        info = modules[module]
        indent = "&nbsp;&nbsp;" * info["depth"]
        lines.append(
            f"| {indent}`{module}` | {info['cumulative_us'] / 1000:.1f} ms "
            f"| {info['self_us'] / 1000:.1f} ms |"
        )
    lines += ["", "Most self time:", "", "| module | self |", "|---|---|"]
    for module in sorted(modules, key=lambda m: -modules[m]["self_us"])[:top]:
        lines.append(f"| `{module}` | {modules[module]['self_us'] / 1000:.1f} ms |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per command (20)")
    parser.add_argument("--importtime-runs", type=int, default=5, help="-X importtime runs (5)")
    parser.add_argument("--top", type=int, default=8, help="imports to list (8)")
    parser.add_argument(
        "--json",
        type=Path,
        default=OUT_DIR / "startup.json",
        help="where to write the results (benchmarks/out/startup.json)",
    )
    args = parser.parse_args(argv)

    python = sys.executable
    portplan = str(Path(python).parent / "portplan")
    commands = {
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import portplan.cli'": [python, "-c", "import portplan.cli"],
        "portplan --help": [portplan, "--help"],
        "portplan --version": [portplan, "--version"],
    }
    for argv_ in commands.values():  # warm the file system cache and the .pyc files
        subprocess.run(argv_, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    results: dict[str, Any] = {
        **header("startup"),
        "goal_s": GOAL_SECONDS,
        "timings": {label: time_command(cmd, args.runs) for label, cmd in commands.items()},
        "heavy": {
            "import portplan.cli": heavy_imports(python, []),
            "portplan --help": heavy_imports(python, ["--help"]),
        },
        "importtime_runs": args.importtime_runs,
        "imports": import_times(python, args.importtime_runs),
    }
    finish(results, args.json, lambda r: markdown(r, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

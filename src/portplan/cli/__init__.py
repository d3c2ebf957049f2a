"""The ``portplan`` command line: the only code that prints, colours or exits.

Heavy modules (pydantic, rich, openpyxl) are imported inside the commands so that
``portplan --help`` starts fast.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from portplan._version import __version__
from portplan.errors import EXIT_USAGE, DiagnosticsError, PortplanError

__all__ = ["cli", "main"]

SHOW_FORMATS = ("table", "md", "csv", "json")
MATRIX_FORMATS = ("table", "csv", "json", "md", "xlsx")


class _Group(click.Group):
    """Turns portplan's own errors into a message and an exit status, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PortplanError as exc:
            if ctx.meta.get("portplan.debug"):
                raise
            _print_error(exc)
            ctx.exit(exc.exit_code)


def _print_error(exc: PortplanError) -> None:
    if isinstance(exc, DiagnosticsError) and exc.diagnostics:
        diagnostics = exc.diagnostics
        for diagnostic in diagnostics:
            click.echo(
                f"{diagnostic.location()}: error: {diagnostic.message}"
                + (f" ({diagnostic.hint})" if diagnostic.hint else ""),
                err=True,
            )
        count = len(diagnostics)
        click.echo(
            f"portplan: {count} problem{'s' if count != 1 else ''} found; nothing was "
            "written (run with --debug for a traceback)",
            err=True,
        )
    else:
        click.echo(f"portplan: error: {exc}", err=True)


def _width() -> int:
    import shutil

    return shutil.get_terminal_size((120, 24)).columns


def _write(output: Path | None, data: bytes, inputs: Sequence[Path]) -> None:
    """Write to ``output`` atomically, or to stdout; never over one of the input files."""
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    target = output.resolve()
    if any(target == p.resolve() for p in inputs):
        raise _UsageError(f"refusing to write {output}: it is one of the input files")
    if target.is_dir():
        raise _UsageError(f"{output} is a directory; give a file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _UsageError(PortplanError, ValueError):
    exit_code = EXIT_USAGE


def _require_host(host: str, hosts: Any, deployment: Path) -> None:
    """Refuse a host name the deployment does not have, naming the near ones."""
    if host not in hosts:
        from portplan.load.validate import choice_hint

        raise _UsageError(f"no host {host!r} in {deployment}; " + choice_hint(host, hosts, "hosts"))


def _echo_listing(fmt: str, columns: tuple[str, ...], rows: Sequence[Sequence[str]]) -> None:
    """A list command's output: JSON records, or a table."""
    from portplan.render.text import json_text, rich_table_text

    if fmt == "json":
        click.echo(json_text([dict(zip(columns, r, strict=True)) for r in rows]), nl=False)
    else:
        click.echo(rich_table_text(None, columns, rows, width=_width()), nl=False)


# Options several commands share, declared once.
_LIST_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
_DEFAULT_ACTION = click.option(
    "--default",
    "default_action",
    type=click.Choice(["drop", "reject"]),
    default="drop",
    show_default=True,
    help="What happens to traffic not in the plan.",
)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="portplan")
@click.option("--debug", is_flag=True, help="Show a traceback on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Turn vendor communication-ports documents into ports-as-code.

    Model a product once (see `portplan catalog`), bind it to a deployment, and derive the
    concrete flow matrix: who must reach whom, on what.
    """
    ctx.meta["portplan.debug"] = debug


@cli.command("catalog")
@_LIST_FORMAT
def catalog_cmd(fmt: str) -> None:
    """List the products bundled with portplan."""
    from portplan.catalog import catalog_ids, load_catalog_product

    products = [load_catalog_product(pid) for pid in catalog_ids()]
    rows = [
        (p.id, p.name, p.version, p.vendor or "", str(len(p.flows)), p.document.title)
        for p in products
    ]
    _echo_listing(fmt, ("id", "name", "version", "vendor", "flows", "document"), rows)


def _load_product_arg(ref: str) -> tuple[Any, list[Path]]:
    from portplan.catalog import catalog_ids, catalog_path, load_catalog_product
    from portplan.load.product import load_product

    if ref in catalog_ids():
        return load_catalog_product(ref), [catalog_path(ref)]
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_product(path), [path]
    return load_catalog_product(ref), []  # raises UnknownProductError with a did-you-mean


@cli.command("show")
@click.argument("product")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(SHOW_FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE.")
def show_cmd(product: str, fmt: str, output: Path | None) -> None:
    """Render PRODUCT (a catalog id or a product file) in its vendor document's own shape."""
    from portplan.render.show import show_tables
    from portplan.render.text import shown_tables_text

    model, inputs = _load_product_arg(product)
    heading = f"{model.document.title} ({model.id})"
    text = shown_tables_text(
        show_tables(model), fmt, heading=heading, notes=model.document.notes, width=_width()
    )
    _write(output, text.encode(), inputs)


@cli.command("schema")
@click.argument("kind", type=click.Choice(["product", "deployment"]))
def schema_cmd(kind: str) -> None:
    """Print the JSON Schema of product or deployment files (for editor validation)."""
    from portplan.model.schema import json_schema
    from portplan.render.text import json_text

    click.echo(json_text(json_schema(kind)), nl=False)


@cli.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate_cmd(files: tuple[Path, ...]) -> None:
    """Check product and deployment FILES; report every problem with file:line:column."""
    from portplan.load.files import validate_files

    summaries = validate_files(files)
    for line in summaries:
        click.echo(line)


@cli.command("matrix")
@click.argument("deployment", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(MATRIX_FORMATS),
    default="table",
    show_default=True,
    help="Output format; csv and xlsx are change requests.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Write to FILE (required for xlsx unless stdout is not a terminal).",
)
@click.option(
    "--explain",
    "explain",
    metavar="FLOW",
    multiple=True,
    help="Say why FLOW (product/flow-id or flow-id) is in or out, instead of the matrix.",
)
def matrix_cmd(deployment: Path, fmt: str, output: Path | None, explain: tuple[str, ...]) -> None:
    """Expand DEPLOYMENT into its concrete flow matrix: who must reach whom, on what."""
    from portplan.load.deployment import load_deployment
    from portplan.load.validate import choice_hint
    from portplan.plan import build_plan
    from portplan.render.matrix import explain_text, matrix_bytes

    bundle = load_deployment(deployment)
    plan = build_plan(bundle)
    for warning in plan.warnings:
        click.echo(f"portplan: warning: {warning}", err=True)
    if explain:
        texts = []
        for flow in explain:
            decision = plan.decision(flow)
            if decision is None:
                keys = [d.key for d in plan.decisions] + [d.flow_id for d in plan.decisions]
                raise _UsageError(
                    f"no flow {flow!r} in this deployment; " + choice_hint(flow, keys, "flows")
                )
            texts.append(explain_text(plan, decision))
        _write(output, "\n".join(texts).encode(), [deployment])
        return
    if fmt == "xlsx" and output is None and sys.stdout.isatty():
        raise _UsageError("xlsx is binary; give -o FILE.xlsx or redirect standard output")
    _write(output, matrix_bytes(plan, fmt, width=_width()), [deployment])


@cli.command("targets")
@_LIST_FORMAT
def targets_cmd(fmt: str) -> None:
    """List the firewall targets and what each can express."""
    from portplan.targets import Capability, get_target, target_names

    rows = []
    for name in target_names():
        target = get_target(name)
        rows.append(
            (
                name,
                target.scope.value,
                ", ".join(c.value for c in Capability if c in target.capabilities),
                target.description,
            )
        )
    _echo_listing(fmt, ("target", "scope", "can express", "description"), rows)


@cli.command("rules")
@click.argument("deployment", type=click.Path(path_type=Path))
@click.option(
    "--target",
    "-t",
    "target_name",
    required=True,
    metavar="TARGET",
    help="Firewall platform (see `portplan targets`).",
)
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="HOST",
    help="Render this host only (repeatable); host-scoped targets.",
)
@click.option("--all-hosts", is_flag=True, help="Render every host that takes part in the plan.")
@click.option(
    "--egress",
    is_flag=True,
    help="Also filter what each host sends (default: only what it accepts).",
)
@_DEFAULT_ACTION
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Target-specific setting (see docs/targets.md), e.g. loopback=planned.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Write to FILE (one file) or DIR (several); default: standard output.",
)
def rules_cmd(
    deployment: Path,
    target_name: str,
    hosts: tuple[str, ...],
    all_hosts: bool,
    egress: bool,
    default_action: str,
    settings: tuple[str, ...],
    output: Path | None,
) -> None:
    """Generate firewall rules for DEPLOYMENT: exactly the planned flows, nothing broader."""
    from portplan.load.deployment import load_deployment
    from portplan.plan import build_plan
    from portplan.targets import DefaultAction, RuleOptions, Scope, get_target

    target = get_target(target_name)
    extra = {}
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep or not key:
            raise _UsageError(f"--set {setting!r}: write KEY=VALUE")
        extra[key.strip()] = value.strip()
    if target.scope is Scope.HOST and not hosts and not all_hosts:
        raise _UsageError(
            f"target {target.name} writes one ruleset per host: give --host HOST or --all-hosts"
        )
    bundle = load_deployment(deployment)
    plan = build_plan(bundle)
    for host in hosts:
        _require_host(host, bundle.deployment.hosts, deployment)
    options = RuleOptions(
        hosts=hosts, egress=egress, default=DefaultAction(default_action), extra=extra
    )
    files = target.render(plan, options)
    _write_files(output, files, [deployment])


@cli.command("apply")
@click.argument("deployment", type=click.Path(path_type=Path))
@click.option("--host", required=True, metavar="HOST", help="The host this command runs on.")
@click.option(
    "--target",
    "-t",
    "target_name",
    type=click.Choice(["nftables", "iptables"]),
    default="nftables",
    show_default=True,
    help="Linux firewall to apply.",
)
@click.option("--egress", is_flag=True, help="Also filter what the host sends.")
@_DEFAULT_ACTION
@click.option(
    "--timeout",
    "confirm_timeout",
    type=click.IntRange(1, 3600),
    default=30,
    show_default=True,
    help="Seconds to confirm before the old ruleset comes back.",
)
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Only check the ruleset with the platform's checker; change nothing.",
)
@click.option(
    "--force", is_flag=True, help="Apply even if the plan gives no management access to this host."
)
def apply_cmd(
    deployment: Path,
    host: str,
    target_name: str,
    egress: bool,
    default_action: str,
    confirm_timeout: int,
    check_only: bool,
    force: bool,
) -> None:
    """Apply HOST's ruleset here: check it, apply it, roll back unless confirmed in time.

    The running ruleset is saved first. After applying, type 'yes' within --timeout seconds
    to keep the new one; anything else, end of input or silence restores the saved ruleset
    (exit status 1). A ruleset the checker refuses is never applied (exit status 2).
    """
    from portplan.apply import backend_for, lockout_problems
    from portplan.load.deployment import load_deployment
    from portplan.plan import build_plan
    from portplan.targets import DefaultAction, RuleOptions

    bundle = load_deployment(deployment)
    _require_host(host, bundle.deployment.hosts, deployment)
    plan = build_plan(bundle)
    options = RuleOptions(egress=egress, default=DefaultAction(default_action))
    backend = backend_for(plan, host, target_name, options)
    backend.check()
    click.echo(f"portplan: {target_name} ruleset for {host} passes the checker", err=True)
    if check_only:
        return
    problems = lockout_problems(plan, host)
    session_cut = [p for p in problems if not p.forcible]
    if session_cut or (problems and not force):
        for problem in problems:
            click.echo(f"portplan: refused: {problem.text}", err=True)
        raise _UsageError(
            "nothing was changed"
            + ("" if session_cut else " (--force applies without declared management access)")
        )
    saved = backend.snapshot()
    backend.load()
    click.echo(
        f"portplan: applied. Type 'yes' within {confirm_timeout} s to keep it; "
        "otherwise the previous ruleset comes back.",
        err=True,
    )
    if _confirmed(confirm_timeout):
        click.echo("portplan: kept.", err=True)
        return
    backend.restore(saved)
    click.echo("portplan: not confirmed: the previous ruleset is restored.", err=True)
    raise click.exceptions.Exit(1)


def _confirmed(timeout: int) -> bool:
    """Whether the operator types 'yes' on standard input within ``timeout`` seconds."""
    import select

    stream = sys.stdin
    if stream is None or stream.closed:
        return False
    try:
        ready, _, _ = select.select([stream], [], [], timeout)
    except (OSError, ValueError):
        return False
    if not ready:
        return False
    return stream.readline().strip().lower() == "yes"


def _read_secret(path: Path | None, variable: str) -> bytes | None:
    if path is not None:
        try:
            return path.read_bytes().strip()
        except OSError as exc:
            raise _UsageError(f"cannot read the secret file {path}: {exc.strerror}") from exc
    value = os.environ.get(variable)
    return value.encode() if value else None


@cli.command("verify")
@click.argument("deployment", type=click.Path(path_type=Path))
@click.option(
    "--from",
    "from_host",
    metavar="HOST",
    help="Verify the flows of this host (default: the hosts this machine's addresses belong to).",
)
@click.option("--flow", "flows", multiple=True, metavar="ID", help="Only this flow (repeatable).")
@click.option(
    "--timeout",
    type=click.FloatRange(0.05, 60),
    default=1.0,
    show_default=True,
    help="Seconds a probe waits for an answer. Once a destination has answered, the first "
    "look adapts to its round-trip time (at least 0.1 s); a second look waits at least 1.2 s.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 8192),
    default=2048,
    show_default=True,
    help="Probes at once (kept below the open-files limit). Each destination address starts "
    "with 5 at once; its window grows as its probes complete and halves when a probe turns "
    "out to have been lost.",
)
@click.option(
    "--second-look/--no-second-look",
    default=True,
    show_default=True,
    help="Probe silent ports again, in rounds a second apart, before calling them filtered "
    "(a rate-limited ICMP error or the source's own firewall can look like silence). "
    "--no-second-look reports silence at once, as nmap --max-retries 0 does: faster, "
    "but such ports then read as filtered.",
)
@click.option("--no-identify", is_flag=True, help="Only probe; do not identify services.")
@click.option(
    "--radius-secret-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File holding the RADIUS shared secret (or set PORTPLAN_RADIUS_SECRET).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "junit"]),
    default="table",
    show_default=True,
    help="Report format.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the report to FILE.")
def verify_cmd(
    deployment: Path,
    from_host: str | None,
    flows: tuple[str, ...],
    timeout: float,
    concurrency: int,
    second_look: bool,
    no_identify: bool,
    radius_secret_file: Path | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Probe every planned flow that starts on this machine; exit 1 if any fails.

    Outcomes: open, refused, filtered, rejected, no-route, local-error; UDP: open, closed,
    open|filtered; dns-error where a host's dns_name does not resolve, or resolves to an
    address the deployment does not declare (never probed). Names are resolved first, 32 at
    once, each within --timeout (at least 2 s). Only addresses the plan holds are probed.
    """
    import asyncio

    from portplan.load.deployment import load_deployment
    from portplan.plan import build_plan
    from portplan.probe.verify import local_addresses, plan_checks, run_checks, source_hosts
    from portplan.render.verify import verify_json, verify_junit, verify_table

    bundle = load_deployment(deployment)
    plan = build_plan(bundle)
    local = local_addresses()
    if from_host is not None:
        _require_host(from_host, plan.hosts, deployment)
        sources: tuple[str, ...] = (from_host,)
    else:
        sources = source_hosts(plan, local)
        if not sources:
            raise _UsageError(
                "none of this machine's addresses belongs to a host of the "
                "deployment; give --from HOST"
            )
    checks, skipped = plan_checks(plan, sources, flows=flows, local=local)
    if not checks and not skipped:
        raise _UsageError(f"no planned flow starts on {', '.join(sources)}")
    secrets = {}
    radius = _read_secret(radius_secret_file, "PORTPLAN_RADIUS_SECRET")
    if radius:
        secrets["radius"] = radius
    progress = None
    if sys.stderr.isatty() and fmt == "table" and output is None:
        from rich.progress import Progress

        bar = Progress(transient=True)
        task = bar.add_task("probing", total=len(checks))
        bar.start()
        progress = lambda _result: bar.advance(task)  # noqa: E731
    try:
        asyncio.run(
            run_checks(
                checks,
                timeout=timeout,
                concurrency=concurrency,
                second_look=second_look,
                secrets=secrets,
                identify_services=not no_identify,
                progress=progress,
            )
        )
    finally:
        if progress is not None:
            bar.stop()
    if fmt == "json":
        text = verify_json(checks, skipped)
    elif fmt == "junit":
        text = verify_junit(checks, skipped)
    else:
        text = verify_table(checks, skipped, width=_width())
    _write(output, text.encode(), [deployment])
    if not all(check.passed for check in checks):
        raise click.exceptions.Exit(1)


@cli.command("listen")
@click.argument("deployment", type=click.Path(path_type=Path))
@click.option("--host", required=True, metavar="HOST", help="The host this command runs on.")
@click.option(
    "--duration",
    type=click.FloatRange(1, 86400),
    default=600,
    show_default=True,
    help="Seconds to listen; Ctrl-C stops earlier.",
)
def listen_cmd(deployment: Path, host: str, duration: float) -> None:
    """Open temporary listeners on every port HOST must accept (TCP greet, UDP echo).

    Proves the network path before the product is installed: `portplan verify` from the
    sources recognises them. Ports already in use are reported and left alone.
    """
    import asyncio
    import signal

    from portplan.load.deployment import load_deployment
    from portplan.plan import build_plan
    from portplan.probe.listen import Binding, listen_plan, serve
    from portplan.probe.verify import own_addresses

    plan = build_plan(load_deployment(deployment))
    _require_host(host, plan.hosts, deployment)
    mine = own_addresses(plan, host)
    if not mine:
        raise _UsageError(f"this machine has none of {host}'s addresses; run listen on {host}")
    bindings = listen_plan(plan, host, mine).bindings
    if not bindings:
        raise _UsageError(f"the plan has no flow into {host}")

    def ready(opened: list[Binding], failed: list[tuple[Binding, str]]) -> None:
        # said once every socket is bound, so whoever waits for it can start probing
        for binding, reason in failed:
            click.echo(
                f"portplan: not listening on {binding.protocol.value}/{binding.port} of "
                f"{binding.address} ({', '.join(binding.flows)}): {reason}",
                err=True,
            )
        click.echo(
            f"portplan: listening on {len(opened)} port(s) of {host} for "
            f"{duration:g} s (Ctrl-C stops)",
            err=True,
        )

    async def run() -> tuple[list[Binding], list[tuple[Binding, str]]]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await serve(bindings, duration, stop, ready)

    opened, failed = asyncio.run(run())
    click.echo(f"portplan: stopped; {len(opened)} listened, {len(failed)} could not", err=True)


def _write_files(output: Path | None, files: dict[str, str], inputs: Sequence[Path]) -> None:
    """One file to FILE or stdout; several into the directory ``output``."""
    if len(files) == 1 and (output is None or not output.is_dir()):
        (text,) = files.values()
        _write(output, text.encode(), inputs)
        return
    if output is None:
        raise _UsageError(
            f"{len(files)} files to write ({', '.join(sorted(files)[:4])}...): give -o DIR"
        )
    output.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        _write(output / name, text.encode(), inputs)
    click.echo(f"portplan: wrote {len(files)} files to {output}", err=True)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the ``portplan`` console script."""
    # A short-lived batch run whose large data (plans of 100,000s of rows) holds no reference
    # cycles: the cyclic collector would only rescan it again and again.
    gc.disable()
    cli.main(args=list(argv) if argv is not None else None, prog_name="portplan")
    raise SystemExit(0)  # pragma: no cover - click exits itself

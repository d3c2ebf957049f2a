"""The ``portplan`` command line: the only code that prints, colours or exits.

One module per command (or group of close commands) under this package, imported only when
its command runs; ``portplan --help`` lists them from :data:`COMMANDS` without importing any,
so it starts fast.  Errors become exit statuses here and nowhere else (:mod:`._exit`).
"""

from __future__ import annotations

import gc
import os
import signal
import sys
from collections.abc import Sequence
from importlib import import_module
from typing import Any, NoReturn

import click

from portplan._text import escaped
from portplan._version import __version__
from portplan.cli._exit import (
    EXIT_CODES_HELP,
    ExitCode,
    Terminated,
    exit_code_for,
    raise_terminated,
)
from portplan.cli._options import DEBUG, common_options

__all__ = ["COMMANDS", "cli", "main"]

#: every command in workflow order: name → (module:attribute, the one-line help ``portplan
#: --help`` shows; a test checks it equals the command's own)
COMMANDS: dict[str, tuple[str, str]] = {
    "catalog": ("portplan.cli.catalog:catalog_cmd", "List the products bundled with portplan."),
    "show": (
        "portplan.cli.catalog:show_cmd",
        "Render PRODUCT (a catalog id or a product file) in its vendor document's own shape.",
    ),
    "import": (
        "portplan.cli.import_:import_cmd",
        "Read a vendor port table from FILE into a draft product YAML; exit 1 if cells are unread.",
    ),
    "validate": (
        "portplan.cli.validate:validate_cmd",
        "Check product and deployment FILES; report every problem with file:line:column.",
    ),
    "matrix": (
        "portplan.cli.matrix:matrix_cmd",
        "Expand DEPLOYMENT into its concrete flow matrix: who must reach whom, on what.",
    ),
    "targets": (
        "portplan.cli.rules:targets_cmd",
        "List the firewall targets and what each can express.",
    ),
    "rules": (
        "portplan.cli.rules:rules_cmd",
        "Generate firewall rules for DEPLOYMENT: exactly the planned flows, nothing broader.",
    ),
    "inventory": (
        "portplan.cli.inventory:inventory_cmd",
        "Write an Ansible inventory of DEPLOYMENT's machines, grouped by role, zone and platform.",
    ),
    "apply": (
        "portplan.cli.apply:apply_cmd",
        "Apply this host's ruleset: check it, apply it, roll back unless confirmed in time.",
    ),
    "listen": (
        "portplan.cli.listen:listen_cmd",
        "Open temporary listeners on every port this host must accept (TCP greet, UDP reply).",
    ),
    "verify": (
        "portplan.cli.verify:verify_cmd",
        "Probe every planned flow that starts on this machine; exit 1 if any fails.",
    ),
    "audit": (
        "portplan.cli.audit:audit_cmd",
        "Audit HOST against the plan: its firewall and its sockets; exit 1 on any finding.",
    ),
    "diff": (
        "portplan.cli.diff:diff_cmd",
        "Compare two plans: what to open, what to close; exit 1 when they differ.",
    ),
    "diagram": (
        "portplan.cli.diagram:diagram_cmd",
        "Draw DEPLOYMENT or PRODUCT: one edge per pair, with its ports, conditional flows dashed.",
    ),
    "report": (
        "portplan.cli.publish:report_cmd",
        "Write DEPLOYMENT as one self-contained HTML page: summary, diagram, tables, overlays.",
    ),
    "schema": (
        "portplan.cli.schema:schema_cmd",
        "Print the JSON Schema of an input file or of a JSON output.",
    ),
}


def _handled() -> tuple[type[BaseException], ...]:
    """The errors a command ends with as a message and an exit status, not a traceback.

    Imported when one is raised (an ``except`` clause is evaluated only then): ``--help`` does
    not pay the 3 ms of the error classes' dataclasses."""
    from portplan._errors import PortplanError  # noqa: PLC0415 - see above

    return (PortplanError, OSError, KeyboardInterrupt, Terminated)


def _help_width(max_width: int | None) -> int:
    """The width of help text as click computes it (the terminal's columns less 2, at most
    ``max_width`` less 2, at least 50), read without importing :mod:`shutil` and the
    compression modules it imports (3 ms of a 50 ms ``--help``).

    Like :func:`shutil.get_terminal_size`: ``COLUMNS`` first, then standard output's terminal,
    else 80 columns.  Click's test runner forces a width of its own; that still wins.
    """
    from click import formatting  # noqa: PLC0415 - click's own module, already imported

    if formatting.FORCED_WIDTH is not None:
        return formatting.FORCED_WIDTH
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    if columns <= 0:
        columns = 80
    return max(min(columns, max_width or 80) - 2, 50)


class _Context(click.Context):
    """Click's context, but its help formatter finds the terminal's width cheaply."""

    def make_formatter(self) -> click.HelpFormatter:
        return self.formatter_class(
            width=self.terminal_width or _help_width(self.max_content_width),
            max_width=self.max_content_width,
        )


class _Group(click.Group):
    """Commands imported on first use, listed in workflow order; errors become exits here."""

    context_class = _Context

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        module, _, attribute = where[0].partition(":")
        command = getattr(import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{where[0]} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # from the table: listing the commands must not import them (start-up time)
        with formatter.section("Commands"):
            formatter.write_dl(
                [(name, help_text) for name, (_where, help_text) in COMMANDS.items()]
            )

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # the reader went away (`portplan matrix ... | head`): nothing left to say to it
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(ExitCode.RUNTIME)
        except _handled() as exc:
            if ctx.meta.get(DEBUG):
                import traceback  # noqa: PLC0415 - only for --debug

                click.echo(traceback.format_exc(), err=True, nl=False)
            _print_error(exc)
            ctx.exit(exit_code_for(exc))

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Click's main, with click's own usage errors reported like every other error."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as exc:
            hint = ""
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                hint = f" (see '{exc.ctx.command_path} --help')"
            # one paragraph: click lists a missing argument's choices one a line
            message = " ".join(exc.format_message().split()).rstrip(".")
            click.echo(f"portplan: error: {escaped(message)}{hint}", err=True)
            code = ExitCode.USAGE if isinstance(exc, click.UsageError) else exc.exit_code
        except click.Abort:  # Ctrl-C while click itself was reading (a prompt, the arguments)
            click.echo("portplan: interrupted", err=True)
            code = ExitCode.INTERRUPTED
        sys.exit(code if isinstance(code, int) else ExitCode.OK)


def _say(text: str) -> None:
    """A line of an error on standard error: a name's control characters escaped (an escape
    sequence in a file name colours, moves or clears nothing), line breaks kept."""
    click.echo(escaped(text, newlines=True), err=True)


def _print_error(exc: BaseException) -> None:
    """One paragraph per error on standard error; the diagnostics of bad files one a line."""
    from portplan._errors import InputError, LockoutError, PortplanError  # noqa: PLC0415

    if isinstance(exc, KeyboardInterrupt):
        _say("portplan: interrupted")
        return
    if isinstance(exc, Terminated):
        _say(f"portplan: ended by {signal.Signals(exc.signum).name}")
        return
    if isinstance(exc, InputError) and exc.diagnostics:
        for diagnostic in exc.diagnostics:
            _say(
                f"{diagnostic.location()}: error: {diagnostic.message}"
                + (f" ({diagnostic.hint})" if diagnostic.hint else "")
            )
        count = len(exc.diagnostics)
        _say(
            f"portplan: {count} problem{'s' if count != 1 else ''} found; nothing was "
            "written (run with --debug for a traceback)"
        )
    elif isinstance(exc, LockoutError):
        for reason in exc.reasons:
            _say(f"portplan: refused: {reason}")
        _say(
            "portplan: error: nothing was changed"
            + (" (--force applies without declared management access)" if exc.forcible else "")
        )
    elif isinstance(exc, OSError) and not isinstance(exc, PortplanError):
        where = f" ({escaped(str(exc.filename))})" if exc.filename else ""
        _say(f"portplan: error: {exc.strerror or exc}{where}")
    else:
        _say(f"portplan: error: {exc}")


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "PORTPLAN"},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(__version__, "--version", prog_name="portplan")
@common_options
def cli() -> None:
    """Turn vendor communication-ports documents into ports-as-code.

    Model a product once (see `portplan catalog`), bind it to a deployment, and derive the
    concrete flow matrix: who must reach whom, on what. Every option can also be set through
    an environment variable PORTPLAN_<COMMAND>_<OPTION> (each command's --help names them).
    """


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the ``portplan`` console script."""
    # A short-lived batch run whose large data (plans of 100,000s of rows) holds no reference
    # cycles: the cyclic collector would only rescan it again and again.
    gc.disable()
    # a signal that ends the process ends it as an exception, so every cleanup runs
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, raise_terminated)
    cli.main(args=list(argv) if argv is not None else None, prog_name="portplan")
    raise SystemExit(ExitCode.OK)  # pragma: no cover - cli.main exits itself

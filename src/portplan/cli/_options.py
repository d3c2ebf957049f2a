"""The vocabulary of the command line: options that mean the same thing in every command.

* ``--on HOST``: the deployment host *this machine is*, for commands that act here
  (``apply``, ``listen``, ``verify``);
* ``--host HOST`` (repeatable): the deployment hosts a command's *output is for* (``rules``);
* ``--namespace NAME``: as kubectl's, the namespace of the NetworkPolicies that name none
  (``audit --ruleset``, ``matrix --against``);
* ``--format FORMAT`` and ``-o/--output PATH`` (``-`` is standard output);
* ``--timeout SECONDS``: how long one network exchange waits (``verify``); other waits have
  names of their own (``--confirm-timeout``, ``--duration``);
* ``--debug``, ``-v/--verbose``, ``-q/--quiet``: accepted before or after the command name.

Every option can also be set by an environment variable, ``PORTPLAN_<COMMAND>_<OPTION>``
(``PORTPLAN_VERIFY_TIMEOUT=2``); ``--help`` names each.  This module imports only click, so
``portplan --help`` stays fast.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

import click

__all__ = [
    "DEBUG",
    "InputPath",
    "Seconds",
    "common_options",
    "default_action_option",
    "format_option",
    "hosts_option",
    "namespace_option",
    "on_option",
    "option",
    "output_option",
    "renamed_option",
]

F = TypeVar("F", bound=Callable[..., Any])

#: the key under which ``--debug`` is kept in the root context's ``meta``
DEBUG = "portplan.debug"


class Seconds(click.FloatRange):
    """A number of seconds within a range; not a number (``nan``) is refused, which
    :class:`click.FloatRange` lets through (every comparison with it is false)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return number


class Option(click.Option):
    """A click option settable by ``PORTPLAN_<COMMAND>_<OPTION>``, named after the option as
    the user writes it (``--format`` is ``_FORMAT``, whatever the Python parameter is called),
    and named in its ``--help`` line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("show_envvar", True)
        super().__init__(*args, **kwargs)
        longest = max(self.opts, key=len)
        self.env_suffix = longest.lstrip("-").replace("-", "_").upper()

    def auto_envvar(self, ctx: click.Context) -> str | None:
        """The environment variable of this option in ``ctx``, if it has one."""
        if self.envvar is not None or not self.allow_from_autoenv:
            return None
        prefix = ctx.auto_envvar_prefix
        return None if prefix is None else f"{prefix}_{self.env_suffix}"

    def resolve_envvar_value(self, ctx: click.Context) -> str | None:
        value = click.Parameter.resolve_envvar_value(self, ctx)  # an explicit ``envvar=``
        if value is not None:
            return value
        name = self.auto_envvar(ctx)
        return (os.environ.get(name) or None) if name else None

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        name = self.auto_envvar(ctx)
        if name is not None and self.show_envvar:
            extra["envvars"] = (name,)
        return extra


def option(*declarations: str, **kwargs: Any) -> Callable[[F], F]:
    """``click.option`` with :class:`Option`: the environment variable shown in ``--help``."""
    return click.option(*declarations, cls=Option, **kwargs)


def _debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_root().meta[DEBUG] = True


def _verbose(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    from portplan.cli._log import set_verbosity  # noqa: PLC0415 - not for --help

    set_verbosity(ctx, value)


def _quiet(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    from portplan.cli._log import set_verbosity  # noqa: PLC0415 - not for --help

    set_verbosity(ctx, -value)


def common_options(function: F) -> F:
    """``--debug``, ``-v`` and ``-q``: on the group and on every command, so they may stand
    before or after the command name."""
    for decorate in reversed(
        (
            option(
                "--debug",
                is_flag=True,
                expose_value=False,
                callback=_debug,
                help="Show a traceback on errors.",
            ),
            option(
                "-v",
                "--verbose",
                count=True,
                expose_value=False,
                callback=_verbose,
                help="Say more: the details, such as the commands apply runs.",
            ),
            option(
                "-q",
                "--quiet",
                count=True,
                expose_value=False,
                callback=_quiet,
                help="Say less: -q warnings and errors only (no progress), -qq errors only.",
            ),
        )
    ):
        function = decorate(function)
    return function


def format_option(
    *choices: str, default: str = "table", help: str = "Output format."
) -> Callable[[F], F]:
    """``--format``: one of ``choices``."""
    return option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help=help,
    )


def _named_files(params: list[click.Parameter], values: dict[str, Any]) -> list[str]:
    """The files named on the command line: the arguments and the values of options of a
    path (each of a repeatable one), not the text of other options (a format, a target, a
    host), which may be spelt as the output is without being read."""
    named: list[str] = []
    for param in params:
        if param.name not in values or param.name == "output":
            continue
        if not isinstance(param, click.Argument) and not isinstance(param.type, click.Path):
            continue
        value = values[param.name]
        for each in value if isinstance(value, tuple | list) else (value,):
            if isinstance(each, os.PathLike | str):
                named.append(os.fspath(each))
    return named


def output_option(
    help: str = "Write to PATH instead of standard output ('-').",
) -> Callable[[F], F]:
    """``-o/--output PATH`` (``-`` or no option: standard output) and ``--overwrite``."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def checked(*args: Any, output: str | None, overwrite: bool, **kwargs: Any) -> Any:
            from portplan.cli._writable import check_output  # noqa: PLC0415 - not for --help

            # at once, not after minutes of work; the files named on the command line are
            # inputs (those they name, products say, are known only once read)
            named = _named_files(click.get_current_context().command.params, kwargs)
            check_output(output, overwrite=overwrite, inputs=named)
            return function(*args, output=output, overwrite=overwrite, **kwargs)

        decorated = option(
            "--overwrite",
            is_flag=True,
            help="Replace output files that exist (never a file read as input).",
        )(checked)
        # text, not a Path: a trailing '/' (a folder is meant) must survive
        return cast(
            F, option("-o", "--output", type=click.Path(), metavar="PATH", help=help)(decorated)
        )

    return decorate


def on_option(help: str, *, required: bool = False, renamed: str | None = None) -> Callable[[F], F]:
    """``--on HOST``: the deployment host this machine is; ``renamed``: its old spelling in
    this command, still accepted (with a warning).  The command receives one ``on``."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def merged(*args: Any, on: str | None, on_renamed: str | None = None, **kwargs: Any) -> Any:
            value = on if on is not None else on_renamed
            if required and value is None:
                raise click.UsageError("Missing option '--on'.")
            return function(*args, on=value, **kwargs)

        decorated = option("--on", "on", metavar="HOST", help=help)(merged)
        if renamed is not None:
            decorated = renamed_option(renamed, "--on", dest="on_renamed", metavar="HOST")(
                decorated
            )
        return cast(F, decorated)

    return decorate


class InputPath(click.Path):
    """A file to read (``-``: standard input), as click's ``Path`` gives it, but never empty:
    an empty argument (a shell variable that is unset, ``"$DEPLOYMENT"``) is refused, where
    pathlib would read it as ``.``, the current folder.  ``path_type=str`` for an argument
    that may also be something else (a catalog id, a ``git:`` reference)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value == "":
            self.fail("is empty; give a file (an unset shell variable?)", param, ctx)
        return super().convert(value, param, ctx)


def hosts_option(help: str) -> Callable[[F], F]:
    """``--host HOST`` (repeatable): the deployment hosts the output is for."""
    return option("--host", "hosts", multiple=True, metavar="HOST", help=help)


def _namespace(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from portplan.model.kubernetes import NAMESPACE_PATTERN  # noqa: PLC0415 (--help stays fast)

    if not re.fullmatch(NAMESPACE_PATTERN, value):
        raise click.BadParameter(
            f"{value!r} is not a Kubernetes namespace name (lower-case letters, digits and '-', "
            "63 at most, a letter or digit at each end)"
        )
    return value


def namespace_option(flag: str) -> Callable[[F], F]:
    """``--namespace NAME``: as kubectl's, the namespace of the NetworkPolicies that name
    none (those given with ``flag``)."""
    return option(
        "--namespace",
        metavar="NAME",
        callback=_namespace,
        help=f"The namespace the NetworkPolicies of {flag} kubernetes:FILE that name none were "
        "applied to (kubectl's --namespace, or its context's); without it such a policy is "
        "refused, not taken as 'default'.",
    )


def default_action_option() -> Callable[[F], F]:
    """``--default drop|reject``: what happens to traffic the plan does not name."""
    return option(
        "--default",
        "default_action",
        type=click.Choice(["drop", "reject"]),
        default="drop",
        show_default=True,
        help="What happens to traffic not in the plan.",
    )


def renamed_option(old: str, new: str, *, dest: str, **kwargs: Any) -> Callable[[F], F]:
    """A hidden option under an old name: accepted, with a warning naming the new one."""

    def warn(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is not None:
            from portplan.cli._log import log  # noqa: PLC0415 - not for --help

            log.warning("%s is deprecated; use %s (see CHANGELOG.md)", old, new)
        return value

    return click.option(old, dest, hidden=True, callback=warn, **kwargs)

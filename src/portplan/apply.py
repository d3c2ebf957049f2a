"""Safe application of a host ruleset on Linux: check, keep the old one, apply, roll back.

The sequence ``portplan apply`` follows, as ``iptables-apply`` does:

1. render the host's ruleset and check it with the platform's own checker (``nft -c``,
   ``iptables-restore --test``); a ruleset that fails is refused and nothing changes;
2. refuse a ruleset that would cut the operator's own SSH session (``SSH_CONNECTION``) or a
   management access the deployment declares;
3. save the running ruleset, apply the new one atomically;
4. keep it only if the operator confirms within the timeout; otherwise restore the saved one.

This module runs the commands; the CLI talks to the operator.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from portplan.errors import ApplyError
from portplan.model._types import Protocol
from portplan.plan import MANAGEMENT, Plan
from portplan.targets import RuleOptions, get_target

__all__ = [
    "Backend",
    "IptablesBackend",
    "Lockout",
    "NftablesBackend",
    "backend_for",
    "lockout_problems",
]

_TIMEOUT = 60  # seconds any one command may take


def _run(argv: Sequence[str], data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    if shutil.which(argv[0]) is None:
        raise ApplyError(
            f"{argv[0]} is not installed; install it (Debian package "
            f"{'nftables' if argv[0] == 'nft' else 'iptables'}) and run again"
        )
    try:
        return subprocess.run(
            list(argv), input=data, capture_output=True, timeout=_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ApplyError(f"{' '.join(argv)} did not finish within {_TIMEOUT} s") from exc


def _checked(argv: Sequence[str], data: bytes | None, what: str) -> bytes:
    result = _run(argv, data)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).decode(errors="replace").strip()
        raise ApplyError(f"{what} failed ({' '.join(argv)} exited {result.returncode}): {detail}")
    return result.stdout


@dataclass(slots=True)
class Backend:
    """One platform's checker, saver and loader."""

    name: str
    files: dict[str, str]

    def check(self) -> None:
        """Raise :class:`ApplyError` if the platform's checker refuses the ruleset."""
        raise NotImplementedError

    def snapshot(self) -> dict[str, bytes]:
        """The running ruleset, to restore it later."""
        raise NotImplementedError

    def load(self) -> None:
        raise NotImplementedError

    def restore(self, saved: dict[str, bytes]) -> None:
        raise NotImplementedError


class NftablesBackend(Backend):
    """``nft``: check with ``-c``, save with ``list ruleset``, load atomically with ``-f``."""

    def _text(self) -> bytes:
        (text,) = self.files.values()
        return text.encode()

    def check(self) -> None:
        _checked(["nft", "-c", "-f", "-"], self._text(), "nft check")

    def snapshot(self) -> dict[str, bytes]:
        return {"ruleset": _checked(["nft", "list", "ruleset"], None, "saving the ruleset")}

    def load(self) -> None:
        _checked(["nft", "-f", "-"], self._text(), "applying the ruleset")

    def restore(self, saved: dict[str, bytes]) -> None:
        # one transaction: flush and reload the saved ruleset together
        _checked(["nft", "-f", "-"], b"flush ruleset\n" + saved["ruleset"], "restoring")


#: file suffix → (restore command, save command)
_IPTABLES_TOOLS = {
    ".v4": ("iptables-restore", "iptables-save"),
    ".v6": ("ip6tables-restore", "ip6tables-save"),
}


class IptablesBackend(Backend):
    """``iptables-restore``/``ip6tables-restore`` (and ``ipset``) per family."""

    def _family_files(self) -> list[tuple[str, str, str]]:
        found = []
        for name, text in self.files.items():
            for suffix, (restore, save) in _IPTABLES_TOOLS.items():
                if name.endswith(suffix):
                    found.append((text, restore, save))
        return found

    def _ipsets(self) -> list[str]:
        return [text for name, text in self.files.items() if name.endswith(".ipset")]

    def _restore_ipsets(self) -> None:
        for text in self._ipsets():
            _checked(["ipset", "restore", "-exist"], text.encode(), "creating address sets")

    def check(self) -> None:
        if not self._ipsets():
            for text, restore, _save in self._family_files():
                _checked([restore, "--test"], text.encode(), f"{restore} --test")
            return
        # `--test` needs the sets the rules name, and loading them here would swap the members
        # of the live sets: check in a network namespace of its own, gone when the check ends
        with tempfile.TemporaryDirectory(prefix="portplan-check-") as scratch:
            steps = []
            for index, text in enumerate(self._ipsets()):
                path = Path(scratch, f"{index}.ipset")
                path.write_text(text)
                steps.append(f"ipset restore -exist < {shlex.quote(str(path))}")
            for index, (text, restore, _save) in enumerate(self._family_files()):
                path = Path(scratch, f"{index}.rules")
                path.write_text(text)
                steps.append(f"{restore} --test < {shlex.quote(str(path))}")
            script = "\n".join(steps).encode()
            _checked(["unshare", "--net", "sh", "-e", "-s"], script, "iptables-restore --test")

    def snapshot(self) -> dict[str, bytes]:
        return {
            save: _checked([save], None, "saving the ruleset")
            for _text, _restore, save in self._family_files()
        }

    def load(self) -> None:
        self._restore_ipsets()
        for text, restore, _save in self._family_files():
            _checked([restore], text.encode(), f"applying with {restore}")

    def restore(self, saved: dict[str, bytes]) -> None:
        for _text, restore, save in self._family_files():
            _checked([restore], saved[save], f"restoring with {restore}")


_BACKENDS: dict[str, type[Backend]] = {"nftables": NftablesBackend, "iptables": IptablesBackend}


def backend_for(plan: Plan, host: str, target: str, options: RuleOptions) -> Backend:
    """Render ``host``'s ruleset for ``target`` and wrap it in the backend that applies it."""
    cls = _BACKENDS.get(target)
    if cls is None:
        raise ApplyError(
            f"apply supports {', '.join(sorted(_BACKENDS))}, not {target!r}; "
            "use `portplan rules` to generate the other targets' files"
        )
    files = get_target(target).render(plan, replace(options, hosts=(host,)))
    return cls(name=target, files=files)


class Lockout(NamedTuple):
    """A reason the new ruleset could lock the operator out."""

    text: str
    forcible: bool  #: --force may apply anyway (never when it cuts the session in use)


def lockout_problems(plan: Plan, host: str, ssh_connection: str | None = None) -> list[Lockout]:
    """Reasons the new ruleset would lock the operator out of ``host`` (empty: none).

    ``ssh_connection`` is the value of ``SSH_CONNECTION`` ("client port server port"); the
    session it describes must be a planned flow into this host.
    """
    problems: list[Lockout] = []
    into_host = [r for r in plan.rows_of(host) if r.destination == host]
    if ssh_connection is None:
        ssh_connection = os.environ.get("SSH_CONNECTION")
    if ssh_connection:
        parts = ssh_connection.split()
        try:
            client = ipaddress.ip_address(parts[0])
            port = int(parts[3])
        except (IndexError, ValueError):
            return [
                Lockout(
                    f"SSH_CONNECTION={ssh_connection!r} is not 'client port server port'",
                    forcible=True,
                )
            ]
        allowed = any(
            row.protocol is Protocol.TCP
            and port in row.ports
            and any(client in net for net in row.source_addresses)
            for row in into_host
        )
        if not allowed:
            problems.append(
                Lockout(
                    f"this SSH session from {client} to port {port} is not in the plan for "
                    f"{host}: the new ruleset would cut it; declare it under 'management:' in "
                    "the deployment",
                    forcible=False,
                )
            )
    if not any(r.product == MANAGEMENT for r in into_host) and not plan.hosts[host].is_group:
        problems.append(
            Lockout(
                f"the deployment declares no management access to {host}; declare one under "
                "'management:' (e.g. SSH from the admin network) so operators keep a way in",
                forcible=True,
            )
        )
    return problems

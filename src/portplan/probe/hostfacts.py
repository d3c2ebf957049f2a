"""What a host listens on and the firewall ruleset it runs: the facts ``audit`` reads.

The Ansible collection's ``facts`` module gathers these on every managed host (it ships this
module, bundled by ``scripts/build-collection.py``), so it reads the kernel's own tables rather
than needing psutil: listening sockets from ``/proc/net/{tcp,tcp6,udp,udp6}`` (the owning
process where ``/proc/PID/fd`` may be read), and the ruleset as ``portplan audit --live``
reads it (:func:`ruleset`).  Linux only; standard library only.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from portplan._tools import (
    iptables_holds_tables,
    nft_flags_from_text,
    nft_flags_garbled,
    nft_needs_iptables,
    nft_shows_no_table,
)

__all__ = ["Listener", "host_facts", "listeners", "ruleset"]

#: the socket state of a listening TCP socket, and of a bound UDP one (include/net/tcp_states.h)
_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"
#: seconds a ruleset tool may take
TOOL_TIMEOUT = 20.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Listener:
    """A socket accepting connections (TCP) or datagrams (UDP) on an address and port."""

    protocol: str  #: ``tcp`` or ``udp``
    address: str  #: ``0.0.0.0`` or ``::`` for every address
    port: int
    process: str | None  #: the owning process's name, when it can be read
    pid: int | None


def _address(hexed: str) -> str:
    """An address of ``/proc/net/tcp``: IPv4 as one little-endian word, IPv6 as four."""
    raw = bytes.fromhex(hexed)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return str(ipaddress.IPv6Address(words))


def _owners(proc: Path) -> dict[int, tuple[int, str]]:
    """socket inode → (pid, process name), for the processes whose descriptors may be read."""
    owners: dict[int, tuple[int, str]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    owners.setdefault(int(target[8:-1]), (int(entry.name), name))
        except OSError:
            continue  # gone, or not ours to read
    return owners


def listeners(proc: Path = Path("/proc")) -> list[Listener]:
    """Every listening TCP socket and bound UDP socket, sorted by protocol, port, address."""
    owners = _owners(proc)
    found: set[Listener] = set()
    for protocol, table, state in (
        ("tcp", "tcp", _TCP_LISTEN),
        ("tcp", "tcp6", _TCP_LISTEN),
        ("udp", "udp", _UDP_UNCONNECTED),
        ("udp", "udp6", _UDP_UNCONNECTED),
    ):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue  # that family is off
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != state:
                continue
            address, port = fields[1].split(":")
            owner = owners.get(int(fields[9]))
            found.add(
                Listener(
                    protocol=protocol,
                    address=_address(address),
                    port=int(port, 16),
                    process=owner[1] if owner else None,
                    pid=owner[0] if owner else None,
                )
            )
    order = {socket.AF_INET: 0, socket.AF_INET6: 1}
    return sorted(
        found,
        key=lambda s: (
            s.protocol,
            s.port,
            order[socket.AF_INET6 if ":" in s.address else socket.AF_INET],
            s.address,
        ),
    )


def _run(argv: list[str]) -> tuple[str | None, str | None]:
    """(standard output, None) of a command, or (None, why it failed)."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{argv[0]}: {exc}"
    if done.returncode != 0:
        return None, f"{' '.join(argv)} exited with {done.returncode}: {done.stderr.strip()}"
    return done.stdout, None


#: the files of an iptables ruleset, each of the kind ``portplan audit --ruleset KIND:FILE``
#: reads; a missing or failing ``ipset`` leaves its file out (rules that use sets then say
#: which set is missing), as ``audit --live`` does
_IPTABLES_FILES = (
    ("iptables", ("iptables-save",)),
    ("ip6tables", ("ip6tables-save",)),
    ("ipset", ("ipset", "save")),
)


def _iptables() -> dict[str, Any] | None:
    """The ruleset as the iptables tools print it, ``None`` without ``iptables-save``."""
    if shutil.which("iptables-save") is None:
        return None
    files, errors = [], []
    for kind, argv in _IPTABLES_FILES:
        if shutil.which(argv[0]) is None:
            if kind != "ipset":
                errors.append(f"{argv[0]} is not installed")
            continue
        text, error = _run(list(argv))
        if text is not None:
            files.append({"kind": kind, "text": text})
        elif kind != "ipset":
            errors.append(str(error))
    return {
        "tool": "iptables",
        "format": "iptables-save",
        "text": next((f["text"] for f in files if f["kind"] == "iptables"), None),
        "files": files,
        "error": "; ".join(errors) or None,
    }


def ruleset() -> dict[str, Any]:
    """The running firewall ruleset, read as ``portplan audit --live`` reads it:
    ``nft -j list ruleset``; ``iptables-save``, ``ip6tables-save`` and ``ipset save`` where
    nft is missing or fails, where its ruleset holds rules only iptables-nft can print
    (``xt`` matches), or where it holds no table and the iptables tools print some
    (iptables-legacy, whose tables nft does not see).

    ``tool`` (``nftables``, ``iptables`` or ``None``), ``format`` (``json``,
    ``iptables-save``), ``files`` (each ``{"kind", "text"}``, a file ``portplan audit
    --ruleset KIND:FILE`` reads: the families apart, never one text), ``text`` (the nft JSON,
    or the IPv4 ``iptables-save`` output), and ``error`` when it could not be read.
    """
    text: str | None = None
    error: str | None = "nft is not installed"
    if shutil.which("nft") is not None:
        text, error = _run(["nft", "-j", "list", "ruleset"])
        if text is not None and nft_flags_garbled(text):
            # nft 1.0.6 garbles a table's flags in its JSON; its text says them right
            listing, _ = _run(["nft", "list", "ruleset"])
            text = nft_flags_from_text(text, listing) if listing is not None else text
    if text is None:
        return _iptables() or {
            "tool": None,
            "format": None,
            "text": None,
            "files": [],
            "error": f"{error}, and iptables-save is not installed",
        }
    found: dict[str, Any] = {
        "tool": "nftables",
        "format": "json",
        "text": text,
        "files": [{"kind": "nftables", "text": text}],
        "error": None,
    }
    if nft_needs_iptables(text):
        iptables = _iptables()
        if iptables is not None:
            return iptables
        found["error"] = (
            "its rules use matches only iptables-nft can print (xt), and iptables-save is "
            "not installed"
        )
    elif nft_shows_no_table(text):
        iptables = _iptables()
        saved = (f["text"] for f in iptables["files"] if f["kind"] != "ipset") if iptables else ()
        if iptables is not None and iptables_holds_tables(saved):
            return iptables
    return found


def host_facts(*, with_ruleset: bool = True) -> dict[str, Any]:
    """``listening`` sockets and the ``ruleset`` (``None`` unless ``with_ruleset``)."""
    return {
        "listening": [asdict(s) for s in listeners()],
        "ruleset": ruleset() if with_ruleset else None,
    }

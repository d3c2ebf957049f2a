"""What a host listens on and the firewall ruleset it runs: the facts ``audit`` reads.

The Ansible collection's ``facts`` module gathers these on every managed host (it ships this
module, bundled by ``scripts/build-collection.py``), so it reads the kernel's own tables rather
than needing psutil: listening sockets from ``/proc/net/{tcp,tcp6,udp,udp6}`` (the owning
process where ``/proc/PID/fd`` may be read), and the ruleset as ``nft -j list ruleset`` gives
it, or ``iptables-save`` and ``ip6tables-save`` where nftables is absent.  Linux only;
standard library only.
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


def ruleset() -> dict[str, Any]:
    """The running firewall ruleset: ``tool`` (``nftables``, ``iptables`` or ``None``),
    ``format`` (``json``, ``iptables-save``), ``text``, and ``error`` when it could not be
    read."""
    if shutil.which("nft"):
        text, error = _run(["nft", "-j", "list", "ruleset"])
        return {"tool": "nftables", "format": "json", "text": text, "error": error}
    if shutil.which("iptables-save"):
        parts, errors = [], []
        for tool in ("iptables-save", "ip6tables-save"):
            if shutil.which(tool) is None:
                continue
            text, error = _run([tool])
            parts.append(text or "")
            if error:
                errors.append(error)
        return {
            "tool": "iptables",
            "format": "iptables-save",
            "text": "".join(parts),
            "error": "; ".join(errors) or None,
        }
    return {"tool": None, "format": None, "text": None, "error": "neither nft nor iptables-save"}


def host_facts(*, with_ruleset: bool = True) -> dict[str, Any]:
    """``listening`` sockets and the ``ruleset`` (``None`` unless ``with_ruleset``)."""
    return {
        "listening": [asdict(s) for s in listeners()],
        "ruleset": ruleset() if with_ruleset else None,
    }

"""Listening sockets, collected on a host: ``ss -tulpnH``, ``netstat -ano`` (Windows) or
``netstat -tulpnW`` (Linux), Windows ``Get-NetTCPConnection``/``Get-NetUDPEndpoint`` as JSON,
or read live on this machine (psutil).

A socket bound to the IPv6 wildcard ``::`` takes IPv4 connections too unless it is IPv6-only:
``ss`` tells them apart (``*`` dual-stack, ``[::]`` IPv6-only); for ``netstat``, ss before
iproute2 4.13 (``*`` the IPv4 wildcard, ``:::22`` either IPv6 one) and psutil the system
default is used (``net.ipv6.bindv6only``, 0 on Linux: dual-stack).

The Windows JSON comes from this PowerShell one-liner (docs/audit.md)::

    @{tcp = @(Get-NetTCPConnection -State Listen | Select-Object LocalAddress, LocalPort,
      OwningProcess, @{n='Process'; e={(Get-Process -Id $_.OwningProcess).ProcessName}});
      udp = @(Get-NetUDPEndpoint | Select-Object LocalAddress, LocalPort, OwningProcess,
      @{n='Process'; e={(Get-Process -Id $_.OwningProcess).ProcessName}})} |
      ConvertTo-Json -Depth 3 | Out-File -Encoding utf8 sockets.json
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from portplan._errors import AuditError, ToolError
from portplan._text import shown
from portplan._tools import read_tool
from portplan.audit._input import load_json, port_number, reading

__all__ = ["SOCKET_KINDS", "Socket", "live_sockets", "read_sockets"]

SOCKET_KINDS = ("ss", "netstat", "windows")
#: each kind's format as messages name it, and what to give instead of a file it cannot read
_READING = {
    "ss": ("ss output", "give the output of `ss -tulpnH`"),
    "netstat": ("netstat output", "give the output of `netstat -ano` or `netstat -tulpnW`"),
    "windows": ("Windows sockets JSON", "collect it with the one-liner of docs/audit.md"),
}
#: what to do about a line whose address or port cannot be read
_AS_PRINTED = "give the listing as the tool printed it"
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True, kw_only=True)
class Socket:
    """One listening socket: protocol, local address and port, who holds it."""

    protocol: str  #: ``tcp`` or ``udp``
    address: Address
    port: int
    dual_stack: bool = False  #: an IPv6 wildcard that also takes IPv4
    process: str | None = None
    pid: int | None = None
    where: str = ""  #: ``file:line`` it was read from

    @property
    def loopback(self) -> bool:
        return self.address.is_loopback

    def covers(self, address: Address) -> bool:
        """Whether a connection to ``address`` reaches this socket."""
        if self.address.is_unspecified:
            if self.address.version == address.version:
                return True
            return self.dual_stack and address.version == 4
        return self.address == address

    def reaches(self, network: Network) -> bool:
        """Whether connections to some address of ``network`` reach this socket."""
        if network.num_addresses == 1 or self.address.is_unspecified:
            return self.covers(network.network_address)
        return self.address in network

    def __str__(self) -> str:
        shown = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        text = f"{self.protocol} {shown}:{self.port}"
        if self.dual_stack:
            text += " (dual-stack: also IPv4)"
        if self.process:
            text += f" by {self.process}" + (f" (pid {self.pid})" if self.pid else "")
        elif self.pid:
            text += f" by pid {self.pid}"
        return text


def _address(text: str, where: str = "") -> tuple[Address, bool]:
    """An address as ss/netstat print it, and whether it is ss's dual-stack ``*``; a scope or
    device after it (``fe80::1%5``; ss: ``[fe80::1]%eth0``, ``*%eth0``) is left out."""
    text = text.split("%", 1)[0]
    if text == "*":
        return ipaddress.IPv6Address("::"), True
    bare = text.strip("[]")
    try:
        found = ipaddress.ip_address(bare)
    except ValueError:
        raise AuditError(
            f"{where}: {shown(bare, 50)} is not an IP address; {_AS_PRINTED}"
        ) from None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped, False
    return found, False


def _split(endpoint: str, where: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    if not port.isdigit():
        raise AuditError(f"{where}: no port in {shown(endpoint, 50)}; {_AS_PRINTED}")
    try:
        return host, port_number(port, "local port")
    except AuditError as exc:
        raise AuditError(f"{where}: {exc}; {_AS_PRINTED}") from None


#: the state ss gives a socket that listens (UDP: bound, connected to no peer)
_SS_LISTENING = {"tcp": "LISTEN", "udp": "UNCONN"}
_SS_USERS = re.compile(r'\("([^"]*)",pid=(\d+)')


def _legacy_ss(text: str) -> bool:
    """Whether ``text`` is the output of an ss before iproute2 4.13 (RHEL 7's 4.11): IPv6
    addresses unbracketed (``:::22``, peer ``:::*``), the IPv4 wildcard printed ``*``, and an
    IPv6 wildcard alike whether it is dual-stack or not.  Without an IPv6 socket, it is told by
    an IPv4 socket's peer ``*:*`` (later ss prints ``0.0.0.0:*``); with only wildcards
    (``*:22 *:*``) it cannot be told from later ss output, where ``*`` is a dual-stack
    wildcard."""
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 6 and words[0] in ("tcp", "udp"):
            for column in words[4:6]:
                host = column.rpartition(":")[0].split("%", 1)[0]
                if ":" in host and not host.startswith("["):
                    return True
            if words[5] == "*:*" and _is_ipv4(words[4].rpartition(":")[0].split("%", 1)[0]):
                return True
    return False


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _read_ss(text: str, name: str, dual_default: bool = True) -> list[Socket]:
    """``dual_default``: whether an IPv6 wildcard takes IPv4 too where ss does not say (ss
    before iproute2 4.13)."""
    legacy = _legacy_ss(text)
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0] == "Netid":
            continue
        if words[0] not in ("tcp", "udp") or len(words) < 5:
            raise AuditError(
                f"{name}:{number}: not a line of `ss -tulpnH`: {line[:60]}; {_READING['ss'][1]}"
            )
        if words[1] != _SS_LISTENING[words[0]]:
            continue  # a connection (`ss -tuanpH` lists them too): it listens for nobody
        host, port = _split(words[4], f"{name}:{number}")
        address, dual = _address(host, f"{name}:{number}")
        if legacy and dual:  # `*`: the IPv4 wildcard
            address, dual = ipaddress.IPv4Address("0.0.0.0"), False
        elif legacy and address.version == 6 and address.is_unspecified:
            dual = dual_default
        users = _SS_USERS.search(line)
        found.append(
            Socket(
                protocol=words[0],
                address=address,
                port=port,
                dual_stack=dual,
                process=users.group(1) if users else None,
                pid=int(users.group(2)) if users else None,
                where=f"{name}:{number}",
            )
        )
    return found


#: the first word of a socket line of netstat (Windows: TCP, UDP)
_NETSTAT_PROTOCOLS = ("tcp", "udp", "tcp6", "udp6")
#: the foreign address netstat prints for a listening socket (Windows, then Linux)
_NO_PEER = frozenset({"0.0.0.0:0", "[::]:0", "0.0.0.0:*", ":::*", "*:*"})
#: the English states of sockets that do not listen (Windows, then Linux's own)
_NOT_LISTENING = frozenset(
    {"BOUND", "CLOSED", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2"}
    | {"CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT", "DELETE_TCB", "CLOSE", "SYN_RECV"}
    | {"FIN_WAIT1", "FIN_WAIT2", "UNKNOWN"}
)


#: the width of Linux netstat's address columns: without -W, an address and its port longer
#: than that are cut to it (the address loses its end)
_NETSTAT_COLUMN = 23


def _maybe_cut(local: str) -> bool:
    """Whether Linux netstat may have cut the IPv6 address of ``local`` (``ADDRESS:PORT``)
    short: it fills the column (an IPv4 one never does)."""
    return len(local) == _NETSTAT_COLUMN and local.count(":") > 1


def _read_netstat(text: str, name: str, dual_default: bool) -> list[Socket]:
    found = []
    # netstat's other lines (titles, UNIX sockets, Windows' [process.exe]) are passed over; a
    # file with neither its heading nor one socket is some other file, not a host where
    # nothing listens
    if text.strip() and not any(
        line.split()[:1] and line.split()[0].lower() in ("proto", *_NETSTAT_PROTOCOLS)
        for line in text.splitlines()
    ):
        raise AuditError(
            f"{name}: holds no line of netstat output (no 'Proto' heading, no socket); "
            "give the output of `netstat -ano` or `netstat -tulpnW`"
        )
    # Linux netstat -W prints an address whole, past the column: then none was cut
    wide = any(
        len(words) >= 5 and words[0] in _NETSTAT_PROTOCOLS and len(words[3]) > _NETSTAT_COLUMN
        for words in (line.split() for line in text.splitlines())
    )
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].lower() not in _NETSTAT_PROTOCOLS:
            continue
        protocol = words[0].lower().rstrip("6")
        if words[0] in ("TCP", "UDP"):  # Windows: Proto Local Foreign [State] PID
            local, foreign, pid = words[1], words[2], words[-1]
            state = words[3] if protocol == "tcp" else ""
            process = None
        else:  # Linux: Proto Recv-Q Send-Q Local Foreign [State] PID/Program
            local, foreign = words[3], words[4]
            state = words[5] if protocol == "tcp" else ""
            pid, _, process_name = words[-1].partition("/")
            process = process_name or None
        if ":" not in local or ":" not in foreign:  # (`ss` output, its columns elsewhere)
            raise AuditError(
                f"{name}:{number}: not a line of netstat output (no ADDRESS:PORT where its "
                f"local and foreign addresses are): {line[:60]}; {_READING['netstat'][1]}"
            )
        # the state word may be translated (ABHÖREN, ÉCOUTE...); a listener's foreign address is
        # not, but a socket only bound (BOUND, CLOSE) has the same one
        word = state.upper()
        listening = word in ("LISTEN", "LISTENING") or (
            foreign in _NO_PEER and word not in _NOT_LISTENING
        )
        if protocol == "tcp" and not listening:
            continue
        if protocol == "udp" and foreign not in _NO_PEER:
            continue  # connected to one peer (`netstat -tuanp`): it listens for nobody else
        if words[0] not in ("TCP", "UDP") and not wide and _maybe_cut(local):
            raise AuditError(
                f"{name}:{number}: netstat cuts a long IPv6 address short to fit its column "
                f"without -W ({local} may be another address than the socket's); collect "
                "`netstat -tulpnW`"
            )
        host, port = _split(local, f"{name}:{number}")
        address, _dual = _address(host if host not in ("::", "") else "::", f"{name}:{number}")
        dual = address.version == 6 and address.is_unspecified and dual_default
        found.append(
            Socket(
                protocol=protocol,
                address=address,
                port=port,
                dual_stack=dual and words[0] not in ("TCP", "UDP"),
                process=process,
                pid=int(pid) if pid.isdigit() else None,
                where=f"{name}:{number}",
            )
        )
    return found


def _read_windows(text: str, name: str) -> list[Socket]:
    data: Any = load_json(text)
    groups: list[tuple[str, Any]]
    if isinstance(data, dict) and ("tcp" in data or "udp" in data):
        groups = [("tcp", data.get("tcp") or []), ("udp", data.get("udp") or [])]
    else:
        groups = [("tcp", data)]
    found = []
    for protocol, entries in groups:
        for index, entry in enumerate(entries if isinstance(entries, list) else [entries]):
            where = f"{name}: {protocol}[{index}]"
            if not isinstance(entry, dict) or "LocalAddress" not in entry:
                raise AuditError(
                    f"{where}: not a socket with LocalAddress and LocalPort ({shown(entry)}); "
                    f"{_READING['windows'][1]}"
                )
            address, _dual = _address(str(entry["LocalAddress"]), where)
            try:
                port = port_number(entry.get("LocalPort"), "LocalPort")
            except AuditError as exc:
                raise AuditError(f"{where}: {exc}") from None
            pid = entry.get("OwningProcess")
            found.append(
                Socket(
                    protocol=protocol,
                    address=address,
                    port=port,
                    process=entry.get("Process") or entry.get("ProcessName"),
                    pid=int(pid) if isinstance(pid, int) else None,
                    where=f"{name}:{protocol}[{index}]",
                )
            )
    return found


def socket_kind(text: str, name: str) -> str:
    stripped = text.lstrip("\ufeff").lstrip()
    if stripped.startswith(("{", "[")):
        return "windows"
    first = next((line.split() for line in text.splitlines() if line.split()), [""])
    if first[0] in ("tcp", "udp", "Netid") and (len(first) < 2 or not first[1].isdigit()):
        return "ss"
    if any(line.split()[:1] and line.split()[0].lower() in _NETSTAT_PROTOCOLS
           for line in text.splitlines()):  # fmt: skip
        return "netstat"
    raise AuditError(
        f"{name}: not a socket list portplan reads (ss -tulpnH, netstat -ano, netstat -tulpnW, "
        "the Windows JSON of docs/audit.md); name its kind as KIND:PATH "
        f"({', '.join(SOCKET_KINDS)})"
    )


def _dual_default() -> bool:
    """Whether an IPv6 wildcard socket takes IPv4 too on this machine (bindv6only=0)."""
    try:
        return Path("/proc/sys/net/ipv6/bindv6only").read_text().strip() == "0"
    except OSError:
        return True


def read_sockets(
    text: str, name: str, kind: str | None = None, *, bindv6only: bool = False
) -> list[Socket]:
    """The listening sockets of a collected file; ``bindv6only``: the host's setting, for the
    formats that do not say whether an IPv6 wildcard socket takes IPv4 too."""
    kind = kind or socket_kind(text, name)
    with reading(name, *_READING[kind]):
        if kind == "ss":
            return _read_ss(text, name, not bindv6only)
        if kind == "netstat":
            return _read_netstat(text, name, not bindv6only)
        return _read_windows(text, name)


def live_sockets() -> list[Socket]:
    """This machine's listening TCP sockets and bound UDP sockets: from ``ss -tulpnH`` where
    it is installed (it tells dual-stack sockets from IPv6-only ones), else from psutil."""
    dual = _dual_default()
    try:
        return _read_ss(read_tool(["ss", "-tulpnH"]), "ss -tulpnH (live)", dual)
    except ToolError:
        pass
    found = []
    names: dict[int, str | None] = {}
    for entry in psutil.net_connections(kind="inet"):
        protocol = "tcp" if entry.type == 1 else "udp"
        if protocol == "tcp" and entry.status != psutil.CONN_LISTEN:
            continue
        local = entry.laddr
        if (protocol == "udp" and entry.raddr) or not isinstance(local, tuple) or not local:
            continue
        address, _dual = _address(str(local[0]))
        pid = entry.pid
        if pid is not None and pid not in names:
            try:
                names[pid] = psutil.Process(pid).name()
            except psutil.Error:
                names[pid] = None
        found.append(
            Socket(
                protocol=protocol,
                address=address,
                port=int(local[1]),
                dual_stack=dual and address.version == 6 and address.is_unspecified,
                process=names.get(pid) if pid is not None else None,
                pid=pid,
                where="this machine",
            )
        )
    return sorted(found, key=lambda s: (s.protocol, s.port, str(s.address)))

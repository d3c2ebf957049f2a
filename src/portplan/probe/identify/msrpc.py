"""MS-RPC endpoint mapper (DCE 1.1 RPC, C706; MS-RPCE): what port 135 hands out.

"135 is open" proves nothing about WMI, DCOM or any other RPC service: they listen on dynamic
ports that the endpoint mapper hands out.  This identifier binds to the endpoint mapper
interface (``e1af8308-5d1f-11c9-91a4-08002b14a0fa`` v3.0, C706 appendix O) over
connection-oriented RPC (C706 chapter 12), checks the bind_ack, then lists the registered
endpoints with ``ept_lookup`` (opnum 2) and reports their TCP ports in
``details["dynamic_ports"]``: the ports a verification should probe next.  An RPC server of
other interfaces (a dynamic port's) answers the bind with a bind_ack that rejects the mapper's
interface, or a bind_nak: that is MS-RPC too, with the error saying it is not the mapper.

:func:`map_interface` asks the mapper with ``ept_map`` (opnum 3) where one interface listens.
DCOM objects such as WMI's ``IWbemLevel1Login`` are not registered with the mapper: their
exporter's port comes from an (authenticated) activation through ``ISystemActivator`` on 135,
so for them ``ept_map`` answers "not registered" and the dynamic range itself must be probed.

Only the little-endian NDR data representation is read (what Windows and Samba send).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from portplan.probe.identify._exchange import (
    Findings,
    NotThisProtocol,
    Stream,
    connect,
    printable,
    run_exchange,
)
from portplan.probe.identify.base import Identification, ProbeContext

__all__ = [
    "EPMAPPER",
    "IWBEM_LEVEL1_LOGIN",
    "Endpoint",
    "Interface",
    "bind_request",
    "identify_msrpc",
    "map_interface",
    "parse_tower",
]


@dataclass(frozen=True, slots=True)
class Interface:
    """An RPC interface: its UUID and major.minor version."""

    uuid: uuid.UUID
    major: int = 0
    minor: int = 0

    def __str__(self) -> str:
        return f"{self.uuid} v{self.major}.{self.minor}"


#: the endpoint mapper itself (C706 appendix O)
EPMAPPER = Interface(uuid.UUID("e1af8308-5d1f-11c9-91a4-08002b14a0fa"), 3, 0)
#: WMI's login interface (MS-WMI 3.1.4.1): a DCOM interface, reached through activation
IWBEM_LEVEL1_LOGIN = Interface(uuid.UUID("f309ad18-d86a-11d0-a075-00c04fb68820"))

_NDR = Interface(uuid.UUID("8a885d04-1ceb-11c9-9fe8-08002b104860"), 2, 0)

# C706 12.6: connection-oriented PDU types and flags
_REQUEST, _RESPONSE, _FAULT, _BIND, _BIND_ACK, _BIND_NAK = 0, 2, 3, 11, 12, 13
_FIRST_FRAG, _LAST_FRAG = 0x01, 0x02
_COMMON = struct.Struct("<BBBB4sHHI")  # rpc_vers, minor, PTYPE, pfc_flags, drep, frag, auth, call
_DREP_LITTLE_ENDIAN_ASCII_IEEE = b"\x10\x00\x00\x00"
_MAX_FRAG = 5840
_MAX_STUB = 1 << 20  # a lookup answer of this size is not an endpoint list
_MAX_FRAGMENTS = 512

_EPT_LOOKUP, _EPT_MAP = 2, 3
_RPC_C_EP_ALL_ELTS = 0
_RPC_C_VERS_ALL = 1
_ENTRIES_PER_CALL = 100
_MAX_CALLS = 10
_EPT_S_NOT_REGISTERED = 0x16C9A0D6

_BIND_RESULTS = {0: "acceptance", 1: "user rejection", 2: "provider rejection"}
_FAULTS = {
    0x00000005: "access denied",
    0x000006F7: "bad stub data",
    0x1C010002: "operation out of range",
    0x1C010003: "unknown interface",
    0x1C01000B: "protocol error",
    0x1C00001B: "protocol error",
}

# C706 appendix L (protocol towers) and MS-RPCE 2.2.1.1: floor protocol identifiers
_FLOOR_UUID = 0x0D
_FLOOR_ADDRESS = {0x09: "ip", 0x11: "netbios"}
_FLOOR_ENDPOINT = {
    0x07: "ncacn_ip_tcp",
    0x08: "ncadg_ip_udp",
    0x0F: "ncacn_np",
    0x10: "ncalrpc",
    0x1F: "ncacn_http",
}
_PORT_FLOORS = (0x07, 0x08, 0x1F)  # a big-endian port number on the right-hand side


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """Where the mapper says an interface listens."""

    interface: Interface
    protocol: str  #: ncacn_ip_tcp, ncacn_http, ncacn_np, ncalrpc...
    port: int | None = None
    address: str | None = None
    name: str | None = None  #: pipe or local endpoint name
    annotation: str = ""

    def __str__(self) -> str:
        where = str(self.port) if self.port is not None else (self.name or "")
        text = f"{self.interface} {self.protocol}[{where}]"
        return f"{text} {self.annotation}" if self.annotation else text


# ------------------------------------------------------------------------- wire format


def _pdu(kind: int, call_id: int, body: bytes) -> bytes:
    header = _COMMON.pack(
        5,
        0,
        kind,
        _FIRST_FRAG | _LAST_FRAG,
        _DREP_LITTLE_ENDIAN_ASCII_IEEE,
        16 + len(body),
        0,
        call_id,
    )
    return header + body


def _syntax(interface: Interface) -> bytes:
    """p_syntax_id_t: the UUID in NDR (little-endian) order, then major and minor version."""
    return interface.uuid.bytes_le + struct.pack("<HH", interface.major, interface.minor)


def bind_request(call_id: int = 1, interface: Interface = EPMAPPER) -> bytes:
    """A bind PDU (C706 12.6.4.3) offering ``interface`` with the NDR transfer syntax."""
    body = struct.pack("<HHI", _MAX_FRAG, _MAX_FRAG, 0)  # max_xmit, max_recv, assoc_group_id
    body += struct.pack("<BBH", 1, 0, 0)  # n_context_elem, reserved, reserved2
    body += struct.pack("<HBB", 0, 1, 0)  # p_cont_id 0, n_transfer_syn 1, reserved
    body += _syntax(interface) + _syntax(_NDR)
    return _pdu(_BIND, call_id, body)


def _request(call_id: int, opnum: int, stub: bytes) -> bytes:
    """A request PDU (C706 12.6.4.9) on presentation context 0."""
    return _pdu(_REQUEST, call_id, struct.pack("<IHH", len(stub), 0, opnum) + stub)


async def _read_pdu(reader: asyncio.StreamReader) -> tuple[int, int, int, bytes]:
    """(PTYPE, pfc_flags, call_id, whole PDU) of the next PDU."""
    head = await reader.readexactly(_COMMON.size)
    version, minor, kind, flags, drep, frag_length, _auth, call_id = _COMMON.unpack(head)
    if version != 5 or minor > 1:
        raise NotThisProtocol(
            f"the answer is not connection-oriented DCE/RPC: '{printable(head, 32)}'"
        )
    if drep[0] & 0xF0 != 0x10:
        raise NotThisProtocol("a DCE/RPC peer using big-endian NDR, which is not read here")
    if frag_length < _COMMON.size:
        raise NotThisProtocol(f"a DCE/RPC fragment length of {frag_length}")
    body = await reader.readexactly(frag_length - _COMMON.size)
    return kind, flags, call_id, head + body


def _parse_bind_ack(found: Findings, pdu: bytes) -> None:
    if len(pdu) < 26:
        raise NotThisProtocol("a bind_ack shorter than its fixed part")
    max_xmit, _max_recv, _group, address_length = struct.unpack_from("<HHIH", pdu, 16)
    offset = 26 + address_length
    secondary = pdu[26:offset].rstrip(b"\x00").decode("ascii", errors="replace")
    offset += -offset % 4
    if offset + 4 + 24 > len(pdu):
        raise NotThisProtocol("a bind_ack without its result list")
    count = pdu[offset]
    if count < 1:
        raise NotThisProtocol("a bind_ack with no presentation result")
    result, reason = struct.unpack_from("<HH", pdu, offset + 4)
    if result != 0:
        # a well-formed bind_ack is an RPC server's answer, whatever its verdict: one that
        # serves other interfaces (a dynamic port's lsarpc, winreg...) rejects the mapper's
        found.protocol = "msrpc"
        name = _BIND_RESULTS.get(result, str(result))
        raise NotThisProtocol(
            f"an RPC server, but not the endpoint mapper: it rejected the bind to {EPMAPPER} "
            f"({name}, reason {reason}), so it names no dynamic ports"
        )
    found.details["max_xmit_frag"] = str(max_xmit)
    if secondary:
        found.details["secondary_address"] = secondary


async def _bind(found: Findings, stream: Stream) -> None:
    found.step = "bind_ack from the endpoint mapper"
    await stream.send(bind_request(1))
    kind, _flags, _call, pdu = await _read_pdu(stream.reader)
    if kind == _BIND_NAK:
        found.protocol = "msrpc"
        reason = struct.unpack_from("<H", pdu, 16)[0] if len(pdu) >= 18 else None
        raise NotThisProtocol(f"the server answered bind_nak (reason {reason})")
    if kind != _BIND_ACK:
        raise NotThisProtocol(f"a DCE/RPC answer of type {kind} to a bind")
    _parse_bind_ack(found, pdu)
    found.protocol = "msrpc"


async def _call(stream: Stream, call_id: int, opnum: int, stub: bytes) -> bytes:
    """One request; the response's stub data, reassembled from its fragments."""
    await stream.send(_request(call_id, opnum, stub))
    parts: list[bytes] = []
    size = 0
    for _ in range(_MAX_FRAGMENTS):
        kind, flags, answered, pdu = await _read_pdu(stream.reader)
        if answered != call_id:
            raise NotThisProtocol(f"a DCE/RPC answer to call {answered}, not {call_id}")
        if kind == _FAULT:
            status = struct.unpack_from("<I", pdu, 24)[0] if len(pdu) >= 28 else 0
            name = _FAULTS.get(status, "fault")
            raise NotThisProtocol(
                f"the endpoint mapper answered with a fault: {name} ({status:#010x})"
            )
        if kind != _RESPONSE or len(pdu) < 24:
            raise NotThisProtocol(f"a DCE/RPC answer of type {kind} to a request")
        auth_length = struct.unpack_from("<H", pdu, 10)[0]
        end = len(pdu) - (auth_length + 8 if auth_length else 0)
        if end < 24:
            raise NotThisProtocol("a response whose auth_length exceeds the fragment")
        parts.append(pdu[24:end])
        size += end - 24
        if size > _MAX_STUB:
            raise NotThisProtocol("an endpoint mapper answer larger than any endpoint list")
        if flags & _LAST_FRAG:
            return b"".join(parts)
    raise NotThisProtocol(f"an answer in more than {_MAX_FRAGMENTS} fragments")


class _Ndr:
    """Reads little-endian NDR; alignment is relative to the start of the stub data."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.offset + size > len(self.data):
            raise NotThisProtocol("an endpoint mapper answer cut short")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def u32(self) -> int:
        self.offset += -self.offset % 4
        value: int = struct.unpack("<I", self.take(4))[0]
        return value

    def tower(self) -> bytes:
        """A twr_t pointee: conformance count, tower_length, the octets."""
        _max_count = self.u32()
        return self.take(self.u32())


# ------------------------------------------------------------------------- towers


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("ascii", errors="replace")


def parse_tower(octets: bytes, annotation: str = "") -> Endpoint:
    """An endpoint from a protocol tower (C706 appendix L; MS-RPCE 2.2.1.1)."""
    floors: list[tuple[bytes, bytes]] = []
    if len(octets) < 2:
        raise NotThisProtocol("a protocol tower without a floor count")
    (count,) = struct.unpack_from("<H", octets)
    offset = 2
    for _ in range(count):
        if offset + 2 > len(octets):
            raise NotThisProtocol("a protocol tower cut short")
        (lhs_length,) = struct.unpack_from("<H", octets, offset)
        lhs = octets[offset + 2 : offset + 2 + lhs_length]
        offset += 2 + lhs_length
        if offset + 2 > len(octets):
            raise NotThisProtocol("a protocol tower cut short")
        (rhs_length,) = struct.unpack_from("<H", octets, offset)
        rhs = octets[offset + 2 : offset + 2 + rhs_length]
        offset += 2 + rhs_length
        if not lhs or len(lhs) != lhs_length or len(rhs) != rhs_length:
            raise NotThisProtocol("a protocol tower floor cut short")
        floors.append((lhs, rhs))
    if not floors or floors[0][0][0] != _FLOOR_UUID or len(floors[0][0]) < 19:
        raise NotThisProtocol("a protocol tower whose first floor is not an interface")
    first_lhs, first_rhs = floors[0]
    interface = Interface(
        uuid.UUID(bytes_le=first_lhs[1:17]),
        struct.unpack_from("<H", first_lhs, 17)[0],
        struct.unpack_from("<H", first_rhs)[0] if len(first_rhs) >= 2 else 0,
    )
    protocol, port, address, name = "unknown", None, None, None
    for lhs, rhs in floors[1:]:
        ident = lhs[0]
        if ident in _FLOOR_ENDPOINT:
            protocol = _FLOOR_ENDPOINT[ident]
            if ident in _PORT_FLOORS and len(rhs) >= 2:
                port = struct.unpack_from(">H", rhs)[0]
            elif ident not in _PORT_FLOORS:
                name = _text(rhs)
        elif _FLOOR_ADDRESS.get(ident) == "ip" and len(rhs) == 4:
            address = socket.inet_ntoa(rhs)
        elif _FLOOR_ADDRESS.get(ident) == "netbios":
            address = _text(rhs)
    return Endpoint(
        interface=interface,
        protocol=protocol,
        port=port,
        address=address,
        name=name,
        annotation=annotation,
    )


def _build_tower(interface: Interface) -> bytes:
    """The map_tower for ept_map: interface, NDR, connection-oriented RPC, TCP port 0, IP 0."""

    def floor(lhs: bytes, rhs: bytes) -> bytes:
        return struct.pack("<H", len(lhs)) + lhs + struct.pack("<H", len(rhs)) + rhs

    def syntax_floor(syntax: Interface) -> bytes:
        lhs = bytes((_FLOOR_UUID,)) + syntax.uuid.bytes_le + struct.pack("<H", syntax.major)
        return floor(lhs, struct.pack("<H", syntax.minor))

    floors = (
        syntax_floor(interface),
        syntax_floor(_NDR),
        floor(b"\x0b", b"\x00\x00"),  # RPC connection-oriented, minor version 0
        floor(b"\x07", b"\x00\x00"),  # TCP, port 0 (any)
        floor(b"\x09", b"\x00\x00\x00\x00"),  # IP 0.0.0.0
    )
    return struct.pack("<H", len(floors)) + b"".join(floors)


# ------------------------------------------------------------------------- ept_lookup, ept_map


def _lookup_stub(handle: bytes) -> bytes:
    """ept_lookup's [in] parameters: every element, every version, no object, no interface."""
    return (
        struct.pack("<IIII", _RPC_C_EP_ALL_ELTS, 0, 0, _RPC_C_VERS_ALL)
        + handle
        + struct.pack("<I", _ENTRIES_PER_CALL)
    )


def _parse_lookup(stub: bytes) -> tuple[bytes, list[Endpoint], int]:
    """(entry_handle, endpoints, status) from ept_lookup's [out] parameters."""
    ndr = _Ndr(stub)
    handle = ndr.take(20)
    _num_ents = ndr.u32()
    _max_count, _offset, actual = ndr.u32(), ndr.u32(), ndr.u32()
    if actual > _ENTRIES_PER_CALL:
        raise NotThisProtocol(f"an ept_lookup answer with {actual} entries, more than asked for")
    entries: list[tuple[int, str]] = []
    for _ in range(actual):
        ndr.offset += -ndr.offset % 4
        ndr.take(16)  # object UUID
        referent = ndr.u32()
        _annotation_offset, annotation_length = ndr.u32(), ndr.u32()
        annotation = _text(ndr.take(annotation_length))
        entries.append((referent, annotation))
    endpoints = [parse_tower(ndr.tower(), note) for referent, note in entries if referent]
    status = ndr.u32()
    return handle, endpoints, status


def _map_stub(interface: Interface, max_towers: int) -> bytes:
    """ept_map's [in] parameters: no object, the tower to match, a fresh handle."""
    tower = _build_tower(interface)
    stub = struct.pack("<I", 0)  # object: null pointer
    stub += struct.pack("<III", 1, len(tower), len(tower)) + tower  # referent, count, length
    stub += b"\x00" * (-len(stub) % 4)
    return stub + b"\x00" * 20 + struct.pack("<I", max_towers)


def _parse_map(stub: bytes) -> tuple[list[Endpoint], int]:
    ndr = _Ndr(stub)
    ndr.take(20)  # entry_handle
    _num_towers = ndr.u32()
    _max_count, _offset, actual = ndr.u32(), ndr.u32(), ndr.u32()
    if actual > 64:
        raise NotThisProtocol(f"an ept_map answer with {actual} towers")
    referents = [ndr.u32() for _ in range(actual)]
    endpoints = [parse_tower(ndr.tower()) for referent in referents if referent]
    return endpoints, ndr.u32()


def _report(found: Findings, endpoints: Sequence[Endpoint], mapper_port: int) -> None:
    tcp = sorted({e.port for e in endpoints if e.protocol == "ncacn_ip_tcp" and e.port})
    http = sorted({e.port for e in endpoints if e.protocol == "ncacn_http" and e.port})
    found.details["endpoints_registered"] = str(len(endpoints))
    found.details["dynamic_ports"] = ",".join(str(p) for p in tcp if p != mapper_port)
    if http:
        found.details["http_ports"] = ",".join(str(p) for p in http)
    if endpoints:
        found.details["endpoints"] = "; ".join(sorted({str(e) for e in endpoints}))


async def identify_msrpc(ctx: ProbeContext) -> Identification:
    """Bind to the endpoint mapper and list the dynamic TCP ports it hands out."""

    async def talk(found: Findings) -> None:
        async with connect(ctx) as stream:
            await _bind(found, stream)
            found.step = "answer to ept_lookup"
            handle = b"\x00" * 20
            endpoints: list[Endpoint] = []
            for call_id in range(2, 2 + _MAX_CALLS):
                stub = await _call(stream, call_id, _EPT_LOOKUP, _lookup_stub(handle))
                handle, more, status = _parse_lookup(stub)
                endpoints.extend(more)
                if status != 0 or not more or not any(handle):
                    break
            if status not in (0, _EPT_S_NOT_REGISTERED):
                found.warnings.append(f"ept_lookup ended with status {status:#010x}")
            _report(found, endpoints, ctx.port)
            if not endpoints:
                found.warnings.append("the endpoint mapper lists no endpoints")
            found.complete = True

    return await run_exchange("msrpc", ctx, talk)


async def map_interface(ctx: ProbeContext, interface: Interface) -> Identification:
    """Ask the endpoint mapper (``ept_map``) where ``interface`` listens over TCP.

    ``details["ports"]`` holds the ports; an interface the mapper does not know is reported as
    ``details["registered"] = "no"`` and a warning.
    """

    async def talk(found: Findings) -> None:
        found.details["interface"] = str(interface)
        async with connect(ctx) as stream:
            await _bind(found, stream)
            found.step = f"answer to ept_map for {interface}"
            stub = await _call(stream, 2, _EPT_MAP, _map_stub(interface, 8))
            endpoints, status = _parse_map(stub)
            ports = sorted({e.port for e in endpoints if e.port is not None})
            if status == _EPT_S_NOT_REGISTERED or not ports:
                found.details["registered"] = "no"
                found.warnings.append(f"{interface} is not registered with the endpoint mapper")
            elif status != 0:
                found.warnings.append(f"ept_map ended with status {status:#010x}")
            else:
                found.details["registered"] = "yes"
            found.details["ports"] = ",".join(str(p) for p in ports)
            found.complete = True

    return await run_exchange("msrpc", ctx, talk)

"""NTP (RFC 5905): one client-mode request, answered by a server-mode packet that echoes it.

The request is the 48-byte header of a client (LI 0, VN 4, Mode 3) with every field zero but
the Transmit Timestamp, which is random: a client need not tell its clock (the NTP data
minimization practice, draft-ietf-ntp-data-minimization), and the random value is the nonce
the answer must carry back.  It goes from an ephemeral port, as RFC 9109 asks of clients.

A server copies a request's Transmit Timestamp into its answer's Origin Timestamp (RFC 5905
section 8 and 9.2), so the answer counts only as a packet of at least 48 bytes, version 1 to
4, Mode 4 (server), whose Origin Timestamp is one this identifier sent: a stray or spoofed
datagram cannot identify the port.  A Kiss-o'-Death (RFC 5905 section 7.4: stratum 0, a
four-letter kiss code in the Reference ID) is an NTP server answering, too: the port is NTP,
and the warning says what the code means (RATE, DENY, RSTR...).  An unsynchronised server
(leap indicator 3, or stratum 16) is NTP as well, with a warning.

Many servers drop a request they will not serve without a word: chrony (4.3, Debian 12) from
an address its ``allow``/``deny`` refuse or over its ``ratelimit``, ntpd with ``restrict ...
ignore``; so silence may be that as well as a filtered port.
"""

from __future__ import annotations

import os
import struct

from portplan.probe.identify._datagram import ask
from portplan.probe.identify._exchange import Findings, NotThisProtocol, printable, run_exchange
from portplan.probe.identify.base import ANSWER, Identification, ProbeContext

__all__ = ["SILENCE", "describe", "identify_ntp", "request", "why_not_an_answer"]

SILENCE = (
    "no answer (open|filtered): the port may be filtered, or an NTP server dropped the request "
    "because its access control refuses this address (chrony's allow/deny, ntpd's restrict "
    "... ignore) or it rate-limits this address"
)

_HEADER = struct.Struct(">BBbbII4s8s8s8s8s")  # RFC 5905 figure 8, up to the Transmit Timestamp
_LENGTH = _HEADER.size  # 48
_CLIENT, _SERVER = 3, 4
_MODES = {
    0: "reserved",
    1: "symmetric active",
    2: "symmetric passive",
    3: "client",
    4: "server",
    5: "broadcast",
    6: "control message",
    7: "private",
}
_LEAP = {0: "none", 1: "+1 s at the end of the day", 2: "-1 s at the end of the day"}
_UNSYNCHRONISED = 3
#: RFC 5905 figure 13, and what each kiss code asks of this client
_KISS = {
    "ACST": "the association belongs to a unicast server",
    "AUTH": "server authentication failed",
    "AUTO": "autokey sequence failed",
    "BCST": "the association belongs to a broadcast server",
    "CRYP": "cryptographic authentication or identification failed",
    "DENY": "access denied by the server's access control: it serves no time to this client",
    "DROP": "lost peer in symmetric mode",
    "RSTR": "access denied by the server's access control: it serves no time to this client",
    "INIT": "the server has not yet synchronised for the first time",
    "MCST": "the association belongs to a dynamically discovered server",
    "NKEY": "no key found: the key is unknown or not trusted",
    "RATE": "rate exceeded: the server asks this client to poll less often",
    "RMOT": "alteration of the association from a remote host running ntpdc",
    "STEP": "a step change in system time has occurred, not yet verified",
}


def request(transmit: bytes) -> bytes:
    """The 48-byte client request: LI 0, VN 4, Mode 3, every field zero but ``transmit``."""
    return _HEADER.pack(
        4 << 3 | _CLIENT, 0, 0, 0, 0, 0, bytes(4), bytes(8), bytes(8), bytes(8), transmit
    )


def _mode_version(packet: bytes) -> tuple[int, int]:
    return packet[0] & 7, packet[0] >> 3 & 7


def why_not_an_answer(packet: bytes) -> str | None:
    """Why ``packet`` is not an NTP server's answer at all (whatever it answers), or ``None``."""
    if len(packet) < _LENGTH:
        return f"a {len(packet)}-byte answer, shorter than an NTP header"
    mode, version = _mode_version(packet)
    if not 1 <= version <= 4:
        return f"version {version}"
    if mode != _SERVER:
        return f"mode {mode} ({_MODES[mode]}), not 4 (server)"
    return None


def _kiss_code(reference: bytes) -> str | None:
    """The kiss code a stratum-0 packet's Reference ID holds, if it holds four ASCII letters."""
    text = reference.decode("ascii", errors="replace")
    return text if text.isascii() and text.isalpha() and text.isupper() else None


def _short(value: float) -> str:
    """Seconds as the unit that reads best."""
    if value == 0 or value >= 1:
        return f"{value:.3g} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    if value >= 1e-6:
        return f"{value * 1e6:.3g} µs"
    return f"{value * 1e9:.3g} ns"


def describe(found: Findings, packet: bytes) -> None:
    """The facts an operator wants from a server's answer, and what to warn about."""
    fields = _HEADER.unpack_from(packet)
    first, stratum, _poll, precision, root_delay, root_dispersion, reference = fields[:7]
    leap = first >> 6
    kiss = _kiss_code(reference) if stratum == 0 else None
    found.details[ANSWER] = f"Kiss-o'-Death {kiss}" if kiss else "server reply"
    found.details["version"] = str(_mode_version(packet)[1])
    if kiss:
        found.details["stratum"] = "0 (Kiss-o'-Death)"
        found.details["kiss_code"] = kiss
        meaning = _KISS.get(kiss, "a kiss code RFC 5905 does not define")
        found.warnings.append(f"the server answered with a Kiss-o'-Death {kiss}: {meaning}")
    elif stratum == 0 or stratum >= 16:
        found.details["stratum"] = (
            f"{stratum} (unsynchronised)" if stratum <= 16 else f"{stratum} (reserved)"
        )
    else:
        found.details["stratum"] = str(stratum)
        if stratum == 1:  # a reference clock: four ASCII characters, NUL-padded
            name = reference.rstrip(b"\0")
            found.details["reference"] = printable(name) + " (reference clock)"
        else:  # RFC 5905 7.3: an IPv4 address, or the first 4 octets of an IPv6 one's MD5
            address = ".".join(str(b) for b in reference)
            # 127.127.t.u is ntpd's address of a reference clock of type t (LOCAL is 1), as
            # chrony's `local` sends it: no source's
            what = (
                "a local clock"
                if reference[:2] == b"\x7f\x7f"
                else "its source's IPv4 address or IPv6 hash"
            )
            found.details["reference"] = f"{address} ({what})"
    found.details["leap"] = _LEAP.get(leap, "unsynchronised (3)")
    if not kiss:
        # root delay and dispersion are NTP short format, seconds as 16.16 fixed point
        distance = root_delay / 2**17 + root_dispersion / 2**16
        found.details["root_distance"] = _short(distance)
        found.details["precision"] = _short(2.0**precision)
    if leap == _UNSYNCHRONISED or stratum == 16 or (stratum == 0 and not kiss):
        found.warnings.append(
            "the server is not synchronised (leap indicator 3, or stratum 16, or 0 without a "
            "kiss code): it answers, but its clients will not take its time"
        )


def _nonce(sent: set[bytes]) -> bytes:
    while True:
        transmit = os.urandom(8)
        if any(transmit) and transmit not in sent:
            return transmit


async def _ask(ctx: ProbeContext, found: Findings) -> None:
    sent: set[bytes] = set()  # the Transmit Timestamps of the requests

    def send() -> bytes:  # a second try is a new request, with a nonce of its own
        transmit = _nonce(sent)
        sent.add(transmit)
        return request(transmit)

    def judge(item: bytes) -> bool:
        why = why_not_an_answer(item)
        if why is not None:
            found.details[ANSWER] = f"{len(item)} bytes"
            if item[:_LENGTH] in {request(t) for t in sent}:
                why = "our own request sent back (an echo service?)"
            raise NotThisProtocol(f"not NTP: {why}: '{printable(item, 48)}'")
        if item[24:32] not in sent:  # the Origin Timestamp
            found.details["ignored"] = "an NTP answer to another request (its Origin Timestamp)"
            return False
        found.protocol = "ntp"
        describe(found, item)
        return True

    await ask(ctx, send, judge)


async def identify_ntp(ctx: ProbeContext) -> Identification:
    """A client-mode request with a random Transmit Timestamp; the server's answer must carry
    it back as its Origin Timestamp."""

    async def talk(found: Findings) -> None:
        found.step = "answer to the NTP client request"
        await _ask(ctx, found)

    return await run_exchange("ntp", ctx, talk, silence=SILENCE)

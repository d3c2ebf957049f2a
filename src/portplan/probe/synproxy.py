"""A SYN proxy on the way: a connection that proves nothing of the destination yet.

A SYN proxy (Linux ``SYNPROXY``, which nftables and iptables set up against SYN floods; a
firewall's SYN-flood protection) answers every SYN towards the destination itself, with a
SYN cookie, and opens the connection to the destination only once the client has completed
the handshake with it.  The probe is then connected whatever is behind: a port nothing
listens on, or one the destination drops, reads as connected.  The proxy's SYN-ACK offers no
window (Linux's sets it to zero; a server's SYN-ACK never does): the client may send nothing
until the destination has answered the proxy, which then opens the window (the destination
accepted) or passes its reset on (nothing listens there; or a proxy set up with conntrack's
loose pickup on, which lets the client's bare ACK through to the destination, and the
destination resets every connection so).  Silence behind it is silence.

The window is read from the kernel's ``TCP_INFO`` (``tcpi_snd_wnd``, Linux 5.4 and later);
where it cannot be read, a connection is taken as it is.
"""

from __future__ import annotations

import asyncio
import socket
import time

from portplan.probe.tcpinfo import zero_window

__all__ = ["PROXY_OPEN", "PROXY_RESET", "behind_proxy", "proxy_silent"]

#: how soon a connection a SYN proxy holds is looked at again (only such connections are):
#: at first, then twice as late each time, up to the last (a run behind a proxy may hold
#: thousands of them at once)
_POLL_FIRST, _POLL_LAST = 0.002, 0.1

PROXY_RESET = (
    "a SYN proxy on the way completed the handshake (its SYN-ACK offered no window), then the "
    "destination's reset came through it: nothing listens there, or the proxy passed the "
    "connection on wrongly (with nf_conntrack_tcp_loose on, the destination resets every one)"
)
PROXY_OPEN = (
    "a SYN proxy on the way completed the handshake first (its SYN-ACK offered no window); the "
    "destination then accepted the connection behind it"
)


def proxy_silent(waited: float) -> str:
    """The note of a connection a SYN proxy completed and the destination never answered."""
    return (
        "a SYN proxy on the way completed the handshake (its SYN-ACK offered no window), and "
        f"the destination behind it did not answer within {waited:.1f} s"
    )


async def behind_proxy(sock: socket.socket, wait: float) -> int | None:
    """What the destination behind a SYN proxy said to the connected ``sock`` within ``wait``
    seconds: ``0`` when it accepted (the window opened), the socket's error (a reset,
    ``ECONNRESET``) when it refused, ``None`` when nothing came."""
    until = time.monotonic() + wait
    poll = _POLL_FIRST
    while True:
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            return int(code)
        if not zero_window(sock):
            return 0
        left = until - time.monotonic()
        if left <= 0:
            return None
        await asyncio.sleep(min(poll, left))
        poll = min(poll * 2, _POLL_LAST)

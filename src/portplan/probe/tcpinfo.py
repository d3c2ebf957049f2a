"""What the kernel's ``TCP_INFO`` tells of a TCP probe's SYN: whether it was sent again, and
whether a retransmission left this machine (Linux; ``None`` where it cannot be read)."""

from __future__ import annotations

import socket
import struct

__all__ = ["TCP_SYN_SENT", "never_left", "read_tries", "syn_never_left"]

#: Linux ``TCP_SYN_SENT`` (``tcpi_state``), which Python's socket module does not name (3.11)
TCP_SYN_SENT = 2
#: struct tcp_info up to tcpi_total_retrans (u8 fields, then u32 from offset 8)
_TCP_INFO_SIZE = 104
_RETRANS = 36
_TOTAL_RETRANS = 100


def read_tries(sock: socket.socket) -> tuple[int, int, int, int] | None:
    """The socket's TCP state; how often the kernel tried to send the SYN again; how many
    segments sent again are out (counted only for one that left this machine); how many it
    tried to send again in all (``tcpi_state``, ``tcpi_retransmits``, ``tcpi_retrans`` and
    ``tcpi_total_retrans`` of Linux ``TCP_INFO``).  ``None`` where it cannot be read."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    except (OSError, AttributeError):
        return None
    if len(info) < _TCP_INFO_SIZE:
        return None
    (out,) = struct.unpack_from("=I", info, _RETRANS)
    (total,) = struct.unpack_from("=I", info, _TOTAL_RETRANS)
    return info[0], info[2], out, total


def syn_never_left(sock: socket.socket) -> bool:
    """Whether the kernel retransmitted the SYN and could not send it.

    A SYN dropped by the source's own firewall fails inside the kernel (EPERM) and the socket
    never reports it: connect() just waits.  The trace it leaves is a retransmission attempt
    (``tcpi_retransmits``) without a retransmitted segment in flight (``tcpi_retrans``, which
    the kernel counts only for a segment that left).
    """
    return never_left(read_tries(sock))


def never_left(tried: tuple[int, int, int, int] | None) -> bool:
    """:func:`syn_never_left` of what :func:`read_tries` read."""
    return tried is not None and tried[0] == TCP_SYN_SENT and tried[1] > 0 and tried[2] == 0

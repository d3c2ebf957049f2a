"""What the kernel's ``TCP_INFO`` tells of a TCP probe: whether its SYN was sent again, and
whether a retransmission left this machine; whether the peer offers a window (Linux; ``None``,
or ``False``, where it cannot be read)."""

from __future__ import annotations

import socket
import struct

__all__ = ["TCP_SYN_SENT", "never_left", "read_tries", "syn_never_left", "zero_window"]

#: Linux ``TCP_SYN_SENT`` (``tcpi_state``), which Python's socket module does not name (3.11)
TCP_SYN_SENT = 2
#: struct tcp_info up to tcpi_total_retrans (u8 fields, then u32 from offset 8)
_TCP_INFO_SIZE = 104
#: struct tcp_info up to tcpi_snd_wnd (a u32 at offset 228; Linux 5.4 and later)
_WINDOW_INFO_SIZE = 232
_SND_WND = 228
_RETRANS = 36
_TOTAL_RETRANS = 100


def read_tries(sock: socket.socket) -> tuple[int, int, int, int] | None:
    """The socket's TCP state; how often the kernel tried to send the SYN again; how many
    segments sent again are out (counted only for one that left this machine); how many it
    tried to send again in all (``tcpi_state``, ``tcpi_retransmits``, ``tcpi_retrans`` and
    ``tcpi_total_retrans`` of Linux ``TCP_INFO``).  ``None`` where it cannot be read."""
    info = _tcp_info(sock, _TCP_INFO_SIZE)
    if info is None:
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


def zero_window(sock: socket.socket) -> bool:
    """Whether the peer of ``sock`` (connected, or reset once connected) has offered no window
    since its SYN-ACK (``False`` where the kernel does not say)."""
    info = _tcp_info(sock, _WINDOW_INFO_SIZE)
    if info is None:
        return False
    (window,) = struct.unpack_from("=I", info, _SND_WND)
    return bool(window == 0)


def _tcp_info(sock: socket.socket, size: int) -> bytes | None:
    """The first ``size`` bytes of the socket's ``TCP_INFO``; ``None`` where it cannot be read
    or the kernel's is shorter (an older kernel's, which lacks the field)."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, size)
    except (OSError, AttributeError):
        return None
    return info if len(info) >= size else None

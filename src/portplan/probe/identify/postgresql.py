"""PostgreSQL: the SSLRequest (frontend/backend protocol, "SSL Session Encryption").

The client sends an 8-byte SSLRequest (length 8, code 80877103); a PostgreSQL server answers
one byte, ``S`` (TLS may start) or ``N`` (no TLS), and then waits for the client.  A server of
another protocol answers anything else, or more than one byte: a banner that merely starts with
``S`` (``SSH-2.0-...``) is told apart by waiting :data:`QUIET_PERIOD` for further bytes.  After
``S`` the TLS handshake is completed to read the certificate, and only a completed handshake
proves PostgreSQL (one byte is too little: any peer may send ``S`` and then garbage).  No
startup message is ever sent, so no login is attempted.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

from portplan.probe.identify._exchange import (
    Findings,
    NotThisProtocol,
    connect,
    printable,
    run_exchange,
)
from portplan.probe.identify.base import Identification, ProbeContext
from portplan.probe.identify.tls import start_tls

__all__ = ["SSL_REQUEST", "identify_postgresql"]

#: Int32 length 8, Int32 code 80877103 (1234 in the high 16 bits, 5679 in the low)
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
#: silence expected after the one-byte answer (seconds)
QUIET_PERIOD = 0.2


async def identify_postgresql(ctx: ProbeContext) -> Identification:
    """PostgreSQL: ``S`` or ``N`` to an SSLRequest; after ``S``, the TLS certificate."""

    async def talk(found: Findings) -> None:
        async with connect(ctx) as stream:
            found.step = "answer to SSLRequest"
            await stream.send(SSL_REQUEST)
            answer = await stream.reader.readexactly(1)
            with contextlib.suppress(TimeoutError):  # silence is what PostgreSQL keeps
                answer += await asyncio.wait_for(stream.reader.read(256), QUIET_PERIOD)
            if answer not in (b"S", b"N"):
                raise NotThisProtocol(
                    f"answer to SSLRequest is not 'S' or 'N' alone: '{printable(answer)}'"
                )
            found.details["ssl"] = "yes" if answer == b"S" else "no"
            if answer == b"S":
                await start_tls(stream, ctx, found)
            found.protocol = "postgresql"
            found.complete = True

    return await run_exchange("postgresql", ctx, talk)

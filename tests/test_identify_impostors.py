"""Identifiers against impostors: real servers on loopback that start like the protocol and
are not it (an echo server, an 'S' then garbage, an FTP refusal).

Each impostor is an asyncio TCP server on 127.0.0.1 at a port the kernel chooses, serving one
identification and closed after it; nothing listens beyond loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress

from portplan.probe.identify import Identification, ProbeContext, identify
from portplan.probe.identify.amqp import PROTOCOL_HEADER
from portplan.probe.identify.postgresql import SSL_REQUEST
from servers import LOOPBACK

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _identify_against(protocol: str, handler: Handler) -> Identification:
    """``identify(protocol)`` against a loopback server that runs ``handler`` per connection."""

    serving: list[asyncio.Task[object]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            serving.append(task)
        try:
            with suppress(OSError, asyncio.IncompleteReadError):
                await handler(reader, writer)
        finally:
            writer.transport.abort()

    async def run() -> Identification | None:
        server = await asyncio.start_server(handle, LOOPBACK, 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            context = ProbeContext(address=LOOPBACK, port=port, timeout=2.0)
            try:
                return await identify(protocol, context)
            finally:  # the impostor is done when the identifier is
                for task in serving:
                    task.cancel()
                await asyncio.gather(*serving, return_exceptions=True)

    result = asyncio.run(run())
    assert result is not None
    return result


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()


def test_an_echo_of_the_amqp_header_is_not_amqp() -> None:
    result = _identify_against("amqp", _echo)
    assert result.protocol is None, result
    assert result.error is not None and "echo" in result.error, result


def test_a_broker_asking_for_another_amqp_version_is_still_amqp() -> None:
    async def amqp_1_0(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert await reader.readexactly(len(PROTOCOL_HEADER)) == PROTOCOL_HEADER
        writer.write(b"AMQP\x00\x01\x00\x00")  # the header of AMQP 1.0
        await writer.drain()

    result = _identify_against("amqp", amqp_1_0)
    assert result.protocol == "amqp", result
    assert result.details["protocol_header"] == "1-0-0"


async def _ssl_yes_then_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    assert await reader.readexactly(len(SSL_REQUEST)) == SSL_REQUEST
    writer.write(b"S")
    await writer.drain()
    await reader.read(4096)  # the ClientHello
    writer.write(b"garbage, not TLS\r\n")
    await writer.drain()
    await asyncio.sleep(1.0)


def test_postgresql_is_not_proved_by_an_s_that_no_tls_handshake_follows() -> None:
    result = _identify_against("postgresql", _ssl_yes_then_garbage)
    assert result.protocol is None, result
    assert result.error is not None and "TLS" in result.error, result
    assert result.details["ssl"] == "yes"  # what was seen is still reported


async def _ftp_refusal(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"421 Too many users logged in, closing control connection (FTP)\r\n")
    await writer.drain()


def test_a_421_greeting_alone_is_not_smtp() -> None:
    result = _identify_against("smtp", _ftp_refusal)
    assert result.protocol is None, result
    assert result.error is not None and "421" in result.error, result


async def _redis_at_its_client_limit(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    # what redis-server says to a client past maxclients, unprompted, before closing
    writer.write(b"-ERR max number of clients reached\r\n")
    await writer.drain()


def test_an_err_greeting_alone_is_not_pop3() -> None:
    # RFC 1939 4: a POP3 server greets with +OK; a refusal proves no more than SMTP's 421
    result = _identify_against("pop3", _redis_at_its_client_limit)
    assert result.protocol is None, result
    assert result.error is not None and "max number of clients reached" in result.error, result


async def _http_refusing_everything(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    # a plain HTTP server that refuses every request, a TLS ClientHello too, and closes
    await reader.read(4096)
    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    await writer.drain()


def test_a_plain_http_server_answering_400_is_still_http() -> None:
    result = _identify_against("http", _http_refusing_everything)
    assert result.matches, result
    assert result.details["status"] == "400", result
    assert result.error is None, result

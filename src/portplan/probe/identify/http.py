"""HTTP and HTTPS: ``GET /`` and the response head (RFC 9110, RFC 9112).

The request names the host (``ctx.server_name``, else the address) and asks the server to close
the connection; only the status line and the header fields are read, never the body.  Interim
``1xx`` responses (103 Early Hints) are passed over.  The first bytes of the answer decide: an
HTTP response starts with ``HTTP/``, and anything else stops the exchange at once.  A plain
``400 Bad Request`` is what an HTTPS port says to plain HTTP (nginx, Apache, Go): where a TLS
handshake then completes on the port, it serves no plain HTTP client, and is ``tls``.
"""

from __future__ import annotations

import re

from portplan._version import __version__
from portplan.probe.identify._exchange import (
    Findings,
    NotThisProtocol,
    Stream,
    connect,
    printable,
    run_exchange,
)
from portplan.probe.identify.base import Identification, ProbeContext
from portplan.probe.identify.tls import open_tls

__all__ = ["identify_http", "identify_https"]

#: the longest response head read before giving up
MAX_HEAD = 65536
#: interim (1xx) responses passed over before the final one
MAX_INTERIM = 5

_STATUS_LINE = re.compile(r"HTTP/([0-9])\.([0-9]) ([1-9][0-9][0-9])(?: (.*))?")
_PREFIX = b"HTTP/"
#: the end of a head: its first empty line, whether lines end in CRLF or LF alone (the earliest
#: one; a CRLF blank line further on may be in the body)
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
#: header fields worth reporting, by their lower-case name
_REPORTED = {"server": "server", "location": "location", "strict-transport-security": "hsts"}


def _host(ctx: ProbeContext, default_port: int) -> str:
    host = ctx.server_name or ctx.address
    if ":" in host:
        host = f"[{host}]"
    return host if ctx.port == default_port else f"{host}:{ctx.port}"


def _request(ctx: ProbeContext, default_port: int) -> bytes:
    return (
        "GET / HTTP/1.1\r\n"
        f"Host: {_host(ctx, default_port)}\r\n"
        f"User-Agent: portplan/{__version__}\r\n"
        "Accept: */*\r\n"
        "Connection: close\r\n"
        "\r\n"
    ).encode("ascii", "replace")


async def _read_head(stream: Stream, data: bytes) -> tuple[bytes, bytes]:
    """One response head (without its blank line) and the bytes after it."""
    while True:
        if blank := _BLANK_LINE.search(data):
            return data[: blank.start()], data[blank.end() :]
        if not _PREFIX.startswith(data[: len(_PREFIX)]):
            raise NotThisProtocol(f"not an HTTP response: '{printable(data)}'")
        if len(data) > MAX_HEAD:
            raise NotThisProtocol(f"response head longer than {MAX_HEAD} bytes")
        chunk = await stream.reader.read(4096)
        if not chunk:
            if not data:
                raise NotThisProtocol("connection closed without an answer")
            return data, b""  # closed within the head: read what came
        data += chunk


def _parse_head(head: bytes, found: Findings) -> int:
    # lines end at LF (RFC 9112 2.2), not at what str.splitlines also breaks at (NEL, 0x85 in
    # Latin-1 and in many UTF-8 characters; form feed...): a field value is never two fields
    lines = [line.removesuffix(b"\r").decode("latin-1") for line in head.split(b"\n")]
    match = _STATUS_LINE.fullmatch(lines[0].strip()) if lines else None
    if match is None:
        raise NotThisProtocol(f"not an HTTP status line: '{printable(head)}'")
    major, minor, status, reason = match.groups()
    found.details["http_version"] = f"{major}.{minor}"
    found.details["status"] = status
    found.details["reason"] = (reason or "").strip()
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        key = _REPORTED.get(name.strip().lower())
        if colon and key:
            found.details[key] = value.strip()
    return int(status)


async def _get(stream: Stream, ctx: ProbeContext, found: Findings, protocol: str) -> None:
    found.step = "HTTP response"
    await stream.send(_request(ctx, 443 if protocol == "https" else 80))
    rest = b""
    for _ in range(MAX_INTERIM + 1):
        head, rest = await _read_head(stream, rest)
        status = _parse_head(head, found)
        found.protocol = protocol
        if status >= 200:
            break
    else:
        found.warnings.append(f"more than {MAX_INTERIM} interim responses")
    found.complete = True


async def _tls_instead(ctx: ProbeContext, found: Findings) -> None:
    """Whether a port that answered plain HTTP with 400 Bad Request completes a TLS handshake
    (a connection of its own): an HTTPS port that refuses plain HTTP so (nginx: "The plain
    HTTP request was sent to HTTPS port") serves no plain HTTP client; it is ``tls`` then."""
    session = Findings(expected="https")
    try:
        async with open_tls(ctx, session, alpn=("http/1.1",)):
            pass
    except NotThisProtocol:  # a refusal for want of a client certificate is TLS too
        if session.protocol != "tls":
            return
    except (OSError, EOFError):  # no TLS here: a plain HTTP server that refused the request
        return
    found.protocol = session.protocol
    found.details.update(session.details)
    found.warnings.extend(session.warnings)
    raise NotThisProtocol(
        "an HTTPS port: plain HTTP gets only 400 Bad Request here, and a TLS handshake "
        "completes on it"
    )


async def identify_http(ctx: ProbeContext) -> Identification:
    """Plain HTTP: status line and ``Server`` of the answer to ``GET /``.

    An answer of 400 Bad Request is checked for a TLS port that refuses plain HTTP so
    (:func:`_tls_instead`): that is ``tls``, not ``http``.
    """

    async def talk(found: Findings) -> None:
        async with connect(ctx) as stream:
            await _get(stream, ctx, found, "http")
        if found.details.get("status") == "400":  # (no handshake within the time: HTTP)
            await _tls_instead(ctx, found)

    return await run_exchange("http", ctx, talk)


async def identify_https(ctx: ProbeContext) -> Identification:
    """HTTP over TLS: the TLS facts, then status line and ``Server`` of ``GET /``.

    A TLS server that does not answer HTTP is reported as ``protocol="tls"``.
    """

    async def talk(found: Findings) -> None:
        async with open_tls(ctx, found, alpn=("http/1.1",)) as stream:
            await _get(stream, ctx, found, "https")

    return await run_exchange("https", ctx, talk)

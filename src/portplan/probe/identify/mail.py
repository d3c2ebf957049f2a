"""SMTP and POP3: the greeting, the capabilities, whether TLS can be started, then QUIT.

SMTP (RFC 5321): a ``220`` greeting, then ``EHLO`` (``HELO`` if EHLO is refused); the service is
SMTP once the server accepts one of them, since other protocols (FTP) greet with ``220`` too.
The EHLO keywords tell whether ``STARTTLS`` (RFC 3207) is offered.  A ``554`` or ``421``
greeting refuses service before anything is proven (FTP refuses with ``421`` too): it is
reported as the finding, and the service is not identified.

POP3 (RFC 1939): a ``+OK`` greeting, then ``CAPA`` (RFC 2449), whose list tells whether ``STLS``
(RFC 2595) is offered.  A ``-ERR`` greeting refuses service before anything is proven (Redis
refuses a client past its limit so too): it is the finding, and the service is not identified.
Both sessions end with ``QUIT``, whose answer is awaited only briefly.
"""

from __future__ import annotations

import asyncio
import re

from portplan.probe.identify._exchange import (
    Findings,
    NotThisProtocol,
    Stream,
    connect,
    printable,
    read_line,
    run_exchange,
)
from portplan.probe.identify.base import Identification, ProbeContext

__all__ = ["identify_pop3", "identify_smtp"]

#: lines of one multi-line reply (EHLO keywords, CAPA list) read at most
MAX_REPLY_LINES = 100
#: how long the answer to QUIT is awaited before the connection is closed anyway
QUIT_GRACE = 1.0

#: ASCII digits only: a str pattern's \d (and int()) also take Arabic-Indic and other digits
_SMTP_REPLY = re.compile(r"([2-5][0-9][0-9])(?:([ -])(.*))?")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


async def _smtp_reply(stream: Stream) -> tuple[int, list[str]]:
    """An SMTP reply: its code and the text of each line."""
    code: int | None = None
    texts: list[str] = []
    for _ in range(MAX_REPLY_LINES):
        raw = await read_line(stream.reader)
        match = _SMTP_REPLY.fullmatch(_text(raw))
        if match is None or (code is not None and int(match[1]) != code):
            raise NotThisProtocol(f"not an SMTP reply: '{printable(raw)}'")
        code = int(match[1])
        texts.append(match[3] or "")
        if match[2] != "-":
            return code, texts
    raise NotThisProtocol(f"a reply of more than {MAX_REPLY_LINES} lines")


async def _command(stream: Stream, line: str) -> None:
    await stream.send(line.encode("ascii") + b"\r\n")


def _ehlo_domain(stream: Stream) -> str:
    # RFC 5321 4.1.4: the client's address literal when it has no name of its own to give
    sockname = stream.writer.get_extra_info("sockname")
    address = str(sockname[0]) if sockname else "127.0.0.1"
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


async def _end_session(stream: Stream, found: Findings, *, smtp: bool) -> None:
    """Send QUIT and wait briefly for its answer; the session's findings stand either way."""
    found.complete = True
    await _command(stream, "QUIT")
    try:
        async with asyncio.timeout(QUIT_GRACE):
            if smtp:
                await _smtp_reply(stream)
            else:
                await read_line(stream.reader)
    except (TimeoutError, OSError, EOFError, NotThisProtocol):
        pass


async def _smtp(stream: Stream, found: Findings) -> None:
    found.step = "SMTP greeting"
    code, texts = await _smtp_reply(stream)
    found.details["banner"] = texts[0]
    if code in (421, 554):
        raise NotThisProtocol(
            f"server refuses service with greeting {code} {texts[0]!r}, which does not prove "
            "SMTP (FTP greets so too)"
        )
    if code != 220:
        raise NotThisProtocol(f"greeting {code} {texts[0]!r} is not an SMTP greeting")

    found.step = "answer to EHLO"
    await _command(stream, f"EHLO {_ehlo_domain(stream)}")
    code, texts = await _smtp_reply(stream)
    if code == 250:
        keywords = [t.split(" ", 1)[0].upper() for t in texts[1:] if t]
        found.details["esmtp"] = "yes"
        found.details["extensions"] = ", ".join(t for t in texts[1:] if t)
    else:
        found.step = "answer to HELO"
        await _command(stream, f"HELO {_ehlo_domain(stream)}")
        code, texts = await _smtp_reply(stream)
        if code != 250:
            raise NotThisProtocol(f"both EHLO and HELO refused ({code} {texts[0]})")
        keywords = []
        found.details["esmtp"] = "no"
    found.protocol = "smtp"
    found.details["starttls"] = "yes" if "STARTTLS" in keywords else "no"
    await _end_session(stream, found, smtp=True)


async def _pop3_status(stream: Stream, what: str) -> tuple[bool, str]:
    """A POP3 status line: whether it is ``+OK``, and its text."""
    raw = await read_line(stream.reader)
    text = _text(raw)
    for indicator, positive in (("+OK", True), ("-ERR", False)):
        if text == indicator or text.startswith(indicator + " "):
            return positive, text[len(indicator) :].strip()
    raise NotThisProtocol(f"{what} is not a POP3 status line: '{printable(raw)}'")


async def _pop3_lines(stream: Stream) -> list[str]:
    """The body of a POP3 multi-line answer, up to its terminating ``.``, dot-unstuffed."""
    lines: list[str] = []
    for _ in range(MAX_REPLY_LINES):
        text = _text(await read_line(stream.reader))
        if text == ".":
            return lines
        lines.append(text[1:] if text.startswith(".") else text)
    raise NotThisProtocol(f"a multi-line answer of more than {MAX_REPLY_LINES} lines")


async def _pop3(stream: Stream, found: Findings) -> None:
    found.step = "POP3 greeting"
    positive, text = await _pop3_status(stream, "greeting")
    found.details["banner"] = text
    if not positive:
        raise NotThisProtocol(
            f"server refuses service with greeting -ERR {text!r}, which does not prove POP3 "
            "(Redis refuses a client so too)"
        )
    found.protocol = "pop3"

    found.step = "answer to CAPA"
    await _command(stream, "CAPA")
    positive, _ = await _pop3_status(stream, "answer to CAPA")
    if positive:
        capabilities = await _pop3_lines(stream)
        found.details["capabilities"] = ", ".join(capabilities)
        names = {c.split(" ", 1)[0].upper() for c in capabilities}
        found.details["stls"] = "yes" if "STLS" in names else "no"
        for capability in capabilities:
            if capability.upper().startswith("IMPLEMENTATION "):
                found.details["implementation"] = capability.split(" ", 1)[1]
    else:
        found.details["capabilities"] = "CAPA not supported"
        found.details["stls"] = "unknown"
    await _end_session(stream, found, smtp=False)


async def identify_smtp(ctx: ProbeContext) -> Identification:
    """SMTP: greeting, EHLO keywords (is STARTTLS offered?), QUIT."""

    async def talk(found: Findings) -> None:
        async with connect(ctx) as stream:
            await _smtp(stream, found)

    return await run_exchange("smtp", ctx, talk)


async def identify_pop3(ctx: ProbeContext) -> Identification:
    """POP3: greeting, CAPA list (is STLS offered?), QUIT."""

    async def talk(found: Findings) -> None:
        async with connect(ctx) as stream:
            await _pop3(stream, found)

    return await run_exchange("pop3", ctx, talk)

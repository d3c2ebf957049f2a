"""SSH: the server's identification string, read and never answered (RFC 4253 section 4.2).

An SSH server speaks first: once the connection is up it sends its identification string,
``SSH-protoversion-softwareversion SP comments CR LF``, at most 255 characters with the CR LF.
It MAY send other lines before it, none of which starts with ``SSH-``; they are read (at most
:data:`MAX_LINES_BEFORE` lines, :data:`MAX_BYTES_BEFORE` bytes), counted and the first shown.
Nothing is ever sent: no identification of our own, no key exchange, so the server sees a client
that hung up before identifying itself (OpenSSH logs at most that the connection closed).

``SSH-2.0`` identifies, and so does ``SSH-1.99`` (RFC 4253 section 5.1: a server that takes
protocol 1 clients too, with a warning); ``SSH-1.x`` (protocol 1 alone) identifies an SSH
server too, with a warning that protocol 1 is insecure and that no current client speaks it:
the port serves SSH, as the plan says, and what the server offers is the server's
configuration, which the warning names.  Any other version, a string over 255 characters or
with characters the RFC forbids, text that ends without a line, a NUL byte (binary data, not
text lines), or a connection closed before the string is not SSH.  A line that ends in LF
alone is taken, with a warning (the RFC asks for CR LF; clients accept LF).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from portplan.probe.identify._exchange import (
    MAX_LINE,
    Findings,
    NotThisProtocol,
    Stream,
    budget,
    connect,
    printable,
    run_exchange,
)
from portplan.probe.identify.base import Identification, ProbeContext

__all__ = [
    "MAX_BYTES_BEFORE",
    "MAX_IDENTIFICATION",
    "MAX_LINES_BEFORE",
    "identify_ssh",
    "silence",
]

#: the identification string's longest length, CR LF included (RFC 4253 section 4.2)
MAX_IDENTIFICATION = 255
#: other lines read at most before the identification string, and their bytes in all
MAX_LINES_BEFORE = 20
MAX_BYTES_BEFORE = 8192

_PREFIX = b"SSH-"
#: ``SSH-protoversion-rest``: ASCII digits only (a str pattern's \d takes other digits too)
_IDENTIFICATION = re.compile(r"SSH-([0-9]+\.[0-9]+)-(.*)", re.DOTALL)
_SSH1 = re.compile(r"1\.[0-9]+")
#: printable US-ASCII but whitespace (the RFC forbids the minus sign too, which the software
#: version of some servers holds all the same: ``SSH-1.99-Cisco-1.25``)
_SOFTWARE = re.compile(r"[!-~]+")


def silence(timeout: float) -> str:
    """The error when nothing at all came within ``timeout`` (:func:`identify`'s)."""
    return (
        f"no identification string within {budget(timeout):g} s: an SSH server sends its own first"
    )


@dataclass(slots=True)
class _Lines:
    """The lines the server sends, read from ``stream`` as they come."""

    stream: Stream
    pending: bytes = b""
    #: the lines before the identification string, as they came
    before: list[bytes] = field(default_factory=list)

    async def next(self) -> tuple[bytes, bool]:
        """The next line without its end, and whether that end was CR LF (else LF alone)."""
        while (end := self.pending.find(b"\n")) < 0:
            if b"\0" in self.pending:
                raise NotThisProtocol(
                    f"not SSH: binary data, not the text lines an SSH server sends first: "
                    f"'{printable(self.pending)}'"
                )
            if len(self.pending) > MAX_LINE:
                raise NotThisProtocol(
                    f"not SSH: a line of more than {MAX_LINE} bytes: '{printable(self.pending)}'"
                )
            chunk = await self.stream.reader.read(MAX_LINE)
            if not chunk:
                raise NotThisProtocol(self._closed())
            self.pending += chunk
        line, self.pending = self.pending[:end], self.pending[end + 1 :]
        if b"\0" in line:
            raise NotThisProtocol(
                f"not SSH: binary data, not the text lines an SSH server sends first: "
                f"'{printable(line)}'"
            )
        crlf = line.endswith(b"\r")
        return (line[:-1] if crlf else line), crlf

    def _closed(self) -> str:
        if self.pending.startswith(_PREFIX):
            return (
                f"not SSH: the connection closed in the middle of '{printable(self.pending)}', "
                "before the CR LF that ends an identification string"
            )
        left = f", then '{printable(self.pending)}'" if self.pending else ""
        return (
            f"the connection closed before any identification string{self.after()}{left}: "
            "an SSH server sends one first, unless it refuses the connection (sshd past its "
            "MaxStartups, a TCP wrapper)"
        )

    def after(self) -> str:
        """What came before, for an error: `` after N other line(s), the first '...'``."""
        if not self.before:
            return ""
        return f" (after {len(self.before)} other line(s), the first '{printable(self.before[0])}')"


def _read_identification(line: bytes, crlf: bool, found: Findings) -> None:
    """Check the identification string ``line`` (without its end) and note what it says."""
    length = len(line) + (2 if crlf else 1)
    if length > MAX_IDENTIFICATION:
        raise NotThisProtocol(
            f"not SSH: an identification string of {length} characters "
            f"(RFC 4253 allows {MAX_IDENTIFICATION} with its CR LF): '{printable(line)}'"
        )
    text = line.decode("utf-8", "replace")
    match = _IDENTIFICATION.fullmatch(text)
    if match is None:
        raise NotThisProtocol(f"not SSH: malformed identification string '{printable(line)}'")
    version, rest = match[1], match[2]
    software, _, comments = rest.partition(" ")
    # the comments are free text (RFC 4253 sets no character set for them), but no controls
    if not _SOFTWARE.fullmatch(software) or not comments.isprintable():
        raise NotThisProtocol(
            f"not SSH: the identification string '{printable(line)}' holds characters RFC "
            "4253 forbids there (its software version is printable ASCII without spaces) or "
            "control characters"
        )
    if version not in ("2.0", "1.99") and not _SSH1.fullmatch(version):
        raise NotThisProtocol(
            f"not SSH: protocol version {version!r} is none SSH defines (2.0; 1.99 and 1.x "
            f"for protocol 1): '{printable(line)}'"
        )
    found.protocol = "ssh"
    found.details["version"] = version
    found.details["software"] = software
    if comments:
        found.details["comments"] = comments
    if version == "1.99":
        found.warnings.append(
            "SSH-1.99: the server takes clients of SSH protocol 1 too (RFC 4253 section 5.1), "
            "which is insecure; turn protocol 1 off"
        )
    elif version != "2.0":
        found.warnings.append(
            f"SSH-{version}: the server speaks SSH protocol 1 only, which is insecure and "
            "which current clients (OpenSSH since 7.6) no longer speak"
        )
    if not crlf:
        found.warnings.append(
            "the identification string ends in LF alone, not CR LF (RFC 4253 section 4.2)"
        )


async def identify_ssh(ctx: ProbeContext) -> Identification:
    """SSH: the identification string the server sends first; nothing is sent to it."""
    reading: list[_Lines] = []

    async def talk(found: Findings) -> None:
        async with connect(ctx) as stream:
            lines = _Lines(stream)
            reading.append(lines)
            found.step = "identification string"
            size = 0
            while True:
                line, crlf = await lines.next()
                if line.startswith(_PREFIX):
                    break
                lines.before.append(line)
                size += len(line) + (2 if crlf else 1)
                found.details["lines_before"] = str(len(lines.before))
                found.details["first_line_before"] = printable(lines.before[0])
                if len(lines.before) > MAX_LINES_BEFORE or size > MAX_BYTES_BEFORE:
                    raise NotThisProtocol(
                        f"not SSH: no identification string within the first "
                        f"{MAX_LINES_BEFORE} lines or {MAX_BYTES_BEFORE} bytes{lines.after()}"
                    )
            _read_identification(line, crlf, found)
            found.complete = True

    quiet = silence(ctx.timeout)
    found = await run_exchange("ssh", ctx, talk, silence=quiet)
    if found.error == quiet and reading and (reading[0].pending or reading[0].before):
        lines = reading[0]
        if lines.pending:
            error = (
                f"no line end after '{printable(lines.pending)}' within "
                f"{budget(ctx.timeout):g} s{lines.after()}: an SSH server ends each line it "
                "sends first with CR LF"
            )
        else:
            error = (
                f"no identification string within {budget(ctx.timeout):g} s"
                f"{lines.after()}: an SSH server sends its own first"
            )
        found = replace(found, error=error)
    return found

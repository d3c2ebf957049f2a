"""Protocol cells: ``TCP``, ``TCP/UDP``, ``TCP or UDP``, ``TCP/HTTPS``, ``SSH``, ``WMI (DCOM)
TCP``, ``(See usage for protocol) TCP``.

A protocol column names transports (``tcp``, ``udp``, ``icmp``), applications (``HTTPS``,
``iSCSI``, ``WMI (DCOM)``) or both.  An application alone says its transport only when the
protocol has one standard transport (:data:`STANDARD_TRANSPORTS`: SSH and HTTPS over TCP, SNMP
and NTP over UDP...), whatever version is written onto its name (``SNMPv3``), and when a name
also names the protocol it runs over (``SFTP (SSH)``), where both agree; the reading then
states that assumption.  Beside transports written (``SNMP TCP``, SNMP over TCP), an
application adds none of its own: only those written are read, and one it usually runs over
that is not written is a fault, never a transport more than the vendor asked for.  A cell
that names no transport at all (``IPC``, ``Custom HDFS protocol``) is a fault: the reader does
not guess.  So is ICMP of one IP version (``ICMPv6``, ``ICMP (IPv6)``), never read as ICMP,
which is both; and a port written in the cell (``TCP/443``, ``TCP (443)``): a protocol cell
holds no port, and the row's ports come from its port column.  Words that change what the
transports say (``TCP, not UDP``, ``UDP optional``) and marks (``TCP¹``, ``TCP/UDP*``,
``UDP?``) are faults, never an application's name beside transports read as if they were not
there.  So are directions (``Incoming and outgoing TCP, outgoing UDP``) and arrows (``UDP`` over
``<-``, the way the connection opens): no transport of such a cell is read, since each holds
one way only.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass, field

from portplan.importer._lexer import (
    ONE_VERSION_ICMP,
    Token,
    names_port,
    one_version_icmp,
    tokens,
)
from portplan.importer.ports import Fault, Transport

__all__ = [
    "NAMES_NO_TRANSPORT",
    "STANDARD_TRANSPORTS",
    "NamedProtocol",
    "ProtocolReading",
    "named_protocols",
    "read_protocols",
]

#: Application protocols whose standard transport is one (RFCs and IANA's assignments); any
#: other application name says nothing about the transport.
STANDARD_TRANSPORTS: dict[str, Transport] = {
    **dict.fromkeys(
        (
            "http", "https", "ssh", "scp", "sftp", "telnet", "ftp", "ftps", "smtp", "smtps",
            "imap", "imaps", "pop3", "pop3s", "ldaps", "iscsi", "ssl", "tls", "amqp", "amqps",
            "mqtt", "http/1.0", "http/1.1", "http/2",
        ),
        Transport.TCP,
    ),
    **dict.fromkeys(("snmp", "ntp", "tftp", "radius", "http/3", "quic"), Transport.UDP),
}  # fmt: skip
_EMPTY = frozenset({"", "-", "--", "n/a", "na", "none"})
#: the end of the fault of a cell that names no transport (``IPC``)
NAMES_NO_TRANSPORT = "names no transport protocol (tcp, udp or icmp)"
#: words that take a transport away (``TCP, not UDP``): the cell cannot be read as a list
_NEGATIONS = frozenset({"not", "no", "except", "excluding", "without", "never", "nor"})
#: words that make a transport conditional (``TCP, UDP optional``): no application's name
_CONDITIONS = frozenset({"optional", "optionally", "if", "unless", "when", "fallback"})
#: words that give a transport its direction (``Incoming and outgoing TCP, outgoing UDP``): the
#: transports of such a cell hold for some directions only, which a protocol column cannot say
_DIRECTIONS = frozenset({"incoming", "outgoing", "inbound", "outbound", "ingress", "egress"})
#: an arrow giving the way a connection opens (``->``, ``<-``, ``<->``, ``-->``, ``→``)
_ARROW = re.compile(r"<-+>?|-+>|[→←↔]")
#: a footnote mark or a question, written after a transport or name (``TCP¹``, ``UDP?``)
_MARK = re.compile(r"[*†‡§¶#?~\u00b9\u00b2\u00b3\u2070-\u209f]")
#: a version written onto a protocol's name: ``SNMPv3``, ``SNMP v2c``, ``TLSv1.2``, ``NTPv4``
_VERSIONED = re.compile(r"(?P<name>.+?) ?v(?P<version>\d+(?:\.\d+)*c?)")
#: a protocol and, in parentheses, the one it runs over or is also called: ``SFTP (SSH)``
_ALSO = re.compile(r"(?P<name>[^()]+?) \((?P<also>[^()]+)\)")


@dataclass(frozen=True, slots=True)
class NamedProtocol:
    """A protocol an application's name names: ``name`` in lower case, ``version`` as written
    onto it (``3`` of ``SNMPv3``), or None."""

    name: str
    version: str | None = None


def _versioned(text: str, known: Container[str]) -> NamedProtocol:
    """``text`` as a known protocol and the version written onto it, or as itself; a version
    the reader knows by a name of its own (``HTTPv3`` is ``HTTP/3``, QUIC over UDP, not HTTP
    up to HTTP/2 over TCP) is that name."""
    if text not in known and (match := _VERSIONED.fullmatch(text)) and match["name"] in known:
        if (own := f"{match['name']}/{match['version']}") in known:
            return NamedProtocol(own)
        return NamedProtocol(match["name"], match["version"])
    return NamedProtocol(text)


def named_protocols(application: str, known: Container[str]) -> tuple[NamedProtocol, ...]:
    """The protocols an application's name (as :func:`read_protocols` reads it) names, by the
    names in ``known``: ``SNMPv3`` is SNMP, version 3; ``SFTP (SSH)`` both SFTP and SSH, the
    protocol it runs over, where both are known (``WMI (DCOM)``, ``SNMP (trap)`` are one name
    each, as written); any other name is itself, in lower case."""
    text = " ".join(application.lower().split())
    if (match := _ALSO.fullmatch(text)) is not None:
        parts = (_versioned(match["name"], known), _versioned(match["also"], known))
        if all(part.name in known for part in parts):
            return parts
    return (_versioned(text, known),)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolReading:
    """A protocol cell as read.

    ``transports`` in the order written, stated or implied by an application;
    ``either`` when the vendor joined them with ``or`` (``TCP or UDP``: one of them is used);
    ``applications`` the other names (``HTTPS``, ``WMI (DCOM)``); ``notes`` the words in
    parentheses that are neither (``See usage for protocol``).
    """

    transports: tuple[Transport, ...] = ()
    either: bool = False
    applications: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    text: str = field(default="", compare=False)
    assumptions: tuple[str, ...] = field(default=(), compare=False)
    faults: tuple[Fault, ...] = field(default=(), compare=False)


def _version_at(toks: list[Token], index: int) -> int:
    """The end of a version written at ``index`` (``3``, ``1.1``: one digit, then dotted
    numbers), or 0 when none is (``443`` is a port: ``HTTPS/443``)."""
    if index >= len(toks) or toks[index].kind != "num" or len(toks[index].text) > 1:
        return 0
    end = index + 1
    while end + 1 < len(toks) and toks[end].text == "." and toks[end + 1].kind == "num":
        end += 2
    return end


def _struck_end(toks: list[Token], index: int) -> int:
    """The index of the last token of struck-through text (``~~UDP~~``, as Markdown writes it
    and the HTML and XLSX readers write what a vendor struck out) that starts at ``index``, or
    -1 when none does; unclosed, it runs to the end of the cell."""

    def tilde_pair(at: int) -> bool:
        return (
            at + 1 < len(toks)
            and toks[at].text == toks[at + 1].text == "~"
            and toks[at].end == toks[at + 1].start
        )

    if not tilde_pair(index):
        return -1
    end = index + 2
    while end < len(toks) and not tilde_pair(end):
        end += 1
    return min(end + 1, len(toks) - 1)


def _arrow_end(text: str, toks: list[Token], index: int) -> int:
    """The index of the last token of an arrow (``<-``, ``->``, ``<->``, ``→``: tokens written
    together) that starts at ``index``, or -1 when none does."""
    for end in range(min(index + 2, len(toks) - 1), index - 1, -1):
        glued = all(toks[k].end == toks[k + 1].start for k in range(index, end))
        if glued and _ARROW.fullmatch(text[toks[index].start : toks[end].end]):
            return end
    return -1


def _names_any(toks: list[Token]) -> bool:
    """Whether the cell names a transport, or an application that implies one."""
    return any(t.protocol or t.low in STANDARD_TRANSPORTS for t in toks)


def _port(token: Token) -> Fault:
    """The fault of a port written in a protocol cell."""
    return Fault(
        start=token.start,
        end=token.end,
        message=f"could not read {token.text!r}: a port in a protocol cell; the row's ports "
        "come from its port column (or map this column as 'port' with --map)",
    )


def _other_transport(
    text: str, application: str, transport: Transport, stated: list[Transport]
) -> Fault:
    """The fault of an application named beside transports that are not its standard one
    (``SNMP TCP``): only the transports written are read, never one more."""
    written = " and ".join(dict.fromkeys(t.value for t in stated))
    return Fault(
        start=0,
        end=len(text),
        message=f"{application!r} usually runs over {transport.value}, and the cell names "
        f"{written} only: the draft has {written}; add {transport.value} by hand if the "
        "vendor means it too",
    )


def read_protocols(text: str) -> ProtocolReading:
    """Read a protocol cell; see the module for what it understands."""
    if " ".join(text.lower().split()) in _EMPTY:
        return ProtocolReading(text=text)
    stated: list[Transport] = []
    applications: list[str] = []
    notes: list[str] = []
    assumptions: list[str] = []
    either = False
    hidden: list[Fault] = []  #: transports in a note, which it would drop
    negated = False  #: a word takes a transport away: none is read
    toks = tokens(text)
    index = 0
    name: list[str] = []  #: words of an application name being read

    def close_name() -> None:
        if name:
            applications.append(" ".join(name))
            name.clear()

    while index < len(toks):
        token = toks[index]
        if token.protocol:
            close_name()
            stated.append(Transport(token.low))
        elif token.icmp_version or (token.ip_version and one_version_icmp(toks)):
            close_name()  # ICMPv6, ICMP v6: reported below, never an application's name
        elif token.is_("or"):
            close_name()
            either = True
        elif token.text == "/" and name and _version_at(toks, index + 1):
            # HTTP/3 is one name (QUIC, over UDP), not HTTP and a stray 3
            end = _version_at(toks, index + 1)
            name[-1] += text[token.start : toks[end - 1].end]
            index = end
            continue
        elif token.is_("and") or token.text in ("/", ",", "&", "+", ";"):
            close_name()
        elif token.text == "(":
            close = index
            while close < len(toks) and toks[close].text != ")":
                close += 1
            inner = toks[index + 1 : close]
            words = " ".join(text[inner[0].start : inner[-1].end].split()) if inner else ""
            if inner and all(t.protocol or t.text in ("/", ",") or t.is_("and") for t in inner):
                close_name()
                stated.extend(Transport(t.low) for t in inner if t.protocol)
            elif any(t.kind == "num" and names_port(inner, k) for k, t in enumerate(inner)):
                hidden.append(  # TCP (443)
                    Fault(
                        start=toks[index].start,
                        end=toks[min(close, len(toks) - 1)].end,
                        message=f"could not read '({words})': a port in a note",
                    )
                )
            elif any(t.protocol or t.protocolish for t in inner):  # TCP (UDP optional)
                hidden.append(
                    Fault(
                        start=toks[index].start,
                        end=toks[min(close, len(toks) - 1)].end,
                        message=f"could not read '({words})': a transport in a note",
                    )
                )
            elif name:
                name.append(f"({words})")  # WMI (DCOM): part of the name
            elif words:
                notes.append(words)
            index = close
        elif (struck := _struck_end(toks, index)) >= 0:
            close_name()  # TCP ~~UDP~~: the vendor struck UDP out
            words = text[token.start : toks[struck].end]
            hidden.append(
                Fault(
                    start=token.start,
                    end=toks[struck].end,
                    message=f"could not read {words!r}: struck-through text",
                )
            )
            index = struck
        elif (arrow := _arrow_end(text, toks, index)) >= 0:
            close_name()  # UDP over <-: the right end connects; never a service named '-'
            negated = True
            hidden.append(
                Fault(
                    start=token.start,
                    end=toks[arrow].end,
                    message=f"could not read {text[token.start : toks[arrow].end]!r}: a "
                    "direction arrow in a protocol cell; which end opens the connection is not "
                    "read: model the row by hand",
                )
            )
            index = arrow
        elif token.protocolish or token.text == "^" or _MARK.fullmatch(token.text):
            close_name()  # TCP/UDP*, TCP¹, TCP^1, UDP?: never a name, nor a transport read
            end = index + 1 if token.text == "^" and index + 1 < len(toks) else index
            hidden.append(
                Fault(
                    start=token.start,
                    end=toks[end].end,
                    message=f"could not read {text[token.start : toks[end].end]!r}",
                )
            )
            index = end
        elif token.kind == "word" and token.low in _NEGATIONS | _CONDITIONS and _names_any(toks):
            close_name()  # TCP, not UDP; UDP optional: the word changes what the cell says
            if token.low in _NEGATIONS:
                negated = True
            hidden.append(
                Fault(
                    start=token.start,
                    end=token.end,
                    message=f"could not read {token.text!r}: "
                    + ("a transport excluded" if token.low in _NEGATIONS else "a condition")
                    + " in a protocol cell; write the transports the row uses"
                    + ("" if token.low in _NEGATIONS else ", and the condition in its own column"),
                )
            )
        elif token.kind == "word" and token.low in _DIRECTIONS:
            close_name()  # Incoming TCP, outgoing UDP: never an application's name
            negated = True
            hidden.append(
                Fault(
                    start=token.start,
                    end=token.end,
                    message=f"could not read {token.text!r}: a direction in a protocol cell; "
                    "its transports hold one way only: model the row by hand",
                )
            )
        elif token.kind == "num" and names_port(toks, index):
            close_name()  # TCP/443, HTTPS 443: the port is not part of a name
            hidden.append(_port(token))
        elif token.kind in ("word", "num", "dash", "other") and token.text not in (")", ":"):
            name.append(token.text)
        index += 1
    close_name()
    implied = []
    for application in applications:
        named = named_protocols(application, STANDARD_TRANSPORTS)
        runs_over = {STANDARD_TRANSPORTS.get(n.name) for n in named}
        if len(runs_over) == 1 and (transport := runs_over.pop()) is not None:
            if stated and transport not in stated:  # SNMP TCP: what the vendor wrote holds
                hidden.append(_other_transport(text, application, transport, stated))
                continue
            implied.append(transport)
            if transport not in stated:
                assumptions.append(f"{application} runs over {transport.value}")
    transports = () if negated else tuple(dict.fromkeys((*stated, *implied)))
    faults: tuple[Fault, ...] = tuple(hidden)
    if one_version_icmp(toks):  # ICMPv6, ICMP (IPv6): never ICMP of both versions
        transports = tuple(t for t in transports if t is not Transport.ICMP)
        faults += (
            Fault(
                start=0, end=len(text), message=f"{' '.join(text.split())!r}: {ONE_VERSION_ICMP}"
            ),
        )
    elif not transports and not negated:
        faults += (
            Fault(
                start=0,
                end=len(text),
                message=f"{' '.join(text.split())!r} {NAMES_NO_TRANSPORT}",
            ),
        )
    return ProtocolReading(
        transports=transports,
        either=either and len(transports) > 1,
        applications=tuple(applications),
        notes=tuple(notes),
        text=text,
        assumptions=tuple(assumptions),
        faults=faults,
    )

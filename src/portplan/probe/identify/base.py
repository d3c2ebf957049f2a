"""The identification contract shared by every protocol module."""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import cast

from portplan._plugins import PluginRegistry

__all__ = [
    "ANSWER",
    "ERRNO",
    "ICMP",
    "MEANING",
    "REGISTRY",
    "UDP_IDENTIFIERS",
    "UDP_ONLY",
    "UNREACHABLE",
    "Identification",
    "Identifier",
    "OpenConnection",
    "ProbeContext",
    "bounded",
    "identify",
]


class OpenConnection:
    """A TCP connection to the port that the prober already opened, for the identifier's first
    :func:`~portplan.probe.identify._exchange.connect` (later ones open their own)."""

    __slots__ = ("_sock",)

    def __init__(self, sock: socket.socket) -> None:
        self._sock: socket.socket | None = sock

    def take(self) -> socket.socket | None:
        """The connection, once; ``None`` after that."""
        sock, self._sock = self._sock, None
        return sock


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeContext:
    """Where and how to talk to the service."""

    address: str  #: IP address (text) to connect to
    port: int
    timeout: float = 3.0  #: for the whole exchange
    server_name: str | None = None  #: TLS SNI / certificate name to expect, if known
    source_address: str | None = None  #: bind the local end to this address
    #: e.g. {"radius": b"secret", "snmp": b"community"}; never in its repr
    secrets: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    #: the probe's own connection to the port, when it found the port open (TCP)
    connection: OpenConnection | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Identification:
    """What answered on a port.

    ``protocol`` is what the identifier recognised (``"http"``, ``"smtp"``...) or ``None`` when
    the peer did not speak the expected protocol; ``details`` holds facts read from the answer
    (banner, server product and version, TLS certificate subject...), ``warnings`` things an
    operator should act on (certificate expiring within 30 days, self-signed...).
    """

    expected: str
    protocol: str | None
    details: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    error: str | None = None  #: why the exchange failed, when it did

    @property
    def matches(self) -> bool:
        return self.protocol == self.expected


Identifier = Callable[[ProbeContext], Awaitable[Identification]]

#: the longest detail value, warning or error kept, in characters: a chatty or hostile peer
#: (an EHLO list of 100 lines of 8 KiB, a huge header, a certificate naming thousands of
#: hosts) must not make one port's identification weigh megabytes in every report
MAX_DETAIL = 1024
#: details kept at most (the built-in identifiers report fewer than 20), and warnings
MAX_DETAILS = 48
MAX_WARNINGS = 32
#: details read by code rather than people, which a cut would break, with their own bounds:
#: the DER certificate the collection's prober returns for the controller to read (OpenSSL
#: takes a certificate list of at most 100 KiB; this is its base64 with room to spare)
_OWN_LIMITS = {"certificate_der": 1 << 18}
#: where a long value is cut: after its last list separator that fits, when it has one
_SEPARATORS = ("; ", ", ", ",", " ")


def _cut(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters or fewer and what was left out."""
    if len(text) <= limit:
        return text
    cut = limit
    for separator in _SEPARATORS:
        end = text.rfind(separator, limit // 2, limit)
        if end > 0:
            cut = end + len(separator)
            break
    return f"{text[:cut]}... ({len(text) - cut} more characters)"


def bounded(found: Identification) -> Identification:
    """``found`` with every detail, warning and the error at most :data:`MAX_DETAIL`
    characters (a cut value ends in ``... (N more characters)``), at most
    :data:`MAX_DETAILS` details and :data:`MAX_WARNINGS` warnings; a warning names what was
    cut.  An identification within the bounds is returned as it is."""
    kept = list(found.details.items())[:MAX_DETAILS]
    cut = [key for key, value in kept if len(value) > _OWN_LIMITS.get(key, MAX_DETAIL)]
    extra_details = max(0, len(found.details) - MAX_DETAILS)
    extra_warnings = max(0, len(found.warnings) - MAX_WARNINGS)
    long_text = any(len(w) > MAX_DETAIL for w in found.warnings) or (
        found.error is not None and len(found.error) > MAX_DETAIL
    )
    if not (cut or extra_details or extra_warnings or long_text):
        return found
    details = {key: _cut(value, _OWN_LIMITS.get(key, MAX_DETAIL)) for key, value in kept}
    warnings = [_cut(w, MAX_DETAIL) for w in found.warnings[:MAX_WARNINGS]]
    if extra_warnings:
        warnings.append(f"... and {extra_warnings} more warning(s)")
    if cut or extra_details:
        limits: dict[int, list[str]] = {}
        for key in cut:
            limits.setdefault(_OWN_LIMITS.get(key, MAX_DETAIL), []).append(key)
        shortened = "; ".join(
            f"{', '.join(keys)} cut to {limit} characters" for limit, keys in limits.items()
        )
        dropped = f"{extra_details} more detail(s) left out" if extra_details else ""
        warnings.append(
            "the answer is longer than a report keeps: "
            + "; ".join(part for part in (shortened, dropped) if part)
        )
    error = _cut(found.error, MAX_DETAIL) if found.error is not None else None
    return replace(found, details=details, warnings=tuple(warnings), error=error)


def _accept(found: object) -> Identifier | None:
    return cast(Identifier, found) if inspect.iscoroutinefunction(found) else None


#: every identifier, by the application protocol it checks (the ``app_protocol`` values of the
#: product model, plus a few verify uses on its own: ``smb``, ``ldap-gc``...): the built-ins,
#: imported only when used, and those of the entry-point group ``portplan.identifiers``
REGISTRY: PluginRegistry[Identifier] = PluginRegistry(
    "identifier",
    {
        "amqp": "portplan.probe.identify.amqp:identify_amqp",
        "dns": "portplan.probe.identify.dns:identify_dns",
        "http": "portplan.probe.identify.http:identify_http",
        "https": "portplan.probe.identify.http:identify_https",
        "ldap": "portplan.probe.identify.ldap:identify_ldap",
        "ldap-gc": "portplan.probe.identify.ldap:identify_ldap_gc",
        "ldaps": "portplan.probe.identify.ldap:identify_ldaps",
        "ldaps-gc": "portplan.probe.identify.ldap:identify_ldaps_gc",
        "msrpc": "portplan.probe.identify.msrpc:identify_msrpc",
        "ntp": "portplan.probe.identify.ntp:identify_ntp",
        "pop3": "portplan.probe.identify.mail:identify_pop3",
        "postgresql": "portplan.probe.identify.postgresql:identify_postgresql",
        "radius": "portplan.probe.identify.radius:identify_radius",
        "smb": "portplan.probe.identify.smb:identify_smb",
        "smtp": "portplan.probe.identify.mail:identify_smtp",
        "snmp": "portplan.probe.identify.snmp:identify_snmp",
        "ssh": "portplan.probe.identify.ssh:identify_ssh",
        "tds": "portplan.probe.identify.tds:identify_tds",
        "tls": "portplan.probe.identify.tls:identify_tls",
    },
    _accept,
)

#: the identifiers that speak UDP; every other one (an entry point's too) speaks TCP, and is
#: never run for a UDP port: a TCP service on the same port number proves nothing about it
UDP_IDENTIFIERS = frozenset({"dns", "ntp", "radius", "snmp"})
#: the identifiers that speak UDP only, never run for a TCP port: an answer over UDP proves
#: nothing about a TCP service on the same port number
UDP_ONLY = frozenset({"ntp", "radius", "snmp"})
#: the detail a UDP identifier sets once the port has answered, whatever the answer was (the
#: kind of answer): the port is reachable even when the answer proves nothing (a wrong secret)
ANSWER = "answer"
#: the details a UDP identifier sets when its request met an ICMP error (not a soft one): the
#: outcome it shows, judged as a probe's own datagram's is (``closed``: a port unreachable from
#: the destination; ``rejected``: a reject, by the destination, on the way or by this
#: machine's own firewall; ``no-route``...), the message, the errno and what it means
UNREACHABLE = "unreachable"
ICMP = "icmp"
ERRNO = "errno"
MEANING = "meaning"

_log = logging.getLogger("portplan")


async def identify(expected: str, context: ProbeContext) -> Identification | None:
    """Run the identifier for ``expected``; ``None`` if no identifier knows that protocol.

    What it found is :func:`bounded`, whoever wrote the identifier."""
    function = REGISTRY.find(expected)
    if function is None:
        return None
    try:
        found = await asyncio.wait_for(function(context), timeout=context.timeout)
    except TimeoutError:
        found = Identification(
            expected=expected,
            protocol=None,
            error=f"no complete answer within {context.timeout:g} s",
        )
    except OSError as exc:
        found = Identification(
            expected=expected, protocol=None, error=f"{type(exc).__name__}: {exc}"
        )
    except Exception as exc:  # the identifier's own failure: this check's, not the run's
        _log.debug("the %s identifier failed on port %s", expected, context.port, exc_info=True)
        found = Identification(
            expected=expected,
            protocol=None,
            error=f"the {expected} identifier failed: {type(exc).__name__}: {exc}",
        )
    return bounded(found)

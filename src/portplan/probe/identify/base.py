"""The identification contract shared by every protocol module."""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import cast

from portplan._plugins import PluginRegistry

__all__ = [
    "REGISTRY",
    "UDP_IDENTIFIERS",
    "Identification",
    "Identifier",
    "OpenConnection",
    "ProbeContext",
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
    secrets: Mapping[str, bytes] = field(default_factory=dict)  #: e.g. {"radius": b"secret"}
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


def _accept(found: object) -> Identifier | None:
    return cast(Identifier, found) if inspect.iscoroutinefunction(found) else None


#: every identifier, by the application protocol it checks (the ``app_protocol`` values of the
#: product model, plus a few verify uses on its own: ``smb``, ``ldap-gc``...): the built-ins,
#: imported only when used, and those of the entry-point group ``portplan.identifiers``
REGISTRY: PluginRegistry[Identifier] = PluginRegistry(
    "identifier",
    {
        "amqp": "portplan.probe.identify.amqp:identify_amqp",
        "http": "portplan.probe.identify.http:identify_http",
        "https": "portplan.probe.identify.http:identify_https",
        "ldap": "portplan.probe.identify.ldap:identify_ldap",
        "ldap-gc": "portplan.probe.identify.ldap:identify_ldap_gc",
        "ldaps": "portplan.probe.identify.ldap:identify_ldaps",
        "ldaps-gc": "portplan.probe.identify.ldap:identify_ldaps_gc",
        "msrpc": "portplan.probe.identify.msrpc:identify_msrpc",
        "pop3": "portplan.probe.identify.mail:identify_pop3",
        "postgresql": "portplan.probe.identify.postgresql:identify_postgresql",
        "radius": "portplan.probe.identify.radius:identify_radius",
        "smb": "portplan.probe.identify.smb:identify_smb",
        "smtp": "portplan.probe.identify.mail:identify_smtp",
        "tds": "portplan.probe.identify.tds:identify_tds",
        "tls": "portplan.probe.identify.tls:identify_tls",
    },
    _accept,
)

#: the identifiers that speak UDP; every other one (an entry point's too) speaks TCP, and is
#: never run for a UDP port: a TCP service on the same port number proves nothing about it
UDP_IDENTIFIERS = frozenset({"radius"})

_log = logging.getLogger("portplan")


async def identify(expected: str, context: ProbeContext) -> Identification | None:
    """Run the identifier for ``expected``; ``None`` if no identifier knows that protocol."""
    function = REGISTRY.find(expected)
    if function is None:
        return None
    try:
        return await asyncio.wait_for(function(context), timeout=context.timeout)
    except TimeoutError:
        return Identification(
            expected=expected,
            protocol=None,
            error=f"no complete answer within {context.timeout:g} s",
        )
    except OSError as exc:
        return Identification(
            expected=expected, protocol=None, error=f"{type(exc).__name__}: {exc}"
        )
    except Exception as exc:  # the identifier's own failure: this check's, not the run's
        _log.debug("the %s identifier failed on port %s", expected, context.port, exc_info=True)
        return Identification(
            expected=expected,
            protocol=None,
            error=f"the {expected} identifier failed: {type(exc).__name__}: {exc}",
        )

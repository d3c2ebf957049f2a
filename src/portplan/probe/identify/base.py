"""The identification contract shared by every protocol module."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["IDENTIFIERS", "Identification", "Identifier", "ProbeContext", "identify", "register"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeContext:
    """Where and how to talk to the service."""

    address: str  #: IP address (text) to connect to
    port: int
    timeout: float = 3.0  #: for the whole exchange
    server_name: str | None = None  #: TLS SNI / certificate name to expect, if known
    source_address: str | None = None  #: bind the local end to this address
    secrets: Mapping[str, bytes] = field(default_factory=dict)  #: e.g. {"radius": b"secret"}


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

#: app_protocol -> identifier coroutine function
IDENTIFIERS: dict[str, Identifier] = {}

# Modules that register identifiers when imported (kept lazy: verification alone does not
# need them loaded).
_MODULES: tuple[str, ...] = (
    "portplan.probe.identify.tls",
    "portplan.probe.identify.http",
    "portplan.probe.identify.mail",
    "portplan.probe.identify.postgresql",
    "portplan.probe.identify.amqp",
    "portplan.probe.identify.ldap",
    "portplan.probe.identify.smb",
    "portplan.probe.identify.msrpc",
    "portplan.probe.identify.tds",
    "portplan.probe.identify.radius",
)


def register(*protocols: str) -> Callable[[Identifier], Identifier]:
    """Register an identifier: ``@register("smtp")`` on ``async def f(ctx) -> Identification``."""

    def wrap(function: Identifier) -> Identifier:
        for protocol in protocols:
            IDENTIFIERS[protocol] = function
        return function

    return wrap


def _load_all() -> None:
    for module in _MODULES:
        importlib.import_module(module)


async def identify(expected: str, context: ProbeContext) -> Identification | None:
    """Run the identifier for ``expected``; ``None`` if no identifier knows that protocol."""
    _load_all()
    function = IDENTIFIERS.get(expected)
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

"""Protocol identification: what answers on a port, checked against what the plan expects.

Each identifier is a small async exchange written from the protocol's RFC or specification
(nmap's payload files are not licensed for this).  It returns an :class:`Identification`; it
never raises for what the peer does (garbage, silence, a reset): those are findings.

Identifiers are found in :data:`REGISTRY` by the application protocol they check (the
``app_protocol`` values of the product model, plus a few the verifier uses on its own: ``smb``,
``ldap-gc``...); other packages add theirs under the entry-point group ``portplan.identifiers``.
:func:`identify` runs the one the plan names, and :func:`bounded` keeps what it found to a size a
report can carry.  Identifiers speak TCP, but those named in
:data:`UDP_IDENTIFIERS` (those in :data:`UDP_ONLY` never for a TCP port).
"""

from __future__ import annotations

from portplan.probe.identify.base import (
    ANSWER,
    ERRNO,
    ICMP,
    MEANING,
    REGISTRY,
    UDP_IDENTIFIERS,
    UDP_ONLY,
    UNREACHABLE,
    Identification,
    Identifier,
    OpenConnection,
    ProbeContext,
    bounded,
    identify,
)

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

"""What a probe needs to know of the planned row it verifies.

A :class:`~portplan.probe.verify.FlowCheck` holds its row: on the machine that planned it, a
:class:`~portplan.plan.PlannedFlow`; on a managed host probing for ``portplan verify
--inventory`` (the Ansible collection's ``probe`` module), a :class:`RemoteRow` rebuilt from
the module's arguments, because the host has the plan's facts but not the plan (nor
pydantic).  :class:`CheckRow` is what both offer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Container
from dataclasses import dataclass
from typing import Protocol as _Protocol

from portplan.model.protocol import Protocol

__all__ = ["CheckRow", "PortRanges", "RemoteRow"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class CheckRow(_Protocol):
    """The facts of a planned row that probing it and reporting on it read."""

    @property
    def key(self) -> str: ...  # the flow id: ``product/flow``, ``/ingress``...

    @property
    def reference(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def destination(self) -> str: ...

    @property
    def destination_component(self) -> str: ...

    @property
    def destination_addresses(self) -> tuple[_Network, ...]: ...

    @property
    def protocol(self) -> Protocol: ...

    @property
    def ports(self) -> Container[int]: ...  # every port the plan holds for the row

    @property
    def app_protocol(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class PortRanges:
    """Every port of a planned row, as inclusive ranges (first, last)."""

    ranges: tuple[tuple[int, int], ...]

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and any(a <= port <= b for a, b in self.ranges)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteRow:
    """A planned row as a managed host learns it from the ``probe`` module's arguments."""

    key: str
    reference: str
    source: str
    destination: str
    destination_component: str
    destination_addresses: tuple[_Network, ...]
    protocol: Protocol
    app_protocol: str | None
    ports: PortRanges  #: every port the plan holds for the row (probed ones may be a sample)

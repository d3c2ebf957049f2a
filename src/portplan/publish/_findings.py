"""What an overlay says about the flows of a plan: findings, each naming the rows it is about,
a status and its evidence; and the checked reading of the JSON document they come from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from portplan._errors import OverlayError
from portplan.publish._model import Status

__all__ = ["Document", "Finding", "Overlay", "OverlayReader", "Probe"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Probe:
    """What a probe sent: the facts a finding of ``verify`` rests on."""

    port: int | None  #: the port probed; ``None``: an ICMP echo request
    address: str | None  #: the destination address; ``None``: a name that did not resolve
    dns_name: str | None  #: the destination's name, when it was reached by name
    source_address: str | None  #: the address it was sent from; ``None``: the kernel's choice
    #: what ``dns_name`` resolved to when it was probed; ``None``: the document does not say
    resolved: tuple[str, ...] | None = None
    #: a source known by name only: its name, and what it resolved to where the probe was
    #: sent (``source_address`` is one of them); ``None``: the document does not say
    source_name: str | None = None
    source_resolved: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One thing a results document says about a flow (or some of its rows)."""

    flow: str  #: the flow's id as the plan's rows name it: ``product/flow`` (``/ingress``...)
    source: str | None  #: the source host it is about; ``None``: every source
    destination: str | None  #: the destination host; ``None``: every destination
    protocol: str | None  #: ``tcp`` or ``udp``; ``None``: both
    status: Status
    outcome: str  #: in a word or two: ``open``, ``filtered``, ``not probed``
    evidence: str  #: what it rests on, on one line
    probe: Probe | None = None  #: what was probed, when the finding is a probe's outcome
    #: a probe of a connection the plan does *not* hold (``verify --expect-blocked``): it is
    #: about what must stay blocked, so it passes no row, whichever row it names
    expected_blocked: bool = False

    def matches(self, key: str, source: str, destination: str, protocol: str) -> bool:
        """Whether the finding is about the plan row with these values."""
        return (
            key == self.flow
            and self.source in (None, source)
            and self.destination in (None, destination)
            and self.protocol in (None, protocol)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Overlay:
    """The findings of one results document."""

    kind: str  #: the document's kind: ``verify``
    title: str  #: what the report calls it: ``Verification``
    origin: str  #: the file it was read from
    summary: str  #: ``12 passed, 1 failed, 2 not probed``
    findings: tuple[Finding, ...]
    #: the deployment the results are of, where the document says (``None``: it does not)
    deployment: str | None = None
    #: the digest of the plan the results are of (:func:`~portplan.plan.plan_digest`), where
    #: the document says (``None``: it does not)
    plan_digest: str | None = None


class Document:
    """A results document being read: typed access to its fields, and errors that name the
    file and the field (``verify.json: checks[3].port is missing``)."""

    def __init__(self, data: Mapping[str, Any], origin: str) -> None:
        self.data = data
        self.origin = origin

    def fail(self, where: str, problem: str) -> OverlayError:
        return OverlayError(
            f"{self.origin}: {where} {problem}; is it the unedited output of the command?"
        )

    def get(
        self, item: Mapping[str, Any], key: str, types: type | tuple[type, ...], where: str
    ) -> Any:
        """``item[key]``, which must be of ``types`` (``type(None)`` among them if optional)."""
        if key not in item:
            raise self.fail(f"{where}.{key}" if where else key, "is missing")
        value = item[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _tuple(types)):
            raise self.fail(f"{where}.{key}" if where else key, f"is {type(value).__name__}")
        return value

    def items(self, key: str) -> Sequence[tuple[str, Mapping[str, Any]]]:
        """The objects of the list ``key`` at the top, each with where it stands."""
        values = self.get(self.data, key, list, "")
        out = []
        for index, value in enumerate(values):
            if not isinstance(value, dict):
                raise self.fail(f"{key}[{index}]", "is not an object")
            out.append((f"{key}[{index}]", value))
        return out


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


class OverlayReader(Protocol):
    """Reads one kind of results document into an :class:`Overlay`."""

    #: the document ``kind`` it reads, and what the report calls its findings
    kind: str
    title: str
    #: the ``format_version`` majors it understands
    majors: frozenset[int]
    #: how the user makes such a document (for messages)
    made_by: str

    def read(self, document: Document) -> Overlay: ...

"""What every flow drafted from one row of a vendor's table shares (:mod:`.draft`).

The row's purpose and service, its application protocol and TLS, its condition (the features
a deployment turns on, from condition columns and matrices of marks), whether its ports are
configurable, its notes, the cells kept as text, its interface, and its provenance (file,
table, row and every cell as written).  Its ends and ports, which differ between its flows,
are the drafting's (:mod:`.draft`, :mod:`._draftports`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from portplan._text import one_line
from portplan.importer._names import Ids, slug
from portplan.importer.columns import Field
from portplan.importer.interpret import ImportedRow, TableReading
from portplan.importer.protocols import STANDARD_TRANSPORTS, NamedProtocol, named_protocols
from portplan.model.product import AppProtocol, Interface

__all__ = ["KEPT_AS_TEXT", "flow_fields"]

_YES = frozenset({"yes", "y", "required", "mandatory", "always", "true", "x", "✓"})
_NO = frozenset({"no", "n", "false", "fixed"})
_INTERFACES = {
    "external": Interface.EXTERNAL,
    "internal": Interface.INTERNAL,
    "internal and external": Interface.INTERNAL_AND_EXTERNAL,
    "internal/external": Interface.INTERNAL_AND_EXTERNAL,
    "internal or external": Interface.INTERNAL_OR_EXTERNAL,
}
_TLS = frozenset({"https", "ldaps", "tls", "ssl", "smtps", "imaps", "pop3s", "ftps", "amqps"})
#: names of an application protocol's versions and of what runs over it, by the protocol verify
#: identifies them by: versions that speak it over TCP (HTTP/3 is QUIC, over UDP), and the
#: file transfers over SSH (SFTP is not FTPS: no TLS)
_SPOKEN_AS = {
    "http/1.0": "http",
    "http/1.1": "http",
    "http/2": "http",
    "sftp": "ssh",
    "scp": "ssh",
}
_IDENTIFIED = frozenset(AppProtocol.__members__.values())
#: every protocol name the reader knows: one verify identifies, or one with a standard transport
_PROTOCOLS = _IDENTIFIED | STANDARD_TRANSPORTS.keys()
#: versions verify's identifier of the protocol does not speak: a server that speaks only
#: SNMPv1 answers neither SNMPv3's discovery nor an SNMPv2c request; TDS 4.2 and 5.0 are
#: Sybase's (SAP ASE), which has no answer to SQL Server's PRELOGIN (MS-TDS, TDS 7 and later)
_UNSPOKEN = frozenset(
    {NamedProtocol("snmp", "1")}
    | {NamedProtocol("tds", version) for version in ("4", "4.2", "5", "5.0")}
)
#: fields the model keeps as the flow's own text: who needs access, where it leaves from
KEPT_AS_TEXT = (Field.ACCESS, Field.SOURCE_PORT)


def flow_fields(
    row: ImportedRow,
    reading: TableReading,
    purpose: str,
    service: str | None,
    applications: tuple[str, ...],
    descriptions: tuple[str, ...],
    *,
    file: str,
    feature_ids: Ids,
    features: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """What every flow of the row shares: purpose, service, condition, notes, columns; the
    features its condition names are added to ``features`` (their ids from ``feature_ids``)."""
    flow: dict[str, Any] = {"purpose": purpose}
    if service or applications:
        flow["service"] = service or ", ".join(applications)
    protocols = {p for a in applications for p in named_protocols(a, _PROTOCOLS)}
    known = {_SPOKEN_AS.get(p.name, p.name) for p in protocols}
    # one protocol verify can identify, or none: of `HTTP/HTTPS` neither holds on every port,
    # nor does SSH of `SSH/Telnet`, though verify identifies no Telnet (a protocol the reader
    # knows by name is a second protocol all the same), nor SNMP of `SNMPv1`, a version its
    # identifier does not speak
    named = {_SPOKEN_AS.get(p.name, p.name) for p in protocols - _UNSPOKEN} & _PROTOCOLS
    named |= {f"{p.name}v{p.version}" for p in protocols & _UNSPOKEN}
    if {"ssl", "tls"} <= named:  # `SSL/TLS`: one protocol by its two names
        named.discard("ssl")
    if len(named) == 1 and (only := named.pop()) in _IDENTIFIED:
        flow["app_protocol"] = only
    if known & _TLS:
        flow["tls"] = True
    if row.direction is not None and row.direction.loopback:
        flow["loopback"] = True
    _condition(row, purpose or service or "", flow, feature_ids, features)
    _configurable(row, flow)
    notes = [one_line(d) for d in descriptions[1:]]
    notes += [one_line(t) for t in row.texts(Field.NOTES)]
    if row.direction is not None:
        notes += row.direction.notes
    if notes:
        flow["notes"] = notes
    columns = {
        v.heading: one_line(v.text)
        for v in row.values
        if v.field in (*KEPT_AS_TEXT, Field.EXTRA) and v.text
    }
    for value in row.of(Field.INTERFACE):
        interface = _INTERFACES.get(" ".join(value.text.lower().split()))
        if interface is not None:
            flow["interface"] = interface.value
        elif value.text:
            columns[value.heading] = one_line(value.text)
    if columns:
        flow["columns"] = columns
    cells = {
        reading.table.columns[i] if i < len(reading.table.columns) else f"column {i + 1}": c.text
        for i, c in enumerate(row.row.cells)
        if c.text
    }
    flow["origin"] = {
        "file": Path(file).name,
        "table": reading.table.title,
        "row": row.number,
        "cells": cells,
    }
    return flow


def _condition(
    row: ImportedRow,
    about: str,
    flow: dict[str, Any],
    feature_ids: Ids,
    features: dict[str, dict[str, Any]],
) -> None:
    """The row's condition: each condition column's feature, and, of a matrix of marks,
    any of the columns it is marked in; all of them must hold."""
    marked: list[str] = []
    required: list[str] = []
    values = [(v, " ".join(v.text.lower().split()).rstrip(".")) for v in row.of(Field.CONDITION)]
    texts = sum(not v.role.marks and bool(said) and said not in _YES for v, said in values)
    for value, said in values:
        if value.role.marks:  # a matrix column: a marked row applies where its heading says
            if said:
                ident = feature_ids(value.heading, limit=32)
                features.setdefault(ident, {"description": one_line(value.heading)})
                marked.append(ident)
            continue
        if not said or said in _YES:
            continue
        # named after what the row is for; of several conditions, each after its own text
        ident = feature_ids(f"{about if texts == 1 and about else value.text}", limit=32)
        features.setdefault(
            ident,
            {"description": one_line(f"{value.heading}: {value.text}. {about}").strip()},
        )
        required.append(ident)
    if marked:  # marked in several columns: where any of them applies
        either = " or ".join(marked)
        required.append(f"({either})" if len(marked) > 1 and required else either)
    if required:
        flow["condition"] = " and ".join(dict.fromkeys(required))


def _configurable(row: ImportedRow, flow: dict[str, Any]) -> None:
    texts = row.texts(Field.CONFIGURABLE)
    settings = row.texts(Field.PARAMETER)
    if not texts and not settings:
        return
    said = one_line(" ".join(texts))
    first = slug(said.split(",")[0].split(".")[0]) if said else ""
    kind = "yes" if first in _YES else "no" if first in _NO else "unspecified"
    if settings:
        kind = "yes" if kind == "unspecified" else kind
        said = "; ".join(filter(None, (said, "set by " + ", ".join(map(one_line, settings)))))
    configurable: dict[str, Any] = {"kind": kind}
    if said and said.lower().rstrip(".") not in (first, "yes", "no"):
        configurable["note"] = said
    flow["configurable"] = configurable

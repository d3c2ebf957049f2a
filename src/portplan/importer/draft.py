"""A vendor document as read, turned into a draft product: the second half of ``portplan import``.

:func:`draft_product` makes one section per table (its title and the text before it), one
component per name the tables use (DNS names and URLs as external systems reached by name),
and one flow per row and transport, each carrying its provenance (:class:`~portplan.model.
Origin`: file, table, row and every cell as written).  What it cannot put in the model is added
to the reading's unread list as ``file:line:column: what``: a row that names no port, dynamic
ports, an outbound row that names no destination (its flow goes to a component that says so).
The draft validates as a product; a person reviews it (names, conditions, proxies) before use.
What every flow of a row shares (purpose, condition, configurable, provenance) is made by
:mod:`._draftflow`; its ports by :mod:`._draftports`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portplan._errors import DraftError
from portplan._text import one_line
from portplan.importer._draftflow import KEPT_AS_TEXT, flow_fields
from portplan.importer._draftports import Part, PortProblem, parts_of
from portplan.importer._ends import ANY_NAME, UNNAMED, Ends, ends_of
from portplan.importer._names import Ids, footnote_marks, is_dns_name, slug
from portplan.importer._tables import Where
from portplan.importer.columns import Field
from portplan.importer.interpret import Import, ImportedRow, TableReading, Unread
from portplan.load.product import read_product
from portplan.load.yamlout import dump_data
from portplan.model.ports import PortRange
from portplan.model.product import ANY, Product

__all__ = ["Draft", "draft_product", "draft_yaml"]

_UNNAMED_ID = "unnamed_destination"
#: the fields whose cells name systems
_END_FIELDS = (Field.SOURCE, Field.DESTINATION, Field.SUBCOMPONENT, Field.PEER, Field.COMPONENT)
_NUMBERED = re.compile(r"^(?:table|figure|tab\.|fig\.)\s*[\d.]+\s*[:.-]?\s*", re.IGNORECASE)


def _columns(reading: TableReading) -> dict[str, Any]:
    """The table's mapped headings and what each holds, for ``show`` to write it back."""
    columns: dict[str, Any] = {}
    for heading, role in zip(reading.table.columns, reading.roles, strict=False):
        if role is None or not heading or heading in columns:
            continue
        # the model keeps these as the flow's own text: who needs access, where it leaves from
        field = "extra" if role.field in KEPT_AS_TEXT else role.field.value
        columns[heading] = (
            {"field": field, "protocol": role.protocol.value} if role.protocol else field
        )
    return columns


def _same_headings(reading: TableReading) -> list[tuple[Where, str, str]]:
    """Each mapped column whose heading an earlier mapped column has too (VMware's ``Source |
    Port | Target | Port``): the draft keys columns by heading, and would drop it unsaid."""
    table = reading.table
    seen: dict[str, int] = {}
    found = []
    for index, (heading, role) in enumerate(zip(table.columns, reading.roles, strict=False)):
        if role is None or not heading:
            continue
        if heading not in seen:
            seen[heading] = index
            continue
        cells = [c for row in table.header for c in row if c.column == index + 1]
        where = (cells[-1].origin or cells[-1].where) if cells else table.where
        message = (
            f"columns {seen[heading] + 1} and {index + 1} are both headed {heading!r}: the "
            "draft names a column by its heading, so its columns and each flow's origin keep "
            "one of them; give one another heading in the draft"
        )
        found.append((where, heading, message))
    return found


def _heading_over_all(tables: tuple[TableReading, ...]) -> str | None:
    """The top heading every table stands under, if one does: the document's own title. The
    first table's top heading is no title when a later table stands under another (``##
    Control plane`` then ``## Nodes``, no ``#`` above them): it names that table's listeners.
    A tab, which ends the section of a table in it, is no heading: it names one choice."""
    tops = set()
    for reading in tables:
        table = reading.table
        headings = table.section[:-1] if table.tab is not None else table.section
        tops.add(headings[0] if headings else None)
    return tops.pop() if len(tops) == 1 else None


def _listed(value: Any) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def _one(texts: tuple[str, ...]) -> str | None:
    return one_line(" ".join(texts)) or None


class _Builder:
    def __init__(self, reading: Import, product_id: str, name: str, version: str) -> None:
        self.reading = reading
        self.file = reading.document.file
        self.name = name
        self.components: dict[str, dict[str, Any]] = {}
        self.component_ids = Ids(taken=(ANY, _UNNAMED_ID))
        self.section_ids = Ids()
        self.parameter_ids = Ids()
        #: (words, (default, allowed)) -> parameter id
        self.parameter_keys: dict[tuple[str, tuple[tuple[Any, ...], tuple[Any, ...]]], str] = {}
        self.feature_ids = Ids()
        self.sections: list[dict[str, Any]] = []
        self.features: dict[str, dict[str, Any]] = {}
        #: each set of tabs → its feature (an id of its own: a condition of the same name,
        #: a feature that is on or off, is another feature), and that feature's choices' ids
        self.tab_features: dict[str, str] = {}
        self.tab_ids: dict[str, Ids] = {}
        self.parameters: dict[str, dict[str, Any]] = {}
        self.flows: list[dict[str, Any]] = []
        self.named: set[str] = set()  #: the components rows name, flows made or not
        self.unread: list[Unread] = list(reading.unread)
        self.unread_at = {str(u.where) for u in self.unread}  #: where they stand, to look up
        self.main = self.component(name)
        self.data: dict[str, Any] = {"id": product_id, "name": name, "version": version}

    # -- names ------------------------------------------------------------------------------

    def component(self, name: str, parent: str | None = None) -> str:
        """The component ``name`` stands for; with ``parent``, the part of that name of the
        component ``parent``: the component of that name, unless it is a part of another
        component already (Identity Manager's Admin is not Physical Access's), when it is a
        component of its own.  A cell that names the part in full ("Identity Manager
        Operator") is the same component."""
        if parent is not None:
            main = self.component(parent)
            ident = self.component(name)
            owner = self.components[ident].get("parent")
            if owner == main or (owner is None and ident not in self._lineage(main)):
                self.components[ident]["parent"] = main
            else:
                ident = self.component_ids(f"{parent} {name}")
                self.components.setdefault(ident, {"name": name, "parent": main})
            self.component_ids.alias(f"{parent} {name}", ident)
            return ident
        if name == ANY_NAME:
            return ANY
        if name == UNNAMED:
            self.components.setdefault(
                _UNNAMED_ID,
                {
                    "name": "Destination the document does not name",
                    "kind": "external",
                    "description": "an outbound row names no destination: name it here",
                },
            )
            return _UNNAMED_ID
        ident = self.component_ids(name)
        if ident not in self.components:
            entry: dict[str, Any] = {"name": name}
            if is_dns_name(name):
                entry["kind"] = "external"
                entry["description"] = (
                    "reached by its DNS name or URL: place it on a host that has only 'dns_name'"
                )
            self.components[ident] = entry
        return ident

    def _lineage(self, ident: str) -> list[str]:
        """``ident`` and the components it is a part of, nearest first."""
        chain = [ident]
        while (up := self.components.get(chain[-1], {}).get("parent")) and up not in chain:
            chain.append(up)
        return chain

    def parameter(
        self,
        words: str,
        default: tuple[PortRange, ...] | None,
        allowed: tuple[PortRange, ...],
        description: str,
    ) -> str:
        entry: dict[str, Any] = {"description": one_line(description) or words}
        if default:
            entry["default"] = [str(r) for r in default]
        if allowed:
            entry["allowed"] = [str(r) for r in allowed]
        return self._parameter(words, entry)

    def _parameter(self, words: str, entry: dict[str, Any]) -> str:
        """The parameter ``words`` names, reused only where its ports are the same: two rows
        of one service on different ports (50070 and 50470) get two parameters."""
        ports = (tuple(entry.get("default", ())), tuple(entry.get("allowed", ())))
        key = (" ".join(words.lower().split()), ports)
        ident = self.parameter_keys.get(key)
        if ident is None:
            ident = self.parameter_ids.fresh(words)
            self.parameter_keys[key] = ident
            self.parameters[ident] = entry
        return ident

    def note_unread(self, row: ImportedRow, field: Field | None, message: str) -> None:
        values = row.of(field) if field is not None else ()
        cell = values[0].cell if values else row.row.cells[0] if row.row.cells else None
        # said of the whole row: where the row is, not a cell spanned into it from above
        where = (cell.origin or cell.where) if cell is not None and values else row.row.where
        heading = values[0].heading if values else ""
        self.unread.append(
            Unread(where=where, column=heading, text=cell.text if cell else "", message=message)
        )
        self.unread_at.add(str(where))

    # -- tables and rows --------------------------------------------------------------------

    def build(self) -> dict[str, Any]:
        notes_after: list[str] = []
        for reading in self.reading.tables:
            self.table(reading)
            notes_after.extend(reading.table.notes_after)
        tables = self.reading.tables
        title = _heading_over_all(tables) or self.name
        document: dict[str, Any] = {"title": title, "source": Path(self.file).name}
        if notes_after:
            document["notes"] = notes_after
        self.data["document"] = document
        self.data["sections"] = self.sections
        used = self.named | {
            c for f in self.flows for key in ("from", "to") for c in _listed(f.get(key))
        }
        used |= {up for c in used for up in self._lineage(c)}  # and what they are parts of
        self.data["components"] = {k: v for k, v in self.components.items() if k in used}
        if self.features:
            self.data["features"] = self.features
        if self.parameters:
            self.data["parameters"] = self.parameters
        self.data["flows"] = self.flows
        return self.data

    def table(self, reading: TableReading) -> None:
        table = reading.table
        title = table.title or " > ".join(table.section) or f"Table {table.number}"
        section: dict[str, Any] = {"id": self.section_ids.fresh(title), "title": title}
        if table.notes:
            section["note"] = "\n".join(table.notes)
        if table.tab is not None:  # one of several tabs: the table holds where it is chosen
            feature = self.tab_features.get(table.tab.group)
            if feature is None:
                feature = self.feature_ids.fresh(table.tab.group, limit=32)
                self.tab_features[table.tab.group] = feature
            choices = self.features.setdefault(
                feature,
                {
                    "description": one_line(
                        f"Which of the tabs {table.tab.group!r} applies; the tables of the "
                        "others do not"
                    ),
                    "choices": [],
                },
            )["choices"]
            choice = self.tab_ids.setdefault(feature, Ids())(table.tab.value, 32)
            if choice not in choices:
                choices.append(choice)
            section["condition"] = f"{feature} == {choice}"
        columns = _columns(reading)
        if columns:
            section["columns"] = columns
        for where, text, message in _same_headings(reading):
            self.unread.append(Unread(where=where, column=text, text=text, message=message))
        self.sections.append(section)
        for row in reading.rows:
            self.row(reading, section["id"], row)

    def row(self, reading: TableReading, section: str, row: ImportedRow) -> None:
        if row.category:  # the reading listed it: a heading inside the table, no flow
            return
        descriptions = row.texts(Field.DESCRIPTION)
        purpose = one_line(descriptions[0]) if descriptions else ""
        service = _one(row.texts(Field.SERVICE))
        protocols = next((v.protocols for v in row.of(Field.PROTOCOL) if v.protocols), None)
        applications = protocols.applications if protocols else ()
        ends = ends_of(reading, row, self.name)
        self.named.update(self.component(n, up) for n, up in ends.names())
        if ends.problem is not None:
            self.note_unread(row, ends.at, ends.problem)
            return
        self._marked_ends(row)
        listening = [(v.heading, v.ports) for v in row.of(Field.PORT) if v.ports is not None]
        published = [
            (v.heading, v.ports) for v in row.of(Field.PUBLISHED_PORT) if v.ports is not None
        ]
        parts, problems = parts_of(
            listening,
            published,
            purpose=purpose or service or section,
            new_parameter=self.parameter,
        )
        for problem in problems:
            self._port_problem(row, problem)
        if not parts:
            if not problems and not self._reported(row):
                self.note_unread(row, Field.PORT, "the row names no port: model it by hand")
            return
        if ends.missing is not None:
            self.note_unread(
                row,
                Field.DIRECTION,
                f"the row is outbound from {ends.missing!r} but names no destination: the "
                f"draft sends it to {_UNNAMED_ID!r}; name the system it reaches",
            )
        base = flow_fields(
            row,
            reading,
            purpose,
            service,
            applications,
            descriptions,
            file=self.file,
            feature_ids=self.feature_ids,
            features=self.features,
        )
        if protocols is not None and protocols.notes:  # UDP (optional): kept, never dropped
            base.setdefault("notes", []).extend(one_line(n) for n in protocols.notes)
        if protocols is not None and protocols.either:
            base.setdefault("notes", []).append(
                f"the vendor writes {one_line(protocols.text)!r}: one of these is used; each "
                "is a flow here"
            )
        self._flows(section, row, ends, parts, base)

    def _marked_ends(self, row: ImportedRow) -> None:
        """Report each end named with a footnote mark (``Hybrid MMR-2*``): its note may make
        the row conditional, and the draft cannot read it."""
        for value in row.values:
            if value.field in _END_FIELDS:
                for name, mark in footnote_marks(value.text):
                    where = value.cell.origin or value.cell.where
                    self.unread.append(
                        Unread(
                            where=where,
                            column=value.heading,
                            text=value.text,
                            message=f"column {value.heading!r}: {name!r} carries the footnote "
                            f"mark {mark!r}: the note it points to is not read (a condition, an "
                            "exception?) and the draft applies the row always; read the note "
                            "into the flow by hand",
                        )
                    )
                    self.unread_at.add(str(where))

    def _reported(self, row: ImportedRow) -> bool:
        """Whether the reading already reported a cell of the row's ports or protocol."""
        places = {
            str(v.cell.origin or v.cell.where)
            for v in row.values
            if v.field in (Field.PORT, Field.PUBLISHED_PORT, Field.PROTOCOL)
        }
        return not places.isdisjoint(self.unread_at)

    def _port_problem(self, row: ImportedRow, problem: PortProblem) -> None:
        field = next(
            (v.field for v in row.values if v.heading == problem.heading),
            Field.PORT,
        )
        self.note_unread(row, field, problem.message)

    def _flows(
        self,
        section: str,
        row: ImportedRow,
        ends: Ends,
        parts: list[Part],
        base: dict[str, Any],
    ) -> None:
        made = [
            (pair, traffic, part)
            for pair, traffic in zip(ends.pairs, ends.traffic, strict=True)
            for part in parts
        ]
        for index, ((sources, destinations), traffic, part) in enumerate(made, start=1):
            flow: dict[str, Any] = {
                "id": f"{section}-{row.number}" + (f"-{index}" if len(made) > 1 else ""),
                "section": section,
                "row": row.number,
            }
            if len(made) > 1:
                flow["part"] = index
            parents = dict(ends.parents)
            from_ids = list(dict.fromkeys(self.component(n, parents.get(n)) for n in sources))
            to_ids = list(dict.fromkeys(self.component(n, parents.get(n)) for n in destinations))
            if ANY in to_ids:
                self.note_unread(
                    row, Field.DESTINATION, "the row goes to any system: name the listener"
                )
                return
            if from_ids != [ANY]:
                flow["from"] = from_ids if len(from_ids) > 1 else from_ids[0]
            flow["to"] = to_ids if len(to_ids) > 1 else to_ids[0]
            if traffic is not None:
                flow["traffic"] = traffic
            flow["protocol"] = part.protocol.value
            if part.ports:
                flow["ports"] = self._named(part, base)
            if part.published:
                flow["published"] = {"ports": part.published}
            if part.icmp:
                flow["icmp"] = part.icmp
            flow.update(base)
            if part.notes:
                flow["notes"] = [*base.get("notes", ()), *part.notes]
            self.flows.append(flow)

    def _named(self, part: Part, flow: dict[str, Any]) -> list[Any]:
        """A configurable row's port numbers become a parameter a deployment may override."""
        configurable = flow.get("configurable", {})
        if configurable.get("kind") != "yes" or any(
            isinstance(p, str) and p in self.parameters for p in part.ports
        ):
            return part.ports
        about = flow.get("service") or flow["purpose"] or flow["section"]
        entry: dict[str, Any] = {
            "description": one_line(f"{part.protocol.value.upper()} port of: {about}"),
            "default": [str(p) for p in part.ports],
        }
        if configurable.get("note"):
            entry["how"] = configurable["note"]
        return [self._parameter(f"{about} {part.protocol.value} port", entry)]


def draft_product(
    reading: Import,
    *,
    product_id: str | None = None,
    name: str | None = None,
    version: str | None = None,
) -> tuple[dict[str, Any], tuple[Unread, ...]]:
    """The draft product of a reading, as the data of a product file, and every cell the
    reading or the drafting could not say (the reading's own unread cells first)."""
    stem = Path(reading.document.file).stem
    tables = reading.tables
    title = _heading_over_all(tables)
    if title is not None:  # a caption's number names nothing: "Table 2.1. Ports to open..."
        title = _NUMBERED.sub("", title) or title
    builder = _Builder(
        reading,
        product_id or slug(stem).replace("_", "-"),
        name or title or stem,
        version or "unspecified",
    )
    data = builder.build()
    return data, tuple(builder.unread)


@dataclass(frozen=True, slots=True)
class Draft:
    """A draft product file's text, how many flows it holds, and what could not be read."""

    text: str
    flows: int
    unread: tuple[Unread, ...]


def draft_yaml(
    reading: Import,
    *,
    product_id: str | None = None,
    name: str | None = None,
    version: str | None = None,
    file: str = "product.yaml",
) -> Draft:
    """:func:`draft_product` as the text of a product file, checked as ``portplan validate``
    checks one (``file`` names it in messages); :class:`DraftError` if it does not validate."""
    data, unread = draft_product(reading, product_id=product_id, name=name, version=version)
    written = Product.model_validate(data).model_dump(
        mode="json", by_alias=True, exclude_defaults=True
    )
    for flow in written.get("flows", ()):
        for key in ("from", "to"):  # one component is written without a list
            if isinstance(flow.get(key), list) and len(flow[key]) == 1:
                flow[key] = flow[key][0]
    text = dump_data(written)
    product, _source, problems = read_product(Path(file), text)
    if product is None or problems:
        raise DraftError(problems)
    return Draft(text=text, flows=len(product.flows), unread=unread)

"""Who connects to whom in one imported row: the pairs of (sources, destinations) it says.

A cell of systems that is prose (a paragraph, :func:`.is_paragraph`) makes no pair: the row
is reported.  The shapes vendors use, in the order they are tried:

- a section title with an arrow (``Client --> Management point``): left to right, or both;
- From/To (Source/Destination) columns: the source connects to the destination; a direction
  cell may turn it round (``<-``) or make it two-way (``2-way? Y``);
- a peer column (``Product``, ``Incoming Ports``) with a direction: inbound rows come from the
  peer to the row's component (its Component column, else the product), outbound rows go
  from it to the peer, two-way rows both;
- a listener list (Port, Protocol, Description; perhaps Servers or Component): any client
  reaches the row's component on the port; an outbound row names no one it goes to, which the
  draft says (:attr:`Ends.missing`), and one whose component is a DNS name or URL (``Host:
  callhome.f5.com``, the system reached) makes no pair; under a heading that names one end
  (``Connections from X``, ``Connections to X``) and without a component column, X is where
  the rows come from or the listener; but a table with a column that maps to no field and
  names ends by its heading (``Source to Destination``) is no listener list, nor is a row
  whose component names two systems joined by ``to`` (``SIM to MS SQL DB``): neither makes a
  pair.

A listener list under a title that names a direction the reading cannot place (``ESXi
outgoing ports``) makes no pair either, nor does a row whose direction cell could not be read
(``Server -> Internet``): the direction could turn any of these shapes round.

Names are as written; the caller turns them into components.  ``*`` is any client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from portplan.importer._names import is_dns_name, split_names
from portplan.importer._prose import is_paragraph
from portplan.importer.columns import Field
from portplan.importer.direction import Direction, unread_title_direction
from portplan.importer.interpret import ImportedRow, TableReading, port_directions

__all__ = ["ANY_NAME", "UNNAMED", "Ends", "ends_of"]

#: the name :func:`ends_of` gives any client
ANY_NAME = "*"
#: the name of the destination an outbound row does not name
UNNAMED = "?"

Pair = tuple[tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Ends:
    """The pairs a row says, the direction each is seen from (``inbound``/``outbound`` when
    the row is seen from one component, else ``None``), and what the row leaves unsaid."""

    pairs: tuple[Pair, ...]
    traffic: tuple[str | None, ...]
    #: an outbound row that names no destination: the component it comes from (its pair goes
    #: to :data:`UNNAMED`, which the caller reports)
    missing: str | None = None
    #: why no pair could be made (the row names a peer but not which way)
    problem: str | None = None
    #: (subcomponent, main component) for each subcomponent the row names (a "To
    #: subcomponent" column beside "To main component"): the part of that component
    parents: tuple[tuple[str, str], ...] = ()
    #: where no pair could be made: the names the row's peer and component columns use
    unpaired: tuple[str, ...] = ()
    #: the column the problem is reported at
    at: Field = Field.PEER

    def names(self) -> tuple[tuple[str, str | None], ...]:
        """Every name the row gives an end, with the component it is a part of (if any):
        the components of the product whether or not the row becomes a flow."""
        parents = dict(self.parents)
        ends = [n for pair in self.pairs for side in pair for n in side] + list(self.unpaired)
        return tuple((n, parents.get(n)) for n in dict.fromkeys(ends) if n != UNNAMED)


def _names(row: ImportedRow, field: Field) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for text in row.texts(field) for n in split_names(text)))


#: the fields whose cells name systems
_ENDS = (Field.SOURCE, Field.DESTINATION, Field.SUBCOMPONENT, Field.PEER, Field.COMPONENT)


def _paragraph(row: ImportedRow) -> Ends | None:
    """The problem of a row whose cell of systems is a paragraph (:func:`.is_paragraph`): its
    parts are no systems, and no flow is made to or from them."""
    for value in row.values:
        if (
            value.field in _ENDS
            and value.text
            and is_paragraph(value.text, split_names(value.text))
        ):
            words = value.text.split()
            quoted = " ".join(words[:8]) + (" ..." if len(words) > 8 else "")
            others = (v for v in row.values if v.field in _ENDS and v is not value)
            return Ends(
                pairs=(),
                traffic=(),
                problem=f"column {value.heading!r} holds prose, not the names of systems "
                f"({quoted!r}): the row is drafted no flow; model it by hand with the systems "
                "it names",
                unpaired=tuple(n for v in others for n in split_names(v.text)),
                at=value.field,
            )
    return None


def _headings(row: ImportedRow, field: Field) -> tuple[str, ...]:
    """The headings of the columns of ``field`` that have text in ``row``, in order."""
    return tuple(dict.fromkeys(v.heading for v in row.of(field) if v.text.strip()))


def _top(heading: str) -> str | None:
    """The top part of a heading several header rows make (``Web Client / Port``), else
    ``None``."""
    return heading.split(" / ", maxsplit=1)[0] if " / " in heading else None


def _ends_with_ports(row: ImportedRow) -> Ends | None:
    """The problem of a row that names its systems in several component columns and its ports
    in several port columns, a component and a port column under each end's name (NEC
    ESMPRO: ``Web Client / Component``, ``Web Client / Port``, ``Management PC / Port``,
    ``Management PC / Component``): each end has its own port, and nothing says which end
    listens; the row is no list of listeners."""
    systems, ports = _headings(row, Field.COMPONENT), _headings(row, Field.PORT)
    ends = {_top(h) for h in systems} & {_top(h) for h in ports} - {None}
    if len(ends) < 2:
        return None
    return Ends(
        pairs=(),
        traffic=(),
        problem=f"the row names systems in {len(systems)} columns "
        f"({', '.join(map(repr, systems))}) and ports in {len(ports)} "
        f"({', '.join(map(repr, ports))}), each end with its own port: which end listens is not "
        "said; no flow is drafted: model it by hand",
        unpaired=_names(row, Field.COMPONENT),
        at=Field.COMPONENT,
    )


def ends_of(reading: TableReading, row: ImportedRow, product: str) -> Ends:
    """The ends of ``row`` of ``reading``; ``product`` names the product's own component."""
    if (prose := _paragraph(row) or _ends_with_ports(row)) is not None:
        return prose
    sources, destinations = _names(row, Field.SOURCE), _names(row, Field.DESTINATION)
    subcomponents = _names(row, Field.SUBCOMPONENT)
    peers, own = _names(row, Field.PEER), _names(row, Field.COMPONENT)
    direction = row.direction.direction if row.direction else None
    arrow = reading.arrow
    unread = [v for v in row.of(Field.DIRECTION) if v.direction and v.direction.faults]
    if unread:  # Server -> Internet: the cell is reported; either way would be a guess
        return Ends(
            pairs=(),
            traffic=(),
            problem=f"the row's direction {' '.join(unread[0].text.split())!r} could not be "
            "read, and its ports could go either way: no flow is drafted; model it by hand",
            unpaired=(*sources, *destinations, *peers, *(own or (product,))),
        )
    if len(port_directions(row.values)) > 1:  # Inbound Ports 443 beside Outbound Ports 53
        return Ends(
            pairs=(),
            traffic=(),
            problem="the row has ports under an inbound and an outbound heading, which one "
            "row of flows cannot say: model it by hand, or map one of the columns",
            unpaired=(*sources, *destinations, *peers, *own),
        )
    if arrow is not None and not (sources or destinations or peers):
        left, right = tuple(split_names(arrow.left)), tuple(split_names(arrow.right))
        return _turned((left, right), arrow.direction, None)
    if sources or destinations or subcomponents:
        pair = (sources or (ANY_NAME,), subcomponents or destinations or own or (product,))
        parents: tuple[tuple[str, str], ...] = ()
        if subcomponents and len(destinations) == 1:
            parents = tuple((sub, destinations[0]) for sub in subcomponents)
        return replace(_turned(pair, direction or Direction.FORWARD, None), parents=parents)
    seen_from = own or (product,)
    if (joined := _pair_named(own)) is not None:  # SIM to MS SQL DB: two systems, one cell
        return Ends(
            pairs=(),
            traffic=(),
            problem=f"the component {joined!r} names two systems joined by 'to', not one: "
            "which connects to which is not read, and no flow is drafted; model the row by "
            "hand",
            unpaired=seen_from,
            at=Field.COMPONENT,
        )
    if peers:
        if direction is Direction.INBOUND:
            return Ends(pairs=((peers, seen_from),), traffic=("inbound",))
        if direction is Direction.OUTBOUND:
            return Ends(pairs=((seen_from, peers),), traffic=("outbound",))
        if direction is Direction.BOTH:
            return Ends(
                pairs=((peers, seen_from), (seen_from, peers)), traffic=("inbound", "outbound")
            )
        return Ends(
            pairs=(),
            traffic=(),
            problem="the row names a peer but not which way the connection goes; add a "
            "direction column, or map the peer column as source or destination",
            unpaired=(*peers, *seen_from),
        )
    if (unmapped := _unmapped_end(reading, row)) is not None:  # Source to Destination
        return Ends(
            pairs=(),
            traffic=(),
            problem=f"column {unmapped!r} maps to no field, and by its heading it names the "
            "row's ends: which system connects to which is not read, and no flow is drafted "
            "(any client to the product would be a guess); map the column in a --map file, or "
            "model the row by hand",
            unpaired=seen_from,
        )
    end = reading.end
    if end is not None and not own and direction is None:  # Connections from/to X
        if end.direction is Direction.OUTBOUND:
            pair = ((end.name,), (UNNAMED,))
            return Ends(pairs=(pair,), traffic=("outbound",), missing=end.name)
        return Ends(pairs=(((ANY_NAME,), (end.name,)),), traffic=("inbound",))
    title = reading.table.title or ""
    if direction is None and unread_title_direction(title):  # ESXi outgoing ports
        return Ends(
            pairs=(),
            traffic=(),
            problem=f"the title {title!r} names a direction, but not in words the import "
            "reads: the row's ports could go either way, and no flow is drafted; model it by "
            "hand, or add a direction column",
            unpaired=seen_from,
        )
    listen = ((ANY_NAME,), seen_from)
    out = (seen_from, (UNNAMED,))
    reached = [n for n in own if is_dns_name(n)]
    if reached and direction in (Direction.OUTBOUND, Direction.BOTH):  # Host: callhome.f5.com
        return Ends(
            pairs=(),
            traffic=(),
            problem=f"the row is outbound, and its component {reached[0]!r} is a DNS name or "
            "URL, a system reached rather than one that connects out: which system opens the "
            "connection is not said, and no flow is drafted; map the column as the destination "
            "in a --map file, or model it by hand",
            unpaired=seen_from,
            at=Field.COMPONENT,
        )
    if direction is Direction.OUTBOUND:
        return Ends(pairs=(out,), traffic=("outbound",), missing=seen_from[0])
    if direction is Direction.BOTH:
        return Ends(pairs=(listen, out), traffic=("inbound", "outbound"), missing=seen_from[0])
    traffic = "inbound" if direction is Direction.INBOUND else None
    return Ends(pairs=(listen,), traffic=(traffic,))


#: words of a heading that names a row's ends (``Source to Destination``, ``Source IP
#: address``, ``Destination FQDN(s)``, ``Target``)
_END_WORDS = re.compile(r"\b(?:source|destination|target)s?\b", re.IGNORECASE)


#: a name of two systems joined by ``to`` outside parentheses (``SIM to MS SQL DB``)
_PAIR = re.compile(r"^[^()]*\S\s+to\s+\S[^()]*$", re.IGNORECASE)


def _pair_named(names: tuple[str, ...]) -> str | None:
    """The first of ``names`` that joins two systems by ``to`` (``SIM to MS SQL DB``: the
    Installation Manager and its database), else ``None``; ``to`` inside parentheses is the
    name's (``provider:8888 (port is customizable to 443)``)."""
    for name in names:
        outside = re.sub(r"\([^()]*\)", "", name)
        if _PAIR.match(outside) and not is_dns_name(name):
            return name
    return None


def _unmapped_end(reading: TableReading, row: ImportedRow) -> str | None:
    """The heading of a column that maps to no field, names an end by its words and has text
    in ``row``; else ``None``.  Such a row names its ends where the import cannot read them,
    so it is no list of listeners."""
    written = {c.column for c in row.row.cells if c.text.strip()}
    columns = zip(reading.table.columns, reading.roles, strict=True)
    for index, (heading, role) in enumerate(columns, 1):
        if role is None and index in written and _END_WORDS.search(heading):
            return heading
    return None


def _turned(pair: Pair, direction: Direction, traffic: str | None) -> Ends:
    there, back = pair, (pair[1], pair[0])
    if direction is Direction.BACKWARD:
        return Ends(pairs=(back,), traffic=(traffic,))
    if direction is Direction.BOTH:
        return Ends(pairs=(there, back), traffic=(traffic, traffic))
    return Ends(pairs=(there,), traffic=(traffic,))

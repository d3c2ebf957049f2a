"""Load a product model file and check everything the schema alone cannot."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from portplan._errors import Diagnostic, InputError
from portplan._text import choice_hint, shown
from portplan.load.validate import validate
from portplan.load.yamlsrc import SourceMap, load_yaml
from portplan.model._types import ParamRef
from portplan.model.conditions import Compare, Condition, Var, is_keyword, walk
from portplan.model.product import (
    ANY,
    ComponentKind,
    Configurability,
    Flow,
    Layout,
    Product,
    Traffic,
)


def read_product(
    path: Path, text: str | None = None
) -> tuple[Product | None, SourceMap, list[Diagnostic]]:
    """Read and check a product file; return the product (if valid), its source map and problems."""
    data, source, problems = load_yaml(path, text)
    if problems:  # (a file holding only `null` is for validate() to refuse, with a message)
        return None, source, problems
    product, problems = product_from(data, source)
    return product, source, problems


def product_from(data: Any, source: SourceMap) -> tuple[Product | None, list[Diagnostic]]:
    """Check a product file read by :func:`load_yaml`; the product (if valid) and the problems."""
    product, problems = validate(Product, data, source, "product")
    if product is not None:
        problems = check_product(product, source, data)
        return (product if not problems else None), problems
    # Collect the reference problems of the parts that did validate, too.
    partial = _partial_product(data)
    if partial is not None:
        product, index, stand_ins = partial
        problems.extend(_Checker(product, source, data, index, stand_ins).run())
    return None, problems


def load_product(path: Path | str, text: str | None = None) -> Product:
    """Load a product model file; raise :class:`InputError` listing every problem.

    ``text``: the product's content, when it does not come from ``path`` itself.
    """
    product, _source, problems = read_product(Path(path), text)
    if problems or product is None:
        raise InputError(problems)
    return product


_REFERENCE_KEYS = ("id", "from", "to", "section", "condition", "dynamic")


def _partial_product(data: Any) -> tuple[Product, list[int], set[int]] | None:
    """The product as far as it validates, to check its references too.

    Returns the product, the file index of each flow in it, and the positions of flows that are
    stand-ins for invalid ones: only their reference keys (``from``, ``to``, ``condition``...)
    were kept, so only those are checked.
    """
    flows = data.get("flows") if isinstance(data, dict) else None
    if not isinstance(flows, list):
        return None
    kept: list[Flow] = []
    index: list[int] = []
    stand_ins: set[int] = set()
    for i, raw in enumerate(flows):
        try:
            kept.append(Flow.model_validate(raw))
        except ValidationError as exc:
            if not isinstance(raw, dict):
                continue
            bad = {error["loc"][0] for error in exc.errors() if error["loc"]}
            stub = {"id": "flow", "row": 1, "protocol": "tcp", "purpose": "", "ports": 1}
            stub.update({k: raw[k] for k in _REFERENCE_KEYS if k in raw and k not in bad})
            try:
                kept.append(Flow.model_validate(stub))
            except ValidationError:
                continue
            stand_ins.add(len(kept) - 1)
        index.append(i)
    try:
        return Product.model_validate({**data, "flows": kept}), index, stand_ins
    except ValidationError:
        return None


def check_product(product: Product, source: SourceMap, data: Any = None) -> list[Diagnostic]:
    """Cross-reference and consistency checks over a structurally valid product.

    ``data`` is the product as read from YAML, used to point inside condition texts.
    """
    return list(_Checker(product, source, data).run())


def _name_offset(raw: Any, name: str) -> int:
    """Where feature ``name`` stands in the condition text as written (0 if not found)."""
    if not isinstance(raw, str):
        return 0
    match = re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", raw)
    return match.start() if match else 0


class _Checker:
    """Cross-reference and consistency checks over a structurally valid product."""

    def __init__(
        self,
        product: Product,
        source: SourceMap,
        data: Any,
        flow_index: list[int] | None = None,
        stand_ins: set[int] | None = None,
    ) -> None:
        self.p = product
        self.src = source
        self.data = data
        self.stand_ins = stand_ins or set()
        self.section_ids = dict.fromkeys(s.id for s in product.sections)  #: in order, once
        # file index of each flow (differs when invalid flows were left out)
        self.flow_index = flow_index if flow_index is not None else list(range(len(product.flows)))

    def _raw(self, path: tuple[str | int, ...]) -> Any:
        value = self.data
        for part in path:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                return None
        return value

    def _features(
        self, path: tuple[str | int, ...], condition: Condition, owner: str
    ) -> Iterable[Diagnostic]:
        raw = self._raw(path)
        features = self.p.features
        for name in sorted(condition.names()):
            if name not in features:
                yield self.src.diagnostic(
                    path,
                    f"{owner} refers to unknown feature {shown(name)}",
                    choice_hint(name, features, "features"),
                    column_offset=_name_offset(raw, name),
                )
        for node in walk(condition):
            feature = features.get(getattr(node, "name", ""))
            if feature is None:
                continue
            if isinstance(node, Var) and feature.enumerated:
                yield self.src.diagnostic(
                    path,
                    f"{owner}: feature {node.name!r} is a choice of "
                    f"{', '.join(feature.choices)}, not on or off",
                    f"compare it: '{node.name} == {feature.choices[0]}'",
                    column_offset=_name_offset(raw, node.name),
                )
            elif isinstance(node, Compare) and not feature.enumerated:
                yield self.src.diagnostic(
                    path,
                    f"{owner}: feature {node.name!r} is on or off; it has no value to compare",
                    f"write '{node.name}' or 'not {node.name}'",
                    column_offset=_name_offset(raw, node.name),
                )
            elif isinstance(node, Compare) and node.value not in feature.choices:
                yield self.src.diagnostic(
                    path,
                    f"{owner}: {node.value!r} is not a choice of feature {node.name!r}",
                    choice_hint(node.value, feature.choices, "choices"),
                    column_offset=_name_offset(raw, node.value),
                )

    def _ref(
        self, path: tuple[str | int, ...], kind: str, name: str, known: Collection[str], owner: str
    ) -> Iterable[Diagnostic]:
        if name not in known:  # a dict or set: one look-up per reference, not a scan
            yield self.src.diagnostic(
                path,
                f"{owner} refers to unknown {kind} {name!r}",
                choice_hint(name, list(known), f"{kind}s"),
            )

    def run(self) -> Iterable[Diagnostic]:
        yield from self._components()
        yield from self._sections()
        yield from self._parameters()
        yield from self._platforms()
        yield from self._feature_names()
        seen: dict[str, int] = {}
        for position, (index, flow) in enumerate(zip(self.flow_index, self.p.flows, strict=True)):
            path: tuple[str | int, ...] = ("flows", index)
            if position in self.stand_ins:
                yield from self._flow_references(flow, path)
                continue
            if flow.id in seen:
                yield self.src.diagnostic(
                    (*path, "id"),
                    f"duplicate flow id {flow.id!r} (also flows[{seen[flow.id]}])",
                    "give every flow its own id; ids are the stable keys of the flow matrix",
                )
            else:
                seen[flow.id] = index
            yield from self._flow(flow, path)
        yield from self._rows()

    def _components(self) -> Iterable[Diagnostic]:
        comps = self.p.components
        for cid, comp in comps.items():
            path = ("components", cid)
            if comp.parent is not None:
                yield from self._ref(
                    (*path, "parent"), "component", comp.parent, comps, f"component {cid!r}"
                )
                if comp.parent == cid:
                    yield self.src.diagnostic(
                        (*path, "parent"),
                        f"component {cid!r} is its own parent",
                        "name its main component",
                    )
            for i, member in enumerate(comp.members):
                yield from self._ref(
                    (*path, "members", i), "component", member, comps, f"group {cid!r}"
                )
            if comp.members and comp.kind is not ComponentKind.GROUP:
                yield self.src.diagnostic(
                    (*path, "members"),
                    f"component {cid!r} has members but is not a group",
                    "set 'kind: group' or remove 'members'",
                )
            if comp.kind is ComponentKind.GROUP and not comp.members:
                yield self.src.diagnostic(
                    path, f"group {cid!r} has no members", "list its components under 'members'"
                )
            if cid in comp.members:
                yield self.src.diagnostic(
                    (*path, "members", comp.members.index(cid)),
                    f"group {cid!r} is its own member",
                    "list the components the group stands for",
                )
        yield from self._member_cycles()
        # parent chains must end (being one's own parent is said above)
        for cid in comps:
            if comps[cid].parent == cid:
                continue
            seen = {cid}
            current = comps[cid].parent
            while current is not None and current in comps:
                if current in seen:
                    yield self.src.diagnostic(
                        ("components", cid, "parent"),
                        f"component {cid!r} is part of a parent cycle",
                        "make the parent chain end at a main component",
                    )
                    break
                seen.add(current)
                current = comps[current].parent

    def _member_cycles(self) -> Iterable[Diagnostic]:
        """Groups must open up into components: a group that contains itself through other
        groups (a in b, b in a) stands for nothing."""
        comps = self.p.components
        reported: set[str] = set()
        for start in comps:
            stack = [(start, iter(comps[start].members))]
            on_path = {start}
            while stack:
                current, members = stack[-1]
                member = next(members, None)
                if member is None:
                    on_path.discard(current)
                    stack.pop()
                    continue
                if member == start and len(stack) > 1 and start not in reported:
                    reported.add(start)
                    yield self.src.diagnostic(
                        ("components", start, "members"),
                        f"group {start!r} contains itself through "
                        + " -> ".join(name for name, _ in stack[1:]),
                        "a group lists components (or other groups) but never itself",
                    )
                elif member in comps and member not in on_path:
                    on_path.add(member)
                    stack.append((member, iter(comps[member].members)))

    def _sections(self) -> Iterable[Diagnostic]:
        seen: set[str] = set()
        for i, section in enumerate(self.p.sections):
            if section.id in seen:
                yield self.src.diagnostic(
                    ("sections", i, "id"),
                    f"duplicate section id {section.id!r}",
                    "give every section its own id",
                )
            seen.add(section.id)
            if section.perspective is not None:
                yield from self._ref(
                    ("sections", i, "perspective"),
                    "component",
                    section.perspective,
                    self.p.components,
                    f"section {section.id!r}",
                )
            if section.condition is not None:
                yield from self._features(
                    ("sections", i, "condition"), section.condition, f"section {section.id!r}"
                )

    def _feature_names(self) -> Iterable[Diagnostic]:
        for name in self.p.features:
            if is_keyword(name):
                yield self.src.diagnostic(
                    ("features", name),
                    f"{name!r} cannot name a feature: it is a word of the condition language",
                    "choose another name",
                    at_key=True,
                )

    def _parameters(self) -> Iterable[Diagnostic]:
        for name, param in self.p.parameters.items():
            if param.configurable is Configurability.NO and param.default is None:
                yield self.src.diagnostic(
                    ("parameters", name),
                    f"fixed parameter {name!r} has no default",
                    "give the vendor's port as 'default'",
                )

    def _platforms(self) -> Iterable[Diagnostic]:
        """A platform listed in two entries of one dynamic range: which range it has is the
        modeller's to say (the first entry would win, silently)."""
        for name, spec in self.p.dynamic_ranges.items():
            first: dict[str, int] = {}
            for i, entry in enumerate(spec.by_platform):
                for k, platform in enumerate(entry.platforms):
                    if first.setdefault(platform, i) != i:
                        yield self.src.diagnostic(
                            ("dynamic_ranges", name, "by_platform", i, "platforms", k),
                            f"dynamic range {name!r} lists platform {platform!r} twice (also "
                            f"by_platform[{first[platform]}])",
                            "give each platform one range: remove it from one of the entries",
                        )

    def _flow_references(self, flow: Flow, path: tuple[str | int, ...]) -> Iterable[Diagnostic]:
        """Checks of the names a flow uses: components, section, features, dynamic range."""
        comps = self.p.components
        owner = f"flow {flow.id!r}"
        for i, src in enumerate(flow.source):
            yield from self._ref((*path, "from", i), "component", src, comps, owner)
        for i, destination in enumerate(flow.destination):
            if destination != ANY:  # said once, by the flow check
                yield from self._ref((*path, "to", i), "component", destination, comps, owner)
        if flow.section is not None:
            yield from self._ref(
                (*path, "section"), "section", flow.section, self.section_ids, owner
            )
        if flow.condition is not None:
            yield from self._features((*path, "condition"), flow.condition, owner)
        if flow.dynamic is not None:
            yield from self._ref(
                (*path, "dynamic"), "dynamic range", flow.dynamic, self.p.dynamic_ranges, owner
            )

    def _flow(self, flow: Flow, path: tuple[str | int, ...]) -> Iterable[Diagnostic]:
        comps = self.p.components
        owner = f"flow {flow.id!r}"
        yield from self._flow_references(flow, path)
        if ANY in flow.destination:
            yield self.src.diagnostic(
                (*path, "to"),
                f"{owner} goes to {ANY!r}: only sources can be any client",
                "name the component that listens",
            )
        if flow.section is None and self.p.sections:
            yield self.src.diagnostic(
                path, f"{owner} names no section", "set 'section:' to the table the row is in"
            )
        if flow.protocol.has_ports and flow.ports is None and flow.published is None:
            yield self.src.diagnostic(
                path, f"{owner} has no ports", "set 'ports:' (listening) and/or 'published.ports:'"
            )
        for key, items in (
            ("ports", flow.ports),
            ("published", flow.published and flow.published.ports),
        ):
            for i, item in enumerate(items or ()):
                if isinstance(item, ParamRef):
                    item_path = (*path, key, i) if key == "ports" else (*path, key, "ports", i)
                    yield from self._ref(
                        item_path, "port parameter", item.name, self.p.parameters, owner
                    )
        if flow.published is not None and flow.published.via is not None:
            via = flow.published.via
            yield from self._ref((*path, "published", "via"), "component", via, comps, owner)
            if via in comps and comps[via].kind is not ComponentKind.INGRESS:
                yield self.src.diagnostic(
                    (*path, "published", "via"),
                    f"{owner} is published via {via!r}, which is not an ingress",
                    "point 'via' at a component of kind ingress",
                )
            if flow.ports is None:
                yield self.src.diagnostic(
                    (*path, "published", "via"),
                    f"{owner} goes through ingress {via!r} but has no internal port",
                    "set 'ports:' to the port the ingress forwards to",
                )
        if (
            flow.configurable.kind in (Configurability.YES, Configurability.INDIRECT)
            and not flow.parameter_names()
        ):
            yield self.src.diagnostic(
                (*path, "configurable"),
                f"{owner} says its port is configurable but takes no port from a parameter",
                "declare the port under 'parameters:' and name it in 'ports:' so deployments can "
                "override it",
            )
        if flow.configurable.kind is Configurability.NO:
            for name in flow.parameter_names():
                param = self.p.parameters.get(name)
                if param is not None and param.configurable is not Configurability.NO:
                    yield self.src.diagnostic(
                        (*path, "configurable"),
                        f"{owner} says its port cannot change, but parameter {name!r} "
                        "is configurable",
                        "make the parameter 'configurable: no' or correct the flow",
                    )
        yield from self._traffic(flow, path, owner)

    def _traffic(self, flow: Flow, path: tuple[str | int, ...], owner: str) -> Iterable[Diagnostic]:
        section = self.p.section(flow.section) if flow.section else None
        if self.p.document.layout is Layout.PER_COMPONENT and flow.traffic is None:
            yield self.src.diagnostic(
                path,
                f"{owner} has no 'traffic'",
                "say inbound, outbound or inbound-outbound as the table does",
            )
        if section is None or section.perspective is None or flow.traffic is None:
            return
        me = section.perspective
        comps = self.p.components
        sources = {self.p.main_component(s) for s in flow.source if s in comps}
        sources |= set(flow.source)
        destinations = {self.p.main_component(d) for d in flow.destination if d in comps}
        destinations |= set(flow.destination)
        if flow.traffic is Traffic.INBOUND and me not in destinations:
            yield self.src.diagnostic(
                (*path, "traffic"),
                f"{owner} is inbound in the {me!r} table but goes to "
                f"{', '.join(map(repr, flow.destination))}",
                f"set 'to: {me}' or 'traffic: outbound'",
            )
        if flow.traffic is Traffic.OUTBOUND and me not in sources:
            yield self.src.diagnostic(
                (*path, "traffic"),
                f"{owner} is outbound in the {me!r} table but does not come from it",
                f"add {me!r} to 'from' or set 'traffic: inbound'",
            )

    def _rows(self) -> Iterable[Diagnostic]:
        rows: dict[tuple[str | None, int, int | None], int] = {}
        numbered = {(f.section, f.row) for f in self.p.flows if f.part is not None}
        for position, (index, flow) in enumerate(zip(self.flow_index, self.p.flows, strict=True)):
            if position in self.stand_ins:
                continue
            if flow.part is None and (flow.section, flow.row) in numbered:
                where = f"section {flow.section!r} " if flow.section else ""
                yield self.src.diagnostic(  # its reference would read as the whole row's
                    ("flows", index, "row"),
                    f"flow {flow.id!r} has no part, where other flows of {where}row "
                    f"{flow.row} are numbered",
                    "number every flow of the row: 'part: 1', 'part: 2'",
                )
            key = (flow.section, flow.row, flow.part)
            if key in rows:
                where = f"section {flow.section!r} " if flow.section else ""
                yield self.src.diagnostic(
                    ("flows", index, "row"),
                    f"flow {flow.id!r} repeats {where}row {flow.row} of flows[{rows[key]}]",
                    "when one vendor row needs several flows, number them "
                    "with 'part: 1', 'part: 2'",
                )
            rows[key] = index

"""The warnings docs/model.md promises ``matrix`` prints, predicted from the documentation.

"A flow with no placed source, or an unplaced destination, has no rows; if one of its own
(``kind: component``) endpoints is placed, ``matrix`` prints a warning" (keyed by the flow);
a loopback flow whose ends are "placed on different hosts give no row, and ``matrix`` warns"
(not when its source is an unplaced ``any``); "A component placed on hosts whose every flow
is left out by a false condition gets a warning too" (keyed by the component), where "the
flows of its subcomponents placed nowhere (they run on its hosts), of the groups it is a
member of, and those published through it as their ingress count as its own".
"""

from __future__ import annotations

from typing import Any

from flowref import ANYWHERE, Expander, evaluate, joined

__all__ = ["component_warnings", "flow_warnings"]


def _applies(expander: Expander, flow: dict[str, Any]) -> bool:
    section = expander.sections.get(flow.get("section", ""), {})
    return evaluate(joined(section.get("condition"), flow.get("condition")), expander.features)


def _ends(flow: dict[str, Any]) -> tuple[list[str], list[str]]:
    return list(flow.get("from", ["any"])), list(flow["to"])


def _own(expander: Expander, component: str) -> bool:
    spec = expander.components.get(component, {"kind": "client"})  # "any" is a client
    return bool(spec.get("kind", "component") == "component")


def flow_warnings(expander: Expander) -> set[str]:
    """Keys (``product/flow``) of the flows ``matrix`` warns have no rows."""
    found = set()
    for flow in expander.product["flows"]:
        if not _applies(expander, flow):
            continue
        from_, to = _ends(flow)
        sources = {h for c in from_ for h in expander.hosts_of(c)}
        destinations = {h for c in to for h in expander.hosts_of(c)}
        key = f"{expander.pid}/{flow['id']}"
        if sources and destinations:
            # a listener-only loopback row with 'any' not placed names no local client
            if flow.get("loopback") and not sources & destinations and sources != {ANYWHERE}:
                found.add(key)
            continue
        if any(_own(expander, c) and expander.hosts_of(c) for c in (*from_, *to)):
            found.add(key)
    return found


def _runs_on(expander: Expander, component: str) -> str | None:
    """The component whose placement an unplaced ``component`` runs on: its nearest placed
    main component."""
    name: str | None = component
    while name is not None and name not in expander.placement:
        name = expander.components.get(name, {}).get("parent")
    return name


def _groups(expander: Expander, component: str) -> set[str]:
    """The groups ``component`` is a member of, directly or through another group, but for
    groups placed themselves: those run on their own hosts, not their members'."""
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, spec in expander.components.items():
            if (
                name not in found
                and name not in expander.placement
                and {component, *found} & set(spec.get("members", ()))
            ):
                found.add(name)
                changed = True
    return found


def component_warnings(expander: Expander) -> set[str]:
    """The components ``matrix`` warns are placed but take part in no applicable flow."""
    found = set()
    for component, hosts in expander.placement.items():
        if not hosts:
            continue
        own = {component} | _groups(expander, component)
        for name in expander.components:  # subcomponents placed nowhere run on its hosts
            if name not in expander.placement and _runs_on(expander, name) == component:
                own |= {name} | _groups(expander, name)
        flows = [
            flow
            for flow in expander.product["flows"]
            if own & {*_ends(flow)[0], *_ends(flow)[1]}
            or flow.get("published", {}).get("via") == component
        ]
        if flows and not any(_applies(expander, f) for f in flows):
            found.add(f"{expander.pid}/{component}")
    return found

"""Which flows a diagram draws: ``--flow`` and ``--component`` checked against the model,
with a did-you-mean for a name that is not there."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from portplan._errors import UsageError
from portplan._text import choice_hint
from portplan.model.product import Product
from portplan.plan import MANAGEMENT, Plan

__all__ = ["resolve_components", "select_rows", "with_members"]


def resolve_components(
    products: Mapping[str, Product], names: Iterable[str]
) -> set[tuple[str, str]]:
    """``(product, component)`` for each ``product/component`` or bare component id; a
    group stands for itself and each of its members."""
    known = {(p.id, c) for p in products.values() for c in p.components}
    found: set[tuple[str, str]] = set()
    for name in names:
        product_id, _, component = name.rpartition("/")
        matches = {
            (p, c) for p, c in known if c == component and (not product_id or p == product_id)
        }
        if not matches:
            choices = sorted({c for _p, c in known} | {f"{p}/{c}" for p, c in known})
            raise UsageError(f"no component {name!r}; " + choice_hint(name, choices, "components"))
        if len(matches) > 1:
            both = ", ".join(f"{p}/{c}" for p, c in sorted(matches))
            raise UsageError(f"component {name!r} is in several products ({both}); name one")
        found |= {(p, leaf) for p, c in matches for leaf in with_members(products[p], c)}
    return found


def with_members(product: Product, component: str) -> tuple[str, ...]:
    """``component`` and, if it is a group, each of its members (groups opened up)."""
    members = product.components[component].members
    return (component, *(m for member in members for m in with_members(product, member)))


def _touches(product: Product, candidates: Sequence[str], wanted: set[tuple[str, str]]) -> bool:
    """Whether one of ``candidates`` is a wanted component or a subcomponent of one."""
    return any(
        (product.id, c) in wanted or (product.id, product.main_component(c)) in wanted
        for c in candidates
    )


def select_rows(plan: Plan, flows: Sequence[str] = (), components: Sequence[str] = ()) -> list[int]:
    """Indexes of the plan rows of ``flows`` (``product/flow`` or a flow id) that start or end
    on one of ``components`` (a subcomponent counts for its component); all rows by default."""
    selected = list(range(len(plan.rows)))
    if flows:
        wanted_flows = set()
        for flow in flows:
            decision = plan.decision(flow)
            if decision is None:
                raise UsageError(plan.no_decision(flow))
            if not decision.included:
                raise UsageError(
                    f"flow {decision.key} is not in this deployment's plan: "
                    + "; ".join(r for r in decision.reasons if r.startswith("out:"))
                )
            wanted_flows.add((decision.product, decision.flow_id))
        selected = [
            i for i in selected if (plan.rows[i].product, plan.rows[i].flow_id) in wanted_flows
        ]
    if components:
        wanted = resolve_components(plan.products, components)
        kept = []
        for i in selected:
            row = plan.rows[i]
            product = plan.products.get(row.product)
            if row.product == MANAGEMENT or product is None:
                continue
            ends = (*row.source_components, *row.destination_components)
            if _touches(product, ends, wanted):
                kept.append(i)
        selected = kept
    # a plan of no row is an empty diagram; only a selection that matches nothing is refused
    if not selected and (flows or components):
        asked = " ".join(
            [*(f"--flow {f}" for f in flows), *(f"--component {c}" for c in components)]
        )
        raise UsageError(f"no planned row matches {asked}: nothing to draw")
    return selected

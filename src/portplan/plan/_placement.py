"""Where a product's components run in a deployment: hosts of a component, groups opened up."""

from __future__ import annotations

from collections.abc import Sequence

from portplan.model.deployment import ProductBinding
from portplan.model.product import ANY, ANYWHERE, ComponentKind, Product

__all__ = ["Placement"]


class Placement:
    """The hosts of each component of one product in one deployment (computed once each)."""

    def __init__(self, product: Product, binding: ProductBinding) -> None:
        self.product = product
        self.binding = binding
        self._hosts_cache: dict[str, tuple[str, ...]] = {}
        self._host_set_cache: dict[str, frozenset[str]] = {}
        self._leaves_cache: dict[tuple[str, ...], tuple[str, ...]] = {}

    def hosts_of(self, component: str) -> tuple[str, ...]:
        """Hosts of a component: its own placement, else its main component's, or its members'."""
        cached = self._hosts_cache.get(component)
        if cached is not None:
            return cached
        comp = self.product.components[component]
        hosts: tuple[str, ...]
        if component in self.binding.components:
            # a host written twice is placed once: each row of the plan is one opening
            hosts = tuple(dict.fromkeys(self.binding.components[component]))
        elif comp.kind is ComponentKind.GROUP:
            hosts = tuple(dict.fromkeys(h for m in comp.members for h in self.hosts_of(m)))
        elif comp.parent is not None:
            hosts = self.hosts_of(comp.parent)
        else:
            hosts = ()
        self._hosts_cache[component] = hosts
        return hosts

    def placed_for(self, component: str) -> frozenset[str]:
        """The placed components whose hosts :meth:`hosts_of` gives ``component``: itself where
        it is placed, else its members' (a group) or its main component's."""
        if component in self.binding.components:
            return frozenset({component})
        comp = self.product.components.get(component)
        if comp is None:  # ``any``, which only the deployment can place
            return frozenset()
        if comp.kind is ComponentKind.GROUP:
            return frozenset().union(*(self.placed_for(m) for m in comp.members))
        return self.placed_for(comp.parent) if comp.parent is not None else frozenset()

    def host_set(self, component: str) -> frozenset[str]:
        """:meth:`hosts_of` as a set, for membership tests."""
        cached = self._host_set_cache.get(component)
        if cached is None:
            cached = self._host_set_cache[component] = frozenset(self.hosts_of(component))
        return cached

    def leaves_of(self, candidates: tuple[str, ...]) -> tuple[str, ...]:
        """The components ``candidates`` stand for, groups opened up, in order, once each."""
        leaves = self._leaves_cache.get(candidates)
        if leaves is None:
            leaves = self._leaves_cache[candidates] = tuple(dict.fromkeys(self._leaves(candidates)))
        return leaves

    def _leaves(self, candidates: tuple[str, ...]) -> list[str]:
        components = self.product.components
        leaves: list[str] = []
        for component in candidates:
            members = components[component].members
            leaves.extend(self._leaves(members) if members else (component,))
        return leaves

    def components_on(self, hosts: Sequence[str], candidates: tuple[str, ...]) -> list[str]:
        """For each of ``hosts``, the components among ``candidates`` (groups opened up) that
        run on it, as text (``receiver, client``; ``any`` on the host anywhere when it is not
        placed); the first candidate where none does.

        For candidates that stand for a single component, callers use that component directly.
        """
        sets = [(leaf, self.host_set(leaf)) for leaf in self.leaves_of(candidates)]
        if ANY not in self.binding.components:  # not placed, 'any' is the host anywhere
            sets = [(leaf, frozenset({ANYWHERE}) if leaf == ANY else on) for leaf, on in sets]
        first = candidates[0]
        return [", ".join([leaf for leaf, on in sets if host in on]) or first for host in hosts]

"""The names a deployment uses across its sections: hosts that management access and forbidden
connections name, reserved and duplicate ids, hosts' dynamic ranges, pods' policy names.

Each check takes only the sections it needs, so that a deployment that failed its schema still
has them run on the sections that are valid on their own (``None``: that section is not).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from portplan._errors import Diagnostic
from portplan._text import choice_hint
from portplan.load.yamlsrc import SourceMap
from portplan.model.deployment import FORBIDDEN, MANAGEMENT, Forbidden, Host, Management
from portplan.model.kubernetes import is_object_name
from portplan.model.product import ANYWHERE

__all__ = ["check_names"]


def check_names(
    source: SourceMap,
    *,
    hosts: Mapping[str, Host] | None,
    management: Sequence[Management] | None,
    forbidden: Sequence[Forbidden] | None,
    product_ids: Collection[str],
    known_ranges: Collection[str] | None,
) -> list[Diagnostic]:
    """Every problem of the names the deployment uses, in a fixed order: the reserved host
    name, pods' hosts whose NetworkPolicy name Kubernetes refuses, reserved product ids,
    duplicate entry ids, unknown hosts named by entries, hosts' dynamic ranges no product has
    (only when ``known_ranges``, every product's, is known)."""
    problems: list[Diagnostic] = []
    if hosts is not None and ANYWHERE in hosts:
        problems.append(
            source.diagnostic(
                ("hosts", ANYWHERE),
                f"the host name {ANYWHERE!r} is reserved: it is where flows from 'any' client "
                "come from when the deployment does not place 'any' on hosts",
                "rename the host",
                at_key=True,
            )
        )
    if hosts is not None:
        problems.extend(_policy_names(source, hosts))
    problems.extend(_reserved_ids(source, product_ids))
    sections: list[tuple[str, str, Sequence[Management | Forbidden]]] = []
    if management is not None:
        sections.append(("management", "management access", management))
    if forbidden is not None:
        sections.append(("forbidden", "forbidden connection", forbidden))
    for key, what, entries in sections:
        problems.extend(_duplicate_ids(source, key, what, entries))
    if hosts is not None:
        for key, what, entries in sections:
            problems.extend(_unknown_hosts(source, key, what, entries, hosts))
    if hosts is not None and known_ranges is not None:
        for host_name, host in hosts.items():
            for name in host.dynamic_ranges:
                if name not in known_ranges:
                    problems.append(
                        source.diagnostic(
                            ("hosts", host_name, "dynamic_ranges", name),
                            f"no product in this deployment has a dynamic range {name!r}",
                            choice_hint(
                                name, known_ranges, "dynamic ranges", owner="each of its products"
                            ),
                            at_key=True,
                        )
                    )
    return problems


def _policy_names(source: SourceMap, hosts: Mapping[str, Host]) -> Iterable[Diagnostic]:
    """A managed host of pods whose NetworkPolicy, ``portplan-HOST``, would have a name
    Kubernetes refuses (a DNS subdomain: lower-case letters, digits, '-' and '.')."""
    for name, host in hosts.items():
        if host.kubernetes is not None and host.managed and not is_object_name(f"portplan-{name}"):
            yield source.diagnostic(
                ("hosts", name),
                f"host {name!r} stands for pods, and 'portplan-{name}', the name of its "
                "NetworkPolicy, is not a name Kubernetes takes",
                "rename the host: at most 244 lower-case letters, digits, '-' and '.', each "
                "part between dots starting and ending with a letter or digit",
                at_key=True,
            )


def _reserved_ids(source: SourceMap, product_ids: Collection[str]) -> Iterable[Diagnostic]:
    """The product ids ``management`` and ``forbidden``: the plan's rows of management
    access, and the deployment's forbidden connections in reports, have them, and a product
    with one would make two rows of the plan one."""
    reserved = (
        (MANAGEMENT, "the plan names the rows of the deployment's own 'management:' access"),
        (FORBIDDEN, "reports and verify --flow name the deployment's own 'forbidden:' entries"),
    )
    for product_id, why in reserved:
        if product_id in product_ids:
            yield source.diagnostic(
                ("products", product_id),
                f"the product id {product_id!r} is reserved: {why} with it",
                "give the product another id, in its file's 'id:' and as its key here",
                at_key=True,
            )


def _duplicate_ids(
    source: SourceMap, key: str, what: str, entries: Sequence[Management | Forbidden]
) -> Iterable[Diagnostic]:
    """An id used twice among the entries of ``key``: a diff or a check would compare only
    one of them."""
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if entry.id not in seen:
            seen[entry.id] = index
            continue
        yield source.diagnostic(
            (key, index, "id"),
            f"duplicate {what} id {entry.id!r} (also {key}[{seen[entry.id]}])",
            f"give every entry of '{key}:' its own id; ids are the stable keys of the "
            "flow matrix, and a second entry with one would be lost",
        )


def _unknown_hosts(
    source: SourceMap,
    key: str,
    what: str,
    entries: Sequence[Management | Forbidden],
    hosts: Mapping[str, Host],
) -> Iterable[Diagnostic]:
    for index, entry in enumerate(entries):
        for side, names in (("from", entry.source or ()), ("to", entry.destination or ())):
            for position, name in enumerate(names):
                if name in hosts:
                    continue
                where: tuple[str | int, ...] = (key, index, side, position)
                if not source.has(where):  # written as a single name, not a list
                    where = (key, index, side)
                yield source.diagnostic(
                    where,
                    f"{what} {entry.id!r} names unknown host {name!r}",
                    choice_hint(name, hosts, "hosts") + "; declare it under 'hosts:'",
                )

"""Whether ``iptables-save`` shows a filter table whole, asked of nftables itself.

With the ``nf_tables`` backend, the filter tables are nftables tables, and anything may be
written into them with ``nft``: sets, maps, native rules.  ``iptables-save`` shows only what
it can translate, without a word about the rest: ``ip saddr @admins tcp dport 22 accept``
comes out as ``-p tcp --dport 22 -j ACCEPT``, a rule for everyone.  Saving that for a rollback
would widen the rule and lose the set.  So the saved table is loaded in a scratch namespace,
and nft's listing of it there must say the same as nft's listing of the running one.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["differences"]

#: what a rule is, without where nft keeps it
_PLACE = frozenset({"family", "table", "chain", "handle"})

_View = dict[str, Any]


def _view(listing: bytes) -> _View:
    """``nft -j -s list table`` as what the table does: each chain's hook, priority and
    policy with its rules in order, and everything else it holds (sets, maps, objects).

    A base chain that accepts everything and holds no rule is as good as none: iptables-save
    names every built-in chain, where iptables-nft makes one only when a rule needs it.
    """
    heads: dict[str, tuple[Any, ...]] = {}
    rules: dict[str, list[str]] = {}
    other: list[str] = []
    for item in json.loads(listing)["nftables"]:
        ((kind, body),) = item.items()
        if kind in ("metainfo", "table"):
            continue
        if kind == "chain":
            heads[body["name"]] = tuple(body.get(k) for k in ("type", "hook", "prio", "policy"))
        elif kind == "rule":
            rule = {k: v for k, v in body.items() if k not in _PLACE}
            rules.setdefault(body["chain"], []).append(json.dumps(rule, sort_keys=True))
        else:
            other.append(f"{kind} {body.get('name', '')}".strip())
    view: _View = {}
    for name, head in heads.items():
        held = tuple(rules.get(name, ()))
        if head[1] is not None and head[3] == "accept" and not held:
            continue
        view[f"chain {name}"] = (head, held)
    for name in other:
        view[name] = name
    return view


def differences(running: bytes, reloaded: bytes) -> list[str]:
    """What of the running table (``nft -j -s list table``) the reloaded copy does not have
    the same: chains and what else the table holds, by name (empty: the copy is whole)."""
    before, after = _view(running), _view(reloaded)
    return sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )

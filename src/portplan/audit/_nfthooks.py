"""Where an nftables base chain sits on the way of the packets a host receives and sends.

Every base chain on the way stops what it drops, whatever its family or type: an ``inet``,
``ip`` or ``ip6`` chain on ``prerouting`` and ``input`` (``output`` and ``postrouting`` for what
the host sends), a ``type nat`` chain among them (it sees a connection's first packet, which it
may drop like any other, but only while conntrack runs: a rule that matches on ``ct`` or
rewrites addresses turns it on), and a chain that sees only some of the packets, which the
audit reads for what it may stop and never counts on for what it lets through: an ``ingress``
chain (``inet`` or ``netdev``; ``egress`` on the way out) sees what comes in on its devices, a
``bridge`` chain what passes a bridge.  An accept ends one chain only, so no chain lets through
what a later one drops.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from portplan._tools import NFT_FLAGS_FROM_TEXT, NFT_TABLE_FLAGS
from portplan.audit._rules import Hook

__all__ = [
    "DORMANT",
    "FAMILIES",
    "Place",
    "conntrack_families",
    "helper_families",
    "idle_tables",
    "place",
]

FAMILIES = {
    "inet": frozenset({4, 6}),
    "ip": frozenset({4}),
    "ip6": frozenset({6}),
    "netdev": frozenset({4, 6}),
    "bridge": frozenset({4, 6}),
}
#: hook → (the way it is on, its rank there): the order of base chains on one way
_IP_HOOKS = {
    "ingress": (Hook.INPUT, 0),
    "prerouting": (Hook.INPUT, 3),
    "input": (Hook.INPUT, 4),
    "output": (Hook.OUTPUT, 0),
    "postrouting": (Hook.OUTPUT, 1),
}
_NETDEV_HOOKS = {"ingress": (Hook.INPUT, 0), "egress": (Hook.OUTPUT, 4)}
_BRIDGE_HOOKS = {
    "prerouting": (Hook.INPUT, 1),
    "input": (Hook.INPUT, 2),
    "output": (Hook.OUTPUT, 2),
    "postrouting": (Hook.OUTPUT, 3),
}
#: statements that turn conntrack on for the families of their table
_CONNTRACK = frozenset(
    {"ct", "dnat", "snat", "masquerade", "redirect", "ct helper", "ct timeout", "ct expectation"}
)
#: statements that give a connection a conntrack helper, or make it expect another
_HELPERS = frozenset({"ct helper", "ct expectation"})
_FAMILY_NAMES = {4: "IPv4", 6: "IPv6"}
#: why a table is idle (:func:`idle_tables`) when it surely is: the flag ``dormant``
DORMANT = "dormant"


@dataclass(frozen=True, slots=True)
class Place:
    """A base chain's place: the way, its rank there, which traffic passes it, and when only
    some of the network's packets may (``None``: all of them)."""

    hook: Hook
    rank: tuple[int, int]
    sees_loopback: bool = True
    sees_network: bool = True
    only: str | None = None


def _mentions(value: Any, keys: frozenset[str]) -> bool:
    if isinstance(value, dict):
        return any(k in keys or _mentions(v, keys) for k, v in value.items())
    if isinstance(value, list):
        return any(_mentions(v, keys) for v in value)
    return False


def conntrack_families(items: list[dict[str, Any]]) -> frozenset[int]:
    """The families conntrack surely runs for: those of a table with a rule that needs it."""
    found: set[int] = set()
    for item in items:
        body = item.get("rule")
        if isinstance(body, dict) and _mentions(body.get("expr"), _CONNTRACK):
            found |= FAMILIES.get(str(body.get("family")), frozenset())
    return frozenset(found)


def helper_families(items: list[dict[str, Any]]) -> frozenset[int]:
    """The families whose connections may be given a conntrack helper or an expectation: those
    of a table with a rule that assigns one (``ct helper set``, ``ct expectation set``, or
    iptables-nft's ``-j CT``, whose options nft does not print).  The connection a helper
    expects then begins ``related`` (an FTP data connection, to the port the server names)."""
    found: set[int] = set()
    for item in items:
        body = item.get("rule")
        if not isinstance(body, dict):
            continue
        exprs = body.get("expr")
        ct_target = any(
            isinstance(e, dict) and isinstance(e.get("xt"), dict) and e["xt"].get("name") == "CT"
            for e in (exprs if isinstance(exprs, list) else [])
        )
        if ct_target or _mentions(exprs, _HELPERS):
            found |= FAMILIES.get(str(body.get("family")), frozenset())
    return frozenset(found)


def idle_tables(items: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """The tables (family, name) whose chains may see no packet: ``dormant`` ones, and, with
    why, those that may be: nft 1.0.6 prints a table's flags in its JSON as a stray word
    (``"flags": "inet"``, or even ``"persist"``, the name of the next table), so any flags it
    prints may be ``dormant``, unless portplan put in the flags of nft's text listing
    (:func:`portplan._tools.nft_flags_from_text`); flags that name no flag nft has, too."""
    meta: dict[str, Any] = next(
        (i["metainfo"] for i in items if isinstance(i.get("metainfo"), dict)), {}
    )
    garbled = meta.get("version") == "1.0.6" and NFT_FLAGS_FROM_TEXT not in meta
    found: dict[tuple[str, str], str] = {}
    for item in items:
        body = item.get("table")
        if not isinstance(body, dict) or "flags" not in body:
            continue
        given = body["flags"]
        names = {str(f) for f in (given if isinstance(given, list) else [given])}
        key = (str(body.get("family")), str(body.get("name")))
        if garbled:
            found[key] = (
                f"while table {key[0]} {key[1]} is not dormant (nft 1.0.6 prints a table's "
                f"flags wrongly in JSON, here {given!r}; give `nft list ruleset` as nft:FILE, "
                "whose flags portplan reads)"
            )
        elif DORMANT in names:
            found[key] = DORMANT
        elif not names <= NFT_TABLE_FLAGS:
            found[key] = (
                f"while table {key[0]} {key[1]} is not dormant (nft lists its flags as "
                f"{given!r}, which names no flag nft has)"
            )
    return found


def place(
    body: dict[str, Any], conntrack: frozenset[int], idle: dict[tuple[str, str], str]
) -> Place | str | None:
    """Where the base chain ``body`` sits; a note when it is on the way but not read (also a
    chain of a dormant table: it sees no packet); ``None`` when it is on no way of the host's
    own traffic (``forward``).  A chain of a table that may be dormant sees a packet only
    while it is not (:func:`idle_tables`)."""
    found = _place(body, conntrack)
    why = idle.get((str(body.get("family")), str(body.get("table"))))
    if why is None or not isinstance(found, Place):
        return found
    if why == DORMANT:
        return (
            f"table {body.get('family')} {body.get('table')} chain {body.get('name')} (its "
            "table is dormant: its chains see no packet)"
        )
    return replace(found, only=why if found.only is None else f"{found.only}, and {why}")


def _devices(body: dict[str, Any]) -> list[str]:
    given = body.get("dev", body.get("devices", []))
    return [str(d) for d in (given if isinstance(given, list) else [given])]


def _place(body: dict[str, Any], conntrack: frozenset[int]) -> Place | str | None:
    """Where the base chain ``body`` sits, whatever its table's flags (see :func:`place`)."""
    family, hook = body.get("family"), body.get("hook")
    prio = body.get("prio", 0)
    order = prio if isinstance(prio, int) and not isinstance(prio, bool) else 0
    if family == "bridge":
        found = _BRIDGE_HOOKS.get(str(hook))
        if found is None:
            return None
        way = "comes in through" if found[0] is Hook.INPUT else "leaves through"
        return Place(found[0], (found[1], order), False, True, f"when it {way} a bridge")
    if family == "netdev" or hook in ("ingress", "egress"):
        found = (_NETDEV_HOOKS if family == "netdev" else _IP_HOOKS).get(str(hook))
        if found is None:
            return None
        devices = _devices(body)
        way = "comes in on" if found[0] is Hook.INPUT else "leaves on"
        return Place(
            found[0],
            (found[1], order),
            sees_loopback=not devices or "lo" in devices,
            sees_network=set(devices) != {"lo"},
            # nft names no device that is gone (a chain may wait for it)
            only=f"when it {way} {', '.join(devices) or 'its device (not named)'}",
        )
    if family not in FAMILIES:
        return f"table {family} {body.get('table')} chain {body.get('name')} ({family} family)"
    found = _IP_HOOKS.get(str(hook))
    if found is None:
        return None
    if body.get("type") != "nat":
        return Place(found[0], (found[1], order))
    # a NAT chain on the way in sees no loopback packet: conntrack met it on the way out
    off = sorted(FAMILIES[family] - conntrack)
    only = None
    if off:
        names = " and ".join(_FAMILY_NAMES[f] for f in off)
        only = f"when conntrack runs (no rule here turns it on for {names})"
    return Place(found[0], (found[1], order), sees_loopback=found[0] is Hook.OUTPUT, only=only)

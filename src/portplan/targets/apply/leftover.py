"""A ruleset portplan's *other* host target left in force in this network namespace.

``apply -t nftables`` replaces only ``table inet portplan``; ``apply -t iptables`` replaces
only the filter tables (and portplan's address sets).  So after switching targets, the
ruleset the earlier apply loaded stays in force beside the new one, drop policy and all: it
keeps filtering what the new ruleset accepts, and the lockout checks, which read the new
ruleset only, cannot see it.  Apply refuses while one is there (and never removes it itself:
which of the two the operator wants gone is theirs to say), naming what it found and how to
remove it without cutting a session.

How each is known: the nftables one by its table, ``inet portplan``; the iptables one by the
rules every portplan filter table holds, with the comments only portplan writes (IPv6
neighbour discovery in each IPv6 table, loopback unless ``loopback=planned``, ``not in the
plan`` with ``--default reject``), as ``iptables-save`` shows them, for each backend's tools
installed (legacy and nf_tables tables both filter), in a table that still filters: a drop
policy (portplan's tables have one), or portplan's rejects.  (A table of the operator's own
whose policies accept, with a rule commented ``loopback``, drops nothing beside the new one.)

So is, for ``apply -t iptables``, portplan's iptables ruleset in the tables of the backend
its tools (``iptables-save``, ``iptables-restore``) do not use here: apply saves, replaces and
rolls back only the tables of the tools it runs.
"""

from __future__ import annotations

import shlex
import shutil

from portplan._errors import ApplyError
from portplan.targets.apply._commands import checked, run
from portplan.targets.apply.iptables import (
    LOOPBACK_COMMENT,
    NEIGHBOUR_COMMENT,
    PORTPLAN_SET,
    UNPLANNED_COMMENT,
)
from portplan.targets.apply.nftables import TABLE

__all__ = ["other_target_ruleset"]

#: each family's rule command, and its name in a message
_SAVERS = {"iptables": "IPv4", "ip6tables": "IPv6"}


def other_target_ruleset(target: str) -> str | None:
    """Why applying ``target`` here must wait: the ruleset the other host target of portplan
    left in force, and how to remove it (``None``: there is none)."""
    if target == "iptables":
        return _nftables_table() or _other_backend_tables()
    if target == "nftables":
        return _iptables_tables()
    return None


def _nftables_table() -> str | None:
    if shutil.which("nft") is None:
        return None  # no nft: nothing loaded an nftables table with it
    tables = checked(["nft", "list", "tables"], None, "listing the nftables tables")
    if f"table {TABLE}".encode() not in tables.splitlines():
        return None
    return (
        f"an nftables table 'table {TABLE}', which `portplan apply -t nftables` loads, is in "
        "force here; it keeps filtering beside the iptables ruleset (its input chain drops what "
        "it does not name), and the lockout checks cannot see it, so nothing was changed. To "
        f"switch to iptables, look at it (`nft list table {TABLE}`), remove it (`nft delete "
        f"table {TABLE}`: this only takes its filtering away, so no session is cut), then "
        "apply again; to stay with nftables, apply with -t nftables"
    )


def _saves() -> list[tuple[str, str, str]]:
    """(save tool, its rule command, family name) for each family and installed backend."""
    found: list[tuple[str, str, str]] = []
    for command, family in _SAVERS.items():
        variants = [f"{command}-nft", f"{command}-legacy"]
        present = [v for v in variants if shutil.which(f"{v}-save")]
        if not present and shutil.which(f"{command}-save"):
            present = [command]
        found.extend((f"{variant}-save", variant, family) for variant in present)
    return found


def _is_portplans(words: list[str]) -> bool:
    """Whether an ``iptables-save`` rule (``-A CHAIN ...``, as words) is one portplan writes
    in every filter table of its: the comments are portplan's own."""
    if len(words) < 2 or words[0] != "-A" or words[1] not in ("INPUT", "OUTPUT"):
        return False
    try:
        comment = words[words.index("--comment") + 1]
    except (ValueError, IndexError):
        return False
    if comment == NEIGHBOUR_COMMENT:
        return "--hl-eq" in words
    if comment == LOOPBACK_COMMENT:
        return "lo" in words and words[-1] == "ACCEPT"
    return comment == UNPLANNED_COMMENT and "REJECT" in words


def _filter_table(save: str) -> tuple[list[str], list[str]]:
    """The rules of the filter table ``save`` shows, and its built-in chains whose policy is
    DROP (without ``-t``, which would make the table where it does not exist)."""
    text = checked([save], None, f"listing the filter tables ({save})").decode(errors="replace")
    rules: list[str] = []
    dropping: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("*"):
            inside = line == "*filter"
        elif inside and line.startswith("-A "):
            rules.append(line)
        elif inside and line.startswith(":"):
            chain, _, policy = line[1:].partition(" ")
            if policy.split(" ", 1)[0] == "DROP":
                dropping.append(chain)
    return rules, dropping


def _rejects_unplanned(words: list[str]) -> bool:
    return _is_portplans(words) and UNPLANNED_COMMENT in words


#: (rule command, family, a rule of portplan's, how the table filters)
_Found = tuple[str, str, str, str]


def _portplan_tables(saves: list[tuple[str, str, str]]) -> list[_Found]:
    """The filter tables of ``saves`` (:func:`_saves`) that hold portplan's ruleset and filter."""
    found: list[_Found] = []
    for save, command, family in saves:
        rules, dropping = _filter_table(save)
        parsed = []
        for line in rules:
            try:
                parsed.append((line, shlex.split(line)))
            except ValueError:
                continue
        marked = next((line for line, words in parsed if _is_portplans(words)), None)
        if marked is None:
            continue
        if dropping:
            how = f"policies drop ({', '.join(dropping)})"
        elif any(_rejects_unplanned(words) for _line, words in parsed):
            how = "it rejects what is not in the plan"
        else:
            continue  # (accepting whatever it does not name, it filters nothing here)
        found.append((command, family, marked, how))
    return found


def _seen(found: list[_Found]) -> str:
    return "; ".join(
        f"{family} ({command}): {line!r}, {how}" for command, family, line, how in found
    )


def _way_out(found: list[_Found]) -> str:
    """How to look at the tables ``found`` and remove their filtering without cutting a
    session (policies to ACCEPT before flushing)."""
    steps = " && ".join(
        f"{c} -P INPUT ACCEPT && {c} -P OUTPUT ACCEPT && {c} -F INPUT && {c} -F OUTPUT"
        for c, _family, _line, _how in found
    )
    look = ", ".join(f"`{c}-save -t filter`" for c, _family, _line, _how in found)
    return (
        f"look at them ({look}: they were replaced whole, so what another tool such as Docker "
        "or fail2ban added since is in them too), then, so that no session is cut, set the "
        "policies to ACCEPT before flushing: `" + steps + "` (`-P FORWARD ACCEPT` too where "
        "this host forwards)"
    )


def _iptables_tables() -> str | None:
    found = _portplan_tables(_saves())
    if not found:
        return None
    sets = _portplan_sets()
    destroy = f", remove its address sets (`ipset destroy {' && ipset destroy '.join(sets)}`)"
    return (
        "the filter tables hold a ruleset `portplan apply -t iptables` loaded ("
        + _seen(found)
        + "); it keeps filtering beside the nftables table (what its rules do not accept is "
        "dropped or rejected), and the lockout checks cannot see it, so nothing was "
        f"changed. To switch to nftables, {_way_out(found)}" + (destroy if sets else "") + ", "
        "and apply again; to stay with iptables, apply with -t iptables instead"
    )


def _other_backend_tables() -> str | None:
    """portplan's iptables ruleset in the filter tables of the backend that ``iptables-save``
    and ``iptables-restore`` do not use here (loaded when they named the other one: the
    alternatives switched, a distribution upgrade): apply -t iptables saves, replaces and
    restores only the tables of the tools it runs, so that one would keep filtering beside."""
    if shutil.which("iptables-save") is None:
        return None
    version = run(["iptables-save", "-V"]).stdout
    used, other = ("nft", "legacy") if b"nf_tables" in version else ("legacy", "nft")
    found = _portplan_tables([s for s in _saves() if s[1].endswith(f"-{other}")])
    if not found:
        return None
    return (
        f"the {other} iptables backend's filter tables hold a ruleset `portplan apply -t "
        f"iptables` loaded ({_seen(found)}), but its tools here (iptables-save, "
        f"iptables-restore) are the {used} ones: apply would replace and roll back only "
        f"the {used} tables, and the {other} ones would keep filtering beside the new ruleset "
        "(what their rules do not accept is dropped or rejected), unseen by the lockout "
        f"checks, so nothing was changed. To remove it, {_way_out(found)}, "
        "and apply again"
    )


def _portplan_sets() -> list[str]:
    """The address sets ``apply -t iptables`` fills (``portplan_v4_`` and the hash of their
    members, or a number as earlier versions named them), where ipset is."""
    if shutil.which("ipset") is None:
        return []
    try:
        names = checked(["ipset", "list", "-n"], None, "listing the address sets")
    except ApplyError:
        return []  # (only named in the advice: the refusal stands without them)
    return sorted(n for n in names.decode().split() if PORTPLAN_SET.fullmatch(n))

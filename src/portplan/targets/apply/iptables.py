"""Applying iptables rulesets: the IPv4 and IPv6 filter tables (``iptables-restore``,
``ip6tables-restore``) and portplan's address sets (``ipset``), as one unit.

Saved first: each family's filter table with its packet and byte counters (``iptables-save
-c -t filter``, restored with ``--counters``) and the members of each portplan address set
that exists (``ipset save NAME``).  Loading is sets, then IPv4, then IPv6; when a step
fails, everything is put back (by :mod:`.confirmed`, as any restore), so a host is never
left half new (IPv4 new, IPv6 old).  Putting back reloads the saved filter
tables, then refills each saved set (filled under a temporary name and swapped in,
atomically) and removes the sets that did not exist before.

A set's name says its members (:func:`~portplan.targets.iptables.set_name`), so no step,
of the load or of putting back, changes the members of a set the rules in force name: the
new sets are made beside the old ones, which the old rules keep using until the new rules
replace them, and which a rollback needs again.  Only once the new ruleset is kept
(:meth:`IptablesApplier.kept`) are portplan's sets the new rules do not name destroyed.
"""

from __future__ import annotations

import logging
import re
import shlex
import shutil
from collections.abc import Mapping

from portplan._errors import ApplyError, ToolError
from portplan.targets.apply._commands import checked, in_scratch_namespace, run
from portplan.targets.apply._nftview import differences
from portplan.targets.base import Applier

__all__ = [
    "LOOPBACK_COMMENT",
    "NEIGHBOUR_COMMENT",
    "PORTPLAN_SET",
    "UNPLANNED_COMMENT",
    "IptablesApplier",
]

_log = logging.getLogger("portplan.apply")

#: the comments of rules every portplan filter table holds (the IPv6 one, and the IPv4 one
#: unless loopback=planned): how apply of another target knows this one's ruleset is in force
NEIGHBOUR_COMMENT = "IPv6 neighbour discovery"
LOOPBACK_COMMENT = "loopback"
UNPLANNED_COMMENT = "not in the plan"  #: of the rejects of --default reject

#: file suffix → (family key, restore command, save command)
_FAMILIES = {
    ".v4": ("v4", "iptables-restore", "iptables-save"),
    ".v6": ("v6", "ip6tables-restore", "ip6tables-save"),
}
_RESTORE = {key: restore for key, restore, _save in _FAMILIES.values()}
_SET_PREFIX = "set:"  #: saved key of a set's members (empty: the set did not exist)
_ALL_SETS = "sets"  #: saved key of every set there is, for the scratch namespace only
_CREATE = re.compile(r"^create (\S+) ", re.MULTILINE)
#: the names of portplan's address sets (``portplan_v4_`` and the hash of the members, or,
#: as earlier versions named them, a number), and of those they are filled under (``_tmp``)
#: or put back through (``_rb``), which a load or restore cut short may leave
PORTPLAN_SET = re.compile(r"portplan_v[46]_[0-9a-f]+(?:_tmp|_rb)?")
_VIEW = "nft:"  #: saved key of nft's listing of a family's running filter table (nf_tables)
#: family key → (nft's name of its filter table, what to call it in a message)
_NFT_TABLES = {"v4": (("ip", "filter"), "IPv4"), "v6": (("ip6", "filter"), "IPv6")}


#: seconds a restore tool waits for the xtables lock (less than a tool may take, so that its
#: own message, naming the lock, is what the operator reads)
XTABLES_WAIT = 20


def _restoring(restore: str) -> list[str]:
    """The command line of a restore tool, waiting up to :data:`XTABLES_WAIT` seconds for the
    xtables lock where the tool takes one.

    The legacy tools take a lock for the whole machine (``/run/xtables.lock``) that Docker,
    fail2ban and firewalld take too; 1.8.9 waits for it, but 1.8.7 fails at once unless told
    to wait (``-w SECONDS``, since 1.6.2; ``-w5`` is refused: the number is a word of its
    own).  Their ``--help`` names ``--wait``.  Legacy tools older than 1.6.2 take no
    lock and know no ``-w``; the nf_tables tools take none (the kernel orders their
    transactions) and do not list it: neither is given one.
    """
    result = run([restore, "--help"])
    if b"--wait" in result.stdout + result.stderr:
        return [restore, "-w", str(XTABLES_WAIT)]
    return [restore]


def _portplan_sets(text: str) -> list[str]:
    """The sets a portplan ``.ipset`` file fills (not its temporary ``_tmp`` ones)."""
    return [name for name in _CREATE.findall(text) if not name.endswith("_tmp")]


def _renamed(saved_set: bytes, name: str, temporary: str) -> bytes:
    """``ipset save NAME`` output, rewritten to fill ``temporary`` (emptied first, should an
    earlier attempt have left it) instead of ``name``."""
    lines = []
    for line in saved_set.decode().splitlines():
        words = line.split(" ")
        if len(words) >= 2 and words[0] in ("create", "add") and words[1] == name:
            words[1] = temporary
            lines.append(" ".join(words))
            if words[0] == "create":
                lines.append(f"flush {temporary}")
    return ("\n".join(lines) + "\n").encode()


def _running_view(key: str, save: str) -> bytes:
    """nft's listing of the family's running filter table, when the iptables tools are the
    nf_tables ones and the table exists (empty otherwise: the legacy backend's
    iptables-save shows its tables whole, and a missing table loses nothing)."""
    if b"nf_tables" not in run([save, "-V"]).stdout or shutil.which("nft") is None:
        return b""
    listing = run(["nft", "-j", "-s", "list", "table", *_NFT_TABLES[key][0]])
    if listing.returncode == 0:
        return listing.stdout
    if b"No such file or directory" in listing.stderr:
        return b""
    detail = listing.stderr.decode(errors="replace").strip()
    raise ApplyError(f"listing the running {_NFT_TABLES[key][1]} filter table failed: {detail}")


class IptablesApplier(Applier):
    """``ipset``, ``iptables-restore`` and ``ip6tables-restore``, all or nothing."""

    def _families(self) -> list[tuple[str, str, str, str]]:
        """(key, text, restore command, save command) of each family file, IPv4 first."""
        found = []
        for suffix, (key, restore, save) in _FAMILIES.items():
            for name, text in self.files.items():
                if name.endswith(suffix):
                    found.append((key, text, restore, save))
        return found

    def _ipsets(self) -> list[str]:
        return [text for name, text in sorted(self.files.items()) if name.endswith(".ipset")]

    def check(self) -> None:
        # `--test` needs the sets the rules name, and loading them here would swap the members
        # of the live sets: check in a network namespace of its own, gone when the check ends
        files: dict[str, bytes] = {}
        steps = []
        for index, text in enumerate(self._ipsets()):
            files[f"{index}.ipset"] = text.encode()
            steps.append(f"ipset restore -exist < {index}.ipset")
        for key, text, restore, _save in self._families():
            files[f"{key}.rules"] = text.encode()
            steps.append(f"{shlex.join(_restoring(restore))} --test < {key}.rules")
        in_scratch_namespace(files, steps, "iptables-restore --test")

    def snapshot(self) -> dict[str, bytes]:
        saved: dict[str, bytes] = {}
        for key, _text, _restore, save in self._families():
            # with the counters (-c): a rollback brings back the packet and byte counts too
            saved[key] = checked([save, "-c", "-t", "filter"], None, "saving the filter table")
            if listing := _running_view(key, save):
                saved[_VIEW + key] = listing
        if not self._ipsets() and shutil.which("ipset") is None:
            # nothing to fill, and no ipset tool: no set of portplan's can exist, and saved
            # rules that name another's fail to reload in prove_restorable (so nothing is
            # applied)
            return saved
        existing = set(checked(["ipset", "list", "-n"], None, "listing sets").decode().split())
        for text in self._ipsets():
            for name in _portplan_sets(text):
                members = b""
                if name in existing:
                    members = checked(["ipset", "save", name], None, f"saving set {name}")
                saved[_SET_PREFIX + name] = members
        saved[_ALL_SETS] = checked(["ipset", "save"], None, "saving the address sets")
        return saved

    def prove_restorable(self, saved: Mapping[str, bytes]) -> None:
        """Reload the saved tables and sets in a scratch namespace; with the nf_tables backend,
        nft's listing of each reloaded table must say what the running one's says (see
        :mod:`._nftview`), or nothing is applied."""
        files: dict[str, bytes] = {}
        steps = []
        if _ALL_SETS in saved:  # the sets the saved rules may name
            files["sets"] = saved[_ALL_SETS]
            steps.append("ipset restore -exist < sets")
        views = []
        for key, restore in _RESTORE.items():
            if key in saved:
                files[key] = saved[key]
                steps.append(f"{shlex.join(_restoring(restore))} --counters < {key}")
            if _VIEW + key in saved:
                views.append(key)
                steps.append(f"nft -j -s list table {' '.join(_NFT_TABLES[key][0])} > {key}.json")
        reloaded = in_scratch_namespace(
            files,
            steps,
            "reloading a copy of the running filter tables in a scratch namespace",
            [f"{key}.json" for key in views],
        )
        for key in views:
            lost = differences(saved[_VIEW + key], reloaded[f"{key}.json"])
            if lost:
                family = _NFT_TABLES[key][1]
                raise ApplyError(
                    f"the running {family} filter table holds what iptables-save cannot show "
                    f"({', '.join(lost)} differ once saved and reloaded: nftables sets, maps or "
                    "rules written with nft), so a rollback could not bring it back; nothing "
                    "was changed. Move those rules to a table of their own, or apply with "
                    "-t nftables, which leaves other tables alone"
                )

    def load(self, saved: Mapping[str, bytes]) -> None:
        for text in self._ipsets():
            checked(["ipset", "restore", "-exist"], text.encode(), "filling address sets")
        for _key, text, restore, _save in self._families():
            checked(_restoring(restore), text.encode(), f"applying with {restore}")

    def restore(self, saved: Mapping[str, bytes]) -> None:
        """Put back each family's table and each set, every one tried whatever became of the
        others: a tool that fails, is gone or hangs for one family must not leave the other
        new."""
        failures = []
        for key, restore in _RESTORE.items():  # rules first: then no rule names a new set
            if key in saved:
                try:
                    result = run([*_restoring(restore), "--counters"], saved[key])
                except ToolError as error:
                    failures.append(str(error))
                    continue
                if result.returncode != 0:
                    failures.append(f"{restore}: {result.stderr.decode(errors='replace')}")
        for key, members in saved.items():
            if not key.startswith(_SET_PREFIX):
                continue
            name = key[len(_SET_PREFIX) :]
            try:
                if members:
                    temporary = f"{name[:27]}_rb"
                    script = (
                        _renamed(members, name, temporary)
                        + f"swap {temporary} {name}\ndestroy {temporary}\n".encode()
                    )
                    result = run(["ipset", "restore", "-exist"], script)
                else:
                    result = run(["ipset", "destroy", name])
                    if b"does not exist" in result.stderr:
                        continue
            except ToolError as error:
                failures.append(f"ipset {name}: {error}")
                continue
            if result.returncode != 0:
                failures.append(f"ipset {name}: {result.stderr.decode(errors='replace')}")
        if failures:
            raise ApplyError("restoring failed: " + "; ".join(f.strip() for f in failures))

    def kept(self) -> None:
        """Destroy portplan's sets the new rules do not name: the old rules' (a rollback no
        longer needs them), and what a load cut short left.  One still in use (a rule of
        another table names it) is left, with a warning."""
        if shutil.which("ipset") is None:
            return  # (no tool: no set of portplan's exists)
        named = {name for text in self._ipsets() for name in _portplan_sets(text)}
        try:
            listed = checked(["ipset", "list", "-n"], None, "listing the address sets")
            existing = listed.decode(errors="replace").split()
            for name in existing:
                if name in named or not PORTPLAN_SET.fullmatch(name):
                    continue
                result = run(["ipset", "destroy", name])
                if result.returncode != 0 and b"does not exist" not in result.stderr:
                    detail = result.stderr.decode(errors="replace").strip()
                    _log.warning(
                        "the address set %s, which the new rules do not use, is left: %s "
                        "(remove it with `ipset destroy %s` once nothing uses it)",
                        name, detail, name,
                    )  # fmt: skip
        except ToolError as error:
            _log.warning("portplan's address sets the new rules do not use are left: %s", error)

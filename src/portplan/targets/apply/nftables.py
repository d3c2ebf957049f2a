"""Applying an nftables ruleset: ``nft -c`` checks it, and it replaces only portplan's own table
(``table inet portplan``) in one transaction.

So the saved state is that table alone (``nft list table inet portplan``, or its absence),
and a rollback deletes the new table and reloads the saved one in one transaction: tables of
other tools (iptables-nft's, Docker's, an operator's) are never flushed, saved or reloaded,
whatever they hold — also rules nft can list but not load back (iptables-nft's xtables
compat expressions).
"""

from __future__ import annotations

from collections.abc import Mapping

from portplan._errors import ApplyError
from portplan.targets.apply._commands import checked, in_scratch_namespace, run
from portplan.targets.base import Applier

__all__ = ["TABLE", "NftablesApplier"]

#: the one table portplan's nftables rulesets load
TABLE = "inet portplan"
_DELETE = f"table {TABLE}\ndelete table {TABLE}\n".encode()  # (creating first: no error if absent)


class NftablesApplier(Applier):
    """Check with ``nft -c``, save ``table inet portplan``, load with ``nft -f``."""

    def _text(self) -> bytes:
        (text,) = self.files.values()
        return text.encode()

    def check(self) -> None:
        checked(["nft", "-c", "-f", "-"], self._text(), "nft check")

    def snapshot(self) -> dict[str, bytes]:
        tables = checked(["nft", "list", "tables"], None, "listing the tables")
        if f"table {TABLE}".encode() not in tables.splitlines():
            return {"table": b""}  # no portplan table yet: a rollback removes the new one
        return {"table": checked(["nft", "list", "table", *TABLE.split()], None, "saving")}

    def prove_restorable(self, saved: Mapping[str, bytes]) -> None:
        if saved["table"]:
            in_scratch_namespace(
                {"saved.nft": saved["table"]},
                ["nft -f saved.nft"],
                "reloading a copy of the running portplan table in a scratch namespace",
            )

    def load(self, saved: Mapping[str, bytes]) -> None:
        # one transaction: the new table wholly replaces the old one, or nothing changes
        checked(["nft", "-f", "-"], self._text(), "applying the ruleset")

    def restore(self, saved: Mapping[str, bytes]) -> None:
        result = run(["nft", "-f", "-"], _DELETE + saved["table"])
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).decode(errors="replace").strip()
            raise ApplyError(f"restoring the previous portplan table failed: {detail}")

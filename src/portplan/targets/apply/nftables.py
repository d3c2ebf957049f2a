"""Applying an nftables ruleset: ``nft -c`` checks, ``nft list ruleset`` saves, ``nft -f``
loads atomically."""

from __future__ import annotations

from collections.abc import Mapping

from portplan.targets.apply._commands import checked
from portplan.targets.base import Applier

__all__ = ["NftablesApplier"]


class NftablesApplier(Applier):
    """``nft``: check with ``-c``, save with ``list ruleset``, load atomically with ``-f``."""

    def _text(self) -> bytes:
        (text,) = self.files.values()
        return text.encode()

    def check(self) -> None:
        checked(["nft", "-c", "-f", "-"], self._text(), "nft check")

    def snapshot(self) -> dict[str, bytes]:
        return {"ruleset": checked(["nft", "list", "ruleset"], None, "saving the ruleset")}

    def load(self) -> None:
        checked(["nft", "-f", "-"], self._text(), "applying the ruleset")

    def restore(self, saved: Mapping[str, bytes]) -> None:
        # one transaction: flush and reload the saved ruleset together
        checked(["nft", "-f", "-"], b"flush ruleset\n" + saved["ruleset"], "restoring")

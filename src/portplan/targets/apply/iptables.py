"""Applying iptables rulesets: ``iptables-restore``/``ip6tables-restore`` (and ``ipset``) per
address family."""

from __future__ import annotations

import shlex
import tempfile
from collections.abc import Mapping
from pathlib import Path

from portplan.targets.apply._commands import checked
from portplan.targets.base import Applier

__all__ = ["IptablesApplier"]


#: file suffix → (restore command, save command)
_IPTABLES_TOOLS = {
    ".v4": ("iptables-restore", "iptables-save"),
    ".v6": ("ip6tables-restore", "ip6tables-save"),
}


class IptablesApplier(Applier):
    """``iptables-restore``/``ip6tables-restore`` (and ``ipset``) per family."""

    def _family_files(self) -> list[tuple[str, str, str]]:
        found = []
        for name, text in self.files.items():
            for suffix, (restore, save) in _IPTABLES_TOOLS.items():
                if name.endswith(suffix):
                    found.append((text, restore, save))
        return found

    def _ipsets(self) -> list[str]:
        return [text for name, text in self.files.items() if name.endswith(".ipset")]

    def _restore_ipsets(self) -> None:
        for text in self._ipsets():
            checked(["ipset", "restore", "-exist"], text.encode(), "creating address sets")

    def check(self) -> None:
        if not self._ipsets():
            for text, restore, _save in self._family_files():
                checked([restore, "--test"], text.encode(), f"{restore} --test")
            return
        # `--test` needs the sets the rules name, and loading them here would swap the members
        # of the live sets: check in a network namespace of its own, gone when the check ends
        with tempfile.TemporaryDirectory(prefix="portplan-check-") as scratch:
            steps = []
            for index, text in enumerate(self._ipsets()):
                path = Path(scratch, f"{index}.ipset")
                path.write_text(text)
                steps.append(f"ipset restore -exist < {shlex.quote(str(path))}")
            for index, (text, restore, _save) in enumerate(self._family_files()):
                path = Path(scratch, f"{index}.rules")
                path.write_text(text)
                steps.append(f"{restore} --test < {shlex.quote(str(path))}")
            script = "\n".join(steps).encode()
            checked(["unshare", "--net", "sh", "-e", "-s"], script, "iptables-restore --test")

    def snapshot(self) -> dict[str, bytes]:
        return {
            save: checked([save], None, "saving the ruleset")
            for _text, _restore, save in self._family_files()
        }

    def load(self) -> None:
        self._restore_ipsets()
        for text, restore, _save in self._family_files():
            checked([restore], text.encode(), f"applying with {restore}")

    def restore(self, saved: Mapping[str, bytes]) -> None:
        for _text, restore, save in self._family_files():
            checked([restore], saved[save], f"restoring with {restore}")

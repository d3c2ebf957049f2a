"""Running an external tool that only reads (``nft list``, ``iptables-save``): bounded in time,
a missing tool named with the Debian package that brings it."""

from __future__ import annotations

import logging
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Sequence

from portplan._errors import ToolError

__all__ = [
    "PACKAGES",
    "iptables_holds_tables",
    "nft_needs_iptables",
    "nft_shows_no_table",
    "read_tool",
]

_log = logging.getLogger("portplan.tools")
#: the Debian package of each tool portplan runs, named when the tool is missing
PACKAGES = {
    "nft": "nftables",
    "iptables-restore": "iptables",
    "ip6tables-restore": "iptables",
    "iptables-save": "iptables",
    "ip6tables-save": "iptables",
    "ipset": "ipset",
    "unshare": "util-linux",
    "ss": "iproute2",
    "git": "git",
}


def read_tool(argv: Sequence[str], data: bytes | None = None, *, timeout: float = 60) -> str:
    """The standard output of a tool; :class:`ToolError` when it is missing, fails or hangs."""
    if shutil.which(argv[0]) is None:
        package = PACKAGES.get(argv[0], argv[0])
        raise ToolError(f"{argv[0]} is not installed; install it (Debian package {package})")
    _log.debug("running: %s", shlex.join(argv))
    try:
        result = subprocess.run(
            list(argv), input=data, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{shlex.join(argv)} did not finish within {timeout:g} s") from exc
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).decode(errors="replace").strip()
        raise ToolError(f"{shlex.join(argv)} exited {result.returncode}: {detail}")
    return result.stdout.decode(errors="replace")


# Reading the running ruleset (`audit --live`, the collection's facts): nft's JSON, unless the
# iptables tools see what it cannot show.

#: what nft prints of a rule iptables-nft wrote with a match or target nft has no expression
#: for (an ipset match, say)
_XT = '"xt"'


def nft_needs_iptables(nft_json: str) -> bool:
    """Whether ``nft -j list ruleset`` holds rules only iptables-nft can print (``xt``)."""
    return _XT in nft_json


def nft_shows_no_table(nft_json: str) -> bool:
    """Whether ``nft -j list ruleset`` shows no table at all (iptables-legacy's it never sees)."""
    return '"table"' not in nft_json


def iptables_holds_tables(saved: Iterable[str]) -> bool:
    """Whether ``iptables-save`` outputs hold a table (``*filter``...)."""
    return any(line.startswith("*") for text in saved for line in text.splitlines())

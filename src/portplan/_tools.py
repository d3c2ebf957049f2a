"""Running an external tool that only reads (``nft list``, ``iptables-save``): bounded in time,
a missing tool named with the Debian package that brings it."""

from __future__ import annotations

import logging
import shlex
import shutil
import subprocess
from collections.abc import Sequence

from portplan._errors import ToolError

__all__ = ["PACKAGES", "read_tool"]

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

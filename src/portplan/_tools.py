"""Running an external tool that only reads (``nft list``, ``iptables-save``): bounded in time,
a missing tool named with the Debian package that brings it."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterable, Sequence
from typing import Any

from portplan._errors import ToolError

__all__ = [
    "NFT_FLAGS_FROM_TEXT",
    "NFT_TABLE_FLAGS",
    "PACKAGES",
    "iptables_holds_tables",
    "nft_cut_short",
    "nft_flags_from_text",
    "nft_flags_garbled",
    "nft_needs_iptables",
    "nft_shows_no_table",
    "read_tool",
    "run_bounded",
]

_log = logging.getLogger("portplan.tools")
#: the Debian package of each tool portplan runs, named when the tool is missing
PACKAGES = {
    "nft": "nftables",
    "iptables-restore": "iptables",
    "ip6tables-restore": "iptables",
    "iptables-save": "iptables",
    "ip6tables-save": "iptables",
    "iptables-nft-save": "iptables",
    "ip6tables-nft-save": "iptables",
    "iptables-legacy-save": "iptables",
    "ip6tables-legacy-save": "iptables",
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
        code, stdout, stderr = run_bounded(argv, data, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{shlex.join(argv)} did not finish within {timeout:g} s") from exc
    if code != 0:
        detail = (stderr or stdout).decode(errors="replace").strip()
        raise ToolError(f"{shlex.join(argv)} exited {code}: {detail}")
    return stdout.decode(errors="replace")


def run_bounded(
    argv: Sequence[str],
    data: bytes | None = None,
    *,
    timeout: float,
    env: dict[str, str] | None = None,
) -> tuple[int, bytes, bytes]:
    """Run ``argv`` to its end: its exit status, standard output and standard error.

    It runs in a session of its own, ended whole: a tool's children (`sh -c 'nft ...'`, an
    inventory script's own commands) hold its output open, and waiting for them would outlast
    the timeout, or leave them running after it.  :class:`subprocess.TimeoutExpired` when it
    takes longer than ``timeout`` seconds; on that, or Ctrl-C, no process of it is left.
    """
    with subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(data, timeout=timeout)
        except BaseException:  # the timeout, or Ctrl-C: the tool is not left running
            _end(process)
            raise
    return process.returncode, stdout, stderr


def _end(process: subprocess.Popen[bytes]) -> None:
    """Kill ``process`` and every process of its session, and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


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


# nft 1.0.6 (Debian 12) prints a table's flags in its JSON as a stray word (`"flags": "inet"`,
# the table's name: a use after free), where its text listing says them right (`flags
# dormant`).  A dormant table filters nothing, so what the audit reads depends on them.

#: the flags nft names for a table
NFT_TABLE_FLAGS = frozenset({"dormant", "owner", "persist"})
#: the key of nft's ``metainfo`` where portplan says it put in the text listing's table flags
NFT_FLAGS_FROM_TEXT = "portplan_table_flags_from"
#: a table's head and its flags line in ``nft list ruleset``: ``table inet fw {`` + ``flags ...``
#: (a table with the flag ``owner`` has its owner in a comment: ``table inet fw { # progname
#: firewalld``)
_TEXT_FLAGS = re.compile(
    r'^table (\w+) "?([^"\n]+?)"? \{(?: #[^\n]*)?\n\s*flags ([\w, ]+)$', re.MULTILINE
)


def _json_tables(nft_json: str) -> list[dict[str, Any]]:
    try:
        items = json.loads(nft_json).get("nftables", [])
    except (ValueError, AttributeError):
        return []  # not nft's JSON: the reader says so
    if not isinstance(items, list):
        return []
    return [i["table"] for i in items if isinstance(i, dict) and isinstance(i.get("table"), dict)]


def nft_flags_garbled(nft_json: str) -> bool:
    """Whether ``nft -j list ruleset`` gives a table flags, which nft 1.0.6 garbles (even into
    a flag's name, when the stray word is a table named ``owner``): ``nft list ruleset`` in
    text then says what they are (:func:`nft_flags_from_text`)."""
    return '"flags"' in nft_json and any("flags" in t for t in _json_tables(nft_json))


def nft_cut_short(nft_json: str) -> str | None:
    """The version of nft (from its ``metainfo``) when its ``nft -j list ruleset`` stops right
    after a table's ``"flags":``, else ``None``: nft 1.0.6 does so for some rulesets with a
    dormant table, and exits 0 (it prints the word it has just freed, see above)."""
    if not nft_json.rstrip().endswith('"flags":'):
        return None
    found = re.search(r'"metainfo": \{"version": "([^"]*)"', nft_json)
    return found.group(1) if found else "(its version not printed)"


def nft_flags_from_text(nft_json: str, nft_text: str) -> str:
    """``nft -j list ruleset`` with each table's flags as ``nft list ruleset`` (text, read at
    the same time) names them, also where the JSON gives none (a table woken to be listed),
    and marked so (:data:`NFT_FLAGS_FROM_TEXT`) when the text gave the flags of every table
    the JSON gives flags; a table it does not show keeps what the JSON says, unmarked, so that
    nft 1.0.6's stray word is still read as what it may be."""
    said = {
        (family, name): sorted(f for f in re.split(r"[,\s]+", flags) if f)
        for family, name, flags in _TEXT_FLAGS.findall(nft_text)
    }
    document = json.loads(nft_json)
    items = [i for i in document.get("nftables", []) if isinstance(i, dict)]
    unread = 0
    for item in items:
        table = item.get("table")
        if not isinstance(table, dict):
            continue
        flags = said.get((str(table.get("family")), str(table.get("name"))))
        if flags is not None:
            table["flags"] = flags
        elif "flags" in table:
            unread += 1
    for item in items:
        if not unread and isinstance(item.get("metainfo"), dict):
            item["metainfo"][NFT_FLAGS_FROM_TEXT] = "nft list ruleset"
    return json.dumps(document)

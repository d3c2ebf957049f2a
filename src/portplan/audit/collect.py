"""Rulesets from the files collected on a host, or read live from this machine.

A file's format is told from its content, or named before its path (``KIND:PATH``):

========== ===============================================================================
kind       what it holds
========== ===============================================================================
nftables   ``nft -j list ruleset`` (JSON)
nft        an nftables ruleset as text (``nft list ruleset``, or a file ``nft -f`` loads):
           loaded into a network namespace of its own and read back as JSON (root, or
           unprivileged user namespaces, and ``nft``)
iptables   ``iptables-save`` (or an ``iptables-restore`` file)
ip6tables  ``ip6tables-save``
ipset      ``ipset save`` (or an ``ipset restore`` script)
kubernetes NetworkPolicies (YAML): the ingress of the host's pods
cisco      Cisco IOS or ASA extended access lists: a zone boundary's filter
aws        ``aws ec2 describe-security-groups`` (JSON): the groups attached to the host
windows    the Windows Defender Firewall ActiveStore as JSON (the one-liner of docs/audit.md)
========== ===============================================================================
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from portplan._errors import AuditError, ToolError
from portplan._tools import (
    iptables_holds_tables,
    nft_cut_short,
    nft_flags_from_text,
    nft_flags_garbled,
    nft_needs_iptables,
    nft_shows_no_table,
    read_tool,
)
from portplan.audit._input import reading
from portplan.audit._nfttext import nft_text_to_json
from portplan.audit._rules import BOUNDARY_PLATFORMS, Ruleset
from portplan.audit.aws import read_security_groups
from portplan.audit.cisco import read_cisco_acls
from portplan.audit.iptables import iptables_family, read_ipsets, read_iptables_save
from portplan.audit.kubernetes import read_network_policies
from portplan.audit.nftables import read_nftables_json
from portplan.audit.windows import read_active_store
from portplan.plan import Plan
from portplan.spaces import Ranges

__all__ = [
    "BOUNDARY_KINDS",
    "HOST_READ",
    "KIND_HOLDS",
    "RULESET_KINDS",
    "RulesetFile",
    "live_ruleset",
    "read_ruleset",
    "ruleset_kind",
]

RULESET_KINDS = (
    "nftables",
    "nft",
    "iptables",
    "ip6tables",
    "ipset",
    "kubernetes",
    "cisco",
    "aws",
    "windows",
)
#: the kinds that are a zone boundary's filter (their platform's name is the kind's); every
#: other kind is a host's own firewall
BOUNDARY_KINDS = BOUNDARY_PLATFORMS
#: the kinds read for one host of the deployment (:func:`read_ruleset`'s ``host``): the
#: policies that select its pods, the Windows rules that apply to its addresses
HOST_READ = frozenset({"kubernetes", "windows"})
#: what a file of each kind holds, as messages say it
KIND_HOLDS = {
    "nftables": "an nftables ruleset",
    "nft": "an nftables ruleset",
    "iptables": "an iptables ruleset",
    "ip6tables": "an ip6tables ruleset",
    "ipset": "ipset sets",
    "kubernetes": "Kubernetes NetworkPolicies",
    "cisco": "Cisco access lists",
    "aws": "AWS security groups",
    "windows": "a Windows firewall export",
}


#: each kind's format as messages name it, and what to give instead of a file it cannot read
_READING = {
    "nftables": ("nft JSON", "give the output of `nft -j list ruleset`"),
    "iptables": ("iptables-save output", "give the output of `iptables-save`"),
    "ipset": ("ipset save output", "give the output of `ipset save`"),
    "kubernetes": (
        "NetworkPolicy YAML",
        "give the output of `kubectl get networkpolicy -A -o yaml`",
    ),
    "cisco": (
        "Cisco access lists",
        "give the boundary's access list as `show running-config` prints it (IOS: `show "
        "running-config | section access-list`; ASA: `show running-config access-list`)",
    ),
    "aws": ("security groups JSON", "give the output of `aws ec2 describe-security-groups`"),
    "windows": (
        "Windows firewall JSON",
        "export the ActiveStore with the one-liner of docs/audit.md",
    ),
}


def _reading(kind: str, name: str) -> contextlib.AbstractContextManager[None]:
    """The boundary of one file of ``kind``: no reader's surprise escapes as a traceback."""
    what, hint = _READING[kind]
    return reading(name, what, hint)


@dataclass(frozen=True, slots=True)
class RulesetFile:
    """One collected file: its name (for messages), its text, and its kind if the user named
    it (``None``: told from the text)."""

    name: str
    text: str
    kind: str | None = None


def ruleset_kind(text: str, name: str) -> str:
    """The kind of a collected ruleset file, from its content."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and "nftables" in data:
            return "nftables"
        if isinstance(data, dict) and "SecurityGroups" in data:
            return "aws"
        if isinstance(data, dict) and "rules" in data and "profiles" in data:
            return "windows"
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    first = lines[0] if lines else ""
    if first.startswith("*") or any(line == "COMMIT" for line in lines):
        return "ip6tables" if iptables_family(text) == 6 else "iptables"
    if first.split(" ", 1)[0] in ("create", "add") and all(
        line.split(" ", 1)[0] in ("create", "add", "flush", "swap", "destroy") for line in lines
    ):
        return "ipset"
    if any(line.startswith(("table ", "add table", "flush ruleset")) for line in lines):
        return "nft"
    if any(line.replace(" ", "") == "kind:NetworkPolicy" for line in lines):
        return "kubernetes"
    if any(
        line.startswith(("ip access-list extended ", "ipv6 access-list ", "access-list "))
        for line in lines
    ):
        return "cisco"
    if not lines:
        raise AuditError(
            f"{name}: the file holds no rule, so its kind cannot be told from it (`ipset save` "
            "on a host without sets, and `nft list ruleset` without tables, write nothing); "
            f"name its kind as KIND:PATH (ipset:{name}, nft:{name}; kinds: "
            f"{', '.join(RULESET_KINDS)})"
        )
    raise AuditError(
        f"{name}: not a ruleset portplan reads (nft -j list ruleset, nft list ruleset, "
        "iptables-save, ip6tables-save, ipset save); name its kind as KIND:PATH "
        f"({', '.join(RULESET_KINDS)})"
    )


def read_ruleset(
    files: Sequence[RulesetFile],
    plan: Plan | None = None,
    host: str | None = None,
    *,
    namespace: str | None = None,
) -> Ruleset:
    """One host's ruleset from the files collected on it: nftables, iptables with ipsets, or
    Kubernetes NetworkPolicies (which need the ``plan`` and the ``host`` whose pods they
    select, and are in ``namespace`` where they name none)."""
    kinds = [(f, f.kind or ruleset_kind(f.text, f.name)) for f in files]
    if namespace is not None and all(k != "kubernetes" for _f, k in kinds):
        raise AuditError(
            f"--namespace {namespace} says where NetworkPolicies that name no namespace are, "
            "and no file given holds NetworkPolicies: drop it, or give the policies"
        )
    stores = [f for f, k in kinds if k == "windows"]
    if stores:
        if len(stores) != len(kinds) or len(stores) > 1 or plan is None or host is None:
            raise AuditError("give one Windows firewall export, and no other ruleset beside it")
        with _reading("windows", stores[0].name):
            return read_active_store(stores[0].text, stores[0].name, plan, host)
    groups = [f for f, k in kinds if k == "aws"]
    if groups:
        if len(groups) != len(kinds) or len(groups) > 1 or plan is None:
            raise AuditError("give one describe-security-groups file, and no other ruleset")
        with _reading("aws", groups[0].name):
            return read_security_groups(groups[0].text, groups[0].name, plan)
    acls = [f for f, k in kinds if k == "cisco"]
    if acls:
        if len(acls) != len(kinds) or len(acls) > 1:
            raise AuditError("give one file of access lists, and no other ruleset beside it")
        with _reading("cisco", acls[0].name):
            return read_cisco_acls(acls[0].text, acls[0].name)
    policies = [f for f, k in kinds if k == "kubernetes"]
    if policies:
        if len(policies) != len(kinds) or len(policies) > 1:
            raise AuditError("give one file of NetworkPolicies, and no other ruleset beside it")
        if plan is None or host is None:
            raise AuditError("NetworkPolicies are read for a host of a deployment")
        with _reading("kubernetes", policies[0].name):
            file = policies[0]
            return read_network_policies(file.text, file.name, plan, host, namespace)
    nft = [(f, k) for f, k in kinds if k in ("nftables", "nft")]
    if nft:
        if len(nft) != len(kinds) or len(nft) > 1:
            raise AuditError(
                "give one nftables ruleset (nft -j list ruleset holds every table), and no "
                "iptables files beside it"
            )
        file, kind = nft[0]
        text = file.text if kind == "nftables" else nft_text_to_json(file.text, file.name)
        with _reading("nftables", file.name):
            return read_nftables_json(text, file.name)
    sets: dict[str, tuple[int, Ranges] | None] = {}
    tables: list[tuple[str, str, int | None]] = []
    for file, kind in kinds:
        if kind == "ipset":
            with _reading("ipset", file.name):
                sets.update(read_ipsets(file.text, file.name))
        else:
            named = {"iptables": 4, "ip6tables": 6}.get(file.kind or "")
            tables.append((file.name, file.text, named))  # None: told from the rules
    if not tables:
        raise AuditError("ipset files alone hold no rules; give the iptables-save output too")
    with _reading("iptables", ", ".join(name for name, _text, _family in tables)):
        return read_iptables_save(tables, sets)


def _live_iptables(backend: str = "") -> list[RulesetFile]:
    """This machine's ruleset as the iptables tools print it (``backend``: ``-nft`` for
    iptables-nft's by name; :class:`ToolError` when iptables-save or ip6tables-save is missing
    or fails)."""
    files = [
        RulesetFile(f"{tool} (live)", read_tool([tool]), kind)
        for tool, kind in (
            (f"iptables{backend}-save", "iptables"),
            (f"ip6tables{backend}-save", "ip6tables"),
        )
    ]
    # no ipset tool, or no sets module: rules that use sets then say what is missing
    with contextlib.suppress(ToolError):
        files.append(RulesetFile("ipset save (live)", read_tool(["ipset", "save"]), "ipset"))
    return files


#: where the kernel lists the tables iptables-legacy holds in this network namespace, and the
#: tool that prints them (nft never shows them; iptables-save may be iptables-nft's)
_LEGACY = (
    ("/proc/net/ip_tables_names", "iptables-legacy-save", "iptables"),
    ("/proc/net/ip6_tables_names", "ip6tables-legacy-save", "ip6tables"),
)


def _live_legacy() -> tuple[list[RulesetFile], list[str]]:
    """This machine's iptables-legacy rules, when its kernel lists legacy tables: each
    family's (empty where it lists none: no legacy table filters it), with ``ipset save``,
    whose sets they may use; and what could not be read."""
    listed: dict[str, list[str]] = {}
    for names, tool, _kind in _LEGACY:
        try:
            listed[tool] = Path(names).read_text().split()
        except OSError:  # no legacy x_tables in this kernel
            listed[tool] = []
    if not any(listed.values()):
        return [], []
    files: list[RulesetFile] = []
    unread: list[str] = []
    for _names, tool, kind in _LEGACY:
        tables = listed[tool]
        try:
            files.append(RulesetFile(f"{tool} (live)", read_tool([tool]) if tables else "", kind))
        except ToolError as exc:
            unread.append(
                f"iptables-legacy tables ({', '.join(sorted(tables))}) of {kind} are not read "
                f"({exc}): give `{tool}` output with --ruleset {kind}:FILE in a second run"
            )
    if unread:
        return [], unread
    with contextlib.suppress(ToolError):
        files.append(RulesetFile("ipset save (live)", read_tool(["ipset", "save"]), "ipset"))
    return files, unread


def _beside(ruleset: Ruleset, legacy: Ruleset) -> Ruleset:
    """``ruleset`` (nftables, or iptables-nft's) with the iptables-legacy chains of ``legacy``
    beside its own: both filter every packet on their hooks, so what either drops does not
    pass, and what either rewrites may pass.  Their keys take ``legacy`` in front:
    iptables-nft's tables in nftables have the same names."""

    def key(name: str) -> str:
        return f"legacy {name}"

    for name, chain in legacy.chains.items():
        rules = [replace(r, target=key(r.target) if r.target else None) for r in chain.rules]
        ruleset.chains[key(name)] = replace(chain, key=key(name), rules=rules)
    for hook, keys in legacy.paths.items():
        ruleset.paths.setdefault(hook, []).extend(key(k) for k in keys)
    for hook, keys in legacy.rewriting.items():
        ruleset.rewriting.setdefault(hook, []).extend(key(k) for k in keys)
    ruleset.files = (*ruleset.files, *legacy.files)
    ruleset.notes.extend(legacy.notes)
    return ruleset


def live_ruleset() -> Ruleset:
    """This machine's running ruleset: ``nft -j list ruleset``; ``iptables-save``,
    ``ip6tables-save`` and ``ipset save`` instead where nft is missing or fails, where its
    rules hold what only iptables-nft can print (``xt`` matches: then iptables-nft's own
    tools where ``iptables-save`` is another's), or where it holds no table and the iptables
    tools print some (iptables-legacy, whose tables nft does not see).  The
    iptables-legacy tables the kernel lists are read with the legacy tools (``iptables-save``
    may be iptables-nft's), alone or beside nftables tables (:func:`_beside`): both filter
    every packet."""
    try:
        text = read_tool(["nft", "-j", "list", "ruleset"])
    except ToolError:  # no nftables here: the legacy iptables tools
        text = None
    version = None if text is None else nft_cut_short(text)
    if version is not None:
        raise AuditError(
            f"nft -j list ruleset (live): nft {version} printed its JSON of this machine's "
            'ruleset cut short after a table\'s "flags" (a bug of that version with dormant '
            "tables); save `nft list ruleset > FILE` and audit it as --ruleset nft:FILE, "
            "which portplan lists in a network namespace of its own, its tables woken there"
        )
    if text is not None and nft_flags_garbled(text):
        with contextlib.suppress(ToolError):  # else tables read as maybe dormant
            text = nft_flags_from_text(text, read_tool(["nft", "list", "ruleset"]))
    if text is not None and not nft_needs_iptables(text):
        legacy, unread = _live_legacy()
        if nft_shows_no_table(text):
            if legacy:  # iptables-legacy's rules alone
                return read_ruleset(legacy)
            with contextlib.suppress(ToolError):
                files = _live_iptables()
                if iptables_holds_tables(f.text for f in files if f.kind != "ipset"):
                    return read_ruleset(files)
        with _reading("nftables", "nft -j list ruleset (live)"):
            ruleset = read_nftables_json(text, "nft -j list ruleset (live)")
        ruleset.notes.extend(unread)
        return _beside(ruleset, read_ruleset(legacy)) if legacy else ruleset
    backed = _nft_backed()
    if text is not None and not backed:
        # nft's tables hold what only iptables-nft prints, and iptables-save is not its
        # (iptables-legacy's, where the alternatives name it): it would print none of them
        ruleset = read_ruleset(_live_iptables("-nft"))
    else:
        ruleset = read_ruleset(_live_iptables())
    legacy, unread = _live_legacy() if text is not None or backed else ([], [])
    ruleset.notes.extend(unread)
    return _beside(ruleset, read_ruleset(legacy)) if legacy else ruleset


def _nft_backed() -> bool:
    """Whether ``iptables-save`` is iptables-nft's, which prints none of iptables-legacy's
    tables (``iptables-save v1.8.9 (nf_tables)``; a legacy one prints them itself)."""
    try:
        return "(nf_tables)" in read_tool(["iptables-save", "--version"])
    except ToolError:
        return False

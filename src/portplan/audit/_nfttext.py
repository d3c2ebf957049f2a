"""An nftables ruleset in nft's text (``nft list ruleset``, or a file ``nft -f`` loads), loaded
in a network namespace of its own and read back as ``nft -j list ruleset`` prints it.

nft 1.0.6 prints a table's flags in its JSON as a word it has just freed (:mod:`portplan._tools`):
a stray word, which the text listing read beside it corrects, or for some rulesets with a
dormant table nothing more at all, its JSON cut short right after ``"flags":``.  The namespace
is portplan's own, so the ruleset is then listed again with its tables woken there (no flags,
nothing to garble) and given the flags its text listing says.
"""

from __future__ import annotations

import re

from portplan._errors import AuditError, ToolError
from portplan._tools import nft_cut_short, nft_flags_from_text, nft_flags_garbled, read_tool

__all__ = ["nft_text_to_json"]

#: how ``nft -f`` reports a mistake in what it reads: ``/dev/stdin:4:13-17: Error: ...``
_NFT_REFUSED = re.compile(r"/dev/stdin:(\d+):(\d+)(?:-\d+)?: Error: ([^\n]*)")
#: a table's head in ``nft list ruleset``, its family and name as nft writes them
_TABLE = re.compile(r'^(table \w+ (?:"[^"\n]*"|[^\s"{]+)) \{', re.MULTILINE)
#: load the ruleset, then list it in JSON and in text
_LIST = "nft -f /dev/stdin && nft -j list ruleset && nft list ruleset"
#: load the ruleset, wake its tables (``add table`` of a table there sets its flags to none),
#: then list it in JSON
_LIST_AWAKE = 'nft -f /dev/stdin && printf "%s\\n" "$@" | nft -f /dev/stdin && nft -j list ruleset'
#: a ``flags`` statement and its flags (``flags owner``, ``flags dormant, owner``): a table's
#: flag ``owner`` without ``persist`` has the kernel remove it when the process that loaded it
#: ends, so ``nft -f`` leaves none of it to be listed
_FLAGS = re.compile(r"\bflags\s+((?:[\w-]+\s*,\s*)*[\w-]+)")
#: an ``include`` statement: nft reads the file it names from this machine, not the host's
_INCLUDE = re.compile(r"(?:^|;)\s*include\b")
#: a string or a comment on one line of nft's text: what is left out when looking for the flag
_QUOTED_OR_COMMENT = re.compile(r'"[^"\n]*"|#[^\n]*')


def nft_text_to_json(text: str, name: str) -> str:
    """The JSON of the nftables text ruleset ``text`` (the file ``name``), each table with
    the flags nft's text listing says."""
    _refuse_unlike(text, name)
    try:
        found, _, listing = _unshared(_LIST, text).partition("\n")
        version = nft_cut_short(found)
        if version is None:
            return nft_flags_from_text(found, listing) if nft_flags_garbled(found) else found
        tables = [f"add {head}" for head in _TABLE.findall(listing)]
        try:
            woken = _unshared(_LIST_AWAKE, text, tables)
        except ToolError as exc:
            raise AuditError(
                f"{name}: nft {version} printed its JSON of this ruleset cut short after a "
                'table\'s "flags" (a bug of that version with dormant tables), and listing it '
                f"with its tables woken in portplan's own network namespace failed too: {exc}; "
                "audit it on a machine with another version of nft"
            ) from None
        if nft_cut_short(woken) is not None:  # a table the listing did not show
            raise AuditError(
                f"{name}: nft {version} printed its JSON of this ruleset cut short after a "
                'table\'s "flags" (a bug of that version with dormant tables), even with its '
                "tables woken in portplan's own network namespace; audit it on a machine with "
                "another version of nft"
            )
        return nft_flags_from_text(woken, listing)
    except ToolError as exc:
        refused = _NFT_REFUSED.search(str(exc))
        if refused is not None:  # a mistake in the file, not a failure of this machine
            line, column, message = refused.groups()
            raise AuditError(
                f"{name}:{line}:{column}: nft cannot read it: {message.strip()}; correct the "
                "file, or collect `nft -j list ruleset` instead"
            ) from None
        raise ToolError(
            f"{name}: reading an nftables text ruleset loads it in a network namespace of its "
            f"own, which failed: {exc}; collect `nft -j list ruleset` instead"
        ) from None


def _refuse_unlike(text: str, name: str) -> None:
    """An error for what ``nft -f`` loads otherwise in portplan's namespace than on the host,
    so that the audit would read another ruleset: a table with the flag ``owner``, gone as soon
    as nft ends; an ``include``, which reads this machine's files (none, for a pattern that
    matches nothing here: no error)."""
    for number, line in enumerate(text.splitlines(), start=1):
        bare = _QUOTED_OR_COMMENT.sub("", line)
        if _INCLUDE.search(bare) is not None:
            raise AuditError(
                f"{name}:{number}: an include, which nft would read from this machine, not "
                "from the host audited (a pattern that matches no file here is no error), so "
                "the ruleset would be audited without the host's rules there; give `nft list "
                "ruleset` of the host as nft:FILE (it holds what the includes loaded), or "
                "collect `nft -j list ruleset` instead"
            )
        for found in _FLAGS.finditer(bare):
            flags = {f.strip() for f in found.group(1).split(",")}
            if "owner" not in flags or "persist" in flags:
                continue
            raise AuditError(
                f"{name}:{number}: a table with the flag owner (and not persist), which the "
                "kernel removes when the process that loaded it ends: loaded with `nft -f` in "
                "portplan's own network namespace, it would be gone before it is read, and the "
                "ruleset audited without it; give the file with `owner` left out of that "
                "table's flags (it decides no packet), or collect `nft -j list ruleset` instead"
            )


def _unshared(script: str, text: str, args: list[str] | None = None) -> str:
    """What ``script`` prints, run by ``sh`` in a network namespace of its own with ``text``
    on its standard input and ``args`` as its arguments."""
    argv = ["unshare", "--net", "sh", "-c", script, "sh", *(args or [])]
    return read_tool(argv, text.encode())

"""The Windows target's scripts as Windows PowerShell and Windows Firewall read them.

Windows PowerShell 5.1 (the PowerShell of every Windows Server) reads a script file without a
byte-order mark in the system's ANSI code page, not as UTF-8.  There the bytes of a letter
such as ``ł`` (C5 82) or Cyrillic ``т`` (D1 82) read as ``Å`` or ``Ñ`` followed by U+201A, one
of the characters PowerShell ends a single-quoted string at: a purpose in Polish or Russian
would end its ``-Description`` string early and run the rest as code.
"""

from __future__ import annotations

import dataclasses

import examples
from portplan.targets import RuleOptions, get_target
from targetread import windows_rules

#: the characters at which PowerShell ends a single-quoted string (doubled: one of them inside)
QUOTES = "'\u2018\u2019\u201a\u201b"
UTF8_BOM = b"\xef\xbb\xbf"
#: a purpose whose UTF-8 bytes, read as Windows-1252, hold typographic quotes
PURPOSE = "Połączenie (Start-Process calc) ł, соединение т"


def read_as_windows_powershell(data: bytes) -> str:
    """The text Windows PowerShell 5.1 reads from a script file: UTF-8 after a byte-order
    mark, otherwise the ANSI code page (Windows-1252 on a Western European system)."""
    if data.startswith(UTF8_BOM):
        return data[len(UTF8_BOM) :].decode("utf-8")
    return data.decode("cp1252", errors="replace")


def single_quoted(text: str, start: int) -> str:
    """The value of the PowerShell single-quoted string that opens at ``text[start]``."""
    assert text[start] in QUOTES
    value = []
    i = start + 1
    while i < len(text):
        if text[i] in QUOTES:
            if i + 1 < len(text) and text[i + 1] in QUOTES:
                value.append(text[i])
                i += 2
                continue
            return "".join(value)
        value.append(text[i])
        i += 1
    raise AssertionError("the string is not closed")


def test_a_purpose_in_any_script_stays_inside_its_string() -> None:
    plan = examples.example_plan("shopping-contoso")
    rows = tuple(
        dataclasses.replace(row, facts=dataclasses.replace(row.facts, purpose=PURPOSE))
        for row in plan.rows
    )
    plan = dataclasses.replace(plan, rows=rows)
    script = get_target("windows").render(plan, RuleOptions(hosts=("cm01",)))["cm01.ps1"]
    data = script.encode()  # as `portplan rules` writes it, to a file or standard output
    text = read_as_windows_powershell(data)
    descriptions = [
        single_quoted(text, at + len("-Description "))
        for at in range(len(text))
        if text.startswith("-Description ", at)
    ]
    assert descriptions
    for description in descriptions:
        assert description.endswith(f": {PURPOSE}"), description


def test_no_rule_name_or_description_holds_a_pipe() -> None:
    """Windows Firewall forbids ``|`` in a rule's name and description (INetFwRule Name and
    Description: "The string must not contain the '|' character"; its rule store separates
    fields with it).  A rule that implements several flows joined their purposes with ``|``,
    and a purpose may hold one itself."""
    plan = examples.example_plan("shopping-contoso")
    rows = tuple(
        dataclasses.replace(
            row, facts=dataclasses.replace(row.facts, purpose=f"{row.purpose} | a|b")
        )
        for row in plan.rows
    )
    plan = dataclasses.replace(plan, rows=rows)
    scripts = get_target("windows").render(plan, RuleOptions())
    several = 0
    for script in scripts.values():
        for rule in windows_rules(script):
            several += len(rule["DisplayName"][0].split(", ")) > 1
            for parameter in ("DisplayName", "Description"):
                assert "|" not in rule[parameter][0], rule[parameter][0]
            assert "a/b" in rule["Description"][0]
    assert several  # rules that implement several flows were checked

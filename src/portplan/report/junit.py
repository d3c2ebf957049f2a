"""JUnit XML as CI servers read it, for diff, verify and audit: one writer, so that every
report is well-formed XML 1.0 whatever text (names, purposes, rules) it carries."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

__all__ = ["junit_xml"]

#: what XML 1.0 forbids that a Python string can hold: C0 controls but tab, line feed and
#: carriage return; lone surrogates; U+FFFE and U+FFFF
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _visible(match: re.Match[str]) -> str:
    """A C0 control as its symbol of Unicode's Control Pictures (``\\x1b`` → ``␛``), so that a
    reader sees it was there; anything else U+FFFD."""
    code = ord(match.group())
    return chr(0x2400 + code) if code < 0x20 else "\ufffd"


def junit_xml(suite: ET.Element) -> str:
    """The document of ``suite``, indented, with an XML declaration: characters XML forbids
    are shown (:func:`_visible`), never written, so every parser reads the file."""
    ET.indent(suite)
    text = ET.tostring(suite, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _FORBIDDEN.sub(_visible, text) + "\n"

"""JUnit XML as CI servers read it, for diff, verify and audit: one writer, so that every
report is well-formed XML 1.0 whatever text (names, purposes, rules) it carries."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from portplan._text import control_picture

__all__ = ["junit_xml"]

#: what XML 1.0 forbids that a Python string can hold: C0 controls but tab, line feed and
#: carriage return; lone surrogates; U+FFFE and U+FFFF
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def junit_xml(suite: ET.Element) -> str:
    """The document of ``suite``, indented, with an XML declaration: characters XML forbids
    are shown (:func:`portplan._text.control_picture`), never written, so every parser reads
    the file."""
    ET.indent(suite)
    text = ET.tostring(suite, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _FORBIDDEN.sub(control_picture, text) + "\n"

"""Words in a port cell that name a port rather than give its number: whether they can be the
name of a port the deployment sets (a parameter), or say something else.

They cannot when they hold a port number (``HTTPS (443)`` names port 443), when they start
with a protocol or a word of the grammar, or when the port they name is picked anew each time
a connection is made (``random generated port``, ``randomly assigned ports``): no deployment
sets that one, it is one of the dynamic ports (:func:`picked_at_run_time`)."""

from __future__ import annotations

from collections.abc import Sequence

from portplan.importer._lexer import Token, names_port
from portplan.importer._portscan import KEYWORDS, depth_at, starts_term
from portplan.importer.ports import Transport

__all__ = ["hides_ports", "names_a_port", "numbered", "picked_at_run_time"]

#: words saying a port is picked when the connection is made, not set beforehand
_AT_RUN_TIME = ("random", "randomly")


def hides_ports(inner: Sequence[Token], said: set[Transport]) -> bool:
    """Whether a note in parentheses names a port or a protocol the term does not have
    (``or 8443``, ``also UDP``, ``Windows 2003: 1025-5000``): reading it as a note would drop
    it.  Numbers that refer to the document (``Note 2``) or are part of a version (``TLS 1.2``)
    do not count."""
    for index, token in enumerate(inner):
        if (token.protocol and Transport(token.low) not in said) or token.protocolish:
            return True
        if token.kind == "num" and names_port(inner, index):
            return True
    return False


def numbered(toks: Sequence[Token]) -> bool:
    """Whether the words naming a port hold a number: any outside parentheses, and inside
    them one that names a port (``HTTPS (443)``, not ``(see note 1)``)."""
    return hides_ports(toks, set(Transport)) or any(
        t.kind == "num" and depth_at(toks, k) == 0 for k, t in enumerate(toks)
    )


def names_a_port(toks: Sequence[Token]) -> bool:
    """Whether ``toks`` can name a port: they hold a word that is not a protocol or a keyword,
    and do not start with one (``TCP netcat`` would read back as TCP and ``netcat``)."""

    def naming(token: Token) -> bool:
        return token.kind == "word" and not starts_term(token) and token.low not in KEYWORDS

    return (
        bool(toks)
        and not starts_term(toks[0])
        and not toks[0].is_(*KEYWORDS)
        and any(naming(t) for t in toks)
    )


def picked_at_run_time(toks: Sequence[Token]) -> bool:
    """Whether words naming a port say it is picked when the connection is made (``random
    generated port``): the first word says so, outside parentheses."""
    outer = [t for k, t in enumerate(toks) if depth_at(toks, k) == 0 and t.kind == "word"]
    return bool(outer) and outer[0].is_(*_AT_RUN_TIME)

"""Inline Markdown as the text a reader sees, by CommonMark's rules (markdown-it-py reads it).

Emphasis (``**TCP:**``, ``__x__``, ``*x*``, ``_x_``) shows its text without its markers; a
``*`` or ``_`` that opens or closes nothing (a footnote mark ``(*)``, ``5*``, ``snake_case``)
is text.  A code span shows its text verbatim, without its backticks.  A backslash before ASCII
punctuation is that character, an entity (``&amp;``, ``&#65;``) the character it names.
Everything else stays as written: links, images, raw HTML and struck-through text
(``~~22~~``, which the port reader reports) are no markup here.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

__all__ = ["as_text"]

#: only the inline rules whose markup hides from the reader what the text says; text_join off,
#: so that an escaped or entity character (``&lt;br&gt;``) stays apart from the text around it
_PARSER = (
    MarkdownIt("zero").enable(["emphasis", "backticks", "escape", "entity"]).disable("text_join")
)
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def as_text(markdown: str, *, breaks: bool = False) -> str:
    """Inline Markdown as the text it shows.  With ``breaks`` (a table cell), a ``<br>`` tag
    outside a code span is a line break; an escaped one (``\\<br>``, ``&lt;br>``) is text."""
    if not markdown:
        return markdown
    parts: list[str] = []
    for block in _PARSER.parseInline(markdown):
        for token in block.children or ():
            if token.type == "text":
                parts.append(_BREAK.sub("\n", token.content) if breaks else token.content)
            elif token.type in ("text_special", "code_inline"):
                parts.append(token.content)
            elif token.type in ("softbreak", "hardbreak"):
                parts.append("\n")
    return "".join(parts)

"""Text views of a Document: JSON, plain text and Markdown."""

from __future__ import annotations

import json
import re
from typing import Any

from ..document import Document, Page
from ._common import as_document

__all__ = ["to_json", "to_text", "to_markdown", "escape_markdown"]

# Characters with an inline meaning in CommonMark / GitHub Markdown (emphasis, code, links, HTML, tables,
# strikethrough, math); each is written with a backslash, which CommonMark allows before any ASCII punctuation.
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>|~$])")
# '&' only matters where it would start an entity reference ("&amp;", "&#38;").
_MARKDOWN_ENTITY = re.compile(r"&(?=#?\w+;)")
# At the start of a line: headings, block quotes (already escaped), list items, setext underlines, thematic breaks.
_MARKDOWN_LINE_START = re.compile(r"^([#+\-=])")
_MARKDOWN_ORDERED_ITEM = re.compile(r"^(\d{1,9})([.)])")


def _is_numeric(value: Any) -> bool:
    if isinstance(value, list):
        return all(_is_numeric(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _pretty(value: Any, indent: int, level: int) -> str:
    """json.dumps with ``indent``, except that lists of numbers (quads, points) stay on one line."""
    if isinstance(value, list) and _is_numeric(value):
        return json.dumps(value)
    pad, inner = " " * (indent * level), " " * (indent * (level + 1))
    if isinstance(value, dict) and value:
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {_pretty(v, indent, level + 1)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value:
        items = [f"{inner}{_pretty(v, indent, level + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False)


def to_json(result: Document | Page, *, indent: int | None = 2) -> str:
    """Return ``Document.to_dict()`` (a Page is wrapped into a one-page Document) as JSON text.

    Args:
        result: a Document, or one Page.
        indent: spaces per nesting level (each quad stays on one line); ``None`` for one compact line.

    Returns:
        JSON text with non-ASCII characters kept as they are. Quads are in original-image pixels.
    """
    data = as_document(result).to_dict()
    if indent is None:
        return json.dumps(data, ensure_ascii=False)
    return _pretty(data, indent, 0)


def to_text(result: Document | Page) -> str:
    """Return the reading-order text: lines separated by newlines, paragraphs by a blank line, pages by ``\\f``."""
    if isinstance(result, Page):
        return result.text()
    return as_document(result).text()


def escape_markdown(line: str) -> str:
    """Escape one line of text so that Markdown renders it literally.

    >>> escape_markdown("1. *Note*: see [a]")
    '1\\\\. \\\\*Note\\\\*: see \\\\[a\\\\]'
    """
    line = _MARKDOWN_INLINE.sub(r"\\\1", line.strip())
    line = _MARKDOWN_ENTITY.sub(r"\\&", line)
    line = _MARKDOWN_LINE_START.sub(r"\\\1", line)
    return _MARKDOWN_ORDERED_ITEM.sub(r"\1\\\2", line)


def to_markdown(result: Document | Page) -> str:
    """Return the text as Markdown: one Markdown paragraph per paragraph, pages separated by ``---``.

    Each line of a paragraph stays on its own source line (Markdown joins them into one rendered paragraph);
    paragraphs are separated by a blank line; Markdown special characters are escaped so that the rendering shows
    the recognised text literally. Lines without text are left out.
    """
    pages = []
    for page in as_document(result).pages:
        paragraphs = []
        for paragraph in page.paragraphs:
            lines = [escape_markdown(line.text) for line in paragraph.lines]
            lines = [line for line in lines if line]
            if lines:
                paragraphs.append("\n".join(lines))
        pages.append("\n\n".join(paragraphs))
    text = "\n\n---\n\n".join(pages)
    return text + "\n" if text else ""

"""Helpers shared by the document views: accepting a Document or a Page, integer boxes, XML-safe text."""

from __future__ import annotations

import math
import re
from xml.sax.saxutils import escape

from ..document import Document, Page, Quad

# Characters that XML 1.0 forbids even as character references (C0 controls other than tab, LF, CR; lone
# surrogates; U+FFFE, U+FFFF). A recognizer never should emit them, but one bad character must not make the whole
# file unparsable.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def as_document(result: Document | Page) -> Document:
    """Wrap a lone Page into a one-page Document; pass a Document through."""
    if isinstance(result, Document):
        return result
    if isinstance(result, Page):
        return Document(pages=(result,))
    raise TypeError(f"expected a textspotter Document or Page, got {type(result).__name__}")


def xml_text(text: str) -> str:
    """Escape text for XML element content or a double-quoted attribute, dropping characters XML forbids."""
    return escape(_XML_INVALID.sub("", text), {'"': "&quot;"})


def int_box(quad: Quad, width: int, height: int) -> tuple[int, int, int, int]:
    """Return the integer pixel box (x0, y0, x1, y1) covering a quad, clipped to the page.

    ``x0, y0`` are floored and ``x1, y1`` ceiled so that the box covers every pixel the quad touches;
    ``x1 >= x0`` and ``y1 >= y0`` always hold.
    """
    xs = [p[0] for p in quad]
    ys = [p[1] for p in quad]
    x0 = min(max(math.floor(min(xs)), 0), width)
    y0 = min(max(math.floor(min(ys)), 0), height)
    x1 = min(max(math.ceil(max(xs)), x0), width)
    y1 = min(max(math.ceil(max(ys)), y0), height)
    return x0, y0, x1, y1

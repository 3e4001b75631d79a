"""Views of a Document: the published dict list, the model-card and NIM shapes, JSON, text, Markdown, hOCR, ALTO,
an overlay picture and a searchable PDF.

Every function here reads a :class:`~textspotter.document.Document` (or one of its pages) and changes nothing;
coordinates in a Document are original-image pixels. See ``docs/formats.md`` for every field.

>>> from textspotter.export import to_published, to_hocr  # doctest: +SKIP
>>> to_published(document.pages[0], "paragraph")          # doctest: +SKIP
"""

from __future__ import annotations

from .alto import to_alto
from .hocr import to_hocr
from .overlay import draw_overlay
from .pdf import PdfOptions, PdfWriter, to_pdf, write_pdf
from .published import (
    MERGE_LEVEL_ALIASES,
    MERGE_LEVELS,
    MergedItem,
    MergeLevel,
    ModelCardResult,
    PublishedItem,
    merge_items,
    reading_order,
    to_model_card,
    to_nim,
    to_published,
)
from .serialize import escape_markdown, to_json, to_markdown, to_text

__all__ = [
    "MERGE_LEVELS",
    "MERGE_LEVEL_ALIASES",
    "MergeLevel",
    "MergedItem",
    "PublishedItem",
    "ModelCardResult",
    "merge_items",
    "reading_order",
    "to_published",
    "to_model_card",
    "to_nim",
    "to_json",
    "to_text",
    "to_markdown",
    "escape_markdown",
    "to_hocr",
    "to_alto",
    "draw_overlay",
    "to_pdf",
    "write_pdf",
    "PdfOptions",
    "PdfWriter",
]

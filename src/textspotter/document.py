"""The one result type: Document → Page → Paragraph → Line → Word.

Every quad here is ``[4, 2]`` (x, y) in pixels of the **original** page image (after EXIF rotation, or the PDF page
rendered at the requested DPI), clockwise from the top-left vertex. Reading order is the order of the tuples; each
element also carries its ``order`` index (words: within their line; lines: within their paragraph; paragraphs:
within their page) so that a flattened view keeps it.

JSON, plain text, hOCR, ALTO, the published dict list and the HTTP responses are all views of these objects
(``textspotter.export``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["Quad", "Word", "Line", "Paragraph", "Page", "Document", "join_words", "map_page_quads"]

# Han, CJK punctuation, Hiragana, Katakana, the CJK compatibility ideographs and the fullwidth forms: scripts written
# without spaces between words. Hangul is left out on purpose: Korean separates words with spaces.
CJK_CLASS = r"\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff60"
_CJK_CHARACTER = re.compile(f"[{CJK_CLASS}]")

Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


def as_quad(points: Any) -> Quad:
    """Convert any ``[4, 2]`` sequence (list, numpy array, tensor) into a tuple-of-tuples quad of floats."""
    rows = [(float(p[0]), float(p[1])) if len(p) == 2 else tuple(map(float, p)) for p in points]
    if len(rows) != 4 or any(len(r) != 2 for r in rows):
        raise ValueError(f"a quad needs 4 (x, y) points, got {points!r}")
    return tuple(rows)  # type: ignore[return-value]


def join_words(texts: Iterator[str] | list[str] | tuple[str, ...]) -> str:
    """Join word texts into a line: a single space between words, none between two CJK characters.

    Chinese and Japanese are read by runs (a line may come as several regions: a run cut by the detector or at 40
    characters), and a space between two of their characters is not in the text.

    >>> join_words(["使用", "Python", "进行", "开发。"])
    '使用 Python 进行开发。'
    """
    out = ""
    for text in texts:
        if not text:
            continue
        if out:
            glued = _CJK_CHARACTER.match(out[-1]) and _CJK_CHARACTER.match(text[0])
            out += "" if glued else " "
        out += text
    return out


def bounding_quad(quads: list[Quad]) -> Quad:
    """Return the axis-aligned quad that encloses all given quads (clockwise from top-left)."""
    if not quads:
        raise ValueError("bounding_quad needs at least one quad")
    xs = [p[0] for q in quads for p in q]
    ys = [p[1] for q in quads for p in q]
    x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def _quad_to_list(quad: Quad) -> list[list[float]]:
    return [[round(x, 2), round(y, 2)] for x, y in quad]


@dataclass(frozen=True)
class Word:
    """One detected and read region.

    Attributes:
        text: decoded text (may be empty for an invalid region).
        quad: ``[4, 2]`` vertices in original-image pixels, clockwise from top-left.
        confidence: overall confidence in [0, 1]: harmonic mean of detection and text confidence (spec §6.4).
        detection_confidence: mean detector probability of the region's cells, in [0, 1].
        text_confidence: recognizer confidence of the text, in [0, 1].
        order: index of the word within its line (reading order).
        valid: ``len(text) > 0 and confidence > 0.5`` (the published validity rule).
    """

    text: str
    quad: Quad
    confidence: float
    detection_confidence: float
    text_confidence: float
    order: int = 0
    valid: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "quad": _quad_to_list(self.quad),
            "confidence": round(self.confidence, 5),
            "detection_confidence": round(self.detection_confidence, 5),
            "text_confidence": round(self.text_confidence, 5),
            "order": self.order,
            "valid": self.valid,
        }


@dataclass(frozen=True)
class Line:
    """Words linked into one line, in reading order.

    Attributes:
        words: the words, in reading order.
        quad: axis-aligned box over the word quads (the published "sentence" box), original-image pixels.
        confidence: mean of the word confidences.
        order: index of the line within its paragraph.
    """

    words: tuple[Word, ...]
    quad: Quad
    confidence: float
    order: int = 0

    @property
    def text(self) -> str:
        """Word texts joined with single spaces, without one between two CJK characters (:func:`join_words`)."""
        return join_words([w.text for w in self.words])

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "quad": _quad_to_list(self.quad),
            "confidence": round(self.confidence, 5),
            "order": self.order,
            "words": [w.to_dict() for w in self.words],
        }


@dataclass(frozen=True)
class Paragraph:
    """Lines linked into one paragraph (text block), in reading order.

    Attributes:
        lines: the lines, in reading order.
        quad: axis-aligned box over the line boxes (the published "paragraph" box), original-image pixels.
        confidence: mean of the line confidences (spec §8.3).
        order: index of the paragraph within its page.
    """

    lines: tuple[Line, ...]
    quad: Quad
    confidence: float
    order: int = 0

    @property
    def text(self) -> str:
        """Line texts joined with newlines."""
        return "\n".join(line.text for line in self.lines)

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for line in self.lines for w in line.words)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "quad": _quad_to_list(self.quad),
            "confidence": round(self.confidence, 5),
            "order": self.order,
            "lines": [line.to_dict() for line in self.lines],
        }


@dataclass(frozen=True)
class Page:
    """One page image and what was read on it.

    Attributes:
        width, height: size of the original page image in pixels.
        paragraphs: paragraphs in reading order.
        index: page number within its document (0-based).
        timings: seconds spent per stage on this page (informational; may be empty).
        rotation: degrees clockwise (0, 90, 180 or 270) the page image was turned before it was read
            (``OrientationOptions``). Quads are in the original, unturned image's pixels whatever the rotation, so
            overlays line up; a word quad's first vertex is the top-left corner of its text, which on a turned page
            is another corner of the image.
        text_source: where the page's text came from: ``"ocr"`` (read from the image), ``"text-layer"`` (a
            born-digital PDF page's own text, ``pipeline.textlayer``), ``"mixed"`` (the text layer, with OCR of its
            raster images or of text-layer words that could not be trusted) or ``"none"`` (``--text-layer only``
            on a page without a trusted text layer: nothing was read).
        text_layer_reason: why the text layer was not used, or not wholly (``"no_text"``, ``"unreliable"``,
            ``"uncovered_ink"``, ``"images"``, ``"untrusted_words"``, several joined by ``+``); None otherwise.
    """

    width: int
    height: int
    paragraphs: tuple[Paragraph, ...] = ()
    index: int = 0
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    rotation: int = 0
    text_source: str = "ocr"
    text_layer_reason: str | None = None

    @property
    def lines(self) -> tuple[Line, ...]:
        return tuple(line for p in self.paragraphs for line in p.lines)

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for p in self.paragraphs for w in p.words)

    def text(self) -> str:
        """Reading-order text: lines separated by newlines, paragraphs by a blank line."""
        return "\n\n".join(p.text for p in self.paragraphs if p.text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "width": self.width,
            "height": self.height,
            "rotation": self.rotation,
            "text_source": self.text_source,
            "text_layer_reason": self.text_layer_reason,
            "paragraphs": [p.to_dict() for p in self.paragraphs],
        }


@dataclass(frozen=True)
class Document:
    """The result for one input (an image, a multi-page TIFF or a PDF).

    Attributes:
        pages: the pages, in input order.
        source: a printable name of the input (a path, or ``"<bytes>"``, ``"<array>"`` ...).
        error: ``None`` on success; otherwise why this input could not be read (then ``pages`` is empty).
            A batch with one bad input returns such a Document for it and normal results for the others.
    """

    pages: tuple[Page, ...] = ()
    source: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def __iter__(self) -> Iterator[Page]:
        return iter(self.pages)

    def __len__(self) -> int:
        return len(self.pages)

    def text(self) -> str:
        """Reading-order text of all pages; pages separated by a form feed (``\\f``)."""
        return "\f".join(p.text() for p in self.pages)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "pages": [p.to_dict() for p in self.pages]}
        if self.error is not None:
            out["error"] = self.error
        return out


def map_page_quads(page: Page, word_quad: Callable[[Quad], Quad], box_quad: Callable[[Quad], Quad]) -> Page:
    """The page with every word's quad mapped by ``word_quad`` and every line's and paragraph's by ``box_quad``;
    everything else as it was (a page moved into another frame: turned by quarter turns, or by a slant)."""
    paragraphs = []
    for paragraph in page.paragraphs:
        lines = []
        for line in paragraph.lines:
            words = tuple(replace(word, quad=word_quad(word.quad)) for word in line.words)
            lines.append(replace(line, words=words, quad=box_quad(line.quad)))
        paragraphs.append(replace(paragraph, lines=tuple(lines), quad=box_quad(paragraph.quad)))
    return replace(page, paragraphs=tuple(paragraphs))

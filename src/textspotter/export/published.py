"""The published output shapes of Nemotron OCR: the dict list, the model-card triple and the NIM response.

All three list the same items in the same order (spec §8.3):

1. one item per word, per line (``"sentence"``) or per paragraph, walking paragraphs → lines → words in the
   Document's order; a word's box is its quad, a line's or paragraph's box the axis-aligned hull of its words;
2. items re-ordered geometrically: key point ``box[0]`` (top-left), its y values clustered in 1-D with a gap
   threshold of 10 px (DBSCAN, eps 10, min_samples 1), cluster key ``int(mean y)``, stable sort by (key, x).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any, Literal, TypedDict

from ..document import Line, Page, Quad, bounding_quad

__all__ = [
    "MERGE_LEVELS",
    "MERGE_LEVEL_ALIASES",
    "canonical_merge_level",
    "MergeLevel",
    "MergedItem",
    "PublishedItem",
    "ModelCardResult",
    "merge_items",
    "reading_order",
    "to_published",
    "to_model_card",
    "to_nim",
]

MergeLevel = Literal["word", "sentence", "paragraph", "line"]
"""The levels at which items are merged: words, lines (``"sentence"``, the published name, or its alias ``"line"``)
or paragraphs."""

# The levels under their published names (what the service lists); MERGE_LEVEL_ALIASES holds the other names.
MERGE_LEVELS: tuple[MergeLevel, ...] = ("word", "sentence", "paragraph")

MERGE_LEVEL_ALIASES: dict[str, MergeLevel] = {"line": "sentence"}
"""Other names accepted wherever a merge level is: ``"line"`` is ``"sentence"`` (the published name of a line of
words). Outputs never change with the name used."""

# Gap threshold of the published re-ordering, in original-image pixels (reorder_boxes(dbscan_eps=10)).
REORDER_EPS = 10.0


class PublishedItem(TypedDict):
    """One item of the published dict list (:func:`to_published`); box values are normalised to the page size.

    As published, ``upper`` is the **largest** y (the bottom edge on screen) and ``lower`` the smallest y.
    """

    text: str
    confidence: float
    left: float
    upper: float
    right: float
    lower: float


class ModelCardResult(TypedDict):
    """The model card's parallel lists for one page (:func:`to_model_card`); boxes in original-image pixels."""

    ocr_boxes: list[list[list[float]]]
    ocr_txts: list[str]
    ocr_confs: list[float]


@dataclass(frozen=True)
class MergedItem:
    """One output item at a merge level.

    Attributes:
        text: word text; line words joined by single spaces; paragraph line texts joined by single spaces.
        confidence: word confidence; mean of word confidences (line); mean of line confidences (paragraph).
        quad: ``[4, 2]`` box in original-image pixels, clockwise from the top-left vertex: the word's own quad, or
            the axis-aligned hull ``[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]`` of a line's or paragraph's words.
    """

    text: str
    confidence: float
    quad: Quad


def canonical_merge_level(merge_level: object) -> MergeLevel:
    """Return the merge level named by ``merge_level``, an alias (``"line"``) replaced by its level (``"sentence"``).

    Raises:
        ValueError: an unknown merge level.

    >>> canonical_merge_level("line")
    'sentence'
    """
    if isinstance(merge_level, str):
        if merge_level in MERGE_LEVEL_ALIASES:
            return MERGE_LEVEL_ALIASES[merge_level]
        for level in MERGE_LEVELS:
            if merge_level == level:
                return level
    names = ", ".join([*MERGE_LEVELS, *MERGE_LEVEL_ALIASES])
    raise ValueError(f"merge_level must be one of {names}; got {merge_level!r}")


def _check_level(merge_level: object) -> None:
    canonical_merge_level(merge_level)


def _check_page(page: Page) -> None:
    if not isinstance(page, Page):
        raise TypeError(f"expected a textspotter Page, got {type(page).__name__}")
    if page.width <= 0 or page.height <= 0:
        raise ValueError(f"page {page.index} has no size ({page.width}x{page.height}); cannot normalise its boxes")


def _line_item(line: Line) -> MergedItem:
    if not line.words:
        return MergedItem(line.text, float(line.confidence), line.quad)
    return MergedItem(
        " ".join(w.text for w in line.words if w.text),
        fmean(float(w.confidence) for w in line.words),
        bounding_quad([w.quad for w in line.words]),
    )


def reading_order(points: Sequence[tuple[float, float]], *, eps: float = REORDER_EPS) -> list[int]:
    """Return the published geometric order of items given their key points (spec §8.3 step 3).

    The y values are clustered in 1-D: sorted, a new cluster starts where the gap to the previous value exceeds
    ``eps``. Each item's key is ``int(mean y of its cluster)``; items are then stably sorted by (key, x).

    Args:
        points: ``[N]`` key points (x, y) in original-image pixels (the top-left box corner of each item).
        eps: largest y gap, in pixels, inside one cluster.

    Returns:
        The item indices in output order (a permutation of ``range(N)``).

    >>> reading_order([(50, 0), (10, 8), (0, 30)])
    [1, 0, 2]
    """
    count = len(points)
    if count == 0:
        return []
    ys = [float(p[1]) for p in points]
    by_y = sorted(range(count), key=lambda i: ys[i])
    keys = [0] * count
    cluster = [by_y[0]]
    for previous, current in zip(by_y, by_y[1:]):
        if ys[current] - ys[previous] > eps:
            _assign_key(cluster, ys, keys)
            cluster = []
        cluster.append(current)
    _assign_key(cluster, ys, keys)
    return sorted(range(count), key=lambda i: (keys[i], float(points[i][0])))


def _assign_key(cluster: list[int], ys: list[float], keys: list[int]) -> None:
    key = int(fmean(ys[i] for i in cluster))  # int() truncates, as the reference's int(np.mean(...)) does
    for i in cluster:
        keys[i] = key


def merge_items(page: Page, merge_level: MergeLevel = "paragraph") -> list[MergedItem]:
    """Return the page's items at a merge level, in the published (geometric) output order.

    Args:
        page: a page of a Document (quads in original-image pixels).
        merge_level: ``"word"``, ``"sentence"`` (a line; ``"line"`` is the same) or ``"paragraph"``.

    Returns:
        The items, re-ordered as in spec §8.3 step 3; empty if the page has no words.

    Raises:
        ValueError: an unknown merge level.
    """
    merge_level = canonical_merge_level(merge_level)
    if merge_level == "word":
        items = [MergedItem(w.text, float(w.confidence), w.quad) for w in page.words]
    elif merge_level == "sentence":
        items = [_line_item(line) for line in page.lines]
    else:
        items = []
        for paragraph in page.paragraphs:
            lines = [_line_item(line) for line in paragraph.lines]
            if not lines:
                items.append(MergedItem(paragraph.text, float(paragraph.confidence), paragraph.quad))
                continue
            items.append(
                MergedItem(
                    " ".join(line.text for line in lines if line.text),
                    fmean(line.confidence for line in lines),
                    bounding_quad([line.quad for line in lines]),
                )
            )
    order = reading_order([_key_point(item.quad, page) for item in items])
    return [items[i] for i in order]


def _key_point(quad: Quad, page: Page) -> tuple[float, float]:
    """Return ``quad[0]`` (published); on a page read turned (``Page.rotation``), the top-left corner of the quad's
    box in the page as it was read, so that items keep the reading order of the upright page."""
    if not page.rotation:
        return quad[0]
    width, height = page.width, page.height
    turned = {
        90: lambda x, y: (height - y, x),
        180: lambda x, y: (width - x, height - y),
        270: lambda x, y: (y, width - x),
    }[page.rotation]
    points = [turned(x, y) for x, y in quad]
    return min(x for x, _ in points), min(y for _, y in points)


def to_published(page: Page, merge_level: MergeLevel = "paragraph") -> list[PublishedItem]:
    """Return the published ``NemotronOCR.__call__`` output of one page (spec §8.3).

    Args:
        page: a page of a Document.
        merge_level: ``"word"``, ``"sentence"`` or ``"paragraph"``.

    Returns:
        One dict per item, in the published order: ``{"text": str, "confidence": float, "left": float,
        "upper": float, "right": float, "lower": float}``. The box values are normalised by the page width
        (x) and height (y); as published, **"upper" is the largest y (the bottom edge on screen) and "lower"
        the smallest y** (the top edge). Empty list for a page without words.

    Raises:
        ValueError: an unknown merge level, or a page without a size.

    >>> from textspotter.document import Line, Page, Paragraph, Word
    >>> quad = ((10.0, 20.0), (60.0, 20.0), (60.0, 40.0), (10.0, 40.0))
    >>> word = Word("Hello", quad, 0.9, 0.9, 0.9)
    >>> page = Page(100, 200, (Paragraph((Line((word,), quad, 0.9),), quad, 0.9),))
    >>> to_published(page, "word")
    [{'text': 'Hello', 'confidence': 0.9, 'left': 0.1, 'upper': 0.2, 'right': 0.6, 'lower': 0.1}]
    """
    _check_page(page)
    out: list[PublishedItem] = []
    for item in merge_items(page, merge_level):
        xs = [p[0] for p in item.quad]
        ys = [p[1] for p in item.quad]
        out.append(
            {
                "text": item.text,
                "confidence": item.confidence,
                "left": min(xs) / page.width,
                "upper": max(ys) / page.height,
                "right": max(xs) / page.width,
                "lower": min(ys) / page.height,
            }
        )
    return out


def to_model_card(page: Page, merge_level: MergeLevel = "paragraph") -> ModelCardResult:
    """Return the model card's triple of parallel lists for one page, in the order of :func:`to_published`.

    Returns:
        ``{"ocr_boxes": [[[x, y] × 4], ...], "ocr_txts": [str, ...], "ocr_confs": [float, ...]}``; boxes are in
        original-image pixels, clockwise from the top-left vertex (not normalised).
    """
    _check_page(page)
    items = merge_items(page, merge_level)
    return {
        "ocr_boxes": [[[x, y] for x, y in item.quad] for item in items],
        "ocr_txts": [item.text for item in items],
        "ocr_confs": [item.confidence for item in items],
    }


def to_nim(page: Page, merge_level: MergeLevel = "paragraph") -> dict[str, list[dict[str, Any]]]:
    """Return one page as one ``data`` entry of the NIM HTTP response (spec §8.4), in the order of to_published.

    Returns:
        ``{"text_detections": [{"bounding_box": {"points": [{"x": float, "y": float} × 4], "type":
        "quadrilateral"}, "text_prediction": {"text": str, "confidence": float}}, ...]}``; points clockwise
        from the top-left vertex, x divided by the page width and y by its height (a quad crossing the image
        edge gives values slightly outside [0, 1], as in the published output).
    """
    _check_page(page)
    detections = []
    for item in merge_items(page, merge_level):
        points = [{"x": x / page.width, "y": y / page.height} for x, y in item.quad]
        detections.append(
            {
                "bounding_box": {"points": points, "type": "quadrilateral"},
                "text_prediction": {"text": item.text, "confidence": item.confidence},
            }
        )
    return {"text_detections": detections}

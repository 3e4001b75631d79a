"""Born-digital PDF pages read from their own text layer; OCR only for the pages and regions that need it.

Most PDFs already carry their text. For each PDF page (``ImageOptions.text_layer`` has the decoder read the text
layer beside the render, :mod:`textspotter.corpus.text_layer`), :func:`plan_page` runs the label checks of
:mod:`textspotter.corpus.trust` and decides:

* **text-layer**: the page's words, lines and paragraphs come from the text layer (words with quads in pixels of
  the rendered page, clockwise from the top-left vertex of the text as written; lines and paragraphs as
  ``group_lines`` groups them; reading order = content order), each word with confidence
  :data:`TEXT_LAYER_CONFIDENCE`. The model does not run.
* **ocr**: the page is read from its image as before, because its text layer cannot be trusted: no trusted word
  (``no_text``: scans, pages of outlined text), too many words whose text-layer entry is wrong (``unreliable``:
  unmapped glyphs, invisible text such as the OCR layer of a scan, text under images, symbol fonts read as
  letters, boxes without ink), or too much ink outside every word and image box (``uncovered_ink``: text drawn as
  paths). A page with no ink at all needs no OCR: it is an empty text-layer page.
* **mixed** (``auto`` only): the text layer is trusted, but raster images cover at least ``min_image_area`` of
  the page (``images``: a scan with a typed header, a screenshot) or some visible words name the wrong characters
  (``untrusted_words``: unmapped glyphs, suspect fonts such as Computer Modern symbols read as "h" "i"). The page
  is OCRed whole and :func:`finish_page` merges: an untrusted word is replaced, in its line, by the OCR words
  whose centres lie in its box (and dropped when OCR reads nothing there); OCR words inside the images that do not
  lie on text-layer words (at most ``max_overlap`` of their box) and are valid (``Word.valid``) are added as their
  own paragraphs, placed in reading order where the image is in the content order.
* **none** (``only`` only): no trusted text layer; the page is left empty, with the reason.

Words that are not what the page shows are dropped on text-layer pages: invisible text, text outside the page,
text under a later raster image, text without ink under its box. Not handled (documented in docs/usage.md §7):
vector-drawn text on a page that is otherwise trusted (below ``max_uncovered_ink``), text inside form XObjects'
images, and rotation detection on text-layer pages (their quads follow the text's own direction anyway).

>>> from textspotter import OCR                                                        # doctest: +SKIP
>>> OCR(text_layer=TextLayerOptions(mode="only")).read("paper.pdf")[0].pages[0].text_source  # doctest: +SKIP
'text-layer'
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..document import Line, Page, Paragraph, Word, as_quad, bounding_quad
from ..imageio import PageImage

if TYPE_CHECKING:
    from ..corpus.text_layer import WordCandidate
    from ..corpus.trust import TrustOptions

__all__ = [
    "TEXT_LAYER_MODES",
    "TEXT_SOURCES",
    "TEXT_LAYER_CONFIDENCE",
    "TextLayerOptions",
    "TextLayerPlan",
    "plan_page",
    "finish_page",
]

TEXT_LAYER_MODES = ("auto", "ocr", "only")
TEXT_SOURCES = ("ocr", "text-layer", "mixed", "none")
TEXT_LAYER_CONFIDENCE = 1.0
"""Confidence (overall, detection and text) of a word read from a trusted text layer."""

# Word reasons (corpus.trust.WORD_REASONS) of text that the page does not show: such words are dropped.
_NOT_SHOWN = frozenset({"invisible", "outside", "covered", "no_ink"})
# Word reasons of visible text whose text-layer characters are wrong: OCR reads them again (auto) or they are
# dropped (only). The other reasons (dot leaders, words too long for the recognizer) do not concern the text layer.
_WRONG_TEXT = frozenset({"unmapped", "suspect_font"})
# Below this grey level a pixel is ink (as corpus.trust.uncovered_ink counts it); a page without one is blank.
_INK_LEVEL = 160


@dataclass(frozen=True)
class TextLayerOptions:
    """When a PDF page is read from its text layer.

    Attributes:
        mode: ``"auto"`` read trusted text layers, OCR the other pages and the regions that need it; ``"ocr"``
            OCR every page (the text layer is not even read); ``"only"`` never OCR: a page without a trusted
            text layer is left empty with the reason.
        trust: thresholds of the label checks (``corpus.trust.TrustOptions``: ``max_untrusted`` share of words with
            a wrong text-layer entry, ``max_uncovered_ink``, ``min_ink``, ``min_image_side`` ...); None for their
            defaults. (Imported on use: the checks need OpenCV, which ``OCR`` alone does not.)
        min_image_area: raster images covering at least this share of the page are OCRed (``auto``); smaller ones
            (logos, icons) are ignored.
        max_overlap: an OCR word inside an image is dropped when more than this share of its box lies on
            text-layer words (text drawn over a background image is already read).
    """

    mode: str = "auto"
    trust: TrustOptions | None = None
    min_image_area: float = 0.01
    max_overlap: float = 0.3

    def __post_init__(self) -> None:
        if self.mode not in TEXT_LAYER_MODES:
            raise ValueError(f"TextLayerOptions.mode must be one of {', '.join(TEXT_LAYER_MODES)}, got {self.mode!r}")
        if self.trust is not None:
            from ..corpus.trust import TrustOptions  # only when given: the default needs no OpenCV at start-up

            if not isinstance(self.trust, TrustOptions):
                raise TypeError(f"TextLayerOptions.trust must be a TrustOptions, got {type(self.trust).__name__}")
        for name in ("min_image_area", "max_overlap"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"TextLayerOptions.{name} must be a number within [0, 1], got {value!r}")


@dataclass(frozen=True)
class _LayerWord:
    text: str
    quad: np.ndarray  # (4, 2) float64 page pixels, clockwise from the top-left vertex of the text as written
    order: int  # content order of its first text object (-1: inside a form XObject)
    wrong_text: bool  # visible, but its characters are wrong: OCR reads it again


@dataclass(frozen=True, eq=False)
class TextLayerPlan:
    """What to do with one page, and the text-layer part of its result.

    Attributes:
        source: what the page becomes (one of :data:`TEXT_SOURCES`); ``needs_ocr`` for ``ocr`` and ``mixed``.
        reason: ``Page.text_layer_reason``: why the text layer is not (wholly) used, or None.
        width, height, index: the page image's size and page number.
        words: the text layer's words kept (content order).
        lines: lines as tuples of indices into ``words``; paragraphs as tuples of indices into ``lines``.
        regions: raster images to OCR, ``(content order, [x0, y0, x1, y1] page pixels)``.
        seconds: time spent deciding (grouping, checks).
    """

    source: str
    reason: str | None
    width: int
    height: int
    index: int
    words: tuple[_LayerWord, ...] = ()
    lines: tuple[tuple[int, ...], ...] = ()
    paragraphs: tuple[tuple[int, ...], ...] = ()
    regions: tuple[tuple[int, np.ndarray], ...] = ()
    seconds: float = 0.0

    @property
    def needs_ocr(self) -> bool:
        return self.source in ("ocr", "mixed")


def _box(quad: np.ndarray) -> np.ndarray:
    return np.concatenate([quad.min(0), quad.max(0)])


def _has_ink(image: np.ndarray) -> bool:
    # Every other pixel, as uncovered_ink measures: a page without a dark pixel there has nothing to read.
    return bool((image[::2, ::2].min(axis=-1) < _INK_LEVEL).any())


def plan_page(page: PageImage, options: TextLayerOptions | None = None) -> TextLayerPlan:
    """Decide how one page is read (see the module docstring).

    Args:
        page: a decoded page; its ``text_layer`` is None for images (and PDFs decoded without
            ``ImageOptions.text_layer``), which are always OCRed.
        options: the mode and thresholds.

    Returns:
        The plan; ``finish_page(plan, ocr_page)`` builds the ``Page`` (``ocr_page`` when ``plan.needs_ocr``).
    """
    options = options or TextLayerOptions()
    start = time.perf_counter()
    text = page.text_layer
    if options.mode == "ocr" or text is None:
        return TextLayerPlan(source="ocr", reason=None, width=page.width, height=page.height, index=page.index)
    from ..corpus.text_layer import group_words
    from ..corpus.trust import FontStats, TrustOptions, check_words, ink_fractions, page_verdict, suspect_fonts
    from ..corpus.trust import uncovered_ink as uncovered_ink_share

    trust = options.trust or TrustOptions()
    candidates = group_words(text.glyphs)
    # Fonts are judged on this page alone (corpus/build.py judges a whole document): pages are read as a stream.
    stats = FontStats()
    stats.add(text.glyphs)
    candidates, _ = check_words(candidates, text, suspect_fonts(stats, trust), trust)
    trusted = [i for i, w in enumerate(candidates) if not w.ignore_reasons]
    if trusted:
        inks = ink_fractions(page.image, np.stack([candidates[i].quad for i in trusted]))
        for i, ink in zip(trusted, inks):
            if ink < trust.min_ink:
                candidates[i].ignore_reasons.append("no_ink")
    images = [
        (order, box) for order, box in text.images if min(box[2] - box[0], box[3] - box[1]) >= trust.min_image_side
    ]
    boxes = [_box(w.quad) for w in candidates]
    uncovered = uncovered_ink_share(page.image, boxes + [box for _, box in images])
    verdict = page_verdict(candidates, uncovered, trust)
    if verdict == "no_text" and not candidates and not images and not _has_ink(page.image):
        verdict = None  # a blank page: the text layer (nothing) is what the page shows
    if verdict is not None:
        source = "none" if options.mode == "only" else "ocr"
        return TextLayerPlan(
            source=source,
            reason=verdict,
            seconds=time.perf_counter() - start,
            width=page.width,
            height=page.height,
            index=page.index,
        )
    words, lines, paragraphs = _kept_layout(candidates)
    page_area = float(page.width * page.height)
    regions = tuple(
        (order, box)
        for order, box in images
        if (box[2] - box[0]) * (box[3] - box[1]) >= options.min_image_area * page_area
    )
    reasons = [
        name for name, found in (("images", regions), ("untrusted_words", any(w.wrong_text for w in words))) if found
    ]
    if options.mode == "only":
        # Nothing is OCRed: untrusted words are dropped, and the reason says what was left unread.
        words, lines, paragraphs = _kept_layout(candidates, keep_wrong=False)
        source = "text-layer"
    else:
        source = "mixed" if reasons else "text-layer"
    return TextLayerPlan(
        source=source,
        reason="+".join(reasons) or None,
        words=words,
        lines=lines,
        paragraphs=paragraphs,
        regions=regions if source == "mixed" else (),
        seconds=time.perf_counter() - start,
        width=page.width,
        height=page.height,
        index=page.index,
    )


def _kept_layout(
    candidates: list[WordCandidate], *, keep_wrong: bool = True
) -> tuple[tuple[_LayerWord, ...], tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]:
    """The words the page shows, grouped into lines and paragraphs.

    Lines and paragraphs are grouped over every candidate first (a dropped word may be the one that starts a line),
    then the dropped words are taken out and empty lines and paragraphs removed.
    """
    from ..corpus.text_layer import group_lines

    all_lines, all_paragraphs = group_lines(candidates)
    words: list[_LayerWord] = []
    index: dict[int, int] = {}
    for i, candidate in enumerate(candidates):
        reasons = set(candidate.ignore_reasons)
        wrong = bool(reasons & _WRONG_TEXT)
        if reasons & _NOT_SHOWN or (wrong and not keep_wrong):
            continue
        order = min((g.object_order for g in candidate.glyphs if g.object_order >= 0), default=-1)
        index[i] = len(words)
        words.append(_LayerWord(text=candidate.text, quad=candidate.quad, order=order, wrong_text=wrong))
    lines: list[tuple[int, ...]] = []
    paragraphs: list[tuple[int, ...]] = []
    for paragraph in all_paragraphs:
        kept_lines = []
        for li in paragraph:
            line = tuple(index[w] for w in all_lines[li] if w in index)
            if line:
                kept_lines.append(len(lines))
                lines.append(line)
        if kept_lines:
            paragraphs.append(tuple(kept_lines))
    return tuple(words), tuple(lines), tuple(paragraphs)


def _layer_word(word: _LayerWord) -> Word:
    return Word(
        text=word.text,
        quad=as_quad(word.quad),
        confidence=TEXT_LAYER_CONFIDENCE,
        detection_confidence=TEXT_LAYER_CONFIDENCE,
        text_confidence=TEXT_LAYER_CONFIDENCE,
    )


def _covered_share(box: np.ndarray, others: np.ndarray) -> float:
    """Largest share of ``box`` (``[x0, y0, x1, y1]``) that one of ``others`` (``[N, 4]``) covers."""
    if not len(others):
        return 0.0
    width = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    area = max(float((box[2] - box[0]) * (box[3] - box[1])), 1e-9)
    return float((width * height).max() / area)


def finish_page(
    plan: TextLayerPlan,
    ocr_page: Page | None = None,
    *,
    options: TextLayerOptions | None = None,
    timings: dict[str, float] | None = None,
) -> Page:
    """Build the page's result from its plan and, when ``plan.needs_ocr``, its OCR result.

    Args:
        plan: :func:`plan_page`'s decision.
        ocr_page: the page as OCR read it (quads in the same page pixels); required when ``plan.needs_ocr``.
        options: ``max_overlap`` for mixed pages.
        timings: the page's timings when it was not OCRed (``{"load": ...}``); ``"text_layer"`` is added.

    Returns:
        The ``Page`` with ``text_source`` and ``text_layer_reason`` set.

    Raises:
        ValueError: ``ocr_page`` is missing for a plan that needs OCR.
    """
    options = options or TextLayerOptions()
    if plan.needs_ocr and ocr_page is None:
        raise ValueError(f"page {plan.index}: its text-layer plan is {plan.source!r}, which needs the OCR result")
    if plan.source == "ocr" and ocr_page is not None:  # (ocr_page is never None here: checked above)
        if plan.reason is None:  # no text layer was looked at (an image, or mode "ocr")
            return dataclasses.replace(ocr_page, text_source="ocr", text_layer_reason=None)
        page_timings = {**ocr_page.timings, "text_layer": plan.seconds}
        return dataclasses.replace(ocr_page, timings=page_timings, text_source="ocr", text_layer_reason=plan.reason)
    page_timings = {**(ocr_page.timings if ocr_page is not None else timings or {}), "text_layer": plan.seconds}
    ocr_words = [w for w in ocr_page.words if w.text] if ocr_page is not None and plan.source == "mixed" else []
    ocr_boxes = [_box(np.asarray(w.quad)) for w in ocr_words]
    ocr_centres = [box.reshape(2, 2).mean(0) for box in ocr_boxes]
    taken: set[int] = set()
    # (position in the content order, lines of words): text-layer paragraphs first, OCR paragraphs inserted later.
    blocks: list[tuple[float, list[list[Word]]]] = []
    for p, paragraph in enumerate(plan.paragraphs):
        lines: list[list[Word]] = []
        for li in paragraph:
            words: list[Word] = []
            for wi in plan.lines[li]:
                word = plan.words[wi]
                if not word.wrong_text:
                    words.append(_layer_word(word))
                    continue
                words.extend(_read_again(word, ocr_words, ocr_centres, taken))
            if words:
                lines.append(words)
        if lines:
            blocks.append((float(p), lines))
    if plan.regions and ocr_page is not None:
        blocks.extend(_region_blocks(plan, ocr_page, ocr_words, ocr_boxes, ocr_centres, taken, options))
    blocks.sort(key=lambda block: block[0])  # stable: paragraphs placed at one position keep their order
    return Page(
        width=plan.width,
        height=plan.height,
        paragraphs=tuple(_paragraph(lines, order) for order, (_, lines) in enumerate(blocks)),
        index=plan.index,
        timings=page_timings,
        text_source=plan.source,
        text_layer_reason=plan.reason,
    )


def _read_again(word: _LayerWord, ocr_words: list[Word], centres: list[np.ndarray], taken: set[int]) -> list[Word]:
    """The OCR words whose centres lie in a text-layer word's box (grown by a quarter of its height), in its
    writing direction."""
    box = _box(word.quad)
    grow = 0.25 * float(np.linalg.norm(word.quad[3] - word.quad[0]))
    low, high = box[:2] - grow, box[2:] + grow
    inside = [k for k, c in enumerate(centres) if k not in taken and (low <= c).all() and (c <= high).all()]
    along = word.quad[1] - word.quad[0]
    inside.sort(key=lambda k: float(centres[k] @ along))
    taken.update(inside)
    return [ocr_words[k] for k in inside]


def _region_blocks(
    plan: TextLayerPlan,
    ocr_page: Page,
    ocr_words: list[Word],
    boxes: list[np.ndarray],
    centres: list[np.ndarray],
    taken: set[int],
    options: TextLayerOptions,
) -> list[tuple[float, list[list[Word]]]]:
    """OCR paragraphs inside the plan's image regions, each placed after the last text-layer paragraph that comes
    before its image in the content order."""
    layer_boxes = np.array([_box(w.quad) for w in plan.words if not w.wrong_text]).reshape(-1, 4)
    position = {id(w): k for k, w in enumerate(ocr_words)}
    first_orders = [
        min(plan.words[wi].order for li in paragraph for wi in plan.lines[li]) for paragraph in plan.paragraphs
    ]
    blocks = []
    for paragraph in ocr_page.paragraphs:
        lines: list[list[Word]] = []
        image_order: int | None = None
        for line in paragraph.lines:
            kept = []
            for word in line.words:
                k = position.get(id(word))
                # Only valid words (the published rule): pictures give spurious low-confidence detections.
                if k is None or k in taken or not word.valid:
                    continue
                region = next(
                    (
                        order
                        for order, box in plan.regions
                        if (box[:2] <= centres[k]).all() and (centres[k] <= box[2:]).all()
                    ),
                    None,
                )
                if region is None or _covered_share(boxes[k], layer_boxes) > options.max_overlap:
                    continue
                taken.add(k)
                kept.append(word)
                image_order = region if image_order is None else image_order
            if kept:
                lines.append(kept)
        if lines and image_order is not None:
            before = [p for p, order in enumerate(first_orders) if 0 <= order < image_order]
            blocks.append((max(before) + 0.5 if before else -0.5, lines))
    return blocks


def _paragraph(lines: list[list[Word]], order: int) -> Paragraph:
    built = []
    for li, words in enumerate(lines):
        ordered = tuple(dataclasses.replace(w, order=k) for k, w in enumerate(words))
        built.append(
            Line(
                words=ordered,
                quad=bounding_quad([w.quad for w in ordered]),
                confidence=float(np.mean([w.confidence for w in ordered])),
                order=li,
            )
        )
    return Paragraph(
        lines=tuple(built),
        quad=bounding_quad([line.quad for line in built]),
        confidence=float(np.mean([line.confidence for line in built])),
        order=order,
    )

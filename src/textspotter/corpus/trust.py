"""Checks that decide which text-layer labels can be trained on as truth.

A text layer can lie: glyphs without a Unicode mapping, text drawn invisibly (OCR layers of scanned pages), text
under an image or outside the page, the same text printed twice, symbol fonts whose codes map to the wrong
characters (Computer Modern's ⟨ ⟩ extracted as "h" "i", ≠ as "6" and "="). Each check names a reason; a word with
a reason is kept as an ``ignore`` word (it still masks the detector's loss, but is never a recognition target), a
duplicate is removed, and a page whose labels are mostly untrustworthy is dropped.

Word reasons (:data:`WORD_REASONS`):
    ``unmapped``: a glyph without a Unicode mapping (pdfium's map error, U+FFFD, private use, control or
    unassigned characters, ``(cid:N)``); ``invisible``: render mode 3 or 7, or a transparent fill;
    ``outside``: not fully on the page; ``covered``: under a raster image drawn later; ``suspect_font``: a glyph
    from a font the document-wide check (:func:`suspect_fonts`) found suspect; ``no_ink``: less than
    ``min_ink`` of the word's box differs from its background in the clean render (white text, clipped text);
    ``dot_leader``: a run of dots (tables of contents); ``too_long``: longer than the recognizer reads (a word
    with Chinese or Japanese characters is a run of a line, cut at :data:`~textspotter.synth.render.MAX_CJK_RUN`
    characters by the builder: only a longer one is too long); ``jamo``: conjoining Hangul jamo left after NFC
    composition (archaic syllables, which have no precomposed form: the text layer places each jamo as a glyph of its
    own, so the words are cut inside syllables; a Middle Korean page of texlive-lang-korean had 270 such words of
    290).
Page reasons: ``no_text`` (no trusted word), ``unreliable`` (more than ``max_untrusted`` of its words carry a
text-layer reason), ``uncovered_ink`` (more than ``max_uncovered_ink`` of its ink lies outside every word and
image box: text drawn as paths or images that the labels would teach the detector to ignore).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..synth.render import MAX_CJK_RUN
from .text_layer import Glyph, PageText, WordCandidate, is_cjk

__all__ = [
    "TrustOptions",
    "WORD_REASONS",
    "PAGE_REASONS",
    "FontStats",
    "glyph_problem",
    "suspect_fonts",
    "check_words",
    "ink_fractions",
    "uncovered_ink",
    "page_verdict",
]

WORD_REASONS = (
    "unmapped",
    "invisible",
    "outside",
    "covered",
    "suspect_font",
    "no_ink",
    "dot_leader",
    "too_long",
    "jamo",
)
PAGE_REASONS = ("no_text", "unreliable", "uncovered_ink")
# Reasons that say the text layer itself is wrong (as opposed to text that is merely unreadable or unwanted).
_TEXT_LAYER_REASONS = {"unmapped", "invisible", "covered", "suspect_font", "no_ink", "jamo"}

# Fonts of math symbols and dingbats: their glyphs are never ASCII letters or digits, whatever their codes say.
_SYMBOL_FONT = re.compile(
    r"^(CMSY|CMBSY|CMEX|MSAM|MSBM|LASY|LCIRCLE|LINEW?|WASY|STMARY|RSFS|EUSM|EUSB|EUEX|BBM|DSROM|TXSY|TXEX|PXSY|PXEX|"
    r"ZAPFDINGBATS|DINGBATS|WINGDINGS|WEBDINGS|MARVOSYM|FONTAWESOME|MNSYMBOL|ESINT|MTEXTRA|MT-EXTRA)",
    re.IGNORECASE,
)
_CID = re.compile(r"\(cid:\d+\)")
_DOTS = set(".·…․‥")
# Conjoining Hangul jamo (leading, vowel and trailing letters, with their extended blocks); the compatibility jamo
# (U+3130-U+318F), standalone letters, are ordinary characters.
_CONJOINING_JAMO = re.compile("[\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff]")


@dataclass(frozen=True)
class TrustOptions:
    """Thresholds of the checks.

    Attributes:
        min_ink: least fraction of a word's box that must show ink in the clean render.
        max_word_length: longest word (characters) kept as a recognition target.
        max_cjk_run: longest word with Chinese or Japanese characters kept as a recognition target: such words are
            runs of a line, which the builder cuts into pieces of at most ``MAX_CJK_RUN`` (40) characters and the
            multilingual recognizer reads whole. With the Latin limit (31) they were ignored: 3.7 % of the
            Japanese and 2.0 % of the Chinese characters of the language build's train pages, the fullest lines
            of body text (longer words without CJK, mostly TeX code, stay ignored).
        max_untrusted: a page with a larger share of words with a text-layer reason is dropped.
        max_uncovered_ink: a page with a larger share of its ink outside every word and image box is dropped.
        font_unmapped: a font with a larger share of unmapped glyphs is suspect for the whole document.
        font_rare: a font with a larger share of rare letters (Latin Extended, IPA: the look of a Fraktur or
            symbol font read through the wrong encoding) is suspect for the whole document.
        min_image_side: raster images smaller than this (pixels) get no don't-care region.
    """

    min_ink: float = 0.01
    max_word_length: int = 31
    max_cjk_run: int = MAX_CJK_RUN
    max_untrusted: float = 0.3
    max_uncovered_ink: float = 0.5
    font_unmapped: float = 0.02
    font_rare: float = 0.25
    min_image_side: float = 24.0

    def __post_init__(self) -> None:
        for name in ("min_ink", "max_untrusted", "max_uncovered_ink", "font_unmapped", "font_rare"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        for name in ("max_word_length", "max_cjk_run"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


def glyph_problem(glyph: Glyph) -> str | None:
    """Return ``unmapped`` or ``invisible`` for a glyph whose text-layer entry cannot be trusted, else None."""
    if glyph.render_mode in (3, 7) or glyph.fill[3] == 0:
        return "invisible"
    if glyph.map_error:
        return "unmapped"
    # The label (not pdfium's raw code): hyphen markers (U+0002, U+FFFE) have already become "-".
    if glyph.text.isascii() and glyph.text.isprintable():
        return None
    for char in glyph.text:
        if char == "\ufffd" or unicodedata.category(char) in ("Co", "Cn", "Cs", "Cc"):
            return "unmapped"
    return None


def _is_rare(char: str) -> bool:
    code = ord(char)
    return 0x100 <= code <= 0x2FF or 0x1E00 <= code <= 0x1EFF


@dataclass
class FontStats:
    """Per-font counts over a whole document, gathered page by page with :meth:`add`."""

    glyphs: Counter = field(default_factory=Counter)
    unmapped: Counter = field(default_factory=Counter)
    ascii_alnum: Counter = field(default_factory=Counter)
    letters: Counter = field(default_factory=Counter)
    rare: Counter = field(default_factory=Counter)
    latin1: Counter = field(default_factory=Counter)

    def add(self, glyphs: list[Glyph]) -> None:
        for glyph in glyphs:
            if glyph.space:
                continue
            font = glyph.font
            self.glyphs[font] += 1
            if glyph_problem(glyph) == "unmapped":
                self.unmapped[font] += 1
            for char in glyph.text:
                if char.isascii() and char.isalnum():
                    self.ascii_alnum[font] += 1
                if char.isalpha():
                    self.letters[font] += 1
                    if _is_rare(char):
                        self.rare[font] += 1
                    elif 0xC0 <= ord(char) <= 0xFF:
                        self.latin1[font] += 1


def suspect_fonts(stats: FontStats, options: TrustOptions | None = None) -> dict[str, str]:
    """Fonts whose extracted text is not what their glyphs show: ``{font name: reason}``.

    A symbol font (by name) that yields ASCII letters or digits maps codes, not glyphs (``symbol_font``); a font
    with more than ``font_unmapped`` unmapped glyphs (``unmapped_font``), more than ``font_rare`` rare letters
    among at least 10 (``rare_letters``), or more than half of at least 20 letters accented Latin-1 ones
    (``mojibake``: an 8-bit Cyrillic or Greek encoding read as Latin-1) reads through the wrong encoding.
    """
    options = options or TrustOptions()
    out = {}
    for font, total in stats.glyphs.items():
        if _SYMBOL_FONT.match(font) and stats.ascii_alnum[font]:
            out[font] = "symbol_font"
        elif stats.unmapped[font] > options.font_unmapped * total:
            out[font] = "unmapped_font"
        elif stats.letters[font] >= 10 and stats.rare[font] > options.font_rare * stats.letters[font]:
            out[font] = "rare_letters"
        elif stats.letters[font] >= 20 and stats.latin1[font] > 0.5 * stats.letters[font]:
            # Mostly accented Latin-1 letters: an 8-bit Cyrillic or Greek encoding read as Latin-1 ("Ïðèâåò").
            out[font] = "mojibake"
    return out


def _box(quad: np.ndarray) -> np.ndarray:
    return np.concatenate([quad.min(0), quad.max(0)])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / max(union, 1e-9))


def _dot_leaders(words: list[WordCandidate]) -> set[int]:
    """Indices of words that are dot leaders: a word of 4+ dots, or a run of 3+ dot-only words on one line."""
    out: set[int] = set()
    run: list[int] = []
    for i, word in enumerate(words):
        dots = set(word.text) <= _DOTS
        if dots and len(word.text) >= 4:
            out.add(i)
        if dots and (not run or not word.new_line):
            run.append(i)
            continue
        if len(run) >= 3:
            out.update(run)
        run = [i] if dots else []
    if len(run) >= 3:
        out.update(run)
    return out


def check_words(
    words: list[WordCandidate],
    page: PageText,
    suspect: dict[str, str],
    options: TrustOptions | None = None,
) -> tuple[list[WordCandidate], int]:
    """Mark words that cannot be trusted and remove duplicated (overprinted) words.

    Args:
        words: the page's word candidates in content order (their ``ignore_reasons`` are filled in).
        page: the page's text layer (its size and raster images).
        suspect: suspect fonts of the document (:func:`suspect_fonts`).
        options: thresholds.

    Returns:
        ``(words without duplicates, number of duplicates removed)``. A duplicate is a later word with the same
        text whose box overlaps an earlier one's by more than 80 % (IoU): fake bold and overprinting.
    """
    options = options or TrustOptions()
    if not words:
        return [], 0
    quads = np.stack([w.quad for w in words])
    all_boxes = np.concatenate([quads.min(1), quads.max(1)], axis=1)  # (N, 4) x0 y0 x1 y1
    kept: list[WordCandidate] = []
    kept_boxes: list[np.ndarray] = []
    # Earlier words by (text, grid cell of the box's top-left corner); a duplicate lies in a neighbouring cell.
    seen: dict[tuple[str, int, int], list[np.ndarray]] = {}
    duplicates = 0
    for word, box in zip(words, all_boxes):
        cell = max(float(box[3] - box[1]), 1.0)
        gx, gy = int(box[0] // cell), int(box[1] // cell)
        neighbours = (
            other for dx in (-1, 0, 1) for dy in (-1, 0, 1) for other in seen.get((word.text, gx + dx, gy + dy), ())
        )
        if any(_iou(box, other) > 0.8 for other in neighbours):
            duplicates += 1
            continue
        seen.setdefault((word.text, gx, gy), []).append(box)
        kept.append(word)
        kept_boxes.append(box)
    leaders = _dot_leaders(kept)
    tolerance = 1.0
    for i, (word, box) in enumerate(zip(kept, kept_boxes)):
        reasons: list[str] = []
        problems = {glyph_problem(g) for g in word.glyphs}
        if "unmapped" in problems or "(cid:" in word.text and _CID.search(word.text):
            reasons.append("unmapped")
        if "invisible" in problems:
            reasons.append("invisible")
        if (
            box[0] < -tolerance
            or box[1] < -tolerance
            or box[2] > page.width + tolerance
            or box[3] > page.height + tolerance
        ):
            reasons.append("outside")
        if page.images:
            center = box.reshape(2, 2).mean(0)
            order = min(g.object_order for g in word.glyphs)
            for image_order, image_box in page.images:
                if (
                    order >= 0
                    and image_order > order
                    and (image_box[:2] <= center).all()
                    and (center <= image_box[2:]).all()
                ):
                    reasons.append("covered")
                    break
        if suspect and any(g.font in suspect for g in word.glyphs):
            reasons.append("suspect_font")
        if i in leaders:
            reasons.append("dot_leader")
        if len(word.text) > (options.max_cjk_run if is_cjk(word.text) else options.max_word_length):
            reasons.append("too_long")
        if _CONJOINING_JAMO.search(unicodedata.normalize("NFC", word.text)):
            reasons.append("jamo")
        word.ignore_reasons = reasons
    return kept, duplicates


def _gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image


def ink_fractions(image: np.ndarray, quads: list[np.ndarray] | np.ndarray, *, contrast: int = 60) -> np.ndarray:
    """Share of each box's pixels darker than their local background by ``contrast`` grey levels.

    The local background is the brightest grey within about a stroke's reach (a grey dilation over
    ``max(5, short side / 150)`` pixels), so dark text on any light paper counts as ink, and so do the dark
    surroundings of light text on a dark box; white text on white paper, or a box over nothing, shows none.

    Args:
        image: the clean render ``(H, W, 3)`` uint8 RGB, or its ``(H, W)`` grey levels.
        quads: word quads ``(N, 4, 2)`` in pixels of ``image`` (measured over their axis-aligned boxes).
        contrast: grey-level difference that counts as ink.

    Returns:
        ``[N]`` float64 in ``0..1``; 0 for boxes outside the image.
    """
    if len(quads) == 0:
        return np.zeros(0)
    gray = _gray(image)
    height, width = gray.shape
    size = max(5, min(height, width) // 150) | 1
    background = cv2.dilate(gray, np.ones((size, size), np.uint8))
    ink = (cv2.subtract(background, gray) > contrast).astype(np.uint8)
    integral = cv2.integral(ink)  # (H + 1, W + 1) int32: sums over any box in O(1)
    quads = np.asarray(quads, dtype=np.float64).reshape(-1, 4, 2)
    low, high = quads.min(1), quads.max(1)
    x0 = np.clip(np.floor(low[:, 0]), 0, width).astype(int)
    y0 = np.clip(np.floor(low[:, 1]), 0, height).astype(int)
    x1 = np.clip(np.ceil(high[:, 0]), 0, width).astype(int)
    y1 = np.clip(np.ceil(high[:, 1]), 0, height).astype(int)
    area = (x1 - x0) * (y1 - y0)
    sums = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
    return np.where(area > 0, sums / np.maximum(area, 1), 0.0)


def uncovered_ink(image: np.ndarray, boxes: list[np.ndarray], *, ink_level: int = 160, step: int = 2) -> float:
    """Share of the page's ink pixels (grey below ``ink_level``) outside every box, measured every ``step`` pixels.

    Args:
        image: the clean render ``(H, W, 3)`` uint8 RGB (dark text on a light page).
        boxes: ``[x0, y0, x1, y1]`` pixel boxes (words, ignored words, raster images), grown by 2 pixels.
        ink_level: grey level below which a pixel is ink.
        step: subsampling of the page (speed).

    Returns:
        A share in ``0..1`` (0 for a page without ink).
    """
    gray = _gray(image)[::step, ::step]
    ink = gray < ink_level
    total = int(ink.sum())
    if not total:
        return 0.0
    covered = np.zeros_like(ink)
    for box in boxes:
        x0, y0 = (np.floor(box[:2] - 2) / step).astype(int)
        x1, y1 = (np.ceil(box[2:] + 2) / step).astype(int)
        covered[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = True
    return float((ink & ~covered).sum() / total)


def page_verdict(words: list[WordCandidate], uncovered: float, options: TrustOptions | None = None) -> str | None:
    """Return the reason to drop a page (one of :data:`PAGE_REASONS`) or None to keep it."""
    options = options or TrustOptions()
    untrusted = sum(1 for w in words if _TEXT_LAYER_REASONS.intersection(w.ignore_reasons))
    if words and untrusted > options.max_untrusted * len(words):
        return "unreliable"
    if not any(not w.ignore_reasons for w in words):
        return "no_text"
    if uncovered > options.max_uncovered_ink:
        return "uncovered_ink"
    return None

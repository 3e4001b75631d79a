"""Labels from a PDF page's text layer: glyphs → words → lines → paragraphs, in content order.

pdfium reports every character of a page with its *loose* box (the font's ascent to descent), its rotation, font,
render mode and fill colour. This module turns them into word candidates with exact quads in pixels of the rendered
image, repairing what real documents break in a naive reading:

* **Ligatures.** pdfium expands a ligature glyph (ﬁ, ﬄ) into its letters, each with the ligature's whole box; the
  letters after the first overlap their predecessor, which a gap test would take for a jump backwards and cut the
  word ("def" | "inition"). A glyph whose box repeats its predecessor's continues the word; ligature code points
  that do reach us (U+FB00–U+FB06) are expanded by compatibility decomposition.
* **Hyphens.** A line-end hyphen arrives as U+0002 or U+FFFE (pdfium's marker) where the image shows "-"; it is
  labelled "-". A soft hyphen (U+00AD) with a visible box is labelled "-" as well; one without a box is dropped.
* **Rotation.** Each glyph's quad is rebuilt from its axis-aligned loose box and pdfium's angle, so rotated text
  gets rotated quads (vertex 0 → 1 along the writing direction); words and lines are grouped in the glyphs' own
  frame. Page rotation and crop box are applied like the renderer does; the characters are read with the page
  unturned, because pdfium orders a turned page's lines and words backwards.
* **Vertical CJK.** Glyphs stacked top to bottom with the same centre column form vertical words (vertex 0 at the
  top right, vertex 0 → 1 running down the column, as the generator writes them).
* **CJK regions.** Runs of Chinese or Japanese characters become line-level regions, as the generator writes them
  (:func:`textspotter.synth.render.cjk_runs`): one region per CJK run on a line, Latin and Cyrillic words in it
  stay words, runs longer than :data:`~textspotter.synth.render.MAX_CJK_RUN` characters are cut into equal pieces.

Quads are ``(4, 2)`` float64 (x, y) in pixels of the rendered page (top-left corner at (0, 0)), clockwise from the
top-left vertex of the text as written. Nothing here decides what can be trusted: every glyph keeps the facts the
checks of :mod:`textspotter.corpus.trust` need (font, render mode, fill colour, pdfium's flags).
"""

from __future__ import annotations

import ctypes
import math
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from textspotter.synth.languages import script_of

__all__ = [
    "Glyph",
    "WordCandidate",
    "PageText",
    "extract_glyphs",
    "group_words",
    "group_lines",
    "image_objects",
    "is_cjk",
]

# pdfium's markers for a hyphen it found at a line end (see FPDFText_IsHyphen).
_HYPHEN_MARKERS = {"\u0002", "\ufffe"}
_SOFT_HYPHEN = "\u00ad"
_LIGATURES = {chr(c) for c in range(0xFB00, 0xFB07)}
_NO_QUAD = np.zeros((4, 2))
# Widest gap, in text heights, between two CJK characters of one run: justified CJK lines spread their characters
# (a quarter of an em is common, headings of a few characters can reach most of an em), where a word gap of
# spaced scripts starts at a third; a gap of more than one height starts a new line (columns, table cells) anyway.
_CJK_SPREAD = 1.0


@dataclass
class Glyph:
    """One character of the text layer.

    Attributes:
        text: the character as labelled (ligatures expanded, hyphen markers as "-"); "" for whitespace.
        raw: the character pdfium reported.
        quad: ``(4, 2)`` float64 image pixels, clockwise from the top-left vertex of the text as written.
        angle: writing direction in the image, radians, clockwise from +x (y points down).
        font: the font's name without a subset prefix ("ABCDEF+CMR10" → "CMR10").
        render_mode: PDF text render mode (0 fill, 3 invisible, 7 clip only, ...); -1 when unknown.
        fill: fill colour ``(r, g, b, a)`` 0..255.
        object_order: position of the glyph's text object in the page's top-level object list (-1 if nested).
        map_error: pdfium could not map the glyph to Unicode.
        space: whitespace (a word separator; ``newline`` when pdfium marked a line break, ``generated`` when
            pdfium inferred it rather than read it from the file).
        height: the quad's height (pixels).
    """

    text: str
    raw: str
    quad: np.ndarray
    angle: float = 0.0
    font: str = ""
    render_mode: int = 0
    fill: tuple[int, int, int, int] = (0, 0, 0, 255)
    object_order: int = -1
    map_error: bool = False
    space: bool = False
    newline: bool = False
    generated: bool = False
    height: float = 0.0


@dataclass
class WordCandidate:
    """A word read from the text layer, before and after the trust checks.

    Attributes:
        text: the label (no whitespace).
        quad: ``(4, 2)`` float64 image pixels.
        glyphs: the glyphs it is made of.
        new_line: the word starts a new line.
        ignore_reasons: why the word may not be trained on as truth (empty: trusted).
    """

    text: str
    quad: np.ndarray
    glyphs: list[Glyph]
    new_line: bool = False
    vertical: bool = False
    ignore_reasons: list[str] = field(default_factory=list)

    @property
    def height(self) -> float:
        return float(np.linalg.norm(self.quad[3] - self.quad[0]))


@dataclass
class PageText:
    """A page's glyphs and its raster-image regions (axis-aligned ``[x0, y0, x1, y1]`` pixels with content order)."""

    glyphs: list[Glyph]
    images: list[tuple[int, np.ndarray]]
    width: float
    height: float


def _strip_subset(name: str) -> str:
    # Embedded subsets are named "ABCDEF+RealName" (six capitals and a plus).
    if len(name) > 7 and name[6] == "+" and name[:6].isalpha() and name[:6].isupper():
        return name[7:]
    return name


class _PageMapping:
    """PDF user space (y up, crop box) → image pixels (y down, page rotation applied), as pypdfium2 renders."""

    def __init__(self, page, scale: float) -> None:  # noqa: ANN001 - pypdfium2.PdfPage
        # get_bbox is the effective crop box; get_cropbox falls back to a default when the box is inherited.
        self.left, self.bottom, right, self.top = page.get_bbox()
        self.scale = scale
        self.width = (right - self.left) * scale
        self.height = (self.top - self.bottom) * scale
        self.rotation = page.get_rotation() % 360

    @property
    def image_size(self) -> tuple[float, float]:
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """Map ``[..., 2]`` PDF points to image pixels."""
        x = (points[..., 0] - self.left) * self.scale
        y = (self.top - points[..., 1]) * self.scale
        if self.rotation == 90:
            x, y = self.height - y, x
        elif self.rotation == 180:
            x, y = self.width - x, self.height - y
        elif self.rotation == 270:
            x, y = y, self.width - x
        return np.stack([x, y], axis=-1)


def _rotated_rect(box: tuple[float, float, float, float], angle: float, size: float) -> np.ndarray:
    """Rebuild a glyph's rotated loose rectangle in PDF space from its axis-aligned bounding box.

    Args:
        box: ``(left, bottom, right, top)`` PDF points, the bounding box of the rotated rectangle.
        angle: pdfium's character angle (radians, clockwise in PDF space).
        size: font size in points (the rectangle's height when the box cannot be inverted, near 45°).

    Returns:
        ``(4, 2)`` PDF points: top-left, top-right, bottom-right, bottom-left of the glyph as written.
    """
    left, bottom, right, top = box
    cos, sin = math.cos(angle), math.sin(angle)
    along = np.array([cos, -sin])  # writing direction in PDF space (y up)
    up = np.array([sin, cos])  # towards the glyph's ascent
    center = np.array([(left + right) / 2, (bottom + top) / 2])
    box_w, box_h = right - left, top - bottom
    ac, as_ = abs(cos), abs(sin)
    det = ac * ac - as_ * as_
    if abs(det) > 0.25:
        # box_w = w|cos| + h|sin|, box_h = w|sin| + h|cos|: solve for the rectangle's own width and height.
        width = (box_w * ac - box_h * as_) / det
        height = (box_h * ac - box_w * as_) / det
    else:
        height = 1.2 * size
        width = max(0.0, (box_w - height * as_) / max(ac, 1e-6))
    width, height = max(width, 0.0), max(height, 0.0)
    half_w, half_h = along * width / 2, up * height / 2
    return np.stack(
        [center - half_w + half_h, center + half_w + half_h, center + half_w - half_h, center - half_w - half_h]
    )


def _object_orders(page) -> dict[int, int]:  # noqa: ANN001 - pypdfium2.PdfPage
    import pypdfium2.raw as pdfium_c

    orders = {}
    for i in range(pdfium_c.FPDFPage_CountObjects(page.raw)):
        handle = pdfium_c.FPDFPage_GetObject(page.raw, i)
        orders[ctypes.addressof(handle.contents)] = i
    return orders


def image_objects(page, scale: float) -> list[tuple[int, np.ndarray]]:  # noqa: ANN001 - pypdfium2.PdfPage
    """Top-level raster images of a page: ``(content order, [x0, y0, x1, y1] image pixels)``."""
    import pypdfium2.raw as pdfium_c

    mapping = _PageMapping(page, scale)
    out = []
    for i in range(pdfium_c.FPDFPage_CountObjects(page.raw)):
        handle = pdfium_c.FPDFPage_GetObject(page.raw, i)
        if pdfium_c.FPDFPageObj_GetType(handle) != pdfium_c.FPDF_PAGEOBJ_IMAGE:
            continue
        left, bottom, right, top = (ctypes.c_float() for _ in range(4))
        if not pdfium_c.FPDFPageObj_GetBounds(handle, left, bottom, right, top):
            continue
        corners = mapping(np.array([[left.value, bottom.value], [right.value, top.value]], dtype=np.float64))
        out.append((i, np.concatenate([corners.min(0), corners.max(0)])))
    return out


def extract_glyphs(page, scale: float) -> PageText:  # noqa: ANN001 - pypdfium2.PdfPage
    """Read a page's text layer.

    Args:
        page: a ``pypdfium2.PdfPage``.
        scale: image pixels per PDF point (dpi / 72), the scale the page is rendered at.

    Returns:
        The page's glyphs in content order and its raster-image regions.
    """
    import pypdfium2.raw as pdfium_c

    mapping = _PageMapping(page, scale)
    width, height = mapping.image_size
    addressof = ctypes.addressof
    # pdfium orders the characters of a turned page (/Rotate 90 or 180) backwards; read it unturned (boxes are in
    # page space either way, and the mapping above keeps the turn), then put the turn back for rendering.
    rotation = page.get_rotation()
    if rotation:
        page.set_rotation(0)
    try:
        textpage = page.get_textpage()
    finally:
        if rotation:
            page.set_rotation(rotation)
    glyphs: list[Glyph] = []
    try:
        raw_page = textpage.raw
        count = pdfium_c.FPDFText_CountChars(raw_page)
        orders = _object_orders(page) if count > 0 else {}
        objects: dict[int, tuple] = {}
        rect = pdfium_c.FS_RECTF()
        red, green, blue, alpha = (ctypes.c_uint() for _ in range(4))
        name_buffer = ctypes.create_string_buffer(256)
        flags = ctypes.c_int()
        pdf_corners: list[list[list[float]]] = []
        pdf_angles: list[float] = []
        high_surrogate = 0
        for i in range(count):
            code = pdfium_c.FPDFText_GetUnicode(raw_page, i)
            # pdfium reports characters beyond the BMP (math letters such as U+1D465) as two UTF-16 code units:
            # the high one carries no glyph of its own, the low one gets the glyph and the joined character.
            if 0xD800 <= code <= 0xDBFF:
                high_surrogate = code
                continue
            if 0xDC00 <= code <= 0xDFFF:
                code = 0x10000 + ((high_surrogate - 0xD800) << 10) + (code - 0xDC00) if high_surrogate else 0xFFFD
            high_surrogate = 0
            raw = chr(code) if code < 0x110000 else "\ufffd"
            generated = bool(pdfium_c.FPDFText_IsGenerated(raw_page, i))
            if raw.isspace() or (generated and raw not in _HYPHEN_MARKERS):
                newline = raw in "\r\n"
                glyphs.append(Glyph("", raw, _NO_QUAD, space=True, newline=newline, generated=generated))
                continue
            pdfium_c.FPDFText_GetLooseCharBox(raw_page, i, rect)
            box = (rect.left, rect.bottom, rect.right, rect.top)
            handle = pdfium_c.FPDFText_GetTextObject(raw_page, i)
            key = addressof(handle.contents) if handle else 0
            if key not in objects:
                # Font, render mode, fill colour and angle belong to the text object (one text matrix): ask once.
                font, mode = "", -1
                if handle:
                    mode = int(pdfium_c.FPDFTextObj_GetTextRenderMode(handle))
                    length = pdfium_c.FPDFText_GetFontInfo(raw_page, i, name_buffer, 256, flags)
                    if length:
                        font = _strip_subset(name_buffer.value.decode("utf-8", "replace"))
                fill = (0, 0, 0, 255)
                if pdfium_c.FPDFText_GetFillColor(raw_page, i, red, green, blue, alpha):
                    fill = (red.value, green.value, blue.value, alpha.value)
                angle = float(pdfium_c.FPDFText_GetCharAngle(raw_page, i))
                angle = max(angle, 0.0)  # -1 is pdfium's error value
                size = float(pdfium_c.FPDFText_GetFontSize(raw_page, i))
                upright = min(abs(angle), abs(angle - 2 * math.pi), abs(angle - math.pi)) < 1e-3
                objects[key] = (font, mode, orders.get(key, -1), fill, angle, size, upright)
            font, mode, order, fill, angle, size, upright = objects[key]
            if not key:  # no text object to share the angle with: ask for this glyph
                angle = max(float(pdfium_c.FPDFText_GetCharAngle(raw_page, i)), 0.0)
                size = float(pdfium_c.FPDFText_GetFontSize(raw_page, i))
                upright = min(abs(angle), abs(angle - 2 * math.pi), abs(angle - math.pi)) < 1e-3
            if upright:
                left, bottom, right, top = box
                if abs(angle - math.pi) < 1e-3:  # upside down: the written top-left is the box's bottom-right
                    corners = [[right, bottom], [left, bottom], [left, top], [right, top]]
                else:
                    corners = [[left, top], [right, top], [right, bottom], [left, bottom]]
            else:
                corners = _rotated_rect(box, angle, size).tolist()
            text = raw
            if raw in _HYPHEN_MARKERS or (raw == "-" or code < 0x20) and pdfium_c.FPDFText_IsHyphen(raw_page, i):
                text = "-"
            elif raw in _LIGATURES:
                text = unicodedata.normalize("NFKC", raw)
            elif raw == _SOFT_HYPHEN:
                text = "-" if box[2] - box[0] > 1e-3 else ""
            if not text:
                continue
            pdf_corners.append(corners)
            pdf_angles.append(angle)
            glyphs.append(
                Glyph(
                    text=text,
                    raw=raw,
                    quad=_NO_QUAD,
                    font=font,
                    render_mode=mode,
                    fill=fill,
                    object_order=order,
                    map_error=bool(pdfium_c.FPDFText_HasUnicodeMapError(raw_page, i)),
                )
            )
    finally:
        textpage.close()
    # Map every glyph's corners to image pixels at once; the writing direction follows from the mapped quad.
    inked = [g for g in glyphs if not g.space]
    if inked:
        quads = mapping(np.asarray(pdf_corners, dtype=np.float64))
        directions = quads[:, 1] - quads[:, 0]
        angles = np.arctan2(directions[:, 1], directions[:, 0])
        heights = np.linalg.norm(quads[:, 3] - quads[:, 0], axis=1)
        turn = math.radians({0: 0, 90: 90, 180: 180, 270: -90}[mapping.rotation])
        for k, glyph in enumerate(inked):
            glyph.quad = quads[k]
            glyph.height = float(heights[k])
            # A glyph of zero width has no direction of its own: take pdfium's angle, turned with the page.
            glyph.angle = float(angles[k]) if np.abs(directions[k]).max() > 1e-9 else turn - pdf_angles[k]
    return PageText(glyphs=glyphs, images=image_objects(page, scale), width=width, height=height)


# --------------------------------------------------------------------------------------------------- grouping
def _frame(glyph: Glyph) -> tuple[np.ndarray, np.ndarray]:
    along = np.array([math.cos(glyph.angle), math.sin(glyph.angle)])
    return along, np.array([-along[1], along[0]])  # (writing direction, towards the glyph's bottom)


def is_cjk(text: str) -> bool:
    """Whether any character of ``text`` (a glyph's label may be several: "fi") is Chinese or Japanese."""
    return any(script_of(char) in ("cjk", "kana") for char in text)


def _vertical_next(previous: Glyph, glyph: Glyph) -> bool:
    """``glyph`` continues a top-to-bottom column of upright CJK glyphs after ``previous``."""
    if abs(previous.angle) > 0.05 or abs(glyph.angle) > 0.05 or not (is_cjk(previous.text) or is_cjk(glyph.text)):
        return False
    p_x0, p_x1 = previous.quad[:, 0].min(), previous.quad[:, 0].max()
    g_x0, g_x1 = glyph.quad[:, 0].min(), glyph.quad[:, 0].max()
    size = max(p_x1 - p_x0, g_x1 - g_x0, 1e-6)
    centred = abs((p_x0 + p_x1) / 2 - (g_x0 + g_x1) / 2) < 0.25 * size
    step = glyph.quad[:, 1].min() - previous.quad[:, 1].max()
    return centred and -0.3 * size < step < 0.5 * size


def _word_quad(glyphs: list[Glyph], vertical: bool) -> np.ndarray:
    """The rectangle around glyph quads in the first glyph's frame (a column for vertical words)."""
    points = np.concatenate([g.quad for g in glyphs]) if len(glyphs) > 1 else glyphs[0].quad
    if vertical:
        x0, y0 = points.min(0)
        x1, y1 = points.max(0)
        # Vertex 0 is the top right: the top of the text as written runs down the column.
        return np.array([[x1, y0], [x1, y1], [x0, y1], [x0, y0]], dtype=np.float64)
    if abs(glyphs[0].angle) < 1e-6:
        x0, y0 = points.min(0)
        x1, y1 = points.max(0)
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    along, down = _frame(glyphs[0])
    u, v = points @ along, points @ down
    u0, u1, v0, v1 = u.min(), u.max(), v.min(), v.max()
    return np.stack([along * u0 + down * v0, along * u1 + down * v0, along * u1 + down * v1, along * u0 + down * v1])


# Spacing accents that TeX draws over a separate base letter (\"u is "¨" then "u"), and their combining forms.
_ACCENTS = {
    "\u00a8": "\u0308",
    "\u00b4": "\u0301",
    "`": "\u0300",
    "\u02c6": "\u0302",
    "^": "\u0302",
    "\u02dc": "\u0303",
    "~": "\u0303",
    "\u00af": "\u0304",
    "\u02d8": "\u0306",
    "\u02d9": "\u0307",
    "\u02da": "\u030a",
    "\u02dd": "\u030b",
    "\u02c7": "\u030c",
    "\u00b8": "\u0327",
    "\u02db": "\u0328",
}


def _merge_accents(glyphs: list[Glyph]) -> list[Glyph]:
    """Put spacing accents drawn over a letter onto that letter ("¨" + "u" → "ü"), the box grown to cover both.

    An accent merges with the next (else the previous) glyph when that is an upright letter whose horizontal
    extent contains the accent's centre and the accent sits above its middle (cedilla and ogonek below).
    """
    out: list[Glyph] = []
    skip = False
    for i, glyph in enumerate(glyphs):
        if skip:
            skip = False
            continue
        combining = _ACCENTS.get(glyph.text)
        if combining is None or glyph.space or abs(glyph.angle) > 1e-3:
            out.append(glyph)
            continue
        center = glyph.quad[:, 0].mean()
        candidates = [(glyphs[i + 1], True)] if i + 1 < len(glyphs) else []
        if out:
            candidates.append((out[-1], False))
        for base, after in candidates:
            if base.space or not base.text.isalpha() or abs(base.angle) > 1e-3:
                continue
            if not base.quad[:, 0].min() <= center <= base.quad[:, 0].max():
                continue
            points = np.concatenate([glyph.quad, base.quad])
            (x0, y0), (x1, y1) = points.min(0), points.max(0)
            merged = Glyph(
                text=unicodedata.normalize("NFC", base.text + combining),
                raw=base.raw,
                quad=np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]),
                angle=base.angle,
                font=base.font,
                render_mode=base.render_mode,
                fill=base.fill,
                object_order=base.object_order,
                map_error=base.map_error or glyph.map_error,
                height=float(y1 - y0),
            )
            if after:
                out.append(merged)
                skip = True
            else:
                out[-1] = merged
            break
        else:
            out.append(glyph)
    return out


def group_words(glyphs: list[Glyph]) -> list[WordCandidate]:
    """Group glyphs into words: runs between whitespace, also cut at jumps, baseline changes and wide gaps.

    A glyph starts a new word (and a new line) when it leaves its predecessor's baseline or jumps backwards by
    more than half the text height; a gap wider than a third of the text height starts a new word on the same
    line, wider than one text height a new line (columns, table cells). Between two CJK characters only a gap of more
    than one height cuts, and a space pdfium inferred there (not one in the text) is dropped: justified CJK lines
    spread their characters. A glyph with its predecessor's box (the later letters of a ligature) always continues
    the word. Runs of CJK characters become line-level regions; spacing accents are put onto their letters first.
    The rules compare lengths with text heights only, so the words of a page read at one scale are those at any
    other scale, scaled.

    Returns:
        Word candidates in content order; ``new_line`` marks those that start a line.
    """
    glyphs = _merge_accents(glyphs)
    inked = [i for i, g in enumerate(glyphs) if not g.space]
    # Facts about each inked glyph and its inked predecessor, computed at once (the loop below only reads them).
    gaps = np.zeros(len(glyphs))
    drifts = np.zeros(len(glyphs))
    same_box = np.zeros(len(glyphs), dtype=bool)
    turned = np.zeros(len(glyphs), dtype=bool)
    cjk = [not g.space and is_cjk(g.text) for g in glyphs]
    if len(inked) > 1:
        quads = np.stack([glyphs[i].quad for i in inked])
        angles = np.array([glyphs[i].angle for i in inked])
        heights = np.array([glyphs[i].height for i in inked])
        along = np.stack([np.cos(angles[:-1]), np.sin(angles[:-1])], axis=1)
        down = np.stack([-along[:, 1], along[:, 0]], axis=1)
        offset = quads[1:, 3] - quads[:-1, 2]  # bottom-left of a glyph from the bottom-right of its predecessor
        index = np.asarray(inked[1:])
        gaps[index] = (offset * along).sum(1)
        drifts[index] = (offset * down).sum(1)
        same_box[index] = np.abs(quads[1:] - quads[:-1]).reshape(-1, 8).max(1) < 0.02 * np.maximum(heights[:-1], 1e-6)
        turned[index] = np.abs(np.remainder(angles[1:] - angles[:-1] + np.pi, 2 * np.pi) - np.pi) > 0.05
    words: list[WordCandidate] = []
    current: list[Glyph] = []
    vertical = False
    new_line, pending_break, deferred_break, cjk_space = True, True, False, False
    last: Glyph | None = None
    last_cjk = False
    for i, glyph in enumerate(glyphs):
        if glyph.space:
            if glyph.newline and glyph.generated:
                # pdfium infers line breaks from glyph positions and sometimes breaks inside words (Chromium's
                # PDFs): decide when the next glyph shows whether it continues the line.
                deferred_break = True
                continue
            if glyph.generated and current and not vertical and last_cjk:
                # pdfium also infers spaces from gaps, and a justified CJK line spreads its characters apart: it
                # gets one between every two of them ("タ␣イ␣ル"). CJK text has no spaces, so the next glyph
                # decides: another CJK character close by on the same baseline continues the run.
                cjk_space = True
                continue
            if current:
                words.extend(_finish_word(current, new_line, vertical))
                current, vertical, new_line = [], False, False
            if glyph.newline:
                pending_break = True
            continue
        if last is not None:
            height = max(last.height, glyph.height, 1e-6)
            gap = gaps[i]
            same_baseline = abs(drifts[i]) < 0.5 * height and not turned[i]
            if deferred_break:
                deferred_break = False
                if not (current and same_baseline and -0.5 * height <= gap <= 0.33 * height):
                    if current:
                        words.extend(_finish_word(current, new_line, vertical))
                        current, vertical, new_line = [], False, False
                    pending_break = True
            both_cjk = last_cjk and cjk[i]
            if cjk_space:
                cjk_space = False
                if current and not (both_cjk and same_baseline and -0.5 * height <= gap <= _CJK_SPREAD * height):
                    words.extend(_finish_word(current, new_line, vertical))  # the space was a real one
                    current, vertical, new_line = [], False, False
            cut, cut_new_line = False, False
            if current and same_box[i]:
                pass  # a ligature's later letters: same box as the first
            elif current and (vertical or len(current) == 1) and _vertical_next(last, glyph):
                vertical = True
            elif vertical or not same_baseline or gap < -0.5 * height:
                cut, cut_new_line = True, True
            elif gap > (_CJK_SPREAD if both_cjk else 0.33) * height:
                cut, cut_new_line = True, gap > 1.0 * height
            if cut and current:
                words.extend(_finish_word(current, new_line, vertical))
                current, vertical, new_line = [], False, cut_new_line
            if not current:
                new_line = new_line or pending_break
                if words and not new_line:
                    new_line = not same_baseline or gap < -0.5 * height or gap > 1.0 * height
        if not current:
            pending_break = False
        current.append(glyph)
        last, last_cjk = glyph, cjk[i]
    if current:
        words.extend(_finish_word(current, new_line, vertical))
    return words


def _finish_word(glyphs: list[Glyph], new_line: bool, vertical: bool) -> list[WordCandidate]:
    text = "".join(g.text for g in glyphs)
    # Each glyph's text may be longer than one character (expanded ligatures): map characters back to glyphs.
    owners = [i for i, g in enumerate(glyphs) for _ in g.text]
    if is_cjk(text):
        from textspotter.synth.render import cjk_runs

        # The same regions as the generator's: one per CJK run (long runs in equal pieces), spaced words as words.
        spans = cjk_runs(text)
    else:
        spans = [(0, len(text))]
    out = []
    for k, (start, end) in enumerate(spans):
        first, last = owners[start], owners[end - 1]
        members = glyphs[first : last + 1]
        out.append(
            WordCandidate(
                text=text[start:end],
                quad=_word_quad(members, vertical),
                glyphs=members,
                new_line=new_line and k == 0,
                vertical=vertical,
            )
        )
    return out


def _box(quad: np.ndarray) -> np.ndarray:
    return np.concatenate([quad.min(0), quad.max(0)])


def group_lines(words: list[WordCandidate]) -> tuple[list[list[int]], list[list[int]]]:
    """Group words (content order) into lines and lines into paragraphs.

    Lines start at the words marked ``new_line``. Paragraphs are runs of lines whose gap, across the writing
    direction, is at most 0.9 times the line height and that overlap along it.

    Returns:
        ``(lines, paragraphs)``: lines as lists of word indices, paragraphs as lists of line indices.
    """
    lines: list[list[int]] = []
    for i, word in enumerate(words):
        if word.new_line or not lines:
            lines.append([])
        lines[-1].append(i)
    paragraphs: list[list[int]] = []
    previous: tuple[np.ndarray, np.ndarray, np.ndarray, bool] | None = None
    for li, line in enumerate(lines):
        first = words[line[0]]
        points = np.concatenate([words[w].quad for w in line])
        if first.vertical:
            along, down = np.array([0.0, 1.0]), np.array([-1.0, 0.0])
        else:
            along, down = _frame(first.glyphs[0])
        u, v = points @ along, points @ down
        current = (np.array([u.min(), u.max()]), np.array([v.min(), v.max()]), along, first.vertical)
        start = previous is None
        if previous is not None:
            p_u, p_v, p_along, p_vertical = previous
            height = p_v[1] - p_v[0]
            # Compare in the previous line's frame; a change of direction always starts a paragraph.
            same_frame = p_vertical == first.vertical and float(p_along @ along) > 0.999
            gap = current[1][0] - p_v[1]
            overlap = min(current[0][1], p_u[1]) - max(current[0][0], p_u[0])
            start = not same_frame or gap > 0.9 * height or gap < -0.5 * height or overlap <= 0
        if start:
            paragraphs.append([])
        paragraphs[-1].append(li)
        previous = current
    return lines, paragraphs

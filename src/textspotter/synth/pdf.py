"""Real documents: render PDF pages and take words, lines and paragraphs from their text layer.

Each page is rendered with pypdfium2 at the requested resolution, and its text layer is read character by character
with each character's *loose* box (pdfium's box from the font's ascent to its descent, the same kind of box the
generator gives words, see render.py). Then:

* words are runs of characters between whitespace (including the spaces and line breaks pdfium generates), also cut
  where two characters on a line are further apart than a third of the text height;
* lines are runs of words on one baseline, cut at line breaks, where the text jumps backwards or to another
  baseline, and at gaps wider than one text height (columns, table cells);
* paragraphs are runs of lines in reading order whose vertical gap is at most 0.9 times the line height and that
  overlap horizontally.

Word quads are the axis-aligned union of their characters' boxes, in pixels of the rendered image (page rotation
and crop box applied). Text order is the PDF's content order, which is the reading order for most generated PDFs
but not for every scanned or hand-made one: pages read back from PDFs are "real" layouts, not ground truth of
reading order. Pages without a text layer give images with no words.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from textspotter.data.manifest import MANIFEST_NAME, ManifestWriter, PageAnnotation

from .annotate import AnnotationBuilder

__all__ = ["PdfOptions", "pdf_pages", "convert_pdfs"]


@dataclass(frozen=True)
class PdfOptions:
    """How PDF pages are read.

    Attributes:
        dpi: rendering resolution (72 = one pixel per point).
        language: language code recorded on the pages and words ("" if unknown).
        image_format: ``png`` or ``jpg`` for :func:`convert_pdfs`.
    """

    dpi: float = 150.0
    language: str = ""
    image_format: str = "png"

    def __post_init__(self) -> None:
        if not 18 <= self.dpi <= 1200:
            raise ValueError(f"dpi must be within 18..1200, got {self.dpi}")
        if self.image_format not in ("png", "jpg"):
            raise ValueError(f"image_format must be 'png' or 'jpg', got {self.image_format!r}")


@dataclass
class _Char:
    text: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels


def _page_chars(page, scale: float) -> list[_Char]:  # noqa: ANN001 - pypdfium2.PdfPage
    """Characters of a page's text layer with boxes in rendered-image pixels (whitespace has an empty box)."""
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        if count <= 0:
            return []
        text = textpage.get_text_range(0, count)
        left, bottom, right, top = page.get_cropbox()
        width_px, height_px = (right - left) * scale, (top - bottom) * scale
        rotation = page.get_rotation() % 360
        chars = []
        for i, ch in enumerate(text[:count]):
            if ch.isspace():
                chars.append(_Char(ch, (0.0, 0.0, 0.0, 0.0)))
                continue
            x0, y0, x1, y1 = textpage.get_charbox(i, loose=True)
            # PDF user space has y up from the crop box's bottom; the image has y down from its top.
            px0, px1 = (x0 - left) * scale, (x1 - left) * scale
            py0, py1 = (top - y1) * scale, (top - y0) * scale
            if rotation == 90:
                px0, py0, px1, py1 = height_px - py1, px0, height_px - py0, px1
            elif rotation == 180:
                px0, py0, px1, py1 = width_px - px1, height_px - py1, width_px - px0, height_px - py0
            elif rotation == 270:
                px0, py0, px1, py1 = py0, width_px - px1, py1, width_px - px0
            chars.append(_Char(ch, (px0, py0, px1, py1)))
        return chars
    finally:
        textpage.close()


def _words(chars: list[_Char]) -> list[tuple[str, np.ndarray, bool]]:
    """Group characters into words: ``(text, [x0, y0, x1, y1], starts_new_line)``."""
    words: list[tuple[str, np.ndarray, bool]] = []
    text, box, new_line, pending_break = "", None, True, True
    last = None
    for ch in chars:
        if ch.text.isspace():
            if text:
                words.append((text, box, new_line))
                text, box, new_line = "", None, False
            if ch.text in "\r\n":
                pending_break = True
            continue
        x0, y0, x1, y1 = ch.box
        if text and last is not None:
            height = max(last[3] - last[1], y1 - y0, 1e-6)
            same_baseline = abs(y1 - last[3]) < 0.5 * height
            gap = x0 - last[2]
            if not same_baseline or gap < -0.5 * height:
                words.append((text, box, new_line))
                text, box, new_line = "", None, True
            elif gap > 0.33 * height:
                words.append((text, box, new_line))
                text, box, new_line = "", None, gap > 1.0 * height
        if not text:
            new_line = new_line or pending_break
            pending_break = False
            if words and last is not None and not new_line:
                height = max(last[3] - last[1], 1e-6)
                jump = abs(y1 - last[3]) >= 0.5 * height or x0 < last[0] - 0.5 * height
                new_line = jump or x0 - last[2] > 1.0 * height  # a wide gap separates columns or table cells
        text += ch.text
        box = (
            np.array([x0, y0, x1, y1])
            if box is None
            else np.array([min(box[0], x0), min(box[1], y0), max(box[2], x1), max(box[3], y1)])
        )
        last = (x0, y0, x1, y1)
    if text:
        words.append((text, box, new_line))
    return words


def _annotate(chars: list[_Char], builder: AnnotationBuilder, language: str) -> None:
    lines: list[list[int]] = []
    boxes: list[np.ndarray] = []
    for text, box, new_line in _words(chars):
        quad = np.array([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]])
        word = builder.add_word(text, quad, language)
        if new_line or not lines:
            lines.append([])
            boxes.append(box.copy())
        lines[-1].append(word)
        b = boxes[-1]
        boxes[-1] = np.array([min(b[0], box[0]), min(b[1], box[1]), max(b[2], box[2]), max(b[3], box[3])])
    paragraph: list[int | None] = []
    previous = None
    for words, box in zip(lines, boxes):
        line = builder.add_line(words)
        if previous is not None:
            height = previous[3] - previous[1]
            gap = box[1] - previous[3]
            overlap = min(box[2], previous[2]) - max(box[0], previous[0])
            if gap > 0.9 * height or gap < -0.5 * height or overlap <= 0:
                builder.add_paragraph(paragraph)
                paragraph = []
        paragraph.append(line)
        previous = box
    builder.add_paragraph(paragraph)


def pdf_pages(
    path: str | os.PathLike[str], options: PdfOptions | None = None
) -> Iterator[tuple[np.ndarray, PageAnnotation]]:
    """Render the pages of a PDF and annotate them from its text layer.

    Args:
        path: the PDF file.
        options: resolution and language.

    Yields:
        ``(image (H, W, 3) uint8 RGB, PageAnnotation)`` per page; ids are ``{stem}-p{n:04d}`` (n from 1) and
        ``source`` is ``pdf:{file name}#{n}``.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if it is not a readable PDF.
    """
    import pypdfium2 as pdfium

    options = options or PdfOptions()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"PDF not found: {path}")
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise ValueError(f"{path}: not a readable PDF ({exc})") from exc
    scale = options.dpi / 72.0
    try:
        for number in range(len(document)):
            page = document[number]
            try:
                bitmap = page.render(scale=scale)
                image = np.array(bitmap.to_pil().convert("RGB"))
                builder = AnnotationBuilder()
                _annotate(_page_chars(page, scale), builder, options.language)
            finally:
                page.close()
            page_id = f"{path.stem}-p{number + 1:04d}"
            height, width = image.shape[:2]
            builder.mark_outside(width, height, min_height=0.0)
            yield (
                image,
                builder.build(
                    page_id=page_id,
                    image=f"images/{page_id}.{options.image_format}",
                    width=width,
                    height=height,
                    language=options.language,
                    params={"dpi": options.dpi, "page": number + 1},
                    source=f"pdf:{path.name}#{number + 1}",
                ),
            )
    finally:
        document.close()


def convert_pdfs(
    paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    options: PdfOptions | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write the pages of PDFs as a dataset folder (images + ``manifest.jsonl``) and return the manifest path.

    Args:
        paths: PDF files (pages are written in file order, then page order).
        out_dir: dataset folder (created; an existing manifest there is replaced).
        options: resolution, language and image format.
        progress: called with 1 after each page.
    """
    options = options or PdfOptions()
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    with ManifestWriter(out) as writer:
        for path in paths:
            for image, page in pdf_pages(path, options):
                bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
                if not cv2.imwrite(str(out / page.image), bgr):
                    raise OSError(f"could not write {out / page.image}")
                writer.write(page)
                if progress is not None:
                    progress(1)
    return out / MANIFEST_NAME

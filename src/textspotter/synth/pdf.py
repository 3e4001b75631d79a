"""Real documents: render PDF pages and take words, lines and paragraphs from their text layer.

Each page is rendered with pypdfium2 at the requested resolution and labelled from its text layer by
:mod:`textspotter.corpus.text_layer` (the corpus builder's rules):

* words are runs of characters between whitespace, also cut where two characters on a line are further apart than
  a third of the text height; ligatures are expanded and kept in one word, pdfium's line-end hyphen markers read
  "-", spacing accents join their letter, rotated text gets rotated quads;
* lines are runs of words on one baseline, cut at line breaks, where the text jumps backwards or to another
  baseline, and at gaps wider than one text height (columns, table cells);
* paragraphs are runs of lines in reading order whose gap is at most 0.9 times the line height and that overlap.

Words the text layer cannot vouch for (unmapped or invisible glyphs, dot leaders, words over 31 characters, words
off the page) are marked ``ignore``; ``textspotter corpus build`` adds the document-wide font checks, the ink check
and page dropping (see docs/corpus.md). Quads are in pixels of the rendered image (page rotation and crop box
applied). Text order is the PDF's content order, which is the reading order for most generated PDFs but not for
every scanned or hand-made one: pages read back from PDFs are "real" layouts, not ground truth of reading order.
Pages without a text layer give images with no words.
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


def _annotate(page, scale: float, builder: AnnotationBuilder, language: str) -> None:  # noqa: ANN001
    """Label a page from its text layer with :mod:`textspotter.corpus.text_layer` and mark untrusted words."""
    from textspotter.corpus.text_layer import extract_glyphs, group_lines, group_words
    from textspotter.corpus.trust import check_words

    text = extract_glyphs(page, scale)
    words, _ = check_words(group_words(text.glyphs), text, {})
    ids = []
    for word in words:
        ids.append(builder.add_word(word.text, word.quad, language))
        builder.ignore[ids[-1]] = bool(word.ignore_reasons)
    lines, paragraphs = group_lines(words)
    line_ids = [builder.add_line([ids[w] for w in line]) for line in lines]
    for paragraph in paragraphs:
        builder.add_paragraph([line_ids[li] for li in paragraph])


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
                _annotate(page, scale, builder, options.language)
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
